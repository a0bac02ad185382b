//! Shared setup: a mock on the real public-cloud host names and a `PublicClient` whose step
//! is a device code the user approves at once, counting its runs (the prompts a user sees).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use entra_core::Result;
use entra_msal_lite::{
    DeviceCodeGrant, device_code::DEVICE_CODE_GRANT_TYPE, device_code::device_code_request,
};
use entra_public_client::{
    InteractiveStep, PublicClient, PublicClientOptions, StepContext, StepOutcome, async_trait,
};
use entra_testing::{Endpoint, MockEntra};

pub(crate) const SCOPE: &str = "https://graph.microsoft.com/.default";

/// A device code the user has approved before the first poll; counts its runs.
pub(crate) struct ApprovedDeviceCode {
    mock: Arc<MockEntra>,
    runs: Arc<AtomicUsize>,
}

impl ApprovedDeviceCode {
    /// A step whose sign-ins `env` counts.
    pub(crate) fn new(env: &Env) -> Self {
        Self {
            mock: Arc::clone(&env.mock),
            runs: Arc::clone(&env.runs),
        }
    }
}

#[async_trait]
impl InteractiveStep for ApprovedDeviceCode {
    fn credential_name(&self) -> &'static str {
        "SharedLayerCredential"
    }

    async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let request = device_code_request(ctx.endpoints, ctx.client_id, ctx.scopes, ctx.claims)?;
        let code = ctx.client.request_device_code(&request).await?;
        assert!(self.mock.approve_device_code(&code.user_code));
        let poll = DeviceCodeGrant::new(ctx.client_id, code.device_code.clone())
            .with_claims(ctx.claims)
            .to_request(&ctx.endpoints.token_endpoint);
        let response = ctx.client.execute(&poll).await?;
        Ok(StepOutcome::new(response, DEVICE_CODE_GRANT_TYPE))
    }
}

/// The client the tests use.
pub(crate) type Client = PublicClient<ApprovedDeviceCode>;

/// A mock reached as `login.microsoftonline.com` and the count of sign-ins the step ran.
pub(crate) struct Env {
    pub(crate) mock: Arc<MockEntra>,
    runs: Arc<AtomicUsize>,
}

impl Env {
    pub(crate) async fn start() -> Self {
        Self {
            mock: Arc::new(MockEntra::start().await.expect("mock starts")),
            runs: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Options for the public cloud, resolved to the mock.
    pub(crate) fn options(&self) -> PublicClientOptions {
        PublicClientOptions::new()
            .with_authority("login.microsoftonline.com")
            .with_http_client(self.mock.resolving_http_client())
    }

    /// A client on `options` whose sign-ins this environment counts.
    pub(crate) fn client_with(&self, options: PublicClientOptions) -> Arc<Client> {
        let step = ApprovedDeviceCode::new(self);
        Arc::new(PublicClient::new(options, step).expect("valid options"))
    }

    pub(crate) fn client(&self) -> Arc<Client> {
        self.client_with(self.options())
    }

    /// How many times a step signed the user in (the prompts a user would have seen).
    pub(crate) fn prompts(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// A form parameter of the last device authorization request (what a step sent).
    pub(crate) fn sign_in_param(&self, name: &str) -> Option<String> {
        self.mock
            .last_request(Endpoint::DeviceCode)?
            .form_param(name)
            .map(str::to_owned)
    }
}
