//! One table-driven suite for both public-client credentials: the silent path is the shared
//! layer's, so `InteractiveBrowserCredential` and `DeviceCodeCredential` must behave alike
//! (cache hit: 0 requests; new scope: 1 refresh; record + persistent cache in a fresh
//! credential: 0; 100 concurrent callers: 1 prompt). Plus the browser credential's opt-in
//! fallback to the device code flow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use entra_browser_flow::InteractiveBrowserCredential;
use entra_core::{AuthenticationRecord, TokenCredential};
use entra_device_code::{DeviceCodeCredential, DeviceCodeCredentialOptions};
use entra_testing::{BrowserBehavior, Endpoint, MockEntra};

use crate::common::backend;
use crate::common::{Env, OTHER_SCOPE, SCOPE};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Browser,
    DeviceCode,
}

const KINDS: [Kind; 2] = [Kind::Browser, Kind::DeviceCode];

/// A credential of `kind` on `env`, and a way to count its prompts.
struct Made {
    credential: Arc<dyn TokenCredential>,
    record: Box<dyn Fn() -> Option<AuthenticationRecord> + Send + Sync>,
    prompts: Arc<dyn Fn() -> usize + Send + Sync>,
}

/// Approves every device code as soon as it is shown, counting the prompts.
fn approving_prompt(
    mock: &Arc<MockEntra>,
    count: &Arc<AtomicUsize>,
) -> impl Fn(&entra_device_code::DeviceCodeInfo) + Send + Sync + 'static {
    let (mock, count) = (Arc::clone(mock), Arc::clone(count));
    move |info| {
        count.fetch_add(1, Ordering::SeqCst);
        assert!(mock.approve_device_code(&info.user_code));
    }
}

fn make(
    kind: Kind,
    env: &Env,
    mock: &Arc<MockEntra>,
    dir: &std::path::Path,
    record: Option<AuthenticationRecord>,
) -> Made {
    match kind {
        Kind::Browser => {
            let mut options = env.options().with_cache_backend(backend(dir));
            if let Some(r) = record {
                options = options.with_authentication_record(r);
            }
            let credential = InteractiveBrowserCredential::new(options).unwrap();
            let browser = env.browser.clone();
            let c = Arc::clone(&credential);
            Made {
                credential,
                record: Box::new(move || c.authentication_record()),
                prompts: Arc::new(move || browser.open_count()),
            }
        }
        Kind::DeviceCode => {
            let count = Arc::new(AtomicUsize::new(0));
            let mut options = DeviceCodeCredentialOptions::default()
                .with_authority("login.microsoftonline.com")
                .with_http_client(mock.resolving_http_client())
                .with_cache_backend(backend(dir))
                .with_prompt_callback(approving_prompt(mock, &count));
            if let Some(r) = record {
                options = options.with_authentication_record(r);
            }
            let credential = DeviceCodeCredential::new(options).unwrap();
            let c = Arc::clone(&credential);
            Made {
                credential,
                record: Box::new(move || c.authentication_record()),
                prompts: Arc::new(move || count.load(Ordering::SeqCst)),
            }
        }
    }
}

/// The mock shared by `env` and the device code credential (one server, one log).
async fn start() -> (Env, Arc<MockEntra>) {
    let env = Env::start().await;
    // The device code credential needs its own handle: the mock lives in an Arc from here on.
    let mock = Arc::new(MockEntra::start().await.unwrap());
    (env, mock)
}

/// The mock that `kind` talks to.
fn mock_of<'a>(kind: Kind, env: &'a Env, mock: &'a MockEntra) -> &'a MockEntra {
    match kind {
        Kind::Browser => &env.mock,
        Kind::DeviceCode => mock,
    }
}

#[tokio::test]
async fn the_silent_path_is_the_same_for_both_credentials() {
    for kind in KINDS {
        let (env, mock) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let m = mock_of(kind, &env, &mock);
        let made = make(kind, &env, &mock, dir.path(), None);
        let first = made.credential.get_token(&[SCOPE], None).await.unwrap();
        assert_eq!((made.prompts)(), 1, "{kind:?}");

        // Cache hit: zero requests.
        m.clear_log();
        let again = made.credential.get_token(&[SCOPE], None).await.unwrap();
        assert_eq!(again.token, first.token, "{kind:?}");
        assert_eq!(m.total_requests(), 0, "{kind:?}");

        // Another scope: one refresh-token request, no prompt.
        let other = made
            .credential
            .get_token(&[OTHER_SCOPE], None)
            .await
            .unwrap();
        assert_ne!(other.token, first.token);
        assert_eq!(m.count(Endpoint::Token), 1, "{kind:?}");
        assert_eq!(
            m.last_request(Endpoint::Token).unwrap().grant_type(),
            Some("refresh_token")
        );
        assert_eq!((made.prompts)(), 1, "{kind:?}");

        // A fresh credential with the record and the persistent cache: zero requests.
        let record = (made.record)().unwrap();
        m.clear_log();
        let fresh = make(kind, &env, &mock, dir.path(), Some(record));
        let cached = fresh.credential.get_token(&[SCOPE], None).await.unwrap();
        assert_eq!(cached.token, first.token, "{kind:?}");
        // (Zero requests also means no prompt: each starts with a request to the mock.)
        assert_eq!(m.total_requests(), 0, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_callers_cause_one_prompt_for_both_credentials() {
    for kind in KINDS {
        let (env, mock) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let made = make(kind, &env, &mock, dir.path(), None);
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (credential, barrier) = (Arc::clone(&made.credential), Arc::clone(&barrier));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                credential.get_token(&[SCOPE], None).await.unwrap().token
            }));
        }
        let tokens: Vec<_> = futures_join(tasks).await;
        assert!(tokens.windows(2).all(|w| w[0] == w[1]), "{kind:?}");
        assert_eq!((made.prompts)(), 1, "{kind:?}");
        let m = mock_of(kind, &env, &mock);
        match kind {
            Kind::Browser => assert_eq!(m.count(Endpoint::Token), 1),
            Kind::DeviceCode => {
                assert_eq!(m.count(Endpoint::DeviceCode), 1);
                assert_eq!(m.device_code_polls(), 1);
            }
        }
    }
}

async fn futures_join<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn without_a_browser_the_browser_credential_falls_back_to_a_device_code_when_asked() {
    let env = Env::start().await;
    env.browser.set_behavior(BrowserBehavior::CannotOpen);
    // Off by default: unavailable, as in Python (a chain moves on).
    let plain = env.credential();
    let err = plain.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_credential_unavailable(), "{err}");
    assert_eq!(env.mock.count(Endpoint::DeviceCode), 0);

    // Opted in: the user enters the code elsewhere and the sign-in completes.
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&shown);
    let approvals = Arc::new(Mutex::new(None::<Arc<dyn Fn(&str) -> bool + Send + Sync>>));
    let approve = Arc::clone(&approvals);
    let credential = InteractiveBrowserCredential::new(
        env.options().with_device_code_fallback_prompt(move |info| {
            seen.lock().unwrap().push(info.user_code.clone());
            let approve = approve.lock().unwrap().clone().unwrap();
            assert!(approve(&info.user_code));
        }),
    )
    .unwrap();
    let mock = Arc::new(env.mock);
    let m = Arc::clone(&mock);
    *approvals.lock().unwrap() = Some(Arc::new(move |code: &str| m.approve_device_code(code)));
    let token = credential.get_token(&[SCOPE], None).await.unwrap();
    assert!(!token.token.secret().is_empty());
    assert_eq!(shown.lock().unwrap().len(), 1);
    assert_eq!(mock.count(Endpoint::DeviceCode), 1);
    assert_eq!(mock.device_code_polls(), 1);
    assert!(credential.authentication_record().is_some());
}
