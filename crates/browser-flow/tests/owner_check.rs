//! Issue 20.1 and 20.2, in a test binary of its own: the attack grows the kernel's socket
//! table by some 170,000 lines and floods the loopback server from 48 connections, which
//! would disturb the timing of tests running beside it (cargo runs test binaries one after
//! another).
#![cfg(target_os = "linux")]
// Test code, helpers included: a failure should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/attack_first.rs"]
mod attack_first;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_testing::{
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, Endpoint, HeadlessBrowser, MockEntra, TestUser,
};

use attack_first::AttackFirst;
const SCOPE: &str = "https://graph.microsoft.com/.default";
const MALLORY: &str = "mallory@attacker.example";

/// Whether this test process runs as root (needed to start a process as another user).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
}

/// Debian's Python: readable by every user (a user's own Python, under /root, is not for
/// `nobody`).
fn system_python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Issue 20.1 and 20.2: a process of another user (`nobody`, from `table_attacker.py`) first
/// grows the kernel's socket table far past 16 MiB (where the old `/proc/net/tcp` reader
/// stopped and let "unknown" owners through), then opens the start address and posts a code
/// from sockets whose lines lie past that cut: both are refused (403). It then floods the
/// start address and the redirect path from 48 connections while the user signs in: on a
/// current-thread runtime, as the `entra` command runs, the user's sign-in still completes
/// within its one deadline, as the user it should be.
#[tokio::test]
async fn another_user_with_a_huge_socket_table_and_a_flood_can_neither_take_part_nor_stall() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    if !running_as_root() {
        println!("skipped: running a process as another user needs root (CI runs as root)");
        return;
    }
    let mock = MockEntra::builder()
        .user(TestUser::new(DEFAULT_USERNAME, DEFAULT_TENANT_ID))
        .user(TestUser::new(MALLORY, DEFAULT_TENANT_ID))
        .start()
        .await
        .unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/table_attacker.py"
    );
    type Attacker = (std::process::Child, BufReader<std::process::ChildStdout>);
    let attacker = Arc::new(Mutex::new(None::<Attacker>));
    let ready = Arc::new(Mutex::new(None::<(serde_json::Value, std::time::Instant)>));
    let (slot, seen) = (Arc::clone(&attacker), Arc::clone(&ready));
    let opener = Arc::new(AttackFirst {
        browser: browser.clone(),
        attack: move |start: String| {
            let (slot, seen) = (Arc::clone(&slot), Arc::clone(&seen));
            async move {
                let parsed = url::Url::parse(&start).unwrap();
                let port = parsed.port().unwrap();
                let path = parsed.path().to_owned();
                let line = tokio::task::spawn_blocking(move || {
                    let mut child = Command::new(system_python())
                        .arg(script)
                        .arg(port.to_string())
                        .arg(path)
                        // Well past the old reader's 16 MiB cut.
                        .arg((24 * 1024 * 1024).to_string())
                        .current_dir("/")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut out = BufReader::new(child.stdout.take().unwrap());
                    let mut line = String::new();
                    out.read_line(&mut line).unwrap();
                    *slot.lock().unwrap() = Some((child, out));
                    line
                })
                .await
                .unwrap();
                // The user's browser goes on from here, under the flood.
                *seen.lock().unwrap() = Some((
                    serde_json::from_str(&line).unwrap(),
                    std::time::Instant::now(),
                ));
            }
        },
    });
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_browser(opener)
            .with_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    let result = credential.get_token(&[SCOPE], None).await;
    let finished = std::time::Instant::now();
    // Stop the flood: close its standard input and wait for it to exit.
    let (mut child, mut out) = attacker.lock().unwrap().take().expect("the attacker ran");
    drop(child.stdin.take());
    let (status, flood) = tokio::task::spawn_blocking(move || {
        let mut flood = String::new();
        out.read_line(&mut flood).unwrap();
        (child.wait().unwrap(), flood)
    })
    .await
    .unwrap();
    let (ready, flood_began) = ready
        .lock()
        .unwrap()
        .clone()
        .expect("the attacker reported");
    println!(
        "attacker: {ready}; {}; the sign-in under the flood took {:?}",
        flood.trim(),
        finished - flood_began
    );

    assert!(status.success(), "the attacker failed: {status}");
    assert_eq!(ready["uid"], 65534);
    assert!(
        ready["table_bytes"].as_u64().unwrap() > 17 * 1024 * 1024,
        "{ready}"
    );
    assert!(
        ready["start_offset"].as_u64().unwrap() > 16 * 1024 * 1024,
        "{ready}"
    );
    for reply in ["start_reply", "code_reply"] {
        let reply = ready[reply].as_str().unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    }
    let token = result.expect("the user's own sign-in completes despite the flood");
    assert!(!token.token.secret().is_empty());
    assert_eq!(
        credential.authentication_record().unwrap().username(),
        DEFAULT_USERNAME
    );
    assert_eq!(mock.count(Endpoint::Token), 1);
}
