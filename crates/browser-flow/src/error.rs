//! Why a browser sign-in could not finish, as data: [`BrowserFlowError`], converted into
//! [`entra_core::Error`] the way msal-lite's and the cache's errors are (its text is the
//! message, its [`Reason`] the help link, and it stays reachable by type with
//! [`entra_core::Error::find_cause`]).

use std::time::Duration;

use entra_core::{BrowserOpenError, Reason};

/// Why the browser sign-in stopped before it had an authorization code.
///
/// A credential returns it inside an [`entra_core::Error`]; find it by type:
///
/// ```
/// use entra_browser_flow::BrowserFlowError;
///
/// fn was_the_link_reused(err: &entra_core::Error) -> bool {
///     matches!(err.find_cause(), Some(BrowserFlowError::StartAddressReused))
/// }
/// let err: entra_core::Error = BrowserFlowError::StartAddressReused.into();
/// assert!(was_the_link_reused(&err));
/// assert_eq!(err.reason(), entra_core::Reason::SignInLinkReused);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserFlowError {
    /// The loopback redirect server could not listen: the port is taken or not allowed.
    #[error("Couldn't start an HTTP server on {address}")]
    PortInUse {
        /// The address (or `localhost:PORT`) that could not be bound.
        address: String,
        /// The operating system's refusal, when there was one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// No browser could be opened (and no device code fallback was configured).
    #[error("Failed to open a browser")]
    BrowserUnavailable(#[source] BrowserOpenError),
    /// The user did not finish signing in within the credential's timeout.
    #[error("the user did not finish signing in within {waited:?}")]
    Timeout {
        /// How long the credential waited.
        waited: Duration,
    },
    /// The one-time sign-in link handed to the browser was opened a second time: another
    /// program may have read it (it is on the browser's command line), so the sign-in was
    /// stopped before anyone could complete it.
    #[error(
        "The sign-in link was opened more than once, so the sign-in was stopped: another \
         program on this machine may have read the link. Sign in again."
    )]
    StartAddressReused,
    /// A pasted address was refused (paste-back sign-in).
    #[error(
        "The pasted address was refused: {0}. Sign in again and paste the whole address the \
         browser ends on."
    )]
    PastedAddressRefused(PasteError),
    /// No address was pasted: the input closed or could not be read (paste-back sign-in).
    #[error("No sign-in address was pasted")]
    NothingPasted(#[source] BrowserOpenError),
}

/// Why a pasted address was refused ([`BrowserFlowError::PastedAddressRefused`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasteError {
    /// The text is not the redirect address of this sign-in (another host, port or path, or
    /// not a URL at all).
    #[error("the pasted text is not the address the browser was sent to after signing in")]
    NotTheRedirect,
    /// The address belongs to another or an earlier sign-in (its `state` differs).
    #[error("the pasted address belongs to another or an earlier sign-in")]
    StateMismatch,
    /// The address carries no authorization code or error (copied too early, or cut short).
    #[error("the pasted address carries no sign-in response")]
    NoResponse,
}

impl From<BrowserFlowError> for entra_core::Error {
    fn from(err: BrowserFlowError) -> Self {
        use entra_core::Error;
        let converted = match &err {
            BrowserFlowError::PortInUse { .. } => {
                Error::credential_unavailable(err.to_string()).with_reason(Reason::PortInUse)
            }
            BrowserFlowError::BrowserUnavailable(_) => {
                Error::credential_unavailable(err.to_string())
                    .with_reason(Reason::BrowserUnavailable)
            }
            BrowserFlowError::NothingPasted(_) => Error::credential_unavailable(err.to_string()),
            // Python's message, shared with the device code flow.
            BrowserFlowError::Timeout { waited } => entra_public_client::timed_out(*waited),
            BrowserFlowError::StartAddressReused => {
                Error::client_authentication(err.to_string()).with_reason(Reason::SignInLinkReused)
            }
            BrowserFlowError::PastedAddressRefused(_) => {
                Error::client_authentication(err.to_string())
                    .with_reason(Reason::PastedAddressRefused)
            }
        };
        // Said once: in the message; the chain goes on with the error's own cause.
        converted.with_lower(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn each_case_converts_with_its_kind_reason_and_cause_said_once() {
        let refused = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let err: entra_core::Error = BrowserFlowError::PortInUse {
            address: "127.0.0.1:8400".into(),
            source: Some(refused),
        }
        .into();
        assert!(err.is_credential_unavailable());
        assert_eq!(err.reason(), Reason::PortInUse);
        assert_eq!(
            err.message(),
            "Couldn't start an HTTP server on 127.0.0.1:8400"
        );
        assert_eq!(
            err.source().map(|s| s.to_string()),
            Some(std::io::Error::from(std::io::ErrorKind::AddrInUse).to_string())
        );

        let err: entra_core::Error = BrowserFlowError::BrowserUnavailable(BrowserOpenError::new(
            "no browser could be opened",
        ))
        .into();
        assert_eq!(err.reason(), Reason::BrowserUnavailable);
        assert_eq!(err.message(), "Failed to open a browser");
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("no browser could be opened")
        );

        let err: entra_core::Error = BrowserFlowError::Timeout {
            waited: Duration::from_secs(300),
        }
        .into();
        assert!(err.is_client_authentication());
        assert_eq!(err.reason(), Reason::Timeout);
        assert_eq!(
            err.message(),
            "Timed out after waiting 300 seconds for the user to authenticate"
        );
        assert!(err.source().is_none());
        assert!(matches!(
            err.find_cause(),
            Some(BrowserFlowError::Timeout { .. })
        ));

        let err: entra_core::Error =
            BrowserFlowError::PastedAddressRefused(PasteError::StateMismatch).into();
        assert_eq!(err.reason(), Reason::PastedAddressRefused);
        assert!(
            err.message().contains("another or an earlier sign-in"),
            "{err}"
        );
        assert!(err.source().is_none());

        let err: entra_core::Error =
            BrowserFlowError::NothingPasted(BrowserOpenError::new("the input closed")).into();
        assert!(err.is_credential_unavailable());
        assert_eq!(err.reason(), Reason::Other);
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("the input closed")
        );
    }
}
