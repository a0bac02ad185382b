//! What the stand-in browser does and what it saw: the behaviour a test picks, and the
//! outcome of each sign-in (the loopback's answer included).

use std::fmt;

/// What the stand-in does when asked to open a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrowserBehavior {
    /// Signs in and delivers the redirect (the default).
    SignIn,
    /// The user cancels: Entra redirects with `error=access_denied`, which is delivered.
    Cancel,
    /// The user loads the sign-in page and never finishes: nothing reaches the loopback server
    /// (for timeout tests). The task ends after loading the page.
    NeverFinish,
    /// Signs in, but delivers the redirect with a different `state` (a forged response).
    ForgedState,
    /// `open` fails with [`BrowserOpenError`](entra_core::BrowserOpenError), as when no browser is installed.
    CannotOpen,
}

/// One request the stand-in made to the loopback server, and its answer.
#[derive(Clone, PartialEq, Eq)]
pub struct LoopbackResponse {
    pub(super) method: String,
    pub(super) url: String,
    pub(super) status: Option<u16>,
    pub(super) body: String,
    pub(super) error: Option<String>,
}

impl LoopbackResponse {
    /// `GET` or `POST`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL requested (a query redirect's URL carries the code: a test tool keeps it).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The status answered, or `None` when the request failed (connection refused or closed).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The body answered (empty when the request failed).
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Why the request failed, if it did.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

impl fmt::Debug for LoopbackResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = url::Url::parse(&self.url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        f.debug_struct("LoopbackResponse")
            .field("method", &self.method)
            .field("path", &path)
            .field("status", &self.status)
            .field("body", &self.body)
            .field("error", &self.error)
            .finish()
    }
}

/// What one `open` call led to.
#[derive(Clone, Debug)]
pub struct BrowserOutcome {
    pub(super) behavior: BrowserBehavior,
    pub(super) authorize_status: Option<u16>,
    pub(super) stray: Vec<LoopbackResponse>,
    pub(super) redirect: Option<LoopbackResponse>,
    pub(super) favicon: Option<LoopbackResponse>,
    pub(super) duplicate: Option<LoopbackResponse>,
    pub(super) error: Option<String>,
}

impl BrowserOutcome {
    pub(super) fn new(behavior: BrowserBehavior) -> Self {
        Self {
            behavior,
            authorize_status: None,
            stray: Vec::new(),
            redirect: None,
            favicon: None,
            duplicate: None,
            error: None,
        }
    }

    /// The behaviour the stand-in had for this open.
    #[must_use]
    pub fn behavior(&self) -> BrowserBehavior {
        self.behavior
    }

    /// The status of the first authorize response (`302`, or `200` for a page).
    #[must_use]
    pub fn authorize_status(&self) -> Option<u16> {
        self.authorize_status
    }

    /// The stray requests made to the loopback server before the redirect.
    #[must_use]
    pub fn stray_requests(&self) -> &[LoopbackResponse] {
        &self.stray
    }

    /// The delivered redirect and the loopback server's answer (e.g. its success page).
    #[must_use]
    pub fn redirect(&self) -> Option<&LoopbackResponse> {
        self.redirect.as_ref()
    }

    /// The `/favicon.ico` request made after the redirect.
    #[must_use]
    pub fn favicon(&self) -> Option<&LoopbackResponse> {
        self.favicon.as_ref()
    }

    /// The duplicate of the redirect, when enabled.
    #[must_use]
    pub fn duplicate(&self) -> Option<&LoopbackResponse> {
        self.duplicate.as_ref()
    }

    /// Why the stand-in stopped early (the authorize endpoint showed an error page, the
    /// loopback server was unreachable, ...).
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the redirect was delivered and answered with a 2xx status.
    #[must_use]
    pub fn delivered(&self) -> bool {
        self.redirect
            .as_ref()
            .and_then(|r| r.status)
            .is_some_and(|s| (200..300).contains(&s))
    }
}
