//! A full authorize → redirect → token exchange driven by hand with plain HTTP calls.

use entra_core::BrowserOpener;
use entra_testing::{Endpoint, HeadlessBrowser, MockEntra};

use crate::support::*;

#[tokio::test]
async fn form_post_sign_in_and_code_exchange_by_hand() {
    let mock = MockEntra::start().await.unwrap();
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&loopback.redirect_uri(), "form_post");
    let client = mock.http_client();

    // Tenant discovery, as a client does first.
    let oidc: serde_json::Value = client
        .get(format!(
            "{}/organizations/v2.0/.well-known/openid-configuration",
            mock.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let authorize_endpoint = oidc["authorization_endpoint"].as_str().unwrap();
    let token_endpoint = oidc["token_endpoint"].as_str().unwrap().to_owned();
    assert_eq!(
        authorize_endpoint,
        format!("{}/organizations/oauth2/v2.0/authorize", mock.base_url())
    );

    // The stand-in browser signs in and posts the form to our loopback listener.
    let browser = HeadlessBrowser::new(&mock);
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(2).await;
    let outcome = browser.wait_until_done().await.unwrap();
    assert!(outcome.delivered(), "{outcome:?}");
    assert_eq!(
        outcome.redirect().unwrap().body(),
        "Authentication complete. You can close this window."
    );
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].target, "/");
    assert_eq!(got[1].method, "GET");
    assert_eq!(got[1].target, "/favicon.ico");
    let form = got[0].form();
    assert_eq!(get(&form, "state"), Some(authz.state.as_str()));
    let code = get(&form, "code").unwrap().to_owned();
    let client_info = get(&form, "client_info").unwrap().to_owned();
    let user = mock.default_user();
    let ci: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &client_info,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(ci["uid"], user.oid());
    assert_eq!(ci["utid"], user.home_tenant_id());

    // Redeem the code.
    let resp = client
        .post(&token_endpoint)
        .form(&authz.token_form(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tok: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    assert_eq!(tok["ext_expires_in"], 3600);
    assert!(tok.get("refresh_in").is_none());
    assert_eq!(
        tok["scope"],
        "https://graph.microsoft.com/.default openid profile offline_access"
    );
    assert_eq!(tok["client_info"], client_info.as_str());
    let id = mock
        .verify_token(tok["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["nonce"], authz.nonce.as_str());
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["tid"], user.home_tenant_id());
    assert_eq!(id["oid"], user.oid());
    assert_eq!(id["preferred_username"], user.username());
    assert_eq!(
        id["iss"],
        format!("{}/{}/v2.0", mock.base_url(), user.home_tenant_id())
    );
    assert!(id["exp"].as_i64().unwrap() > id["iat"].as_i64().unwrap());
    let at = mock
        .verify_token(tok["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    assert_eq!(at["tid"], user.home_tenant_id());

    // Exactly one round trip per step.
    assert_eq!(mock.count(Endpoint::OpenIdConfiguration), 1);
    assert_eq!(mock.count(Endpoint::Authorize), 1);
    assert_eq!(mock.count(Endpoint::Token), 1);
    assert_eq!(mock.total_requests(), 3);
    let token_req = mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(token_req.grant_type(), Some("authorization_code"));
    assert_eq!(
        token_req.form_param("code_verifier"),
        Some(authz.verifier.as_str())
    );
}

#[tokio::test]
async fn query_sign_in_over_plain_http() {
    let mock = MockEntra::builder().http().start().await.unwrap();
    assert!(mock.base_url().starts_with("http://localhost:"));
    let mut loopback = Loopback::start().await;
    let authz = Authz::new(&format!("{}/callback", loopback.redirect_uri()), "query");
    let browser = HeadlessBrowser::builder(&mock).favicon(false).build();
    browser.open(&authz.url(&mock.base_url())).await.unwrap();
    let got = loopback.take(1).await;
    browser.wait_until_done().await.unwrap();
    assert_eq!(got[0].method, "GET");
    assert!(got[0].target.starts_with("/callback?"), "{}", got[0].target);
    let q = query_of(&format!("http://localhost{}", got[0].target));
    assert_eq!(get(&q, "state"), Some(authz.state.as_str()));
    assert!(get(&q, "client_info").is_some());
    let code = get(&q, "code").unwrap();
    let tok: serde_json::Value = mock
        .http_client()
        .post(format!(
            "{}/organizations/oauth2/v2.0/token",
            mock.base_url()
        ))
        .form(&authz.token_form(code))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tok["access_token"].is_string(), "{tok}");
}
