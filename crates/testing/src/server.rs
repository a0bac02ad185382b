//! [`MockEntra`]: the server (hyper 1 on 127.0.0.1, TLS by rustls), its shared state and the
//! methods tests call to configure it and read its log.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{
    AuthorizeRefusal, ClaimsChallenge, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, DEFAULT_USER_OID,
    DEFAULT_USERNAME, MockEntraBuilder,
};
use crate::fault::{Endpoint, Fault, FaultTimes};
use crate::gate::Gate;
use crate::keys::SigningKey;
use crate::log::RecordedRequest;
use crate::state::{FaultQueue, Shared, State};
use crate::users::{TestTenant, TestUser};
use crate::{MockError, tls};

/// A mock Microsoft Entra ID: a real HTTP(S) server on 127.0.0.1 with Entra's endpoints,
/// users, codes, refresh tokens, signed tokens, a request log and fault injection.
///
/// It shuts down when dropped (or by [`MockEntra::shutdown`]); several may run at once.
/// See the [crate documentation](crate) for a whole authorization-code flow.
///
/// ```
/// use entra_testing::{Endpoint, Fault, MockEntra};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mock = MockEntra::start().await?;
/// let client = mock.http_client(); // trusts the mock's certificate authority
/// let metadata = format!("{}/organizations/v2.0/.well-known/openid-configuration", mock.base_url());
/// assert_eq!(client.get(&metadata).send().await?.status(), 200);
/// // The next token request gets Entra's 429 with Retry-After; the log counts every request.
/// mock.inject_fault(Endpoint::Token, Fault::TooManyRequests { retry_after_secs: 1 });
/// assert_eq!(mock.count(Endpoint::OpenIdConfiguration), 1);
/// # Ok(()) }
/// ```
pub struct MockEntra {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    ca_der: Option<Vec<u8>>,
    hosts: Vec<String>,
    client: reqwest::Client,
    resolving_client: reqwest::Client,
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockEntra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockEntra")
            .field("base_url", &self.base_url())
            .field("total_requests", &self.total_requests())
            .finish_non_exhaustive()
    }
}

impl MockEntraBuilder {
    /// Starts the server on 127.0.0.1 with an OS-chosen port.
    ///
    /// # Errors
    /// [`MockError`] when the socket cannot be bound or the keys cannot be generated.
    pub async fn start(self) -> Result<MockEntra, MockError> {
        MockEntra::start_with(self).await
    }
}

impl MockEntra {
    /// Starts a mock with the defaults: HTTPS on 127.0.0.1 with an OS-chosen port, the default
    /// tenant ([`DEFAULT_TENANT_ID`](crate::DEFAULT_TENANT_ID), `contoso.onmicrosoft.com`) and
    /// user (`alice@contoso.onmicrosoft.com`).
    ///
    /// # Errors
    /// [`MockError`] when the socket cannot be bound or the keys cannot be generated.
    pub async fn start() -> Result<Self, MockError> {
        Self::builder().start().await
    }

    /// A builder for a mock with other settings.
    pub fn builder() -> MockEntraBuilder {
        MockEntraBuilder::default()
    }

    pub(crate) async fn start_with(builder: MockEntraBuilder) -> Result<Self, MockError> {
        crate::install_crypto_providers();
        let MockEntraBuilder {
            https,
            port,
            hosts,
            mut settings,
            faults,
        } = builder;

        let default_tenant = TestTenant::new(DEFAULT_TENANT_ID, DEFAULT_TENANT_DOMAIN);
        if !settings.tenants.iter().any(|t| t.id() == DEFAULT_TENANT_ID) {
            settings.tenants.insert(0, default_tenant);
        }
        let alice = TestUser::new(DEFAULT_USERNAME, DEFAULT_TENANT_ID)
            .with_oid(DEFAULT_USER_OID)
            .with_display_name("Alice Example");
        if !settings
            .users
            .iter()
            .any(|u| u.username().eq_ignore_ascii_case(DEFAULT_USERNAME))
        {
            settings.users.push(alice);
        }
        settings.default_user = 0;

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(MockError::Bind)?;
        let addr = listener.local_addr().map_err(MockError::Bind)?;

        let mut cert_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        cert_names.extend(hosts.iter().cloned());
        let (acceptor, ca_pem, ca_der) = if https {
            let material = tls::generate(&cert_names)?;
            (
                Some(TlsAcceptor::from(material.server_config)),
                Some(material.ca_pem),
                Some(material.ca_der),
            )
        } else {
            (None, None, None)
        };

        let key = SigningKey::generate()?;
        let mut fault_map: HashMap<Endpoint, FaultQueue> = HashMap::new();
        for (endpoint, fault, times) in faults {
            push_fault(fault_map.entry(endpoint).or_default(), fault, times);
        }
        let state = State {
            settings,
            log: Vec::new(),
            counts: HashMap::new(),
            faults: fault_map,
            gates: HashMap::new(),
            codes: HashMap::new(),
            used_codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            revoked_refresh_tokens: HashMap::new(),
            pending_sign_ins: HashMap::new(),
            last_client_capabilities: None,
            last_claims: None,
            device_codes: HashMap::new(),
        };
        let shared = Arc::new(Shared::new(addr.port(), https, key, state));

        let client = client_builder(ca_der.as_deref(), addr, &[])?
            .build()
            .map_err(MockError::HttpClient)?;
        let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let resolving_client = client_builder(ca_der.as_deref(), addr, &host_refs)?
            .build()
            .map_err(MockError::HttpClient)?;

        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), acceptor, rx));
        tracing::debug!(port = addr.port(), https, "mock Entra ID started");
        Ok(Self {
            shared,
            addr,
            ca_pem,
            ca_der,
            hosts,
            client,
            resolving_client,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Stops the server and waits until it no longer accepts connections. Open connections are
    /// closed. Dropping the mock does the same without waiting.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// `https://localhost:PORT` (or `http://` for a plain-HTTP mock).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("{}://localhost:{}", self.shared.scheme(), self.addr.port())
    }

    /// The authority URL for a tenant: `{base_url}/{tenant}`.
    #[must_use]
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{}", self.base_url(), tenant)
    }

    /// The port the server listens on (on 127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The socket address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the mock serves HTTPS.
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.shared.https
    }

    /// The PEM of the CA that signed the server certificate (`None` for a plain-HTTP mock).
    #[must_use]
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The DER of the CA certificate (`None` for a plain-HTTP mock).
    #[must_use]
    pub fn ca_certificate_der(&self) -> Option<&[u8]> {
        self.ca_der.as_deref()
    }

    /// The host names the certificate names besides `localhost` and `127.0.0.1`; the
    /// [`resolving_http_client`](Self::resolving_http_client) sends them to the mock.
    #[must_use]
    pub fn certificate_hosts(&self) -> &[String] {
        &self.hosts
    }

    /// A client that trusts the mock's CA (only), uses no proxy and follows no redirects.
    /// Cheap to call: clients share one connection pool.
    #[must_use]
    pub fn http_client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Like [`http_client`](Self::http_client), and also resolves every
    /// [certificate host](Self::certificate_hosts) (`login.microsoftonline.com`, ...) to the
    /// mock, so `https://login.microsoftonline.com/organizations/...` (no port) reaches it
    /// over real TLS. (reqwest keeps a resolve override's non-zero port when the URL has none.)
    #[must_use]
    pub fn resolving_http_client(&self) -> reqwest::Client {
        self.resolving_client.clone()
    }

    /// A client that resolves exactly these hosts to the mock (they must be named by the
    /// certificate for HTTPS: see [`MockEntraBuilder::certificate_host`]).
    ///
    /// # Errors
    /// [`MockError::HttpClient`] when reqwest cannot build the client.
    pub fn http_client_resolving(&self, hosts: &[&str]) -> Result<reqwest::Client, MockError> {
        self.http_client_builder_resolving(hosts)
            .build()
            .map_err(MockError::HttpClient)
    }

    /// A reqwest builder preconfigured like [`resolving_http_client`](Self::resolving_http_client),
    /// for callers that add their own settings.
    pub fn http_client_builder(&self) -> reqwest::ClientBuilder {
        let hosts: Vec<&str> = self.hosts.iter().map(String::as_str).collect();
        self.http_client_builder_resolving(&hosts)
    }

    fn http_client_builder_resolving(&self, hosts: &[&str]) -> reqwest::ClientBuilder {
        match client_builder(self.ca_der.as_deref(), self.addr, hosts) {
            Ok(b) => b,
            // Only a malformed CA could fail, and we generated it; fall back to no extra root.
            Err(_) => reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none()),
        }
    }

    // ---- request log ----

    /// Every request received so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().log.clone()
    }

    /// The requests routed to `endpoint`, oldest first.
    #[must_use]
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .state()
            .log
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// The most recent request to `endpoint`.
    #[must_use]
    pub fn last_request(&self, endpoint: Endpoint) -> Option<RecordedRequest> {
        self.shared
            .state()
            .log
            .iter()
            .rev()
            .find(|r| r.endpoint == endpoint)
            .cloned()
    }

    /// The user codes of the device codes handed out and not yet redeemed, oldest first.
    #[must_use]
    pub fn pending_user_codes(&self) -> Vec<String> {
        let st = self.shared.state();
        let mut grants: Vec<&crate::device_code::DeviceGrant> = st.device_codes.values().collect();
        grants.sort_by_key(|g| g.issued);
        grants.iter().map(|g| g.user_code.clone()).collect()
    }

    /// Approves the device code shown as `user_code`, as the default user signing in at the
    /// verification page. `false` when no such code is pending.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        let Some(user) = self.shared.state().default_user().cloned() else {
            return false;
        };
        self.approve_device_code_as(user_code, &user)
    }

    /// Approves the device code shown as `user_code` as `user`.
    pub fn approve_device_code_as(&self, user_code: &str, user: &TestUser) -> bool {
        self.shared.state().set_device_code_status(
            user_code,
            crate::device_code::DeviceCodeStatus::Approved(user.clone()),
        )
    }

    /// Declines the device code shown as `user_code` (the user pressed "Cancel").
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        self.shared
            .state()
            .set_device_code_status(user_code, crate::device_code::DeviceCodeStatus::Declined)
    }

    /// Lets the device code shown as `user_code` expire now.
    pub fn expire_device_code(&self, user_code: &str) -> bool {
        self.shared
            .state()
            .set_device_code_status(user_code, crate::device_code::DeviceCodeStatus::Expired)
    }

    /// How many device code polls (token requests with the device code grant) arrived.
    #[must_use]
    pub fn device_code_polls(&self) -> usize {
        self.requests_to(Endpoint::Token)
            .iter()
            .filter(|r| r.grant_type() == Some(crate::device_code::DEVICE_CODE_GRANT))
            .count()
    }

    /// How many requests reached `endpoint` since start or the last [`clear_log`](Self::clear_log).
    #[must_use]
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.shared
            .state()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests reached the mock (all endpoints).
    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.shared.state().counts.values().sum()
    }

    /// Empties the log and zeroes the counters (codes and tokens stay valid).
    pub fn clear_log(&self) {
        let mut st = self.shared.state();
        st.log.clear();
        st.counts.clear();
    }

    // ---- faults ----

    /// Makes the next request to `endpoint` fail with `fault`.
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.inject_fault_times(endpoint, fault, FaultTimes::Next(1));
    }

    /// Makes the next `n` requests to `endpoint` fail with `fault`, or all of them.
    /// Queued faults run before a persistent one.
    pub fn inject_fault_times(&self, endpoint: Endpoint, fault: Fault, times: FaultTimes) {
        let mut st = self.shared.state();
        push_fault(st.faults.entry(endpoint).or_default(), fault, times);
    }

    /// Holds every request to `endpoint` at a [`Gate`] until the test opens it (then they
    /// are answered normally, faults included). A second call replaces the gate.
    pub fn hold(&self, endpoint: Endpoint) -> Gate {
        let gate = Gate::default();
        self.shared.state().gates.insert(endpoint, gate.clone());
        gate
    }

    /// Removes every queued and persistent fault.
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }

    // ---- behaviour ----

    /// Sets or clears the claims challenge (see [`ClaimsChallenge`]).
    pub fn set_claims_challenge(&self, challenge: Option<ClaimsChallenge>) {
        self.shared.state().settings.claims_challenge = challenge;
    }

    /// The claims challenge in force, if any (it clears itself once satisfied unless
    /// [persistent](ClaimsChallenge::persistent)).
    #[must_use]
    pub fn claims_challenge(&self) -> Option<ClaimsChallenge> {
        self.shared.state().settings.claims_challenge.clone()
    }

    /// The client capabilities (`xms_cc` values, e.g. `["CP1"]`) the last token request
    /// carried in its `claims`; `Some(vec![])` when it had no capabilities, `None` before any
    /// token request.
    #[must_use]
    pub fn last_client_capabilities(&self) -> Option<Vec<String>> {
        self.shared.state().last_client_capabilities.clone()
    }

    /// The `claims` parameter of the last token request (`None` if it had none).
    #[must_use]
    pub fn last_claims(&self) -> Option<String> {
        self.shared.state().last_claims.clone()
    }

    /// Sets or clears the refusal every authorize request gets.
    pub fn set_authorize_refusal(&self, refusal: Option<AuthorizeRefusal>) {
        self.shared.state().settings.authorize_refusal = refusal;
    }

    /// Switches the HTML sign-in page on or off.
    pub fn set_sign_in_page(&self, on: bool) {
        self.shared.state().settings.sign_in_page = on;
    }

    /// Changes the access token lifetime for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.state().settings.token_lifetime = lifetime;
    }

    /// Changes `refresh_in` for tokens issued from now on.
    pub fn set_refresh_in(&self, refresh_in: Option<Duration>) {
        self.shared.state().settings.refresh_in = refresh_in;
    }

    /// Revokes every refresh token (as a password reset or admin revocation does).
    pub fn revoke_refresh_tokens(&self) {
        let mut st = self.shared.state();
        let now = Instant::now();
        let revoked: Vec<String> = st.refresh_tokens.drain().map(|(k, _)| k).collect();
        for rt in revoked {
            st.revoked_refresh_tokens.insert(rt, now);
        }
    }

    /// How many refresh tokens are currently valid.
    #[must_use]
    pub fn live_refresh_tokens(&self) -> usize {
        self.shared.state().refresh_tokens.len()
    }

    // ---- users and tenants ----

    /// The default sign-in user.
    #[must_use]
    pub fn default_user(&self) -> TestUser {
        let st = self.shared.state();
        st.default_user()
            .cloned()
            .unwrap_or_else(|| TestUser::new(DEFAULT_USERNAME, DEFAULT_TENANT_ID))
    }

    /// A configured user by username.
    #[must_use]
    pub fn user(&self, username: &str) -> Option<TestUser> {
        self.shared.state().user(username).cloned()
    }

    /// Every configured user.
    #[must_use]
    pub fn users(&self) -> Vec<TestUser> {
        self.shared.state().settings.users.clone()
    }

    /// Adds a user after start.
    pub fn add_user(&self, user: TestUser) {
        self.shared.state().settings.users.push(user);
    }

    /// Makes `username` the default sign-in user; `false` if no such user exists.
    pub fn set_default_user(&self, username: &str) -> bool {
        let mut st = self.shared.state();
        match st
            .settings
            .users
            .iter()
            .position(|u| u.username().eq_ignore_ascii_case(username))
        {
            Some(i) => {
                st.settings.default_user = i;
                true
            }
            None => false,
        }
    }

    /// Every configured tenant (the default tenant first).
    #[must_use]
    pub fn tenants(&self) -> Vec<TestTenant> {
        self.shared.state().settings.tenants.clone()
    }

    /// The default tenant (`contoso.onmicrosoft.com`, [`DEFAULT_TENANT_ID`](crate::DEFAULT_TENANT_ID)).
    #[must_use]
    pub fn default_tenant(&self) -> TestTenant {
        TestTenant::new(DEFAULT_TENANT_ID, DEFAULT_TENANT_DOMAIN)
    }

    /// Adds a tenant after start.
    pub fn add_tenant(&self, tenant: TestTenant) {
        self.shared.state().settings.tenants.push(tenant);
    }

    /// Verifies an RS256 token issued by this mock and returns its claims (for tests that want
    /// to check signatures; clients need not).
    ///
    /// # Errors
    /// [`MockError::InvalidToken`] when the signature or format is wrong (expiry, audience and
    /// issuer are not checked).
    pub fn verify_token(&self, token: &str) -> Result<serde_json::Value, MockError> {
        self.shared.key.verify(token)
    }
}

impl Drop for MockEntra {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn push_fault(queue: &mut FaultQueue, fault: Fault, times: FaultTimes) {
    match times {
        FaultTimes::Next(n) => {
            for _ in 0..n {
                queue.queued.push_back(fault.clone());
            }
        }
        FaultTimes::Always => queue.always = Some(fault),
    }
}

/// A reqwest builder trusting `ca_der` only (when given), without proxy or redirects, that
/// resolves `hosts` to `addr`.
pub(crate) fn client_builder(
    ca_der: Option<&[u8]>,
    addr: SocketAddr,
    hosts: &[&str],
) -> Result<reqwest::ClientBuilder, MockError> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60));
    if let Some(der) = ca_der {
        let cert = reqwest::Certificate::from_der(der).map_err(MockError::HttpClient)?;
        b = b.tls_certs_only([cert]);
    }
    for host in hosts {
        b = b.resolve(host, addr);
    }
    Ok(b)
}

/// Accepts connections until shutdown.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "mock Entra ID accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let serve = async move {
                match acceptor {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => serve_connection(TokioIo::new(tls), shared).await,
                        Err(e) => tracing::debug!(error = %e, "mock Entra ID TLS handshake failed"),
                    },
                    None => serve_connection(TokioIo::new(stream), shared).await,
                }
            };
            tokio::select! {
                () = serve => {}
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

async fn serve_connection<I>(io: I, shared: Arc<Shared>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| crate::endpoints::handle(shared.clone(), req));
    if let Err(e) = http1::Builder::new().serve_connection(io, service).await {
        tracing::debug!(error = %e, "mock Entra ID connection ended");
    }
}
