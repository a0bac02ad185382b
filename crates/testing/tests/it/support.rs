//! Helpers: PKCE, authorize URLs, a tiny loopback listener, JWT decoding.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub(crate) const CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub(crate) const SCOPE: &str = "https://graph.microsoft.com/.default offline_access openid profile";

/// A PKCE verifier and its S256 challenge.
pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn uuid_bytes() -> Vec<u8> {
    // 32 bytes of randomness from the system clock + a counter are enough for tests.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Sha256::digest(format!("{t}-{n}").as_bytes()).to_vec()
}

/// Authorize request parameters.
pub(crate) struct Authz {
    pub(crate) tenant: String,
    pub(crate) redirect_uri: String,
    pub(crate) response_mode: &'static str,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) challenge: String,
    pub(crate) verifier: String,
    pub(crate) scope: String,
}

impl Authz {
    pub(crate) fn new(redirect_uri: &str, response_mode: &'static str) -> Self {
        let (verifier, challenge) = pkce();
        Self {
            tenant: "organizations".into(),
            redirect_uri: redirect_uri.into(),
            response_mode,
            state: format!("state-{}", &verifier[..8]),
            nonce: hex(&Sha256::digest(verifier.as_bytes())),
            challenge,
            verifier,
            scope: SCOPE.into(),
        }
    }

    pub(crate) fn url(&self, base: &str) -> String {
        let mut u =
            url::Url::parse(&format!("{base}/{}/oauth2/v2.0/authorize", self.tenant)).unwrap();
        u.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "select_account")
            .append_pair("response_mode", self.response_mode)
            .append_pair("client_info", "1");
        u.to_string()
    }

    pub(crate) fn token_form(&self, code: &str) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", CLIENT_ID.into()),
            ("code", code.into()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("code_verifier", self.verifier.clone()),
            ("scope", self.scope.clone()),
            ("client_info", "1".into()),
        ]
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Query pairs of a URL.
pub(crate) fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub(crate) fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One request the loopback listener received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A tiny HTTP/1.1 loopback listener: answers every request `200 Authentication complete.`
/// and reports it on a channel.
pub(crate) struct Loopback {
    pub(crate) addr: SocketAddr,
    pub(crate) rx: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Loopback {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.lines();
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let target = first.next().unwrap_or_default().to_owned();
                    let len: usize = lines
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                    let reply = "Authentication complete. You can close this window.";
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                    let _ = tx.send(Received {
                        method,
                        target,
                        body,
                    });
                });
            }
        });
        Self { addr, rx, task }
    }

    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.addr.port())
    }

    /// Collects what arrived until `n` requests are in.
    pub(crate) async fn take(&mut self, n: usize) -> Vec<Received> {
        let mut v = Vec::new();
        while v.len() < n {
            v.push(self.rx.recv().await.unwrap());
        }
        v
    }
}

/// Runs the authorize step by hand (`response_mode=query`) and returns the redirect's query.
pub(crate) async fn authorize_query(
    mock: &entra_testing::MockEntra,
    authz: &Authz,
) -> Vec<(String, String)> {
    let resp = mock
        .http_client()
        .get(authz.url(&mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&authz.redirect_uri), "{location}");
    query_of(&location)
}

/// Signs in by hand and returns the code.
pub(crate) async fn sign_in_code(mock: &entra_testing::MockEntra, authz: &Authz) -> String {
    let q = authorize_query(mock, authz).await;
    get(&q, "code").unwrap().to_owned()
}

/// POSTs a form to a tenant's token endpoint and returns (status, JSON).
pub(crate) async fn token_call(
    mock: &entra_testing::MockEntra,
    tenant: &str,
    form: &[(&str, String)],
) -> (u16, serde_json::Value) {
    let resp = mock
        .http_client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", mock.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Asserts an Entra-shaped error body with this `error` and AADSTS code.
pub(crate) fn assert_entra_error(body: &serde_json::Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(desc.contains("Trace ID: "), "{desc}");
    assert!(body["timestamp"].is_string());
    assert!(body["trace_id"].is_string());
    assert!(body["correlation_id"].is_string());
}

/// A refresh-token grant form.
pub(crate) fn refresh_form(rt: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".into()),
        ("client_id", CLIENT_ID.into()),
        ("refresh_token", rt.into()),
        ("scope", scope.into()),
        ("client_info", "1".into()),
    ]
}
