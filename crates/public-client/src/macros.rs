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
/// PublicClientOptions` field of the options type it is called in. Each setter's doc is one
/// line and a link: the full text lives once, on [`PublicClientOptions`](crate::PublicClientOptions).
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
        /// The authority host (default: `AZURE_AUTHORITY_HOST`, else the public cloud); empty means
        /// the default.
        ///
        /// See [`PublicClientOptions::with_authority`]($crate::PublicClientOptions::with_authority).
        #[must_use]
        pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
            self.common = self.common.with_authority(authority);
            self
        }

        /// The tenant (default: the record's, else `organizations`); empty means the default.
        ///
        /// See [`PublicClientOptions::with_tenant_id`]($crate::PublicClientOptions::with_tenant_id).
        #[must_use]
        pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
            self.common = self.common.with_tenant_id(tenant_id);
            self
        }

        /// The application (client) id (default: the Azure development application); empty means
        /// the default.
        ///
        /// See [`PublicClientOptions::with_client_id`]($crate::PublicClientOptions::with_client_id).
        #[must_use]
        pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
            self.common = self.common.with_client_id(client_id);
            self
        }

        /// The account to sign in silently as; it also supplies the client id and authority.
        ///
        /// See [`PublicClientOptions::with_authentication_record`]($crate::PublicClientOptions::with_authentication_record).
        #[must_use]
        pub fn with_authentication_record(
            mut self,
            record: $crate::__reexport::AuthenticationRecord,
        ) -> Self {
            self.common = self.common.with_authentication_record(record);
            self
        }

        /// Never run the interactive step from `get_token` (it returns `AuthenticationRequired`).
        ///
        /// See [`PublicClientOptions::with_disable_automatic_authentication`]($crate::PublicClientOptions::with_disable_automatic_authentication).
        #[must_use]
        pub fn with_disable_automatic_authentication(mut self, disable: bool) -> Self {
            self.common = self.common.with_disable_automatic_authentication(disable);
            self
        }

        /// Keep tokens in the persistent cache.
        ///
        /// See [`PublicClientOptions::with_cache_persistence_options`]($crate::PublicClientOptions::with_cache_persistence_options).
        #[must_use]
        pub fn with_cache_persistence_options(
            mut self,
            options: $crate::__reexport::TokenCachePersistenceOptions,
        ) -> Self {
            self.common = self.common.with_cache_persistence_options(options);
            self
        }

        /// Skip instance discovery (only for an authority you trust).
        ///
        /// See [`PublicClientOptions::with_disable_instance_discovery`]($crate::PublicClientOptions::with_disable_instance_discovery).
        #[must_use]
        pub fn with_disable_instance_discovery(mut self, disable: bool) -> Self {
            self.common = self.common.with_disable_instance_discovery(disable);
            self
        }

        /// Allow personal data in logs.
        ///
        /// See [`PublicClientOptions::with_enable_support_logging`]($crate::PublicClientOptions::with_enable_support_logging).
        #[must_use]
        pub fn with_enable_support_logging(mut self, enable: bool) -> Self {
            self.common = self.common.with_enable_support_logging(enable);
            self
        }

        /// Tenants a request may name besides the configured one (`*`: any).
        ///
        /// See [`PublicClientOptions::with_additionally_allowed_tenants`]($crate::PublicClientOptions::with_additionally_allowed_tenants).
        #[must_use]
        pub fn with_additionally_allowed_tenants<I, S>(mut self, tenants: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.common = self.common.with_additionally_allowed_tenants(tenants);
            self
        }

        /// The storage of the non-CAE cache (overrides the persistence options).
        ///
        /// See [`PublicClientOptions::with_cache_backend`]($crate::PublicClientOptions::with_cache_backend).
        #[must_use]
        pub fn with_cache_backend(
            mut self,
            backend: ::std::sync::Arc<dyn $crate::__reexport::CacheBackend>,
        ) -> Self {
            self.common = self.common.with_cache_backend(backend);
            self
        }

        /// The storage of the CAE cache.
        ///
        /// See [`PublicClientOptions::with_cae_cache_backend`]($crate::PublicClientOptions::with_cae_cache_backend).
        #[must_use]
        pub fn with_cae_cache_backend(
            mut self,
            backend: ::std::sync::Arc<dyn $crate::__reexport::CacheBackend>,
        ) -> Self {
            self.common = self.common.with_cae_cache_backend(backend);
            self
        }

        /// The HTTP client (proxy, extra roots); default: built on first use.
        ///
        /// See [`PublicClientOptions::with_http_client`]($crate::PublicClientOptions::with_http_client).
        #[must_use]
        pub fn with_http_client(mut self, client: $crate::__reexport::reqwest::Client) -> Self {
            self.common = self.common.with_http_client(client);
            self
        }

        /// Builds the HTTP client with `factory` when the first request is about to be sent.
        ///
        /// See [`PublicClientOptions::with_http_client_factory`]($crate::PublicClientOptions::with_http_client_factory).
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

        /// Allow an `http://` authority (tests against a local mock only).
        ///
        /// See [`PublicClientOptions::danger_allow_insecure_http`]($crate::PublicClientOptions::danger_allow_insecure_http).
        #[must_use]
        pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
            self.common = self.common.danger_allow_insecure_http(allow);
            self
        }
    };
}
