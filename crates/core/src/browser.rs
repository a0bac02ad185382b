//! The seam through which an interactive credential opens a browser.
//!
//! It lives here, in the lowest crate, so that test doubles (such as `entra-testing`'s
//! headless browser stand-in) implement it without depending on any credential.

use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;

/// Opens the user's browser at a sign-in URL.
///
/// `open` returns once the browser has been asked to show the page; it must not wait for the
/// user to finish signing in (the credential waits for the redirect itself).
///
/// The URL carries the request's `state`: an implementation must not log it.
///
/// ```
/// use async_trait::async_trait;
/// use entra_core::{BrowserOpenError, BrowserOpener};
///
/// /// Prints the URL instead of opening a browser (e.g. over SSH).
/// #[derive(Debug)]
/// struct PrintUrl;
///
/// #[async_trait]
/// impl BrowserOpener for PrintUrl {
///     async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
///         eprintln!("Open this URL to sign in: {url}");
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait BrowserOpener: Send + Sync + fmt::Debug {
    /// Asks a browser to open `url`.
    ///
    /// # Errors
    /// [`BrowserOpenError`] when no browser could be opened.
    async fn open(&self, url: &str) -> Result<(), BrowserOpenError>;

    /// Whether [`open`](Self::open) should be given the identity provider's sign-in URL
    /// itself. The default, `false`, lets the credential pass a one-time loopback address
    /// (`http://localhost:PORT/...`) that redirects the browser to the sign-in page, so the URL
    /// an opener handles, prints or logs carries no `state`, `nonce` or `login_hint`. A test
    /// double that follows the sign-in URL with an HTTP client and no redirects returns `true`.
    fn wants_sign_in_url(&self) -> bool {
        false
    }
}

/// No browser could be opened.
#[derive(Debug)]
pub struct BrowserOpenError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl BrowserOpenError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// Sets the underlying cause.
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for BrowserOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for BrowserOpenError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}
