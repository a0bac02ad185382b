//! [`HeadlessBrowser`]: a browser stand-in that implements [`BrowserOpener`] by following the
//! authorize URL with an HTTP client and delivering the redirect to the loopback address.

mod navigate;
mod outcome;
mod state;

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use entra_core::{BrowserOpenError, BrowserOpener};
use tokio::sync::watch;

use crate::MockEntra;

use self::navigate::{follow_start_address, run};
pub use self::outcome::{BrowserBehavior, BrowserOutcome, LoopbackResponse};
use self::state::{BrowserConfig, Inner, Record};

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
