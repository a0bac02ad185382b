//! End to end with a real browser: the credential's default opener (the `webbrowser` crate,
//! through `$BROWSER`) starts headless Chromium on the mock's HTML sign-in page; the test fills
//! and submits the page over the DevTools protocol; the form_post reaches the loopback server,
//! the credential returns a token, and Chromium shows the success page.
//!
//! `BROWSER` must be in the environment of the process that opens the browser, and setting it
//! in this process would need `unsafe` (`std::env::set_var`, edition 2024) and race with other
//! tests. So the test runs itself again as a child process with `BROWSER` set there
//! ([`CHILD_DIR`] marks the child), and the parent checks the child's result.
// Test code, helpers included: a failure should fail loudly (clippy.toml allows this only
// inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_testing::{Endpoint, MockEntra};

use support::chromium::{Chromium, find_chromium, session_members};

/// Set in the child's environment: the Chromium work directory the parent made.
const CHILD_DIR: &str = "ENTRA_E2E_CHROMIUM_DIR";
const TEST_NAME: &str = "headless_chromium_signs_in_through_the_mock_sign_in_page";
const SCOPE: &str = "https://graph.microsoft.com/.default";

#[test]
fn headless_chromium_signs_in_through_the_mock_sign_in_page() {
    if entra_testing::skip_under_wine("a real Chromium does not run under Wine") {
        return;
    }
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child(Chromium::attach(dir));
        return;
    }

    let Some(chromium) = find_chromium() else {
        entra_testing::skip_or_fail(
            "chromium not found (install Debian's `chromium`, as .ci/run does, or set ENTRA_TEST_CHROMIUM)",
        );
        return;
    };

    let run = Chromium::new();
    let started = Instant::now();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, run.dir())
        .env("BROWSER", run.browser_env())
        .env("ENTRA_TEST_CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let child_pid = child.id();
    // Output is read while the child runs (a full pipe would block it).
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    // The child has its own deadlines; this one only stops a hung child (by its id).
    let output = match finished.recv_timeout(Duration::from_secs(180)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &child_pid.to_string()])
                .status();
            finished.recv().unwrap().unwrap()
        }
    };
    let status = output.status;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("child stdout:\n{stdout}\nchild stderr:\n{stderr}");
    assert!(
        status.success(),
        "the child run failed ({status}); Chromium's log:\n{}",
        run.log()
    );
    assert!(
        stdout.contains("e2e: success page shown"),
        "the child did not run the flow"
    );
    let pid = run
        .pid()
        .expect("the BROWSER script recorded Chromium's pid");
    drop(run);
    assert!(
        session_members(pid).is_empty(),
        "every Chromium process is gone"
    );
    println!("e2e with Chromium took {:?}", started.elapsed());
}

/// The child: the whole flow, with `BROWSER` pointing at the Chromium script.
fn child(run: Chromium) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mock = MockEntra::builder()
            .sign_in_page(true)
            .start()
            .await
            .unwrap();
        let username = mock.default_user().username().to_owned();
        let options = InteractiveBrowserCredentialOptions::default()
            .with_authority(mock.base_url())
            .with_disable_instance_discovery(true)
            // Resolves the real Entra host names to the mock too: nothing leaves 127.0.0.1.
            .with_http_client(mock.resolving_http_client())
            .with_timeout(Duration::from_secs(120));
        // No `with_browser`: the default opener, which runs $BROWSER.
        let credential = InteractiveBrowserCredential::new(options).unwrap();

        let driver = tokio::task::spawn_blocking(move || {
            let mut page = run.connect(Duration::from_secs(60))?;
            page.wait_for(
                "document.getElementById('i0116') && document.readyState === 'complete'",
                Duration::from_secs(60),
            )?;
            let fill = format!(
                "document.getElementById('i0116').value = {}; \
                 document.getElementById('idSIButton9').click(); true",
                serde_json::Value::String(username)
            );
            page.eval(&fill)?;
            // The mock answers with an auto-submitting form_post to the loopback server,
            // which answers with its success page.
            let shown = page.wait_for(
                "(location.protocol === 'http:' && document.readyState === 'complete' \
                  && document.title !== '') \
                 ? JSON.stringify({ href: location.href, title: document.title, \
                                    text: document.body.innerText }) : null",
                Duration::from_secs(60),
            )?;
            page.close_browser();
            drop(run); // kills whatever is left, by id
            Ok::<_, String>(shown)
        });

        let token = credential
            .get_token(&[SCOPE], None)
            .await
            .expect("the credential returns a token");
        let shown = driver.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        let shown: serde_json::Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();

        // The token is the mock's, for the user who signed in on the page.
        let claims = mock.verify_token(token.token.secret()).unwrap();
        assert_eq!(claims["aud"], "https://graph.microsoft.com");
        assert!(
            [&claims["upn"], &claims["preferred_username"]]
                .iter()
                .any(|v| v.as_str() == Some(mock.default_user().username())),
            "the token is for the user who signed in on the page: {claims}"
        );
        assert_eq!(mock.count(Endpoint::Token), 1);
        // Chromium itself loaded the authorize page and submitted the filled form.
        for endpoint in [Endpoint::Authorize, Endpoint::SignIn] {
            let request = mock.last_request(endpoint).unwrap();
            let agent = request.header("user-agent").unwrap_or_default();
            assert!(
                agent.contains("HeadlessChrome"),
                "{endpoint:?} from {agent}"
            );
        }
        let sign_in = mock.last_request(Endpoint::SignIn).unwrap();
        assert_eq!(sign_in.method(), "POST");
        assert_eq!(
            sign_in.form_param("login"),
            Some(mock.default_user().username())
        );
        // The browser showed the loopback server's success page.
        let href = shown["href"].as_str().unwrap();
        assert!(
            href.starts_with("http://localhost:") || href.starts_with("http://127.0.0.1:"),
            "{href}"
        );
        assert_eq!(shown["title"], "Authentication complete");
        assert!(
            shown["text"]
                .as_str()
                .unwrap()
                .contains("You can close this window"),
            "{shown}"
        );
        println!("e2e: success page shown at {href}");
    });
}
