//! Silent acquisition: refresh, refresh_on, refused refresh tokens, claims, CAE,
//! disable_automatic_authentication.

use std::time::Duration;

use entra_core::TokenRequestOptions;
use entra_testing::{Endpoint, Fault};

use crate::common::{Env, SCOPE};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";
const MAIL_READ: &str = "https://graph.microsoft.com/Mail.Read";
const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#;

#[tokio::test]
async fn an_expiring_token_is_refreshed_with_one_request_and_no_prompt() {
    let env = Env::start().await;
    // Tokens valid for less than five minutes count as expired.
    env.mock.set_token_lifetime(Duration::from_secs(200));
    let credential = env.client();
    let first = credential.get_token(&[SCOPE], None).await.unwrap();
    env.mock.clear_log();
    let second = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_ne!(second.token, first.token);
    assert_eq!(env.mock.total_requests(), 1);
    let refresh = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(refresh.grant_type(), Some("refresh_token"));
    assert_eq!(refresh.form_param("client_info"), Some("1"));
    assert!(
        refresh
            .header("x-anchormailbox")
            .is_some_and(|h| h.starts_with("Oid:"))
    );
    assert_eq!(env.prompts(), 1);
}

#[tokio::test]
async fn past_refresh_on_a_refresh_is_tried_and_a_failure_returns_the_valid_token() {
    let env = Env::start().await;
    env.mock.set_refresh_in(Some(Duration::ZERO));
    let credential = env.client();
    let first = credential.get_token_info(&[SCOPE], None).await.unwrap();
    assert!(first.refresh_on.is_some());

    // refresh_on has passed: one refresh request, a new token.
    env.mock.clear_log();
    let second = credential.get_token_info(&[SCOPE], None).await.unwrap();
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    assert_ne!(second.token, first.token);

    // The refresh fails: the still-valid token comes back, no prompt.
    env.mock.clear_log();
    env.mock.inject_fault(Endpoint::Token, Fault::InvalidGrant);
    let third = credential.get_token_info(&[SCOPE], None).await.unwrap();
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    assert_eq!(third.token, second.token);
    assert_eq!(env.prompts(), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_leads_to_a_prompt() {
    let env = Env::start().await;
    env.mock.set_token_lifetime(Duration::from_secs(200));
    let credential = env.client();
    credential.get_token(&[SCOPE], None).await.unwrap();
    env.mock.revoke_refresh_tokens();
    credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.prompts(), 2);
}

#[tokio::test]
async fn a_network_failure_during_refresh_is_reported_not_prompted() {
    let env = Env::start().await;
    env.mock.set_token_lifetime(Duration::from_secs(200));
    let credential = env.client();
    credential.get_token(&[SCOPE], None).await.unwrap();
    env.mock.inject_fault_times(
        Endpoint::Token,
        Fault::CloseConnection,
        entra_testing::FaultTimes::Always,
    );
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_client_authentication(), "{err:?}");
    assert_eq!(env.prompts(), 1);
}

#[tokio::test]
async fn claims_bypass_the_cached_token() {
    let env = Env::start().await;
    let credential = env.client();
    let first = credential.get_token(&[SCOPE], None).await.unwrap();
    env.mock.clear_log();
    let options = TokenRequestOptions::default().with_claims(CLAIMS);
    let with_claims = credential.get_token(&[SCOPE], Some(options)).await.unwrap();
    assert_ne!(with_claims.token, first.token);
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    let refresh = env.mock.last_request(Endpoint::Token).unwrap();
    assert_eq!(refresh.grant_type(), Some("refresh_token"));
    assert_eq!(refresh.form_param("claims"), Some(CLAIMS));
    assert_eq!(env.prompts(), 1);
}

/// Issue 25: after a claims challenge (a CAE revocation), the token got with the claims
/// replaces the revoked one: the next plain call serves it from memory with no request, and a
/// fresh credential on the same persistent cache (a new process) serves it too.
#[tokio::test]
async fn a_claims_refresh_replaces_the_revoked_token_for_later_plain_calls() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let credential = env.client_with(
        env.options()
            .with_cache_backend(crate::persistence::backend(dir.path())),
    );
    let revoked = credential.get_token(&[SCOPE], None).await.unwrap();
    let options = TokenRequestOptions::default().with_claims(CLAIMS);
    let fresh = credential.get_token(&[SCOPE], Some(options)).await.unwrap();
    assert_ne!(fresh.token, revoked.token);

    env.mock.clear_log();
    let plain = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(
        plain.token, fresh.token,
        "the revoked token was served again"
    );
    let info = credential.get_token_info(&[SCOPE], None).await.unwrap();
    assert_eq!(info.token, fresh.token);
    assert_eq!(env.mock.total_requests(), 0);

    let record = credential.authentication_record().unwrap();
    let next_process = env.client_with(
        env.options()
            .with_authentication_record(record)
            .with_cache_backend(crate::persistence::backend(dir.path())),
    );
    let again = next_process.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token, fresh.token);
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 1);
}

#[tokio::test]
async fn cae_uses_its_own_partition_and_sends_cp1() {
    let env = Env::start().await;
    let credential = env.client();
    let plain = credential.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.mock.last_client_capabilities(), Some(vec![]));

    // The CAE partition is empty: a sign-in, with CP1 on the sign-in request and the redemption.
    let cae = TokenRequestOptions::default().with_enable_cae(true);
    let cae_token = credential
        .get_token(&[SCOPE], Some(cae.clone()))
        .await
        .unwrap();
    assert_eq!(env.prompts(), 2);
    assert_ne!(cae_token.token, plain.token);
    assert_eq!(
        env.mock.last_client_capabilities(),
        Some(vec!["CP1".to_owned()])
    );
    let claims = env.sign_in_param("claims").unwrap();
    assert!(
        claims.contains("xms_cc") && claims.contains("CP1"),
        "{claims}"
    );

    // Each partition serves its own token, with zero requests.
    env.mock.clear_log();
    let again_plain = credential.get_token(&[SCOPE], None).await.unwrap();
    let again_cae = credential.get_token(&[SCOPE], Some(cae)).await.unwrap();
    assert_eq!(again_plain.token, plain.token);
    assert_eq!(again_cae.token, cae_token.token);
    assert_eq!(env.mock.total_requests(), 0);
}

#[tokio::test]
async fn disable_automatic_authentication_raises_with_scopes_and_claims_and_no_request() {
    let env = Env::start().await;
    let credential = env.client_with(env.options().with_disable_automatic_authentication(true));
    let options = TokenRequestOptions::default().with_claims(CLAIMS);
    let err = credential
        .get_token(&[USER_READ, MAIL_READ], Some(options))
        .await
        .unwrap_err();
    assert!(err.is_authentication_required(), "{err:?}");
    assert_eq!(err.scopes().unwrap(), [USER_READ, MAIL_READ]);
    assert_eq!(err.claims(), Some(CLAIMS));
    assert_eq!(
        err.message(),
        "Interactive authentication is required to get a token. Call 'authenticate' to begin."
    );
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 0);

    // The round trip Python documents: authenticate with the error's scopes and claims.
    let scopes: Vec<&str> = err.scopes().unwrap().iter().map(String::as_str).collect();
    credential
        .authenticate(&scopes, err.claims())
        .await
        .unwrap();
    assert_eq!(env.prompts(), 1);
    assert_eq!(
        env.sign_in_param("scope").as_deref(),
        Some(
            "https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/User.Read offline_access openid profile"
        )
    );
    // Now silent works, from the cache.
    env.mock.clear_log();
    credential.get_token(&[USER_READ], None).await.unwrap();
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 1);
}
