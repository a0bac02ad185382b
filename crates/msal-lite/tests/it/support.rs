//! Helpers shared by the integration tests: clients, authorities and fake tokens.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_msal_lite::{
    Authority, AuthorityOptions, EndpointResolver, RetryPolicy, TokenClient, TokenClientOptions,
};
use url::Url;

/// A reqwest client that never uses a proxy (tests talk to 127.0.0.1 only).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A token client with fast, bounded behaviour for tests.
pub(crate) fn client_with(retry: RetryPolicy) -> TokenClient {
    TokenClient::with_options(
        http(),
        TokenClientOptions::default()
            .with_timeout(Duration::from_secs(10))
            .with_retry(retry),
    )
}

/// A token client that never retries.
pub(crate) fn client() -> TokenClient {
    client_with(RetryPolicy::none())
}

/// Options accepting the mock's http:// URLs.
pub(crate) fn insecure() -> AuthorityOptions {
    AuthorityOptions::default().danger_allow_insecure_http(true)
}

/// `<server>/<tenant>` as an insecure (test-only) authority.
pub(crate) fn mock_authority(
    server: &mockito::ServerGuard,
    tenant: &str,
    options: &AuthorityOptions,
) -> Authority {
    Authority::parse_with(&format!("{}/{tenant}", server.url()), options).unwrap()
}

/// A resolver whose instance discovery goes to the mock server.
pub(crate) fn resolver(server: &mockito::ServerGuard, client: TokenClient) -> EndpointResolver {
    let discovery = Url::parse(&format!("{}/common/discovery/instance", server.url())).unwrap();
    EndpointResolver::with_instance_discovery_endpoint(client, discovery)
}

/// An OpenID configuration document for `base` (`http://127.0.0.1:port/<tenant>`).
pub(crate) fn oidc_document(base: &str, issuer: &str) -> String {
    serde_json::json!({
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "issuer": issuer,
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
    })
    .to_string()
}

/// base64url without padding.
pub(crate) fn b64(data: &str) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// An unsigned JWT with `payload`.
pub(crate) fn jwt(payload: &serde_json::Value) -> String {
    format!(
        "{}.{}.sig",
        b64(r#"{"alg":"none"}"#),
        b64(&payload.to_string())
    )
}
