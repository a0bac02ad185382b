//! [`PublicClient`], in the order one call walks it: construction here (option resolution,
//! the lazy HTTP client and endpoints, the cache partitions, the record); then
//! `acquire.rs` (front map, checks, single-flight), `silent.rs` (cache, refresh token) and
//! `complete.rs` (the credential's [`InteractiveStep`], and its response into the cache, the
//! account and the [`AuthenticationRecord`]).

mod acquire;
mod complete;
mod silent;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use entra_cache::{
    AccessTokenQuery, AccountEntry, AccountWrite, Cache, CacheBackend, RefreshLock,
    RefreshTokenQuery, TokenCachePersistenceOptions, TokenWrite,
};
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, DEVELOPER_SIGN_ON_CLIENT_ID, Error,
    ErrorKind, Result, TokenRequestOptions, validate_scopes, validate_tenant_id,
};
use entra_msal_lite::{
    Account, Authority, AuthorityHost, AuthorityOptions, EndpointResolver, Endpoints,
    IdTokenValidation, MsalError, TokenClient, TokenResponse, cloud::default_arm_scope,
    endpoints::cache_environments, id_token::authentication_record, merge_client_capabilities,
    request::check_scopes,
};
use time::OffsetDateTime;
use tracing::Instrument as _;

use crate::front::{FlightKey, Flights, FrontCache};
use crate::options::{AuthenticateOptions, PublicClientOptions, check_record_matches};
use crate::step::{InteractiveStep, StepContext, StepOutcome};
use crate::tenant::{multitenant_disabled_by_env, resolve_tenant};

const NO_SCOPES_FOR_CLOUD: &str =
    "Authenticating in this environment requires a value for the 'scopes' keyword argument.";

/// The HTTP pieces, built on first use (construction does no I/O).
#[derive(Clone)]
struct Net {
    client: TokenClient,
    resolver: EndpointResolver,
}

/// Where tokens are kept: one cache for plain requests, one for CAE requests (as Python).
enum CacheConfig {
    /// In this process's memory.
    Memory,
    /// Azure Identity's persistent cache.
    Persistent(TokenCachePersistenceOptions),
    /// A caller's backend.
    Backend(Arc<dyn CacheBackend>),
}

/// Why the silent stage did not produce a token.
enum SilentMiss {
    /// Nothing usable in the cache, or the refresh token was refused: the user must sign in.
    NeedsInteraction,
    /// Something else failed (network, cache): report it, do not prompt (Python's rule).
    Failed(Error),
}

/// How a `get_token` call got its token: the `outcome` field of its span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A valid token from memory or the token cache: no request.
    Hit,
    /// Redeemed a refresh token.
    Refresh,
    /// Ran the credential's interactive step.
    Prompt,
    /// Took the result of a concurrent caller's acquisition.
    Shared,
    /// Failed.
    Error,
}

impl Outcome {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Refresh => "refresh",
            Self::Prompt => "prompt",
            Self::Shared => "shared",
            Self::Error => "error",
        }
    }
}

/// The kind of an error, for tracing fields (the message may hold personal data).
fn error_kind(e: &Error) -> &'static str {
    match e.kind() {
        ErrorKind::CredentialUnavailable => "credential_unavailable",
        ErrorKind::ClientAuthentication { .. } => "client_authentication",
        ErrorKind::AuthenticationRequired { .. } => "authentication_required",
        ErrorKind::InvalidArgument => "invalid_argument",
        _ => "other",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The public-client layer every interactive Entra ID credential shares (MSAL's
/// `PublicClientApplication`, azidentity's `publicClient`): a credential supplies its
/// [`InteractiveStep`] and gets the silent path, the caches, the tenant rules, CAE,
/// single-flight, the record and tracing, identically.
///
/// ```
/// use entra_public_client::{InteractiveStep, PublicClient, PublicClientOptions, StepContext, StepOutcome};
///
/// /// A step that cannot sign anyone in (a real one opens a browser or shows a device code).
/// struct Nobody;
///
/// #[entra_public_client::async_trait]
/// impl InteractiveStep for Nobody {
///     fn credential_name(&self) -> &'static str {
///         "MyCredential"
///     }
///
///     async fn sign_in(&self, _ctx: &StepContext<'_>) -> entra_core::Result<StepOutcome> {
///         Err(entra_core::Error::credential_unavailable("no user here"))
///     }
/// }
///
/// # async fn run() -> entra_core::Result<()> {
/// let client = PublicClient::new(
///     PublicClientOptions::new().with_disable_automatic_authentication(true),
///     Nobody,
/// )?;
/// // Nobody signed in and no prompt allowed: AuthenticationRequired, with no request sent.
/// let err = client
///     .get_token_info(&["https://graph.microsoft.com/.default"], None)
///     .await
///     .unwrap_err();
/// assert!(err.is_authentication_required());
/// assert!(err.to_string().starts_with("MyCredential: "));
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
///
/// A credential is a newtype over it with one-line inherent forwarders (see
/// `InteractiveBrowserCredential` and `DeviceCodeCredential`); `PublicClient<S>` itself
/// implements [`TokenCredential`](entra_core::TokenCredential) and, with the `azure_core`
/// feature, azure_core's.
pub struct PublicClient<S> {
    name: &'static str,
    client_id: String,
    authority_host: AuthorityHost,
    tenant_id: String,
    disable_automatic_authentication: bool,
    enable_support_logging: bool,
    additionally_allowed_tenants: Vec<String>,
    http_client: Option<crate::options::HttpClientSource>,
    net: Mutex<Option<Net>>,
    cache_config: CacheConfig,
    cae_backend: Option<Arc<dyn CacheBackend>>,
    /// `[plain, cae]`, created on first use.
    caches: Mutex<[Option<Arc<Cache>>; 2]>,
    record: ArcSwapOption<AuthenticationRecord>,
    front: FrontCache,
    flights: Flights,
    /// The credential's own part: what runs when the silent path cannot serve.
    step: S,
}

impl<S> fmt::Debug for PublicClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("credential", &self.name)
            .field("client_id", &self.client_id)
            .field("authority", &self.authority_host.as_str())
            .field("tenant_id", &self.tenant_id)
            .field(
                "disable_automatic_authentication",
                &self.disable_automatic_authentication,
            )
            .field("has_record", &self.record.load().is_some())
            .finish_non_exhaustive()
    }
}

impl<S: InteractiveStep> PublicClient<S> {
    /// Resolves and validates the options; does no I/O (no network, no storage: the HTTP
    /// client, the endpoints and the persistent cache are set up on first use).
    ///
    /// Python's rules: a record supplies the client id and the authority, and its tenant
    /// unless one is given; the authority defaults to `AZURE_AUTHORITY_HOST`, then the public
    /// cloud; the tenant to `organizations`.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) for an invalid tenant id, authority
    /// (not https) or entry of `additionally_allowed_tenants`, named after the step's
    /// credential like every other error of the client.
    pub fn new(options: PublicClientOptions, step: S) -> Result<Self> {
        let name = step.credential_name();
        Self::build(options, step).map_err(|e| crate::help::decorate(e, name))
    }

    fn build(options: PublicClientOptions, step: S) -> Result<Self> {
        let authority_options = AuthorityOptions::default()
            .with_disable_instance_discovery(options.disable_instance_discovery)
            .danger_allow_insecure_http(options.allow_insecure_http);
        let record = options.authentication_record;
        if let Some(record) = &record {
            check_record_matches(
                record,
                options.authority.as_deref(),
                options.client_id.as_deref(),
                &authority_options,
            )?;
        }
        let authority_text = match &record {
            Some(r) => Some(r.authority().to_owned()),
            None => options
                .authority
                .or_else(entra_msal_lite::authority::authority_host_env_value),
        };
        let authority_host = match authority_text {
            Some(a) => AuthorityHost::parse_with(&a, &authority_options)?,
            None => AuthorityHost::public_cloud().with_options(&authority_options),
        };
        let client_id = match &record {
            Some(r) => r.client_id().to_owned(),
            None => options
                .client_id
                .unwrap_or_else(|| DEVELOPER_SIGN_ON_CLIENT_ID.to_owned()),
        };
        let tenant_id = options
            .tenant_id
            .or_else(|| record.as_ref().map(|r| r.tenant_id().to_owned()))
            .unwrap_or_else(|| "organizations".to_owned());
        validate_tenant_id(&tenant_id)?;
        // Parsing the full authority checks the tenant against the host's rules (no I/O).
        authority_host.authority(&tenant_id)?;
        for tenant in &options.additionally_allowed_tenants {
            if tenant != "*" {
                validate_tenant_id(tenant)?;
            }
        }
        let cache_config = match (options.cache, options.cache_persistence_options) {
            (Some(backend), _) => CacheConfig::Backend(backend),
            (None, Some(persist)) => CacheConfig::Persistent(persist),
            (None, None) => CacheConfig::Memory,
        };
        tracing::debug!(
            credential = step.credential_name(),
            client_id = %client_id,
            authority = authority_host.as_str(),
            tenant_id = %tenant_id,
            has_record = record.is_some(),
            "credential created"
        );
        Ok(Self {
            name: step.credential_name(),
            client_id,
            authority_host,
            tenant_id,
            disable_automatic_authentication: options.disable_automatic_authentication,
            enable_support_logging: options.enable_support_logging,
            additionally_allowed_tenants: options.additionally_allowed_tenants,
            http_client: options.http_client,
            net: Mutex::new(None),
            cache_config,
            cae_backend: options.cae_cache,
            caches: Mutex::new([None, None]),
            record: ArcSwapOption::new(record.map(Arc::new)),
            front: FrontCache::new(),
            flights: Flights::default(),
            step,
        })
    }

    /// The credential's step.
    #[must_use]
    pub fn step(&self) -> &S {
        &self.step
    }

    /// `e` as this credential returns it: named, with its troubleshooting link.
    fn decorate(&self, e: Error) -> Error {
        crate::help::decorate(e, self.name)
    }

    /// The credential's name.
    #[must_use]
    pub fn credential_name(&self) -> &'static str {
        self.name
    }

    /// The application (client) id in use.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The configured tenant.
    #[must_use]
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The authority host.
    #[must_use]
    pub fn authority_host(&self) -> &AuthorityHost {
        &self.authority_host
    }

    /// Whether personal data may be logged (`enable_support_logging`).
    #[must_use]
    pub fn support_logging(&self) -> bool {
        self.enable_support_logging
    }

    /// The record of the signed-in account: given at construction, or built by the last
    /// interactive sign-in.
    #[must_use]
    pub fn authentication_record(&self) -> Option<AuthenticationRecord> {
        self.record.load_full().map(|r| (*r).clone())
    }

    /// Forgets the tokens held in memory, the view of the persistent cache and the authority
    /// metadata. The client stays usable (a persistent cache on storage is kept).
    pub fn close(&self) {
        self.front.clear();
        *lock(&self.caches) = [None, None];
        if let Some(net) = lock(&self.net).take() {
            net.resolver.clear();
        }
        tracing::debug!(credential = self.name, "credential closed");
    }

    /// The accounts this credential's caches (the plain and the CAE one, persistent ones
    /// included) hold for its authority (any of its environments), once each, sorted by
    /// username; no request. `entra accounts` lists these.
    ///
    /// # Errors
    /// The persistent cache cannot be read.
    pub async fn accounts(&self) -> Result<Vec<Arc<AccountEntry>>> {
        self.cached_accounts().await.map_err(|e| self.decorate(e))
    }

    async fn cached_accounts(&self) -> Result<Vec<Arc<AccountEntry>>> {
        let authority = self.authority_host.authority(&self.tenant_id)?;
        let (environments, _) = self.provisional_keys(&authority);
        let mut found: Vec<Arc<AccountEntry>> = Vec::new();
        for cae in [false, true] {
            for entry in self.cache(cae)?.accounts(&environments).await? {
                let known = found.iter().any(|a| {
                    a.home_account_id == entry.home_account_id
                        && a.username.eq_ignore_ascii_case(&entry.username)
                });
                if !known {
                    found.push(entry);
                }
            }
        }
        found.sort_by_key(|a| a.username.to_lowercase());
        Ok(found)
    }

    /// Signs the account of the record out (MSAL's `remove_account`): removes its tokens
    /// for this client (refresh tokens, family refresh tokens, access and ID tokens, the
    /// account entry) from the plain and the CAE cache, persistent ones included, forgets the
    /// tokens held in memory and the record. Returns whether a cache held anything of it. The
    /// next request signs in again. Other threads' per-thread copies of a token they were last
    /// served are dropped on their next call.
    ///
    /// # Errors
    /// The persistent cache cannot be read or written.
    pub async fn sign_out(&self) -> Result<bool> {
        self.sign_out_account().await.map_err(|e| self.decorate(e))
    }

    async fn sign_out_account(&self) -> Result<bool> {
        let Some(record) = self.record.load_full() else {
            self.front.clear();
            return Ok(false);
        };
        let authority = self.authority_host.authority(record.tenant_id())?;
        let (mut environments, _) = self.provisional_keys(&authority);
        if !environments.iter().any(|e| e == record.authority()) {
            environments.push(record.authority().to_owned());
        }
        let mut removed = false;
        for cae in [false, true] {
            let cache = self.cache(cae)?;
            removed |= cache
                .remove_account(record.home_account_id(), &environments, &self.client_id)
                .await?;
        }
        self.front.clear();
        self.record.store(None);
        tracing::info!(credential = self.name, removed, "signed out");
        Ok(removed)
    }

    /// The tenant a request (or `authenticate`) asking for `requested` goes to, under Python's
    /// rules (`tenant.rs`).
    fn request_tenant<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str> {
        let multitenant_disabled = requested
            .is_some_and(|t| !t.eq_ignore_ascii_case(&self.tenant_id))
            && multitenant_disabled_by_env();
        resolve_tenant(
            &self.tenant_id,
            requested,
            &self.additionally_allowed_tenants,
            multitenant_disabled,
        )
    }

    /// The token endpoint client (built on first use).
    ///
    /// # Errors
    /// The default HTTP client cannot be built (no TLS roots).
    pub fn token_client(&self) -> Result<TokenClient> {
        Ok(self.net()?.client)
    }

    fn net(&self) -> Result<Net> {
        let mut slot = lock(&self.net);
        if let Some(net) = slot.as_ref() {
            return Ok(net.clone());
        }
        let http = match &self.http_client {
            Some(crate::options::HttpClientSource::Client(c)) => c.clone(),
            Some(crate::options::HttpClientSource::Factory(make)) => make()?,
            None => TokenClient::default_http_client()?,
        };
        let client = TokenClient::new(http);
        let net = Net {
            resolver: EndpointResolver::new(client.clone()),
            client,
        };
        *slot = Some(net.clone());
        Ok(net)
    }

    fn cache(&self, cae: bool) -> Result<Arc<Cache>> {
        let mut caches = lock(&self.caches);
        let index = usize::from(cae);
        if let Some(cache) = &caches[index] {
            return Ok(Arc::clone(cache));
        }
        let cache = match (&self.cache_config, cae, &self.cae_backend) {
            (_, true, Some(backend)) => Cache::with_backend(Arc::clone(backend)),
            (CacheConfig::Persistent(p), _, _) => p.cache(cae)?,
            (CacheConfig::Backend(backend), false, _) => Cache::with_backend(Arc::clone(backend)),
            _ => Cache::in_memory(),
        };
        let cache = Arc::new(cache);
        caches[index] = Some(Arc::clone(&cache));
        Ok(cache)
    }

    /// The endpoints of `tenant`'s authority: no request for known clouds or an authority
    /// already resolved, else discovery and metadata (only when a request is about to be sent).
    async fn endpoints(&self, tenant: &str) -> Result<Arc<Endpoints>> {
        let authority = self.authority_host.authority(tenant)?;
        let net = self.net()?;
        Ok(net.resolver.resolve(&authority).await?)
    }

    /// The cache keys (environments, realm) of `authority` that are known without a request:
    /// resolved endpoints, else a known cloud's, else the host alone and the tenant.
    fn provisional_keys(&self, authority: &Authority) -> (Vec<String>, String) {
        let resolved = lock(&self.net)
            .as_ref()
            .and_then(|net| net.resolver.cached(authority));
        match resolved
            .map(|e| (*e).clone())
            .or_else(|| Endpoints::known_cloud(authority))
        {
            Some(e) => (e.cache_environments(), e.realm().to_owned()),
            None => (
                cache_environments(authority, vec![authority.host().to_owned()]),
                authority.tenant().to_owned(),
            ),
        }
    }
}
