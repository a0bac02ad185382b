//! [`DeviceCodeCredential`]: the shared public-client layer with the device-code step.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, Result, TokenCredential,
    TokenRequestOptions,
};
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

    /// The record of the signed-in account (given, or built by the last sign-in).
    #[must_use]
    pub fn authentication_record(&self) -> Option<AuthenticationRecord> {
        self.client.authentication_record()
    }

    /// Signs the user in with a device code (also when `disable_automatic_authentication`),
    /// caches the token for `scopes` and returns the record of the account. With no scopes it
    /// asks for the Azure Resource Manager scope of a known cloud.
    ///
    /// # Errors
    /// [`ClientAuthentication`](entra_core::ErrorKind::ClientAuthentication) when the user
    /// declines, the code expires or the timeout passes; the authority's errors otherwise.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        self.client
            .authenticate(scopes, claims, &self.step)
            .await
            .map_err(err)
    }

    /// Forgets the tokens held in memory and the authority metadata; the credential stays
    /// usable (a persistent cache is kept).
    pub fn close(&self) {
        self.client.close();
    }
}

#[async_trait]
impl TokenCredential for DeviceCodeCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.client
            .get_token_info("get_token", scopes, options, &self.step)
            .await
            .map(Into::into)
            .map_err(err)
    }

    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.client
            .get_token_info("get_token_info", scopes, options, &self.step)
            .await
            .map_err(err)
    }
}
