//! A stand-in for an Azure service: an HTTPS server on 127.0.0.1 that records the
//! `Authorization` header of every request and answers `200 {}`, or challenges as Azure
//! services do: `401` with a CAE claims challenge for a revoked token, and Key Vault's tenant
//! challenge for a token of another tenant than the one it requires.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::aws_lc_rs};

/// The server; stops when dropped.
pub(crate) struct ResourceServer {
    addr: SocketAddr,
    cert_der: Vec<u8>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    rules: Arc<Mutex<Rules>>,
    task: JoinHandle<()>,
}

/// When the server challenges instead of answering.
#[derive(Default)]
struct Rules {
    /// Tokens answered with a claims challenge (`error="insufficient_claims"`, base64 claims).
    revoked: Vec<String>,
    /// The claims JSON of the challenge.
    claims: String,
    /// The tenant (`tid`) a token must be for, else Key Vault's tenant challenge.
    tenant: Option<String>,
}

/// The `tid` claim of a JWT (no signature check: the test's own mock issued it).
fn tenant_of(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["tid"].as_str().map(str::to_owned)
}

/// The challenge for a request with this `Authorization` header, if any.
fn challenge(rules: &Rules, auth: Option<&str>) -> Option<String> {
    use base64::Engine as _;
    let token = auth.and_then(|a| a.strip_prefix("Bearer "))?;
    if rules.revoked.iter().any(|t| t == token) {
        return Some(format!(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
             client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(&rules.claims)
        ));
    }
    let tenant = rules.tenant.as_deref()?;
    (tenant_of(token).as_deref() != Some(tenant)).then(|| {
        format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{tenant}\", \
             resource=\"https://vault.azure.net\""
        )
    })
}

impl ResourceServer {
    /// Starts on an OS-chosen port of 127.0.0.1 with a fresh self-signed certificate for
    /// `localhost` and `127.0.0.1`.
    pub(crate) async fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        let cert_der = certified.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let server_rules = rules.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                let rules = server_rules.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        let rules = rules.clone();
                        async move {
                            let auth = req
                                .headers()
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let challenge = challenge(&rules.lock().unwrap(), auth.as_deref());
                            seen.lock().unwrap().push(auth);
                            if let Some(challenge) = challenge {
                                return Ok::<_, Infallible>(
                                    Response::builder()
                                        .status(401)
                                        .header("www-authenticate", challenge)
                                        .header("content-type", "application/json")
                                        .body(Full::new(Bytes::from_static(
                                            br#"{"error":{"code":"Unauthorized","message":"challenged"}}"#,
                                        )))
                                        .unwrap(),
                                );
                            }
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            cert_der,
            authorizations,
            rules,
            task,
        }
    }

    /// From now on, answers `token` with a CAE claims challenge for `claims`.
    pub(crate) fn revoke(&self, token: &str, claims: &str) {
        let mut rules = self.rules.lock().unwrap();
        rules.revoked.push(token.to_owned());
        rules.claims = claims.to_owned();
    }

    /// From now on, answers tokens of any other tenant with Key Vault's tenant challenge.
    pub(crate) fn require_tenant(&self, tenant: &str) {
        self.rules.lock().unwrap().tenant = Some(tenant.to_owned());
    }

    /// `https://localhost:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("https://localhost:{}{path}", self.addr.port())).unwrap()
    }

    /// A reqwest client that trusts only this server's certificate and resolves `localhost` to
    /// 127.0.0.1.
    pub(crate) fn reqwest_client(&self) -> reqwest::Client {
        let cert = reqwest::Certificate::from_der(&self.cert_der).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([cert])
            .resolve("localhost", self.addr)
            .no_proxy()
            .build()
            .unwrap()
    }

    /// The `Authorization` header of every request so far, in order (`None` when absent).
    pub(crate) fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations.lock().unwrap().clone()
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
