//! The interactive sign-in: round trips, the authorize URL, the loopback pages, the record.

use std::sync::Arc;

use entra_browser_flow::{InteractiveBrowserCredential, ResponseMode};
use entra_core::TokenRequestOptions;
use entra_testing::{DEFAULT_TENANT_ID, DEFAULT_USERNAME, Endpoint, HeadlessBrowser};

use crate::common::{Env, OTHER_SCOPE, SCOPE, opened_param, redirect_uri_of};

#[tokio::test]
async fn first_sign_in_on_a_known_cloud_is_one_request_then_cached_hits_are_zero() {
    let env = Env::start().await;
    let credential = env.credential();
    let token = credential.get_token(&[SCOPE], None).await.unwrap();

    // The credential itself made exactly one request: the code redemption. (The authorize
    // request is the browser's.)
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    assert_eq!(env.mock.count(Endpoint::InstanceDiscovery), 0);
    assert_eq!(env.mock.count(Endpoint::OpenIdConfiguration), 0);
    let redemption = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(redemption.grant_type(), Some("authorization_code"));
    assert_eq!(redemption.host(), "login.microsoftonline.com");
    assert_eq!(env.browser.open_count(), 1);

    // The loopback server answered the browser's form POST with the success page.
    let outcome = env.browser.wait_until_done().await.unwrap();
    let redirect = outcome.redirect().unwrap();
    assert_eq!(redirect.method(), "POST");
    assert_eq!(redirect.status(), Some(200));
    assert!(redirect.body().contains("Authentication complete"));

    // Cached: zero requests, no browser, same token.
    env.mock.clear_log();
    let again = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token, token.token);
    let info = credential.get_token_info(&[SCOPE], None).await.unwrap();
    assert_eq!(info.token, token.token);
    assert_eq!(info.token_type, "Bearer");
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.browser.open_count(), 1);

    let record = credential.authentication_record().unwrap();
    assert_eq!(record.username(), DEFAULT_USERNAME);
    assert_eq!(record.tenant_id(), DEFAULT_TENANT_ID);
    assert_eq!(record.authority(), "login.microsoftonline.com");
    assert_eq!(record.client_id(), entra_core::DEVELOPER_SIGN_ON_CLIENT_ID);
}

/// `prompt` and `domain_hint` reach the sign-in page; `Prompt::Unset` sends no `prompt`.
#[tokio::test]
async fn prompt_and_domain_hint_reach_the_authorize_request() {
    use entra_browser_flow::Prompt;
    for (prompt, sent) in [
        (Prompt::Login, Some("login")),
        (Prompt::Consent, Some("consent")),
        (Prompt::Create, Some("create")),
        (Prompt::NoInteraction, Some("none")),
        (Prompt::Unset, None),
    ] {
        let env = Env::start().await;
        let credential = InteractiveBrowserCredential::new(
            env.options()
                .with_prompt(prompt)
                .with_domain_hint("contoso.com"),
        )
        .unwrap();
        credential.get_token(&[SCOPE], None).await.unwrap();
        assert_eq!(
            opened_param(&env.browser, 0, "prompt").as_deref(),
            sent,
            "{prompt:?}"
        );
        assert_eq!(
            opened_param(&env.browser, 0, "domain_hint").as_deref(),
            Some("contoso.com")
        );
    }
}

#[tokio::test]
async fn the_authorize_url_carries_what_python_sends() {
    let env = Env::start().await;
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_login_hint("alice@contoso.onmicrosoft.com"),
    )
    .unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    let b = &env.browser;
    assert_eq!(opened_param(b, 0, "client_info").as_deref(), Some("1"));
    assert_eq!(
        opened_param(b, 0, "prompt").as_deref(),
        Some("select_account")
    );
    assert_eq!(opened_param(b, 0, "response_type").as_deref(), Some("code"));
    assert_eq!(
        opened_param(b, 0, "response_mode").as_deref(),
        Some("form_post")
    );
    assert_eq!(
        opened_param(b, 0, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        opened_param(b, 0, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert!(opened_param(b, 0, "state").is_some_and(|s| s.len() >= 22));
    assert!(opened_param(b, 0, "nonce").is_some());
    assert_eq!(
        opened_param(b, 0, "login_hint").as_deref(),
        Some("alice@contoso.onmicrosoft.com")
    );
    assert_eq!(
        opened_param(b, 0, "scope").as_deref(),
        Some("https://graph.microsoft.com/.default offline_access openid profile")
    );
    assert_eq!(opened_param(b, 0, "claims"), None);
    let redirect = redirect_uri_of(b, 0);
    assert_eq!(redirect.host_str(), Some("localhost"));
    assert!((8400..=8999).contains(&redirect.port().unwrap()));
    // The redemption used the same redirect URI, the PKCE verifier and client_info.
    let redemption = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(
        redemption.form_param("redirect_uri"),
        Some(format!("http://localhost:{}", redirect.port().unwrap()).as_str())
    );
    assert!(redemption.form_param("code_verifier").is_some());
    assert_eq!(redemption.form_param("client_info"), Some("1"));
}

#[tokio::test]
async fn authenticate_prompts_returns_the_record_and_caches_the_scope() {
    let env = Env::start().await;
    let credential = InteractiveBrowserCredential::new(
        env.options().with_disable_automatic_authentication(true),
    )
    .unwrap();
    let record = credential.authenticate(&[SCOPE], None).await.unwrap();
    assert_eq!(record.username(), DEFAULT_USERNAME);
    assert!(record.home_account_id().ends_with(DEFAULT_TENANT_ID));
    assert_eq!(env.browser.open_count(), 1);

    env.mock.clear_log();
    credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.mock.total_requests(), 0);

    // authenticate always prompts, even with a usable cache.
    credential.authenticate(&[SCOPE], None).await.unwrap();
    assert_eq!(env.browser.open_count(), 2);

    // No scopes on the public cloud: the ARM scope, as Python.
    credential.authenticate(&[], None).await.unwrap();
    assert_eq!(
        opened_param(&env.browser, 2, "scope").as_deref(),
        Some("https://management.core.windows.net//.default offline_access openid profile")
    );
}

#[tokio::test]
async fn authenticate_without_scopes_in_an_unknown_cloud_is_unavailable() {
    let credential = InteractiveBrowserCredential::new(
        entra_browser_flow::InteractiveBrowserCredentialOptions::default()
            .with_authority("https://login.contoso.test"),
    )
    .unwrap();
    let err = credential.authenticate(&[], None).await.unwrap_err();
    assert!(err.is_credential_unavailable());
    assert_eq!(
        err.message(),
        "Authenticating in this environment requires a value for the 'scopes' keyword argument."
    );
    assert_eq!(err.credential(), Some("InteractiveBrowserCredential"));
}

#[tokio::test]
async fn query_response_mode_and_an_explicit_redirect_uri_with_a_path() {
    let env = Env::start().await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_redirect_uri(&redirect_uri)
            .with_response_mode(ResponseMode::Query),
    )
    .unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    // Sent exactly as configured, path included (Python drops the path).
    assert_eq!(
        opened_param(&env.browser, 0, "redirect_uri").as_deref(),
        Some(redirect_uri.as_str())
    );
    assert_eq!(
        opened_param(&env.browser, 0, "response_mode").as_deref(),
        Some("query")
    );
    let outcome = env.browser.wait_until_done().await.unwrap();
    assert_eq!(outcome.redirect().unwrap().method(), "GET");
    assert_eq!(outcome.redirect().unwrap().status(), Some(200));
    let redemption = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(
        redemption.form_param("redirect_uri"),
        Some(redirect_uri.as_str())
    );
}

#[tokio::test]
async fn a_new_credential_prompts_again_and_close_forgets_memory_tokens() {
    let env = Env::start().await;
    let first = env.credential();
    first.get_token(&[SCOPE], None).await.unwrap();
    let second = env.credential();
    second.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(
        env.browser.open_count(),
        2,
        "in-memory caches are per credential"
    );

    first.close();
    first.get_token(&[OTHER_SCOPE], None).await.unwrap();
    assert_eq!(env.browser.open_count(), 3);
}

#[tokio::test]
async fn debug_output_never_shows_tokens() {
    let env = Env::start().await;
    let credential = env.credential();
    let info = credential
        .get_token_info(&[SCOPE], Some(TokenRequestOptions::default()))
        .await
        .unwrap();
    let text = format!("{credential:?} {info:?}");
    assert!(!text.contains(info.token.secret()), "{text}");
    let browser: Arc<HeadlessBrowser> = Arc::new(env.browser.clone());
    assert!(!format!("{browser:?}").is_empty());
}

#[tokio::test]
async fn the_opener_gets_a_one_time_loopback_address_without_request_values() {
    let env = Env::start().await;
    let credential =
        InteractiveBrowserCredential::new(env.options().with_login_hint(DEFAULT_USERNAME)).unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();

    // What the opener was handed: http://localhost:PORT/entra-sign-in/<random>, no query.
    let starts = env.browser.start_urls();
    assert_eq!(starts.len(), 1);
    let start = url::Url::parse(&starts[0]).unwrap();
    assert_eq!(start.scheme(), "http");
    assert_eq!(start.host_str(), Some("localhost"));
    assert!(start.path().starts_with("/entra-sign-in/"), "{start}");
    assert!(start.path().len() > "/entra-sign-in/".len() + 40);
    assert!(start.query().is_none());
    for value in ["state", "nonce", "login_hint", "code_challenge"] {
        assert!(!starts[0].contains(value), "{value} in {start}");
    }
    // It redirected the browser to the real sign-in URL, which carries them.
    assert!(opened_param(&env.browser, 0, "state").is_some());
    assert_eq!(
        opened_param(&env.browser, 0, "login_hint").as_deref(),
        Some(DEFAULT_USERNAME)
    );
    assert_eq!(
        redirect_uri_of(&env.browser, 0).port(),
        start.port(),
        "the start address lives on the loopback server"
    );
    // Once the sign-in is over the address no longer leads anywhere: its server is closed
    // (another test's sign-in may be listening on the same port by now, and answers 404).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let gone = client.get(start).send().await;
    assert!(
        gone.as_ref().map_or(true, |r| !r.status().is_redirection()),
        "{gone:?}"
    );
}

/// The application's own success and failure pages reach the browser; Entra's error values are
/// inserted escaped.
#[tokio::test]
async fn custom_success_and_failure_pages_are_shown() {
    let env = Env::start().await;
    let credential = InteractiveBrowserCredential::new(
        env.options()
            .with_success_page("<h1>Contoso: you are signed in</h1>")
            .with_failure_page("<h1>Contoso: {error}</h1><p>{error_description}</p>"),
    )
    .unwrap();
    credential.get_token(&[SCOPE], None).await.unwrap();
    let outcome = env.browser.wait_until_done().await.unwrap();
    let page = outcome.redirect().unwrap();
    assert_eq!(page.status(), Some(200));
    assert_eq!(page.body(), "<h1>Contoso: you are signed in</h1>");

    env.browser
        .set_behavior(entra_testing::BrowserBehavior::Cancel);
    let other = InteractiveBrowserCredential::new(
        env.options()
            .with_failure_page("<h1>Contoso: {error}</h1><p>{error_description}</p>"),
    )
    .unwrap();
    other.get_token(&[SCOPE], None).await.unwrap_err();
    let outcome = env.browser.wait_until_done().await.unwrap();
    let body = outcome.redirect().unwrap().body().to_owned();
    assert!(
        body.starts_with("<h1>Contoso: access_denied</h1><p>"),
        "{body}"
    );
    assert!(body.contains("AADSTS65004"), "{body}");
    assert!(!body.contains("{error"), "{body}");
}

/// The browser step puts the claims the shared layer hands it (here CAE's CP1 capability) on
/// the authorize URL and the redemption; the CAE partition itself is tested in
/// entra-public-client.
#[tokio::test]
async fn a_cae_sign_in_sends_cp1_on_the_authorize_url_and_the_redemption() {
    let env = Env::start().await;
    let credential = env.credential();
    let cae = entra_core::TokenRequestOptions::default().with_enable_cae(true);
    credential.get_token(&[SCOPE], Some(cae)).await.unwrap();
    let claims = opened_param(&env.browser, 0, "claims").unwrap();
    assert!(
        claims.contains("xms_cc") && claims.contains("CP1"),
        "{claims}"
    );
    assert_eq!(
        env.mock.last_client_capabilities(),
        Some(vec!["CP1".to_owned()])
    );
}
