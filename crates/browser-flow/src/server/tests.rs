//! The loopback server's unit tests.

use super::*;

fn scan() -> RedirectTarget {
    RedirectTarget::default_scan()
}

#[tokio::test]
async fn scanning_skips_busy_ports_and_reports_all_busy() {
    // Find two adjacent free ports in a high range, occupy the first.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let server = LoopbackServer::bind_in(&scan(), port..=port.saturating_add(50))
        .await
        .unwrap();
    assert_ne!(server.port(), port);
    assert!(server.port() > port);
    assert_eq!(
        server.redirect_uri(),
        format!("http://localhost:{}", server.port())
    );

    let err = LoopbackServer::bind_in(&scan(), port..=port)
        .await
        .unwrap_err();
    assert!(err.is_credential_unavailable());
    assert_eq!(err.message(), "Couldn't start an HTTP server on localhost");
}

#[tokio::test]
async fn explicit_port_is_one_attempt() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let target =
        crate::redirect_uri::parse_redirect_uri(&format!("http://localhost:{port}/cb")).unwrap();
    let err = LoopbackServer::bind(&target).await.unwrap_err();
    assert!(err.is_credential_unavailable());
    assert_eq!(
        err.message(),
        format!("Couldn't start an HTTP server on http://localhost:{port}")
    );
}

#[tokio::test]
async fn timeout_message_names_the_wait_and_releases_the_port() {
    let server = LoopbackServer::bind_in(&scan(), 20000..=20999)
        .await
        .unwrap();
    let port = server.port();
    let err = server
        .wait(
            Secret::new("s"),
            ResponseMode::FormPost,
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    assert!(err.is_client_authentication());
    assert_eq!(
        err.message(),
        "Timed out after waiting 0.05 seconds for the user to authenticate"
    );
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    assert_eq!(
        entra_public_client::timed_out(Duration::from_secs(300)).message(),
        "Timed out after waiting 300 seconds for the user to authenticate"
    );
}

/// One junk request of kind `i % 10`; returns the status line's code, or 0 when the server
/// closed without answering (truncated requests).
async fn junk(port: u16, i: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return 0;
    };
    let big = "a".repeat(20 * 1024);
    let x = format!("localhost:{port}");
    let request: Vec<u8> = match i % 10 {
        0 => b"GARBAGE\r\n\r\n".to_vec(),
        1 => format!("GET / HTTP/1.1\r\nHost: {x}\r\nX-Big: {big}\r\n\r\n").into_bytes(),
        2 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nstate=").into_bytes(),
        3 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Le").into_bytes(),
        4 => format!("GET /favicon.ico HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
        5 => format!("GET /?code=c&state=s HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
        6 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\ncode=c&state=wrong-s").into_bytes(),
        7 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc").into_bytes(),
        8 => (0..600u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
        _ => format!("DELETE / HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
    };
    if s.write_all(&request).await.is_err() {
        return 0;
    }
    if i % 10 == 3 {
        return 0; // truncated: hang up mid-request
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_never_ends_the_wait_and_the_real_redirect_completes() {
    let server = LoopbackServer::bind_in(&scan(), 21000..=21999)
        .await
        .unwrap();
    let port = server.port();
    let wait = tokio::spawn(server.wait(
        Secret::new("s"),
        ResponseMode::FormPost,
        Duration::from_secs(120),
    ));
    // Half-open connections that never send a byte, held through the whole test.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let mut workers = JoinSet::new();
    for w in 0..16 {
        workers.spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..125 {
                let i = w * 125 + n;
                statuses.push((i % 10, junk(port, i).await));
            }
            statuses
        });
    }
    let mut seen = std::collections::HashMap::<usize, Vec<u16>>::new();
    while let Some(r) = workers.join_next().await {
        for (kind, status) in r.unwrap() {
            seen.entry(kind).or_default().push(status);
        }
    }
    assert!(!wait.is_finished(), "junk must not end the wait");
    let all = |kind: usize, status: u16| seen[&kind].iter().all(|s| *s == status);
    assert!(all(0, 400), "{:?}", seen[&0]);
    assert!(all(1, 431), "{:?}", seen[&1]);
    assert!(all(2, 413), "{:?}", seen[&2]);
    assert!(all(4, 404));
    assert!(all(5, 405));
    assert!(all(6, 400));
    assert!(all(7, 415));
    assert!(all(9, 405));
    // The real redirect still completes.
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://127.0.0.1:{port}/"))
        .form(&[("code", "real-code"), ("state", "s"), ("client_info", "ci")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Authentication complete"));
    let code = wait.await.unwrap().unwrap();
    assert_eq!(code.code.secret(), "real-code");
    assert_eq!(code.client_info.as_deref(), Some("ci"));
    drop(idle);
    // The port is free again.
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[tokio::test]
async fn error_redirect_fails_with_the_response_and_query_mode_works() {
    let server = LoopbackServer::bind_in(&scan(), 22000..=22999)
        .await
        .unwrap();
    let port = server.port();
    let wait = tokio::spawn(server.wait(
        Secret::new("s"),
        ResponseMode::Query,
        Duration::from_secs(60),
    ));
    let client = reqwest::Client::new();
    // POST is not the configured mode.
    let r = client
        .post(format!("http://127.0.0.1:{port}/"))
        .form(&[("code", "c"), ("state", "s")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = client
        .get(format!("http://127.0.0.1:{port}/?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("&lt;b&gt;no&lt;/b&gt;"), "{page}");
    let err = wait.await.unwrap().unwrap_err();
    assert!(err.is_client_authentication());
    assert_eq!(err.error_response().unwrap().error, "access_denied");
    assert_eq!(err.message(), "Authentication failed: <b>no</b>");
}
