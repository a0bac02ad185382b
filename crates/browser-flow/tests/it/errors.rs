//! Failures of the interactive stage: cancel, no browser, forged state, timeout, stray
//! requests, busy ports, refusals, bad options.

use std::time::Duration;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_testing::{AuthorizeRefusal, BrowserBehavior, Endpoint, HeadlessBrowser};

use crate::common::{Env, SCOPE, port_released, redirect_uri_of};

#[tokio::test]
async fn the_user_cancels() {
    let env = Env::start().await;
    env.browser.set_behavior(BrowserBehavior::Cancel);
    let credential = env.credential();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err:?}");
    assert_eq!(err.error_response().unwrap().error, "access_denied");
    assert!(
        err.message().starts_with("Authentication failed: "),
        "{err}"
    );
    assert_eq!(err.credential(), Some("InteractiveBrowserCredential"));
    assert_eq!(env.mock.count(Endpoint::Token), 0);
    let outcome = env.browser.wait_until_done().await.unwrap();
    let page = outcome.redirect().unwrap();
    assert_eq!(page.status(), Some(200));
    assert!(page.body().contains("Authentication failed"));
    let port = redirect_uri_of(&env.browser, 0).port().unwrap();
    assert!(port_released(port).await);
}

#[tokio::test]
async fn an_authorize_refusal_carries_the_code_and_description() {
    let env = Env::start().await;
    env.mock
        .set_authorize_refusal(Some(AuthorizeRefusal::ConsentRequired));
    let err = env
        .credential()
        .get_token(&[SCOPE], None)
        .await
        .unwrap_err();
    let response = err.error_response().unwrap();
    assert_eq!(response.error, "consent_required");
    assert!(response.error_description.is_some());
}

#[tokio::test]
async fn no_browser_is_unavailable_and_nothing_is_redeemed() {
    let env = Env::start().await;
    env.browser.set_behavior(BrowserBehavior::CannotOpen);
    let credential = env.credential();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_credential_unavailable(), "{err:?}");
    assert_eq!(err.message(), "Failed to open a browser");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(env.mock.total_requests(), 0);
    // The opener was given the one-time loopback start address, not the sign-in URL.
    let opened = url::Url::parse(&env.browser.opened_urls()[0]).unwrap();
    assert_eq!(opened.host_str(), Some("localhost"));
    assert!(opened.query().is_none());
    assert!(port_released(opened.port().unwrap()).await);
}

#[tokio::test]
async fn a_forged_state_is_refused_and_the_wait_times_out() {
    let env = Env::start().await;
    env.browser.set_behavior(BrowserBehavior::ForgedState);
    let credential =
        InteractiveBrowserCredential::new(env.options().with_timeout(Duration::from_millis(1500)))
            .unwrap();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication());
    assert_eq!(
        err.message(),
        "Timed out after waiting 1.5 seconds for the user to authenticate"
    );
    let outcome = env.browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.redirect().unwrap().status(), Some(400));
    assert_eq!(env.mock.count(Endpoint::Token), 0);
}

/// The user never finishes: the one deadline ends the wait with a timeout and the port is
/// released. The port is the test's own choice, so nothing depends on how far the browser
/// got before the deadline (on a busy machine, or under Wine, it may not have reached the
/// sign-in page).
#[tokio::test]
async fn the_user_never_finishes() {
    let env = Env::start().await;
    env.browser.set_behavior(BrowserBehavior::NeverFinish);
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_redirect_uri(format!("http://localhost:{port}"))
            .with_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err:?}");
    assert!(err.message().to_lowercase().contains("timed out"), "{err}");
    assert!(port_released(port).await);
}

#[tokio::test]
async fn stray_favicon_and_duplicate_requests_do_not_disturb_the_sign_in() {
    let env = Env::start().await;
    let browser = HeadlessBrowser::builder(&env.mock)
        .stray_requests(true)
        .favicon(true)
        .duplicate_redirect(true)
        .build();
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_browser(std::sync::Arc::new(browser.clone())),
    )
    .unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    let outcome = browser.wait_until_done().await.unwrap();
    for stray in outcome.stray_requests() {
        assert!(matches!(stray.status(), Some(400 | 404 | 405)), "{stray:?}");
    }
    assert!(!outcome.stray_requests().is_empty());
    assert_eq!(outcome.redirect().unwrap().status(), Some(200));
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

#[tokio::test]
async fn a_busy_port_is_skipped() {
    let env = Env::start().await;
    // Hold the first port of the range that is free now.
    let held = (8400..=8999)
        .find_map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
        .unwrap();
    let busy = held.local_addr().unwrap().port();
    env.credential().get_token(&[SCOPE], None).await.unwrap();
    let used = redirect_uri_of(&env.browser, 0).port().unwrap();
    assert_ne!(used, busy);
    assert!((8400..=8999).contains(&used));
}

#[tokio::test]
async fn an_explicit_redirect_port_that_is_busy_fails_without_fallback() {
    let env = Env::start().await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_redirect_uri(format!("http://localhost:{port}")),
    )
    .unwrap();
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_credential_unavailable());
    assert_eq!(
        err.message(),
        format!("Couldn't start an HTTP server on http://localhost:{port}")
    );
    assert_eq!(env.browser.open_count(), 0);
    assert_eq!(env.mock.total_requests(), 0);
}

#[tokio::test]
async fn invalid_options_are_refused_at_construction() {
    let new = InteractiveBrowserCredential::new;
    for tenant in [
        "my tenant",
        "my_tenant",
        "/",
        "\\",
        "\"my-tenant\"",
        "'my-tenant'",
    ] {
        let err =
            new(InteractiveBrowserCredentialOptions::default().with_tenant_id(tenant)).unwrap_err();
        assert!(err.is_invalid_argument(), "{tenant}");
        assert!(err.message().starts_with("Invalid tenant ID provided."));
    }
    for tenant in [
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "contoso.onmicrosoft.com",
        "common",
    ] {
        assert!(new(InteractiveBrowserCredentialOptions::default().with_tenant_id(tenant)).is_ok());
    }
    for uri in ["http://localhost", "host", "host:42"] {
        let err =
            new(InteractiveBrowserCredentialOptions::default().with_redirect_uri(uri)).unwrap_err();
        assert_eq!(
            err.message(),
            "\"redirect_uri\" must be a URL with port number, for example \"http://localhost:8400\""
        );
    }
    let err = new(InteractiveBrowserCredentialOptions::default()
        .with_authority("http://login.microsoftonline.com"))
    .unwrap_err();
    assert!(err.is_invalid_argument());
    assert!(err.message().contains("TLS protected (https)"), "{err}");
    let err = new(InteractiveBrowserCredentialOptions::default()
        .with_additionally_allowed_tenants(["ok", "not ok"]))
    .unwrap_err();
    assert!(err.is_invalid_argument());
    // No scopes.
    let credential = new(InteractiveBrowserCredentialOptions::default()).unwrap();
    let err = credential.get_token(&[], None).await.unwrap_err();
    assert_eq!(err.message(), "'get_token' requires at least one scope");
    let err = credential.get_token_info(&[], None).await.unwrap_err();
    assert_eq!(
        err.message(),
        "'get_token_info' requires at least one scope"
    );
}

/// Issue 20.5: an explicitly configured authority or client id that differs from the
/// record's is a typed error naming both (Python lets the record win silently); the same
/// values, or none, are accepted.
#[test]
fn a_configured_authority_or_client_id_unlike_the_record_s_is_refused() {
    use entra_core::{AuthenticationRecord, Reason};
    let record = AuthenticationRecord::new(
        "11111111-2222-4333-8444-555555555555",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "login.microsoftonline.com",
        "oid.11111111-2222-4333-8444-555555555555",
        "alice@contoso.com",
    );
    let with = |options: InteractiveBrowserCredentialOptions| {
        InteractiveBrowserCredential::new(options.with_authentication_record(record.clone()))
    };
    let err =
        with(InteractiveBrowserCredentialOptions::default().with_authority("login.evil.example"))
            .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    assert_eq!(err.reason(), Reason::RecordMismatch);
    for host in ["login.evil.example", "login.microsoftonline.com"] {
        assert!(err.message().contains(host), "{err}");
    }
    let err = with(
        InteractiveBrowserCredentialOptions::default()
            .with_client_id("00000000-0000-0000-0000-0000000000ee"),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Reason::RecordMismatch);
    assert!(
        err.message()
            .contains("00000000-0000-0000-0000-0000000000ee"),
        "{err}"
    );
    assert!(err.message().contains(record.client_id()), "{err}");

    with(InteractiveBrowserCredentialOptions::default()).unwrap();
    with(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("https://LOGIN.microsoftonline.com/")
            .with_client_id(record.client_id()),
    )
    .unwrap();
}
