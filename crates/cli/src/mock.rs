//! `--mock`: an embedded mock Entra ID (entra-testing's `MockEntra`) with a headless browser
//! stand-in, behind the crate's opt-in `mock` feature. Without the feature, `--mock` is an
//! invalid argument that says how to get it.

use std::sync::Arc;

use entra_browser_flow::PasteRedirect;
use entra_core::{BrowserOpener, Result};

use crate::args::Args;

/// Enters a device code as the mock's user; `true` when the code was known.
pub(crate) type Approve = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What a run against the mock needs.
pub(crate) struct Mock {
    /// An HTTP client that reaches the mock as the real Entra hosts.
    pub(crate) http: reqwest::Client,
    /// The stand-in browser.
    pub(crate) browser: Arc<dyn BrowserOpener>,
    /// A "browser elsewhere" for `--paste-redirect`.
    pub(crate) paste: Arc<dyn PasteRedirect>,
    /// Enters a device code as the mock's user.
    pub(crate) approve: Approve,
    #[cfg(feature = "mock")]
    inner: Arc<entra_testing::MockEntra>,
}

#[cfg(feature = "mock")]
mod imp {
    use std::sync::Arc;

    use async_trait::async_trait;
    use entra_browser_flow::PasteRedirect;
    use entra_core::{BrowserOpenError, Error, Result, Secret};
    use entra_testing::{BrowserBehavior, Endpoint, HeadlessBrowser, MockEntra, RecordedRequest};

    use super::Mock;
    use crate::args::{Args, MockBrowser};

    /// Paste-back against the mock: a "browser elsewhere" signs in at the sign-in URL and
    /// pastes the address it ends on.
    #[derive(Debug)]
    struct MockPaste(reqwest::Client);

    #[async_trait]
    impl PasteRedirect for MockPaste {
        async fn paste(&self, sign_in_url: &str) -> std::result::Result<Secret, BrowserOpenError> {
            let response = self.0.get(sign_in_url).send().await.map_err(|e| {
                BrowserOpenError::new("the mock's sign-in page could not be loaded").with_source(e)
            })?;
            let ended_on = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| BrowserOpenError::new("the mock did not redirect after sign-in"))?;
            say!(
                "The mock's user signed in elsewhere and pasted the address the browser ended on."
            );
            Ok(Secret::new(ended_on))
        }
    }

    pub(super) async fn start(args: &Args) -> Result<Mock> {
        let mut builder = MockEntra::builder();
        if let Some(port) = args.mock_port {
            builder = builder.port(port);
        }
        let mock = builder.start().await.map_err(|e| {
            Error::credential_unavailable("could not start the mock identity provider")
                .with_source(e)
        })?;
        say!(
            "Mock Entra ID listening on {}; login.microsoftonline.com (and the other cloud \
             hosts) resolve to it. Signs in as {}.",
            mock.base_url(),
            mock.default_user().username()
        );
        let behavior = match args.mock_browser.unwrap_or(MockBrowser::SignIn) {
            MockBrowser::SignIn => BrowserBehavior::SignIn,
            MockBrowser::Cancel => BrowserBehavior::Cancel,
            MockBrowser::NeverFinish => BrowserBehavior::NeverFinish,
            MockBrowser::CannotOpen => BrowserBehavior::CannotOpen,
        };
        let mock = Arc::new(mock);
        let approver = Arc::clone(&mock);
        Ok(Mock {
            http: mock.resolving_http_client(),
            browser: Arc::new(HeadlessBrowser::builder(&mock).behavior(behavior).build()),
            paste: Arc::new(MockPaste(mock.resolving_http_client())),
            approve: Arc::new(move |code| approver.approve_device_code(code)),
            inner: mock,
        })
    }

    /// Query parameters whose values are one-time secrets: shown as `<redacted>` (the
    /// credential's own list).
    const REDACTED_PARAMS: [&str; 3] = entra_browser_flow::ONE_TIME_QUERY_PARAMS;

    /// The URL of a request the mock received, one-time values redacted.
    fn redacted_request_url(r: &RecordedRequest) -> String {
        let Ok(mut url) = url::Url::parse(&format!("https://{}{}", r.host(), r.path())) else {
            return format!("https://{}{}", r.host(), r.path());
        };
        url.query_pairs_mut()
            .extend_pairs(r.query().iter().map(|(k, v)| {
                let v = if REDACTED_PARAMS.contains(&k.as_str()) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            }));
        url.to_string()
    }

    pub(super) fn report(mock: &MockEntra) {
        let requests = mock.requests();
        let mut line = format!("Mock Entra ID received {} request(s)", requests.len());
        for (i, r) in requests.iter().enumerate() {
            line.push_str(if i == 0 { ": " } else { ", " });
            line.push_str(&format!("{} {}", r.method(), r.path()));
            if let Some(grant) = r.grant_type() {
                line.push_str(&format!(" ({grant})"));
            }
        }
        say!("{line}");
        if let Some(authorize) = mock.last_request(Endpoint::Authorize) {
            say!(
                "Authorize request received by the mock:\n  {}",
                redacted_request_url(&authorize)
            );
        }
        if mock.count(Endpoint::Token) > 0 {
            let caps = mock.last_client_capabilities().unwrap_or_default();
            say!(
                "Last token request: client capabilities [{}], claims {}",
                caps.join(", "),
                if mock.last_claims().is_some() {
                    "sent"
                } else {
                    "none"
                }
            );
        }
    }
}

impl Mock {
    /// Starts the mock when `--mock` was given.
    ///
    /// # Errors
    /// `InvalidArgument` when this binary was built without the `mock` feature;
    /// `CredentialUnavailable` when the mock cannot start.
    pub(crate) async fn start(args: &Args) -> Result<Option<Self>> {
        if !args.mock {
            return Ok(None);
        }
        #[cfg(feature = "mock")]
        {
            imp::start(args).await.map(Some)
        }
        #[cfg(not(feature = "mock"))]
        {
            Err(entra_core::Error::invalid_argument(
                "this entra was built without the embedded mock: install it with \
                 `cargo install entra-cli --features mock` to use --mock",
            ))
        }
    }

    /// Prints on stderr what the mock received (its request log), after the run.
    pub(crate) fn report(&self) {
        #[cfg(feature = "mock")]
        imp::report(&self.inner);
    }
}
