//! A local attacker against the sign-in, and hostile input at the credential's entry: each
//! test performs the attack (or feeds the input) and asserts the safe outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use entra_browser_flow::{BrowserFlowError, InteractiveBrowserCredential};
use entra_cache::FileBackend;
use entra_core::{BrowserOpener, Error, TokenRequestOptions};
use entra_testing::{
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, Endpoint, HeadlessBrowser, MockEntra, TestTenant, TestUser,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::NoKeyring;
use crate::common::{Env, SCOPE};

use crate::attack_first::AttackFirst;
const MALLORY: &str = "mallory@attacker.example";

/// The port of a loopback URL.
fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

/// Sends one raw HTTP request to the loopback server and returns the whole response.
async fn raw(port: u16, request: String) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The error was converted from `BrowserFlowError::StartAddressReused`.
fn stopped_for_reuse(e: &Error) -> bool {
    matches!(e.find_cause(), Some(BrowserFlowError::StartAddressReused))
}

fn credential_with<F, Fut>(env: &Env, attack: F) -> Arc<InteractiveBrowserCredential>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let opener = Arc::new(AttackFirst {
        browser: env.browser.clone(),
        attack,
    });
    InteractiveBrowserCredential::new(
        env.options()
            .with_browser(opener)
            .with_timeout(Duration::from_secs(60)),
    )
    .unwrap()
}

/// Issue 11.1: a local process reads the start address from the browser's command line and
/// fetches it first. The user's browser then arrives second: the sign-in stops with a typed
/// error, no code is ever redeemed, and the attacker's own sign-in has nowhere to go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_address_opened_twice_stops_the_sign_in_and_no_code_is_redeemed() {
    let env = Env::with(
        MockEntra::builder()
            .user(TestUser::new(DEFAULT_USERNAME, DEFAULT_TENANT_ID))
            .user(TestUser::new(MALLORY, DEFAULT_TENANT_ID)),
    )
    .await;
    let stolen = Arc::new(Mutex::new(None::<String>));
    let seen = Arc::clone(&stolen);
    let credential = credential_with(&env, move |start: String| {
        let seen = Arc::clone(&seen);
        async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let response = client.get(&start).send().await.unwrap();
            // The first visit is served: the attacker learns the authorize URL.
            assert_eq!(response.status(), 302);
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            *seen.lock().unwrap() = Some(location);
        }
    });
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err}");
    assert!(stopped_for_reuse(&err), "{err:?}");
    assert!(
        err.message()
            .starts_with("The sign-in link was opened more than once"),
        "{err}"
    );
    assert!(
        err.help().unwrap().ends_with("#sign-in-link-reused"),
        "{:?}",
        err.help()
    );
    // The user's browser was told why.
    let outcome = env.browser.wait_until_done().await.unwrap();
    assert!(
        outcome.error().unwrap().contains("answered 410"),
        "{outcome:?}"
    );
    // The attacker now signs in as itself at the stolen URL: its code reaches nobody.
    let location = stolen.lock().unwrap().clone().unwrap();
    let attacker = HeadlessBrowser::builder(&env.mock).user(MALLORY).build();
    attacker.open(&location).await.unwrap();
    let attempt = attacker.wait_until_done().await.unwrap();
    assert!(!attempt.delivered(), "{attempt:?}");
    assert_eq!(
        env.mock.count(Endpoint::Token),
        0,
        "no code was ever redeemed"
    );
    assert!(credential.authentication_record().is_none());
}

/// Issue 11.1: a process of another user (here `nobody`, through `bash`'s `/dev/tcp`) fetches
/// the start address and posts a code before the user's browser: both are refused (403), it
/// learns nothing, and the user's own sign-in completes.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_of_another_user_can_neither_open_the_start_address_nor_deliver_a_code() {
    use std::os::unix::process::CommandExt as _;
    if !running_as_root() {
        println!("skipped: running a process as another user needs root (CI runs as root)");
        return;
    }
    let env = Env::start().await;
    let replies = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&replies);
    let credential = credential_with(&env, move |start: String| {
        let log = Arc::clone(&log);
        async move {
            let parsed = url::Url::parse(&start).unwrap();
            let port = parsed.port().unwrap();
            let requests = [
                format!(
                    "GET {} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n",
                    parsed.path()
                ),
                format!(
                    "POST / HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: \
                     application/x-www-form-urlencoded\r\nContent-Length: 24\r\nConnection: \
                     close\r\n\r\ncode=mallory&state=guess"
                ),
            ];
            for request in requests {
                let output = tokio::task::spawn_blocking(move || {
                    std::process::Command::new("bash")
                        .arg("-c")
                        .arg(
                            "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf '%s' \"$REQUEST\" >&3 \
                             && cat <&3",
                        )
                        .env("PORT", port.to_string())
                        .env("REQUEST", request)
                        .current_dir("/")
                        .uid(65534)
                        .gid(65534)
                        .output()
                        .unwrap()
                })
                .await
                .unwrap();
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&output.stdout).into_owned());
            }
        }
    });
    let token = credential.get_token(&[SCOPE], None).await.unwrap();
    assert!(!token.token.secret().is_empty());
    let replies = replies.lock().unwrap().clone();
    assert_eq!(replies.len(), 2);
    for reply in &replies {
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
        assert!(!reply.to_ascii_lowercase().contains("location:"), "{reply}");
    }
    assert_eq!(
        credential.authentication_record().unwrap().username(),
        DEFAULT_USERNAME
    );
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

/// Whether this test process runs as root (needed to start a process as another user).
#[cfg(unix)]
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
}

/// Issue 11.1: a request for another host name (DNS rebinding, a request meant for another
/// server) is refused and does not consume the start address; a response before the start
/// address was visited is refused too. The real sign-in then completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_host_names_and_early_responses_are_refused_without_ending_the_sign_in() {
    let env = Env::start().await;
    let replies = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&replies);
    let credential = credential_with(&env, move |start: String| {
        let log = Arc::clone(&log);
        async move {
            let port = port_of(&start);
            let path = url::Url::parse(&start).unwrap().path().to_owned();
            let rebinding = raw(
                port,
                format!("GET {path} HTTP/1.1\r\nHost: rebind.attacker.example:{port}\r\n\r\n"),
            )
            .await;
            let early = raw(
                port,
                format!(
                    "POST / HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: \
                     application/x-www-form-urlencoded\r\nContent-Length: 23\r\n\r\n\
                     code=forged&state=guess"
                ),
            )
            .await;
            log.lock().unwrap().extend([rebinding, early]);
        }
    });
    credential.get_token(&[SCOPE], None).await.unwrap();
    let replies = replies.lock().unwrap().clone();
    assert!(replies[0].starts_with("HTTP/1.1 421"), "{}", replies[0]);
    assert!(replies[1].starts_with("HTTP/1.1 400"), "{}", replies[1]);
    assert!(
        replies[1].contains("does not belong to a sign-in started here"),
        "{}",
        replies[1]
    );
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

/// Issue 11.2: 600 idle connections (more than twice the server's 256 slots), held through
/// the whole sign-in, cannot lock the browser out: each new connection evicts the oldest idle
/// one. (600, not more: Wine's sockets make each connection slow.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_idle_connections_cannot_lock_the_browser_out() {
    let env = Env::start().await;
    let held = Arc::new(tokio::sync::Mutex::new(Vec::<TcpStream>::new()));
    let hold = Arc::clone(&held);
    let credential = credential_with(&env, move |start: String| {
        let hold = Arc::clone(&hold);
        async move {
            let port = port_of(&start);
            let mut held = hold.lock().await;
            for _ in 0..600 {
                held.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
            }
        }
    });
    let token = credential.get_token(&[SCOPE], None).await.unwrap();
    assert!(!token.token.secret().is_empty());
    assert_eq!(held.lock().await.len(), 600);
    let outcome = env.browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.redirect().unwrap().status(), Some(200));
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

/// Issue 11.7: reserved scopes name no resource. Asked for alone (any case) they fail before
/// any cache lookup, with the same typed error whether or not a token is cached.
#[tokio::test]
async fn reserved_scopes_are_refused_before_the_cache_whether_or_not_a_token_is_cached() {
    let env = Env::start().await;
    let fresh = env.credential();
    let signed_in = env.credential();
    signed_in.get_token(&[SCOPE], None).await.unwrap();
    env.mock.clear_log();
    for scopes in [
        &["openid"][..],
        &["offline_access"],
        &["PROFILE"],
        &[SCOPE, "openid"],
    ] {
        let cached = signed_in.get_token(scopes, None).await.unwrap_err();
        let uncached = fresh.get_token(scopes, None).await.unwrap_err();
        assert!(cached.is_invalid_argument(), "{cached}");
        assert!(cached.message().contains("is reserved"), "{cached}");
        assert_eq!(cached.message(), uncached.message());
        let info = signed_in.get_token_info(scopes, None).await.unwrap_err();
        assert!(info.is_invalid_argument());
        let auth = signed_in.authenticate(scopes, None).await.unwrap_err();
        assert!(auth.is_invalid_argument());
    }
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.browser.open_count(), 1);
}

/// Issue 11.9: an ID token whose `iss` names login.microsoftonline.com, issued by a custom
/// authority (here the mock on localhost), is rejected; the saved record's authority is the
/// configured one, never taken from `iss`.
#[tokio::test]
async fn an_issuer_on_another_host_is_rejected_and_the_record_keeps_the_configured_authority() {
    let hostile = MockEntra::builder()
        .id_token_issuer_base("https://login.microsoftonline.com")
        .start()
        .await
        .unwrap();
    let browser = HeadlessBrowser::new(&hostile);
    let options = |mock: &MockEntra, browser: &HeadlessBrowser| {
        entra_browser_flow::InteractiveBrowserCredentialOptions::default()
            .with_authority(mock.base_url())
            .with_disable_instance_discovery(true)
            .with_http_client(mock.http_client())
            .with_browser(Arc::new(browser.clone()))
            .with_timeout(Duration::from_secs(60))
    };
    let credential = InteractiveBrowserCredential::new(options(&hostile, &browser)).unwrap();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err}");
    assert!(
        err.message()
            .contains("the ID token was not issued by the authority"),
        "{err}"
    );
    assert!(credential.authentication_record().is_none());

    let honest = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&honest);
    let credential = InteractiveBrowserCredential::new(options(&honest, &browser)).unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    let authority = honest.base_url();
    let host = authority.strip_prefix("https://").unwrap();
    assert_eq!(
        credential.authentication_record().unwrap().authority(),
        host
    );
}

/// The `tid` claim of a JWT access token.
fn tid_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["tid"].as_str().unwrap().to_owned()
}

/// Issue 11.10: a guest (home tenant A) signs in at tenant B. An `organizations` request is
/// Entra's "the user's home tenant": it is never answered with B's token, but refreshed for A.
#[tokio::test]
async fn a_guests_resource_tenant_token_never_answers_an_organizations_request() {
    let resource_tenant = TestTenant::random("fabrikam.onmicrosoft.com");
    let env = Env::with(MockEntra::builder().tenant(resource_tenant.clone())).await;
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_tenant_id(resource_tenant.id())
            .with_additionally_allowed_tenants(["*"]),
    )
    .unwrap();
    let guest_token = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(tid_of(guest_token.token.secret()), resource_tenant.id());
    let record = credential.authentication_record().unwrap();
    assert_eq!(
        record.tenant_id(),
        resource_tenant.id(),
        "the sign-in tenant"
    );
    assert!(
        record
            .home_account_id()
            .ends_with(&format!(".{DEFAULT_TENANT_ID}")),
        "the home tenant"
    );
    env.mock.clear_log();
    let options = TokenRequestOptions::default().with_tenant_id("organizations");
    let home = credential
        .get_token(&[SCOPE], Some(options.clone()))
        .await
        .unwrap();
    assert_ne!(home.token.secret(), guest_token.token.secret());
    assert_eq!(tid_of(home.token.secret()), DEFAULT_TENANT_ID);
    assert_eq!(
        env.mock.count(Endpoint::Token),
        1,
        "one refresh for the home tenant"
    );
    assert_eq!(env.browser.open_count(), 1, "no new prompt");
    // Asking again for the resource tenant still gets its own token, from the cache.
    env.mock.clear_log();
    let again = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token.secret(), guest_token.token.secret());
    assert_eq!(env.mock.total_requests(), 0);
}

/// Issue 11.12: with `disable_automatic_authentication` and nobody signed in, nothing is sent
/// (Python sends nothing), even for an authority that would need discovery and metadata.
#[tokio::test]
async fn no_account_and_no_prompt_allowed_sends_nothing() {
    let env = Env::start().await;
    let credential = InteractiveBrowserCredential::new(
        entra_browser_flow::InteractiveBrowserCredentialOptions::default()
            .with_authority(env.mock.base_url())
            .with_http_client(env.mock.http_client())
            .with_browser(Arc::new(env.browser.clone()))
            .with_disable_automatic_authentication(true),
    )
    .unwrap();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_authentication_required(), "{err}");
    assert_eq!(err.scopes().unwrap(), [SCOPE]);
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.browser.open_count(), 0);
}

/// Issue 11.13: without a usable keyring and without `allow_unencrypted_storage`, the error
/// comes before the browser opens (the user is never asked to sign in for nothing).
#[tokio::test]
async fn an_unusable_cache_fails_before_the_browser_opens() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(
        FileBackend::new(dir.path().join("msal.cache.nocae"))
            .with_secret_store(Arc::new(NoKeyring)),
    );
    let credential =
        InteractiveBrowserCredential::new(env.options().with_cache_backend(backend)).unwrap();
    for err in [
        credential.get_token(&[SCOPE], None).await.unwrap_err(),
        credential.authenticate(&[SCOPE], None).await.unwrap_err(),
    ] {
        assert!(err.is_client_authentication(), "{err}");
        assert!(err.message().contains("allow_unencrypted_storage"), "{err}");
        assert!(
            err.help().unwrap().ends_with("#keyring-unavailable"),
            "{:?}",
            err.help()
        );
    }
    assert_eq!(env.browser.open_count(), 0);
    assert_eq!(env.mock.total_requests(), 0);
    // With the fallback allowed, the same setup signs in.
    let backend = Arc::new(
        FileBackend::new(dir.path().join("msal.cache.nocae"))
            .with_secret_store(Arc::new(NoKeyring))
            .with_allow_unencrypted_storage(true),
    );
    let credential =
        InteractiveBrowserCredential::new(env.options().with_cache_backend(backend)).unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.browser.open_count(), 1);
}
