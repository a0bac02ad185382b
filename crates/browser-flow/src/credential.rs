//! [`InteractiveBrowserCredential`]: construction, the silent path (front map, MSAL cache,
//! refresh token), the interactive path (loopback server, browser, code redemption) and
//! `authenticate`.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use entra_cache::{
    AccessTokenQuery, AccountWrite, Cache, CacheBackend, CacheError, RefreshTokenQuery,
    TokenCachePersistenceOptions, TokenWrite,
};
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, BrowserOpener, DEVELOPER_SIGN_ON_CLIENT_ID,
    Error, ErrorKind, Result, TokenCredential, TokenRequestOptions, validate_scopes,
    validate_tenant_id,
};
use entra_msal_lite::{
    AZURE_AUTHORITY_HOST, Account, AuthCodeFlow, AuthorityHost, AuthorityOptions, AuthorizeParams,
    ClientInfo, EndpointResolver, Endpoints, IdTokenValidation, MsalError, ResponseMode,
    TokenClient, TokenResponse, authentication_record, check_scopes, default_arm_scope,
    merge_client_capabilities,
};
use time::OffsetDateTime;
use tracing::Instrument as _;

use crate::browser::{SystemBrowser, redact_url};
use crate::front::{FlightKey, Flights, FrontCache};
use crate::options::{InteractiveBrowserCredentialOptions, RedirectTarget, parse_redirect_uri};
use crate::server::{LoopbackError, LoopbackServer};
use crate::tenant::{multitenant_disabled_by_env, resolve_tenant};

/// The name every error of this crate carries.
pub(crate) const CREDENTIAL_NAME: &str = "InteractiveBrowserCredential";

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
    Memory,
    Persistent(TokenCachePersistenceOptions),
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
    /// Signed the user in through the browser.
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
        entra_core::ErrorKind::CredentialUnavailable => "credential_unavailable",
        entra_core::ErrorKind::ClientAuthentication { .. } => "client_authentication",
        entra_core::ErrorKind::AuthenticationRequired { .. } => "authentication_required",
        entra_core::ErrorKind::InvalidArgument => "invalid_argument",
        _ => "other",
    }
}

/// Opens a browser to sign a user in interactively, with the authorization code flow and PKCE,
/// receiving the redirect on a loopback server; then serves tokens from its cache and refresh
/// tokens, silently.
///
/// Python: `azure.identity.InteractiveBrowserCredential`. Construct it with
/// [`new`](Self::new), then call [`get_token`](TokenCredential::get_token) (through the
/// [`TokenCredential`] trait), [`authenticate`](Self::authenticate) and [`close`](Self::close).
///
/// Where Python has a known flaw this type does the right thing:
/// - the loopback server ignores requests that are not the sign-in response (a bare `GET /`,
///   `favicon.ico`, a forged or stale `state`) instead of ending the wait;
/// - the timeout is one deadline for the whole wait; stray requests do not extend it;
/// - when no browser opens, stderr says so and how to sign in anyway (no URL: the attempt's
///   URL is dead and carries `state`, `nonce` and the user's name);
/// - a configured `redirect_uri` is sent exactly as given (path included), and `state` is
///   checked by the listener in constant time;
/// - with an authentication record and a persistent cache, a new process finds the token that
///   was cached under `organizations` (Python misses it and refreshes);
/// - the listener binds `127.0.0.1` and also `::1`, since browsers may resolve `localhost` to
///   either;
/// - the browser opener is handed a one-time loopback address
///   (`http://localhost:PORT/entra-sign-in/<random>`) that redirects to the sign-in page, so
///   `state`, `nonce` and `login_hint` never reach a launcher's command line or logs (the
///   `webbrowser` crate logs the command it runs); openers that follow the sign-in URL
///   themselves opt out with [`BrowserOpener::wants_sign_in_url`]. The address is consumed by
///   its first visit, and a second visit stops the sign-in
///   ([`LoopbackError::StartAddressReused`]); on Linux, connections from another user's
///   processes are refused; only loopback `Host` names are served;
/// - every error links to its section of the troubleshooting guide.
pub struct InteractiveBrowserCredential {
    client_id: String,
    authority_host: AuthorityHost,
    tenant_id: String,
    login_hint: Option<String>,
    redirect: RedirectTarget,
    response_mode: ResponseMode,
    timeout: Duration,
    disable_automatic_authentication: bool,
    enable_support_logging: bool,
    additionally_allowed_tenants: Vec<String>,
    browser: Arc<dyn BrowserOpener>,
    http_client: Option<reqwest::Client>,
    net: Mutex<Option<Net>>,
    cache_config: CacheConfig,
    cae_backend: Option<Arc<dyn CacheBackend>>,
    /// `[plain, cae]`, created on first use.
    caches: Mutex<[Option<Arc<Cache>>; 2]>,
    record: ArcSwapOption<AuthenticationRecord>,
    front: FrontCache,
    flights: Flights,
}

impl fmt::Debug for InteractiveBrowserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(CREDENTIAL_NAME)
            .field("client_id", &self.client_id)
            .field("authority", &self.authority_host.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("redirect_uri", &self.redirect.uri)
            .field("response_mode", &self.response_mode)
            .field("timeout", &self.timeout)
            .field(
                "disable_automatic_authentication",
                &self.disable_automatic_authentication,
            )
            .field("has_record", &self.record.load().is_some())
            .field("browser", &self.browser)
            .finish_non_exhaustive()
    }
}

fn err(e: impl Into<Error>) -> Error {
    let e = e.into().with_credential(CREDENTIAL_NAME);
    match (e.help().is_none())
        .then(|| troubleshooting_anchor(&e))
        .flatten()
    {
        Some(anchor) => e.with_help(format!("{TROUBLESHOOTING}#{anchor}")),
        None => e,
    }
}

/// The troubleshooting guide every error links to.
const TROUBLESHOOTING: &str =
    "https://github.com/entra-rs/entra-rs/blob/main/crates/browser-flow/TROUBLESHOOTING.md";

/// The first error of type `T` in `e`'s source chain.
fn source_of<T: std::error::Error + 'static>(e: &Error) -> Option<&T> {
    let mut next = std::error::Error::source(e);
    while let Some(source) = next {
        if let Some(found) = source.downcast_ref::<T>() {
            return Some(found);
        }
        next = source.source();
    }
    None
}

/// The section of the troubleshooting guide that explains `e`, if one does.
fn troubleshooting_anchor(e: &Error) -> Option<&'static str> {
    // Typed causes first.
    if source_of::<LoopbackError>(e).is_some() {
        return Some("sign-in-link-reused");
    }
    match source_of::<CacheError>(e) {
        Some(CacheError::Insecure { .. }) => return Some("cache-location-unsafe"),
        Some(
            CacheError::NotAFile { .. }
            | CacheError::TooLarge { .. }
            | CacheError::Corrupt { .. }
            | CacheError::Undecryptable { .. },
        ) => return Some("cache-corrupt"),
        Some(CacheError::KeyringUnavailable { .. }) => return Some("keyring-unavailable"),
        _ => {}
    }
    let message = e.message();
    if let Some(response) = e.error_response() {
        let description = response.error_description.as_deref().unwrap_or("");
        return match response.error.as_str() {
            _ if description.contains("AADSTS50011") => Some("redirect-uri-mismatch"),
            "access_denied" | "consent_required" => Some("access-denied"),
            "invalid_grant" if response.claims.is_none() => Some("invalid-grant"),
            "invalid_instance" => Some("invalid-instance"),
            _ if response.claims.is_some() => Some("claims-challenge"),
            _ => None,
        };
    }
    match e.kind() {
        ErrorKind::AuthenticationRequired { .. } => Some("authentication-required"),
        ErrorKind::CredentialUnavailable if message.starts_with("Failed to open a browser") => {
            Some("no-browser")
        }
        ErrorKind::CredentialUnavailable
            if message.starts_with("Couldn't start an HTTP server") =>
        {
            Some("port-in-use")
        }
        ErrorKind::ClientAuthentication { .. } => {
            if message.starts_with("Timed out after waiting") {
                Some("timeout")
            } else if message.contains("disable_instance_discovery") {
                Some("invalid-instance")
            } else if message.contains("Unable to get authority configuration") {
                Some("tenant-discovery")
            } else if message.contains("not configured to acquire tokens for tenant") {
                Some("tenant-not-allowed")
            } else if message.contains("allow_unencrypted_storage") {
                Some("keyring-unavailable")
            } else if message.contains("move or delete it") {
                Some("cache-corrupt")
            } else {
                None
            }
        }
        _ => None,
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

/// Whether a silent-stage failure means "sign in again" (an OAuth error answer) rather than
/// "something is broken" (network, 5xx, throttling).
fn needs_interaction(e: &MsalError) -> bool {
    e.error_response().is_some() && !e.is_transient()
}

impl InteractiveBrowserCredential {
    /// Creates the credential. Validates every option; does no I/O (no network, no storage,
    /// no port is bound: the persistent cache is opened and the loopback port bound on first
    /// use).
    ///
    /// # Errors
    /// [`InvalidArgument`](entra_core::ErrorKind::InvalidArgument) with Python's message for
    /// an invalid `tenant_id`, `redirect_uri` or `authority` (not https), and for an invalid
    /// entry of `additionally_allowed_tenants`.
    pub fn new(options: InteractiveBrowserCredentialOptions) -> Result<Arc<Self>> {
        Self::build(options).map(Arc::new).map_err(err)
    }

    fn build(options: InteractiveBrowserCredentialOptions) -> Result<Self> {
        let authority_options = AuthorityOptions::default()
            .with_disable_instance_discovery(options.disable_instance_discovery)
            .danger_allow_insecure_http(options.allow_insecure_http);
        let record = options.authentication_record.clone();
        // Python: a record replaces client id and authority; its tenant is used unless one
        // is given.
        let authority_text = match &record {
            Some(r) => Some(r.authority().to_owned()),
            None => options.authority.clone().or_else(|| {
                std::env::var(AZURE_AUTHORITY_HOST)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            }),
        };
        let authority_host = match authority_text {
            Some(a) => AuthorityHost::parse_with(&a, &authority_options)?,
            None => AuthorityHost::public_cloud().with_options(&authority_options),
        };
        let client_id = match &record {
            Some(r) => r.client_id().to_owned(),
            None => options
                .client_id
                .clone()
                .unwrap_or_else(|| DEVELOPER_SIGN_ON_CLIENT_ID.to_owned()),
        };
        let tenant_id = options
            .tenant_id
            .clone()
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
        let redirect = match &options.redirect_uri {
            Some(uri) => parse_redirect_uri(uri)?,
            None => RedirectTarget::default_scan(),
        };
        let cache_config = match (&options.cache, &options.cache_persistence_options) {
            (Some(backend), _) => CacheConfig::Backend(Arc::clone(backend)),
            (None, Some(persist)) => CacheConfig::Persistent(persist.clone()),
            (None, None) => CacheConfig::Memory,
        };
        tracing::debug!(
            client_id = %client_id,
            authority = authority_host.as_str(),
            tenant_id = %tenant_id,
            has_record = record.is_some(),
            "InteractiveBrowserCredential created"
        );
        Ok(Self {
            client_id,
            authority_host,
            tenant_id,
            login_hint: options.login_hint,
            redirect,
            response_mode: options.response_mode,
            timeout: options.timeout,
            disable_automatic_authentication: options.disable_automatic_authentication,
            enable_support_logging: options.enable_support_logging,
            additionally_allowed_tenants: options.additionally_allowed_tenants,
            browser: options.browser.unwrap_or_else(|| Arc::new(SystemBrowser)),
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

    /// The record of the account the credential signs in as: given at construction, or
    /// built by the last interactive sign-in. Save its [`serialize`](AuthenticationRecord::serialize)d
    /// form to sign in silently in a later process.
    #[must_use]
    pub fn authentication_record(&self) -> Option<AuthenticationRecord> {
        self.record.load_full().map(|r| (*r).clone())
    }

    /// Interactively authenticates a user: always opens the browser (also when
    /// `disable_automatic_authentication` is set), caches the token for `scopes`, and returns
    /// the record of the account.
    ///
    /// With no scopes it asks for the Azure Resource Manager scope of a known cloud (public,
    /// China, US Government), as Python does.
    ///
    /// # Errors
    /// [`CredentialUnavailable`](entra_core::ErrorKind::CredentialUnavailable) with "Authenticating
    /// in this environment requires a value for the 'scopes' keyword argument." when no scopes
    /// are given for another cloud, when no port can be bound or no browser opened;
    /// [`ClientAuthentication`](entra_core::ErrorKind::ClientAuthentication) when the sign-in
    /// fails or times out.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        let span = tracing::info_span!(
            "authenticate",
            scopes = ?scopes,
            tenant = self.tenant_id.as_str()
        );
        self.authenticate_inner(scopes, claims)
            .instrument(span)
            .await
            .map_err(err)
    }

    async fn authenticate_inner(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
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
        let tenant = self.tenant_id.clone();
        let cache = self.cache(false)?;
        // The cache must be usable (keyring, file) before the user is asked to sign in.
        cache.reload().await?;
        let endpoints = self.endpoints(&tenant).await?;
        let (info, record) = self
            .interactive(&cache, &endpoints, scopes, claims, false)
            .await?;
        self.front.insert(scopes, &tenant, false, &info);
        Ok(record)
    }

    /// Releases what the credential holds: the tokens it keeps in memory, its view of the
    /// persistent cache and the authority metadata it fetched. The credential stays usable;
    /// the next request starts afresh (a persistent cache on disk is kept).
    pub fn close(&self) {
        self.front.clear();
        *lock(&self.caches) = [None, None];
        if let Some(net) = lock(&self.net).take() {
            net.resolver.clear();
        }
        tracing::debug!("InteractiveBrowserCredential closed");
    }

    fn net(&self) -> Result<Net> {
        let mut slot = lock(&self.net);
        if let Some(net) = slot.as_ref() {
            return Ok(net.clone());
        }
        let http = match &self.http_client {
            Some(c) => c.clone(),
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

    async fn endpoints(&self, tenant: &str) -> Result<Arc<Endpoints>> {
        let authority = self.authority_host.authority(tenant)?;
        let net = self.net()?;
        Ok(net.resolver.resolve(&authority).await?)
    }

    /// The common path of `get_token` and `get_token_info`.
    async fn acquire(
        &self,
        method: &str,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        validate_scopes(method, scopes)?;
        // Before any cache: a reserved scope fails whether or not a token is cached.
        check_scopes(scopes)?;
        let options = options.unwrap_or_default();
        let claims = options.claims.as_deref().filter(|c| !c.is_empty());
        let cae = options.enable_cae;
        let requested = options.tenant_id.as_deref();
        let multitenant_disabled = requested
            .is_some_and(|t| !t.eq_ignore_ascii_case(&self.tenant_id))
            && multitenant_disabled_by_env();
        let tenant = resolve_tenant(
            &self.tenant_id,
            requested,
            &self.additionally_allowed_tenants,
            multitenant_disabled,
        )?;
        if claims.is_none()
            && let Some(hit) = self
                .front
                .get(scopes, tenant, cae, OffsetDateTime::now_utc())
        {
            // The hot path: no span, one TRACE event (a few ns when TRACE is off).
            tracing::trace!(
                scopes = ?scopes,
                tenant,
                cae,
                outcome = Outcome::Hit.as_str(),
                source = "memory",
                "get_token served from the in-memory token map"
            );
            return Ok(hit);
        }
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
                let result = self.acquire_slow(scopes, tenant, claims, cae).await;
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

    async fn acquire_slow(
        &self,
        scopes: &[&str],
        tenant: &str,
        claims: Option<&str>,
        cae: bool,
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
        let endpoints = self.endpoints(tenant).await?;
        let cache = self.cache(cae)?;
        match self.silent(&cache, &endpoints, scopes, claims, cae).await {
            Ok((info, outcome)) => {
                if claims.is_none() {
                    self.front.insert(scopes, tenant, cae, &info);
                }
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
        let (info, _record) = self
            .interactive(&cache, &endpoints, scopes, claims, cae)
            .await?;
        self.front.insert(scopes, tenant, cae, &info);
        Ok((info, Outcome::Prompt))
    }

    /// The realms a cached token of the record's account may be stored under for `realm`:
    /// tokens obtained through `organizations` or `common` were issued by the account's home
    /// tenant, so they serve a request for that tenant, and the reverse.
    ///
    /// The home tenant is the `utid` half of the home account id (MSAL's rule), not the
    /// record's `tenant_id`: for a guest that is the tenant the user signed in to, whose
    /// tokens must never answer an `organizations` request (Entra sends those to the home
    /// tenant).
    fn candidate_realms<'a>(
        &self,
        realm: &'a str,
        record: &'a AuthenticationRecord,
    ) -> Vec<&'a str> {
        let home = home_tenant(record);
        let mut realms = vec![realm];
        if realm.eq_ignore_ascii_case(home) {
            realms.extend(["organizations", "common"]);
        } else if realm.eq_ignore_ascii_case("organizations")
            || realm.eq_ignore_ascii_case("common")
        {
            realms.push(home);
        }
        realms
    }

    /// The cache, then the refresh token. Never prompts.
    async fn silent(
        &self,
        cache: &Cache,
        endpoints: &Endpoints,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> std::result::Result<(AccessTokenInfo, Outcome), SilentMiss> {
        let Some(record) = self.record.load_full() else {
            tracing::debug!("no account signed in yet: interaction required");
            return Err(SilentMiss::NeedsInteraction);
        };
        let home = record.home_account_id();
        if self.enable_support_logging {
            tracing::debug!(
                home_account_id = home,
                username = record.username(),
                home_tenant = record.tenant_id(),
                "silent acquisition for the signed-in account"
            );
        }
        let environments = &endpoints.aliases;
        let now = OffsetDateTime::now_utc();
        let mut aging = None;
        if claims.is_none() {
            for realm in self.candidate_realms(endpoints.realm(), &record) {
                let query =
                    AccessTokenQuery::new(&self.client_id, home, realm, environments, scopes);
                let hit = cache
                    .find_access_token(&query, now)
                    .await
                    .map_err(|e| SilentMiss::Failed(e.into()))?;
                if let Some(hit) = hit {
                    if !hit.should_refresh(now) {
                        tracing::debug!(source = "cache", "access token served from the cache");
                        return Ok((hit.to_access_token_info(), Outcome::Hit));
                    }
                    tracing::debug!("cached access token is past refresh_on: refreshing");
                    aging = Some(hit.to_access_token_info());
                    break;
                }
            }
        }
        match self
            .refresh(cache, endpoints, &record, scopes, claims, cae)
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
        let query = RefreshTokenQuery::new(&self.client_id, home, &endpoints.aliases);
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
                Err(e) if needs_interaction(&e) => {
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
            endpoints.authority.host(),
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

    /// Binds the loopback server, opens the browser, waits for the redirect, redeems the code,
    /// caches the tokens and replaces the record.
    async fn interactive(
        &self,
        cache: &Cache,
        endpoints: &Endpoints,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> Result<(AccessTokenInfo, AuthenticationRecord)> {
        // Bind first: the browser must never be redirected to a port nobody listens on.
        let mut server = LoopbackServer::bind(&self.redirect).await?;
        let port = server.port();
        let claims = merge_client_capabilities(claims, cae)?;
        let params = AuthorizeParams::new(&self.client_id, server.redirect_uri(), scopes)
            .with_response_mode(self.response_mode)
            .with_login_hint(self.login_hint.as_deref())
            .with_claims(claims.as_deref());
        let flow = AuthCodeFlow::new(endpoints, params)?;
        let sign_in_url = flow.authorize_url().as_str();
        // Openers get a one-time loopback address that redirects to the sign-in page, unless
        // they follow the sign-in URL themselves: the webbrowser crate, for one, logs the
        // command line it runs, and the sign-in URL carries `state` and `nonce`.
        let start_url;
        let url = if self.browser.wants_sign_in_url() {
            sign_in_url
        } else {
            start_url = server.start_redirect(sign_in_url)?;
            start_url.secret()
        };
        if self.enable_support_logging {
            tracing::info!(
                port,
                url = %redact_url(sign_in_url),
                login_hint = self.login_hint.as_deref(),
                "opening the browser for interactive sign-in"
            );
        } else {
            tracing::info!(port, url = %redact_url(sign_in_url), "opening the browser for interactive sign-in");
        }
        let wait = server.wait(flow.state().clone(), self.response_mode, self.timeout);
        tokio::pin!(wait);
        let redirect = tokio::select! {
            done = &mut wait => done,
            opened = self.browser.open(url) => match opened {
                Ok(()) => wait.await,
                Err(e) => {
                    // The user must see where to sign in (Python never shows it). The URL
                    // is only valid while this attempt waits, which ends now: the hint says
                    // how to keep waiting next time.
                    // Nothing of the attempt is printed: its URL carries `state`, `nonce`
                    // and the user's name, and it is dead once this returns.
                    eprintln!(
                        "{CREDENTIAL_NAME}: failed to open a browser. To sign in on a machine \
                         where no browser can be opened automatically, configure the credential \
                         with entra_browser_flow::PrintUrlOpener and open the address it prints \
                         in a browser on this machine."
                    );
                    tracing::warn!(url = %redact_url(sign_in_url), error = %e, "failed to open a browser");
                    return Err(Error::credential_unavailable("Failed to open a browser").with_source(e));
                }
            },
        }?;
        tracing::debug!("redirect received; redeeming the authorization code");
        let client_info = redirect
            .client_info
            .as_deref()
            .and_then(|raw| ClientInfo::decode(raw).ok());
        let grant = flow.redemption(redirect.code, client_info);
        let net = self.net()?;
        let response = net.client.redeem_code(endpoints, &grant).await?;
        let id_token = response.id_token.as_ref().ok_or_else(|| {
            Error::client_authentication(
                "Failed to build AuthenticationRecord from unexpected identity token",
            )
        })?;
        let id_claims = IdTokenValidation::new(&self.client_id, endpoints)
            .with_nonce(Some(flow.nonce()))
            .verify(id_token)?;
        let record_error = |e: MsalError| {
            Error::client_authentication(
                "Failed to build AuthenticationRecord from unexpected identity token",
            )
            .with_source(e)
        };
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
            .with_account_source("authorization_code");
        let write = self.token_write(
            endpoints,
            scopes,
            &response,
            Some(&account.home_account_id),
            Some(account_write),
        );
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

#[async_trait]
impl TokenCredential for InteractiveBrowserCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.acquire("get_token", scopes, options)
            .await
            .map(Into::into)
            .map_err(err)
    }

    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.acquire("get_token_info", scopes, options)
            .await
            .map_err(err)
    }
}

#[cfg(test)]
mod troubleshooting_tests {
    use super::*;
    use entra_core::ErrorResponse;

    #[test]
    fn every_linked_anchor_exists_in_the_guide() {
        let guide = include_str!("../TROUBLESHOOTING.md");
        let cases = [
            Error::credential_unavailable("Failed to open a browser"),
            Error::credential_unavailable("Couldn't start an HTTP server on localhost"),
            Error::client_authentication(
                "Timed out after waiting 300 seconds for the user to authenticate",
            ),
            Error::authentication_required(&["s"], None),
            Error::from_error_response(Some(400), ErrorResponse::new("invalid_grant")),
            Error::from_error_response(None, ErrorResponse::new("access_denied")),
            Error::from_error_response(
                Some(400),
                ErrorResponse::new("invalid_request")
                    .with_description("AADSTS50011: The redirect URI does not match."),
            ),
            Error::client_authentication(
                "... add it to the additionally_allowed_tenants ... not configured to acquire tokens for tenant x",
            ),
            Error::client_authentication("... pass 'disable_instance_discovery=True' ..."),
            Error::client_authentication("Unable to get authority configuration for https://h/t"),
            Error::client_authentication("no keyring; set allow_unencrypted_storage"),
        ];
        for case in cases {
            let e = err(case);
            let help = e.help().unwrap_or_else(|| panic!("no help for {e}"));
            let anchor = help.rsplit_once('#').map(|(_, a)| a).unwrap();
            assert!(
                guide.contains(&format!("<a id=\"{anchor}\"></a>")),
                "TROUBLESHOOTING.md has no anchor {anchor}"
            );
            assert!(e.to_string().ends_with(&format!("See {help}")), "{e}");
        }
        // Argument errors say what to fix themselves.
        assert!(err(Error::invalid_argument("bad scope")).help().is_none());
    }
}
