//! Junk thrown at the loopback server during a real sign-in: thousands of malformed,
//! oversized, truncated and half-open requests; the real redirect still completes.

use std::sync::Arc;

use async_trait::async_trait;
use entra_browser_flow::InteractiveBrowserCredential;
use entra_core::{BrowserOpenError, BrowserOpener};
use entra_testing::{Endpoint, HeadlessBrowser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Env, SCOPE};

/// A "browser" that first floods the loopback server, then signs in for real.
#[derive(Debug)]
struct JunkFirst {
    browser: HeadlessBrowser,
    statuses: std::sync::Mutex<Vec<(usize, u16)>>,
    idle: tokio::sync::Mutex<Vec<TcpStream>>,
}

async fn junk(port: u16, i: usize) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return 0;
    };
    let big = "b".repeat(64 * 1024);
    // The Host a browser sends for the redirect URI (another Host is refused with 421).
    let host = format!("localhost:{port}");
    let request: Vec<u8> = match i % 8 {
        0 => b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n".to_vec(),
        1 => format!("GET /{big} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        2 => format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\nstate=").into_bytes(),
        3 => format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ncode=x&st").into_bytes(),
        4 => format!("GET /favicon.ico HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        5 => format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 36\r\n\r\ncode=stolen&state=guess&error=denied").into_bytes(),
        6 => format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        _ => format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n").into_bytes(),
    };
    if s.write_all(&request).await.is_err() {
        return 0;
    }
    if matches!(i % 8, 3 | 7) {
        return 0; // truncated: hang up mid-body
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl BrowserOpener for JunkFirst {
    fn wants_sign_in_url(&self) -> bool {
        true // reads redirect_uri from the sign-in URL
    }

    async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
        let parsed = url::Url::parse(url).unwrap();
        let redirect = parsed
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let port = url::Url::parse(&redirect).unwrap().port().unwrap();
        // Half-open connections that never send a byte, held until the sign-in is over.
        for _ in 0..64 {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)).await {
                self.idle.lock().await.push(s);
            }
        }
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..16 {
            workers.spawn(async move {
                let mut out = Vec::new();
                for n in 0..125 {
                    let i = w * 125 + n;
                    out.push((i % 8, junk(port, i).await));
                }
                out
            });
        }
        while let Some(r) = workers.join_next().await {
            self.statuses.lock().unwrap().extend(r.unwrap());
        }
        self.browser.open(url).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_junk_requests_do_not_stop_the_real_sign_in() {
    let env = Env::start().await;
    let opener = Arc::new(JunkFirst {
        browser: env.browser.clone(),
        statuses: std::sync::Mutex::new(Vec::new()),
        idle: tokio::sync::Mutex::new(Vec::new()),
    });
    let credential =
        InteractiveBrowserCredential::new(env.options().with_browser(opener.clone())).unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.mock.count(Endpoint::Token), 1);

    let statuses = opener.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 2000);
    let of = |kind: usize| -> Vec<u16> {
        statuses
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, s)| *s)
            .collect()
    };
    assert!(of(0).iter().all(|s| *s == 400), "{:?}", of(0));
    // Oversized heads: refused (431), or the connection reset before the client read it.
    assert!(of(1).iter().all(|s| *s == 431 || *s == 0), "{:?}", of(1));
    assert!(of(2).iter().all(|s| *s == 413), "{:?}", of(2));
    assert!(of(4).iter().all(|s| *s == 404));
    assert!(
        of(5).iter().all(|s| *s == 400),
        "a guessed state is refused"
    );
    assert!(
        of(6).iter().all(|s| *s == 405),
        "a bare GET / does not end the wait"
    );
    let outcome = env.browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.redirect().unwrap().status(), Some(200));
}
