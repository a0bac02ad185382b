//! Tracing never carries a secret: a whole interactive sign-in, a cached `get_token` and two
//! refreshes run against the mock under a capturing subscriber at TRACE level (every event,
//! every span with its fields, `log` records too), and no secret the mock issued or the
//! credential made (access, refresh and id tokens, authorization codes, PKCE verifier,
//! `state`, `nonce`) appears anywhere in the output, not even a 24-character piece of one,
//! while the events that make the output useful do.
// Test code, helpers included: a failure should fail loudly (clippy.toml allows this only
// inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::MemoryBackend;
use entra_core::TokenCredential;
use entra_testing::{Endpoint, HeadlessBrowser, MockEntra};

const GRAPH: &str = "https://graph.microsoft.com/.default";
const ARM: &str = "https://management.azure.com/.default";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_tracing_during_a_whole_flow() {
    let captured = support::capture::install();

    let mock = MockEntra::start().await.unwrap();
    let browser = Arc::new(HeadlessBrowser::new(&mock));
    let cache = Arc::new(MemoryBackend::new());
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_browser(browser.clone())
            .with_cache_backend(cache.clone()),
    )
    .unwrap();

    // 1. Interactive sign-in.
    let first = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(browser.open_count(), 1);
    assert_eq!(mock.count(Endpoint::Token), 1);
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
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for token in [&first, &arm, &arm_again] {
        secrets.insert(token.token.secret().to_owned());
    }
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
    for url in browser.opened_urls() {
        let url = url::Url::parse(&url).unwrap();
        for (k, v) in url.query_pairs() {
            if matches!(k.as_ref(), "state" | "nonce") {
                secrets.insert(v.into_owned());
            }
        }
    }
    // The refresh token issued last and the id tokens were never sent back: read them from
    // the cache the credential wrote (2 access tokens, 1 refresh token, 1 id token at least).
    let cached_secrets = cache_secrets(&cache.data().unwrap());
    assert!(
        cached_secrets.len() >= 4,
        "{} cached secrets",
        cached_secrets.len()
    );
    secrets.extend(cached_secrets);
    secrets.retain(|s| s.len() >= 8);
    let kinds_found = ["code", "code_verifier", "refresh_token", "state", "nonce"]
        .iter()
        .filter(|name| {
            mock.requests()
                .iter()
                .any(|r| r.form_param(name).is_some() || r.query_param(name).is_some())
        })
        .count();
    assert_eq!(kinds_found, 5, "the run produced every kind of secret");

    let text = captured.text();
    for secret in &secrets {
        // The whole value, and any 24-character piece of it (a truncated token leaks too).
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
                context(&text, &piece)
            );
        }
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
    ] {
        assert!(text.contains(&needle), "{what} ({needle}) is not traced");
    }
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

/// The captured line holding `piece`, with the piece itself masked.
fn context(text: &str, piece: &str) -> String {
    text.lines()
        .find(|l| l.contains(piece))
        .map(|l| l.replace(piece, "<SECRET>"))
        .unwrap_or_default()
}
