//! [`InteractiveBrowserCredentialOptions`]: Python's keywords and defaults, plus the seams a
//! Rust caller needs (browser opener, cache backend, HTTP client), and their validation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use entra_core::BrowserOpener;
use entra_device_code::{DeviceCodeInfo, PromptCallback};
use entra_msal_lite::request::ResponseMode;
use entra_public_client::PublicClientOptions;

use crate::paste::PasteRedirect;

/// The credential's name: in its errors, logs and `Debug`.
pub(crate) const CREDENTIAL_NAME: &str = "InteractiveBrowserCredential";

/// The default wait for the user: 300 seconds, as Python.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Options of [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential).
///
/// Start from [`Default`] and chain the `with_*` setters. Every keyword of Python's
/// `InteractiveBrowserCredential` is here under its Python name; nothing is checked or
/// touched until [`InteractiveBrowserCredential::new`](crate::InteractiveBrowserCredential::new),
/// which validates everything and does no I/O.
///
/// ```
/// use std::time::Duration;
/// use entra_browser_flow::InteractiveBrowserCredentialOptions;
///
/// let options = InteractiveBrowserCredentialOptions::default()
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_client_id("00000000-0000-0000-0000-000000000001")
///     .with_redirect_uri("http://localhost:8400")
///     .with_login_hint("alice@contoso.com")
///     .with_timeout(Duration::from_secs(120));
/// assert_eq!(options.timeout(), Duration::from_secs(120));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct InteractiveBrowserCredentialOptions {
    /// The options every public-client credential shares (authority, tenant, client id,
    /// record, cache, tenants, HTTP client).
    pub(crate) common: PublicClientOptions,
    pub(crate) login_hint: Option<String>,
    pub(crate) prompt: Prompt,
    pub(crate) domain_hint: Option<String>,
    pub(crate) pages: crate::redirect::Pages,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) response_mode: ResponseMode,
    pub(crate) browser: Option<Arc<dyn BrowserOpener>>,
    /// Sign in with a device code when no browser can be opened (`None`: off).
    pub(crate) device_code_fallback: Option<Option<PromptCallback>>,
    /// Paste-back mode (`None`: off).
    pub(crate) paste_redirect: Option<Arc<dyn PasteRedirect>>,
}

impl Default for InteractiveBrowserCredentialOptions {
    fn default() -> Self {
        Self {
            common: PublicClientOptions::new(),
            login_hint: None,
            prompt: Prompt::SelectAccount,
            domain_hint: None,
            pages: crate::redirect::Pages::default(),
            redirect_uri: None,
            timeout: DEFAULT_TIMEOUT,
            response_mode: ResponseMode::FormPost,
            browser: None,
            device_code_fallback: None,
            paste_redirect: None,
        }
    }
}

impl fmt::Debug for InteractiveBrowserCredentialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractiveBrowserCredentialOptions")
            .field("common", &self.common)
            .field("login_hint", &self.login_hint.as_ref().map(|_| "<set>"))
            .field("prompt", &self.prompt)
            .field("domain_hint", &self.domain_hint)
            .field("custom_success_page", &self.pages.success.is_some())
            .field("custom_failure_page", &self.pages.failure.is_some())
            .field("redirect_uri", &self.redirect_uri)
            .field("timeout", &self.timeout)
            .field("response_mode", &self.response_mode)
            .field("browser", &self.browser)
            .field("device_code_fallback", &self.device_code_fallback.is_some())
            .field("paste_redirect", &self.paste_redirect)
            .finish_non_exhaustive()
    }
}

impl InteractiveBrowserCredentialOptions {
    entra_public_client::public_client_option_setters!();

    /// A username to pre-fill on the sign-in page (the user may still pick another account).
    /// Blank means none.
    #[must_use]
    pub fn with_login_hint(mut self, login_hint: impl Into<String>) -> Self {
        self.login_hint = Some(login_hint.into()).filter(|v| !v.trim().is_empty());
        self
    }

    /// What the sign-in page asks the user (the authorize request's `prompt`). Default
    /// [`Prompt::SelectAccount`], as Python.
    #[must_use]
    pub fn with_prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = prompt;
        self
    }

    /// The user's domain (`domain_hint`, e.g. `contoso.com`, or `consumers`/`organizations`),
    /// so that Entra sends the user straight to the domain's federated sign-in page. Blank
    /// means none.
    #[must_use]
    pub fn with_domain_hint(mut self, domain_hint: impl Into<String>) -> Self {
        self.domain_hint = Some(domain_hint.into()).filter(|v| !v.trim().is_empty());
        self
    }

    /// The HTML the browser shows after a successful sign-in, instead of the built-in page
    /// (as MSAL.NET's `HtmlMessageSuccess`). It is served as given, under the loopback
    /// server's headers (`Content-Security-Policy: default-src 'none'; style-src
    /// 'unsafe-inline'`: inline styles work, scripts and external resources do not).
    #[must_use]
    pub fn with_success_page(mut self, html: impl Into<String>) -> Self {
        self.pages.success = Some(html.into().into());
        self
    }

    /// The HTML the browser shows when Entra redirected with an error (the user cancelled,
    /// consent was refused), instead of the built-in page (MSAL.NET's `HtmlMessageError`).
    /// `{error}` and `{error_description}` are replaced by Entra's values, HTML-escaped; the
    /// rest is served as given, under the same headers as the success page.
    #[must_use]
    pub fn with_failure_page(mut self, html: impl Into<String>) -> Self {
        self.pages.failure = Some(html.into().into());
        self
    }

    /// The redirect URI registered for the application, e.g. `http://localhost:8400` or
    /// `http://127.0.0.1:8400/callback`: `http`, a loopback host (`localhost`, `127.0.0.1`,
    /// `[::1]`) and a non-zero port. The credential binds exactly that port (no fallback) and
    /// sends the URI exactly as given, path included (Python drops the path and scheme, which
    /// breaks registrations with a path). Default: the first free port of 8400-8999.
    #[must_use]
    pub fn with_redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into()).filter(|v| !v.trim().is_empty());
        self
    }

    /// How long to wait for the user to finish signing in, from the moment the browser is
    /// asked to open. One deadline for the whole wait: unrelated requests to the loopback
    /// server do not extend it (they do in Python). Default 300 seconds.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How Entra ID delivers the response: [`ResponseMode::FormPost`] (default) or
    /// [`ResponseMode::Query`].
    #[must_use]
    pub fn with_response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// How the sign-in page is opened. Default: [`SystemBrowser`](crate::SystemBrowser) (the
    /// `webbrowser` crate). Pass [`PrintUrlOpener`](crate::PrintUrlOpener) on a machine without a
    /// browser (SSH) to print the URL and wait for the redirect instead.
    #[must_use]
    pub fn with_browser(mut self, browser: Arc<dyn BrowserOpener>) -> Self {
        self.browser = Some(browser);
        self
    }

    /// When no browser can be opened (an SSH session, a container), sign in with the device
    /// code flow instead: the user enters a code at `https://microsoft.com/devicelogin` on any
    /// device. Off by default, so a chain of credentials still sees
    /// [`CredentialUnavailable`](entra_core::ErrorKind::CredentialUnavailable), as in Python.
    /// The code is shown with Entra ID's message on stderr.
    #[must_use]
    pub fn with_device_code_fallback(mut self, enable: bool) -> Self {
        self.device_code_fallback = enable.then_some(None);
        self
    }

    /// Turns the device code fallback on, showing the code with `callback` instead of stderr.
    #[must_use]
    pub fn with_device_code_fallback_prompt(
        mut self,
        callback: impl Fn(&DeviceCodeInfo) + Send + Sync + 'static,
    ) -> Self {
        self.device_code_fallback = Some(Some(Arc::new(callback)));
        self
    }

    /// Paste-back mode, for machines whose browser cannot reach the loopback server and
    /// tenants that block the device code flow: no loopback server is bound; `paste` shows the
    /// sign-in URL, the user signs in with a browser on any machine and pastes back the address
    /// the browser ends on (`http://localhost:PORT/?code=…&state=…`, a page that fails to load);
    /// the credential checks its `state` and redeems the code with its PKCE verifier.
    /// [`PasteFromStdin`](crate::PasteFromStdin) does it on the terminal. The redirect URI is the
    /// configured one, else `http://localhost:8400`.
    #[must_use]
    pub fn with_paste_redirect(mut self, paste: Arc<dyn PasteRedirect>) -> Self {
        self.paste_redirect = Some(paste);
        self
    }

    /// The configured wait for the user.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_strings_mean_not_given() {
        let o = InteractiveBrowserCredentialOptions::default()
            .with_redirect_uri("")
            .with_tenant_id(" ")
            .with_login_hint("");
        assert!(
            o.redirect_uri.is_none() && o.common.tenant_id().is_none() && o.login_hint.is_none()
        );
        assert_eq!(o.timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn debug_hides_the_login_hint() {
        let o = InteractiveBrowserCredentialOptions::default().with_login_hint("alice@contoso.com");
        assert!(!format!("{o:?}").contains("alice"));
    }
}

/// The authorize request's `prompt`: what the sign-in page asks the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prompt {
    /// `select_account`: the account picker (the default, as Python).
    #[default]
    SelectAccount,
    /// `login`: the user must enter credentials again, even with a session.
    Login,
    /// `consent`: the consent page after sign-in, even when consent was given.
    Consent,
    /// `create`: the sign-up page (where the tenant allows self-service sign-up).
    Create,
    /// `none`: no interaction at all; fails with `interaction_required` when some is needed.
    NoInteraction,
    /// No `prompt` parameter: Entra decides (a single session signs in without a picker).
    Unset,
}

impl Prompt {
    /// The parameter's value, or `None` for [`Unset`](Self::Unset).
    #[must_use]
    pub fn as_param(self) -> Option<&'static str> {
        match self {
            Self::SelectAccount => Some("select_account"),
            Self::Login => Some("login"),
            Self::Consent => Some("consent"),
            Self::Create => Some("create"),
            Self::NoInteraction => Some("none"),
            Self::Unset => None,
        }
    }
}
