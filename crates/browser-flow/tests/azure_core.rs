//! The `azure_core` feature end to end: a real azure_core HTTP pipeline with its bearer-token
//! policy, over reqwest, authorizes requests to a local HTTPS server with our credential's token.
#![cfg(feature = "azure_core")]
// Test code, helpers included: a failure should fail loudly (clippy.toml allows this only
// inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use azure_core::credentials::TokenCredential as AzTokenCredential;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{ClientOptions, Context, Method, Pipeline, Request, StatusCode, Transport};
use entra_browser_flow::azure_core::AzureCoreCredential;
use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_core::TokenCredential;
use entra_testing::{BrowserBehavior, Endpoint, HeadlessBrowser, MockEntra};

use support::resource::ResourceServer;

const SCOPE: &str = "https://vault.azure.net/.default";

/// An azure_core pipeline as an Azure SDK client builds one: bearer policy per try, reqwest
/// transport (trusting only the local server's certificate).
fn pipeline(credential: Arc<dyn AzTokenCredential>, server: &ResourceServer) -> Pipeline {
    let bearer: Arc<dyn Policy> =
        Arc::new(BearerTokenAuthorizationPolicy::new(credential, [SCOPE]));
    let options = ClientOptions {
        transport: Some(Transport::new(Arc::new(server.reqwest_client()))),
        ..ClientOptions::default()
    };
    Pipeline::new(
        Some("entra-browser-flow-tests"),
        Some(env!("CARGO_PKG_VERSION")),
        options,
        Vec::new(),
        vec![bearer],
        None,
    )
}

async fn send(pipeline: &Pipeline, server: &ResourceServer, path: &str) {
    let mut request = Request::new(server.url(path), Method::Get);
    let response = pipeline
        .send(&Context::new(), &mut request, None)
        .await
        .expect("the pipeline sends the request");
    assert_eq!(response.status(), StatusCode::Ok);
}

/// The real credential against the mock (reached as `login.microsoftonline.com`), signing in
/// through the headless browser stand-in.
fn credential(mock: &MockEntra, browser: &HeadlessBrowser) -> Arc<InteractiveBrowserCredential> {
    InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_browser(Arc::new(browser.clone()))
            .with_timeout(std::time::Duration::from_secs(60)),
    )
    .unwrap()
}

#[tokio::test]
async fn pipeline_sends_our_token_and_later_requests_are_served_from_our_cache() {
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let server = ResourceServer::start().await;
    let credential = credential(&mock, &browser);

    // The credential itself is an azure_core credential (what `SecretClient::new` takes).
    let first = pipeline(credential.clone(), &server);
    send(&first, &server, "/secrets/one").await;
    assert_eq!(browser.open_count(), 1, "one interactive sign-in");
    assert_eq!(mock.count(Endpoint::Token), 1, "one code redemption");
    send(&first, &server, "/secrets/two").await;
    // A second client on the same credential: its policy has no token yet and asks the
    // credential, which answers from its cache. Same through the generic wrapper.
    let second = pipeline(credential.clone(), &server);
    send(&second, &server, "/secrets/three").await;
    let wrapped: Arc<dyn entra_core::TokenCredential> = credential.clone();
    let third = pipeline(AzureCoreCredential::new(wrapped), &server);
    send(&third, &server, "/secrets/four").await;
    assert_eq!(
        mock.count(Endpoint::Token),
        1,
        "no token request after the first"
    );
    assert_eq!(browser.open_count(), 1, "no second prompt");

    // Every request carried the token our credential issued (the mock's, for the scope).
    let issued = TokenCredential::get_token(&*credential, &[SCOPE], None)
        .await
        .unwrap();
    let claims = mock.verify_token(issued.token.secret()).unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
    let expected = format!("Bearer {}", issued.token.secret());
    let seen = server.authorizations();
    assert_eq!(seen.len(), 4);
    for auth in &seen {
        assert_eq!(auth.as_deref(), Some(expected.as_str()));
    }
    // The expiry crossed exactly.
    let az = AzTokenCredential::get_token(&*credential, &[SCOPE], None)
        .await
        .unwrap();
    assert_eq!(az.expires_on, issued.expires_on);
    assert_eq!(az.token.secret(), issued.token.secret());
    assert_eq!(mock.count(Endpoint::Token), 1);
}

#[tokio::test]
async fn a_failed_sign_in_fails_the_request_with_a_credential_error_and_no_request() {
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::builder(&mock)
        .behavior(BrowserBehavior::Cancel)
        .build();
    let server = ResourceServer::start().await;
    let pipeline = pipeline(credential(&mock, &browser), &server);
    let mut request = Request::new(server.url("/secrets/one"), Method::Get);
    let err = pipeline
        .send(&Context::new(), &mut request, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &azure_core::error::ErrorKind::Credential);
    // The pipeline's retry policy wraps the credential's error with its own context (same
    // kind); our message and our error are further down the source chain.
    let chain: Vec<&(dyn std::error::Error + 'static)> =
        std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .collect();
    let ours = chain
        .iter()
        .find_map(|e| e.downcast_ref::<entra_core::Error>())
        .expect("our error is in the source chain");
    assert!(ours.is_client_authentication(), "{ours:?}");
    assert_eq!(ours.error_response().unwrap().error, "access_denied");
    assert!(
        chain.iter().any(|e| {
            e.downcast_ref::<azure_core::Error>()
                .is_some_and(|az| az.to_string() == ours.to_string())
        }),
        "an azure_core error carries our message: {err:?}"
    );
    assert!(
        ours.to_string()
            .starts_with("InteractiveBrowserCredential: "),
        "{ours}"
    );
    assert!(
        server.authorizations().is_empty(),
        "no request without a token"
    );
    assert_eq!(mock.count(Endpoint::Token), 0);
}

/// What an Azure SDK for Rust user writes: both `TokenCredential` traits in scope (this file
/// imports both), a plain `credential.get_token(..)` call (the inherent method, no E0034
/// ambiguity), and `?` from an entra-rs error in a function returning `azure_core::Result`.
async fn token_for_a_client(
    credential: &InteractiveBrowserCredential,
) -> azure_core::Result<String> {
    let token = credential.get_token(&[SCOPE], None).await?;
    let record = credential
        .authentication_record()
        .ok_or_else(|| entra_core::Error::credential_unavailable("no account"))?;
    Ok(format!(
        "{} {}",
        record.username(),
        token.token.secret().len()
    ))
}

#[tokio::test]
async fn both_traits_in_scope_and_the_question_mark_conversion_compile_and_work() {
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let credential = credential(&mock, &browser);
    let line = token_for_a_client(&credential).await.unwrap();
    assert!(
        line.starts_with(&mock.default_user().username().to_string()),
        "{line}"
    );

    // An entra-rs failure arrives as azure_core's Credential error, with ours inside.
    let refusing = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_disable_automatic_authentication(true),
    )
    .unwrap();
    let err = token_for_a_client(&refusing).await.unwrap_err();
    assert_eq!(err.kind(), &azure_core::error::ErrorKind::Credential);
    let ours = err.downcast_ref::<entra_core::Error>().unwrap();
    assert!(ours.is_authentication_required());
    // The trait methods stay reachable by path.
    let via_trait = TokenCredential::get_token(&*credential, &[SCOPE], None)
        .await
        .unwrap();
    let via_azure = AzTokenCredential::get_token(&*credential, &[SCOPE], None)
        .await
        .unwrap();
    assert_eq!(via_trait.token.secret(), via_azure.token.secret());
}

/// The claims a CAE-enabled resource challenges for after revoking a token.
const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1726077595"}}}"#;

/// Issue 25: in a pipeline built with azure_core's own bearer policy and our
/// `ClaimsChallengeHandler`, a CAE revocation (`401` with a claims challenge) recovers in one
/// retry: one token request with the claims, and later requests carry the new token.
#[tokio::test]
async fn a_claims_challenge_recovers_in_one_retry_inside_the_bearer_policy() {
    use entra_browser_flow::azure_core::ClaimsChallengeHandler;
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let server = ResourceServer::start().await;
    let credential = credential(&mock, &browser);
    let bearer = BearerTokenAuthorizationPolicy::new(credential.clone(), [SCOPE])
        .with_on_challenge(ClaimsChallengeHandler::new(credential.clone(), [SCOPE]));
    let options = ClientOptions {
        transport: Some(Transport::new(Arc::new(server.reqwest_client()))),
        ..ClientOptions::default()
    };
    let pipeline = Pipeline::new(
        Some("entra-browser-flow-tests"),
        Some(env!("CARGO_PKG_VERSION")),
        options,
        Vec::new(),
        vec![Arc::new(bearer) as Arc<dyn Policy>],
        None,
    );
    send(&pipeline, &server, "/secrets/one").await;
    let revoked = server.authorizations()[0].clone().unwrap();
    server.revoke(revoked.trim_start_matches("Bearer "), CLAIMS);

    send(&pipeline, &server, "/secrets/two").await;
    assert_eq!(
        mock.count(Endpoint::Token),
        2,
        "sign-in, then one claims refresh"
    );
    let refresh = mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(refresh.grant_type(), Some("refresh_token"));
    assert_eq!(refresh.form_param("claims"), Some(CLAIMS));
    send(&pipeline, &server, "/secrets/three").await;
    let seen = server.authorizations();
    assert_eq!(
        seen.len(),
        4,
        "one request, the challenged one, its retry, one more"
    );
    assert_eq!(seen[1].as_deref(), Some(revoked.as_str()));
    assert_ne!(seen[2], seen[1], "the retry carries the new token");
    assert_eq!(seen[3], seen[2], "and so do later requests");
    assert_eq!(mock.count(Endpoint::Token), 2);
    assert_eq!(browser.open_count(), 1);
}

/// Issue 25: a client whose own policy drops the claims (every Azure SDK client today): the
/// call fails with the `401`; `refresh_after_challenge` gets a token with the claims, and the
/// same call made again succeeds with it.
#[tokio::test]
async fn after_an_sdk_call_fails_with_a_claims_challenge_refresh_after_challenge_recovers() {
    use entra_browser_flow::azure_core::{claims_challenge_of, refresh_after_challenge};
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let server = ResourceServer::start().await;
    let credential = credential(&mock, &browser);
    let pipeline = pipeline(credential.clone(), &server);
    send(&pipeline, &server, "/secrets/one").await;
    let revoked = server.authorizations()[0].clone().unwrap();
    server.revoke(revoked.trim_start_matches("Bearer "), CLAIMS);

    let mut request = Request::new(server.url("/secrets/two"), Method::Get);
    let err = pipeline
        .send(&Context::new(), &mut request, None)
        .await
        .unwrap_err();
    assert_eq!(claims_challenge_of(&err).as_deref(), Some(CLAIMS));
    assert!(
        refresh_after_challenge(&*credential, &err, &[SCOPE])
            .await
            .unwrap()
    );
    send(&pipeline, &server, "/secrets/two").await;
    assert_eq!(
        mock.count(Endpoint::Token),
        2,
        "sign-in, then one claims refresh"
    );
    assert_eq!(
        mock.last_request(Endpoint::Token)
            .unwrap()
            .form_param("claims"),
        Some(CLAIMS)
    );
    let seen = server.authorizations();
    assert_ne!(seen[2].as_deref(), Some(revoked.as_str()));
    // Not a claims challenge: nothing asked.
    let other = azure_core::Error::with_message(azure_core::error::ErrorKind::Other, "no");
    assert!(
        !refresh_after_challenge(&*credential, &other, &[SCOPE])
            .await
            .unwrap()
    );
    assert_eq!(mock.count(Endpoint::Token), 2);
}

/// Issue 25: Key Vault's tenant challenge names another tenant than the credential's: a
/// client given `AzureCoreCredential::with_options` with that tenant (allowed by
/// `additionally_allowed_tenants`) gets a token of that tenant and is served.
#[tokio::test]
async fn a_tenant_challenge_is_met_with_a_per_client_tenant() {
    use entra_core::TokenRequestOptions;
    const OTHER_TENANT: &str = "99999999-8888-4777-8666-555555555555";
    let mock = MockEntra::start().await.unwrap();
    let browser = HeadlessBrowser::new(&mock);
    let server = ResourceServer::start().await;
    server.require_tenant(OTHER_TENANT);
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(mock.resolving_http_client())
            .with_browser(Arc::new(browser.clone()))
            .with_additionally_allowed_tenants([OTHER_TENANT]),
    )
    .unwrap();
    // The client with the credential's own tenant is challenged for the other one.
    let plain = pipeline(credential.clone(), &server);
    let mut request = Request::new(server.url("/secrets/one"), Method::Get);
    let err = plain
        .send(&Context::new(), &mut request, None)
        .await
        .unwrap_err();
    let header = match err.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            raw_response: Some(response),
            ..
        } => response
            .headers()
            .get_str(&azure_core::http::headers::WWW_AUTHENTICATE)
            .unwrap()
            .to_owned(),
        other => panic!("{other:?}"),
    };
    let tenant = entra_msal_lite::tenant_from_challenge(&header).unwrap();
    assert_eq!(tenant, OTHER_TENANT);
    let wrapped: Arc<dyn entra_core::TokenCredential> = credential.clone();
    let for_tenant = pipeline(
        AzureCoreCredential::with_options(
            wrapped,
            TokenRequestOptions::default().with_tenant_id(tenant),
        ),
        &server,
    );
    send(&for_tenant, &server, "/secrets/one").await;
    assert_eq!(
        browser.open_count(),
        1,
        "the other tenant's token came silently"
    );
}
