//! Per-request tenants, as Python's `resolve_tenant`.

use entra_core::TokenRequestOptions;
use entra_testing::{DEFAULT_TENANT_ID, Endpoint};

use crate::common::{Env, SCOPE};

const OTHER_TENANT: &str = "99999999-8888-4777-8666-555555555555";

fn tenant(t: &str) -> Option<TokenRequestOptions> {
    Some(TokenRequestOptions::default().with_tenant_id(t))
}

#[tokio::test]
async fn a_configured_tenant_without_an_allow_list_refuses_others() {
    let env = Env::start().await;
    let credential = env.client_with(env.options().with_tenant_id(DEFAULT_TENANT_ID));
    let err = credential
        .get_token(&[SCOPE], tenant(OTHER_TENANT))
        .await
        .unwrap_err();
    assert!(err.is_client_authentication());
    assert_eq!(
        err.message(),
        format!(
            "The current credential is not configured to acquire tokens for tenant {OTHER_TENANT}. \
             To enable acquiring tokens for this tenant add it to the additionally_allowed_tenants \
             when creating the credential, or add \"*\" to additionally_allowed_tenants to allow \
             acquiring tokens for any tenant."
        )
    );
    assert_eq!(env.mock.total_requests(), 0);
    // The configured tenant itself is fine without an allow list.
    credential
        .get_token(&[SCOPE], tenant(DEFAULT_TENANT_ID))
        .await
        .unwrap();
    // An invalid tenant is an argument error, never inserted into a URL.
    let err = credential
        .get_token(&[SCOPE], tenant("../x"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument());
}

#[tokio::test]
async fn star_allows_any_tenant_and_later_calls_go_back_to_the_configured_one() {
    let env = Env::start().await;
    let credential = env.client_with(
        env.options()
            .with_tenant_id(DEFAULT_TENANT_ID)
            .with_additionally_allowed_tenants(["*"]),
    );
    let home = credential.get_token(&[SCOPE], None).await.unwrap();
    // Another tenant: the refresh token is redeemed at that tenant, silently.
    env.mock.clear_log();
    let other = credential
        .get_token(&[SCOPE], tenant(OTHER_TENANT))
        .await
        .unwrap();
    assert_ne!(other.token, home.token);
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    let request = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(request.tenant(), Some(OTHER_TENANT));
    assert_eq!(request.grant_type(), Some("refresh_token"));
    assert_eq!(env.prompts(), 1);
    // Back to the configured tenant: its cached token, no request.
    env.mock.clear_log();
    let back = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(back.token, home.token);
    let explicit = credential
        .get_token(&[SCOPE], tenant(DEFAULT_TENANT_ID))
        .await
        .unwrap();
    assert_eq!(explicit.token, home.token);
    assert_eq!(env.mock.total_requests(), 0);
}

#[tokio::test]
async fn a_listed_tenant_is_allowed_and_organizations_accepts_any_without_a_list() {
    let env = Env::start().await;
    let listed = env.client_with(
        env.options()
            .with_tenant_id(DEFAULT_TENANT_ID)
            .with_additionally_allowed_tenants([OTHER_TENANT]),
    );
    listed
        .get_token(&[SCOPE], tenant(OTHER_TENANT))
        .await
        .unwrap();
    assert_eq!(
        env.mock.last_request(Endpoint::Token).unwrap().tenant(),
        Some(OTHER_TENANT)
    );

    // Default `organizations`, no allow list: a request tenant is accepted (Python ≥ 1.25).
    let default = env.client();
    default
        .get_token(&[SCOPE], tenant(OTHER_TENANT))
        .await
        .unwrap();
    assert_eq!(
        env.mock.last_request(Endpoint::Token).unwrap().tenant(),
        Some(OTHER_TENANT)
    );
    // ... but not when an allow list is given that does not name it.
    let restricted = env.client_with(
        env.options()
            .with_additionally_allowed_tenants(["contoso.onmicrosoft.com"]),
    );
    let err = restricted
        .get_token(&[SCOPE], tenant(OTHER_TENANT))
        .await
        .unwrap_err();
    assert!(err.is_client_authentication());
}

/// `authenticate_with`: Python's `authenticate(scopes=, claims=, tenant_id=, enable_cae=)`.
/// The sign-in goes to the requested tenant with the CP1 capability, and a later CAE request
/// for that tenant is served from the cache; an unlisted tenant is refused before any request.
#[tokio::test]
async fn authenticate_with_options_signs_in_to_the_tenant_and_the_cae_cache() {
    let env = Env::start().await;
    let credential = env.client_with(
        env.options()
            .with_tenant_id(DEFAULT_TENANT_ID)
            .with_additionally_allowed_tenants([OTHER_TENANT]),
    );
    let options = entra_public_client::AuthenticateOptions::default()
        .with_scopes([SCOPE])
        .with_tenant_id(OTHER_TENANT)
        .with_enable_cae(true);
    credential.authenticate_with(&options).await.unwrap();
    let redeemed = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(redeemed.tenant(), Some(OTHER_TENANT));
    assert_eq!(
        env.mock.last_client_capabilities(),
        Some(vec!["CP1".to_owned()])
    );
    env.mock.clear_log();
    let cae = TokenRequestOptions::default()
        .with_tenant_id(OTHER_TENANT)
        .with_enable_cae(true);
    credential.get_token(&[SCOPE], Some(cae)).await.unwrap();
    assert_eq!(env.mock.total_requests(), 0, "served from the CAE cache");

    let refused = entra_public_client::AuthenticateOptions::default()
        .with_scopes([SCOPE])
        .with_tenant_id("contoso.onmicrosoft.com");
    let err = credential.authenticate_with(&refused).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err}");
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 1);
}
