//! The paste-back sign-in: for tenants that block the device code flow on machines where the
//! browser cannot reach the loopback server (SSH, containers). The user opens the sign-in URL
//! in a browser on any machine, signs in, and pastes back the address the browser ends on
//! (`http://localhost:PORT/?code=…&state=…`, a page that fails to load there); the credential
//! checks `state` and redeems the code with its PKCE verifier, which never left this process.

use std::fmt;
use std::io::{BufRead as _, Read as _};

use async_trait::async_trait;
use entra_core::{BrowserOpenError, Error, Result, Secret};

use crate::error::{BrowserFlowError, PasteError};
use crate::redirect::{self, RedirectOutcome, Rejection};
use crate::server::AuthCode;

/// Shows the sign-in URL and returns the address the user's browser ended on.
///
/// The URL carries `state`, `nonce` and the PKCE challenge of this attempt: it is shown to the
/// user on purpose, and useless without this process's PKCE verifier. What is returned holds
/// an authorization code: keep it in the [`Secret`].
#[async_trait]
pub trait PasteRedirect: Send + Sync + fmt::Debug {
    /// Shows `sign_in_url` and waits for the pasted address.
    ///
    /// # Errors
    /// No address could be read (the input closed, the user gave up).
    async fn paste(&self, sign_in_url: &str) -> std::result::Result<Secret, BrowserOpenError>;
}

/// [`PasteRedirect`] on the terminal: prints the URL and the instructions to stderr and reads
/// one line from stdin (on tokio's blocking pool).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct PasteFromStdin;

#[async_trait]
impl PasteRedirect for PasteFromStdin {
    async fn paste(&self, sign_in_url: &str) -> std::result::Result<Secret, BrowserOpenError> {
        eprintln!(
            "To sign in, open this address in a browser on any machine:\n\n  {sign_in_url}\n\n\
             After you sign in, the browser goes to a page on localhost that does not load. Copy \
             that page's whole address from the address bar, paste it here and press Enter:"
        );
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .take(64 * 1024)
                .read_line(&mut line)
                .map(|n| (n, line))
        })
        .await;
        match read {
            Ok(Ok((0, _))) => Err(BrowserOpenError::new(
                "the input closed before an address was pasted",
            )),
            Ok(Ok((_, line))) => Ok(Secret::new(line.trim())),
            Ok(Err(e)) => {
                Err(BrowserOpenError::new("the pasted address could not be read").with_source(e))
            }
            Err(e) => {
                Err(BrowserOpenError::new("the pasted address could not be read").with_source(e))
            }
        }
    }
}

/// Checks a pasted address against the sign-in's `redirect_uri` and `state`, and returns its
/// code (or the authority's error).
pub(crate) fn parse_pasted(
    pasted: &Secret,
    redirect_uri: &str,
    state: &Secret,
) -> Result<AuthCode> {
    let refuse = |why: PasteError| Error::from(BrowserFlowError::PastedAddressRefused(why));
    let Ok(url) = url::Url::parse(pasted.secret().trim()) else {
        return Err(refuse(PasteError::NotTheRedirect));
    };
    let Ok(expected) = url::Url::parse(redirect_uri) else {
        return Err(refuse(PasteError::NotTheRedirect));
    };
    let same_place = url.scheme() == expected.scheme()
        && url.host_str() == expected.host_str()
        && url.port_or_known_default() == expected.port_or_known_default()
        && url.path() == expected.path();
    if !same_place {
        return Err(refuse(PasteError::NotTheRedirect));
    }
    let query = url.query().unwrap_or("");
    match redirect::classify(query.as_bytes(), state.secret()) {
        Ok(RedirectOutcome::Code { code, client_info }) => Ok(AuthCode { code, client_info }),
        Ok(RedirectOutcome::Error(response)) => Err(Error::from_error_response(None, response)),
        Err(Rejection::StateMismatch) => Err(refuse(PasteError::StateMismatch)),
        Err(_) => Err(refuse(PasteError::NoResponse)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "http://localhost:8400";

    fn state() -> Secret {
        Secret::new("the-state")
    }

    #[test]
    fn the_right_address_gives_its_code() {
        let pasted =
            Secret::new("  http://localhost:8400/?code=the-code&state=the-state&client_info=ci\n");
        let code = parse_pasted(&pasted, REDIRECT, &state()).unwrap();
        assert_eq!(code.code.secret(), "the-code");
        assert_eq!(code.client_info.as_deref(), Some("ci"));
    }

    #[test]
    fn wrong_stale_or_foreign_addresses_are_typed_errors_that_never_show_the_code() {
        let cases = [
            (
                "http://localhost:8400/?code=the-code&state=old-state",
                PasteError::StateMismatch,
            ),
            (
                "http://localhost:8401/?code=the-code&state=the-state",
                PasteError::NotTheRedirect,
            ),
            (
                "https://evil.example/?code=the-code&state=the-state",
                PasteError::NotTheRedirect,
            ),
            (
                "http://localhost:8400/other?code=the-code&state=the-state",
                PasteError::NotTheRedirect,
            ),
            ("the-code", PasteError::NotTheRedirect),
            ("http://localhost:8400/", PasteError::NoResponse),
        ];
        for (text, why) in cases {
            let err = parse_pasted(&Secret::new(text), REDIRECT, &state()).unwrap_err();
            assert!(err.is_client_authentication(), "{text}");
            let Some(BrowserFlowError::PastedAddressRefused(refused)) = err.find_cause() else {
                panic!("{err:?}");
            };
            assert_eq!(refused, &why, "{text}");
            assert!(!err.to_string().contains("the-code"), "{err}");
        }
    }

    #[test]
    fn an_error_address_is_the_authoritys_answer() {
        let pasted = Secret::new(
            "http://localhost:8400/?error=access_denied&error_description=The+user+cancelled&state=the-state",
        );
        let err = parse_pasted(&pasted, REDIRECT, &state()).unwrap_err();
        assert_eq!(err.error_response().unwrap().error, "access_denied");
    }
}
