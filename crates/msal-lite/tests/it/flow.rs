//! The whole authorization-code flow against a mock identity provider: resolve, authorize URL,
//! state check, redemption with PKCE, ID token checks, account and record.

use std::collections::HashMap;

use entra_core::Secret;
use entra_msal_lite::{
    Account, AuthCodeFlow, AuthorizeParams, IdTokenProblem, IdTokenValidation, MsalError,
    id_token::authentication_record, merge_client_capabilities, pkce::s256_challenge,
};

use crate::support::{b64, client, insecure, jwt, mock_authority, oidc_document, resolver};

const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Runs the flow; the mock echoes `nonce_override` (or the real nonce) in the ID token.
async fn run(
    nonce_override: Option<&str>,
) -> Result<(Account, entra_core::AuthenticationRecord), MsalError> {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let authority = mock_authority(&server, "organizations", &options);
    let base = format!("{}/organizations", server.url());
    let issuer_template = format!("{}/{{tenantid}}/v2.0", server.url());
    let _metadata = server
        .mock(
            "GET",
            "/organizations/v2.0/.well-known/openid-configuration",
        )
        .with_body(oidc_document(&base, &issuer_template))
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    let endpoints = resolver.resolve(&authority).await?;

    let claims = merge_client_capabilities(None, true)?;
    let params = AuthorizeParams::new(CLIENT, "http://localhost:8400", &["api://x/.default"])
        .with_claims(claims.as_deref());
    let flow = AuthCodeFlow::new(&endpoints, params)?;
    let url = flow.authorize_url();
    assert!(
        url.as_str()
            .starts_with(&format!("{base}/oauth2/v2.0/authorize?"))
    );

    // The "browser": the identity provider remembers the challenge and nonce of the URL.
    let challenge = url.query_param("code_challenge").unwrap();
    let nonce = nonce_override
        .map(str::to_owned)
        .or_else(|| url.query_param("nonce"))
        .unwrap();
    let iss = format!("{}/tenant-guid/v2.0", server.url());
    let token = server
        .mock("POST", "/organizations/oauth2/v2.0/token")
        .with_body_from_request(move |request| {
            let f = form(request.body().unwrap());
            let verified = f
                .get("code_verifier")
                .is_some_and(|v| s256_challenge(v) == challenge)
                && f.get("code").map(String::as_str) == Some("the-code")
                && f.get("claims").is_some_and(|c| c.contains("CP1"));
            if !verified {
                return br#"{"error":"invalid_grant","error_description":"PKCE or code mismatch"}"#
                    .to_vec();
            }
            let id_token = jwt(&serde_json::json!({
                "iss": iss, "aud": CLIENT, "sub": "sub-1", "oid": "oid-1", "tid": "tenant-guid",
                "nonce": nonce, "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
                "preferred_username": "alice@contoso.com",
            }));
            serde_json::json!({
                "token_type": "Bearer", "expires_in": 3600, "access_token": "AT",
                "refresh_token": "RT", "id_token": id_token,
                "client_info": b64(r#"{"uid":"oid-1","utid":"tenant-guid"}"#),
            })
            .to_string()
            .into_bytes()
        })
        .expect(1)
        .create_async()
        .await;

    // The redirect arrives with the same state and a code.
    let state = url.query_param("state").unwrap();
    flow.check_state(Some(&state))?;
    let grant = flow.redemption(Secret::new("the-code"), None);
    let response = client().redeem_code(&endpoints, &grant).await?;
    token.assert_async().await;

    let id_token = response.id_token.as_ref().unwrap();
    let claims = IdTokenValidation::new(CLIENT, &endpoints)
        .with_nonce(Some(flow.nonce()))
        .verify(id_token)?;
    let account = Account::from_id_token(&claims, response.client_info.as_ref(), &authority)?;
    let record = authentication_record(&claims, response.client_info.as_ref(), &authority)?;
    Ok((account, record))
}

#[tokio::test]
async fn sign_in_end_to_end() {
    let (account, record) = run(None).await.unwrap();
    assert_eq!(account.home_account_id, "oid-1.tenant-guid");
    assert_eq!(account.tenant_id, "tenant-guid");
    assert_eq!(account.username, "alice@contoso.com");
    // The cache's environment is the host without the port, as MSAL Python writes it; the
    // record keeps the port, as azure-identity's record does (the issuer's netloc).
    assert_eq!(account.environment, "127.0.0.1");
    assert_eq!(record.client_id(), CLIENT);
    assert_eq!(record.tenant_id(), "tenant-guid");
    assert!(
        record.authority().starts_with("127.0.0.1:"),
        "{}",
        record.authority()
    );
}

#[tokio::test]
async fn a_replayed_id_token_with_another_nonce_is_refused() {
    let err = run(Some("someone-elses-nonce")).await.unwrap_err();
    assert!(
        matches!(err, MsalError::IdToken(IdTokenProblem::WrongNonce)),
        "{err:?}"
    );
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(!core.message().contains("someone-elses-nonce"));
}
