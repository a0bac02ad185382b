//! [`DeviceCodeCredential`]: the shared public-client layer with the device-code step.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use entra_cache::AccountEntry;
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, Result, TokenCredential,
    TokenRequestOptions,
};
use entra_public_client::{AuthenticateOptions, PublicClient};

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
pub struct DeviceCodeCredential(PublicClient<DeviceCodeStep>);

impl fmt::Debug for DeviceCodeCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeCredential")
            .field("client", &self.0)
            .field("step", self.0.step())
            .finish()
    }
}

impl DeviceCodeCredential {
    /// Creates the credential; validates every option and does no I/O.
    ///
    /// # Errors
    /// [`InvalidArgument`](entra_core::ErrorKind::InvalidArgument) for an invalid tenant,
    /// authority or allowed tenant.
    pub fn new(options: DeviceCodeCredentialOptions) -> Result<Arc<Self>> {
        let step = DeviceCodeStep::new(options.timeout, options.prompt, options.timer);
        PublicClient::new(options.common, step).map(|client| Arc::new(Self(client)))
    }
}

impl DeviceCodeCredential {
    /// The record of the account the credential signs in as: given at construction, or
    /// built by the last interactive sign-in. Save its `serialize`d form to sign in silently
    /// in a later process.
    #[must_use]
    pub fn authentication_record(&self) -> Option<AuthenticationRecord> {
        self.0.authentication_record()
    }

    /// Gets an access token for `scopes`: from memory, the token cache or a refresh token
    /// when possible, else by signing the user in (unless `disable_automatic_authentication`).
    /// Inherent, so that it is unambiguous next to azure_core's `TokenCredential`.
    ///
    /// # Errors
    /// As [`PublicClient::get_token`].
    pub async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.0.get_token(scopes, options).await
    }

    /// As [`get_token`](Self::get_token), with the token type and `refresh_on`.
    ///
    /// # Errors
    /// As [`PublicClient::get_token`].
    pub async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.0.get_token_info(scopes, options).await
    }

    /// Signs the user in, always, caches the token for `scopes` and returns the record.
    ///
    /// # Errors
    /// As [`PublicClient::authenticate`].
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        self.0.authenticate(scopes, claims).await
    }

    /// [`authenticate`](Self::authenticate) with scopes, claims, a tenant and CAE.
    ///
    /// # Errors
    /// As [`PublicClient::authenticate_with`].
    pub async fn authenticate_with(
        &self,
        options: &AuthenticateOptions,
    ) -> Result<AuthenticationRecord> {
        self.0.authenticate_with(options).await
    }

    /// The accounts the credential's caches hold for its authority, once each; no request.
    ///
    /// # Errors
    /// As [`PublicClient::accounts`].
    pub async fn accounts(&self) -> Result<Vec<Arc<AccountEntry>>> {
        self.0.accounts().await
    }

    /// Removes the account's tokens for this client from the caches and forgets its record;
    /// whether a cache held any.
    ///
    /// # Errors
    /// As [`PublicClient::sign_out`].
    pub async fn sign_out(&self) -> Result<bool> {
        self.0.sign_out().await
    }

    /// Releases the tokens held in memory, the view of the persistent cache and the fetched
    /// authority metadata; the credential stays usable.
    pub fn close(&self) {
        self.0.close();
    }
}

#[async_trait]
impl TokenCredential for DeviceCodeCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.0.get_token(scopes, options).await
    }

    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.0.get_token_info(scopes, options).await
    }
}

/// The credential is itself an azure_core credential (its `Arc` coerces to
/// `Arc<dyn azure_core::credentials::TokenCredential>`); see
/// [`entra_public_client::azure_core`].
#[cfg(feature = "azure_core")]
#[async_trait]
impl azure_core::credentials::TokenCredential for DeviceCodeCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        azure_core::credentials::TokenCredential::get_token(&self.0, scopes, options).await
    }
}
