//! The seams of the encrypted persistence: [`SecretStore`] (an OS secret store holding the
//! whole document: the Secret Service, the Keychain) and [`Protector`] (a function sealing the
//! file's bytes: DPAPI), with in-memory implementations for tests.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::BoxError;

/// An OS secret store holding one cache document (MSAL's JSON) in one item, as MSAL keeps it
/// on Linux (Secret Service) and macOS (Keychain). The cache file next to it is then only a
/// signal whose modification time tells other processes to reload.
///
/// Calls may block (they run on tokio's blocking pool) and always happen under the cache's
/// lock file when they write. Implementations: [`SecretServiceStore`](crate::SecretServiceStore)
/// (Linux, BSD), `KeychainStore` (macOS), [`MemorySecretStore`] (tests, one-process caches).
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The stored document, or `None` when there is none.
    ///
    /// # Errors
    /// The store is unusable (no service, locked, access denied).
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError>;

    /// Replaces the stored document.
    ///
    /// # Errors
    /// The store is unusable.
    fn save(&self, document: &[u8]) -> Result<(), BoxError>;

    /// Checks once, before first use, that the store can be written (the Secret Service:
    /// that a default collection exists and is unlocked). Default: a [`load`](Self::load).
    ///
    /// # Errors
    /// The store is unusable; the cache then reports
    /// [`CacheError::KeyringUnavailable`](crate::CacheError::KeyringUnavailable) or falls back
    /// to plaintext when that is allowed.
    fn check(&self) -> Result<(), BoxError> {
        self.load().map(drop)
    }

    /// What kind of store this is, for the backend's `kind` in tracing (`secret service`,
    /// `keychain`). Never an item's name or content.
    fn kind(&self) -> &'static str;
}

/// A [`SecretStore`] in this process's memory: a cache written with it lasts while the store
/// lives. Share one `Arc` between backends to act as one machine's store. The document is not
/// zeroized on drop.
#[derive(Default)]
pub struct MemorySecretStore(Mutex<Option<Vec<u8>>>);

impl MemorySecretStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the stored document.
    #[must_use]
    pub fn document(&self) -> Option<Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The document holds tokens: show its size only.
        let len = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Vec::len);
        f.debug_struct("MemorySecretStore")
            .field("len", &len)
            .finish()
    }
}

impl SecretStore for MemorySecretStore {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        Ok(self.document())
    }

    fn save(&self, document: &[u8]) -> Result<(), BoxError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(document.to_vec());
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory store"
    }
}

/// Seals the cache file's bytes for this user, as MSAL does on Windows with DPAPI
/// (`DpapiProtector` there): the file holds
/// `protect(json)`, which only this user on this machine can `unprotect`.
pub trait Protector: Send + Sync + fmt::Debug {
    /// Seals `data`.
    ///
    /// # Errors
    /// The platform refused.
    fn protect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError>;

    /// Opens what [`protect`](Self::protect) sealed.
    ///
    /// # Errors
    /// The data was sealed for another user or machine, or altered.
    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError>;

    /// What kind of protection this is, for the backend's `kind` in tracing (`file dpapi`).
    fn kind(&self) -> &'static str;
}
