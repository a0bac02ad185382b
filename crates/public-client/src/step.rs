//! The interactive-step seam: what a credential supplies (open a browser, show a device code,
//! ...) when the silent path cannot serve a request.

use async_trait::async_trait;
use std::time::Duration;

use entra_core::{Error, Reason, Result, Secret};
use entra_msal_lite::{Endpoints, TokenClient, TokenResponse};

/// What the shared layer hands an [`InteractiveStep`]: everything needed to run one grant
/// against the authority.
#[derive(Debug)]
#[non_exhaustive]
pub struct StepContext<'a> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The resolved endpoints of the request's authority and tenant.
    pub endpoints: &'a Endpoints,
    /// The scopes to ask for (already checked).
    pub scopes: &'a [&'a str],
    /// The claims to send: the caller's claims challenge merged with the CAE client
    /// capabilities when CAE is on; `None` when there are neither.
    pub claims: Option<&'a str>,
    /// The token endpoint client, with its retries, timeouts and size cap.
    pub client: &'a TokenClient,
    /// Whether personal data may appear in logs (`enable_support_logging`).
    pub support_logging: bool,
}

/// The error of an interactive step whose user did not finish within `waited`:
/// `ClientAuthentication`, [`Reason::Timeout`], Python's message ("Timed out after waiting 300
/// seconds for the user to authenticate"; fractions of a second shown as such).
#[must_use]
pub fn timed_out(waited: Duration) -> Error {
    let seconds = if waited.subsec_nanos() == 0 {
        waited.as_secs().to_string()
    } else {
        format!("{}", waited.as_secs_f64())
    };
    Error::client_authentication(format!(
        "Timed out after waiting {seconds} seconds for the user to authenticate"
    ))
    .with_reason(Reason::Timeout)
}

/// What an interactive step produced: the token endpoint's answer to its grant.
#[derive(Debug)]
#[non_exhaustive]
pub struct StepOutcome {
    /// The token response of the grant (authorization code, device code, ...).
    pub response: TokenResponse,
    /// The nonce the ID token must carry, when the step sent one (authorization code flow).
    pub nonce: Option<Secret>,
    /// The account source MSAL records for the account (`authorization_code`,
    /// `device_code`, ...).
    pub account_source: &'static str,
}

impl StepOutcome {
    /// A response obtained with `account_source`, with no nonce to check.
    #[must_use]
    pub fn new(response: TokenResponse, account_source: &'static str) -> Self {
        Self {
            response,
            nonce: None,
            account_source,
        }
    }

    /// The nonce the ID token must carry.
    #[must_use]
    pub fn with_nonce(mut self, nonce: Secret) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

/// The part of a credential that involves the user. The shared layer calls it at most once
/// per request key under single-flight, and only when neither the cache nor a refresh token
/// can serve (or when the caller asked to `authenticate`). The step runs its grant and returns
/// the token response; checking the ID token, building the account and the
/// [`AuthenticationRecord`](entra_core::AuthenticationRecord) and writing the cache is the
/// shared layer's job ([`PublicClient::complete`](crate::PublicClient::complete)).
///
/// A step that redeems an authorization code the application got elsewhere (an embedded web
/// view, another device), and its use by a [`PublicClient`](crate::PublicClient):
///
/// ```no_run
/// use entra_core::{Result, Secret};
/// use entra_msal_lite::AuthCodeGrant;
/// use entra_public_client::{
///     InteractiveStep, PublicClient, PublicClientOptions, StepContext, StepOutcome, async_trait,
/// };
///
/// struct CodeFromElsewhere {
///     code: Secret,
///     verifier: Secret,
///     redirect_uri: String,
/// }
///
/// #[async_trait]
/// impl InteractiveStep for CodeFromElsewhere {
///     fn credential_name(&self) -> &'static str {
///         "CodeFromElsewhereCredential"
///     }
///
///     async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
///         let grant = AuthCodeGrant::new(
///             ctx.client_id,
///             self.code.clone(),
///             self.verifier.clone(),
///             &self.redirect_uri,
///             ctx.scopes,
///         )
///         .with_claims(ctx.claims);
///         let response = ctx.client.redeem_code(ctx.endpoints, &grant).await?;
///         Ok(StepOutcome::new(response, "authorization_code"))
///     }
/// }
///
/// # async fn run(step: CodeFromElsewhere) -> Result<()> {
/// let client = PublicClient::new(PublicClientOptions::new(), step)?;
/// // Cache and refresh token first; the step only when they cannot serve.
/// let token = client
///     .get_token(&["https://graph.microsoft.com/.default"], None)
///     .await?;
/// # let _ = token; Ok(()) }
/// ```
#[async_trait]
pub trait InteractiveStep: Send + Sync {
    /// The name of the credential this step signs in for (`"InteractiveBrowserCredential"`,
    /// `"DeviceCodeCredential"`), which its errors and traces carry.
    fn credential_name(&self) -> &'static str;

    /// Signs the user in for `ctx.scopes` at `ctx.endpoints`.
    ///
    /// # Errors
    /// Whatever stopped the sign-in: the user cancelled, no browser, a timeout, the
    /// authority refused.
    async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome>;
}
