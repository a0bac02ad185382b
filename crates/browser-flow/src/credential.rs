//! [`InteractiveBrowserCredential`]: the browser's interactive step (loopback server, the
//! browser, the code redemption) on the shared public-client layer
//! ([`entra_public_client::PublicClient`]), and this credential's errors (its name and links to
//! the troubleshooting guide).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use entra_cache::AccountEntry;
use entra_core::{
    AccessToken, AccessTokenInfo, AuthenticationRecord, BrowserOpenError, BrowserOpener, Error,
    Result, TokenCredential, TokenRequestOptions,
};
use entra_device_code::DeviceCodeStep;
use entra_msal_lite::{AuthCodeFlow, AuthorizeParams, request::ResponseMode, response::ClientInfo};
use entra_public_client::{
    AuthenticateOptions, InteractiveStep, PublicClient, StepContext, StepOutcome,
};

use crate::browser::{SystemBrowser, redact_url};
use crate::error::BrowserFlowError;
use crate::options::{CREDENTIAL_NAME, InteractiveBrowserCredentialOptions, Prompt};
use crate::paste::{PasteRedirect, parse_pasted};
use crate::redirect_uri::{RedirectTarget, parse_redirect_uri};
use crate::server::{AuthCode, LoopbackServer};

/// The browser's part of a sign-in: what [`PublicClient`] calls when the silent path cannot
/// serve.
struct BrowserStep {
    login_hint: Option<String>,
    prompt: Prompt,
    domain_hint: Option<String>,
    pages: crate::redirect::Pages,
    redirect: RedirectTarget,
    response_mode: ResponseMode,
    timeout: Duration,
    browser: Arc<dyn BrowserOpener>,
    /// The device code step to fall back to when no browser opens (opt-in).
    fallback: Option<DeviceCodeStep>,
    /// Paste-back mode: no loopback server; the user pastes the address the browser ends on.
    paste: Option<Arc<dyn PasteRedirect>>,
}

/// Opens a browser to sign a user in interactively, with the authorization code flow and PKCE,
/// receiving the redirect on a loopback server; then serves tokens from its cache and refresh
/// tokens, silently.
///
/// Python: `azure.identity.InteractiveBrowserCredential`. Construct it with
/// [`new`](Self::new), then call [`get_token`](entra_core::TokenCredential::get_token) (through the
/// [`TokenCredential`](entra_core::TokenCredential) trait), [`authenticate`](Self::authenticate) and [`close`](Self::close).
/// Everything but the browser step (the cache, refresh tokens, tenants, CAE, single-flight, the
/// record) is [`entra_public_client::PublicClient`], shared with the other credentials.
///
/// A whole sign-in, here against the mock Entra ID of `entra-testing` and its stand-in
/// browser, which answer as `login.microsoftonline.com` (drop the hidden lines for the real
/// thing):
///
/// ```
/// use std::sync::Arc;
/// use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = entra_testing::MockEntra::start().await?;
/// # let browser = Arc::new(entra_testing::HeadlessBrowser::new(&mock));
/// let credential = InteractiveBrowserCredential::new(
///     InteractiveBrowserCredentialOptions::default()
/// #       .with_http_client(mock.resolving_http_client()).with_browser(browser.clone())
///         .with_login_hint("alice@contoso.onmicrosoft.com"),
/// )?;
/// let scopes = ["https://graph.microsoft.com/.default"];
/// let first = credential.get_token(&scopes, None).await?; // opens the browser
/// let again = credential.get_token(&scopes, None).await?; // from the cache
/// assert_eq!(first.token, again.token);
/// let record = credential.authentication_record().expect("signed in");
/// assert_eq!(record.username(), "alice@contoso.onmicrosoft.com");
/// # assert_eq!(browser.open_count(), 1);
/// # Ok(()) }
/// ```
///
/// Where Python has a known flaw this type does the right thing:
/// - the loopback server ignores requests that are not the sign-in response (a bare `GET /`,
///   `favicon.ico`, a forged or stale `state`) instead of ending the wait;
/// - the timeout is one deadline for the whole wait; stray requests do not extend it;
/// - when no browser opens, stderr says so and how to sign in anyway (no URL: the attempt's
///   URL is dead and carries `state`, `nonce` and the user's name);
/// - a configured `redirect_uri` is sent exactly as given (path included), and `state` is
///   checked by the listener in constant time;
/// - with an authentication record and a persistent cache, a new process finds the token that
///   was cached under `organizations` (Python misses it and refreshes);
/// - the listener binds `127.0.0.1` and also `::1`, since browsers may resolve `localhost` to
///   either;
/// - the browser opener is handed a one-time loopback address
///   (`http://localhost:PORT/entra-sign-in/<random>`) that redirects to the sign-in page, so
///   `state`, `nonce` and `login_hint` never reach a launcher's command line or logs (the
///   `webbrowser` crate logs the command it runs); openers that follow the sign-in URL
///   themselves opt out with [`BrowserOpener::wants_sign_in_url`]. The address is consumed by
///   its first visit, and a second visit stops the sign-in
///   ([`BrowserFlowError::StartAddressReused`](crate::BrowserFlowError::StartAddressReused)); on Linux, connections from another user's
///   processes are refused; only loopback `Host` names are served;
/// - every error links to its section of the troubleshooting guide.
pub struct InteractiveBrowserCredential(PublicClient<BrowserStep>);

impl fmt::Debug for InteractiveBrowserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(CREDENTIAL_NAME)
            .field("client_id", &self.0.client_id())
            .field("authority", &self.0.authority_host().as_str())
            .field("tenant_id", &self.0.tenant_id())
            .field("redirect_uri", &self.0.step().redirect.uri)
            .field("response_mode", &self.0.step().response_mode)
            .field("timeout", &self.0.step().timeout)
            .field("client", &self.0)
            .field("browser", &self.0.step().browser)
            .finish_non_exhaustive()
    }
}

fn err(e: impl Into<Error>) -> Error {
    entra_public_client::decorate(e.into(), CREDENTIAL_NAME)
}

impl InteractiveBrowserCredential {
    /// Creates the credential. Validates every option; does no I/O (no network, no storage,
    /// no port is bound: the persistent cache is opened and the loopback port bound on first
    /// use).
    ///
    /// # Errors
    /// [`InvalidArgument`](entra_core::ErrorKind::InvalidArgument) with Python's message for
    /// an invalid `tenant_id`, `redirect_uri` or `authority` (not https), and for an invalid
    /// entry of `additionally_allowed_tenants`.
    pub fn new(options: InteractiveBrowserCredentialOptions) -> Result<Arc<Self>> {
        Self::build(options).map(Arc::new).map_err(err)
    }

    fn build(options: InteractiveBrowserCredentialOptions) -> Result<Self> {
        let redirect = match &options.redirect_uri {
            Some(uri) => parse_redirect_uri(uri)?,
            None => RedirectTarget::default_scan(),
        };
        let step = BrowserStep {
            login_hint: options.login_hint,
            prompt: options.prompt,
            domain_hint: options.domain_hint,
            pages: options.pages,
            redirect,
            response_mode: options.response_mode,
            timeout: options.timeout,
            browser: options.browser.unwrap_or_else(|| Arc::new(SystemBrowser)),
            fallback: options
                .device_code_fallback
                .map(|prompt| DeviceCodeStep::new(Some(options.timeout), prompt, None)),
            paste: options.paste_redirect,
        };
        PublicClient::new(options.common, step).map(Self)
    }
}

impl InteractiveBrowserCredential {
    /// The record of the account the credential signs in as: given at construction, or
    /// built by the last interactive sign-in. Save its `serialize`d form to sign in silently
    /// in a later process.
    #[must_use]
    pub fn authentication_record(&self) -> Option<AuthenticationRecord> {
        self.0.authentication_record()
    }

    /// Gets an access token for `scopes`: from memory, the token cache or a refresh token
    /// when possible, else by signing the user in (unless `disable_automatic_authentication`).
    /// Inherent, so that it is unambiguous next to azure_core's `TokenCredential`.
    ///
    /// # Errors
    /// As [`PublicClient::get_token`].
    pub async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.0.get_token(scopes, options).await
    }

    /// As [`get_token`](Self::get_token), with the token type and `refresh_on`.
    ///
    /// # Errors
    /// As [`PublicClient::get_token`].
    pub async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.0.get_token_info(scopes, options).await
    }

    /// Signs the user in, always, caches the token for `scopes` and returns the record.
    ///
    /// # Errors
    /// As [`PublicClient::authenticate`].
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        self.0.authenticate(scopes, claims).await
    }

    /// [`authenticate`](Self::authenticate) with scopes, claims, a tenant and CAE.
    ///
    /// # Errors
    /// As [`PublicClient::authenticate_with`].
    pub async fn authenticate_with(
        &self,
        options: &AuthenticateOptions,
    ) -> Result<AuthenticationRecord> {
        self.0.authenticate_with(options).await
    }

    /// The accounts the credential's caches hold for its authority, once each; no request.
    ///
    /// # Errors
    /// As [`PublicClient::accounts`].
    pub async fn accounts(&self) -> Result<Vec<Arc<AccountEntry>>> {
        self.0.accounts().await
    }

    /// Removes the account's tokens for this client from the caches and forgets its record;
    /// whether a cache held any.
    ///
    /// # Errors
    /// As [`PublicClient::sign_out`].
    pub async fn sign_out(&self) -> Result<bool> {
        self.0.sign_out().await
    }

    /// Releases the tokens held in memory, the view of the persistent cache and the fetched
    /// authority metadata; the credential stays usable.
    pub fn close(&self) {
        self.0.close();
    }
}

#[async_trait]
impl TokenCredential for InteractiveBrowserCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.0.get_token(scopes, options).await
    }

    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.0.get_token_info(scopes, options).await
    }
}

/// The credential is itself an azure_core credential (its `Arc` coerces to
/// `Arc<dyn azure_core::credentials::TokenCredential>`); see
/// [`entra_public_client::azure_core`].
#[cfg(feature = "azure_core")]
#[async_trait]
impl azure_core::credentials::TokenCredential for InteractiveBrowserCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        azure_core::credentials::TokenCredential::get_token(&self.0, scopes, options).await
    }
}

impl BrowserStep {
    /// Binds the loopback server, opens the browser, waits for the redirect and redeems the
    /// code. `Ok(Err(_))`: no browser could be opened (the loopback server is closed again).
    async fn with_browser(
        &self,
        ctx: &StepContext<'_>,
    ) -> Result<std::result::Result<StepOutcome, BrowserOpenError>> {
        // Bind first: the browser must never be redirected to a port nobody listens on.
        let mut server = LoopbackServer::bind(&self.redirect).await?;
        server.set_pages(self.pages.clone());
        let port = server.port();
        let params = AuthorizeParams::new(ctx.client_id, server.redirect_uri(), ctx.scopes)
            .with_response_mode(self.response_mode)
            .with_login_hint(self.login_hint.as_deref())
            .with_prompt(self.prompt.as_param())
            .with_domain_hint(self.domain_hint.as_deref())
            .with_claims(ctx.claims);
        let flow = AuthCodeFlow::new(ctx.endpoints, params)?;
        let sign_in_url = flow.authorize_url().as_str();
        // Openers get a one-time loopback address that redirects to the sign-in page, unless
        // they follow the sign-in URL themselves: the webbrowser crate, for one, logs the
        // command line it runs, and the sign-in URL carries `state` and `nonce`.
        let start_url;
        let url = if self.browser.wants_sign_in_url() {
            sign_in_url
        } else {
            start_url = server.start_redirect(sign_in_url)?;
            start_url.secret()
        };
        if ctx.support_logging {
            tracing::info!(
                port,
                url = %redact_url(sign_in_url),
                login_hint = self.login_hint.as_deref(),
                "opening the browser for interactive sign-in"
            );
        } else {
            tracing::info!(port, url = %redact_url(sign_in_url), "opening the browser for interactive sign-in");
        }
        let wait = server.wait(flow.state().clone(), self.response_mode, self.timeout);
        tokio::pin!(wait);
        let redirect = tokio::select! {
            done = &mut wait => done,
            opened = self.browser.open(url) => match opened {
                Ok(()) => wait.await,
                Err(e) => {
                    tracing::warn!(url = %redact_url(sign_in_url), error = %e, "failed to open a browser");
                    return Ok(Err(e));
                }
            },
        }?;
        tracing::debug!("redirect received; redeeming the authorization code");
        redeem(ctx, &flow, redirect).await.map(Ok)
    }

    /// Paste-back: shows the sign-in URL (query response mode), takes the pasted address,
    /// checks it and redeems its code. No loopback server is bound.
    async fn with_paste(
        &self,
        ctx: &StepContext<'_>,
        paste: &dyn PasteRedirect,
    ) -> Result<StepOutcome> {
        let redirect_uri = self
            .redirect
            .uri
            .clone()
            .unwrap_or_else(|| PASTE_REDIRECT_URI.to_owned());
        let params = AuthorizeParams::new(ctx.client_id, &redirect_uri, ctx.scopes)
            .with_response_mode(ResponseMode::Query)
            .with_login_hint(self.login_hint.as_deref())
            .with_prompt(self.prompt.as_param())
            .with_domain_hint(self.domain_hint.as_deref())
            .with_claims(ctx.claims);
        let flow = AuthCodeFlow::new(ctx.endpoints, params)?;
        tracing::info!(url = %redact_url(flow.authorize_url().as_str()), "waiting for a pasted sign-in address");
        let pasted =
            match tokio::time::timeout(self.timeout, paste.paste(flow.authorize_url().as_str()))
                .await
            {
                Ok(Ok(pasted)) => pasted,
                Ok(Err(e)) => return Err(BrowserFlowError::NothingPasted(e).into()),
                Err(_) => {
                    return Err(BrowserFlowError::Timeout {
                        waited: self.timeout,
                    }
                    .into());
                }
            };
        let code = parse_pasted(&pasted, &redirect_uri, flow.state())?;
        redeem(ctx, &flow, code).await
    }
}

/// The redirect URI of paste-back sign-ins without a configured one (the development client
/// accepts any `http://localhost` port; nothing needs to listen there).
const PASTE_REDIRECT_URI: &str = "http://localhost:8400";

/// Redeems the code of a redirect (received or pasted) with the flow's PKCE verifier.
async fn redeem(ctx: &StepContext<'_>, flow: &AuthCodeFlow, code: AuthCode) -> Result<StepOutcome> {
    let client_info = code
        .client_info
        .as_deref()
        .and_then(|raw| ClientInfo::decode(raw).ok());
    let grant = flow.redemption(code.code, client_info);
    let response = ctx.client.redeem_code(ctx.endpoints, &grant).await?;
    Ok(StepOutcome::new(response, "authorization_code").with_nonce(flow.nonce().clone()))
}

#[async_trait]
impl InteractiveStep for BrowserStep {
    fn credential_name(&self) -> &'static str {
        CREDENTIAL_NAME
    }

    /// The browser sign-in; when no browser opens, the device code fallback (opt-in) or
    /// `CredentialUnavailable`.
    async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
        if let Some(paste) = &self.paste {
            return self.with_paste(ctx, paste.as_ref()).await;
        }
        let e = match self.with_browser(ctx).await? {
            Ok(outcome) => return Ok(outcome),
            Err(e) => e,
        };
        if let Some(fallback) = &self.fallback {
            // The device code prompt that follows tells the user what to do.
            tracing::info!("no browser could be opened: falling back to the device code flow");
            return fallback.sign_in(ctx).await;
        }
        // A library writes nothing to stderr: the application says what its user can do
        // (the help link names PrintUrlOpener, paste-back and the device code fallback).
        // Nothing of the attempt is logged: its URL carries `state`, `nonce` and the user's
        // name, and it is dead once this returns.
        tracing::warn!(
            "no browser could be opened: configure PrintUrlOpener, paste-back or the device \
             code fallback to sign in on a machine without one"
        );
        Err(BrowserFlowError::BrowserUnavailable(e).into())
    }
}

#[cfg(test)]
mod troubleshooting_tests {
    use super::*;
    use entra_core::{ErrorResponse, Reason};

    #[test]
    fn every_linked_anchor_exists_in_the_guide() {
        let guide = include_str!("../TROUBLESHOOTING.md");
        let reasons = [
            Reason::BrowserUnavailable,
            Reason::PortInUse,
            Reason::Timeout,
            Reason::SignInLinkReused,
            Reason::PastedAddressRefused,
            Reason::KeyringUnavailable,
            Reason::CacheUnreadable,
            Reason::CacheLocked,
            Reason::CacheLocationUnsafe,
            Reason::InvalidInstance,
            Reason::TenantDiscovery,
            Reason::TenantNotAllowed,
        ];
        let mut cases: Vec<Error> = reasons
            .iter()
            .map(|r| Error::client_authentication("m").with_reason(*r))
            .collect();
        cases.extend([
            Error::authentication_required(&["s"], None),
            Error::from_error_response(Some(400), ErrorResponse::new("invalid_grant")),
            Error::from_error_response(None, ErrorResponse::new("access_denied")),
            Error::from_error_response(
                Some(400),
                ErrorResponse::new("invalid_request")
                    .with_description("AADSTS50011: The redirect URI does not match."),
            ),
        ]);
        for case in cases {
            let e = err(case);
            let help = e.help().unwrap_or_else(|| panic!("no help for {e:?}"));
            let anchor = help.rsplit_once('#').map(|(_, a)| a).unwrap();
            assert!(
                guide.contains(&format!("<a id=\"{anchor}\"></a>")),
                "TROUBLESHOOTING.md has no anchor {anchor}"
            );
            assert!(e.to_string().ends_with(&format!("See {help}")), "{e}");
        }
        // The message text decides nothing; argument errors say what to fix themselves.
        assert!(
            err(Error::client_authentication("Timed out after waiting"))
                .help()
                .is_none()
        );
        assert!(err(Error::invalid_argument("bad scope")).help().is_none());
    }

    /// Errors from the real lower layers carry their reason across the boundary.
    #[test]
    fn lower_layer_errors_choose_their_link_by_type() {
        let cases: [(Error, &str); 4] = [
            (
                entra_cache::CacheError::Undecryptable { path: "/c".into() }.into(),
                "cache-corrupt",
            ),
            (
                entra_cache::CacheError::KeyringUnavailable {
                    source: "no bus".into(),
                }
                .into(),
                "keyring-unavailable",
            ),
            (
                entra_msal_lite::MsalError::TenantDiscovery {
                    authority: "https://h/t".into(),
                    status: Some(404),
                    problem: None,
                }
                .into(),
                "tenant-discovery",
            ),
            (
                entra_msal_lite::MsalError::InstanceDiscoveryFailed {
                    authority: "https://h".into(),
                    cause: Box::new(entra_msal_lite::MsalError::StateMismatch),
                }
                .into(),
                "invalid-instance",
            ),
        ];
        for (e, anchor) in cases {
            let e = err(e);
            assert!(
                e.help().is_some_and(|h| h.ends_with(&format!("#{anchor}"))),
                "{e:?}"
            );
            // The typed lower error stays reachable.
            assert!(
                e.find_cause::<entra_cache::CacheError>().is_some()
                    || e.find_cause::<entra_msal_lite::MsalError>().is_some(),
                "{e:?}"
            );
        }
    }
}
