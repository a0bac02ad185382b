//! Interop: a token cache this credential wrote is read by MSAL Python, which serves our access
//! token from it silently (no token request), exactly as it would serve its own.
//!
//! Needs `python3` with the `msal` package (`pip install msal`; `.ci/run` installs it in the
//! venv `ENTRA_INTEROP_PYTHON` names). Without
//! it the test prints why it is skipped, and fails instead when `CI` is set.

use std::process::Command;

use entra_core::DEVELOPER_SIGN_ON_CLIENT_ID;
use entra_testing::Endpoint;

use entra_browser_flow::InteractiveBrowserCredential;

use crate::common::Env;
use crate::common::backend;

const SCOPE: &str = "https://management.azure.com/.default";

/// MSAL Python reads the cache file offline: its HTTP client answers only the discovery GETs
/// MSAL makes for the public cloud and records every request, so a token request would show.
const MSAL_PYTHON: &str = r#"
import json, sys
import msal

path, client_id, scope, username = sys.argv[1:5]
requests = []

class Response:
    def __init__(self, body):
        self.status_code = 200
        self.text = json.dumps(body)
        self.headers = {}
    def raise_for_status(self):
        pass

class OfflineHttp:
    def get(self, url, params=None, headers=None, **kwargs):
        requests.append(("GET", url))
        if "openid-configuration" in url:
            base = "https://login.microsoftonline.com/organizations"
            return Response({
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            })
        if "discovery/instance" in url:
            return Response({
                "tenant_discovery_endpoint": "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{
                    "preferred_network": "login.microsoftonline.com",
                    "preferred_cache": "login.windows.net",
                    "aliases": ["login.microsoftonline.com", "login.windows.net",
                                "login.microsoft.com", "sts.windows.net"],
                }],
            })
        raise RuntimeError("unexpected GET " + url)
    def post(self, url, params=None, data=None, headers=None, **kwargs):
        requests.append(("POST", url))
        raise RuntimeError("unexpected POST " + url)
    def close(self):
        pass

cache = msal.SerializableTokenCache()
with open(path) as f:
    cache.deserialize(f.read())
app = msal.PublicClientApplication(
    client_id,
    authority="https://login.microsoftonline.com/organizations",
    token_cache=cache,
    http_client=OfflineHttp(),
)
accounts = app.get_accounts(username=username)
result = app.acquire_token_silent([scope], account=accounts[0]) if accounts else None
print(json.dumps({
    "accounts": [a["username"] for a in accounts],
    "home_account_id": accounts[0]["home_account_id"] if accounts else None,
    "access_token": (result or {}).get("access_token"),
    "token_source": (result or {}).get("token_source"),
    "posts": [u for (m, u) in requests if m == "POST"],
}))
"#;

/// The interop venv's Python (`ENTRA_INTEROP_PYTHON`, made by `.ci/run`), else `python3`.
pub(crate) fn python() -> std::ffi::OsString {
    std::env::var_os("ENTRA_INTEROP_PYTHON").unwrap_or_else(|| "python3".into())
}

fn msal_python_available() -> Result<(), String> {
    match Command::new(python()).args(["-c", "import msal"]).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "python3 cannot import msal ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => Err(format!("python3 not found ({e})")),
    }
}

#[tokio::test]
async fn msal_python_serves_our_cached_token_without_a_request() {
    if let Err(reason) = msal_python_available() {
        entra_testing::skip_or_fail(&format!("{reason}; `pip install msal` to run this test"));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let env = Env::start().await;
    let credential =
        InteractiveBrowserCredential::new(env.options().with_cache_backend(backend(dir.path())))
            .unwrap();
    let token = credential.get_token(&[SCOPE], None).await.unwrap();
    let record = credential.authentication_record().unwrap();
    assert_eq!(env.mock.count(Endpoint::Token), 1);

    let path = dir.path().join("test.cache.nocae");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with('{'), "the fallback file is plain JSON");

    let out = Command::new(python())
        .args([
            "-c",
            MSAL_PYTHON,
            path.to_str().unwrap(),
            DEVELOPER_SIGN_ON_CLIENT_ID,
            SCOPE,
            record.username(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "MSAL Python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["accounts"], serde_json::json!([record.username()]));
    assert_eq!(report["home_account_id"], record.home_account_id());
    assert_eq!(report["token_source"], "cache");
    assert_eq!(
        report["posts"],
        serde_json::json!([]),
        "MSAL Python made a token request"
    );
    assert_eq!(
        report["access_token"].as_str(),
        Some(token.token.secret()),
        "MSAL Python served a different token"
    );
}

/// Python azure-identity reads our `AuthenticationRecord` JSON and writes byte-identical JSON
/// for the same record; we read what it writes.
#[test]
fn azure_identity_python_and_we_write_the_same_record() {
    let available = Command::new(python())
        .args(["-c", "import azure.identity"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        entra_testing::skip_or_fail(
            "python3 cannot import azure.identity; `pip install azure-identity`",
        );
        return;
    }
    let record = entra_core::AuthenticationRecord::new(
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        DEVELOPER_SIGN_ON_CLIENT_ID,
        "login.microsoftonline.com",
        "c5a6b4e2-0000-4000-8000-000000000001.72f988bf-86f1-41af-91ab-2d7cd011db47",
        "zoë.o'brien@contoso.com",
    );
    let script = r#"
import sys
from azure.identity import AuthenticationRecord
ours = AuthenticationRecord.deserialize(sys.argv[1])
theirs = AuthenticationRecord(ours.tenant_id, ours.client_id, ours.authority,
                              ours.home_account_id, ours.username)
sys.stdout.write(theirs.serialize())
"#;
    let out = Command::new(python())
        .args(["-c", script, &record.serialize()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = String::from_utf8(out.stdout).unwrap();
    assert_eq!(python, record.serialize());
    assert_eq!(
        entra_core::AuthenticationRecord::deserialize(&python).unwrap(),
        record
    );
}
