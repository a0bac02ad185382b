//! The authorize endpoint, the HTML sign-in page, the ADFS variant and the request log.

use entra_testing::{AuthorizeRefusal, DEFAULT_TENANT_ID, Endpoint, MockEntra, TestUser};

use crate::support::*;

const REDIRECT: &str = "http://localhost:8400";

fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    if let Some(v) = value {
        u.query_pairs_mut().append_pair(name, v);
    }
    u.to_string()
}

async fn get(mock: &MockEntra, url: &str) -> reqwest::Response {
    mock.http_client().get(url).send().await.unwrap()
}

#[tokio::test]
async fn authorize_refuses_bad_client_and_redirect_with_a_page() {
    let mock = MockEntra::start().await.unwrap();
    let url = Authz::new(REDIRECT, "query").url(&mock.base_url());
    for (name, value, code) in [
        ("client_id", None, "AADSTS900144"),
        ("client_id", Some("not-a-guid"), "AADSTS700016"),
        (
            "redirect_uri",
            Some("https://evil.example/cb"),
            "AADSTS50011",
        ),
        (
            "redirect_uri",
            Some("http://localhost.evil.example:8400"),
            "AADSTS50011",
        ),
    ] {
        let r = get(&mock, &with_param(&url, name, value)).await;
        assert_eq!(r.status(), 400, "{name}={value:?}");
        assert!(r.headers().get("location").is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains(code), "{page}");
    }
    // Any loopback host and port, optional path.
    for ok in [
        "http://127.0.0.1:50123/cb",
        "http://[::1]:1234",
        "http://localhost",
    ] {
        let r = get(&mock, &with_param(&url, "redirect_uri", Some(ok))).await;
        assert_eq!(r.status(), 302, "{ok}");
        assert!(r.headers()["location"].to_str().unwrap().starts_with(ok));
    }
}

#[tokio::test]
async fn authorize_errors_after_validation_redirect_with_state() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let url = authz.url(&mock.base_url());
    for (name, value, error) in [
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge", None, "invalid_request"),
        ("code_challenge", Some("short"), "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("scope", None, "invalid_request"),
    ] {
        let r = get(&mock, &with_param(&url, name, value)).await;
        assert_eq!(r.status(), 302, "{name}");
        let q = query_of(r.headers()["location"].to_str().unwrap());
        assert_eq!(crate::support::get(&q, "error"), Some(error), "{name}");
        assert!(
            crate::support::get(&q, "error_description")
                .unwrap()
                .starts_with("AADSTS")
        );
        assert_eq!(crate::support::get(&q, "state"), Some(authz.state.as_str()));
        assert!(crate::support::get(&q, "code").is_none());
    }
    let r = get(&mock, &with_param(&url, "state", None)).await;
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(crate::support::get(&q, "error"), Some("invalid_request"));
    assert!(crate::support::get(&q, "state").is_none());
}

#[tokio::test]
async fn configured_refusals() {
    let mock = MockEntra::builder()
        .authorize_refusal(AuthorizeRefusal::ConsentRequired)
        .start()
        .await
        .unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let q = authorize_query(&mock, &authz).await;
    assert_eq!(crate::support::get(&q, "error"), Some("consent_required"));
    assert!(
        crate::support::get(&q, "error_description")
            .unwrap()
            .starts_with("AADSTS65001")
    );
    assert_eq!(crate::support::get(&q, "state"), Some(authz.state.as_str()));

    mock.set_authorize_refusal(Some(AuthorizeRefusal::AccessDenied));
    let q = authorize_query(&mock, &authz).await;
    assert_eq!(crate::support::get(&q, "error"), Some("access_denied"));
    mock.set_authorize_refusal(None);
    let q = authorize_query(&mock, &authz).await;
    assert!(crate::support::get(&q, "code").is_some());
}

#[tokio::test]
async fn form_post_page_escapes_values() {
    let mock = MockEntra::start().await.unwrap();
    let mut authz = Authz::new(REDIRECT, "form_post");
    authz.state = r#"a"b<c>&d'e"#.into();
    let r = get(&mock, &authz.url(&mock.base_url())).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"name="state" value="a&quot;b&lt;c&gt;&amp;d&#39;e""#),
        "{page}"
    );
    assert!(page.contains(r#"action="http://localhost:8400""#));
    assert!(page.contains("document.forms[0].submit()"));
}

#[tokio::test]
async fn login_hint_and_user_header_choose_the_user() {
    let bob = TestUser::new("bob@contoso.onmicrosoft.com", DEFAULT_TENANT_ID);
    let mock = MockEntra::builder()
        .user(bob.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(
        mock.default_user(),
        bob,
        "the first configured user is the default"
    );

    let authz = Authz::new(REDIRECT, "query");
    let url = with_param(
        &authz.url(&mock.base_url()),
        "login_hint",
        Some(entra_testing::DEFAULT_USERNAME),
    );
    let r = get(&mock, &url).await;
    let q = query_of(r.headers()["location"].to_str().unwrap());
    let code = crate::support::get(&q, "code").unwrap();
    let (_, tok) = token_call(&mock, "organizations", &authz.token_form(code)).await;
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["preferred_username"], entra_testing::DEFAULT_USERNAME);

    let r = mock
        .http_client()
        .get(authz.url(&mock.base_url()))
        .header(entra_testing::USER_HEADER, "nobody@contoso.onmicrosoft.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("AADSTS50034"));
}

#[tokio::test]
async fn html_sign_in_page() {
    let bob = TestUser::new("bob@contoso.onmicrosoft.com", DEFAULT_TENANT_ID);
    let mock = MockEntra::builder()
        .user(bob.clone())
        .sign_in_page(true)
        .start()
        .await
        .unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let r = get(&mock, &authz.url(&mock.base_url())).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(
            r#"<form id="mock-entra-sign-in" method="post" action="/organizations/login">"#
        ),
        "{page}"
    );
    assert!(page.contains(r#"name="login""#));
    assert!(page.contains(r#"type="submit""#));
    let ctx = page
        .split(r#"name="ctx" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let login = format!("{}/organizations/login", mock.base_url());
    let r = mock
        .http_client()
        .post(&login)
        .form(&[("ctx", ctx.as_str()), ("login", "who@x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("usernameError"));

    let r = mock
        .http_client()
        .post(&login)
        .form(&[("ctx", ctx.as_str()), ("login", bob.username())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(crate::support::get(&q, "state"), Some(authz.state.as_str()));
    let (_, tok) = token_call(
        &mock,
        "organizations",
        &authz.token_form(crate::support::get(&q, "code").unwrap()),
    )
    .await;
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["oid"], bob.oid());
    assert_eq!(mock.count(Endpoint::SignIn), 2);

    // The context is single-use.
    let r = mock
        .http_client()
        .post(&login)
        .form(&[("ctx", ctx.as_str()), ("login", bob.username())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Per request, without the builder flag.
    mock.set_sign_in_page(false);
    let r = get(&mock, &authz.url(&mock.base_url())).await;
    assert_eq!(r.status(), 302);
    let r = get(
        &mock,
        &format!(
            "{}&{}=1",
            authz.url(&mock.base_url()),
            entra_testing::SIGN_IN_PAGE_PARAM
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn adfs_variant() {
    let mock = MockEntra::start().await.unwrap();
    let mut authz = Authz::new(REDIRECT, "query");
    authz.tenant = "adfs".into();
    let url = authz
        .url(&mock.base_url())
        .replace("/adfs/oauth2/v2.0/authorize", "/adfs/oauth2/authorize");
    let r = get(&mock, &url).await;
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(
        crate::support::get(&q, "client_info").is_none(),
        "ADFS sends no client_info"
    );
    let code = crate::support::get(&q, "code").unwrap();
    let resp = mock
        .http_client()
        .post(format!("{}/adfs/oauth2/token/", mock.base_url()))
        .form(&authz.token_form(code))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tok: serde_json::Value = resp.json().await.unwrap();
    assert!(tok.get("client_info").is_none());
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["upn"], mock.default_user().username());
    assert_eq!(id["iss"], format!("{}/adfs", mock.base_url()));
    assert!(id.get("tid").is_none());
    assert_eq!(id["nonce"], authz.nonce.as_str());
    let keys = get(&mock, &format!("{}/adfs/discovery/keys", mock.base_url())).await;
    assert_eq!(keys.status(), 200);
}

#[tokio::test]
async fn request_log_records_everything_and_debug_hides_secrets() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let resp = mock
        .http_client()
        .post(format!(
            "{}/organizations/oauth2/v2.0/token",
            mock.base_url()
        ))
        .header("x-client-sku", "entra-rs")
        .form(&authz.token_form(&code))
        .send()
        .await
        .unwrap();
    let tok: serde_json::Value = resp.json().await.unwrap();
    let _ = get(&mock, &format!("{}/favicon.ico", mock.base_url())).await;

    let log = mock.requests();
    assert_eq!(log.len(), 3);
    let auth = &log[0];
    assert_eq!(auth.endpoint(), Endpoint::Authorize);
    assert_eq!(auth.method(), "GET");
    assert_eq!(auth.path(), "/organizations/oauth2/v2.0/authorize");
    assert_eq!(auth.tenant(), Some("organizations"));
    assert_eq!(auth.query_param("state"), Some(authz.state.as_str()));
    assert_eq!(auth.status(), Some(302));
    let token = &log[1];
    assert_eq!(token.method(), "POST");
    assert_eq!(token.form_param("code"), Some(code.as_str()));
    assert_eq!(token.header("X-Client-SKU"), Some("entra-rs"));
    assert_eq!(token.host(), format!("localhost:{}", mock.port()));
    assert_eq!(log[2].endpoint(), Endpoint::Other);
    assert_eq!(log[2].status(), Some(404));
    assert_eq!(mock.count(Endpoint::Other), 1);
    assert_eq!(mock.total_requests(), 3);

    let secrets = [
        code.as_str(),
        authz.verifier.as_str(),
        authz.state.as_str(),
        tok["access_token"].as_str().unwrap(),
        tok["refresh_token"].as_str().unwrap(),
    ];
    let debug = format!("{mock:?} {log:?}");
    for s in secrets {
        assert!(!debug.contains(s), "Debug leaked a secret: {debug}");
    }

    mock.clear_log();
    assert_eq!(mock.total_requests(), 0);
    assert!(mock.requests().is_empty());
    // Clearing the log does not revoke anything.
    let (status, _) = token_call(
        &mock,
        "organizations",
        &refresh_form(tok["refresh_token"].as_str().unwrap(), SCOPE),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mock.count(Endpoint::Token), 1);
}
