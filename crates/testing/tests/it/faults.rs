//! Fault injection: every kind, queued and persistent.

use std::time::Duration;

use entra_testing::{Endpoint, Fault, FaultTimes, MockEntra};

use crate::support::*;

async fn oidc(mock: &MockEntra) -> Result<reqwest::Response, reqwest::Error> {
    mock.http_client()
        .get(format!(
            "{}/organizations/v2.0/.well-known/openid-configuration",
            mock.base_url()
        ))
        .send()
        .await
}

#[tokio::test]
async fn too_many_requests_with_retry_after() {
    let mock = MockEntra::builder()
        .fault(Endpoint::Token, Fault::too_many_requests(7))
        .start()
        .await
        .unwrap();
    let (status, body) = token_call(&mock, "organizations", &refresh_form("x", SCOPE)).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"], "temporarily_unavailable");
    let resp = {
        mock.inject_fault(Endpoint::Token, Fault::too_many_requests(7));
        mock.http_client()
            .post(format!(
                "{}/organizations/oauth2/v2.0/token",
                mock.base_url()
            ))
            .form(&refresh_form("x", SCOPE))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(resp.headers()["retry-after"], "7");
    // The queue is spent: the next request is answered normally (invalid_grant for "x").
    let (status, body) = token_call(&mock, "organizations", &refresh_form("x", SCOPE)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let log = mock.requests_to(Endpoint::Token);
    assert_eq!(
        log.iter().map(|r| r.was_faulted()).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(
        log.iter().map(|r| r.status()).collect::<Vec<_>>(),
        [Some(429), Some(429), Some(400)]
    );
}

#[tokio::test]
async fn server_errors_queued_for_n_requests() {
    let mock = MockEntra::start().await.unwrap();
    mock.inject_fault_times(
        Endpoint::OpenIdConfiguration,
        Fault::server_error(503),
        FaultTimes::Next(2),
    );
    let r = oidc(&mock).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    mock.inject_fault(Endpoint::OpenIdConfiguration, Fault::server_error(500));
    assert_eq!(oidc(&mock).await.unwrap().status(), 503);
    let r = oidc(&mock).await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "server_error"
    );
    assert_eq!(oidc(&mock).await.unwrap().status(), 200);
}

#[tokio::test]
async fn persistent_fault_until_cleared() {
    let mock = MockEntra::start().await.unwrap();
    mock.inject_fault_times(
        Endpoint::OpenIdConfiguration,
        Fault::server_error(502),
        FaultTimes::Always,
    );
    for _ in 0..3 {
        assert_eq!(oidc(&mock).await.unwrap().status(), 502);
    }
    mock.clear_faults();
    assert_eq!(oidc(&mock).await.unwrap().status(), 200);
    assert_eq!(mock.count(Endpoint::OpenIdConfiguration), 4);
}

#[tokio::test]
async fn delay_then_normal_answer() {
    let mock = MockEntra::start().await.unwrap();
    mock.inject_fault(
        Endpoint::OpenIdConfiguration,
        Fault::Delay(Duration::from_millis(50)),
    );
    let r = oidc(&mock).await.unwrap();
    assert_eq!(r.status(), 200);
    let req = mock.last_request(Endpoint::OpenIdConfiguration).unwrap();
    assert!(!req.was_faulted(), "a delayed request is answered normally");
    assert_eq!(req.status(), Some(200));
}

#[tokio::test]
async fn malformed_json() {
    let mock = MockEntra::start().await.unwrap();
    mock.inject_fault(Endpoint::Token, Fault::MalformedJson);
    let r = mock
        .http_client()
        .post(format!(
            "{}/organizations/oauth2/v2.0/token",
            mock.base_url()
        ))
        .form(&refresh_form("x", SCOPE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(r.json::<serde_json::Value>().await.is_err());
}

#[tokio::test]
async fn invalid_grant_and_interaction_required() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new("http://localhost:8400", "query");
    let code = sign_in_code(&mock, &authz).await;
    let (_, tok) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let rt = tok["refresh_token"].as_str().unwrap().to_owned();

    mock.inject_fault(Endpoint::Token, Fault::InvalidGrant);
    let (status, body) = token_call(&mock, "organizations", &refresh_form(&rt, SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 70_000);

    mock.inject_fault(
        Endpoint::Token,
        Fault::interaction_required("consent_required"),
    );
    let (status, body) = token_call(&mock, "organizations", &refresh_form(&rt, SCOPE)).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "interaction_required", 50_076);
    assert_eq!(body["suberror"], "consent_required");

    // Faulted requests did not touch the refresh token.
    let (status, _) = token_call(&mock, "organizations", &refresh_form(&rt, SCOPE)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn closed_connection_and_custom_response() {
    let mock = MockEntra::start().await.unwrap();
    mock.inject_fault(Endpoint::OpenIdConfiguration, Fault::CloseConnection);
    let err = oidc(&mock).await.unwrap_err();
    assert!(!err.is_status(), "{err}");
    let req = mock.last_request(Endpoint::OpenIdConfiguration).unwrap();
    assert_eq!(req.status(), None);
    assert!(req.was_faulted());
    // The server keeps serving.
    assert_eq!(oidc(&mock).await.unwrap().status(), 200);

    mock.inject_fault(
        Endpoint::Keys,
        Fault::Response {
            status: 418,
            content_type: "text/plain".into(),
            body: "teapot".into(),
        },
    );
    let r = mock
        .http_client()
        .get(format!("{}/common/discovery/v2.0/keys", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.text().await.unwrap(), "teapot");
}
