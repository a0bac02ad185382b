//! [`MockEntra`]: the server (hyper 1 on 127.0.0.1, TLS by rustls), starting and stopping it,
//! and clients that trust it; `controls.rs` has the methods tests call to configure it and
//! read its log.

mod controls;

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{
    DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, DEFAULT_USER_OID, DEFAULT_USERNAME, MockEntraBuilder,
};
use crate::fault::{Endpoint, Fault, FaultTimes};
use crate::keys::SigningKey;
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
