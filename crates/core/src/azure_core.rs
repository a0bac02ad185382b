//! With the `azure_core` feature: `From<entra_core::Error> for azure_core::Error`, so `?`
//! turns an entra-rs error into azure_core's inside a function returning `azure_core::Result`
//! (the orphan rule keeps callers from writing this impl themselves), and [`FromAzureCore`],
//! which lets an Azure SDK credential stand in a [`ChainedTokenCredential`](crate::ChainedTokenCredential).
//!
//! ```
//! fn token_for_vault(err: Option<entra_core::Error>) -> azure_core::Result<()> {
//!     match err {
//!         Some(e) => Err(e)?,
//!         None => Ok(()),
//!     }
//! }
//! let err = token_for_vault(Some(entra_core::Error::invalid_argument("no scope"))).unwrap_err();
//! assert_eq!(err.kind(), &azure_core::error::ErrorKind::Credential);
//! assert!(err.downcast_ref::<entra_core::Error>().unwrap().is_invalid_argument());
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential as AzTokenCredential;
use azure_core::error::{Error as AzError, ErrorKind as AzErrorKind};

use crate::{AccessTokenInfo, Error, Result, TokenCredential, TokenRequestOptions};

/// An Azure SDK credential (any [`azure_core::credentials::TokenCredential`], e.g.
/// azure_identity's `AzureCliCredential`) seen as an entra-rs [`TokenCredential`], so that it
/// can stand in a [`ChainedTokenCredential`](crate::ChainedTokenCredential) beside ours.
///
/// azure_core's options carry nothing of ours: claims, tenant and CAE are not passed on.
/// Its errors map as a chain needs them: azure_core's
/// [`Credential`](AzErrorKind::Credential) kind (what azure_identity's credentials report
/// when they cannot get a token, e.g. az not installed or not signed in) is
/// [`CredentialUnavailable`](crate::ErrorKind::CredentialUnavailable), so a chain moves on;
/// any other kind (an HTTP response, I/O) is
/// [`ClientAuthentication`](crate::ErrorKind::ClientAuthentication), which stops it. The
/// azure_core error is kept as the source.
pub struct FromAzureCore {
    inner: Arc<dyn AzTokenCredential>,
    name: &'static str,
}

impl FromAzureCore {
    /// Wraps `credential`; `name` is what a chain's error calls it (e.g. `"AzureCliCredential"`).
    pub fn new(credential: Arc<dyn AzTokenCredential>, name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            inner: credential,
            name,
        })
    }
}

impl fmt::Debug for FromAzureCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromAzureCore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenCredential for FromAzureCore {
    async fn get_token_info(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        match self.inner.get_token(scopes, None).await {
            Ok(token) => Ok(AccessTokenInfo::new(token.token.secret(), token.expires_on)),
            Err(err) => {
                let message = err.to_string();
                let ours = if matches!(err.kind(), AzErrorKind::Credential) {
                    Error::credential_unavailable(message)
                } else {
                    Error::client_authentication(message)
                };
                Err(ours.with_credential(self.name).with_lower(err))
            }
        }
    }
}

/// Kind [`Credential`](AzErrorKind::Credential), as azure_identity reports its credentials'
/// failures; the message is the entra-rs one (credential, what to do, help link), and the
/// entra-rs error is the source: `downcast_ref::<entra_core::Error>()` gives back its kind,
/// [`status`](Error::status) (the token endpoint's HTTP status), Entra's
/// [`error_response`](Error::error_response) (`error`, `AADSTS` codes, correlation id) and the
/// scopes and claims of an authentication-required error.
impl From<Error> for AzError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        AzError::with_error(AzErrorKind::Credential, err, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorResponse;

    /// An Azure SDK credential that always fails with `kind`.
    #[derive(Debug)]
    struct Failing(AzErrorKind);

    #[async_trait]
    impl AzTokenCredential for Failing {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            Err(AzError::with_message(self.0.clone(), "az: not signed in"))
        }
    }

    #[tokio::test]
    async fn azure_core_credentials_join_a_chain_unavailable_or_failed_by_kind() {
        let unavailable = FromAzureCore::new(
            Arc::new(Failing(AzErrorKind::Credential)),
            "AzureCliCredential",
        );
        let err = unavailable.get_token(&["s"], None).await.unwrap_err();
        assert!(err.is_credential_unavailable());
        assert_eq!(err.credential(), Some("AzureCliCredential"));
        // azure_core's error is kept by type; its text is the message, said once.
        assert!(err.find_cause::<AzError>().is_some());
        assert!(std::error::Error::source(&err).is_none());
        let failed = FromAzureCore::new(Arc::new(Failing(AzErrorKind::Io)), "Other");
        assert!(
            failed
                .get_token(&["s"], None)
                .await
                .unwrap_err()
                .is_client_authentication()
        );
    }

    #[test]
    fn status_and_entra_codes_survive_the_conversion() {
        let ours = Error::from_error_response(
            Some(400),
            ErrorResponse::new("invalid_grant").with_description("AADSTS70000: grant expired"),
        );
        let theirs: AzError = ours.into();
        assert_eq!(theirs.kind(), &AzErrorKind::Credential);
        let back = theirs.downcast_ref::<Error>().unwrap();
        assert_eq!(back.status(), Some(400));
        assert_eq!(back.error_response().unwrap().error, "invalid_grant");
    }
}
