//! The device code flow end to end against the mock Entra ID: approve, decline, expire,
//! `slow_down`, timeout, cancellation by drop. Waits go through a recording timer: the tests
//! synchronise on the polls themselves, never on the clock.

// Helpers of integration tests may unwrap: a failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use entra_core::Error;
use entra_device_code::{
    DeviceCodeCredential, DeviceCodeCredentialOptions, DeviceCodeInfo, PollTimer,
};
use entra_testing::{DEFAULT_USERNAME, Endpoint, Fault, MockEntra};

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// What a test's user does when the code is shown or while the credential waits.
type Action = Arc<dyn Fn(&MockEntra, &str) + Send + Sync>;

/// A timer that records each wait, lets the "user" act at the n-th wait, and returns at once.
struct UserTimer {
    mock: Arc<MockEntra>,
    waits: Mutex<Vec<Duration>>,
    /// `(wait number, action)`: run when that wait begins.
    at: Vec<(usize, Action)>,
    /// Where the user code is kept once shown.
    code: Arc<Mutex<String>>,
}

impl std::fmt::Debug for UserTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTimer").finish_non_exhaustive()
    }
}

#[async_trait]
impl PollTimer for UserTimer {
    async fn sleep(&self, interval: Duration) {
        let n = {
            let mut waits = self.waits.lock().unwrap();
            waits.push(interval);
            waits.len()
        };
        let code = self.code.lock().unwrap().clone();
        for (at, action) in &self.at {
            if *at == n {
                action(&self.mock, &code);
            }
        }
    }
}

struct Setup {
    mock: Arc<MockEntra>,
    timer: Arc<UserTimer>,
    shown: Arc<Mutex<Vec<DeviceCodeInfo>>>,
    credential: Arc<DeviceCodeCredential>,
}

/// A credential on the mock whose user runs `on_prompt` when the code is shown and `at`'s
/// actions at the given waits.
async fn setup(
    mock: MockEntra,
    on_prompt: Option<Action>,
    at: Vec<(usize, Action)>,
    timeout: Option<Duration>,
) -> Setup {
    let mock = Arc::new(mock);
    let code = Arc::new(Mutex::new(String::new()));
    let timer = Arc::new(UserTimer {
        mock: Arc::clone(&mock),
        waits: Mutex::new(Vec::new()),
        at,
        code: Arc::clone(&code),
    });
    let shown = Arc::new(Mutex::new(Vec::new()));
    let (seen, m) = (Arc::clone(&shown), Arc::clone(&mock));
    let mut options = DeviceCodeCredentialOptions::default()
        .with_authority("login.microsoftonline.com")
        .with_http_client(mock.resolving_http_client())
        .with_poll_timer(timer.clone())
        .with_prompt_callback(move |info| {
            *code.lock().unwrap() = info.user_code.clone();
            seen.lock().unwrap().push(info.clone());
            if let Some(action) = &on_prompt {
                action(&m, &info.user_code);
            }
        });
    if let Some(t) = timeout {
        options = options.with_timeout(t);
    }
    let credential = DeviceCodeCredential::new(options).unwrap();
    Setup {
        mock,
        timer,
        shown,
        credential,
    }
}

fn approve() -> Action {
    Arc::new(|mock: &MockEntra, code: &str| assert!(mock.approve_device_code(code)))
}

fn oauth_error(e: &Error) -> Option<&str> {
    e.error_response().map(|r| r.error.as_str())
}

#[tokio::test]
async fn approved_at_once_signs_in_with_one_poll_then_serves_from_the_cache() {
    let s = setup(
        MockEntra::start().await.unwrap(),
        Some(approve()),
        vec![],
        None,
    )
    .await;
    let token = s.credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(s.mock.count(Endpoint::DeviceCode), 1);
    assert_eq!(s.mock.device_code_polls(), 1);
    assert!(
        s.timer.waits.lock().unwrap().is_empty(),
        "the first poll is immediate"
    );
    let shown = s.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0].verification_uri,
        "https://microsoft.com/devicelogin"
    );
    assert_eq!(shown[0].user_code.len(), 9);
    assert!(shown[0].message.contains(&shown[0].user_code));
    let record = s.credential.authentication_record().unwrap();
    assert_eq!(record.username(), DEFAULT_USERNAME);
    assert_eq!(record.authority(), "login.microsoftonline.com");
    // The device code itself never reached the prompt.
    let form = s.mock.last_request(Endpoint::Token).unwrap();
    let device_code = form.form_param("device_code").unwrap().to_owned();
    assert!(!format!("{shown:?}").contains(&device_code));
    // Cached: no request, no prompt.
    s.mock.clear_log();
    let again = s.credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token, token.token);
    assert_eq!(s.mock.total_requests(), 0);
    assert_eq!(s.shown.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn pending_polls_wait_the_interval_and_slow_down_adds_five_seconds() {
    let mock = MockEntra::builder()
        .device_code_interval(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    // Poll 1: pending; wait 3 s. Poll 2: slow_down; wait 8 s (user approves). Poll 3: tokens.
    let slow_down: Action = Arc::new(|mock: &MockEntra, _code: &str| {
        mock.inject_fault(Endpoint::Token, Fault::SlowDown);
    });
    let s = setup(mock, None, vec![(1, slow_down), (2, approve())], None).await;
    s.credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(
        *s.timer.waits.lock().unwrap(),
        [Duration::from_secs(3), Duration::from_secs(8)]
    );
    assert_eq!(s.mock.device_code_polls(), 3);
}

#[tokio::test]
async fn a_declined_or_expired_code_ends_with_entras_answer_as_data() {
    let decline: Action = Arc::new(|mock: &MockEntra, code: &str| {
        assert!(mock.decline_device_code(code));
    });
    let s = setup(
        MockEntra::start().await.unwrap(),
        Some(decline),
        vec![],
        None,
    )
    .await;
    let err = s.credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err}");
    assert_eq!(oauth_error(&err), Some("authorization_declined"));
    assert_eq!(err.credential(), Some("DeviceCodeCredential"));
    assert!(err.message().contains("declined"), "{err}");
    assert!(s.credential.authentication_record().is_none());

    // Expires while the user is away: after one pending poll.
    let expire: Action = Arc::new(|mock: &MockEntra, code: &str| {
        assert!(mock.expire_device_code(code));
    });
    let s = setup(
        MockEntra::start().await.unwrap(),
        None,
        vec![(1, expire)],
        None,
    )
    .await;
    let err = s.credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert_eq!(oauth_error(&err), Some("expired_token"));
    assert!(err.message().contains("expired"), "{err}");
    assert_eq!(s.mock.device_code_polls(), 2);
}

#[tokio::test]
async fn the_timeout_stops_the_polling() {
    // Interval 5 s, timeout 12 s: polls at 0, 5 and 10 s, and a last one at the deadline
    // (15 s would be past it): the user who approves in the last seconds is not refused.
    let s = setup(
        MockEntra::start().await.unwrap(),
        None,
        vec![],
        Some(Duration::from_secs(12)),
    )
    .await;
    let err = s.credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication());
    assert_eq!(
        err.message(),
        "Timed out after waiting 12 seconds for the user to authenticate"
    );
    assert_eq!(s.mock.device_code_polls(), 4);
    assert_eq!(
        *s.timer.waits.lock().unwrap(),
        [5, 5, 2].map(Duration::from_secs)
    );
    // Without a timeout the code's own lifetime is the limit (the mock's: 20 s here).
    let mock = MockEntra::builder()
        .device_code_lifetime(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let s = setup(mock, None, vec![], None).await;
    let err = s.credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Timed out after waiting 20 seconds for the user to authenticate"
    );
    assert_eq!(s.mock.device_code_polls(), 5);
}

/// A timer that never returns once entered, and says when it was entered.
#[derive(Debug)]
struct Parked(tokio::sync::mpsc::UnboundedSender<()>);

#[async_trait]
impl PollTimer for Parked {
    async fn sleep(&self, _interval: Duration) {
        let _ = self.0.send(());
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn dropping_the_call_stops_the_polling_at_once() {
    let mock = Arc::new(MockEntra::start().await.unwrap());
    let (tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    let credential = DeviceCodeCredential::new(
        DeviceCodeCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_poll_timer(Arc::new(Parked(tx)))
            .with_prompt_callback(|_| {}),
    )
    .unwrap();
    let task = {
        let credential = Arc::clone(&credential);
        tokio::spawn(async move { credential.get_token(&[SCOPE], None).await })
    };
    // The first poll was pending and the credential is waiting for the next one.
    entered.recv().await.unwrap();
    assert_eq!(mock.device_code_polls(), 1);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The user approves now: nobody polls any more, and the code stays unredeemed.
    let code = mock.pending_user_codes().pop().unwrap();
    assert!(mock.approve_device_code(&code));
    assert_eq!(mock.device_code_polls(), 1);
    assert_eq!(mock.pending_user_codes(), [code]);
}

#[tokio::test]
async fn authenticate_always_prompts_and_caches_the_token() {
    let s = setup(
        MockEntra::start().await.unwrap(),
        Some(approve()),
        vec![],
        None,
    )
    .await;
    let record = s.credential.authenticate(&[SCOPE], None).await.unwrap();
    assert_eq!(record.username(), DEFAULT_USERNAME);
    s.mock.clear_log();
    s.credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(s.mock.total_requests(), 0);
    // A refused device code request (a bad scope) is Entra's error, with no prompt.
    let err = s
        .credential
        .authenticate(
            &[
                "https://graph.microsoft.com/.default",
                "https://management.azure.com/.default",
            ],
            None,
        )
        .await
        .unwrap_err();
    assert!(err.is_client_authentication(), "{err}");
    assert_eq!(s.shown.lock().unwrap().len(), 1);
}

#[test]
fn an_invalid_option_is_named_after_the_credential() {
    let err = DeviceCodeCredential::new(
        DeviceCodeCredentialOptions::default().with_tenant_id("not a tenant"),
    )
    .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    assert_eq!(err.credential(), Some("DeviceCodeCredential"));
}
