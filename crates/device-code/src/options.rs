//! [`DeviceCodeCredentialOptions`]: Python's keywords and defaults, plus the seams a Rust
//! caller needs (cache backends, HTTP client, poll timer).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use entra_cache::{CacheBackend, TokenCachePersistenceOptions};
use entra_core::AuthenticationRecord;
use entra_public_client::PublicClientOptions;

use crate::step::{DeviceCodeInfo, PollTimer, PromptCallback};

/// The name every error of this crate carries.
pub(crate) const CREDENTIAL_NAME: &str = "DeviceCodeCredential";

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
            common: PublicClientOptions::new(CREDENTIAL_NAME),
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
    /// The authority host (default: `AZURE_AUTHORITY_HOST`, else the Azure public cloud).
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.common = self.common.with_authority(authority);
        self
    }

    /// The tenant (default `organizations`).
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.common = self.common.with_tenant_id(tenant_id);
        self
    }

    /// The application users sign in to (default: the Azure development application).
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.common = self.common.with_client_id(client_id);
        self
    }

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

    /// The account to sign in silently as (a record saved from an earlier sign-in).
    #[must_use]
    pub fn with_authentication_record(mut self, record: AuthenticationRecord) -> Self {
        self.common = self.common.with_authentication_record(record);
        self
    }

    /// `get_token` never prompts: it returns `AuthenticationRequired` when it cannot get a
    /// token silently; `authenticate` still prompts.
    #[must_use]
    pub fn with_disable_automatic_authentication(mut self, disable: bool) -> Self {
        self.common = self.common.with_disable_automatic_authentication(disable);
        self
    }

    /// Keep tokens in the persistent cache shared with other processes.
    #[must_use]
    pub fn with_cache_persistence_options(mut self, options: TokenCachePersistenceOptions) -> Self {
        self.common = self.common.with_cache_persistence_options(options);
        self
    }

    /// Skip instance discovery (only for an authority you trust).
    #[must_use]
    pub fn with_disable_instance_discovery(mut self, disable: bool) -> Self {
        self.common = self.common.with_disable_instance_discovery(disable);
        self
    }

    /// Add personal data to tracing events (troubleshooting only).
    #[must_use]
    pub fn with_enable_support_logging(mut self, enable: bool) -> Self {
        self.common = self.common.with_enable_support_logging(enable);
        self
    }

    /// Tenants besides the configured one a request may name (`"*"`: any).
    #[must_use]
    pub fn with_additionally_allowed_tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.common = self.common.with_additionally_allowed_tenants(tenants);
        self
    }

    /// Where the token cache lives (takes precedence over the persistence options).
    #[must_use]
    pub fn with_cache_backend(mut self, backend: Arc<dyn CacheBackend>) -> Self {
        self.common = self.common.with_cache_backend(backend);
        self
    }

    /// Where the CAE token cache lives.
    #[must_use]
    pub fn with_cae_cache_backend(mut self, backend: Arc<dyn CacheBackend>) -> Self {
        self.common = self.common.with_cae_cache_backend(backend);
        self
    }

    /// The HTTP client for every request to the authority.
    #[must_use]
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.common = self.common.with_http_client(client);
        self
    }

    /// How the polling waits between requests (default: tokio's timer).
    #[must_use]
    pub fn with_poll_timer(mut self, timer: Arc<dyn PollTimer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// **Dangerous; audit before use.** Accepts an `http://` authority (mock identity
    /// providers in tests only).
    #[must_use]
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.common = self.common.danger_allow_insecure_http(allow);
        self
    }
}
