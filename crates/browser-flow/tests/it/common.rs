//! Shared setup: a mock on the real public-cloud host names and a headless browser.

use std::sync::Arc;
use std::time::Duration;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::{BoxError, FileBackend, SecretStore};
use entra_testing::{HeadlessBrowser, MockEntra};

pub(crate) const SCOPE: &str = "https://graph.microsoft.com/.default";
pub(crate) const OTHER_SCOPE: &str = "https://management.azure.com/.default";

/// A mock reached as `login.microsoftonline.com` (the known-cloud code path over real TLS).
pub(crate) struct Env {
    pub(crate) mock: MockEntra,
    pub(crate) browser: HeadlessBrowser,
}

impl Env {
    pub(crate) async fn start() -> Self {
        Self::with_mock(MockEntra::start().await.expect("mock starts"))
    }

    /// An environment on a mock configured by the test.
    pub(crate) async fn with(builder: entra_testing::MockEntraBuilder) -> Self {
        Self::with_mock(builder.start().await.expect("mock starts"))
    }

    fn with_mock(mock: MockEntra) -> Self {
        let browser = HeadlessBrowser::new(&mock);
        Self { mock, browser }
    }

    /// Options for the public cloud, resolved to the mock, with the stand-in browser.
    pub(crate) fn options(&self) -> InteractiveBrowserCredentialOptions {
        InteractiveBrowserCredentialOptions::default()
            .with_authority("login.microsoftonline.com")
            .with_http_client(self.mock.resolving_http_client())
            .with_browser(Arc::new(self.browser.clone()))
            .with_timeout(Duration::from_secs(60))
    }

    pub(crate) fn credential(&self) -> Arc<InteractiveBrowserCredential> {
        InteractiveBrowserCredential::new(self.options()).expect("valid options")
    }
}

/// The `redirect_uri` of the `n`th URL the browser was asked to open.
pub(crate) fn redirect_uri_of(browser: &HeadlessBrowser, n: usize) -> url::Url {
    let urls = browser.opened_urls();
    let url = url::Url::parse(&urls[n]).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    url::Url::parse(&redirect).unwrap()
}

/// A query parameter of the `n`th opened URL.
pub(crate) fn opened_param(browser: &HeadlessBrowser, n: usize, name: &str) -> Option<String> {
    let urls = browser.opened_urls();
    let url = url::Url::parse(&urls[n]).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Waits (bounded) until `port` on 127.0.0.1 can be bound again.
pub(crate) async fn port_released(port: u16) -> bool {
    for _ in 0..200 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// No OS secret store: the backend falls back to a plaintext file (allowed explicitly).
#[derive(Debug)]
pub(crate) struct NoKeyring;

impl SecretStore for NoKeyring {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        Err("no keyring in this test".into())
    }
    fn save(&self, _document: &[u8]) -> Result<(), BoxError> {
        Err("no keyring in this test".into())
    }
    fn kind(&self) -> &'static str {
        "none"
    }
}

/// A plaintext file backend in `dir` (MSAL's own JSON; no keyring involved).
pub(crate) fn backend(dir: &std::path::Path) -> Arc<FileBackend> {
    Arc::new(
        FileBackend::new(dir.join("test.cache.nocae"))
            .with_allow_unencrypted_storage(true)
            .with_secret_store(Arc::new(NoKeyring)),
    )
}
