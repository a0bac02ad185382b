//! `TokenClient` against a mock token endpoint: forms, headers, errors, retries, caps, timeouts.

use std::error::Error as _;
use std::time::Duration;

use entra_core::Secret;
use entra_msal_lite::{
    AuthCodeGrant, EndpointResolver, Endpoints, MsalError, RefreshGrant, RetryPolicy, TokenClient,
    TokenClientOptions, response::ClientInfo,
};
use mockito::Matcher;

use crate::support::{
    b64, client, client_with, http, insecure, mock_authority, oidc_document, resolver,
};

const TOKEN_PATH: &str = "/contoso/oauth2/v2.0/token";

/// Endpoints of the mock authority, resolved through its OpenID configuration.
async fn endpoints(server: &mut mockito::ServerGuard) -> std::sync::Arc<Endpoints> {
    let options = insecure().with_disable_instance_discovery(true);
    let authority = mock_authority(server, "contoso", &options);
    let base = format!("{}/contoso", server.url());
    let _m = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(&base, &format!("{base}/v2.0")))
        .create_async()
        .await;
    resolver(server, client())
        .resolve(&authority)
        .await
        .unwrap()
}

fn success_body() -> String {
    serde_json::json!({
        "token_type": "Bearer",
        "scope": "api://x/.default openid profile offline_access",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "refresh_in": 1800,
        "access_token": "AT-1",
        "refresh_token": "RT-1",
        "client_info": b64(r#"{"uid":"uid-1","utid":"utid-1"}"#),
    })
    .to_string()
}

#[tokio::test]
async fn redeem_code_sends_msal_form_and_headers() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let mock = server
        .mock("POST", TOKEN_PATH)
        .match_header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .match_header("accept", "application/json")
        .match_header(
            "client-request-id",
            Matcher::Regex(
                "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$".into(),
            ),
        )
        .match_header("x-client-sku", entra_msal_lite::request::CLIENT_SKU)
        .match_header("x-client-ver", Matcher::Any)
        .match_header("x-client-os", Matcher::Any)
        .match_header("x-ms-lib-capability", "retry-after, h429")
        .match_header("x-anchormailbox", "Oid:uid-0@utid-0")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            Matcher::UrlEncoded("client_id".into(), "client-1".into()),
            Matcher::UrlEncoded("code".into(), "CODE-1".into()),
            Matcher::UrlEncoded("code_verifier".into(), "VERIFIER-1".into()),
            Matcher::UrlEncoded("redirect_uri".into(), "http://localhost:8400".into()),
            Matcher::UrlEncoded(
                "scope".into(),
                "api://x/.default offline_access openid profile".into(),
            ),
            Matcher::UrlEncoded("client_info".into(), "1".into()),
            Matcher::UrlEncoded(
                "claims".into(),
                r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#.into(),
            ),
        ]))
        .with_header("content-type", "application/json")
        .with_body(success_body())
        .expect(1)
        .create_async()
        .await;
    let grant = AuthCodeGrant::new(
        "client-1",
        Secret::new("CODE-1"),
        Secret::new("VERIFIER-1"),
        "http://localhost:8400",
        &["api://x/.default"],
    )
    .with_claims(Some(entra_msal_lite::CAE_CAPABILITIES))
    .with_client_info(Some(ClientInfo::new("uid-0", Some("utid-0".to_owned()))));
    let response = client().redeem_code(&endpoints, &grant).await.unwrap();
    mock.assert_async().await;
    assert_eq!(response.access_token.secret(), "AT-1");
    assert_eq!(response.refresh_token.as_ref().unwrap().secret(), "RT-1");
    assert_eq!(
        response.client_info.as_ref().unwrap().home_account_id(),
        "uid-1.utid-1"
    );
    assert_eq!(
        response.refresh_on,
        Some(response.received_at + time::Duration::seconds(1800))
    );
}

#[tokio::test]
async fn refresh_error_response_is_typed_and_not_retried() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let mock = server
        .mock("POST", TOKEN_PATH)
        .match_header("x-anchormailbox", "Oid:uid@utid")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "refresh_token".into()),
            Matcher::UrlEncoded("refresh_token".into(), "RT-OLD".into()),
            Matcher::UrlEncoded("client_info".into(), "1".into()),
        ]))
        .with_status(400)
        .with_body(
            r#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired.",
                "error_codes":[700082],"suberror":"bad_token","correlation_id":"c-9","trace_id":"t-9",
                "timestamp":"2026-11-24 10:00:00Z"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let grant = RefreshGrant::new("client-1", Secret::new("RT-OLD"), &["api://x/.default"])
        .with_home_account_id(Some("uid.utid"));
    let err = client_with(RetryPolicy::default().with_delays(Duration::ZERO, Duration::ZERO))
        .refresh(&endpoints, &grant)
        .await
        .unwrap_err();
    mock.assert_async().await;
    assert!(err.is_invalid_grant() && err.is_interaction_required());
    assert_eq!(err.status(), Some(400));
    let r = err.error_response().unwrap();
    assert_eq!(r.error_codes, [700082]);
    assert_eq!(r.suberror.as_deref(), Some("bad_token"));
    assert_eq!(r.correlation_id.as_deref(), Some("c-9"));
    assert_eq!(r.trace_id.as_deref(), Some("t-9"));
    let core: entra_core::Error = err.into();
    assert_eq!(
        core.message(),
        "Authentication failed: AADSTS700082: The refresh token has expired."
    );
    assert_eq!(core.status(), Some(400));
    assert_eq!(core.error_response().unwrap().error, "invalid_grant");
    assert!(!format!("{core:?}").contains("RT-OLD"));
}

#[tokio::test]
async fn retries_honour_retry_after() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let busy = server
        .mock("POST", TOKEN_PATH)
        .with_status(503)
        .with_header("retry-after", "0")
        .with_body("busy")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("POST", TOKEN_PATH)
        .with_body(success_body())
        .expect(1)
        .create_async()
        .await;
    // Without Retry-After the client would wait an hour: finishing proves it was honoured.
    let policy = RetryPolicy::default()
        .with_max_retries(2)
        .with_delays(Duration::from_secs(3600), Duration::from_secs(3600));
    let grant = RefreshGrant::new("c", Secret::new("rt"), &["s"]);
    let response = tokio::time::timeout(
        Duration::from_secs(60),
        client_with(policy).refresh(&endpoints, &grant),
    )
    .await
    .expect("Retry-After: 0 must be honoured instead of the one-hour back-off")
    .unwrap();
    assert_eq!(response.access_token.secret(), "AT-1");
    busy.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn retry_after_beyond_the_bound_ends_retries_and_is_reported() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let throttled = server
        .mock("POST", TOKEN_PATH)
        .with_status(429)
        .with_header("retry-after", "3600")
        .with_body(r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: loop detected"}"#)
        .expect(1)
        .create_async()
        .await;
    let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(60));
    let grant = RefreshGrant::new("c", Secret::new("rt"), &["s"]);
    let err = client_with(policy)
        .refresh(&endpoints, &grant)
        .await
        .unwrap_err();
    throttled.assert_async().await;
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.is_transient());
    assert_eq!(err.oauth_error(), Some("temporarily_unavailable"));
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let failing = server
        .mock("POST", TOKEN_PATH)
        .with_status(500)
        .with_body("<html>internal error</html>")
        .expect(3)
        .create_async()
        .await;
    let policy = RetryPolicy::default()
        .with_max_retries(2)
        .with_delays(Duration::from_millis(1), Duration::from_millis(2));
    let grant = RefreshGrant::new("c", Secret::new("rt"), &["s"]);
    let err = client_with(policy)
        .refresh(&endpoints, &grant)
        .await
        .unwrap_err();
    failing.assert_async().await;
    assert!(
        matches!(err, MsalError::HttpStatus { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn response_size_is_capped() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let big = format!(
        r#"{{"access_token":"{}","expires_in":60}}"#,
        "a".repeat(4096)
    );
    let declared = server
        .mock("POST", TOKEN_PATH)
        .with_body(big.clone())
        .expect(1)
        .create_async()
        .await;
    let options = TokenClientOptions::default()
        .with_max_response_bytes(1024)
        .with_retry(RetryPolicy::none());
    let client = TokenClient::with_options(http(), options);
    let grant = RefreshGrant::new("c", Secret::new("rt"), &["s"]);
    let err = client.refresh(&endpoints, &grant).await.unwrap_err();
    declared.assert_async().await;
    assert!(
        matches!(err, MsalError::ResponseTooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    declared.remove_async().await;

    // Chunked, without Content-Length: cut while streaming.
    let streamed = server
        .mock("POST", TOKEN_PATH)
        .with_chunked_body(move |w| w.write_all(big.as_bytes()))
        .expect(1)
        .create_async()
        .await;
    let err = client.refresh(&endpoints, &grant).await.unwrap_err();
    streamed.assert_async().await;
    assert!(matches!(err, MsalError::ResponseTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("1024 bytes"));
}

#[tokio::test]
async fn malformed_success_body_is_a_typed_error() {
    let mut server = mockito::Server::new_async().await;
    let endpoints = endpoints(&mut server).await;
    let _m = server
        .mock("POST", TOKEN_PATH)
        .with_body(r#"{"access_token":"AT-SECRET","expires_in":"#)
        .create_async()
        .await;
    let grant = RefreshGrant::new("c", Secret::new("rt"), &["s"]);
    let err = client().refresh(&endpoints, &grant).await.unwrap_err();
    assert!(
        matches!(
            err,
            MsalError::MalformedResponse {
                category: "eof",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("AT-SECRET"));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and never answer.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let authority = entra_msal_lite::Authority::parse_with(
        &format!("http://127.0.0.1:{port}/contoso"),
        &insecure(),
    )
    .unwrap();
    let token_endpoint = url::Url::parse(&format!("http://127.0.0.1:{port}{TOKEN_PATH}")).unwrap();
    let request = RefreshGrant::new("c", Secret::new("rt"), &["s"])
        .to_request(&token_endpoint)
        .unwrap();
    let client = TokenClient::with_options(
        http(),
        TokenClientOptions::default()
            .with_timeout(Duration::from_millis(200))
            .with_retry(RetryPolicy::none()),
    );
    let err = client.execute(&request).await.unwrap_err();
    holder.abort();
    assert!(matches!(err, MsalError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(authority.options().allows_insecure_http());
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(core.message().contains("timed out"), "{core}");
}

#[tokio::test]
async fn connection_failures_are_network_errors_with_a_source() {
    // A port nobody listens on: bind, note it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let token_endpoint = url::Url::parse(&format!("http://127.0.0.1:{port}{TOKEN_PATH}")).unwrap();
    let request = RefreshGrant::new("c", Secret::new("RT-SECRET"), &["s"])
        .to_request(&token_endpoint)
        .unwrap();
    let policy = RetryPolicy::default()
        .with_max_retries(1)
        .with_delays(Duration::from_millis(1), Duration::from_millis(1));
    let err = client_with(policy).execute(&request).await.unwrap_err();
    assert!(matches!(err, MsalError::Network { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(err.source().is_some());
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(core.source().is_some());
    assert!(
        core.message()
            .starts_with("Authentication failed: the token request to http://127.0.0.1:")
    );
    assert!(!format!("{core:?}").contains("RT-SECRET"));
}

#[tokio::test]
async fn default_http_client_builds() {
    // The rustls back end (aws-lc-rs) initialises without a process-wide provider.
    let client = TokenClient::new(TokenClient::default_http_client().unwrap());
    assert_eq!(client.options().timeout, Duration::from_secs(30));
    let _ = EndpointResolver::new(client);
}
