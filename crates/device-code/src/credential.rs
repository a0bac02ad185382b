//! [`DeviceCodeCredential`]: the shared public-client layer with the device-code step.

use std::fmt;
use std::sync::Arc;

use entra_core::Result;
use entra_public_client::PublicClient;

use crate::options::DeviceCodeCredentialOptions;
use crate::step::DeviceCodeStep;

/// Signs a user in with the device code flow: shows a code that the user enters at
/// `https://microsoft.com/devicelogin` on any device (a phone, another computer), then serves
/// tokens from its cache and refresh tokens, silently. For SSH sessions, containers and other
/// machines without a browser.
///
/// Python: `azure.identity.DeviceCodeCredential`. The cache, the record, the tenant rules,
/// CAE, single-flight and errors are those of every public-client credential
/// ([`entra_public_client::PublicClient`]), shared with `InteractiveBrowserCredential`.
///
/// ```no_run
/// use entra_device_code::{DeviceCodeCredential, DeviceCodeCredentialOptions};
///
/// # async fn run() -> entra_core::Result<()> {
/// let credential = DeviceCodeCredential::new(
///     DeviceCodeCredentialOptions::default()
///         .with_tenant_id("contoso.onmicrosoft.com")
///         .with_prompt_callback(|info| {
///             eprintln!("On any device, open {} and enter {}", info.verification_uri, info.user_code);
///         }),
/// )?;
/// // The first call shows the code and waits for the user; later calls are silent.
/// let token = credential
///     .get_token(&["https://management.azure.com/.default"], None)
///     .await?;
/// println!("expires on {}", token.expires_on);
/// # Ok(()) }
/// ```
pub struct DeviceCodeCredential {
    client: PublicClient,
    step: DeviceCodeStep,
}

impl fmt::Debug for DeviceCodeCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeCredential")
            .field("client", &self.client)
            .field("step", &self.step)
            .finish()
    }
}

/// Every error of this credential names it.
fn err(e: entra_core::Error) -> entra_core::Error {
    e.with_credential(crate::options::CREDENTIAL_NAME)
}

impl DeviceCodeCredential {
    /// Creates the credential; validates every option and does no I/O.
    ///
    /// # Errors
    /// [`InvalidArgument`](entra_core::ErrorKind::InvalidArgument) for an invalid tenant,
    /// authority or allowed tenant.
    pub fn new(options: DeviceCodeCredentialOptions) -> Result<Arc<Self>> {
        let client = PublicClient::new(options.common).map_err(err)?;
        let step = DeviceCodeStep::new(options.timeout, options.prompt, options.timer);
        Ok(Arc::new(Self { client, step }))
    }
}

entra_public_client::public_client_credential!(DeviceCodeCredential, err);
