//! macOS only: [`KeychainStore`], the cache document as a generic password in the login
//! Keychain, under the service and account Azure Identity uses
//! ([`KeychainItem`](crate::KeychainItem)), through the `keyring` crate's Apple store.

use super::options::KeychainItem;
use super::store::SecretStore;
use crate::BoxError;

/// The login Keychain item of one cache. The default store of
/// [`FileBackend`](crate::FileBackend) on macOS.
#[derive(Clone, Debug)]
pub struct KeychainStore {
    item: KeychainItem,
}

impl KeychainStore {
    /// The store of `item`. Touches nothing.
    #[must_use]
    pub fn new(item: KeychainItem) -> Self {
        Self { item }
    }

    fn entry(&self) -> Result<keyring::Entry, BoxError> {
        Ok(keyring::Entry::new(&self.item.service, &self.item.account)?)
    }
}

impl SecretStore for KeychainStore {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        match self.entry()?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, document: &[u8]) -> Result<(), BoxError> {
        self.entry()?.set_secret(document)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "keychain"
    }
}
