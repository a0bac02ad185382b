//! The [`TokenCredential`] trait.

use std::fmt;

use async_trait::async_trait;

use crate::{AccessToken, AccessTokenInfo, Result, TokenRequestOptions};

/// Something that gets access tokens for scopes. Object-safe: store it as
/// `Arc<dyn TokenCredential>`.
///
/// Python: `azure.core.credentials.TokenCredential` and `SupportsTokenInfo`. Implement
/// [`get_token_info`](Self::get_token_info); [`get_token`](Self::get_token) follows from it.
///
/// To implement it, put `#[entra_core::async_trait]` on the impl (the trait is an
/// `async_trait`; without it, or with lifetimes written differently from the trait's, the
/// compiler reports E0195) and write the parameters as below; `entra_core::time` is the `time`
/// crate the token types use, so neither needs to be your own dependency.
///
/// ```
/// use std::sync::Arc;
/// use entra_core::time::{Duration, OffsetDateTime};
/// use entra_core::{AccessTokenInfo, Result, TokenCredential, TokenRequestOptions};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[entra_core::async_trait]
/// impl TokenCredential for Fixed {
///     async fn get_token_info(
///         &self,
///         scopes: &[&str],
///         _options: Option<TokenRequestOptions>,
///     ) -> Result<AccessTokenInfo> {
///         entra_core::validate_scopes("get_token_info", scopes)?;
///         Ok(AccessTokenInfo::new("t", OffsetDateTime::now_utc() + Duration::hours(1)))
///     }
/// }
///
/// # async fn run() -> Result<()> {
/// let credential: Arc<dyn TokenCredential> = Arc::new(Fixed);
/// let token = credential.get_token(&["https://graph.microsoft.com/.default"], None).await?;
/// assert_eq!(token.token.secret(), "t");
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
#[async_trait]
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// Gets an access token for `scopes`.
    ///
    /// # Errors
    /// Whatever [`get_token_info`](Self::get_token_info) returns.
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.get_token_info(scopes, options).await.map(Into::into)
    }

    /// Gets an access token for `scopes` with its type and `refresh_on`.
    ///
    /// # Errors
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) for bad scopes or options,
    /// [`CredentialUnavailable`](crate::ErrorKind::CredentialUnavailable) when the credential
    /// cannot try, [`ClientAuthentication`](crate::ErrorKind::ClientAuthentication) when it
    /// tried and failed, [`AuthenticationRequired`](crate::ErrorKind::AuthenticationRequired)
    /// when user interaction is needed and not allowed.
    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo>;
}
