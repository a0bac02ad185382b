//! [`DeviceCodeCredentialOptions`]: Python's keywords and defaults, plus the seams a Rust
//! caller needs (cache backends, HTTP client, poll timer).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use entra_public_client::PublicClientOptions;

use crate::step::{DeviceCodeInfo, PollTimer, PromptCallback};

/// Options of [`DeviceCodeCredential`](crate::DeviceCodeCredential).
///
/// Start from [`Default`] and chain the `with_*` setters; every keyword of Python's
/// `DeviceCodeCredential` is here under its Python name.
///
/// ```
/// use std::time::Duration;
/// use entra_device_code::DeviceCodeCredentialOptions;
///
/// let options = DeviceCodeCredentialOptions::default()
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_timeout(Duration::from_secs(120))
///     .with_prompt_callback(|info| {
///         eprintln!("Open {} and enter {}", info.verification_uri, info.user_code);
///     });
/// # let _ = options;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceCodeCredentialOptions {
    pub(crate) common: PublicClientOptions,
    pub(crate) timeout: Option<Duration>,
    pub(crate) prompt: Option<PromptCallback>,
    pub(crate) timer: Option<Arc<dyn PollTimer>>,
}

impl Default for DeviceCodeCredentialOptions {
    fn default() -> Self {
        Self {
            common: PublicClientOptions::new(),
            timeout: None,
            prompt: None,
            timer: None,
        }
    }
}

impl fmt::Debug for DeviceCodeCredentialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeCredentialOptions")
            .field("common", &self.common)
            .field("timeout", &self.timeout)
            .field("prompt_callback", &self.prompt.is_some())
            .field("timer", &self.timer)
            .finish()
    }
}

impl DeviceCodeCredentialOptions {
    entra_public_client::public_client_option_setters!();

    /// How long to wait for the user in all (default: until the device code expires, which
    /// Entra sets to 15 minutes).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shows the verification URI, the user code and its expiry. Default: Entra ID's message
    /// on stderr.
    #[must_use]
    pub fn with_prompt_callback(
        mut self,
        callback: impl Fn(&DeviceCodeInfo) + Send + Sync + 'static,
    ) -> Self {
        self.prompt = Some(Arc::new(callback));
        self
    }

    /// How the polling waits between requests (default: tokio's timer).
    #[must_use]
    pub fn with_poll_timer(mut self, timer: Arc<dyn PollTimer>) -> Self {
        self.timer = Some(timer);
        self
    }
}
