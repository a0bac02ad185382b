//! A browser opener that lets an attacker act first: it runs `attack` with the start address
//! the credential hands its opener, then lets the user's browser open it. Shared by the attack
//! tests of `tests/it` and `tests/owner_check.rs`.

use async_trait::async_trait;
use entra_core::{BrowserOpenError, BrowserOpener};
use entra_testing::HeadlessBrowser;

/// Runs `attack`, then opens the address in `browser`.
pub(crate) struct AttackFirst<F> {
    pub(crate) browser: HeadlessBrowser,
    pub(crate) attack: F,
}

impl<F> std::fmt::Debug for AttackFirst<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttackFirst")
    }
}

#[async_trait]
impl<F, Fut> BrowserOpener for AttackFirst<F>
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = ()> + Send,
{
    async fn open(&self, url: &str) -> Result<(), BrowserOpenError> {
        (self.attack)(url.to_owned()).await;
        self.browser.open(url).await
    }
}
