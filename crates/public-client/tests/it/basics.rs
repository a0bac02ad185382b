//! The step once, then silent tokens; the accounts the client holds; signing out; errors
//! named after the step's credential.

use entra_testing::{DEFAULT_USERNAME, Endpoint};

use crate::common::{Env, SCOPE};

#[tokio::test]
async fn the_step_runs_once_then_tokens_are_silent_accounts_listed_and_signed_out() {
    let env = Env::start().await;
    let client = env.client();
    assert!(client.accounts().await.unwrap().is_empty());
    let first = client.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.prompts(), 1);
    env.mock.clear_log();
    let again = client.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(first.token, again.token, "served from memory");
    assert_eq!(env.mock.total_requests(), 0);

    let accounts = client.accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username, DEFAULT_USERNAME);
    let record = client.authentication_record().unwrap();
    assert_eq!(accounts[0].home_account_id, record.home_account_id());

    assert!(client.sign_out().await.unwrap());
    assert!(client.accounts().await.unwrap().is_empty());
    assert!(client.authentication_record().is_none());
    // Signed out: the next call runs the step again.
    client.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.prompts(), 2);
    assert_eq!(env.mock.count(Endpoint::DeviceCode), 1);
}

#[tokio::test]
async fn errors_name_the_credential_and_link_their_section() {
    let env = Env::start().await;
    let client = env.client_with(env.options().with_disable_automatic_authentication(true));
    let err = client.get_token(&[SCOPE], None).await.unwrap_err();
    assert!(err.is_authentication_required());
    assert!(
        err.to_string().starts_with("SharedLayerCredential: "),
        "{err}"
    );
    assert!(
        err.help()
            .is_some_and(|h| h.ends_with("#authentication-required")),
        "{err:?}"
    );
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 0);

    // Construction errors are named too, from the step.
    let err = entra_public_client::PublicClient::new(
        env.options().with_tenant_id("not a tenant"),
        crate::common::ApprovedDeviceCode::new(&env),
    )
    .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    assert!(
        err.to_string().starts_with("SharedLayerCredential: "),
        "{err}"
    );
}
