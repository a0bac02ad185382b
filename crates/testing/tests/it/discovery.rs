//! Instance discovery, OpenID configuration and JWKS.

use entra_testing::{Endpoint, MSA_TENANT_ID, MockEntra, TestTenant};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::support::*;

async fn get_json(mock: &MockEntra, url: &str) -> (u16, serde_json::Value) {
    let resp = mock.resolving_http_client().get(url).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn instance_discovery_1_1_and_1_0() {
    let mock = MockEntra::start().await.unwrap();
    let url = "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1\
               &authorization_endpoint=https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize";
    let (status, body) = get_json(&mock, url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["tenant_discovery_endpoint"],
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(body["api-version"], "1.1");
    let public = body["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["preferred_network"] == "login.microsoftonline.com")
        .unwrap();
    assert_eq!(public["preferred_cache"], "login.windows.net");
    assert_eq!(
        public["aliases"],
        serde_json::json!([
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net"
        ])
    );

    // Python's api-version 1.0 call, for the mock's own host: a self entry is added.
    let url = format!(
        "{}/common/discovery/instance?api-version=1.0&authorization_endpoint={}/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        mock.base_url(),
        mock.base_url()
    );
    let (status, body) = get_json(&mock, &url).await;
    assert_eq!(status, 200);
    assert_eq!(body["api-version"], "1.0");
    let host = format!("localhost:{}", mock.port());
    assert!(
        body["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["aliases"] == serde_json::json!([host]))
    );
    assert_eq!(mock.count(Endpoint::InstanceDiscovery), 2);
}

#[tokio::test]
async fn untrusted_hosts_get_invalid_instance() {
    let mock = MockEntra::builder()
        .untrusted_host("login.evil.example")
        .start()
        .await
        .unwrap();
    let url = format!(
        "{}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.evil.example/common/oauth2/v2.0/authorize",
        mock.base_url()
    );
    let (status, body) = get_json(&mock, &url).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_instance", 50_049);

    let (status, body) = get_json(
        &mock,
        &format!(
            "{}/common/discovery/instance?api-version=1.1",
            mock.base_url()
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900_144);
    let (status, _) = get_json(
        &mock,
        &format!(
            "{}/common/discovery/instance?api-version=2.0&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            mock.base_url()
        ),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn openid_configuration_per_tenant_form() {
    let fabrikam = TestTenant::random("fabrikam.onmicrosoft.com");
    let mock = MockEntra::builder()
        .tenant(fabrikam.clone())
        .start()
        .await
        .unwrap();
    let b = mock.base_url();
    let oidc = |t: &str| format!("{b}/{t}/v2.0/.well-known/openid-configuration");

    for alias in ["common", "organizations"] {
        let (status, body) = get_json(&mock, &oidc(alias)).await;
        assert_eq!(status, 200);
        assert_eq!(body["issuer"], format!("{b}/{{tenantid}}/v2.0"));
        assert_eq!(
            body["authorization_endpoint"],
            format!("{b}/{alias}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            body["token_endpoint"],
            format!("{b}/{alias}/oauth2/v2.0/token")
        );
        assert_eq!(body["jwks_uri"], format!("{b}/{alias}/discovery/v2.0/keys"));
    }
    let (_, body) = get_json(&mock, &oidc("consumers")).await;
    assert_eq!(body["issuer"], format!("{b}/{MSA_TENANT_ID}/v2.0"));
    // A domain tenant resolves to its GUID, as Entra does.
    let (_, body) = get_json(&mock, &oidc("fabrikam.onmicrosoft.com")).await;
    assert_eq!(body["issuer"], format!("{b}/{}/v2.0", fabrikam.id()));
    assert_eq!(
        body["token_endpoint"],
        format!("{b}/{}/oauth2/v2.0/token", fabrikam.id())
    );
    let (status, body) = get_json(&mock, &oidc("nosuch.onmicrosoft.com")).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_tenant", 90_002);

    let (status, body) =
        get_json(&mock, &format!("{b}/adfs/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(body["issuer"], format!("{b}/adfs"));
    assert_eq!(body["token_endpoint"], format!("{b}/adfs/oauth2/token/"));
    assert_eq!(mock.count(Endpoint::OpenIdConfiguration), 6);
}

#[tokio::test]
async fn jwks_verifies_the_issued_tokens() {
    let mock = MockEntra::start().await.unwrap();
    let authz = Authz::new("http://localhost:8400", "query");
    let code = sign_in_code(&mock, &authz).await;
    let (_, tok) = token_call(&mock, "organizations", &authz.token_form(&code)).await;
    let (status, jwks) = get_json(
        &mock,
        &format!("{}/organizations/discovery/v2.0/keys", mock.base_url()),
    )
    .await;
    assert_eq!(status, 200);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    let id_token = tok["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let dk =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[CLIENT_ID]);
    let data = jsonwebtoken::decode::<serde_json::Value>(id_token, &dk, &v).unwrap();
    assert_eq!(data.claims["nonce"], authz.nonce.as_str());
    // Another mock's key does not verify these tokens.
    let other = MockEntra::start().await.unwrap();
    assert!(other.verify_token(id_token).is_err());
}
