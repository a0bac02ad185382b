//! The `azure_core` feature end to end: a real azure_core HTTP pipeline with its bearer-token
//! policy, over reqwest, authorizes requests to a local HTTPS server with our credential's token.
#![cfg(feature = "azure_core")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use azure_core::credentials::TokenCredential as AzTokenCredential;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{ClientOptions, Context, Method, Pipeline, Request, StatusCode, Transport};
use entra_browser_flow::azure_core::AzureCoreCredential;
use entra_core::{AccessTokenInfo, TokenCredential, TokenRequestOptions};
use time::{Duration, OffsetDateTime};

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

/// An entra-rs credential with a cache of one token: counts how often it had to "go to the
/// network" (mint a token) and how often it was asked.
#[derive(Debug, Default)]
struct CachingFake {
    asked: AtomicUsize,
    minted: AtomicUsize,
    cached: std::sync::Mutex<Option<AccessTokenInfo>>,
}

#[async_trait]
impl TokenCredential for CachingFake {
    async fn get_token_info(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions>,
    ) -> entra_core::Result<AccessTokenInfo> {
        entra_core::validate_scopes("get_token_info", scopes)?;
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut cached = self.cached.lock().unwrap();
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst);
        let token = AccessTokenInfo::new(
            format!("fake-access-token-{n}"),
            OffsetDateTime::now_utc() + Duration::hours(1),
        );
        *cached = Some(token.clone());
        Ok(token)
    }
}

#[tokio::test]
async fn pipeline_sends_our_token_and_reuses_it() {
    let server = ResourceServer::start().await;
    let fake = Arc::new(CachingFake::default());
    let credential: Arc<dyn AzTokenCredential> = AzureCoreCredential::new(fake.clone());

    let first = pipeline(credential.clone(), &server);
    send(&first, &server, "/secrets/one").await;
    send(&first, &server, "/secrets/two").await;
    // A second client with the same credential: its policy has no token yet, so it asks our
    // credential, which answers from its cache.
    let second = pipeline(credential, &server);
    send(&second, &server, "/secrets/three").await;

    let seen = server.authorizations();
    assert_eq!(seen.len(), 3);
    for auth in &seen {
        assert_eq!(auth.as_deref(), Some("Bearer fake-access-token-0"));
    }
    assert_eq!(fake.minted.load(Ordering::SeqCst), 1, "one token minted");
    assert_eq!(
        fake.asked.load(Ordering::SeqCst),
        2,
        "each policy asked once; the second was served from our cache"
    );
}

#[tokio::test]
async fn a_credential_error_fails_the_request_with_a_credential_error_and_no_request() {
    #[derive(Debug)]
    struct Refusing;

    #[async_trait]
    impl TokenCredential for Refusing {
        async fn get_token_info(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions>,
        ) -> entra_core::Result<AccessTokenInfo> {
            Err(entra_core::Error::credential_unavailable(
                "Failed to open a browser. Set BROWSER or pass a browser opener.",
            )
            .with_credential("InteractiveBrowserCredential"))
        }
    }

    let server = ResourceServer::start().await;
    let pipeline = pipeline(AzureCoreCredential::new(Arc::new(Refusing)), &server);
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
    assert!(
        chain.iter().any(|e| e
            .to_string()
            .starts_with("InteractiveBrowserCredential: Failed to open a browser")),
        "{err:?}"
    );
    let ours = chain
        .iter()
        .find_map(|e| e.downcast_ref::<entra_core::Error>())
        .expect("our error is in the source chain");
    assert!(ours.is_credential_unavailable());
    assert!(
        server.authorizations().is_empty(),
        "no request without a token"
    );
}
