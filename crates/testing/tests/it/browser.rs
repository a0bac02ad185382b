//! The headless browser stand-in: every behaviour.

use entra_core::BrowserOpener;
use entra_testing::{
    BrowserBehavior, DEFAULT_TENANT_ID, Endpoint, HeadlessBrowser, MockEntra, TestUser,
};

use crate::support::*;

#[tokio::test]
async fn signs_in_as_the_chosen_user_on_a_real_entra_host() {
    let bob = TestUser::new("bob@contoso.onmicrosoft.com", DEFAULT_TENANT_ID);
    let mock = MockEntra::builder()
        .user(bob.clone())
        .start()
        .await
        .unwrap();
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    let browser = HeadlessBrowser::builder(&mock)
        .user(entra_testing::DEFAULT_USERNAME)
        .duplicate_redirect(true)
        .build();
    let url = authz.url("https://login.microsoftonline.com");
    browser.open(&url).await.unwrap();
    let got = loopback.take(3).await;
    let outcome = browser.wait_until_done().await.unwrap();
    assert_eq!(browser.opened_urls(), [url]);
    assert_eq!(browser.open_count(), 1);
    assert_eq!(outcome.authorize_status(), Some(200));
    assert!(outcome.delivered());
    assert_eq!(outcome.favicon().unwrap().status(), Some(200));
    assert_eq!(outcome.duplicate().unwrap().status(), Some(200));
    assert_eq!(
        got.iter()
            .map(|r| (r.method.as_str(), r.target.as_str()))
            .collect::<Vec<_>>(),
        [("POST", "/"), ("GET", "/favicon.ico"), ("POST", "/")]
    );
    assert_eq!(
        got[0].body, got[2].body,
        "the duplicate repeats the redirect"
    );
    let req = mock.last_request(Endpoint::Authorize).unwrap();
    assert_eq!(req.host(), "login.microsoftonline.com");

    let code = get(&got[0].form(), "code").unwrap().to_owned();
    let (_, tok) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["preferred_username"], entra_testing::DEFAULT_USERNAME);
    assert_ne!(id["oid"], bob.oid());
}

#[tokio::test]
async fn user_cancels() {
    let mock = MockEntra::start().await.unwrap();
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&loopback.redirect_uri(), "query");
    let browser = HeadlessBrowser::builder(&mock)
        .behavior(BrowserBehavior::Cancel)
        .favicon(false)
        .build();
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(1).await;
    let q = query_of(&format!("http://localhost{}", got[0].target));
    assert_eq!(get(&q, "error"), Some("access_denied"));
    assert_eq!(get(&q, "state"), Some(authz.state.as_str()));
    assert!(get(&q, "code").is_none());
    let outcome = browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.behavior(), BrowserBehavior::Cancel);
    assert!(outcome.delivered());
}

#[tokio::test]
async fn never_finishes() {
    let mock = MockEntra::start().await.unwrap();
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    let browser = HeadlessBrowser::builder(&mock)
        .behavior(BrowserBehavior::NeverFinish)
        .build();
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let outcome = browser.wait_until_done().await.unwrap();
    assert!(outcome.redirect().is_none());
    assert!(outcome.error().unwrap().contains("never finished"));
    assert_eq!(mock.count(Endpoint::Authorize), 1);
    assert!(
        loopback.rx.try_recv().is_err(),
        "nothing reached the loopback server"
    );
}

#[tokio::test]
async fn forged_state() {
    let mock = MockEntra::start().await.unwrap();
    let mut loopback = Loopback::start().await;
    for mode in ["query", "form_post"] {
        let authz = Authz::new(&loopback.redirect_uri(), mode);
        let browser = HeadlessBrowser::builder(&mock)
            .behavior(BrowserBehavior::ForgedState)
            .favicon(false)
            .build();
        browser.open(&authz.url(&mock.base_url())).await.unwrap();
        let got = loopback.take(1).await;
        let params = if mode == "query" {
            query_of(&format!("http://localhost{}", got[0].target))
        } else {
            got[0].form()
        };
        let state = get(&params, "state").unwrap();
        assert_ne!(state, authz.state, "{mode}");
        assert!(state.starts_with("forged-"));
        assert!(get(&params, "code").is_some());
        browser.wait_until_done().await;
    }
}

#[tokio::test]
async fn cannot_open() {
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::builder(&mock)
        .behavior(BrowserBehavior::CannotOpen)
        .build();
    let err = browser
        .open("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not to open"));
    assert_eq!(browser.open_count(), 1);
    assert!(browser.wait_until_done().await.is_none());
    assert_eq!(mock.total_requests(), 0);
    assert!(browser.open("file:///etc/passwd").await.is_err());
}

#[tokio::test]
async fn stray_requests_come_first() {
    let mock = MockEntra::start().await.unwrap();
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    let browser = HeadlessBrowser::builder(&mock).stray_requests(true).build();
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(4).await;
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("GET", "/")
    );
    assert_eq!(got[1].method, "GET");
    assert_ne!(got[1].target, "/");
    assert_eq!(got[2].method, "POST");
    assert_eq!(got[3].target, "/favicon.ico");
    let outcome = browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.stray_requests().len(), 2);
}

#[tokio::test]
async fn fills_the_html_sign_in_page_and_changes_behaviour_at_run_time() {
    let bob = TestUser::new("bob@contoso.onmicrosoft.com", DEFAULT_TENANT_ID);
    let mock = MockEntra::builder()
        .user(bob.clone())
        .sign_in_page(true)
        .start()
        .await
        .unwrap();
    let mut loopback = Loopback::start().await;
    let browser = HeadlessBrowser::builder(&mock).favicon(false).build();
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(1).await;
    browser.wait_until_done().await.unwrap();
    assert_eq!(mock.count(Endpoint::SignIn), 1);
    let code = get(&got[0].form(), "code").unwrap().to_owned();
    let (_, tok) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["oid"], bob.oid(), "the default user (bob) typed in");

    browser.set_behavior(BrowserBehavior::Cancel);
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(1).await;
    assert_eq!(get(&got[0].form(), "error"), Some("access_denied"));
    assert_eq!(
        browser.wait_until_done().await.unwrap().behavior(),
        BrowserBehavior::Cancel
    );
    assert_eq!(browser.outcomes().len(), 2);
}

#[tokio::test]
async fn reports_error_pages_and_unreachable_loopback() {
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    // A non-loopback redirect URI: Entra shows an error page, nothing is delivered.
    let authz = Authz::new("https://evil.example/cb", "query");
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let outcome = browser.wait_until_done().await.unwrap();
    assert!(
        outcome.error().unwrap().contains("AADSTS50011"),
        "{outcome:?}"
    );
    assert!(outcome.redirect().is_none());

    // Nobody listens on the loopback port: the redirect fails.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let authz = Authz::new(&format!("http://127.0.0.1:{port}"), "query");
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let outcome = browser.wait_until_done().await.unwrap();
    assert!(!outcome.delivered());
    assert_eq!(outcome.redirect().unwrap().status(), None);
    let error = outcome.error().unwrap();
    assert!(
        !error.contains("code="),
        "errors never quote the redirect URL: {error}"
    );
}
