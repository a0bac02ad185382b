//! [`PublicClientOptions`]: the options every public-client credential of Azure Identity
//! shares (authority, tenant, client id, record, tenants, cache, HTTP client), as Python's
//! `InteractiveCredential` base class takes them.

use std::fmt;
use std::sync::Arc;

use entra_cache::{CacheBackend, TokenCachePersistenceOptions};
use entra_core::{AuthenticationRecord, Error, Reason, Result};
use entra_msal_lite::{AuthorityHost, AuthorityOptions};

/// Options of a [`PublicClient`](crate::PublicClient). A credential maps its own options onto
/// these; nothing is checked until [`PublicClient::new`](crate::PublicClient::new).
///
/// ```
/// use entra_public_client::PublicClientOptions;
///
/// let options = PublicClientOptions::new()
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_additionally_allowed_tenants(["*"]);
/// assert_eq!(options.tenant_id(), Some("contoso.onmicrosoft.com"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct PublicClientOptions {
    pub(crate) authority: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) authentication_record: Option<AuthenticationRecord>,
    pub(crate) disable_automatic_authentication: bool,
    pub(crate) cache_persistence_options: Option<TokenCachePersistenceOptions>,
    pub(crate) disable_instance_discovery: bool,
    pub(crate) enable_support_logging: bool,
    pub(crate) additionally_allowed_tenants: Vec<String>,
    pub(crate) cache: Option<Arc<dyn CacheBackend>>,
    pub(crate) cae_cache: Option<Arc<dyn CacheBackend>>,
    pub(crate) http_client: Option<HttpClientSource>,
    pub(crate) allow_insecure_http: bool,
}

/// Builds the HTTP client when the first request is about to be sent.
pub type HttpClientFactory =
    Arc<dyn Fn() -> entra_core::Result<reqwest::Client> + Send + Sync + 'static>;

/// Where the credential's HTTP client comes from.
#[derive(Clone)]
pub(crate) enum HttpClientSource {
    /// A client built by the caller.
    Client(reqwest::Client),
    /// Built on first use (so a token served from the cache builds none).
    Factory(HttpClientFactory),
}

impl fmt::Debug for PublicClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClientOptions")
            .field("authority", &self.authority)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field(
                "authentication_record",
                &self.authentication_record.is_some(),
            )
            .field(
                "disable_automatic_authentication",
                &self.disable_automatic_authentication,
            )
            .field("cache_persistence_options", &self.cache_persistence_options)
            .field(
                "disable_instance_discovery",
                &self.disable_instance_discovery,
            )
            .field("enable_support_logging", &self.enable_support_logging)
            .field(
                "additionally_allowed_tenants",
                &self.additionally_allowed_tenants,
            )
            .field("cache", &self.cache.is_some())
            .field("cae_cache", &self.cae_cache.is_some())
            .field("http_client", &self.http_client.is_some())
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

impl Default for PublicClientOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PublicClientOptions {
    /// Defaults: public cloud or `AZURE_AUTHORITY_HOST`, tenant `organizations`, the Azure
    /// development client id, an in-memory cache.
    #[must_use]
    pub fn new() -> Self {
        Self {
            authority: None,
            tenant_id: None,
            client_id: None,
            authentication_record: None,
            disable_automatic_authentication: false,
            cache_persistence_options: None,
            disable_instance_discovery: false,
            enable_support_logging: false,
            additionally_allowed_tenants: Vec::new(),
            cache: None,
            cae_cache: None,
            http_client: None,
            allow_insecure_http: false,
        }
    }

    /// The configured tenant, if any.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The authority host, e.g. `login.microsoftonline.com` or `https://login.microsoftonline.us`
    /// (`entra_core::AzureAuthorityHosts` has the known ones). Default:
    /// `AZURE_AUTHORITY_HOST`, else the Azure public cloud. Must be https.
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = non_empty(authority);
        self
    }

    /// The Entra tenant (GUID or domain). Default: the record's, else `organizations` (work or
    /// school accounts); empty means the default. Overrides the tenant of an
    /// `authentication_record`.
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = non_empty(tenant_id);
        self
    }

    /// The application users sign in to. Default: the Azure development application
    /// (`entra_core::DEVELOPER_SIGN_ON_CLIENT_ID`); register your
    /// own for production. Ignored when an authentication record is given (the record's is used).
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = non_empty(client_id);
        self
    }

    /// A record saved from an earlier `authenticate`:
    /// selects the account, so with a persistent cache a new process signs in silently. Its
    /// client id and authority replace the configured ones; its tenant is used unless
    /// `with_tenant_id` is given.
    #[must_use]
    pub fn with_authentication_record(mut self, record: AuthenticationRecord) -> Self {
        self.authentication_record = Some(record);
        self
    }

    /// When true, `get_token` never prompts (no browser, no device code): it returns
    /// `AuthenticationRequired` when it cannot
    /// get a token silently. `authenticate`
    /// still prompts. Default false.
    #[must_use]
    pub fn with_disable_automatic_authentication(mut self, disable: bool) -> Self {
        self.disable_automatic_authentication = disable;
        self
    }

    /// Keep tokens in a persistent cache shared with other processes (and other MSAL
    /// applications). Without it, tokens live in memory for this credential only.
    #[must_use]
    pub fn with_cache_persistence_options(mut self, options: TokenCachePersistenceOptions) -> Self {
        self.cache_persistence_options = Some(options);
        self
    }

    /// Skip instance discovery and authority validation (private clouds, Azure Stack). Only
    /// for an authority you trust. Default false.
    #[must_use]
    pub fn with_disable_instance_discovery(mut self, disable: bool) -> Self {
        self.disable_instance_discovery = disable;
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
        self.enable_support_logging = enable;
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
        self.additionally_allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// Where the token cache lives: your own `CacheBackend` (a database, a secret manager).
    /// Takes precedence over `with_cache_persistence_options`.
    /// Requests with `enable_cae` use a separate, in-memory cache unless
    /// `with_cae_cache_backend` is also given.
    #[must_use]
    pub fn with_cache_backend(mut self, backend: Arc<dyn CacheBackend>) -> Self {
        self.cache = Some(backend);
        self
    }

    /// Where the CAE token cache lives (requests with `enable_cae`), kept apart from the other.
    #[must_use]
    pub fn with_cae_cache_backend(mut self, backend: Arc<dyn CacheBackend>) -> Self {
        self.cae_cache = Some(backend);
        self
    }

    /// The HTTP client for every request to the authority: add a trusted root certificate,
    /// a proxy or timeouts to it. Default: a reqwest client with rustls and the platform's
    /// root certificates.
    #[must_use]
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(HttpClientSource::Client(client));
        self
    }

    /// Builds the HTTP client with `factory` when the first request is about to be sent, so a
    /// token served from the cache costs no client (loading TLS roots takes milliseconds): for
    /// a command-line tool whose client needs extra roots or a proxy. An error of `factory`
    /// fails that request.
    #[must_use]
    pub fn with_http_client_factory(
        mut self,
        factory: impl Fn() -> entra_core::Result<reqwest::Client> + Send + Sync + 'static,
    ) -> Self {
        self.http_client = Some(HttpClientSource::Factory(Arc::new(factory)));
        self
    }

    /// **Dangerous; audit before use.** Accepts an `http://` authority, so tokens travel in
    /// clear text. Meant only for mock identity providers on `127.0.0.1` in tests.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

/// `None` for an empty or blank value.
fn non_empty(value: impl Into<String>) -> Option<String> {
    let value = value.into();
    (!value.trim().is_empty()).then_some(value)
}

/// The keywords of `authenticate` (Python's `scopes`, `claims`, `tenant_id`, `enable_cae`), as
/// a struct that can grow without breaking callers.
///
/// ```
/// use entra_public_client::AuthenticateOptions;
///
/// let options = AuthenticateOptions::default()
///     .with_scopes(["https://graph.microsoft.com/.default"])
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_enable_cae(true);
/// assert_eq!(options.scopes, ["https://graph.microsoft.com/.default"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticateOptions {
    /// The scopes to sign in for (and cache a token for). Empty: the Azure Resource Manager
    /// scope of a known cloud, as Python.
    pub scopes: Vec<String>,
    /// Claims to request (a claims challenge).
    pub claims: Option<String>,
    /// The tenant to sign in to, under the rules of a request's tenant
    /// (`additionally_allowed_tenants`). Default: the credential's.
    pub tenant_id: Option<String>,
    /// Cache the token in the CAE cache, with the `CP1` capability.
    pub enable_cae: bool,
}

impl AuthenticateOptions {
    /// Sets [`scopes`](Self::scopes).
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`claims`](Self::claims).
    #[must_use]
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// Sets [`tenant_id`](Self::tenant_id).
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets [`enable_cae`](Self::enable_cae).
    #[must_use]
    pub fn with_enable_cae(mut self, enable: bool) -> Self {
        self.enable_cae = enable;
        self
    }
}

/// An explicitly configured authority or client id must be the record's: the record's tokens
/// were issued there and for that application, and a silent swap would send the sign-in (and
/// the user's account name) to another host. Python lets the record win silently; this is the
/// safe choice.
pub(crate) fn check_record_matches(
    record: &AuthenticationRecord,
    authority: Option<&str>,
    client_id: Option<&str>,
    authority_options: &AuthorityOptions,
) -> Result<()> {
    if let Some(configured) = authority {
        let configured = AuthorityHost::parse_with(configured, authority_options)?;
        let recorded = AuthorityHost::parse_with(record.authority(), authority_options)?;
        if !configured.host().eq_ignore_ascii_case(recorded.host()) {
            return Err(Error::invalid_argument(format!(
                "the authentication record is for the authority {} but the credential is \
                 configured for {}: configure the record's authority (or none), or sign in \
                 again without the record",
                recorded.host(),
                configured.host()
            ))
            .with_reason(Reason::RecordMismatch));
        }
    }
    if let Some(configured) = client_id
        && configured != record.client_id()
    {
        return Err(Error::invalid_argument(format!(
            "the authentication record is for the client id {} but the credential is \
             configured with {configured}: configure the record's client id (or none), or sign \
             in again without the record",
            record.client_id()
        ))
        .with_reason(Reason::RecordMismatch));
    }
    Ok(())
}
