//! A stand-in for an Azure service: an HTTPS server on 127.0.0.1 that records the
//! `Authorization` header of every request and answers `200 {}`.

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
    task: JoinHandle<()>,
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
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let auth = req
                                .headers()
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            seen.lock().unwrap().push(auth);
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
            task,
        }
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
