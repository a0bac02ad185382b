//! Tracing never carries a secret: a whole interactive sign-in, a cached `get_token` and two
//! refreshes run against the mock under a capturing subscriber at TRACE level (every event,
//! every span with its fields, `log` records too), and no secret the mock issued or the
//! credential made (access, refresh and id tokens, authorization codes, PKCE verifier,
//! `state`, `nonce`) appears anywhere in the output, not even a 24-character piece of one,
//! while the events that make the output useful do (outcomes, tenant, durations, loopback
//! request kinds, cache loads and saves).
//!
//! Personal data follows `enable_support_logging` (Python's `enable_pii_log`): by default the
//! user's name, `login_hint`, object id and home account id appear nowhere; with it on they
//! do, and still no secret does.
// Test code, helpers included: a failure should fail loudly (clippy.toml allows this only
// inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::MemoryBackend;
use entra_testing::{Endpoint, Fault, FaultTimes, HeadlessBrowser, MockEntra, TestUser};

const GRAPH: &str = "https://graph.microsoft.com/.default";
const ARM: &str = "https://management.azure.com/.default";

/// The capturing subscriber is process-wide: the tests of this file run one at a time and
/// each reads only what was captured while it ran.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The `secret` of every access, refresh and id token in the cache document (MSAL's schema).
fn cache_secrets(data: &[u8]) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(data).unwrap();
    let mut out = Vec::new();
    for section in ["AccessToken", "RefreshToken", "IdToken"] {
        let entries = doc[section]
            .as_object()
            .unwrap_or_else(|| panic!("the cache has a {section} section"));
        assert!(!entries.is_empty(), "the cache has {section} entries");
        for entry in entries.values() {
            let secret = entry["secret"].as_str();
            assert!(
                secret.is_some_and(|s| s.len() > 8),
                "{section} has a secret"
            );
            out.push(secret.unwrap().to_owned());
        }
    }
    out
}

/// Every secret a run produced: what the requests to the mock carried, what the browser was
/// given, and what the credential cached (the last refresh token and the id tokens were never
/// sent back; at least `min_cached` of them, access, refresh and id tokens together).
fn run_secrets(
    mock: &MockEntra,
    browser: &HeadlessBrowser,
    cache: &MemoryBackend,
    min_cached: usize,
) -> BTreeSet<String> {
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for request in mock.requests() {
        for name in ["code", "code_verifier", "refresh_token", "client_assertion"] {
            if let Some(v) = request.form_param(name) {
                secrets.insert(v.to_owned());
            }
        }
        for name in ["state", "nonce"] {
            if let Some(v) = request.query_param(name) {
                secrets.insert(v.to_owned());
            }
        }
    }
    for url in browser
        .opened_urls()
        .iter()
        .chain(browser.start_urls().iter())
    {
        let url = url::Url::parse(url).unwrap();
        for (k, v) in url.query_pairs() {
            if matches!(k.as_ref(), "state" | "nonce") {
                secrets.insert(v.into_owned());
            }
        }
        // The one-time start address's token.
        if let Some(token) = url.path().strip_prefix("/entra-sign-in/") {
            secrets.insert(token.to_owned());
        }
    }
    let cached_secrets = cache_secrets(&cache.data().unwrap());
    assert!(
        cached_secrets.len() >= min_cached,
        "{} cached secrets",
        cached_secrets.len()
    );
    secrets.extend(cached_secrets);
    secrets.retain(|s| s.len() >= 8);
    secrets
}

/// No secret, nor any 24-character piece of one (a truncated token leaks too), is in `text`.
fn assert_no_secret(text: &str, secrets: &BTreeSet<String>) {
    for secret in secrets {
        let chars: Vec<char> = secret.chars().collect();
        let pieces: Vec<String> = if chars.len() <= 24 {
            vec![secret.clone()]
        } else {
            chars
                .windows(24)
                .step_by(12)
                .map(|w| w.iter().collect())
                .collect()
        };
        for piece in pieces {
            assert!(
                !text.contains(&piece),
                "a secret (length {}) appears in the tracing output near: {}",
                secret.len(),
                context(text, &piece)
            );
        }
    }
}

/// The personal data of `user` that must stay out of the output by default.
fn personal_data(user: &TestUser) -> [(&'static str, String); 3] {
    [
        ("username / login_hint", user.username().to_owned()),
        ("oid", user.oid().to_owned()),
        ("home account id", user.home_account_id()),
    ]
}

/// Everything captured from `from` (a byte offset taken with `captured.text().len()`).
fn since(captured: &support::capture::Captured, from: usize) -> String {
    captured.text().get(from..).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_tracing_during_a_whole_flow() {
    let captured = support::capture::install();
    let _serial = SERIAL.lock().await;
    let from = captured.text().len();

    let mock = MockEntra::start().await.unwrap();
    let user = mock.default_user();
    // Stray requests (`GET /` and a random path) reach the loopback server before the redirect.
    let browser = Arc::new(HeadlessBrowser::builder(&mock).stray_requests(true).build());
    let cache = Arc::new(MemoryBackend::new());
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_browser(browser.clone())
            .with_login_hint(user.username())
            .with_cache_backend(cache.clone()),
    )
    .unwrap();

    // 1. Interactive sign-in.
    let first = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(browser.open_count(), 1);
    assert_eq!(mock.count(Endpoint::Token), 1);
    assert_eq!(
        mock.last_request(Endpoint::Authorize)
            .and_then(|r| r.query_param("login_hint").map(str::to_owned))
            .as_deref(),
        Some(user.username()),
        "the login hint was sent"
    );
    // 2. Cached: no request.
    let before = mock.total_requests();
    let cached = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(cached.token, first.token);
    assert_eq!(mock.total_requests(), before, "served from the cache");
    // 3. Refresh: another resource, redeemed with the refresh token, no prompt. Its token says
    //    `refresh_in: 0`, so it is past `refresh_on` at once...
    mock.set_refresh_in(Some(Duration::ZERO));
    let arm = credential.get_token(&[ARM], None).await.unwrap();
    assert_eq!(mock.count(Endpoint::Token), 2);
    // 4. ...and the next call refreshes it again (with the rotated refresh token).
    let arm_again = credential.get_token(&[ARM], None).await.unwrap();
    assert_eq!(mock.count(Endpoint::Token), 3);
    assert_ne!(arm_again.token, arm.token);
    assert_eq!(browser.open_count(), 1, "refreshes never prompt");

    // Every secret of the run.
    let mut secrets = run_secrets(&mock, &browser, &cache, 4);
    for token in [&first, &arm, &arm_again] {
        secrets.insert(token.token.secret().to_owned());
    }
    let kinds_found = ["code", "code_verifier", "refresh_token", "state", "nonce"]
        .iter()
        .filter(|name| {
            mock.requests()
                .iter()
                .any(|r| r.form_param(name).is_some() || r.query_param(name).is_some())
        })
        .count();
    assert_eq!(kinds_found, 5, "the run produced every kind of secret");
    assert_eq!(
        browser.start_urls().len(),
        1,
        "the browser followed a start address"
    );

    let text = since(&captured, from);
    assert_no_secret(&text, &secrets);
    // Support logging is off: no personal data of the user, in any field or message.
    for (what, value) in personal_data(&user) {
        assert!(
            !text.contains(&value),
            "the user's {what} appears in the default tracing output near: {}",
            context(&text, &value)
        );
    }

    // The output is useful (and the subscriber really captured the credential's events):
    // spans and fields of each layer, matched on field names rather than messages.
    let lines = text.lines().count();
    println!(
        "captured {lines} lines, {} bytes; checked {} secrets",
        text.len(),
        secrets.len()
    );
    let port = url::Url::parse(&browser.opened_urls()[0])
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .and_then(|(_, v)| url::Url::parse(&v).ok()?.port())
        .unwrap();
    for (what, needle) in [
        ("the get_token span", "get_token{".to_owned()),
        ("the scopes, by value", format!("scopes=[\"{GRAPH}\"]")),
        ("the tenant", "tenant=\"organizations\"".to_owned()),
        ("the prompt outcome", "outcome=\"prompt\"".to_owned()),
        ("the refresh outcome", "outcome=\"refresh\"".to_owned()),
        ("the in-memory hit", "outcome=\"hit\"".to_owned()),
        (
            "the code redemption",
            "grant_type=\"authorization_code\"".to_owned(),
        ),
        ("the refreshes", "grant_type=\"refresh_token\"".to_owned()),
        ("the token endpoint", "/oauth2/v2.0/token".to_owned()),
        ("the correlation id", "correlation_id=".to_owned()),
        ("the response status", "status=200".to_owned()),
        ("the loopback port", format!("port={port}")),
        ("a cache lookup hit", "hit=true".to_owned()),
        ("a cache lookup miss", "hit=false".to_owned()),
        ("the cache backend", "backend=\"memory\"".to_owned()),
    ] {
        assert!(text.contains(&needle), "{what} ({needle}) is not traced");
    }
    // The cached call left one TRACE event and no span.
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("get_token served from the in-memory token map"))
            .count(),
        1
    );
    // Each token request is traced on completion with its duration.
    let completed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("token response received"))
        .collect();
    assert_eq!(completed.len(), 3, "{completed:#?}");
    for line in &completed {
        assert!(
            line.contains("duration_ms=") && line.contains("status=200"),
            "{line}"
        );
    }
    // The loopback server traced each request kind it answered, inside the sign-in's span.
    for kind in [
        "start_redirect",
        "wrong_method",
        "unrelated_path",
        "authorization_code",
    ] {
        let needle = format!("kind=\"{kind}\"");
        let line = text
            .lines()
            .find(|l| l.contains("loopback server request") && l.contains(&needle))
            .unwrap_or_else(|| panic!("the loopback request kind {kind} is not traced"));
        assert!(
            line.contains("get_token{"),
            "the {kind} request is traced outside the get_token span: {line}"
        );
        assert!(!line.contains("/entra-sign-in/") || line.contains("path=\"/entra-sign-in/\""));
    }
    // The cache save: backend, entry count, size and duration.
    let save = text
        .lines()
        .find(|l| {
            l.contains("token cache save") && l.contains("operation=\"write_token_response\"")
        })
        .expect("the cache save is traced");
    for field in ["backend=\"memory\"", "entries=", "bytes=", "duration_ms="] {
        assert!(save.contains(field), "{field} missing: {save}");
    }
    assert!(!save.contains("entries=0"), "{save}");
    let refresh_requests: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.contains("grant_type=\"refresh_token\""))
        .filter_map(|l| l.split("correlation_id=").nth(1)?.get(..36))
        .collect();
    assert_eq!(
        refresh_requests.len(),
        2,
        "each refresh is traced with its correlation id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_logging_adds_personal_data_and_still_no_secret() {
    let captured = support::capture::install();
    let _serial = SERIAL.lock().await;
    let from = captured.text().len();

    let mock = MockEntra::start().await.unwrap();
    let user = mock.default_user();
    let browser = Arc::new(HeadlessBrowser::new(&mock));
    let cache = Arc::new(MemoryBackend::new());
    let options = InteractiveBrowserCredentialOptions::default()
        .with_authority("login.microsoftonline.com")
        .with_http_client(mock.resolving_http_client())
        .with_browser(browser.clone())
        .with_login_hint(user.username())
        .with_enable_support_logging(true)
        .with_cache_backend(cache.clone());
    let credential = InteractiveBrowserCredential::new(options.clone()).unwrap();
    let record = credential.authenticate(&[GRAPH], None).await.unwrap();
    // A second credential (a new process, say) with the record and the same store: it loads
    // the stored document and serves the token from it.
    let later =
        InteractiveBrowserCredential::new(options.with_authentication_record(record)).unwrap();
    let token = later.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(browser.open_count(), 1);
    assert_eq!(
        mock.count(Endpoint::Token),
        1,
        "the second credential sent no request"
    );

    // A refresh that is throttled once (429, `Retry-After: 0`) and retried.
    mock.inject_fault_times(
        Endpoint::Token,
        Fault::too_many_requests(0),
        FaultTimes::Next(1),
    );
    let arm = later.get_token(&[ARM], None).await.unwrap();
    assert_eq!(browser.open_count(), 1, "the refresh did not prompt");

    let mut secrets = run_secrets(&mock, &browser, &cache, 3);
    for token in [&token, &arm] {
        secrets.insert(token.token.secret().to_owned());
    }
    let text = since(&captured, from);
    assert_no_secret(&text, &secrets);
    // The personal data support logging is for.
    for (what, value) in personal_data(&user) {
        assert!(
            text.contains(&value),
            "the user's {what} is missing with support logging on"
        );
    }
    let signed_in = text
        .lines()
        .find(|l| l.contains("signed in"))
        .expect("the sign-in is traced");
    for field in ["username=", "home_account_id=", "local_account_id="] {
        assert!(signed_in.contains(field), "{field} missing: {signed_in}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("opening the browser") && l.contains("login_hint=")),
        "the login hint is traced with support logging on"
    );
    // The second credential: a cache load with its entry count, then a hit.
    let load = text
        .lines()
        .find(|l| l.contains("token cache load") && l.contains("outcome=\"loaded\""))
        .expect("the cache load is traced");
    for field in ["backend=\"memory\"", "entries=", "bytes=", "duration_ms="] {
        assert!(load.contains(field), "{field} missing: {load}");
    }
    assert!(!load.contains("entries=0"), "{load}");
    assert!(
        text.lines()
            .any(|l| l.contains("get_token{") && l.contains("outcome=\"hit\"")),
        "the cache hit is the get_token span's outcome"
    );
    // The throttled refresh: the retry with its attempt number and wait, then the response
    // with its retry count and duration.
    let retry = text
        .lines()
        .find(|l| l.contains("retrying a failed request"))
        .expect("the retry is traced");
    for field in ["status=429", "attempt=1", "wait_ms=0"] {
        assert!(retry.contains(field), "{field} missing: {retry}");
    }
    assert!(
        text.lines().any(|l| l.contains("token response received")
            && l.contains("retries=1")
            && l.contains("duration_ms=")),
        "the retried request's completion is traced"
    );
}

/// The captured line holding `piece`, with the piece itself masked.
fn context(text: &str, piece: &str) -> String {
    text.lines()
        .find(|l| l.contains(piece))
        .map(|l| l.replace(piece, "<SECRET>"))
        .unwrap_or_default()
}
