//! Many `entra` processes, one refresh (issue 21): kubectl runs one `entra` per command and
//! tools run many at once. Twenty real processes that find the same access token expiring
//! take turns at the cache's refresh lock: one redeems the refresh token (and fetches the
//! authority's metadata), the others wait and then serve the token it wrote.
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The cache in its plaintext file: no Secret Service (a D-Bus address that leads nowhere).
#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::signing_mock;
use entra_testing::{DEFAULT_TENANT_ID, Endpoint, TestUser};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};

const SCOPE: &str = "https://graph.microsoft.com/.default";
const PROCESSES: usize = 20;
/// What the cache's tracing says when a process finds another one refreshing.
const WAITING: &str = "another process is refreshing a token";

/// One finished process: exit code, stdout, and how long it said it waited (milliseconds).
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    waited_ms: Option<u64>,
}

/// `line` without the colours of tracing's output (`ESC [ ... m`).
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// The `waited_ms` the public client logged, if it waited.
fn waited_ms(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .map(plain)
        .find(|l| l.contains("waited for another process's refresh"))?;
    let value = line.split("waited_ms=").nth(1)?;
    value.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_finding_the_token_expiring_make_one_refresh() {
    let user = TestUser::new("alice@contoso.com", DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let no_bus: &std::ffi::OsStr = "unix:path=/nonexistent/entra-test-bus".as_ref();
    let args = [
        "get-token",
        "--scope",
        SCOPE,
        "--tenant-id",
        DEFAULT_TENANT_ID,
        "--authority",
        base.as_str(),
        "--disable-instance-discovery",
    ];
    // The sign-in's access token lives a minute: inside MSAL's five-minute buffer, so no
    // later call serves it and every process must refresh.
    mock.set_token_lifetime(Duration::from_secs(60));
    let mut sign_in = args.to_vec();
    sign_in.push("--device-code");
    let first = common::entra_approving_with(
        dir.path(),
        &ca,
        &sign_in,
        &mock,
        &user,
        &[("DBUS_SESSION_BUS_ADDRESS", no_bus)],
    )
    .await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    mock.set_token_lifetime(Duration::from_secs(3600));
    mock.clear_log();
    // Every token request waits at the gate until the processes are lined up.
    let gate = mock.hold(Endpoint::Token);

    let (waiting_tx, mut waiting_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runs = Vec::new();
    for _ in 0..PROCESSES {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_entra"))
            .args(args)
            .arg("--no-prompt")
            .env("ENTRA_TOKEN_CACHE_DIR", dir.path())
            .env("SSL_CERT_FILE", &ca)
            .env("DBUS_SESSION_BUS_ADDRESS", no_bus)
            .env("RUST_LOG", "entra_cache=debug,entra_public_client=debug")
            .env_remove("AZURE_AUTHORITY_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let waiting_tx = waiting_tx.clone();
        runs.push(tokio::spawn(async move {
            let mut stdout = child.stdout.take().unwrap();
            let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
            let mut stderr = String::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains(WAITING) {
                    let _ = waiting_tx.send(());
                }
                stderr.push_str(&line);
                stderr.push('\n');
            }
            let mut out = String::new();
            stdout.read_to_string(&mut out).await.unwrap();
            let status = child.wait().await.unwrap();
            Finished {
                code: status.code(),
                waited_ms: waited_ms(&stderr),
                stdout: out,
                stderr,
            }
        }));
    }
    drop(waiting_tx);
    // Lined up: all but one wait at the refresh lock, or (as without it) a second refresh
    // reached the token endpoint.
    let lined_up = async {
        let mut waiting = 0;
        while waiting < PROCESSES - 1 && waiting_rx.recv().await.is_some() {
            waiting += 1;
        }
        waiting
    };
    let waiting = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::select! {
            waiting = lined_up => waiting,
            () = gate.arrivals(2) => 0,
        }
    })
    .await
    .expect("the processes lined up within a minute");
    gate.open();

    let mut finished = Vec::new();
    for run in runs {
        finished.push(
            tokio::time::timeout(Duration::from_secs(60), run)
                .await
                .expect("entra ended by itself within a minute")
                .unwrap(),
        );
    }
    assert_eq!(
        mock.count(Endpoint::Token),
        1,
        "{PROCESSES} processes, one refresh ({waiting} waited at the lock)"
    );
    for run in &finished {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let tokens: Vec<String> = finished
        .iter()
        .map(|run| {
            let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
            json["accessToken"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        mock.count(Endpoint::OpenIdConfiguration),
        1,
        "the others never needed the authority's metadata"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all serve the one refreshed token"
    );
    let mut waits: Vec<u64> = finished.iter().filter_map(|r| r.waited_ms).collect();
    waits.sort_unstable();
    assert_eq!(waits.len(), PROCESSES - 1, "all but the refresher waited");
    println!(
        "{} processes waited for the refresh (held at the mock until they lined up): \
         median {} ms, longest {} ms",
        waits.len(),
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
}
