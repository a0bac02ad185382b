//! The shared layer on its own, against the mock Entra ID, with a step that involves no
//! browser: the user approves a device code before the first poll (the mock's
//! `approve_device_code`). What every credential gets from `PublicClient<S>`: the step once,
//! then silent tokens; the accounts it holds; signing out; errors named after the credential.
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use entra_core::Result;
use entra_msal_lite::{
    DeviceCodeGrant, device_code::DEVICE_CODE_GRANT_TYPE, device_code::device_code_request,
};
use entra_public_client::{
    InteractiveStep, PublicClient, PublicClientOptions, StepContext, StepOutcome, async_trait,
};
use entra_testing::{DEFAULT_USERNAME, Endpoint, MockEntra};

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// A device code the user has approved before the first poll; counts its runs.
struct ApprovedDeviceCode {
    mock: Arc<MockEntra>,
    runs: AtomicUsize,
}

#[async_trait]
impl InteractiveStep for ApprovedDeviceCode {
    async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let request = device_code_request(ctx.endpoints, ctx.client_id, ctx.scopes, ctx.claims)?;
        let code = ctx.client.request_device_code(&request).await?;
        assert!(self.mock.approve_device_code(&code.user_code));
        let poll = DeviceCodeGrant::new(ctx.client_id, code.device_code.clone())
            .to_request(&ctx.endpoints.token_endpoint);
        let response = ctx.client.execute(&poll).await?;
        Ok(StepOutcome::new(response, DEVICE_CODE_GRANT_TYPE))
    }
}

async fn client(disable_automatic: bool) -> (Arc<MockEntra>, PublicClient<ApprovedDeviceCode>) {
    let mock = Arc::new(MockEntra::start().await.unwrap());
    let step = ApprovedDeviceCode {
        mock: Arc::clone(&mock),
        runs: AtomicUsize::new(0),
    };
    let options = PublicClientOptions::new("SharedLayerCredential")
        .with_authority("login.microsoftonline.com")
        .with_http_client(mock.resolving_http_client())
        .with_disable_automatic_authentication(disable_automatic);
    (mock, PublicClient::new(options, step).unwrap())
}

#[tokio::test]
async fn the_step_runs_once_then_tokens_are_silent_accounts_listed_and_signed_out() {
    let (mock, client) = client(false).await;
    assert!(client.accounts().await.unwrap().is_empty());
    let first = client.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(client.step().runs.load(Ordering::SeqCst), 1);
    mock.clear_log();
    let again = client.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(first.token, again.token, "served from memory");
    assert_eq!(mock.total_requests(), 0);

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
    assert_eq!(client.step().runs.load(Ordering::SeqCst), 2);
    assert_eq!(mock.count(Endpoint::DeviceCode), 1);
}

#[tokio::test]
async fn errors_name_the_credential_and_link_their_section() {
    let (mock, client) = client(true).await;
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
    assert_eq!(mock.total_requests(), 0);
    assert_eq!(client.step().runs.load(Ordering::SeqCst), 0);
}
