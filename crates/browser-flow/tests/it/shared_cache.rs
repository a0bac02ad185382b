//! One encrypted cache with Python azure-identity: its default persistence (msal-extensions'
//! Secret Service item and signal file) and ours are the same store, so a sign-in on either
//! side serves the other silently, and both can write at once.
//!
//! Needs what `.ci/run` installs: Debian's python3 with PyGObject and libsecret
//! (`python3-gi`, `gir1.2-secret-1`), a venv with azure-identity 1.27.0 / msal 1.39.0 /
//! msal-extensions 1.3.1 named by `ENTRA_INTEROP_PYTHON`, and the throw-away gnome-keyring of
//! `cargo xtask test` (these tests write the default `msal.cache.nocae` item, so they never
//! run against a developer's own keyring). Otherwise they print why they are skipped, and
//! fail instead when `CI` is set.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::{Cache, CacheBackend, TokenCachePersistenceOptions, TokenWrite};
use entra_core::{AuthenticationRecord, TokenRequestOptions};
use entra_testing::{Endpoint, MockEntra};

use crate::common::{Env, OTHER_SCOPE, SCOPE};

const SCRIPT: &str = include_str!("azure_identity.py");

/// One test of this file at a time talks to the keyring through Python: msal-extensions'
/// `trial_run` writes, reads and clears one fixed item ("Test Schema", `attr1=foo`), so two
/// Python processes starting at once can clear each other's item and fail with "Cache
/// encryption is impossible" (seen in CI). That race is Python's; the tests wait their turn.
static PYTHON_KEYRING_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The interop Python, or why these tests cannot run here.
fn interop_python() -> Result<PathBuf, String> {
    let python = std::env::var_os("ENTRA_INTEROP_PYTHON")
        .ok_or("ENTRA_INTEROP_PYTHON is not set (.ci/run makes the venv)")?;
    if std::env::var_os("ENTRA_XTASK_KEYRING_SESSION").is_none() {
        return Err("not inside `cargo xtask test`'s throw-away keyring".to_owned());
    }
    let out = Command::new(&python)
        .args(["-c", "import gi, msal_extensions, azure.identity"])
        .output()
        .map_err(|e| format!("{} cannot run: {e}", Path::new(&python).display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(PathBuf::from(python))
}

/// `Some(python)`, or `None` after printing why the test is skipped (a failure in CI).
fn python_or_skip() -> Option<PathBuf> {
    match interop_python() {
        Ok(python) => Some(python),
        Err(reason) => {
            entra_testing::skip_or_fail(&format!("the azure-identity interop: {reason}"));
            None
        }
    }
}

/// A home directory both sides use: Python's `~/.IdentityService` and our cache directory.
struct Side {
    python: PathBuf,
    home: tempfile::TempDir,
    ca: PathBuf,
    name: Option<&'static str>,
    cae: bool,
    /// `127.0.0.1:PORT`, the mock's own address with its explicit port, as both sides'
    /// authority (instance discovery disabled); `None`: `login.microsoftonline.com`.
    /// (Not `localhost:PORT`: azure-identity reads a record's `localhost:PORT` as a URL of
    /// scheme `localhost` and refuses its own record, as for any host name with a port.)
    authority: Option<String>,
}

impl Side {
    fn new(python: PathBuf, mock: &MockEntra, name: Option<&'static str>, cae: bool) -> Self {
        let home = tempfile::tempdir().unwrap();
        let ca = home.path().join("mock-ca.pem");
        std::fs::write(&ca, mock.ca_certificate_pem().unwrap()).unwrap();
        Self {
            python,
            home,
            ca,
            name,
            cae,
            authority: None,
        }
    }

    /// Both sides sign in at the mock's own address, an authority with an explicit port.
    fn at_explicit_port(mut self, mock: &MockEntra) -> Self {
        self.authority = Some(format!("127.0.0.1:{}", mock.port()));
        self
    }

    /// Our credential's options: the test's, at this side's authority.
    fn options(&self, env: &Env) -> InteractiveBrowserCredentialOptions {
        let options = env
            .options()
            .with_cache_persistence_options(self.persistence());
        match &self.authority {
            Some(host) => options
                .with_authority(format!("https://{host}"))
                .with_disable_instance_discovery(true),
            None => options,
        }
    }

    fn persistence(&self) -> TokenCachePersistenceOptions {
        let options = TokenCachePersistenceOptions::default()
            .with_directory(self.home.path().join(".IdentityService"));
        match self.name {
            Some(name) => options.with_name(name),
            None => options,
        }
    }

    fn request(&self) -> TokenRequestOptions {
        TokenRequestOptions::default().with_enable_cae(self.cae)
    }

    fn python(&self, mode: &str, mock: &MockEntra, scope: &str, extra: &[&str]) -> Child {
        let tenant = mock.default_tenant();
        Command::new(&self.python)
            .args(["-c", SCRIPT, mode])
            .arg(mock.port().to_string())
            .arg(&self.ca)
            .arg(tenant.id())
            .arg(scope)
            .arg(self.name.unwrap_or("-"))
            .arg(if self.cae { "1" } else { "0" })
            .args(extra)
            .env(
                "ENTRA_INTEROP_AUTHORITY",
                self.authority.as_deref().unwrap_or("-"),
            )
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

fn next_json(
    lines: &mut std::io::Lines<BufReader<ChildStdout>>,
    child: &mut Child,
) -> serde_json::Value {
    let Some(line) = lines.next() else {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
        }
        let _ = child.wait();
        panic!("python printed no line; its stderr:\n{stderr}");
    };
    let line = line.unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn finish(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Python signs in (device code, approved here); a fresh credential of ours with the record
/// and the same persistence gets Python's token with no request. Then the reverse: ours
/// signs in for another scope, and a fresh Python credential with our record gets our token
/// with no token request.
async fn both_directions(name: Option<&'static str>, cae: bool) {
    both_directions_at(name, cae, false).await;
}

async fn both_directions_at(name: Option<&'static str>, cae: bool, explicit_port: bool) {
    let Some(python) = python_or_skip() else {
        return;
    };
    let _turn = PYTHON_KEYRING_TURN.lock().await;
    // Python polls at the interval the device code response gives.
    let env =
        Env::with(MockEntra::builder().device_code_interval(std::time::Duration::from_secs(1)))
            .await;
    let mut side = Side::new(python, &env.mock, name, cae);
    if explicit_port {
        side = side.at_explicit_port(&env.mock);
    }
    let tenant = env.mock.default_tenant().id().to_owned();

    // Python first.
    let mut child = side.python("sign-in", &env.mock, SCOPE, &[]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let code = next_json(&mut lines, &mut child)["user_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(env.mock.approve_device_code(&code));
    let signed_in = next_json(&mut lines, &mut child);
    finish(child);
    let record = AuthenticationRecord::deserialize(signed_in["record"].as_str().unwrap()).unwrap();

    env.mock.clear_log();
    let ours =
        InteractiveBrowserCredential::new(side.options(&env).with_authentication_record(record))
            .unwrap();
    let token = ours
        .get_token(&[SCOPE], Some(side.request()))
        .await
        .unwrap();
    assert_eq!(
        Some(token.token.secret()),
        signed_in["token"].as_str(),
        "we served Python's token"
    );
    assert_eq!(env.mock.total_requests(), 0, "{:?}", env.mock.requests());
    assert_eq!(env.browser.open_count(), 0);
    drop(ours);

    // Ours first, for a scope Python has no token for.
    let ours =
        InteractiveBrowserCredential::new(side.options(&env).with_tenant_id(&tenant)).unwrap();
    let token = ours
        .get_token(&[OTHER_SCOPE], Some(side.request()))
        .await
        .unwrap();
    let record = ours.authentication_record().unwrap();
    assert_eq!(env.browser.open_count(), 1);
    env.mock.clear_log();
    let mut child = side.python("silent", &env.mock, OTHER_SCOPE, &[]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(record.serialize().as_bytes())
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let answer = next_json(&mut lines, &mut child);
    finish(child);
    assert_eq!(
        answer["token"].as_str(),
        Some(token.token.secret()),
        "Python served our token: {answer}"
    );
    assert_eq!(
        env.mock.count(Endpoint::Token),
        0,
        "{:?}",
        env.mock.requests()
    );
    assert_eq!(env.mock.count(Endpoint::DeviceCode), 0);
    assert_eq!(env.mock.count(Endpoint::Authorize), 0, "no prompt");
    // What MSAL Python fetches on every start (its authority's metadata), and nothing else.
    let fetched: Vec<String> = env
        .mock
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method(), r.path()))
        .collect();
    println!("Python's requests in the silent run: {fetched:?}");
    assert!(fetched.iter().all(|r| r.starts_with("GET ")), "{fetched:?}");
}

// Multi-threaded: the test reads Python's output with blocking calls while the mock serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_cache_is_shared_with_python_azure_identity_both_ways() {
    both_directions(None, false).await;
}

// Multi-threaded: the test reads Python's output with blocking calls while the mock serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cae_cache_is_shared_with_python_azure_identity_both_ways() {
    both_directions(Some("entra-interop-cae"), true).await;
}

// MSAL Python keys entries by the host without the port; we write that and find both forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_with_an_explicit_port_shares_the_cache_with_python_both_ways() {
    both_directions_at(None, false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_named_cache_is_shared_with_python_azure_identity_both_ways() {
    both_directions(Some("entra-interop-custom"), false).await;
}

/// A Python process (azure-identity's PersistedTokenCache, msal's own write path) and this
/// process each write 200 tokens at the same time: afterwards both sides read all 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_writing_200_tokens_each_at_once_lose_none() {
    const N: usize = 200;
    let Some(python) = python_or_skip() else {
        return;
    };
    let _turn = PYTHON_KEYRING_TURN.lock().await;
    let mock = MockEntra::start().await.unwrap();
    let side = Side::new(python, &mock, Some("entra-interop-writers"), false);
    let tenant = mock.default_tenant().id().to_owned();
    let backend: Arc<dyn CacheBackend> = Arc::new(side.persistence().backend(false).unwrap());
    let cache = Cache::with_backend(Arc::clone(&backend));
    // Ours is encrypted (the Secret Service), as Python's is.
    cache.reload().await.unwrap();
    assert_eq!(backend.kind(), "secret service");

    let mut child = side.python("write", &mock, SCOPE, &[&N.to_string()]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = next_json(&mut lines, &mut child);
    assert_eq!(ready["encrypted"], true, "{ready}");
    // Both start together.
    writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    let now = time::OffsetDateTime::now_utc();
    for i in 0..N {
        let write = TokenWrite::new(
            entra_core::DEVELOPER_SIGN_ON_CLIENT_ID,
            "login.microsoftonline.com",
            &tenant,
            &[format!("rs-scope-{i}").as_str()],
        )
        .with_home_account_id(format!("rs-uid.{tenant}"))
        .with_access_token(format!("rs-at-{i}"), 3600);
        cache.write_token_response(&write, now).await.unwrap();
    }
    assert_eq!(next_json(&mut lines, &mut child)["done"], N);
    finish(child);

    let mut expected: Vec<String> = (0..N)
        .flat_map(|i| [format!("py-scope-{i}"), format!("rs-scope-{i}")])
        .collect();
    expected.sort();
    // A fresh process of ours.
    let fresh = side.persistence().cache(false).unwrap();
    fresh.reload().await.unwrap();
    let mut ours: Vec<String> = fresh
        .tokens()
        .document()
        .access_tokens()
        .map(|(_, at)| at.target.clone())
        .collect();
    ours.sort();
    assert_eq!(ours.len(), 2 * N, "entries lost");
    assert_eq!(ours, expected);
    // A fresh process of Python's.
    let mut child = side.python("count", &mock, SCOPE, &[]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let theirs = next_json(&mut lines, &mut child);
    finish(child);
    assert_eq!(theirs["access_tokens"], serde_json::json!(expected));
}
