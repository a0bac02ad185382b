//! `entra` reached as `az` (issue 22), the way every Azure SDK's `AzureCliCredential` runs
//! it: through Python azure-identity's real `AzureCliCredential` (the interop venv's) and with
//! each SDK's exact command line, against the mock on localhost; `entra login` signs in first
//! and `entra logout` signs out. Not signed in, Python reports "unavailable" and its
//! `ChainedTokenCredential` moves on.
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Unix peers: a symlink named az, kubectl and `script`.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Run, entra_approving, signing_mock};
use entra_testing::{DEFAULT_TENANT_ID, MockEntra, TestUser};

/// What Python's `AzureCliCredential` does, alone and in a chain with a fixed fallback.
const PYTHON: &str = r#"
import json, sys
from azure.core.credentials import AccessToken
from azure.identity import AzureCliCredential, ChainedTokenCredential

class Fallback:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("fallback", 4102444800)

scope = "https://management.azure.com/.default"
out = {}
for name, credential in [("plain", AzureCliCredential()), ("subscription", AzureCliCredential(subscription="sub-1"))]:
    try:
        token = credential.get_token(scope)
        out[name] = {"token": token.token, "expires_on": token.expires_on}
    except Exception as e:
        out[name] = {"error": type(e).__name__, "message": str(e)}
out["chain"] = ChainedTokenCredential(AzureCliCredential(), Fallback()).get_token(scope).token
print(json.dumps(out))
"#;

/// The environment every process of a test gets: `az` (a link to `entra`) first on PATH, the
/// mock's root, its authority host and a cache directory of the test's own.
struct Setup {
    dir: tempfile::TempDir,
    bin: PathBuf,
    ca: PathBuf,
    base: String,
}

impl Setup {
    fn new(mock: &MockEntra, dir: tempfile::TempDir) -> Self {
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_entra"), bin.join("az")).unwrap();
        let ca = dir.path().join("ca.pem");
        Self {
            base: mock.base_url(),
            bin,
            ca,
            dir,
        }
    }

    fn command(&self, program: &Path) -> tokio::process::Command {
        let path = std::env::join_paths(std::iter::once(self.bin.clone()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let mut command = tokio::process::Command::new(program);
        command
            .env("PATH", path)
            .env("ENTRA_TOKEN_CACHE_DIR", self.dir.path())
            .env("SSL_CERT_FILE", &self.ca)
            .env("AZURE_AUTHORITY_HOST", &self.base)
            // A private authority, as the mock's: no discovery at Microsoft's.
            .env("ENTRA_DISABLE_INSTANCE_DISCOVERY", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, program: &Path, args: &[&str]) -> Run {
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            self.command(program).args(args).output(),
        )
        .await
        .expect("ended within a minute")
        .unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn python(&self, python: &Path) -> serde_json::Value {
        let run = self.run(python, &["-c", PYTHON]).await;
        assert_eq!(run.code, Some(0), "python: {}", run.stderr);
        serde_json::from_str(run.stdout.trim()).unwrap()
    }
}

fn interop_python() -> Option<PathBuf> {
    let python = std::env::var_os("ENTRA_INTEROP_PYTHON").map(PathBuf::from);
    if python.is_none() {
        entra_testing::skip_or_fail(
            "ENTRA_INTEROP_PYTHON is not set (the venv with azure-identity that .ci/run makes)",
        );
    }
    python
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_s_azure_cli_credential_and_every_sdk_s_command_line_get_tokens_from_entra() {
    let Some(python) = interop_python() else {
        return;
    };
    let user = TestUser::new("alice@contoso.com", DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let setup = Setup::new(&mock, dir);
    let az = setup.bin.join("az");

    // Another program's account alone in the shared cache is not az's: az answers only for
    // the account `entra login` saved.
    let other = TestUser::new("bob@contoso.com", DEFAULT_TENANT_ID);
    mock.add_user(other.clone());
    let theirs = entra_approving(
        setup.dir.path(),
        &setup.ca,
        &[
            "get-token",
            "--scope",
            "https://management.azure.com/.default",
            "--device-code",
            "--authority",
            &setup.base,
            "--disable-instance-discovery",
        ],
        &mock,
        &other,
    )
    .await;
    assert_eq!(theirs.code, Some(0), "{}", theirs.stderr);
    mock.clear_log();

    // Not signed in: az's line, "unavailable" for Python, and its chain moves on.
    let out = setup.python(&python).await;
    assert_eq!(out["plain"]["error"], "CredentialUnavailableError", "{out}");
    assert_eq!(out["chain"], "fallback", "{out}");
    let run = setup
        .run(&az, &["account", "get-access-token", "--output", "json"])
        .await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim(),
        "ERROR: Please run 'az login' to setup account."
    );
    assert_eq!(mock.total_requests(), 0);

    // `entra login` (device code, approved at the mock) saves the account az answers for.
    let login = entra_approving(
        setup.dir.path(),
        &setup.ca,
        &[
            "login",
            "--device-code",
            "--authority",
            &setup.base,
            "--disable-instance-discovery",
        ],
        &mock,
        &user,
    )
    .await;
    assert_eq!(login.code, Some(0), "{}", login.stderr);
    let accounts: serde_json::Value = serde_json::from_str(login.stdout.trim()).unwrap();
    assert_eq!(accounts[0]["user"]["name"], "alice@contoso.com");

    // Python's real AzureCliCredential, with and without a subscription.
    let out = setup.python(&python).await;
    for name in ["plain", "subscription"] {
        let token = out[name]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{out}"));
        let claims = mock.verify_token(token).unwrap();
        assert_eq!(claims["aud"], "https://management.azure.com");
        assert!(out[name]["expires_on"].as_i64().unwrap() > 0);
    }
    assert_ne!(out["chain"], "fallback");

    // Each SDK's exact command line.
    let lines: [&[&str]; 5] = [
        // Python, .NET
        &[
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://vault.azure.net",
            "--tenant",
            DEFAULT_TENANT_ID,
            "--subscription",
            "sub-1",
        ],
        // Go
        &[
            "account",
            "get-access-token",
            "-o",
            "json",
            "--resource",
            "https://vault.azure.net",
            "--subscription",
            "sub-1",
        ],
        // Rust
        &[
            "account",
            "get-access-token",
            "-o",
            "json",
            "--scope",
            "https://vault.azure.net/.default",
        ],
        // az's default resource and a script's one value
        &["account", "get-access-token"],
        &[
            "account",
            "get-access-token",
            "--query",
            "accessToken",
            "-o",
            "tsv",
        ],
    ];
    for line in lines {
        let run = setup.run(&az, line).await;
        assert_eq!(run.code, Some(0), "{line:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{line:?}: nothing on stderr");
        if line.contains(&"tsv") {
            mock.verify_token(run.stdout.trim()).unwrap();
            continue;
        }
        let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        mock.verify_token(json["accessToken"].as_str().unwrap())
            .unwrap();
        assert!(json["expires_on"].is_i64(), "{json}");
        assert_eq!(json["tokenType"], "Bearer");
        if line.contains(&"--subscription") {
            assert_eq!(json["subscription"], "sub-1");
        }
    }
    assert_eq!(
        mock.count(entra_testing::Endpoint::Authorize),
        0,
        "never a prompt"
    );

    // `entra logout`: unavailable again.
    let logout = setup
        .run(Path::new(env!("CARGO_BIN_EXE_entra")), &["logout"])
        .await;
    assert_eq!(logout.code, Some(0), "{}", logout.stderr);
    let out = setup.python(&python).await;
    assert_eq!(out["plain"]["error"], "CredentialUnavailableError", "{out}");
}
