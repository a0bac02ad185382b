//! [`ChainedTokenCredential`]: several credentials tried in order, as Python's, .NET's and
//! Go's `ChainedTokenCredential` (and the az-then-browser chains users build with them).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessTokenInfo, Error, ErrorKind, Result, TokenCredential, TokenRequestOptions};

/// Tries its credentials in order and returns the first token.
///
/// Python's semantics: a credential that is **unavailable** (it could not even try: no
/// signed-in account, no tool installed, user interaction needed but not allowed, i.e.
/// [`CredentialUnavailable`](ErrorKind::CredentialUnavailable) or
/// [`AuthenticationRequired`](ErrorKind::AuthenticationRequired)) lets the chain move on; any
/// other error is a **real failure** (it tried and was refused) and stops the chain there.
/// Every call starts again from the first credential (no credential is remembered).
///
/// The error of a chain that gets no token says, as Python's does, which credentials were
/// attempted and why each gave up, and keeps each attempt's [`Error`] in a [`ChainAttempts`]
/// source (`err.source()` → `downcast_ref::<ChainAttempts>()`). It is
/// [`CredentialUnavailable`](ErrorKind::CredentialUnavailable) when every credential was
/// unavailable (so that chains nest, and an outer chain moves on), and
/// [`ClientAuthentication`](ErrorKind::ClientAuthentication), with the failing credential's
/// HTTP status and Entra error response, when one failed. (Python raises
/// `ClientAuthenticationError` in both cases.)
///
/// Azure SDK credentials join a chain through `entra_core::azure_core::FromAzureCore`
/// (feature `azure_core`); the chain itself goes into an Azure SDK client through
/// `entra_public_client::azure_core::AzureCoreCredential`.
///
/// ```
/// use std::sync::Arc;
///
/// use async_trait::async_trait;
/// use entra_core::{
///     AccessTokenInfo, ChainedTokenCredential, Error, Result, TokenCredential, TokenRequestOptions,
/// };
/// use time::{Duration, OffsetDateTime};
///
/// /// Stands for "the az CLI's account", not signed in here.
/// #[derive(Debug)]
/// struct NotSignedIn;
///
/// #[async_trait]
/// impl TokenCredential for NotSignedIn {
///     async fn get_token_info(&self, _: &[&str], _: Option<TokenRequestOptions>) -> Result<AccessTokenInfo> {
///         Err(Error::credential_unavailable("Please run 'az login' to set up an account"))
///     }
/// }
///
/// /// Stands for the browser credential.
/// #[derive(Debug)]
/// struct Browser;
///
/// #[async_trait]
/// impl TokenCredential for Browser {
///     async fn get_token_info(&self, _: &[&str], _: Option<TokenRequestOptions>) -> Result<AccessTokenInfo> {
///         Ok(AccessTokenInfo::new("t", OffsetDateTime::now_utc() + Duration::hours(1)))
///     }
/// }
///
/// # async fn run() -> Result<()> {
/// let chain = ChainedTokenCredential::new([
///     Arc::new(NotSignedIn) as Arc<dyn TokenCredential>,
///     Arc::new(Browser),
/// ]);
/// let token = chain.get_token(&["https://management.azure.com/.default"], None).await?;
/// assert_eq!(token.token.secret(), "t");
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct ChainedTokenCredential {
    sources: Vec<Arc<dyn TokenCredential>>,
}

impl fmt::Debug for ChainedTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainedTokenCredential")
            .field("sources", &self.sources)
            .finish()
    }
}

impl ChainedTokenCredential {
    /// The name errors carry, as Python's.
    pub const NAME: &'static str = "ChainedTokenCredential";

    /// A chain of `sources`, tried in this order.
    pub fn new(sources: impl IntoIterator<Item = Arc<dyn TokenCredential>>) -> Arc<Self> {
        Arc::new(Self {
            sources: sources.into_iter().collect(),
        })
    }

    /// The credentials of the chain, in order.
    #[must_use]
    pub fn sources(&self) -> &[Arc<dyn TokenCredential>] {
        &self.sources
    }
}

/// Whether a chain moves on after this error (Python: `CredentialUnavailableError`, of which
/// `AuthenticationRequiredError` is a subclass).
fn unavailable(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::CredentialUnavailable | ErrorKind::AuthenticationRequired { .. }
    )
}

/// The name of the credential behind an error: the one it carries, else the credential's
/// `Debug` type name.
fn name_of(err: &Error, credential: &dyn TokenCredential) -> String {
    err.credential().map_or_else(
        || {
            let debug = format!("{credential:?}");
            debug
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or_default()
                .to_owned()
        },
        str::to_owned,
    )
}

#[async_trait]
impl TokenCredential for ChainedTokenCredential {
    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        let mut attempts = Vec::new();
        let mut failed = false;
        for source in &self.sources {
            match source.get_token_info(scopes, options.clone()).await {
                Ok(info) => return Ok(info),
                Err(err) => {
                    let stop = !unavailable(&err);
                    attempts.push((name_of(&err, source.as_ref()), err));
                    if stop {
                        failed = true;
                        break;
                    }
                }
            }
        }
        let mut message = format!(
            "{} failed to retrieve a token from the included credentials.",
            Self::NAME
        );
        if attempts.is_empty() {
            message.push_str(" The chain has no credentials.");
        } else {
            message.push_str("\nAttempted credentials:");
            for (name, err) in &attempts {
                message.push_str(&format!("\n\t{name}: {}", err.message()));
            }
        }
        let mut error = if failed {
            let (_, last) = &attempts[attempts.len() - 1];
            let mut error = Error::client_authentication(message);
            if let Some(status) = last.status() {
                error = error.with_status(status);
            }
            if let Some(response) = last.error_response() {
                error = error.with_error_response(response.clone());
            }
            error.with_reason(last.reason())
        } else {
            Error::credential_unavailable(message)
        };
        error = error.with_credential(Self::NAME);
        Err(error.with_source(ChainAttempts(attempts)))
    }
}

/// Every attempt of a chain that got no token, in order: the credential's name and its
/// error. The source of the chain's error.
#[derive(Debug)]
pub struct ChainAttempts(Vec<(String, Error)>);

impl ChainAttempts {
    /// The attempts, in order.
    #[must_use]
    pub fn attempts(&self) -> &[(String, Error)] {
        &self.0
    }
}

impl fmt::Display for ChainAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} attempt(s)", self.0.len())
    }
}

impl std::error::Error for ChainAttempts {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::ErrorResponse;

    /// Answers with a fixed outcome and counts its calls.
    #[derive(Debug)]
    struct Fixed {
        outcome: fn() -> Result<AccessTokenInfo>,
        calls: AtomicUsize,
    }

    fn fixed(outcome: fn() -> Result<AccessTokenInfo>) -> Arc<Fixed> {
        Arc::new(Fixed {
            outcome,
            calls: AtomicUsize::new(0),
        })
    }

    #[async_trait]
    impl TokenCredential for Fixed {
        async fn get_token_info(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions>,
        ) -> Result<AccessTokenInfo> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            (self.outcome)()
        }
    }

    fn token() -> Result<AccessTokenInfo> {
        Ok(AccessTokenInfo::new(
            "token",
            OffsetDateTime::now_utc() + Duration::hours(1),
        ))
    }

    fn not_signed_in() -> Result<AccessTokenInfo> {
        Err(
            Error::credential_unavailable("Please run 'az login' to set up an account")
                .with_credential("AzureCliCredential"),
        )
    }

    fn needs_the_user() -> Result<AccessTokenInfo> {
        Err(Error::authentication_required(&["s"], None)
            .with_credential("InteractiveBrowserCredential"))
    }

    fn refused() -> Result<AccessTokenInfo> {
        Err(Error::from_error_response(
            Some(400),
            ErrorResponse::new("invalid_grant").with_description("AADSTS70000: revoked"),
        )
        .with_credential("DeviceCodeCredential"))
    }

    const SCOPES: &[&str] = &["https://management.azure.com/.default"];

    fn attempts(err: &Error) -> Vec<String> {
        std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<ChainAttempts>())
            .expect("the attempts are the source")
            .attempts()
            .iter()
            .map(|(name, _)| name.clone())
            .collect()
    }

    #[tokio::test]
    async fn unavailable_credentials_are_skipped_and_the_first_token_wins() {
        let (a, b, c, d) = (
            fixed(not_signed_in),
            fixed(needs_the_user),
            fixed(token),
            fixed(token),
        );
        let chain = ChainedTokenCredential::new([
            a.clone() as Arc<dyn TokenCredential>,
            b.clone(),
            c.clone(),
            d.clone(),
        ]);
        let got = chain.get_token(SCOPES, None).await.unwrap();
        assert_eq!(got.token.secret(), "token");
        let calls: Vec<usize> = [&a, &b, &c, &d]
            .iter()
            .map(|f| f.calls.load(Ordering::Relaxed))
            .collect();
        assert_eq!(calls, [1, 1, 1, 0]);
        // Nothing is remembered: the next call starts from the first again.
        chain.get_token(SCOPES, None).await.unwrap();
        assert_eq!(a.calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_real_failure_stops_the_chain_with_every_attempt_kept() {
        let (a, b, c) = (fixed(not_signed_in), fixed(refused), fixed(token));
        let chain = ChainedTokenCredential::new([a as Arc<dyn TokenCredential>, b, c.clone()]);
        let err = chain.get_token(SCOPES, None).await.unwrap_err();
        assert_eq!(c.calls.load(Ordering::Relaxed), 0, "the chain stopped");
        assert!(err.is_client_authentication(), "{err:?}");
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.error_response().unwrap().error, "invalid_grant");
        assert_eq!(err.credential(), Some("ChainedTokenCredential"));
        assert_eq!(
            err.message(),
            "ChainedTokenCredential failed to retrieve a token from the included credentials.\n\
             Attempted credentials:\n\
             \tAzureCliCredential: Please run 'az login' to set up an account\n\
             \tDeviceCodeCredential: Authentication failed: AADSTS70000: revoked"
        );
        assert_eq!(
            attempts(&err),
            ["AzureCliCredential", "DeviceCodeCredential"]
        );
    }

    #[tokio::test]
    async fn when_every_credential_is_unavailable_the_chain_is_unavailable_too() {
        let chain = ChainedTokenCredential::new([
            fixed(not_signed_in) as Arc<dyn TokenCredential>,
            fixed(needs_the_user),
        ]);
        let err = chain.get_token(SCOPES, None).await.unwrap_err();
        assert!(err.is_credential_unavailable(), "{err:?}");
        assert_eq!(
            attempts(&err),
            ["AzureCliCredential", "InteractiveBrowserCredential"]
        );
        // So an outer chain moves on past it.
        let outer = ChainedTokenCredential::new([chain as Arc<dyn TokenCredential>, fixed(token)]);
        assert_eq!(
            outer.get_token(SCOPES, None).await.unwrap().token.secret(),
            "token"
        );
        let empty = ChainedTokenCredential::new([]);
        assert!(
            empty
                .get_token(SCOPES, None)
                .await
                .unwrap_err()
                .is_credential_unavailable()
        );
    }
}
