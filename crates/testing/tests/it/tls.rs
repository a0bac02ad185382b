//! TLS: the exposed CA is what makes HTTPS work; real Entra host names resolve to the mock.

use entra_testing::{Endpoint, MockEntra};

#[tokio::test]
async fn https_with_the_ca_succeeds_and_without_it_fails() {
    let mock = MockEntra::start().await.unwrap();
    assert!(mock.base_url().starts_with("https://localhost:"));
    let url = format!(
        "{}/common/v2.0/.well-known/openid-configuration",
        mock.base_url()
    );

    let pem = mock.ca_certificate_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let trusting = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert_eq!(trusting.get(&url).send().await.unwrap().status(), 200);

    let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
    let err = untrusting.get(&url).send().await.unwrap_err();
    assert!(
        err.is_connect() || err.to_string().contains("error"),
        "{err}"
    );
    // Only the trusted request reached the HTTP layer.
    assert_eq!(mock.count(Endpoint::OpenIdConfiguration), 1);
}

#[tokio::test]
async fn real_entra_host_names_reach_the_mock_over_tls() {
    let mock = MockEntra::start().await.unwrap();
    let client = mock.resolving_http_client();
    // No port in the URL: the resolve override's port is used.
    let oidc: serde_json::Value = client
        .get(
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        oidc["issuer"],
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );
    assert_eq!(
        oidc["token_endpoint"],
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    );
    let req = mock.last_request(Endpoint::OpenIdConfiguration).unwrap();
    assert_eq!(req.host(), "login.microsoftonline.com");

    let only_china = mock
        .http_client_resolving(&["login.chinacloudapi.cn"])
        .unwrap();
    let resp = only_china
        .get("https://login.chinacloudapi.cn/common/discovery/v2.0/keys")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn several_mocks_run_at_once_and_shut_down() {
    let a = MockEntra::start().await.unwrap();
    let b = MockEntra::builder().http().start().await.unwrap();
    assert_ne!(a.port(), b.port());
    let url = format!(
        "{}/common/v2.0/.well-known/openid-configuration",
        a.base_url()
    );
    assert_eq!(
        a.http_client().get(&url).send().await.unwrap().status(),
        200
    );
    let b_url = format!(
        "{}/common/v2.0/.well-known/openid-configuration",
        b.base_url()
    );
    let client = b.http_client();
    assert_eq!(client.get(&b_url).send().await.unwrap().status(), 200);
    b.shutdown().await;
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.get(&b_url).send().await.is_err());
    assert_eq!(a.count(Endpoint::OpenIdConfiguration), 1);
}
