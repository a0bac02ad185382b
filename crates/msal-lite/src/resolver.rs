//! [`EndpointResolver`]: endpoints of any authority, with zero requests for known clouds,
//! instance discovery for unknown hosts, and a per-authority cache whose concurrent misses
//! share one fetch (single-flight). Errors are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tracing::Instrument as _;
use url::Url;

use crate::authority::Authority;
use crate::client::{TokenClient, millis};
use crate::cloud;
use crate::endpoints::{
    Endpoints, INSTANCE_DISCOVERY_ENDPOINT, alias_list, instance_discovery_url,
    openid_configuration_url, parse_instance_discovery, parse_openid_configuration,
};
use crate::error::{MsalError, Result};
use crate::flight::SingleFlight;

struct Inner {
    client: TokenClient,
    /// `None`: [`INSTANCE_DISCOVERY_ENDPOINT`].
    discovery_endpoint: Option<Url>,
    /// Resolved authorities (failures are never kept).
    ready: Mutex<HashMap<String, Arc<Endpoints>>>,
    /// Concurrent misses of one authority share one fetch.
    flights: SingleFlight<String, Result<Arc<Endpoints>>>,
}

impl Inner {
    fn new(client: TokenClient, discovery_endpoint: Option<Url>) -> Self {
        Self {
            client,
            discovery_endpoint,
            ready: Mutex::new(HashMap::new()),
            flights: SingleFlight::default(),
        }
    }

    fn ready(&self) -> MutexGuard<'_, HashMap<String, Arc<Endpoints>>> {
        // The map holds no invariant a panicking holder could break half-way.
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resolves an [`Authority`] into its [`Endpoints`].
///
/// - Entra ID on a known cloud: derived from the built-in table, **no request**.
/// - Entra ID on another host, discovery enabled: instance discovery (`invalid_instance` is
///   fatal and its message tells the user about `disable_instance_discovery`; any other
///   discovery failure falls back to the host as its only alias, as MSAL Go and .NET do),
///   then the OpenID configuration with its issuer checked.
/// - ADFS, B2C, CIAM, OIDC, or discovery disabled: the OpenID configuration only.
///
/// Results are cached per authority for the life of the resolver; concurrent resolutions of
/// one authority make one set of requests; a failure is shared by the callers waiting on it
/// but not cached. Cheap to clone (clones share the cache).
///
/// ```
/// use entra_msal_lite::{Authority, EndpointResolver, endpoints::EndpointSource, TokenClient};
///
/// # async fn run() -> Result<(), entra_msal_lite::MsalError> {
/// let resolver = EndpointResolver::new(TokenClient::new(TokenClient::default_http_client()?));
/// let authority = Authority::parse("https://login.microsoftonline.com/organizations")?;
/// let endpoints = resolver.resolve(&authority).await?; // no request: a known cloud
/// assert_eq!(endpoints.source, EndpointSource::KnownCloud);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EndpointResolver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EndpointResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointResolver")
            .field(
                "discovery_endpoint",
                &self
                    .inner
                    .discovery_endpoint
                    .as_ref()
                    .map_or(INSTANCE_DISCOVERY_ENDPOINT, Url::as_str),
            )
            .field("cached", &self.inner.ready().len())
            .finish_non_exhaustive()
    }
}

impl EndpointResolver {
    /// A resolver sending its requests through `client`, discovering instances at
    /// `https://login.microsoftonline.com/common/discovery/instance`.
    #[must_use]
    pub fn new(client: TokenClient) -> Self {
        Self {
            inner: Arc::new(Inner::new(client, None)),
        }
    }

    /// A resolver using another instance-discovery endpoint (a mock identity provider in
    /// tests, a private cloud's discovery service).
    #[must_use]
    pub fn with_instance_discovery_endpoint(client: TokenClient, endpoint: Url) -> Self {
        Self {
            inner: Arc::new(Inner::new(client, Some(endpoint))),
        }
    }

    /// The endpoints of `authority`.
    ///
    /// # Errors
    /// [`MsalError::InvalidInstance`] for an unknown host instance discovery rejects;
    /// [`MsalError::TenantDiscovery`] when the OpenID configuration is missing (4xx) or
    /// incomplete; [`MsalError::IssuerMismatch`]; transport errors of [`TokenClient`].
    pub async fn resolve(&self, authority: &Authority) -> Result<Arc<Endpoints>> {
        if let Some(endpoints) = Endpoints::known_cloud(authority) {
            tracing::debug!(
                authority = %authority,
                source = "known_cloud",
                cached = true,
                "endpoints derived for a known cloud (no request)"
            );
            return Ok(Arc::new(endpoints));
        }
        let key = cache_key(authority);
        if let Some(endpoints) = self.cached_ready(authority, &key) {
            return Ok(endpoints);
        }
        self.inner
            .flights
            .run(key.clone(), || self.lead(authority, key.clone()))
            .await
    }

    fn cached_ready(&self, authority: &Authority, key: &str) -> Option<Arc<Endpoints>> {
        let endpoints = self.inner.ready().get(key).cloned()?;
        tracing::debug!(
            authority = %authority,
            source = "metadata_cache",
            cached = true,
            "endpoints served from the in-memory metadata cache"
        );
        Some(endpoints)
    }

    /// How many callers are waiting for a fetch of `authority`'s endpoints that another caller
    /// is making (0 when none is in flight): for diagnostics, and for tests that must know
    /// every caller has joined before the fetch answers.
    #[must_use]
    pub fn pending_waiters(&self, authority: &Authority) -> usize {
        self.inner.flights.queued(&cache_key(authority))
    }

    /// The endpoints of `authority` if they are known without a request (a known cloud) or
    /// already cached.
    #[must_use]
    pub fn cached(&self, authority: &Authority) -> Option<Arc<Endpoints>> {
        if let Some(endpoints) = Endpoints::known_cloud(authority) {
            return Some(Arc::new(endpoints));
        }
        self.inner.ready().get(&cache_key(authority)).cloned()
    }

    /// The environment aliases of `authority` known without a request: the known-cloud
    /// group, or the cached discovery result, else just the host. With instance discovery
    /// disabled, always just the host.
    #[must_use]
    pub fn aliases(&self, authority: &Authority) -> Vec<String> {
        if authority.options().disable_instance_discovery {
            return vec![authority.host().to_owned()];
        }
        if let Some(endpoints) = self.cached(authority) {
            return endpoints.aliases.clone();
        }
        alias_list(
            authority.host(),
            cloud::aliases(authority.host()).iter().copied(),
        )
    }

    /// Forgets every cached result.
    pub fn clear(&self) {
        self.inner.ready().clear();
        self.inner.flights.clear();
    }

    /// The fetch one caller makes while the others wait (inside the single flight).
    async fn lead(&self, authority: &Authority, key: String) -> Result<Arc<Endpoints>> {
        // A fetch that finished just before this caller joined has left its result here.
        if let Some(endpoints) = self.cached_ready(authority, &key) {
            return Ok(endpoints);
        }
        let span = tracing::info_span!("resolve_authority", authority = %authority);
        let result = self.fetch(authority).instrument(span).await.map(Arc::new);
        if let Ok(endpoints) = &result {
            self.inner.ready().insert(key, Arc::clone(endpoints));
        }
        result
    }

    async fn fetch(&self, authority: &Authority) -> Result<Endpoints> {
        let host = authority.host();
        let mut aliases = vec![host.to_owned()];
        let mut configuration_url = openid_configuration_url(authority);
        if authority.validates_instance() {
            let endpoint = match &self.inner.discovery_endpoint {
                Some(url) => url.clone(),
                None => Url::parse(INSTANCE_DISCOVERY_ENDPOINT).map_err(|_| {
                    MsalError::InvalidArgument("invalid instance discovery endpoint".to_owned())
                })?,
            };
            let url = instance_discovery_url(&endpoint, authority);
            let started = Instant::now();
            let discovered = match self.inner.client.get("instance discovery", &url).await {
                Ok(reply) => {
                    tracing::debug!(
                        %url,
                        status = reply.status,
                        duration_ms = millis(started.elapsed()),
                        retries = reply.retries,
                        cached = false,
                        "instance discovery response"
                    );
                    parse_instance_discovery(reply.status, &reply.body, authority)
                }
                Err(e) => {
                    tracing::debug!(
                        %url,
                        duration_ms = millis(started.elapsed()),
                        cached = false,
                        error = %e,
                        "instance discovery request failed"
                    );
                    Err(e)
                }
            };
            match discovered {
                Ok(discovery) => {
                    if let Some(endpoint) = discovery.tenant_discovery_endpoint.clone() {
                        configuration_url = endpoint;
                    }
                    if let Some(group) = discovery.group_of(host) {
                        aliases = alias_list(host, group.aliases.iter().map(String::as_str));
                    }
                    tracing::info!(aliases = aliases.len(), "instance discovery succeeded");
                }
                Err(e @ MsalError::InvalidInstance { .. }) => {
                    tracing::warn!(host, "instance discovery rejected the authority host");
                    return Err(e);
                }
                Err(e) => {
                    // MSAL Go/.NET carry on with the host alone here; that lets a network
                    // attacker who can block one request skip the validation. Fail closed.
                    tracing::warn!(host, error = %e, "instance discovery failed; the authority is not used");
                    return Err(MsalError::InstanceDiscoveryFailed {
                        authority: format!("https://{host}"),
                        cause: Box::new(e),
                    });
                }
            }
        }
        let started = Instant::now();
        let reply = self
            .inner
            .client
            .get("the OpenID configuration request", &configuration_url)
            .await
            .inspect_err(|e| {
                tracing::debug!(
                    url = %configuration_url,
                    duration_ms = millis(started.elapsed()),
                    cached = false,
                    error = %e,
                    "OpenID configuration request failed"
                );
            })?;
        tracing::debug!(
            url = %configuration_url,
            status = reply.status,
            duration_ms = millis(started.elapsed()),
            retries = reply.retries,
            cached = false,
            "OpenID configuration response"
        );
        let endpoints = parse_openid_configuration(reply.status, &reply.body, authority, &aliases)?;
        tracing::info!(token_endpoint = %endpoints.token_endpoint, "OpenID configuration read");
        Ok(endpoints)
    }
}

fn cache_key(authority: &Authority) -> String {
    format!(
        "{}|{}|{}",
        authority.as_str(),
        authority.options().disable_instance_discovery,
        authority.options().allows_insecure_http()
    )
}
