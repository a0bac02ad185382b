//! Linux and the BSDs: [`SecretServiceStore`], the cache document as one item of the Secret
//! Service (gnome-keyring, KWallet) over D-Bus, exactly where msal-extensions'
//! `LibsecretPersistence` keeps Azure Identity's cache
//! ([`SecretServiceItem`](crate::SecretServiceItem)).
//!
//! The `secret-service` crate (pure Rust, zbus, an encrypted D-Bus session) is used directly:
//! the `keyring` crate cannot set the `xdg:schema` and `MsalClientID` attributes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use secret_service::EncryptionType;
use secret_service::blocking::SecretService;

use super::options::SecretServiceItem;
use super::store::SecretStore;
use crate::BoxError;

/// libsecret stores passwords with this content type; MSAL Python reads the secret as text.
const CONTENT_TYPE: &str = "text/plain";

/// One cache's item in the Secret Service. The default store of
/// [`FileBackend`](crate::FileBackend) on Linux and the BSDs.
///
/// Reads and writes touch only the default collection, where msal-extensions writes: an item
/// with the same attributes in another collection is never read, and nothing is ever asked
/// to unlock (a locked default collection is reported, as a missing keyring is). The D-Bus
/// connection is opened on first use and kept.
pub struct SecretServiceStore {
    item: SecretServiceItem,
    service: Mutex<Option<SecretService<'static>>>,
}

impl std::fmt::Debug for SecretServiceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretServiceStore")
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}

impl SecretServiceStore {
    /// The store of `item`. Touches nothing.
    #[must_use]
    pub fn new(item: SecretServiceItem) -> Self {
        Self {
            item,
            service: Mutex::new(None),
        }
    }

    fn attributes(&self) -> HashMap<&str, &str> {
        self.item
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Runs `f` with a connection, opening one if needed; a failed call drops the connection
    /// so that the next call reconnects (the daemon may have restarted).
    fn with<T>(
        &self,
        f: impl FnOnce(&SecretService<'static>) -> Result<T, secret_service::Error>,
    ) -> Result<T, BoxError> {
        let mut slot = self.service.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(SecretService::connect(EncryptionType::Dh)?);
        }
        let Some(service) = slot.as_ref() else {
            return Err("no Secret Service connection".into());
        };
        match f(service) {
            Ok(value) => Ok(value),
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }
}

impl SecretStore for SecretServiceStore {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        let attributes = self.attributes();
        self.with(|service| {
            // Only the default collection, where msal-extensions writes: an item another
            // process planted elsewhere is never read, and no other collection is asked to
            // unlock (which would raise a prompt on the user's screen).
            let collection = service.get_default_collection()?;
            collection.ensure_unlocked()?;
            match collection.search_items(attributes)?.first() {
                Some(item) => item.get_secret().map(Some),
                None => Ok(None),
            }
        })
    }

    fn save(&self, document: &[u8]) -> Result<(), BoxError> {
        let attributes = self.attributes();
        self.with(|service| {
            let collection = service.get_default_collection()?;
            collection.ensure_unlocked()?;
            collection.create_item(&self.item.label, attributes, document, true, CONTENT_TYPE)?;
            Ok(())
        })
    }

    fn check(&self) -> Result<(), BoxError> {
        self.with(|service| service.get_default_collection()?.ensure_unlocked())
    }

    fn kind(&self) -> &'static str {
        "secret service"
    }
}
