//! Browser openers: the system browser (the `webbrowser` crate) and one that prints the URL,
//! and the redaction of the sign-in URL for logs (what happens when no browser opens is the
//! credential's: `credential.rs`).

use async_trait::async_trait;
use entra_core::{BrowserOpenError, BrowserOpener};

/// Opens the system's default browser with the [`webbrowser`] crate (honours `$BROWSER`; on
/// WSL it uses the Windows browser). The blocking call runs on tokio's blocking pool.
///
/// This is the default [`BrowserOpener`] of the credential.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct SystemBrowser;

#[async_trait]
impl BrowserOpener for SystemBrowser {
    async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
        let url = url.to_owned();
        match tokio::task::spawn_blocking(move || webbrowser::open(&url)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BrowserOpenError::new("no browser could be opened").with_source(e)),
            Err(e) => Err(BrowserOpenError::new("the browser launcher failed").with_source(e)),
        }
    }
}

/// Does not open anything: writes the sign-in URL to stderr and lets the credential wait for
/// the redirect. For machines without a browser where the user can still reach the loopback
/// address (for example a browser on the same machine that cannot be launched programmatically).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct PrintUrlOpener;

#[async_trait]
impl BrowserOpener for PrintUrlOpener {
    async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
        eprintln!("To sign in, open this URL in a browser on this machine:\n{url}");
        Ok(())
    }
}

/// The authorize URL with its one-time values and personal data replaced, for logs
/// (entra-msal-lite's `ONE_TIME_QUERY_PARAMS` and `PERSONAL_QUERY_PARAMS`).
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparsable URL>".to_owned();
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let hidden = entra_msal_lite::request::ONE_TIME_QUERY_PARAMS
                .iter()
                .chain(&entra_msal_lite::request::PERSONAL_QUERY_PARAMS)
                .any(|p| *p == k.as_ref());
            let v = if hidden {
                "<redacted>".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_state_and_nonce() {
        let url = "https://login.example/t/oauth2/v2.0/authorize?client_id=c&state=STATE-VALUE&nonce=NONCE-VALUE&scope=a+b";
        let redacted = redact_url(url);
        assert!(!redacted.contains("STATE-VALUE"), "{redacted}");
        assert!(!redacted.contains("NONCE-VALUE"), "{redacted}");
        assert!(redacted.contains("client_id=c"));
        assert!(redacted.contains("scope=a+b"));
        assert_eq!(redact_url("not a url"), "<unparsable URL>");
    }
}
