//! The main job, narrated (`cargo xtask demo`): `InteractiveBrowserCredential` signs a user in
//! against an embedded mock Entra ID with a headless browser stand-in, then serves tokens from
//! its cache, from the refresh token, and, in a fresh credential, from a persistent cache and
//! a saved `AuthenticationRecord`. Every number printed is measured while the demo runs.
//! No internet and no OS keyring are needed.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_browser_flow::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, TokenCachePersistenceOptions,
};
use entra_core::{AccessTokenInfo, AuthenticationRecord, BrowserOpenError, BrowserOpener, Result};
use entra_testing::{Endpoint, HeadlessBrowser, MockEntra, RecordedRequest};
use time::OffsetDateTime;

const GRAPH: &str = "https://graph.microsoft.com/.default";
const ARM: &str = "https://management.azure.com/.default";
/// Query parameters whose values are one-time values: never printed (the credential's list).
const REDACTED_PARAMS: [&str; 3] = entra_browser_flow::ONE_TIME_QUERY_PARAMS;

/// Remembers the URLs it is asked to open, then lets the stand-in open them.
#[derive(Debug)]
struct Recording {
    inner: HeadlessBrowser,
    urls: Mutex<Vec<String>>,
}

#[async_trait]
impl BrowserOpener for Recording {
    async fn open(&self, url: &str) -> std::result::Result<(), BrowserOpenError> {
        if let Ok(mut urls) = self.urls.lock() {
            urls.push(url.to_owned());
        }
        self.inner.open(url).await
    }
}

impl Recording {
    fn opened(&self) -> usize {
        self.urls.lock().map_or(0, |u| u.len())
    }

    fn last_url(&self) -> Option<String> {
        self.urls.lock().ok().and_then(|u| u.last().cloned())
    }
}

/// One row of the closing table.
struct Step {
    what: &'static str,
    requests: u64,
    browser_opens: usize,
    elapsed: Duration,
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.1} ms", us / 1e3)
    }
}

fn heading(n: usize, text: &str) {
    println!("\n── {n}. {text} ──");
}

/// The browser's start address with its one-time path segment replaced.
fn redact_start_address(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let path = u.path();
            let shown = match path.rsplit_once('/') {
                Some((head, tail)) if !tail.is_empty() => {
                    format!("{head}/<{} chars, redacted>", tail.len())
                }
                _ => path.to_owned(),
            };
            format!(
                "{}://{}{}{shown}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Names of the form fields of a recorded request (their values may be secrets).
fn field_names(r: &RecordedRequest) -> String {
    r.form()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The non-secret claims of a JWT's payload.
fn jwt_claims(token: &str, names: &[&str]) -> Vec<String> {
    let Some(payload) = token.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|n| claims.get(*n).map(|v| format!("{n}={v}")))
        .collect()
}

fn describe_token(info: &AccessTokenInfo) {
    let now = OffsetDateTime::now_utc();
    println!(
        "   token: {} chars, type {}, expires in {} s (expiresOn {}){}",
        info.token.len(),
        info.token_type,
        (info.expires_on - now).whole_seconds(),
        info.expires_on.unix_timestamp(),
        info.refresh_on
            .map(|r| format!(", refreshOn {}", r.unix_timestamp()))
            .unwrap_or_default()
    );
    println!(
        "   its claims: {}",
        jwt_claims(
            info.token.secret(),
            &["aud", "scp", "tid", "preferred_username"]
        )
        .join(", ")
    );
}

/// What the persistent cache file holds, without a secret value.
fn describe_cache_file(path: &Path) {
    let Ok(bytes) = std::fs::read(path) else {
        println!("   cache file {}: not written yet", path.display());
        return;
    };
    if bytes.is_empty() {
        println!(
            "   cache file {}: empty, the signal file MSAL watches; the cache itself is in the OS secret store",
            path.display()
        );
        return;
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        println!("   cache file {}: {} bytes", path.display(), bytes.len());
        return;
    };
    println!(
        "   cache file {}: {} bytes of MSAL's unified cache JSON (plaintext):",
        path.display(),
        bytes.len()
    );
    let Some(sections) = doc.as_object() else {
        return;
    };
    for (section, entries) in sections {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        println!(
            "     {section}: {} entr{}",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" }
        );
        for entry in entries.values() {
            let Some(fields) = entry.as_object() else {
                continue;
            };
            let shown: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    if k == "secret" {
                        format!("secret=<{} chars>", v.as_str().map_or(0, str::len))
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            println!("       {}", shown.join(" "));
        }
    }
}

async fn demo() -> Result<()> {
    let mut steps = Vec::new();
    println!("entra-rs demo: InteractiveBrowserCredential against an embedded mock Entra ID");
    println!(
        "(no internet, no real browser: a headless stand-in does what a browser and a user would)"
    );

    heading(0, "Set-up");
    let started = Instant::now();
    let mock = MockEntra::start().await.map_err(|e| {
        entra_core::Error::credential_unavailable("could not start the mock Entra ID")
            .with_source(e)
    })?;
    println!(
        "   mock Entra ID on {} (started in {}); login.microsoftonline.com resolves to it over TLS",
        mock.base_url(),
        fmt_duration(started.elapsed())
    );
    let dir = tempfile::tempdir().map_err(|e| {
        entra_core::Error::credential_unavailable("could not create a temporary directory")
            .with_source(e)
    })?;
    let persistence = TokenCachePersistenceOptions::default()
        .with_name("entra-demo")
        .with_directory(dir.path())
        .with_allow_unencrypted_storage(true);
    let cache_path = persistence.path(false)?;
    let backend = persistence.backend(false)?;
    let encrypted = backend.is_encrypted().await?;
    println!(
        "   persistent token cache: {} — {}",
        cache_path.display(),
        if encrypted {
            format!(
                "in the OS secret store ({}), where MSAL keeps it",
                entra_cache::CacheBackend::kind(&backend)
            )
        } else {
            "plaintext: no usable OS secret store here, and allow_unencrypted_storage is set"
                .to_owned()
        }
    );
    let browser = Arc::new(Recording {
        inner: HeadlessBrowser::new(&mock),
        urls: Mutex::new(Vec::new()),
    });
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_http_client(mock.resolving_http_client())
            .with_browser(browser.clone())
            .with_cache_persistence_options(persistence.clone()),
    )?;
    println!(
        "   credential: authority login.microsoftonline.com, tenant organizations, the Azure development client id"
    );

    // 1. Interactive sign-in.
    heading(1, &format!("get_token({GRAPH}): interactive sign-in"));
    mock.clear_log();
    let t = Instant::now();
    let info = credential.get_token_info(&[GRAPH], None).await?;
    let elapsed = t.elapsed();
    let outcome = browser.inner.wait_until_done().await;
    let opened = browser.last_url().unwrap_or_default();
    println!(
        "   the credential bound a loopback port and opened the browser at {}",
        redact_start_address(&opened)
    );
    println!(
        "   (a one-time loopback address: state and nonce never reach a browser launcher's logs)"
    );
    if let Some(r) = mock.last_request(Endpoint::Authorize) {
        println!(
            "   which redirected the browser to the authorize URL https://{}{}:",
            r.host(),
            r.path()
        );
        for (k, v) in r.query() {
            if REDACTED_PARAMS.contains(&k.as_str()) {
                println!("     {k}=<{} chars, redacted>", v.len());
            } else {
                println!("     {k}={v}");
            }
        }
    }
    if let Some(r) = mock.last_request(Endpoint::Authorize) {
        println!(
            "   the mock signed in {} and answered the authorize request with HTTP {}",
            mock.default_user().username(),
            r.status().map_or_else(|| "?".to_owned(), |s| s.to_string())
        );
    }
    if let Some(redirect) = outcome.as_ref().and_then(|o| o.redirect()) {
        let target = url::Url::parse(redirect.url())
            .map(|u| {
                format!(
                    "{}://{}{}",
                    u.scheme(),
                    u.host_str().unwrap_or(""),
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                ) + u.path()
            })
            .unwrap_or_default();
        println!(
            "   the redirect: {} {target} (form fields code, state, client_info; values not shown)",
            redirect.method()
        );
        println!(
            "   the loopback server answered HTTP {}: \"{}\"",
            redirect
                .status()
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
            html_text(redirect.body(), 70)
        );
    }
    for r in mock.requests_to(Endpoint::Token) {
        println!(
            "   token request: {} {} grant_type={} (fields: {}) → HTTP {}",
            r.method(),
            r.path(),
            r.grant_type().unwrap_or("?"),
            field_names(&r),
            r.status().map_or_else(|| "?".to_owned(), |s| s.to_string())
        );
    }
    describe_token(&info);
    describe_cache_file(&cache_path);
    let requests = mock.total_requests();
    let by_credential = requests - mock.count(Endpoint::Authorize) - mock.count(Endpoint::SignIn);
    println!(
        "   → {requests} requests to Entra ID ({} by the browser, {by_credential} by the credential), browser opened {} time(s), {}",
        requests - by_credential,
        browser.opened(),
        fmt_duration(elapsed)
    );
    steps.push(Step {
        what: "interactive sign-in",
        requests,
        browser_opens: browser.opened(),
        elapsed,
    });

    // 2. The record.
    heading(2, "The AuthenticationRecord (no secrets: safe to save)");
    let record = credential.authentication_record().ok_or_else(|| {
        entra_core::Error::client_authentication("the credential has no record after signing in")
    })?;
    let record_path = dir.path().join("record.json");
    let serialized = record.serialize();
    std::fs::write(&record_path, &serialized).map_err(|e| {
        entra_core::Error::credential_unavailable("could not save the record").with_source(e)
    })?;
    println!("   {serialized}");
    println!("   saved to {}", record_path.display());

    // 3. From the cache.
    heading(3, &format!("get_token({GRAPH}) again: from the cache"));
    mock.clear_log();
    let opens = browser.opened();
    let t = Instant::now();
    let again = credential.get_token_info(&[GRAPH], None).await?;
    let elapsed = t.elapsed();
    let requests = mock.total_requests();
    println!(
        "   same token as before: {}; → {requests} requests, browser opened {} time(s), {}",
        again.token == info.token,
        browser.opened() - opens,
        fmt_duration(elapsed)
    );
    steps.push(Step {
        what: "same scope again (cache)",
        requests,
        browser_opens: browser.opened() - opens,
        elapsed,
    });

    // 4. A new scope through the refresh token.
    heading(
        4,
        &format!("get_token({ARM}): a new scope, through the refresh token"),
    );
    mock.clear_log();
    let opens = browser.opened();
    let t = Instant::now();
    let arm = credential.get_token_info(&[ARM], None).await?;
    let elapsed = t.elapsed();
    for r in mock.requests() {
        println!(
            "   {} {} grant_type={} scope={} → HTTP {}",
            r.method(),
            r.path(),
            r.grant_type().unwrap_or("-"),
            r.form_param("scope").unwrap_or("-"),
            r.status().map_or_else(|| "?".to_owned(), |s| s.to_string())
        );
    }
    describe_token(&arm);
    let requests = mock.total_requests();
    println!(
        "   → {requests} request(s), browser opened {} time(s), {}",
        browser.opened() - opens,
        fmt_duration(elapsed)
    );
    steps.push(Step {
        what: "new scope (refresh token)",
        requests,
        browser_opens: browser.opened() - opens,
        elapsed,
    });
    drop(credential);

    // 5. A fresh credential: persistent cache + saved record, never allowed to prompt.
    heading(
        5,
        "A fresh credential: the persistent cache and the saved record, prompting disabled",
    );
    let loaded = AuthenticationRecord::deserialize(
        &std::fs::read_to_string(&record_path).map_err(|e| {
            entra_core::Error::credential_unavailable("could not read the record").with_source(e)
        })?,
    )?;
    let fresh_browser = Arc::new(Recording {
        inner: HeadlessBrowser::new(&mock),
        urls: Mutex::new(Vec::new()),
    });
    let fresh = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_http_client(mock.resolving_http_client())
            .with_browser(fresh_browser.clone())
            .with_cache_persistence_options(persistence)
            .with_authentication_record(loaded)
            .with_disable_automatic_authentication(true),
    )?;
    for (scope, earlier) in [(GRAPH, &info), (ARM, &arm)] {
        mock.clear_log();
        let t = Instant::now();
        let token = fresh.get_token_info(&[scope], None).await?;
        let elapsed = t.elapsed();
        let requests = mock.total_requests();
        println!(
            "   get_token({scope}): the token cached by the first credential: {}; → {requests} requests, browser opened {} time(s), {}",
            token.token == earlier.token,
            fresh_browser.opened(),
            fmt_duration(elapsed)
        );
        steps.push(Step {
            what: if scope == GRAPH {
                "fresh credential, Graph"
            } else {
                "fresh credential, ARM"
            },
            requests,
            browser_opens: fresh_browser.opened(),
            elapsed,
        });
    }

    heading(6, "Summary (measured in this run)");
    println!("   | step | requests to Entra ID | browser opened | time |");
    println!("   | --- | ---: | ---: | ---: |");
    for s in &steps {
        println!(
            "   | {} | {} | {} | {} |",
            s.what,
            s.requests,
            s.browser_opens,
            fmt_duration(s.elapsed)
        );
    }
    println!("\nThe temporary cache directory is removed now. Try the command-line program next:");
    println!("   cargo run -p entra-cli --features mock -- get-token --mock --scope {GRAPH}");
    Ok(())
}

/// The text of a small HTML page, shortened.
fn html_text(body: &str, max: usize) -> String {
    // Drop the style sheet and the title, then the tags.
    let mut body = body.to_owned();
    for element in ["style", "title"] {
        let (open, close) = (format!("<{element}"), format!("</{element}>"));
        while let (Some(start), Some(end)) = (body.find(&open), body.find(&close)) {
            if end < start {
                break;
            }
            body.replace_range(start..end + close.len(), " ");
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo failed ({}): {err}", err.kind_name());
            std::process::ExitCode::FAILURE
        }
    }
}
