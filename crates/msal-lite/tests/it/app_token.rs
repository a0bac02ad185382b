//! Confidential clients against the mock Entra ID (entra-testing): the client-credentials
//! grant with a client secret and with a certificate assertion (PS256, `x5t#S256`), each
//! checked by the mock as Entra ID checks it, and refused when it is wrong.

use std::sync::Arc;

use entra_core::Secret;
use entra_msal_lite::{
    Authority, AuthorityOptions, ClientCertificate, ClientCredential, ClientCredentialsGrant,
    EndpointResolver, Endpoints, MsalError, TokenClient,
};
use entra_testing::{ConfidentialApp, DEFAULT_TENANT_ID, Endpoint, MockEntra, TestCertificate};

const SECRET_APP: &str = "11111111-0000-4000-8000-000000000001";
const CERT_APP: &str = "11111111-0000-4000-8000-000000000002";
const SCOPE: &str = "api://orders/.default";

struct Mocked {
    mock: MockEntra,
    client: TokenClient,
    endpoints: Arc<Endpoints>,
    certificate: TestCertificate,
}

async fn mocked() -> Mocked {
    let certificate = TestCertificate::generate("orders-daemon").unwrap();
    let mock = MockEntra::builder()
        .confidential_app(ConfidentialApp::with_secret(SECRET_APP, "s3cret"))
        .confidential_app(ConfidentialApp::with_certificate(CERT_APP, &certificate))
        .start()
        .await
        .unwrap();
    let client = TokenClient::new(mock.http_client());
    let authority = Authority::parse_with(
        &mock.authority(DEFAULT_TENANT_ID),
        &AuthorityOptions::default().with_disable_instance_discovery(true),
    )
    .unwrap();
    let endpoints = EndpointResolver::new(client.clone())
        .resolve(&authority)
        .await
        .unwrap();
    Mocked {
        mock,
        client,
        endpoints,
        certificate,
    }
}

/// The client-credentials grant of the secret app, with `secret`, for `scopes`.
fn secret_grant(secret: &str, scopes: &[&str]) -> ClientCredentialsGrant {
    ClientCredentialsGrant::new(
        SECRET_APP,
        ClientCredential::Secret(Secret::new(secret)),
        scopes,
    )
}

fn certificate_credential(certificate: &TestCertificate) -> ClientCredential {
    ClientCredential::Certificate(Arc::new(
        ClientCertificate::from_pem(certificate.certificate_pem(), certificate.private_key_pem())
            .unwrap(),
    ))
}

#[tokio::test]
async fn an_app_token_with_a_client_secret() {
    let m = mocked().await;
    let grant = secret_grant("s3cret", &[SCOPE]);
    let response = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap();
    let claims = m.mock.verify_token(response.access_token.secret()).unwrap();
    assert_eq!(claims["aud"], "api://orders");
    assert_eq!(claims["appid"], SECRET_APP);
    assert_eq!(claims["idtyp"], "app");
    assert!(response.refresh_token.is_none());
    assert!(response.id_token.is_none());
    // The scope went as given: no openid/profile/offline_access, no client_info.
    let sent = m.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(sent.form_param("scope"), Some(SCOPE));
    assert_eq!(sent.form_param("client_info"), None);

    let wrong = secret_grant("guess", &[SCOPE]);
    let err = m
        .client
        .acquire_for_client(&m.endpoints, &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_client"), "{err:?}");
    assert!(!format!("{err:?} {err}").contains("guess"));
}

#[tokio::test]
async fn an_app_token_with_a_certificate_assertion() {
    let m = mocked().await;
    let grant =
        ClientCredentialsGrant::new(CERT_APP, certificate_credential(&m.certificate), &[SCOPE]);
    let response = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap();
    let claims = m.mock.verify_token(response.access_token.secret()).unwrap();
    assert_eq!(claims["appid"], CERT_APP);
    let sent = m.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(
        sent.form_param("client_assertion_type"),
        Some(entra_msal_lite::request::CLIENT_ASSERTION_TYPE)
    );
    let assertion = sent.form_param("client_assertion").unwrap();
    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
    assert!(header.x5c.is_none(), "no chain unless asked");

    // Another certificate (not registered) is refused; so is the right one for another app.
    let stranger = TestCertificate::generate("stranger").unwrap();
    let grant = ClientCredentialsGrant::new(CERT_APP, certificate_credential(&stranger), &[SCOPE]);
    let err = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_client"), "{err:?}");
    let grant =
        ClientCredentialsGrant::new(SECRET_APP, certificate_credential(&m.certificate), &[SCOPE]);
    let err = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_client"), "{err:?}");
}

#[tokio::test]
async fn a_user_style_scope_is_refused_before_any_request() {
    let m = mocked().await;
    m.mock.clear_log();
    let grant = secret_grant("s3cret", &["offline_access"]);
    let err = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap_err();
    assert!(matches!(err, MsalError::InvalidArgument(_)), "{err:?}");
    assert_eq!(m.mock.total_requests(), 0);
    // A scope without /.default reaches Entra ID, which refuses it (invalid_scope).
    let grant = secret_grant("s3cret", &["api://orders/Orders.Read"]);
    let err = m
        .client
        .acquire_for_client(&m.endpoints, &grant)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_scope"), "{err:?}");
}
