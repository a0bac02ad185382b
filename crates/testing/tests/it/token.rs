//! The token endpoint: codes, PKCE, refresh rotation, lifetimes, CAE and form errors.

use std::time::Duration;

use entra_testing::{ChallengeError, ClaimsChallenge, Endpoint, MockEntra, TestTenant};

use crate::support::*;

const REDIRECT: &str = "http://localhost:8400";

#[tokio::test]
async fn pkce_failure_is_invalid_grant_and_consumes_the_code() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let mut form = authz.token_form(&code);
    form.retain(|(k, _)| *k != "code_verifier");
    form.push(("code_verifier", pkce().0));
    let (status, body) = token_call(&mock, "organizations", &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 501_481);
    // The code is single-use even after a failed attempt.
    let (status, body) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 54_005);
}

#[tokio::test]
async fn missing_verifier_is_refused() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let mut form = authz.token_form(&code);
    form.retain(|(k, _)| *k != "code_verifier");
    let (status, body) = token_call(&mock, "organizations", &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 50_148);
}

#[tokio::test]
async fn code_reuse_is_refused() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let (status, _) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert_eq!(status, 200);
    let (status, body) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 54_005);
    let (status, body) = token_call(&mock, "organizations", &authz.token_form("made-up")).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 9_002_313);
    assert_eq!(mock.count(Endpoint::Token), 3);
}

#[tokio::test]
async fn code_is_bound_to_redirect_uri_client_and_lifetime() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let mut form = authz.token_form(&code);
    for f in form.iter_mut() {
        if f.0 == "redirect_uri" {
            f.1 = "http://localhost:8401".into();
        }
    }
    let (status, body) = token_call(&mock, "organizations", &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 70_000);

    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let mut form = authz.token_form(&code);
    for f in form.iter_mut() {
        if f.0 == "client_id" {
            f.1 = "00000000-0000-4000-8000-000000000001".into();
        }
    }
    let (status, body) = token_call(&mock, "organizations", &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 70_000);

    let expired = MockEntra::builder()
        .code_lifetime(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&expired, &authz).await;
    let (status, body) = token_call(&expired, "organizations", &authz.token_form(&code)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 70_008);
}

#[tokio::test]
async fn refresh_rotates_and_revokes_the_old_token() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let (_, first) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(mock.live_refresh_tokens(), 1);

    let (status, second) = token_call(&mock, "organizations", &refresh_form(&rt1, SCOPE)).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let id = mock
        .verify_token(second["id_token"].as_str().unwrap())
        .unwrap();
    assert!(
        id.get("nonce").is_none(),
        "a refreshed ID token carries no nonce"
    );
    assert_eq!(second["client_info"], first["client_info"]);

    let (status, body) = token_call(&mock, "organizations", &refresh_form(&rt1, SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 50_173);
    let (status, _) = token_call(&mock, "organizations", &refresh_form(&rt2, SCOPE)).await;
    assert_eq!(status, 200);

    mock.revoke_refresh_tokens();
    assert_eq!(mock.live_refresh_tokens(), 0);
    let grants: Vec<_> = mock
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.grant_type().unwrap().to_owned())
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn refresh_tokens_are_not_tenant_bound() {
    let other = TestTenant::random("fabrikam.onmicrosoft.com");
    let mock = MockEntra::builder()
        .tenant(other.clone())
        .start()
        .await
        .unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let (_, first) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let rt = first["refresh_token"].as_str().unwrap();
    // By domain name: tokens carry the tenant's GUID.
    let (status, body) =
        token_call(&mock, "fabrikam.onmicrosoft.com", &refresh_form(rt, SCOPE)).await;
    assert_eq!(status, 200, "{body}");
    let at = mock
        .verify_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["tid"], other.id());
    let id = mock
        .verify_token(body["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        id["iss"],
        format!("{}/{}/v2.0", mock.base_url(), other.id())
    );
    // The home account stays the same.
    assert_eq!(body["client_info"], first["client_info"]);
}

#[tokio::test]
async fn lifetimes_refresh_in_and_optional_tokens() {
    let mock = MockEntra::builder()
        .token_lifetime(Duration::from_secs(600))
        .ext_token_lifetime(Duration::from_secs(1200))
        .refresh_in(Duration::from_secs(300))
        .start()
        .await
        .unwrap();
    let mut authz = Authz::new(REDIRECT, "query");
    authz.scope = "api://my-api/access openid".into();
    let code = sign_in_code(&mock, &authz).await;
    let (status, body) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["ext_expires_in"], 1200);
    assert_eq!(body["refresh_in"], 300);
    assert_eq!(body["scope"], "api://my-api/access openid");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    assert!(body["id_token"].is_string());
    let at = mock
        .verify_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["aud"], "api://my-api");
    assert_eq!(at["scp"], "access openid");

    let mut authz = Authz::new(REDIRECT, "query");
    authz.scope = "https://graph.microsoft.com/User.Read".into();
    let code = sign_in_code(&mock, &authz).await;
    let (_, body) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert!(body.get("id_token").is_none(), "no openid, no ID token");
}

#[tokio::test]
async fn form_field_errors_are_entra_shaped() {
    let mock = MockEntra::builder()
        .allowed_client_ids([CLIENT_ID])
        .start()
        .await
        .unwrap();
    let (status, body) =
        token_call(&mock, "organizations", &[("client_id", CLIENT_ID.into())]).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900_144);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("'grant_type'")
    );

    let (status, body) = token_call(
        &mock,
        "organizations",
        &[
            ("grant_type", "password".into()),
            ("client_id", CLIENT_ID.into()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unsupported_grant_type", 70_003);

    let (status, body) = token_call(
        &mock,
        "organizations",
        &[
            ("grant_type", "refresh_token".into()),
            ("client_id", "00000000-0000-4000-8000-000000000009".into()),
            ("refresh_token", "x".into()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unauthorized_client", 700_016);

    let (status, body) = token_call(
        &mock,
        "organizations",
        &[
            ("grant_type", "refresh_token".into()),
            ("client_id", CLIENT_ID.into()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900_144);

    let (status, body) = token_call(&mock, "nosuch.example", &refresh_form("x", SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_tenant", 90_002);

    let (status, body) = token_call(
        &mock,
        "organizations",
        &refresh_form("x", "https://a.example/x https://b.example/y"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_scope", 28_000);

    // GET is refused; the correlation id echoes client-request-id.
    let resp = mock
        .http_client()
        .get(format!(
            "{}/organizations/oauth2/v2.0/token",
            mock.base_url()
        ))
        .header("client-request-id", "0a0b0c0d-0000-4000-8000-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_entra_error(&body, "invalid_request", 900_561);
    assert_eq!(
        body["correlation_id"],
        "0a0b0c0d-0000-4000-8000-000000000001"
    );
}

#[tokio::test]
async fn claims_challenge_demands_claims_and_records_capabilities() {
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new(REDIRECT, "query");
    let code = sign_in_code(&mock, &authz).await;
    let (_, first) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    assert_eq!(mock.last_client_capabilities(), Some(vec![]));
    assert_eq!(mock.last_claims(), None);
    let rt = first["refresh_token"].as_str().unwrap().to_owned();

    mock.set_claims_challenge(Some(ClaimsChallenge::new(challenge)));
    let (status, body) = token_call(&mock, "organizations", &refresh_form(&rt, SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "interaction_required", 50_076);
    assert_eq!(body["suberror"], "basic_action");
    assert_eq!(body["claims"], challenge);

    // With the challenge merged with the CP1 capability, the request succeeds.
    let merged = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"},"xms_cc":{"values":["CP1"]}}}"#;
    let mut form = refresh_form(&rt, SCOPE);
    form.push(("claims", merged.into()));
    let (status, body) = token_call(&mock, "organizations", &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        mock.last_client_capabilities(),
        Some(vec!["CP1".to_owned()])
    );
    assert_eq!(mock.last_claims().as_deref(), Some(merged));
    let at = mock
        .verify_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["xms_cc"], serde_json::json!(["CP1"]));
    // Satisfied once: cleared.
    assert!(mock.claims_challenge().is_none());

    mock.set_claims_challenge(Some(
        ClaimsChallenge::new(challenge)
            .with_error(ChallengeError::InvalidGrant)
            .persistent(),
    ));
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = token_call(&mock, "organizations", &refresh_form(&rt, SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 50_173);
    assert_eq!(body["claims"], challenge);
}
