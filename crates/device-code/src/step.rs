//! The device-code step: ask Entra ID for a device code, show the user code, poll the token
//! endpoint at the given interval until the user has signed in on another device, declined,
//! the code expired or the timeout passed. Dropping the future stops the polling at once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use entra_core::{Error, Result};
use entra_msal_lite::{
    DeviceCodeGrant, MsalError, device_code::DEVICE_CODE_GRANT_TYPE,
    device_code::device_code_request,
};
use entra_public_client::{InteractiveStep, StepContext, StepOutcome, timed_out};
use time::OffsetDateTime;

/// The name every error of this crate carries.
pub(crate) const CREDENTIAL_NAME: &str = "DeviceCodeCredential";

/// What the user needs to sign in on another device. It never holds the device code itself
/// (the secret the polling redeems).
///
/// Every field is the authority's text: a prompt that prints it shows it through
/// [`entra_core::terminal_safe`] (as [`print_to_stderr`] does), so that control sequences in a
/// hostile answer reach the terminal escaped.
///
/// ```
/// use entra_device_code::DeviceCodeCredentialOptions;
///
/// // Show the code in your own UI instead of on stderr.
/// let options = DeviceCodeCredentialOptions::default().with_prompt_callback(|info| {
///     let line = format!(
///         "Open {} and enter {} (valid until {})",
///         info.verification_uri, info.user_code, info.expires_on
///     );
///     // The authority's text: escape it before a terminal sees it.
///     println!("{}", entra_core::terminal_safe(&line));
/// });
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceCodeInfo {
    /// The page to open on any device, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// The code to type there.
    pub user_code: String,
    /// When the code expires.
    pub expires_on: OffsetDateTime,
    /// Entra ID's own instruction ("To sign in, use a web browser to open the page ...").
    pub message: String,
}

/// Shows the user code: Python's `prompt_callback(verification_uri, user_code, expires_on)`.
pub type PromptCallback = Arc<dyn Fn(&DeviceCodeInfo) + Send + Sync>;

/// The default prompt: Entra ID's message on stderr, as Python prints it, with every
/// character a terminal would act on shown escaped (the message is the server's text).
pub fn print_to_stderr(info: &DeviceCodeInfo) {
    eprintln!("{}", entra_core::Untrusted(&info.message));
}

/// How the polling waits between two requests. The default is tokio's timer; a test can
/// count the waits or make them instant.
#[async_trait]
pub trait PollTimer: Send + Sync + fmt::Debug {
    /// Waits `interval`.
    async fn sleep(&self, interval: Duration);
}

/// [`PollTimer`] on tokio's clock.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TokioTimer;

#[async_trait]
impl PollTimer for TokioTimer {
    async fn sleep(&self, interval: Duration) {
        tokio::time::sleep(interval).await;
    }
}

/// Extra seconds a `slow_down` answer adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN: Duration = Duration::from_secs(5);

/// The device-code part of a sign-in, as the shared layer calls it.
pub struct DeviceCodeStep {
    pub(crate) timeout: Option<Duration>,
    pub(crate) prompt: PromptCallback,
    pub(crate) timer: Arc<dyn PollTimer>,
}

impl fmt::Debug for DeviceCodeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeStep")
            .field("timeout", &self.timeout)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeStep {
    /// A step that waits at most `timeout` (default: until the code expires), shows the code
    /// with `prompt` (default: [`print_to_stderr`]) and waits with `timer` (default:
    /// [`TokioTimer`]). Other credentials use it for their own device-code fallback.
    #[must_use]
    pub fn new(
        timeout: Option<Duration>,
        prompt: Option<PromptCallback>,
        timer: Option<Arc<dyn PollTimer>>,
    ) -> Self {
        Self {
            timeout,
            prompt: prompt.unwrap_or_else(|| Arc::new(print_to_stderr)),
            timer: timer.unwrap_or_else(|| Arc::new(TokioTimer)),
        }
    }
}

#[async_trait]
impl InteractiveStep for DeviceCodeStep {
    fn credential_name(&self) -> &'static str {
        CREDENTIAL_NAME
    }

    async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
        let request = device_code_request(ctx.endpoints, ctx.client_id, ctx.scopes, ctx.claims)?;
        let code = ctx.client.request_device_code(&request).await?;
        tracing::info!(
            verification_uri = %code.verification_uri,
            expires_in = code.expires_in.as_secs(),
            interval = code.interval.as_secs(),
            "device code issued; waiting for the user"
        );
        (self.prompt)(&DeviceCodeInfo {
            verification_uri: code.verification_uri.clone(),
            user_code: code.user_code.clone(),
            expires_on: code.expires_on,
            message: code.message.clone(),
        });
        // The configured timeout bounds the wait; the code's own lifetime can only shorten it.
        let limit = self
            .timeout
            .map_or(code.expires_in, |t| t.min(code.expires_in));
        let poll = DeviceCodeGrant::new(ctx.client_id, code.device_code.clone())
            .with_claims(ctx.claims)
            .to_request(&ctx.endpoints.token_endpoint);
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut interval = code.interval;
        let mut polls = 0u32;
        loop {
            polls += 1;
            match ctx.client.execute(&poll).await {
                Ok(response) => {
                    tracing::debug!(polls, "the user signed in with the device code");
                    return Ok(StepOutcome::new(response, DEVICE_CODE_GRANT_TYPE));
                }
                Err(e) => match e.oauth_error() {
                    Some("authorization_pending") => {}
                    Some("slow_down") => {
                        interval += SLOW_DOWN;
                        tracing::debug!(
                            interval = interval.as_secs(),
                            "the authority asked to slow down"
                        );
                    }
                    _ => return Err(finished(e)),
                },
            }
            // The real clock, or the timer's when it runs faster (tests).
            let elapsed = started.elapsed().max(waited);
            if elapsed >= limit {
                tracing::info!(polls, "device code sign-in timed out");
                return Err(timed_out(limit));
            }
            // The user gets the whole of the wait: when the next poll would fall after the
            // deadline, the last one is made at the deadline (as Python's polling does).
            let wait = interval.min(limit - elapsed);
            self.timer.sleep(wait).await;
            waited += wait;
        }
    }
}

/// The end of a device code sign-in other than success: Entra ID's answer, kept as data
/// (`error_response().error` is `authorization_declined`, `expired_token`,
/// `bad_verification_code`, ...), with a message that says what happened.
fn finished(e: MsalError) -> Error {
    let what = match e.oauth_error() {
        Some("authorization_declined") => "The user declined the sign-in on the other device.",
        Some("expired_token") => {
            "The device code expired before the user signed in. Sign in again and enter the new code."
        }
        Some("bad_verification_code") => {
            "The authority did not recognise the device code. Sign in again."
        }
        _ => return e.into(),
    };
    let converted: Error = e.into();
    let mut error = Error::client_authentication(what);
    if let Some(status) = converted.status() {
        error = error.with_status(status);
    }
    if let Some(response) = converted.error_response() {
        error = error.with_error_response(response.clone());
    }
    error.with_source(converted)
}
