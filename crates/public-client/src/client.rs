//! [`PublicClient`]: option resolution, the lazy HTTP client and endpoints, the cache
//! partitions, the front map and single-flight, silent acquisition (cache, refresh token,
//! `refresh_on`), the call into a credential's [`InteractiveStep`], and completing any grant's
//! response into the cache, the account and the [`AuthenticationRecord`].

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use entra_cache::{
    AccessTokenQuery, AccountWrite, Cache, CacheBackend, RefreshLock, RefreshTokenQuery,
    TokenCachePersistenceOptions, TokenWrite,
};
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, DEVELOPER_SIGN_ON_CLIENT_ID, Error,
    ErrorKind, Result, TokenRequestOptions, validate_scopes, validate_tenant_id,
};
use entra_msal_lite::{
    Account, Authority, AuthorityHost, AuthorityOptions, EndpointResolver, Endpoints,
    IdTokenValidation, MsalError, TokenClient, TokenResponse, authentication_record,
    cache_environments, check_scopes, default_arm_scope, merge_client_capabilities,
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

/// The account's home tenant: the `utid` of `<uid>.<utid>`; for accounts without one (ADFS),
/// the record's tenant.
fn home_tenant(record: &AuthenticationRecord) -> &str {
    record
        .home_account_id()
        .split_once('.')
        .map(|(_, utid)| utid)
        .filter(|utid| !utid.is_empty())
        .unwrap_or_else(|| record.tenant_id())
}

/// The realms a cached token of the record's account may be stored under for `realm`: tokens
/// obtained through `organizations` or `common` were issued by the account's home tenant, so
/// they serve a request for that tenant, and the reverse.
///
/// The home tenant is the `utid` half of the home account id (MSAL's rule), not the record's
/// `tenant_id`: for a guest that is the tenant the user signed in to, whose tokens must never
/// answer an `organizations` request (Entra sends those to the home tenant).
fn candidate_realms<'a>(realm: &'a str, record: &'a AuthenticationRecord) -> Vec<&'a str> {
    let home = home_tenant(record);
    let mut realms = vec![realm];
    if realm.eq_ignore_ascii_case(home) {
        realms.extend(["organizations", "common"]);
    } else if realm.eq_ignore_ascii_case("organizations") || realm.eq_ignore_ascii_case("common") {
        realms.push(home);
    }
    realms
}

/// A cached access token found by the silent path.
struct Found {
    info: AccessTokenInfo,
    aging: bool,
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
/// #[async_trait::async_trait]
/// impl InteractiveStep for Nobody {
///     async fn sign_in(&self, _ctx: &StepContext<'_>) -> entra_core::Result<StepOutcome> {
///         Err(entra_core::Error::credential_unavailable("no user here"))
///     }
/// }
///
/// # async fn run() -> entra_core::Result<()> {
/// let client = PublicClient::new(
///     PublicClientOptions::new("MyCredential").with_disable_automatic_authentication(true),
/// )?;
/// // Nobody signed in and no prompt allowed: AuthenticationRequired, with no request sent.
/// let err = client
///     .get_token_info("get_token", &["https://graph.microsoft.com/.default"], None, &Nobody)
///     .await
///     .unwrap_err();
/// assert!(err.is_authentication_required());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct PublicClient {
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
}

impl fmt::Debug for PublicClient {
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

impl PublicClient {
    /// Resolves and validates the options; does no I/O (no network, no storage: the HTTP
    /// client, the endpoints and the persistent cache are set up on first use).
    ///
    /// Python's rules: a record supplies the client id and the authority, and its tenant
    /// unless one is given; the authority defaults to `AZURE_AUTHORITY_HOST`, then the public
    /// cloud; the tenant to `organizations`.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) for an invalid tenant id, authority
    /// (not https) or entry of `additionally_allowed_tenants`.
    pub fn new(options: PublicClientOptions) -> Result<Self> {
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
                .or_else(entra_msal_lite::authority_host_env_value),
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
            credential = options.credential_name,
            client_id = %client_id,
            authority = authority_host.as_str(),
            tenant_id = %tenant_id,
            has_record = record.is_some(),
            "credential created"
        );
        Ok(Self {
            name: options.credential_name,
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
        })
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

    /// `get_token` of a credential: as [`get_token_info`](Self::get_token_info), without the
    /// token type and `refresh_on`. A ready token in the front map is served with one lookup
    /// and nothing copied but the token's reference count and its expiry.
    ///
    /// # Errors
    /// As [`get_token_info`](Self::get_token_info).
    pub async fn get_token(
        &self,
        method: &str,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
        step: &dyn InteractiveStep,
    ) -> Result<AccessToken> {
        if let Some(hit) = self.front_hit(scopes, options.as_ref(), |front, tenant, cae, now| {
            front.get_token(scopes, tenant, cae, now)
        }) {
            return Ok(hit);
        }
        self.get_token_info(method, scopes, options, step)
            .await
            .map(Into::into)
    }

    /// The front map's answer for a request, read with `read`. No check runs first: only
    /// requests that passed every check (scopes, tenant) are ever inserted, under exactly
    /// these scope strings, so a request that would fail a check finds nothing here and takes
    /// the slow path, which reports it.
    fn front_hit<T>(
        &self,
        scopes: &[&str],
        options: Option<&TokenRequestOptions>,
        read: impl FnOnce(&FrontCache, &str, bool, std::time::SystemTime) -> Option<T>,
    ) -> Option<T> {
        let (tenant, cae) = match options {
            None => (self.tenant_id.as_str(), false),
            Some(o) if o.claims.as_deref().is_some_and(|c| !c.is_empty()) => return None,
            Some(o) => {
                let requested = o.tenant_id.as_deref();
                let disabled = requested.is_some_and(|t| !t.eq_ignore_ascii_case(&self.tenant_id))
                    && multitenant_disabled_by_env();
                let tenant = resolve_tenant(
                    &self.tenant_id,
                    requested,
                    &self.additionally_allowed_tenants,
                    disabled,
                )
                .ok()?;
                (tenant, o.enable_cae)
            }
        };
        let hit = read(&self.front, tenant, cae, std::time::SystemTime::now())?;
        // The hot path: no span, one TRACE event (a few ns when TRACE is off).
        tracing::trace!(
            scopes = ?scopes,
            tenant,
            cae,
            outcome = Outcome::Hit.as_str(),
            source = "memory",
            "get_token served from the in-memory token map"
        );
        Some(hit)
    }

    /// `get_token` / `get_token_info` of a credential: the scope and tenant checks, the front
    /// map, then under single-flight the cache, the refresh token and, unless
    /// `disable_automatic_authentication`, `step`. `method` names the call in messages and
    /// traces.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) for bad or reserved scopes;
    /// [`AuthenticationRequired`](ErrorKind::AuthenticationRequired) when interaction is
    /// needed but disabled; the step's, the cache's and the authority's errors otherwise.
    pub async fn get_token_info(
        &self,
        method: &str,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
        step: &dyn InteractiveStep,
    ) -> Result<AccessTokenInfo> {
        if let Some(hit) = self.front_hit(scopes, options.as_ref(), |front, tenant, cae, now| {
            front.get(scopes, tenant, cae, OffsetDateTime::from(now))
        }) {
            return Ok(hit);
        }
        validate_scopes(method, scopes)?;
        // Before any cache: a reserved scope fails whether or not a token is cached.
        check_scopes(scopes)?;
        let options = options.unwrap_or_default();
        let claims = options.claims.as_deref().filter(|c| !c.is_empty());
        let cae = options.enable_cae;
        let tenant = self.request_tenant(options.tenant_id.as_deref())?;
        let key = FlightKey {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            tenant: tenant.to_owned(),
            cae,
            claims: claims.map(str::to_owned),
        };
        let span = tracing::info_span!(
            "get_token",
            method,
            scopes = ?scopes,
            tenant,
            cae,
            claims = claims.is_some(),
            outcome = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = OnceLock::new();
        let result = self
            .flights
            .run(key, || async {
                let result = self.acquire_slow(scopes, tenant, claims, cae, step).await;
                let _ = outcome.set(match &result {
                    Ok((_, o)) => *o,
                    Err(_) => Outcome::Error,
                });
                result.map(|(info, _)| info)
            })
            .instrument(span.clone())
            .await;
        // Not set: another caller's acquisition for the same key finished while this one
        // waited, and its result was taken.
        let outcome = match (outcome.get(), &result) {
            (Some(o), _) => *o,
            (None, Ok(_)) => Outcome::Shared,
            (None, Err(_)) => Outcome::Error,
        };
        span.record("outcome", outcome.as_str());
        span.in_scope(|| {
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(_) => tracing::debug!(outcome = outcome.as_str(), duration_ms, "get_token done"),
                Err(e) if self.enable_support_logging => tracing::info!(
                    outcome = outcome.as_str(),
                    duration_ms,
                    error_kind = error_kind(e),
                    oauth_error = e.error_response().map(|r| r.error.as_str()),
                    error = %e,
                    "get_token failed"
                ),
                // The message may quote Entra ID's description, which can name the user.
                Err(e) => tracing::info!(
                    outcome = outcome.as_str(),
                    duration_ms,
                    error_kind = error_kind(e),
                    oauth_error = e.error_response().map(|r| r.error.as_str()),
                    "get_token failed"
                ),
            }
        });
        result
    }

    /// Always runs `step` (also with `disable_automatic_authentication`), caches the token for
    /// `scopes` and returns the record. With no scopes it asks for the Azure Resource Manager
    /// scope of a known cloud, as Python does.
    ///
    /// # Errors
    /// [`CredentialUnavailable`](ErrorKind::CredentialUnavailable) when no scopes are given for
    /// another cloud; the step's, the cache's and the authority's errors otherwise.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
        step: &dyn InteractiveStep,
    ) -> Result<AuthenticationRecord> {
        let mut options = AuthenticateOptions::default().with_scopes(scopes.iter().copied());
        if let Some(claims) = claims {
            options = options.with_claims(claims);
        }
        self.authenticate_with(&options, step).await
    }

    /// [`authenticate`](Self::authenticate) with all of Python's keywords: scopes, claims, a
    /// tenant (under the same rules as a request's) and CAE (the token is cached in the CAE
    /// cache).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate); a tenant that is not allowed is a
    /// client-authentication error, as for `get_token`.
    pub async fn authenticate_with(
        &self,
        options: &AuthenticateOptions,
        step: &dyn InteractiveStep,
    ) -> Result<AuthenticationRecord> {
        let tenant = self
            .request_tenant(options.tenant_id.as_deref())?
            .to_owned();
        let scopes: Vec<&str> = options.scopes.iter().map(String::as_str).collect();
        let span = tracing::info_span!(
            "authenticate",
            scopes = ?scopes,
            tenant = tenant.as_str()
        );
        self.authenticate_inner(
            &scopes,
            options.claims.as_deref(),
            &tenant,
            options.enable_cae,
            step,
        )
        .instrument(span)
        .await
    }

    async fn authenticate_inner(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
        tenant: &str,
        cae: bool,
        step: &dyn InteractiveStep,
    ) -> Result<AuthenticationRecord> {
        let default_scope;
        let scopes: &[&str] = if scopes.is_empty() {
            let host = self.authority_host.host();
            default_scope = default_arm_scope(host)
                .ok_or_else(|| Error::credential_unavailable(NO_SCOPES_FOR_CLOUD))?;
            std::slice::from_ref(&default_scope)
        } else {
            scopes
        };
        validate_scopes("authenticate", scopes)?;
        check_scopes(scopes)?;
        let claims = claims.filter(|c| !c.is_empty());
        let cache = self.cache(cae)?;
        // The cache must be usable (keyring, file) before the user is asked to sign in.
        cache.reload().await?;
        let endpoints = self.endpoints(tenant).await?;
        let (info, record) = self
            .interactive(&endpoints, scopes, claims, cae, step)
            .await?;
        self.front.insert(scopes, tenant, cae, &info);
        Ok(record)
    }

    async fn acquire_slow(
        &self,
        scopes: &[&str],
        tenant: &str,
        claims: Option<&str>,
        cae: bool,
        step: &dyn InteractiveStep,
    ) -> Result<(AccessTokenInfo, Outcome)> {
        // Another caller may have finished meanwhile.
        if claims.is_none()
            && let Some(hit) = self
                .front
                .get(scopes, tenant, cae, OffsetDateTime::now_utc())
        {
            tracing::debug!(
                source = "memory",
                "access token served from the in-memory token map"
            );
            return Ok((hit, Outcome::Hit));
        }
        if self.disable_automatic_authentication && self.record.load().is_none() {
            // Nobody signed in and no prompt allowed: nothing to send (Python sends nothing).
            tracing::info!("no account signed in and interactive authentication disabled");
            return Err(Error::authentication_required(scopes, claims));
        }
        let cache = self.cache(cae)?;
        match self.silent(&cache, tenant, scopes, claims, cae).await {
            Ok((info, outcome)) => {
                // A token got with claims (a resource's challenge, e.g. a CAE revocation)
                // replaces the cached one for these scopes, tenant and CAE setting, as MSAL's
                // cache write does: the next plain call must not serve the revoked token.
                self.front.insert(scopes, tenant, cae, &info);
                return Ok((info, outcome));
            }
            Err(SilentMiss::Failed(e)) => return Err(e),
            Err(SilentMiss::NeedsInteraction) => {}
        }
        if self.disable_automatic_authentication {
            tracing::info!("interactive authentication required but disabled");
            return Err(Error::authentication_required(scopes, claims));
        }
        // The cache must be usable (keyring, file) before the user is asked to sign in: a
        // sign-in whose tokens cannot be kept would only have to be repeated.
        cache.reload().await?;
        let endpoints = self.endpoints(tenant).await?;
        let (info, _record) = self
            .interactive(&endpoints, scopes, claims, cae, step)
            .await?;
        self.front.insert(scopes, tenant, cae, &info);
        Ok((info, Outcome::Prompt))
    }

    /// The freshest cached access token of the record's account for `scopes` in any of the
    /// candidate realms of `realm`.
    async fn find_cached(
        &self,
        cache: &Cache,
        record: &AuthenticationRecord,
        environments: &[String],
        realm: &str,
        scopes: &[&str],
        now: OffsetDateTime,
    ) -> std::result::Result<Option<Found>, SilentMiss> {
        let home = record.home_account_id();
        for realm in candidate_realms(realm, record) {
            let query = AccessTokenQuery::new(&self.client_id, home, realm, environments, scopes);
            let hit = cache
                .find_access_token(&query, now)
                .await
                .map_err(|e| SilentMiss::Failed(e.into()))?;
            if let Some(hit) = hit {
                return Ok(Some(Found {
                    info: hit.to_access_token_info(),
                    aging: hit.should_refresh(now),
                }));
            }
        }
        Ok(None)
    }

    /// The cache, then the refresh token. Never prompts. The authority is resolved (which may
    /// take requests) only when the cache cannot serve.
    async fn silent(
        &self,
        cache: &Cache,
        tenant: &str,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> std::result::Result<(AccessTokenInfo, Outcome), SilentMiss> {
        let Some(record) = self.record.load_full() else {
            tracing::debug!("no account signed in yet: interaction required");
            return Err(SilentMiss::NeedsInteraction);
        };
        if self.enable_support_logging {
            tracing::debug!(
                home_account_id = record.home_account_id(),
                username = record.username(),
                home_tenant = record.tenant_id(),
                "silent acquisition for the signed-in account"
            );
        }
        let authority = self
            .authority_host
            .authority(tenant)
            .map_err(|e| SilentMiss::Failed(e.into()))?;
        let now = OffsetDateTime::now_utc();
        let mut aging = None;
        let (environments, realm) = self.provisional_keys(&authority);
        if claims.is_none()
            && let Some(found) = self
                .find_cached(cache, &record, &environments, &realm, scopes, now)
                .await?
        {
            if !found.aging {
                tracing::debug!(source = "cache", "access token served from the cache");
                return Ok((found.info, Outcome::Hit));
            }
            tracing::debug!("cached access token is past refresh_on: refreshing");
            aging = Some(found.info);
        }
        // A refresh may follow. Other processes sharing the persistent cache may be about to
        // make the same one: take turns, and look again once it is ours (the token may have
        // just been written by another process; then no request at all).
        let turn = if claims.is_none() {
            self.refresh_turn(cache).await
        } else {
            None
        };
        if turn.is_some()
            && let Some(found) = self
                .find_cached(
                    cache,
                    &record,
                    &environments,
                    &realm,
                    scopes,
                    OffsetDateTime::now_utc(),
                )
                .await?
        {
            if !found.aging {
                tracing::debug!(
                    source = "cache",
                    "access token another process refreshed, served from the cache"
                );
                return Ok((found.info, Outcome::Hit));
            }
            aging = Some(found.info);
        }
        // A request may follow: resolve the authority now.
        let endpoints = self.endpoints(tenant).await.map_err(SilentMiss::Failed)?;
        let resolved_environments = endpoints.cache_environments();
        let keys_changed = resolved_environments != environments || endpoints.realm() != realm;
        if claims.is_none()
            && aging.is_none()
            && keys_changed
            && let Some(found) = self
                .find_cached(
                    cache,
                    &record,
                    &resolved_environments,
                    endpoints.realm(),
                    scopes,
                    now,
                )
                .await?
        {
            if !found.aging {
                tracing::debug!(source = "cache", "access token served from the cache");
                return Ok((found.info, Outcome::Hit));
            }
            aging = Some(found.info);
        }
        match self
            .refresh(cache, &endpoints, &record, scopes, claims, cae)
            .await
        {
            Ok(info) => Ok((info, Outcome::Refresh)),
            Err(miss) => match aging {
                // Past refresh_on but still valid: the old token is returned (Python, .NET).
                Some(old) => {
                    tracing::debug!("refresh failed; returning the still-valid cached token");
                    Ok((old, Outcome::Hit))
                }
                None => Err(miss),
            },
        }
    }

    /// This process's turn to refresh among those sharing the persistent cache, held until
    /// the refreshed token is written; `None` without a persistent cache, or when the turn
    /// could not be taken (then this process refreshes anyway: a lock must never cost a
    /// token).
    async fn refresh_turn(&self, cache: &Cache) -> Option<RefreshLock> {
        match cache.refresh_lock().await {
            Ok(turn) => {
                if let Some(waited) = turn.as_ref().map(RefreshLock::waited)
                    && !waited.is_zero()
                {
                    tracing::debug!(
                        waited_ms = waited.as_millis(),
                        "waited for another process's refresh"
                    );
                }
                turn
            }
            Err(error) => {
                tracing::warn!(%error, "could not take turns with other processes to refresh");
                None
            }
        }
    }

    async fn refresh(
        &self,
        cache: &Cache,
        endpoints: &Endpoints,
        record: &AuthenticationRecord,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> std::result::Result<AccessTokenInfo, SilentMiss> {
        let home = record.home_account_id();
        let environments = endpoints.cache_environments();
        let query = RefreshTokenQuery::new(&self.client_id, home, &environments);
        let candidates = cache
            .find_refresh_tokens(&query)
            .await
            .map_err(|e| SilentMiss::Failed(e.into()))?;
        if candidates.is_empty() {
            tracing::debug!("no refresh token in the cache");
            return Err(SilentMiss::NeedsInteraction);
        }
        let claims =
            merge_client_capabilities(claims, cae).map_err(|e| SilentMiss::Failed(e.into()))?;
        let net = self.net().map_err(SilentMiss::Failed)?;
        let mut last = SilentMiss::NeedsInteraction;
        for rt in candidates.iter().take(3) {
            let grant =
                entra_msal_lite::RefreshGrant::new(&self.client_id, rt.secret().clone(), scopes)
                    .with_claims(claims.as_deref())
                    .with_home_account_id(Some(home));
            match net.client.refresh(endpoints, &grant).await {
                Ok(response) => {
                    let write = self
                        .token_write(endpoints, scopes, &response, Some(home), None)
                        .replacing_refresh_token(rt);
                    cache
                        .write_token_response(&write, response.received_at)
                        .await
                        .map_err(|e| SilentMiss::Failed(e.into()))?;
                    tracing::debug!("access token refreshed");
                    return Ok(response.access_token_info());
                }
                Err(e) if e.needs_interaction() => {
                    tracing::debug!(
                        error = e.oauth_error().unwrap_or(""),
                        "refresh token refused"
                    );
                    last = SilentMiss::NeedsInteraction;
                }
                Err(e) => return Err(SilentMiss::Failed(e.into())),
            }
        }
        Err(last)
    }

    fn token_write(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        response: &TokenResponse,
        home_account_id: Option<&str>,
        account: Option<AccountWrite>,
    ) -> TokenWrite {
        let expires_in = i64::try_from(response.expires_in).unwrap_or(i64::MAX);
        let granted = (!response.scope.is_empty()).then(|| response.scope.join(" "));
        let mut write = TokenWrite::new(
            &self.client_id,
            endpoints.authority.environment(),
            endpoints.realm(),
            scopes,
        )
        .with_granted_scope(granted)
        .with_access_token(response.access_token.clone(), expires_in)
        .with_ext_expires_in(response.ext_expires_in.and_then(|v| i64::try_from(v).ok()))
        .with_refresh_in(response.refresh_in.and_then(|v| i64::try_from(v).ok()))
        .with_token_type(Some(response.token_type.clone()));
        if let Some(home) = home_account_id {
            write = write.with_home_account_id(home);
        }
        if let Some(rt) = &response.refresh_token {
            write = write.with_refresh_token(rt.clone(), response.foci.clone());
        }
        if let Some(id) = &response.id_token {
            write = write.with_id_token(id.clone());
        }
        if let Some(account) = account {
            write = write.with_account(account);
        }
        write
    }

    /// Runs the credential's step and completes its response.
    async fn interactive(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
        step: &dyn InteractiveStep,
    ) -> Result<(AccessTokenInfo, AuthenticationRecord)> {
        let claims = merge_client_capabilities(claims, cae)?;
        let net = self.net()?;
        let ctx = StepContext {
            client_id: &self.client_id,
            endpoints,
            scopes,
            claims: claims.as_deref(),
            client: &net.client,
            support_logging: self.enable_support_logging,
        };
        let outcome = step.sign_in(&ctx).await?;
        self.complete(endpoints, scopes, cae, outcome).await
    }

    /// Completes a grant's token response, whatever grant produced it: checks the ID token
    /// (audience, nonce when given, expiry, issuer), builds the account and the
    /// [`AuthenticationRecord`] (authority: the configured one), writes tokens and account to
    /// the cache partition of `cae`, and makes the account the signed-in one.
    ///
    /// # Errors
    /// [`ClientAuthentication`](ErrorKind::ClientAuthentication) when the response has no
    /// usable ID token; the cache's errors.
    pub async fn complete(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        cae: bool,
        outcome: StepOutcome,
    ) -> Result<(AccessTokenInfo, AuthenticationRecord)> {
        let StepOutcome {
            response,
            nonce,
            account_source,
        } = outcome;
        let unexpected = || {
            Error::client_authentication(
                "Failed to build AuthenticationRecord from unexpected identity token",
            )
        };
        let id_token = response.id_token.as_ref().ok_or_else(unexpected)?;
        let id_claims = IdTokenValidation::new(&self.client_id, endpoints)
            .with_nonce(nonce.as_ref())
            .verify(id_token)?;
        let record_error = |e: MsalError| unexpected().with_source(e);
        let record = authentication_record(
            &id_claims,
            response.client_info.as_ref(),
            &endpoints.authority,
        )
        .map_err(record_error)?;
        let account = Account::from_id_token(
            &id_claims,
            response.client_info.as_ref(),
            &endpoints.authority,
        )
        .map_err(record_error)?;
        let account_write = AccountWrite::new(&account.local_account_id, &account.username)
            .with_authority_type(account.authority_type)
            .with_account_source(account_source);
        let write = self.token_write(
            endpoints,
            scopes,
            &response,
            Some(&account.home_account_id),
            Some(account_write),
        );
        let cache = self.cache(cae)?;
        cache
            .write_token_response(&write, response.received_at)
            .await?;
        // A different user may have signed in: forget the previous user's ready tokens.
        let previous = self.record.swap(Some(Arc::new(record.clone())));
        if previous.is_some_and(|p| p.home_account_id() != record.home_account_id()) {
            self.front.clear();
        }
        if self.enable_support_logging {
            tracing::info!(
                username = record.username(),
                home_tenant = record.tenant_id(),
                home_account_id = record.home_account_id(),
                local_account_id = %account.local_account_id,
                "signed in"
            );
        } else {
            tracing::info!("signed in");
        }
        Ok((response.access_token_info(), record))
    }
}
