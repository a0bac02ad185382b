//! With the `azure_core` feature: `From<entra_core::Error> for azure_core::Error`, so `?`
//! turns an entra-rs error into azure_core's inside a function returning `azure_core::Result`
//! (the orphan rule keeps callers from writing this impl themselves).
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

use azure_core::error::{Error as AzError, ErrorKind as AzErrorKind};

use crate::Error;

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
