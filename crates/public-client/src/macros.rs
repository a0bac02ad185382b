//! The option setters every public-client credential's options repeat, written once
//! ([`public_client_option_setters!`]): each forwards to the options' `common:
//! PublicClientOptions`, whose docs they carry. (The credentials' methods are plain code:
//! [`PublicClient`](crate::PublicClient) implements them, and each credential forwards.)

/// Types the macro's expansion names, reachable from any crate that uses it.
#[doc(hidden)]
pub mod __reexport {
    pub use entra_cache::{CacheBackend, TokenCachePersistenceOptions};
    pub use entra_core::{AuthenticationRecord, Result};
    pub use reqwest;
}

/// Expands to the `with_*` setters of the options every public-client credential shares
/// (Python's `InteractiveCredential` keywords), each forwarding to the `common:
/// PublicClientOptions` field of the options type it is called in.
///
/// ```
/// use entra_public_client::PublicClientOptions;
///
/// /// A credential's options: the shared ones, plus its own.
/// #[derive(Debug)]
/// pub struct MyOptions {
///     common: PublicClientOptions,
///     verbose: bool,
/// }
///
/// impl MyOptions {
///     entra_public_client::public_client_option_setters!();
/// }
///
/// let options = MyOptions { common: PublicClientOptions::new(), verbose: false }
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_disable_instance_discovery(true);
/// assert_eq!(options.common.tenant_id(), Some("contoso.onmicrosoft.com"));
/// # let _ = options.verbose;
/// ```
#[macro_export]
macro_rules! public_client_option_setters {
    () => {
        /// The authority host, e.g. `login.microsoftonline.com` or `https://login.microsoftonline.us`
        /// (`entra_core::AzureAuthorityHosts` has the known ones). Default:
        /// `AZURE_AUTHORITY_HOST`, else the Azure public cloud. Must be https.
        #[must_use]
        pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
            self.common = self.common.with_authority(authority);
            self
        }

        /// The Entra tenant (GUID or domain). Default `organizations` (work or school accounts).
        /// Overrides the tenant of an `authentication_record`.
        #[must_use]
        pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
            self.common = self.common.with_tenant_id(tenant_id);
            self
        }

        /// The application users sign in to. Default: the Azure development application
        /// (`entra_core::DEVELOPER_SIGN_ON_CLIENT_ID`); register your
        /// own for production. Ignored when an authentication record is given (the record's is used).
        #[must_use]
        pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
            self.common = self.common.with_client_id(client_id);
            self
        }

        /// A record saved from an earlier `authenticate`:
        /// selects the account, so with a persistent cache a new process signs in silently. Its
        /// client id and authority replace the configured ones; its tenant is used unless
        /// `with_tenant_id` is given.
        #[must_use]
        pub fn with_authentication_record(
            mut self,
            record: $crate::__reexport::AuthenticationRecord,
        ) -> Self {
            self.common = self.common.with_authentication_record(record);
            self
        }

        /// When true, `get_token` never prompts (no browser, no device code): it returns
        /// `AuthenticationRequired` when it cannot
        /// get a token silently. `authenticate`
        /// still prompts. Default false.
        #[must_use]
        pub fn with_disable_automatic_authentication(mut self, disable: bool) -> Self {
            self.common = self.common.with_disable_automatic_authentication(disable);
            self
        }

        /// Keep tokens in a persistent cache shared with other processes (and other MSAL
        /// applications). Without it, tokens live in memory for this credential only.
        #[must_use]
        pub fn with_cache_persistence_options(
            mut self,
            options: $crate::__reexport::TokenCachePersistenceOptions,
        ) -> Self {
            self.common = self.common.with_cache_persistence_options(options);
            self
        }

        /// Skip instance discovery and authority validation (private clouds, Azure Stack). Only
        /// for an authority you trust. Default false.
        #[must_use]
        pub fn with_disable_instance_discovery(mut self, disable: bool) -> Self {
            self.common = self.common.with_disable_instance_discovery(disable);
            self
        }

        /// Adds personally identifiable information to the credential's tracing events, for
        /// troubleshooting only (Python passes this option to MSAL as `enable_pii_log`).
        /// Default false.
        ///
        /// - **Off** (default): no event or span field holds the signed-in user's name
        ///   (`preferred_username`), object id (`oid`), home or local account id, the configured
        ///   `login_hint`, or the message of a failed `get_token` (Entra ID's descriptions may
        ///   name the user; the error kind and OAuth error code are logged).
        /// - **On**: those are added: `username`, `home_tenant`, `home_account_id` and
        ///   `local_account_id` on the "signed in" event, `home_account_id`, `username` and
        ///   `home_tenant` at the start of silent acquisition, `login_hint` on the "opening the
        ///   browser" event (browser credential), and the error message on "get_token failed".
        ///
        /// Either way, no field ever holds a token, an authorization code, a PKCE verifier,
        /// `state`, a nonce or an ID token. Scopes, endpoints, statuses, correlation ids and
        /// durations are always logged, and so are tenant ids where they are part of the request:
        /// the requested tenant, the authority and endpoint URLs, and the realm a cache lookup
        /// searches (as MSAL logs authorities).
        #[must_use]
        pub fn with_enable_support_logging(mut self, enable: bool) -> Self {
            self.common = self.common.with_enable_support_logging(enable);
            self
        }

        /// Tenants besides the configured one that `get_token` may be asked for with a request
        /// `tenant_id`; `"*"` allows any tenant.
        #[must_use]
        pub fn with_additionally_allowed_tenants<I, S>(mut self, tenants: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.common = self.common.with_additionally_allowed_tenants(tenants);
            self
        }

        /// Where the token cache lives: your own `CacheBackend` (a database, a secret manager).
        /// Takes precedence over `with_cache_persistence_options`.
        /// Requests with `enable_cae` use a separate, in-memory cache unless
        /// `with_cae_cache_backend` is also given.
        #[must_use]
        pub fn with_cache_backend(
            mut self,
            backend: ::std::sync::Arc<dyn $crate::__reexport::CacheBackend>,
        ) -> Self {
            self.common = self.common.with_cache_backend(backend);
            self
        }

        /// Where the CAE token cache lives (requests with `enable_cae`), kept apart from the other.
        #[must_use]
        pub fn with_cae_cache_backend(
            mut self,
            backend: ::std::sync::Arc<dyn $crate::__reexport::CacheBackend>,
        ) -> Self {
            self.common = self.common.with_cae_cache_backend(backend);
            self
        }

        /// The HTTP client for every request to the authority: add a trusted root certificate,
        /// a proxy or timeouts to it. Default: a reqwest client with rustls and the platform's
        /// root certificates.
        #[must_use]
        pub fn with_http_client(mut self, client: $crate::__reexport::reqwest::Client) -> Self {
            self.common = self.common.with_http_client(client);
            self
        }

        /// Builds the HTTP client when the first request is about to be sent (a token served
        /// from the cache then builds none); see
        /// [`PublicClientOptions::with_http_client_factory`]($crate::PublicClientOptions::with_http_client_factory).
        #[must_use]
        pub fn with_http_client_factory(
            mut self,
            factory: impl Fn() -> $crate::__reexport::Result<$crate::__reexport::reqwest::Client>
            + Send
            + Sync
            + 'static,
        ) -> Self {
            self.common = self.common.with_http_client_factory(factory);
            self
        }

        /// **Dangerous; audit before use.** Accepts an `http://` authority, so tokens travel in
        /// clear text. Meant only for mock identity providers on `127.0.0.1` in tests.
        #[must_use]
        pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
            self.common = self.common.danger_allow_insecure_http(allow);
            self
        }
    };
}
