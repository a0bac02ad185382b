//! The `entra` command as a user runs it: the binary cargo built (`CARGO_BIN_EXE_entra`), run
//! with its flags against its embedded mock (`--mock`, the `mock` feature), judged by its exit
//! code, its JSON on stdout and what it reports on stderr (the sign-in URL and the requests
//! its mock received). Every process gets its own cache directory (`ENTRA_TOKEN_CACHE_DIR`)
//! and talks only to 127.0.0.1.
#![cfg(feature = "mock")]
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

const GRAPH: &str = "https://graph.microsoft.com/.default";
/// The mock's default tenant and user (entra-testing's defaults).
const MOCK_TENANT_ID: &str = "11111111-2222-4333-8444-555555555555";
const MOCK_USER: &str = "alice@contoso.onmicrosoft.com";
const OTHER_TENANT: &str = "99999999-2222-4333-8444-555555555555";

/// The `entra` binary cargo built for this test.
fn example() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_entra"))
}

/// One finished run of the example.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", self.stdout))
    }

    /// How many requests the embedded mock received (from its stderr report).
    fn mock_requests(&self) -> usize {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("Mock Entra ID received "))
            .unwrap_or_else(|| panic!("no request report on stderr:\n{}", self.stderr));
        line["Mock Entra ID received ".len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a count")
    }

    /// The URL on the line after the first line starting with `marker`.
    fn url_after(&self, marker: &str) -> url::Url {
        let mut lines = self.stderr.lines();
        lines
            .by_ref()
            .find(|l| l.starts_with(marker))
            .unwrap_or_else(|| panic!("no {marker:?} on stderr:\n{}", self.stderr));
        url::Url::parse(lines.next().expect("the URL line").trim()).expect("a URL")
    }

    /// The authorize request the embedded mock received (one-time values redacted).
    fn sign_in_url(&self) -> url::Url {
        self.url_after("Authorize request received by the mock:")
    }

    /// Where the browser was sent: the credential's one-time loopback start address.
    fn opened_url(&self) -> url::Url {
        self.url_after("Signing in: opening")
    }

    fn query(&self, name: &str) -> Option<String> {
        self.sign_in_url()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The one-line error: `error (<kind>): <message>`.
    fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error ("))
            .unwrap_or_else(|| panic!("no error line on stderr:\n{}", self.stderr))
    }

    fn assert_token(&self) -> serde_json::Value {
        assert_eq!(self.code, Some(0), "stderr:\n{}", self.stderr);
        let json = self.json();
        let token = json["accessToken"].as_str().expect("accessToken");
        assert_eq!(token.split('.').count(), 3, "a JWT");
        assert_eq!(json["tokenType"], "Bearer");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let expires_on = json["expires_on"]
            .as_i64()
            .expect("expires_on in Unix seconds");
        // az's expiresOn: local time, `YYYY-MM-DD HH:MM:SS.ffffff`.
        let shown = json["expiresOn"]
            .as_str()
            .expect("expiresOn as az prints it");
        assert_eq!(shown.len(), 26, "{shown}");
        assert_eq!(&shown[10..11], " ", "{shown}");
        assert!(
            expires_on > now && expires_on <= now + 2 * 3600,
            "{expires_on} vs {now}"
        );
        json
    }

    fn assert_failure(&self, code: i32, kind: &str, message_part: &str) {
        assert_eq!(self.code, Some(code), "stderr:\n{}", self.stderr);
        assert!(
            self.stdout.is_empty(),
            "no JSON on failure: {}",
            self.stdout
        );
        let line = self.error_line();
        assert!(line.starts_with(&format!("error ({kind}): ")), "{line}");
        assert!(line.contains(message_part), "{line}");
    }
}

/// Runs the example with `args` and its caches in `cache_dir`.
fn run_in(cache_dir: &Path, args: &[&str]) -> Run {
    run_in_env(cache_dir, args, &[])
}

/// [`run_in`] with `env` added to the example's environment.
fn run_in_env(cache_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output: Output = Command::new(example())
        .args(args)
        .env("ENTRA_TOKEN_CACHE_DIR", cache_dir)
        .env_remove("SSL_CERT_FILE")
        .env_remove("RUST_LOG")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("ENTRA_STRICT_CACHE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the example starts");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args)
}

fn mock(extra: &[&str]) -> Run {
    let mut args = vec!["--mock", "--scope", GRAPH];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn signs_in_against_the_mock_and_prints_one_json_object() {
    let r = mock(&[]);
    let json = r.assert_token();
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "accessToken",
            "expiresOn",
            "expires_on",
            "tenant",
            "tokenType"
        ],
        "az account get-access-token's fields"
    );
    assert_eq!(json["tenant"], MOCK_TENANT_ID);
    // The browser gets a loopback address that redirects to the sign-in page, so the
    // one-time values of the authorize URL never reach a browser launcher's logs.
    let opened = r.opened_url();
    assert_eq!(opened.scheme(), "http");
    assert_eq!(opened.host_str(), Some("localhost"));
    assert!(opened.query().is_none(), "{opened}");
    // The real host name, resolved to the mock; the request of a public client with PKCE.
    let url = r.sign_in_url();
    assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
    assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
    assert_eq!(r.query("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(r.query("state").as_deref(), Some("<redacted>"));
    assert!(r.query("scope").unwrap().contains(GRAPH));
    // The authorize page, then one code redemption.
    assert_eq!(r.mock_requests(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("(authorization_code)"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("Signed in as {MOCK_USER}")),
        "{}",
        r.stderr
    );
}

/// Issue 20 (also): `--record PATH` is written as the cache files are: a link at PATH is
/// replaced, never followed (its target keeps its content), and the record is a new file of
/// mode 0600.
#[cfg(unix)]
#[test]
fn the_record_is_written_0600_and_never_through_a_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("authorized_keys");
    std::fs::write(&target, "keep").unwrap();
    let record = dir.path().join("record.json");
    // Dangling while the record is read (no record yet), followed on write by the old code.
    std::os::unix::fs::symlink(&target, &record).unwrap();
    std::fs::remove_file(&target).unwrap();
    let r = run_in(
        dir.path(),
        &[
            "--mock",
            "--scope",
            GRAPH,
            "--record",
            record.to_str().unwrap(),
        ],
    );
    r.assert_token();
    assert!(!target.exists(), "the link's target was written");
    let meta = std::fs::symlink_metadata(&record).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by the record"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let saved = std::fs::read_to_string(&record).unwrap();
    assert!(saved.contains(MOCK_USER), "{saved}");
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["version"], "1.0");
}

#[test]
fn a_fresh_process_signs_in_silently_from_the_persistent_cache_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let record_arg = record.to_str().unwrap();
    let args = [
        "--mock",
        "--scope",
        GRAPH,
        "--cache-name",
        "cli-test",
        "--allow-unencrypted-storage",
        "--record",
        record_arg,
    ];
    let first = run_in(dir.path(), &args);
    let first_json = first.assert_token();
    assert_eq!(first.mock_requests(), 2);
    let saved = std::fs::read_to_string(&record).expect("the record was saved");
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["username"], MOCK_USER);
    assert_eq!(saved["tenantId"], MOCK_TENANT_ID);
    assert!(
        dir.path().join("cli-test.nocae").is_file(),
        "the cache file"
    );

    // A new process has a new mock that knows none of the earlier tokens: only the persistent
    // cache can serve it, and --no-prompt forbids signing in again.
    let mut silent = args.to_vec();
    silent.extend(["--no-prompt", "-v"]);
    let second = run_in(dir.path(), &silent);
    let second_json = second.assert_token();
    assert_eq!(second.mock_requests(), 0, "{}", second.stderr);
    assert_eq!(second_json["accessToken"], first_json["accessToken"]);
    assert_eq!(second_json["expiresOn"], first_json["expiresOn"]);
    assert!(
        second
            .stderr
            .contains(&format!("Using the account in {record_arg}"))
    );
    assert!(!second.stderr.contains("Signing in"), "{}", second.stderr);

    // Without the record, the cache's only account is used, as az uses its signed-in one.
    let no_record = run_in(
        dir.path(),
        &[
            "--mock",
            "--scope",
            GRAPH,
            "--cache-name",
            "cli-test",
            "--allow-unencrypted-storage",
            "--no-prompt",
            "--verbose",
        ],
    );
    let json = no_record.assert_token();
    assert_eq!(no_record.mock_requests(), 0, "{}", no_record.stderr);
    assert_eq!(json["accessToken"], first_json["accessToken"]);
    assert!(
        no_record.stderr.contains(&format!(
            "Using the account in the token cache: {MOCK_USER}"
        )),
        "{}",
        no_record.stderr
    );
    // Another cache has no account: --no-prompt then asks for a sign-in (exit code 5).
    let other = run_in(
        dir.path(),
        &[
            "--mock",
            "--scope",
            GRAPH,
            "--cache-name",
            "cli-other",
            "--allow-unencrypted-storage",
            "--no-prompt",
        ],
    );
    other.assert_failure(
        5,
        "authentication required",
        "Interactive authentication is required",
    );
}

#[test]
fn options_reach_the_authorize_request() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let client = "00000000-0000-0000-0000-000000000001";
    let r = mock(&[
        "--authority",
        "login.microsoftonline.us",
        "--tenant-id",
        "contoso.onmicrosoft.com",
        "--client-id",
        client,
        "--redirect-uri",
        &redirect,
        "--login-hint",
        MOCK_USER,
        "--prompt",
        "login",
        "--domain-hint",
        "contoso.com",
        "--timeout",
        "60",
        "--disable-instance-discovery",
    ]);
    r.assert_token();
    let url = r.sign_in_url();
    assert_eq!(url.host_str(), Some("login.microsoftonline.us"));
    assert_eq!(url.path(), "/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
    assert_eq!(r.query("client_id").as_deref(), Some(client));
    assert_eq!(r.query("redirect_uri").as_deref(), Some(redirect.as_str()));
    assert_eq!(r.query("login_hint").as_deref(), Some(MOCK_USER));
    assert_eq!(r.query("prompt").as_deref(), Some("login"));
    assert_eq!(r.query("domain_hint").as_deref(), Some("contoso.com"));
}

#[test]
fn request_options_cae_claims_and_tenants() {
    let r = mock(&["--enable-cae"]);
    r.assert_token();
    assert!(
        r.stderr.contains("client capabilities [CP1]"),
        "{}",
        r.stderr
    );

    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let r = mock(&["--claims", claims]);
    r.assert_token();
    let sent: serde_json::Value =
        serde_json::from_str(&r.query("claims").expect("claims on the URL")).unwrap();
    assert_eq!(sent["access_token"]["nbf"]["value"], "1700000000");
    assert!(r.stderr.contains("claims sent"), "{}", r.stderr);

    // A tenant other than the configured one must be allowed.
    let configured = [
        "--tenant-id",
        MOCK_TENANT_ID,
        "--request-tenant-id",
        OTHER_TENANT,
    ];
    let r = mock(&configured);
    r.assert_failure(
        4,
        "authentication failed",
        "not configured to acquire tokens for tenant",
    );
    assert_eq!(r.mock_requests(), 0);
    let mut allowed = configured.to_vec();
    allowed.extend(["--additionally-allowed-tenant", OTHER_TENANT]);
    let r = mock(&allowed);
    r.assert_token();
    assert_eq!(
        r.sign_in_url().path(),
        format!("/{OTHER_TENANT}/oauth2/v2.0/authorize")
    );
}

#[test]
fn failures_name_their_kind_and_exit_non_zero() {
    mock(&["--no-prompt"]).assert_failure(5, "authentication required", "Call 'authenticate'");
    let r = mock(&["--mock-browser", "cancel"]);
    r.assert_failure(4, "authentication failed", "AADSTS65004");
    mock(&["--mock-browser", "never-finish", "--timeout", "1"]).assert_failure(
        4,
        "authentication failed",
        "Timed out after waiting 1 seconds",
    );
    let r = mock(&["--mock-browser", "cannot-open"]);
    r.assert_failure(3, "unavailable", "Failed to open a browser");
    assert_eq!(r.mock_requests(), 0);
}

/// When no browser opens, what the credential prints carries nothing personal or secret: no
/// authorize URL (dead `state`, `nonce`), no login hint. (The example's own announcement shows
/// the one-time loopback start address, which holds none of them.)
#[test]
fn the_no_browser_hint_prints_nothing_personal_or_secret() {
    let hint = "carol.hint@fabrikam.example";
    let r = mock(&["--mock-browser", "cannot-open", "--login-hint", hint]);
    r.assert_failure(3, "unavailable", "Failed to open a browser");
    assert!(
        r.error_line().contains("--device-code") && r.error_line().contains("--paste-redirect"),
        "the command's own flags are the hint:\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("PrintUrlOpener"),
        "no library type:\n{}",
        r.stderr
    );
    for secret in [
        "state=",
        "nonce=",
        "code_challenge",
        "login_hint",
        "X-AnchorMailbox",
        "/oauth2/v2.0/authorize",
        hint,
        "carol.hint%40fabrikam",
    ] {
        assert!(
            !r.stderr.contains(secret),
            "{secret:?} on stderr:\n{}",
            r.stderr
        );
    }
}

#[test]
fn invalid_arguments_exit_with_code_2_before_any_request() {
    for (args, part) in [
        (&["--mock"][..], "--scope"),
        (
            &[
                "--mock",
                "--scope",
                GRAPH,
                "--redirect-uri",
                "http://localhost",
            ],
            "port number",
        ),
        (
            &[
                "--mock",
                "--scope",
                GRAPH,
                "--authority",
                "http://login.example",
            ],
            "https",
        ),
        (
            &["--mock", "--scope", GRAPH, "--tenant-id", "not a tenant!"],
            "Invalid tenant ID",
        ),
        (
            &["--mock", "--scope", GRAPH, "--claims", "[1]"],
            "JSON object",
        ),
        (
            &["--mock", "--scope", GRAPH, "--timeout", "soon"],
            "whole number of seconds",
        ),
        (
            &["--mock", "--scope", GRAPH, "--allow-unencrypted-storage"],
            "--cache-name",
        ),
        (&["--scope", GRAPH, "--mock-browser", "cancel"], "--mock"),
        (&["--mock", "--scope", GRAPH, "--frobnicate"], "frobnicate"),
    ] {
        let r = run(args);
        r.assert_failure(2, "invalid argument", part);
        assert!(!r.stderr.contains("Signing in"), "{args:?}");
    }

    // A broken SSL_CERT_FILE is reported before anything is sent (no --mock: no network).
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let output = Command::new(example())
        .args(["--scope", GRAPH, "--no-prompt", "--no-cache"])
        .env("SSL_CERT_FILE", &missing)
        .env("ENTRA_TOKEN_CACHE_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error (invalid argument): SSL_CERT_FILE"),
        "{stderr}"
    );

    let help = run(&["--help"]);
    assert_eq!(help.code, Some(0));
    for flag in [
        "--scope",
        "--authority",
        "--tenant-id",
        "--client-id",
        "--redirect-uri",
        "--login-hint",
        "--timeout",
        "--disable-instance-discovery",
        "--enable-cae",
        "--claims",
        "--cache-name",
        "--allow-unencrypted-storage",
        "--record",
        "--no-prompt",
        "--request-tenant-id",
        "--additionally-allowed-tenant",
        "--mock",
    ] {
        assert!(help.stdout.contains(flag), "--help lists {flag}");
    }
}

/// `--device-code`: the tool signs in with a device code (the mock's user enters it), through
/// the credential's device code fallback; one device code request and one poll.
#[test]
fn device_code_signs_in_against_the_mock() {
    let r = mock(&["--device-code"]);
    r.assert_token();
    assert!(
        r.stderr
            .contains("use a web browser to open the page https://microsoft.com/devicelogin"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("POST /organizations/oauth2/v2.0/devicecode, POST /organizations/oauth2/v2.0/token (urn:ietf:params:oauth:grant-type:device_code)"),
        "{}",
        r.stderr
    );
    assert_eq!(r.mock_requests(), 2);
    // The user chose the device code: nothing about a browser, and a busy loopback port is
    // none of its business (issue 22).
    assert!(!r.stderr.contains("browser could"), "{}", r.stderr);
    assert!(r.stderr.contains("Signed in as"), "{}", r.stderr);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = format!("http://localhost:{}", busy.local_addr().unwrap().port());
    mock(&["--device-code", "--redirect-uri", &redirect]).assert_token();
    // Two ways to sign in without a browser here are one too many.
    mock(&["--device-code", "--paste-redirect"]).assert_failure(
        2,
        "invalid argument",
        "cannot be used with",
    );
}

/// `--paste-redirect`: the mock's user signs in "elsewhere" and pastes the address back; two
/// requests (the sign-in at the authorize endpoint, the code redemption) and no loopback server.
#[test]
fn paste_redirect_signs_in_against_the_mock() {
    let r = mock(&["--paste-redirect"]);
    r.assert_token();
    assert!(r.stderr.contains("pasted the address"), "{}", r.stderr);
    assert!(!r.stderr.contains("Signing in: opening"), "{}", r.stderr);
    assert_eq!(r.mock_requests(), 2);
    assert_eq!(r.query("response_mode").as_deref(), Some("query"));
}

/// `--output exec-credential`: what kubectl reads from a credential plugin; az's aliases
/// `--resource` and `--tenant` reach the request.
#[test]
fn exec_credential_output_and_az_aliases() {
    let r = run(&[
        "get-token",
        "--mock",
        "--resource",
        "6dae42f8-4368-4678-94ff-3960e28e3630",
        "--tenant",
        MOCK_TENANT_ID,
        "--output",
        "exec-credential",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["kind"], "ExecCredential");
    // kubectl said nothing (no KUBERNETES_EXEC_INFO): v1beta1, as kubelogin answers.
    assert_eq!(json["apiVersion"], "client.authentication.k8s.io/v1beta1");
    let token = json["status"]["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let stamp = json["status"]["expirationTimestamp"].as_str().unwrap();
    let expires =
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{stamp}: {e}"));
    assert!(expires > time::OffsetDateTime::now_utc());
    assert_eq!(
        r.query("scope").unwrap().split(' ').next(),
        Some("6dae42f8-4368-4678-94ff-3960e28e3630/.default")
    );
    assert_eq!(
        r.sign_in_url().path(),
        format!("/{MOCK_TENANT_ID}/oauth2/v2.0/authorize")
    );
}

/// `entra accounts` lists the cache's accounts; `entra sign-out` removes one's tokens, after
/// which `get-token --no-prompt` needs a sign-in (exit code 5) and the account is gone.
#[test]
fn accounts_and_sign_out_work_on_the_persistent_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = [
        "--cache-name",
        "cli-accounts",
        "--allow-unencrypted-storage",
    ];
    let list = |dir: &Path| {
        let mut args = vec!["accounts"];
        args.extend(cache);
        let r = run_in(dir, &args);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        r.json()
    };
    assert_eq!(list(dir.path()), serde_json::json!([]));
    let mut sign_in = vec!["get-token", "--mock", "--scope", GRAPH];
    sign_in.extend(cache);
    run_in(dir.path(), &sign_in).assert_token();
    let accounts = list(dir.path());
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
    assert_eq!(accounts[0]["username"], MOCK_USER);
    assert_eq!(accounts[0]["environment"], "login.microsoftonline.com");
    let home = accounts[0]["homeAccountId"].as_str().unwrap();
    assert!(home.ends_with(&format!(".{MOCK_TENANT_ID}")), "{home}");

    // An unknown username is an invalid argument; nothing is removed.
    let mut wrong = vec!["sign-out", "--username", "mallory@contoso.com"];
    wrong.extend(cache);
    run_in(dir.path(), &wrong).assert_failure(2, "invalid argument", "no account named");
    assert_eq!(list(dir.path()).as_array().unwrap().len(), 1);

    let mut out = vec!["sign-out", "--username", MOCK_USER];
    out.extend(cache);
    let r = run_in(dir.path(), &out);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.json()["removed"], true);
    assert_eq!(list(dir.path()), serde_json::json!([]));
    let mut silent = sign_in.clone();
    silent.push("--no-prompt");
    let r = run_in(dir.path(), &silent);
    r.assert_failure(
        5,
        "authentication required",
        "Interactive authentication is required",
    );
    assert_eq!(r.mock_requests(), 0);
    let text = std::fs::read_to_string(dir.path().join("cli-accounts.nocae")).unwrap();
    assert!(
        !text.contains("\"secret\": \"ey"),
        "no access token is left"
    );
}

#[test]
fn the_commands_and_their_exit_codes_are_documented() {
    let help = run(&["--help"]);
    assert_eq!(help.code, Some(0));
    for part in [
        "get-token",
        "login",
        "logout",
        "accounts",
        "sign-out",
        "kubeconfig",
        "completions",
        "--resource",
        "--tenant-id",
        "[alias: --tenant]",
        "--output",
        "exec-credential",
        "6dae42f8-4368-4678-94ff-3960e28e3630",
        "EXIT CODES",
    ] {
        assert!(help.stdout.contains(part), "--help shows {part}");
    }
    // Each subcommand has its own help, with only its flags.
    let accounts = run(&["accounts", "--help"]);
    assert_eq!(accounts.code, Some(0));
    assert!(
        accounts.stdout.contains("--cache-name"),
        "{}",
        accounts.stdout
    );
    assert!(!accounts.stdout.contains("--scope"), "{}", accounts.stdout);
    // A bare `entra` prints the help; completions for the shells.
    let bare = run(&[]);
    assert!(
        bare.stdout.contains("Usage:") || bare.stderr.contains("Usage:"),
        "{}",
        bare.stdout
    );
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let completions = run(&["completions", shell]);
        assert_eq!(completions.code, Some(0), "{shell}: {}", completions.stderr);
        assert!(completions.stdout.contains("get-token"), "{shell}");
    }
    // A typo gets a suggestion.
    run(&["--scope", GRAPH, "--mokc"]).assert_failure(2, "invalid argument", "--mock");
    let version = run(&["--version"]);
    assert_eq!(version.code, Some(0));
    assert!(version.stdout.starts_with("entra "), "{}", version.stdout);
    run(&["launch"]).assert_failure(2, "invalid argument", "launch");
    run(&["accounts", "--scope", GRAPH]).assert_failure(2, "invalid argument", "--scope");
}

/// Runs the command with its caches in `dir` on a Linux machine without a Secret Service (no
/// D-Bus session bus to reach).
#[cfg(target_os = "linux")]
fn run_headless(dir: &Path, args: &[&str]) -> Run {
    run_in_env(
        dir,
        args,
        &[(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/entra-test-bus",
        )],
    )
}

/// Issue 22: on a headless Linux machine (no Secret Service) the command keeps its cache in
/// MSAL's plaintext file (0600), says so once on first use, and the second run is silent;
/// `--strict-cache` refuses with exit code 3 in one line naming the command's flags.
#[cfg(target_os = "linux")]
#[test]
fn without_a_secret_service_the_cache_is_a_0600_file_with_one_notice() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--mock", "--scope", GRAPH, "--cache-name", "headless"];
    let first = run_headless(dir.path(), &args);
    let first_json = first.assert_token();
    let notices = first
        .stderr
        .matches("No OS secret store is usable here")
        .count();
    assert_eq!(notices, 1, "{}", first.stderr);
    let file = dir.path().join("headless.nocae");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("\"AccessToken\"")
    );

    let mut silent = args.to_vec();
    silent.push("--no-prompt");
    let second = run_headless(dir.path(), &silent);
    let json = second.assert_token();
    assert_eq!(json["accessToken"], first_json["accessToken"]);
    assert_eq!(second.mock_requests(), 0);
    assert!(!second.stderr.contains("secret store"), "{}", second.stderr);

    let mut strict = args.to_vec();
    strict.push("--strict-cache");
    let refused = run_headless(dir.path(), &strict);
    refused.assert_failure(3, "unavailable", "--strict-cache");
    let line = refused.error_line();
    assert!(!line.contains("allow_unencrypted_storage"), "{line}");
    assert_eq!(line.matches("no OS secret store").count(), 1, "{line}");
}
