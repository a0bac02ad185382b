//! [`HeadlessBrowser`]: a browser stand-in that implements [`BrowserOpener`] by following the
//! authorize URL with an HTTP client and delivering the redirect to the loopback address.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use entra_core::{BrowserOpenError, BrowserOpener};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, ORIGIN, USER_AGENT};
use tokio::sync::watch;

use crate::MockEntra;
use crate::endpoints::{REFUSE_HEADER, USER_HEADER, is_loopback_redirect};
use crate::util::{encode_form, parse_forms, random_token};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) entra-testing-HeadlessBrowser/0.1";
const HTML_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

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
    /// `open` fails with [`BrowserOpenError`], as when no browser is installed.
    CannotOpen,
}

/// One request the stand-in made to the loopback server, and its answer.
#[derive(Clone, PartialEq, Eq)]
pub struct LoopbackResponse {
    method: String,
    url: String,
    status: Option<u16>,
    body: String,
    error: Option<String>,
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
    behavior: BrowserBehavior,
    authorize_status: Option<u16>,
    stray: Vec<LoopbackResponse>,
    redirect: Option<LoopbackResponse>,
    favicon: Option<LoopbackResponse>,
    duplicate: Option<LoopbackResponse>,
    error: Option<String>,
}

impl BrowserOutcome {
    fn new(behavior: BrowserBehavior) -> Self {
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

#[derive(Clone, Debug)]
struct BrowserConfig {
    behavior: BrowserBehavior,
    user: Option<String>,
    default_username: String,
    favicon: bool,
    duplicate: bool,
    stray: bool,
}

#[derive(Default)]
struct Record {
    opened: Vec<String>,
    start_urls: Vec<String>,
    started: u64,
    outcomes: Vec<BrowserOutcome>,
}

struct Inner {
    client: reqwest::Client,
    mock_port: u16,
    config: Mutex<BrowserConfig>,
    record: Mutex<Record>,
    done: watch::Sender<u64>,
}

impl Inner {
    fn config(&self) -> MutexGuard<'_, BrowserConfig> {
        self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A headless stand-in for the user's browser, implementing [`BrowserOpener`].
///
/// `open` returns at once and works on a spawned tokio task, as a real browser would: it
/// follows the authorize URL (trusting the mock's CA, resolving Entra host names to the mock),
/// signs in as the chosen user (submitting the HTML sign-in page if the mock shows one), and
/// delivers the redirect to the loopback address: a `GET` for `response_mode=query`, a form
/// `POST` for `form_post`. Then it requests `/favicon.ico`, and optionally repeats the
/// redirect. It records what it did; [`wait_until_done`](Self::wait_until_done) awaits it.
///
/// Clones share state, so a test can keep one clone and give another to the credential.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use entra_testing::{BrowserBehavior, HeadlessBrowser, MockEntra};
///
/// let mock = MockEntra::start().await?;
/// let browser = HeadlessBrowser::builder(&mock)
///     .user("alice@contoso.onmicrosoft.com")
///     .behavior(BrowserBehavior::SignIn)
///     .duplicate_redirect(true)
///     .build();
/// // hand `std::sync::Arc::new(browser.clone())` to the credential as its BrowserOpener ...
/// assert_eq!(browser.open_count(), 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HeadlessBrowser {
    inner: Arc<Inner>,
}

impl fmt::Debug for HeadlessBrowser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cfg = self.inner.config().clone();
        f.debug_struct("HeadlessBrowser")
            .field("behavior", &cfg.behavior)
            .field("user", &cfg.user)
            .field("open_count", &self.open_count())
            .finish_non_exhaustive()
    }
}

/// Configures a [`HeadlessBrowser`].
#[derive(Debug)]
#[must_use]
pub struct HeadlessBrowserBuilder {
    client: reqwest::Client,
    mock_port: u16,
    config: BrowserConfig,
}

impl HeadlessBrowserBuilder {
    /// Signs in as this user (by username) instead of the mock's default user.
    pub fn user(mut self, username: impl Into<String>) -> Self {
        self.config.user = Some(username.into());
        self
    }

    /// Sets the behaviour (default [`BrowserBehavior::SignIn`]).
    pub fn behavior(mut self, behavior: BrowserBehavior) -> Self {
        self.config.behavior = behavior;
        self
    }

    /// Requests `/favicon.ico` from the loopback server after the redirect (default `true`).
    pub fn favicon(mut self, on: bool) -> Self {
        self.config.favicon = on;
        self
    }

    /// Delivers the redirect a second time, after the favicon request (default `false`).
    pub fn duplicate_redirect(mut self, on: bool) -> Self {
        self.config.duplicate = on;
        self
    }

    /// Sends stray requests (`GET /` and a random path) to the loopback server before the
    /// redirect (default `false`).
    pub fn stray_requests(mut self, on: bool) -> Self {
        self.config.stray = on;
        self
    }

    /// Uses this HTTP client (it must trust the mock's CA and not follow redirects).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// Builds the stand-in.
    #[must_use]
    pub fn build(self) -> HeadlessBrowser {
        let (done, _) = watch::channel(0);
        HeadlessBrowser {
            inner: Arc::new(Inner {
                client: self.client,
                mock_port: self.mock_port,
                config: Mutex::new(self.config),
                record: Mutex::new(Record::default()),
                done,
            }),
        }
    }
}

impl HeadlessBrowser {
    /// A stand-in that signs in as the mock's default user, with the default behaviour.
    #[must_use]
    pub fn new(mock: &MockEntra) -> Self {
        Self::builder(mock).build()
    }

    /// A builder for a stand-in with other settings.
    pub fn builder(mock: &MockEntra) -> HeadlessBrowserBuilder {
        HeadlessBrowserBuilder {
            client: mock.resolving_http_client(),
            mock_port: mock.port(),
            config: BrowserConfig {
                behavior: BrowserBehavior::SignIn,
                user: None,
                default_username: mock.default_user().username().to_owned(),
                favicon: true,
                duplicate: false,
                stray: false,
            },
        }
    }

    /// Changes the behaviour for later `open` calls.
    pub fn set_behavior(&self, behavior: BrowserBehavior) {
        self.inner.config().behavior = behavior;
    }

    /// Changes the user for later `open` calls (`None`: the mock's default user).
    pub fn set_user(&self, username: Option<&str>) {
        self.inner.config().user = username.map(str::to_owned);
    }

    /// The sign-in URL of every `open` call (they carry `state`: a test tool keeps them).
    ///
    /// When a credential hands the browser a one-time loopback start address that redirects
    /// to the sign-in page (see [`BrowserOpener::wants_sign_in_url`]), the entry becomes the
    /// sign-in URL the redirect led to as soon as the browser has followed it; the start
    /// addresses themselves are in [`start_urls`](Self::start_urls).
    #[must_use]
    pub fn opened_urls(&self) -> Vec<String> {
        self.inner.record().opened.clone()
    }

    /// The loopback start addresses this browser was given and followed to a sign-in page.
    #[must_use]
    pub fn start_urls(&self) -> Vec<String> {
        self.inner.record().start_urls.clone()
    }

    /// How many times `open` was called.
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.inner.record().opened.len()
    }

    /// The outcomes of the finished sign-ins, oldest first.
    #[must_use]
    pub fn outcomes(&self) -> Vec<BrowserOutcome> {
        self.inner.record().outcomes.clone()
    }

    /// The outcome of the most recently finished sign-in.
    #[must_use]
    pub fn last_outcome(&self) -> Option<BrowserOutcome> {
        self.inner.record().outcomes.last().cloned()
    }

    /// Waits until every sign-in started so far has finished, and returns the last outcome.
    pub async fn wait_until_done(&self) -> Option<BrowserOutcome> {
        let mut rx = self.inner.done.subscribe();
        loop {
            let started = self.inner.record().started;
            if *rx.borrow_and_update() >= started {
                return self.last_outcome();
            }
            if rx.changed().await.is_err() {
                return self.last_outcome();
            }
        }
    }
}

#[async_trait]
impl BrowserOpener for HeadlessBrowser {
    async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
        let config = self.inner.config().clone();
        let index = {
            let mut record = self.inner.record();
            record.opened.push(url.to_owned());
            record.opened.len() - 1
        };
        tracing::debug!(behavior = ?config.behavior, "headless browser asked to open a URL");
        if config.behavior == BrowserBehavior::CannotOpen {
            return Err(BrowserOpenError::new(
                "the headless browser stand-in is configured not to open (BrowserBehavior::CannotOpen)",
            ));
        }
        let parsed = url::Url::parse(url).map_err(|e| {
            BrowserOpenError::new("the headless browser stand-in cannot open this URL")
                .with_source(e)
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BrowserOpenError::new(
                "the headless browser stand-in opens only http and https URLs",
            ));
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            BrowserOpenError::new("the headless browser stand-in needs a tokio runtime")
                .with_source(e)
        })?;
        self.inner.record().started += 1;
        let inner = self.inner.clone();
        let url = url.to_owned();
        handle.spawn(async move {
            let outcome = match follow_start_address(&inner, &url).await {
                Ok(Some(sign_in)) => {
                    {
                        let mut record = inner.record();
                        if let Some(slot) = record.opened.get_mut(index) {
                            slot.clone_from(&sign_in);
                        }
                        record.start_urls.push(url);
                    }
                    run(&inner.client, &sign_in, &config).await
                }
                Ok(None) => run(&inner.client, &url, &config).await,
                Err(error) => {
                    let mut out = BrowserOutcome::new(config.behavior);
                    out.error = Some(error);
                    out
                }
            };
            tracing::debug!(
                delivered = outcome.delivered(),
                error = outcome.error.as_deref().unwrap_or(""),
                "headless browser finished"
            );
            inner.record().outcomes.push(outcome);
            inner.done.send_modify(|n| *n += 1);
        });
        Ok(())
    }
}

/// A credential may hand the browser a loopback start address (on a loopback host, not the
/// mock's port) that redirects to the sign-in page, as a real browser would follow it. Returns
/// the sign-in URL it redirects to, or `None` when `url` is not such an address.
async fn follow_start_address(inner: &Inner, url: &str) -> Result<Option<String>, String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(None);
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback || parsed.port_or_known_default() == Some(inner.mock_port) {
        return Ok(None);
    }
    let response = inner
        .client
        .get(parsed)
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the start address could not be loaded: {}",
                error_chain(&e.without_url())
            )
        })?;
    if !response.status().is_redirection() {
        return Err(format!(
            "the start address answered {} instead of redirecting to the sign-in page",
            response.status().as_u16()
        ));
    }
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|location| Some(location.to_owned()))
        .ok_or_else(|| "the start address redirected without a Location".to_owned())
}

/// How the redirect reaches the loopback server.
enum Delivery {
    Get(url::Url),
    Post(url::Url, Vec<(String, String)>),
}

impl Delivery {
    fn target(&self) -> &url::Url {
        match self {
            Self::Get(u) | Self::Post(u, _) => u,
        }
    }

    fn forge_state(&mut self) {
        let forged = format!("forged-{}", random_token(1));
        match self {
            Self::Get(u) => {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .into_owned()
                    .map(|(k, v)| {
                        if k == "state" {
                            (k, forged.clone())
                        } else {
                            (k, v)
                        }
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            Self::Post(_, inputs) => {
                for (k, v) in inputs.iter_mut() {
                    if k == "state" {
                        v.clone_from(&forged);
                    }
                }
            }
        }
    }
}

async fn fetch(
    client: &reqwest::Client,
    method: &str,
    url: &url::Url,
    origin: &str,
    form: Option<&[(String, String)]>,
) -> LoopbackResponse {
    let mut req = match form {
        Some(inputs) => client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ORIGIN, origin)
            .body(encode_form(
                inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )),
        None => client.get(url.clone()),
    };
    req = req
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT);
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            LoopbackResponse {
                method: method.to_owned(),
                url: url.to_string(),
                status: Some(status),
                body,
                error: None,
            }
        }
        Err(e) => LoopbackResponse {
            method: method.to_owned(),
            url: url.to_string(),
            status: None,
            body: String::new(),
            // Without the URL: a query redirect's URL carries the code.
            error: Some(error_chain(&e.without_url())),
        },
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn deliver(client: &reqwest::Client, d: &Delivery, origin: &str) -> LoopbackResponse {
    match d {
        Delivery::Get(u) => fetch(client, "GET", u, origin, None).await,
        Delivery::Post(u, inputs) => fetch(client, "POST", u, origin, Some(inputs)).await,
    }
}

/// Follows the authorize URL and delivers the redirect.
async fn run(client: &reqwest::Client, url: &str, cfg: &BrowserConfig) -> BrowserOutcome {
    let mut out = BrowserOutcome::new(cfg.behavior);
    let Ok(mut current) = url::Url::parse(url) else {
        out.error = Some("the URL does not parse".to_owned());
        return out;
    };
    let origin = current.origin().ascii_serialization();
    let mut req = client
        .get(current.clone())
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT);
    if let Some(user) = &cfg.user {
        req = req.header(USER_HEADER, user);
    }
    if cfg.behavior == BrowserBehavior::Cancel {
        req = req.header(REFUSE_HEADER, "access_denied");
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(format!(
                "the sign-in page could not be loaded: {}",
                error_chain(&e.without_url())
            ));
            return out;
        }
    };
    out.authorize_status = Some(resp.status().as_u16());
    if cfg.behavior == BrowserBehavior::NeverFinish {
        let _ = resp.text().await;
        out.error =
            Some("the user never finished signing in (BrowserBehavior::NeverFinish)".into());
        return out;
    }

    let mut delivery = None;
    for _ in 0..6 {
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let Some(location) = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
            else {
                out.error = Some(format!("a {status} answer had no usable Location"));
                return out;
            };
            if is_loopback_redirect(location.as_str()) {
                delivery = Some(Delivery::Get(location));
                break;
            }
            current = location;
            resp = match client
                .get(current.clone())
                .header(USER_AGENT, BROWSER_UA)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(format!(
                        "following a redirect failed: {}",
                        error_chain(&e.without_url())
                    ));
                    return out;
                }
            };
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            out.error = Some(format!(
                "the sign-in page answered {status}: {}",
                page_text(&body)
            ));
            return out;
        }
        let forms = parse_forms(&body);
        if let Some(form) = forms
            .iter()
            .find(|f| f.id.as_deref() == Some("mock-entra-sign-in"))
        {
            let Ok(action) = current.join(&form.action) else {
                out.error = Some("the sign-in form has an unusable action".into());
                return out;
            };
            let username = cfg
                .user
                .clone()
                .unwrap_or_else(|| cfg.default_username.clone());
            let mut inputs: Vec<(String, String)> = form
                .inputs
                .iter()
                .filter(|(k, _)| k != "login")
                .cloned()
                .collect();
            inputs.push(("login".to_owned(), username));
            current = action;
            resp = match client
                .post(current.clone())
                .header(USER_AGENT, BROWSER_UA)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ORIGIN, &origin)
                .body(encode_form(
                    inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ))
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(format!(
                        "submitting the sign-in page failed: {}",
                        error_chain(&e.without_url())
                    ));
                    return out;
                }
            };
            continue;
        }
        if let Some(form) = forms.iter().find(|f| f.method == "post") {
            match current.join(&form.action) {
                Ok(action) if is_loopback_redirect(action.as_str()) => {
                    delivery = Some(Delivery::Post(action, form.inputs.clone()));
                    break;
                }
                _ => {
                    out.error =
                        Some("the form_post page does not post to a loopback address".into());
                    return out;
                }
            }
        }
        out.error = Some(format!(
            "the sign-in page neither redirected nor posted: {}",
            page_text(&body)
        ));
        return out;
    }
    let Some(mut delivery) = delivery else {
        out.error = Some("too many pages before the redirect".into());
        return out;
    };

    let target = delivery.target().clone();
    let loopback_origin = target.origin().ascii_serialization();
    if cfg.stray {
        for path in ["/".to_owned(), format!("/{}", random_token(1))] {
            if let Ok(u) = url::Url::parse(&format!("{loopback_origin}{path}")) {
                out.stray
                    .push(fetch(client, "GET", &u, &origin, None).await);
            }
        }
    }
    if cfg.behavior == BrowserBehavior::ForgedState {
        delivery.forge_state();
    }
    let redirect = deliver(client, &delivery, &origin).await;
    if let Some(e) = &redirect.error {
        out.error = Some(format!(
            "the loopback server did not answer the redirect: {e}"
        ));
    }
    out.redirect = Some(redirect);
    if cfg.favicon
        && let Ok(u) = url::Url::parse(&format!("{loopback_origin}/favicon.ico"))
    {
        out.favicon = Some(fetch(client, "GET", &u, &origin, None).await);
    }
    if cfg.duplicate {
        out.duplicate = Some(deliver(client, &delivery, &origin).await);
    }
    out
}

/// A short text rendering of an error page (its `error-message` paragraph, or the start).
fn page_text(body: &str) -> String {
    let marker = "id=\"error-message\">";
    if let Some(start) = body.find(marker).map(|p| p + marker.len())
        && let Some(end) = body[start..].find('<')
    {
        return crate::util::html_unescape(&body[start..start + end]);
    }
    body.chars().take(200).collect()
}
