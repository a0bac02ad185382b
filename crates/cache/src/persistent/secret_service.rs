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
use secret_service::blocking::{Collection, SecretService};
use zvariant::OwnedObjectPath;

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
///
/// The session transfers the secret in the clear over the user's session bus (the Secret
/// Service's `plain` algorithm) unless [`with_encrypted_session`](Self::with_encrypted_session)
/// asks for the Diffie-Hellman one: only the user's own processes (and root) can connect to
/// that bus, and any of them may ask the Secret Service for the item itself, so the
/// encrypted session hides the document from nobody who could see it, and its key exchange
/// in pure Rust costs each process about 5 ms (measured in `cargo xtask bench`'s fresh
/// process; ARCHITECTURE.md, residual risks).
pub struct SecretServiceStore {
    item: SecretServiceItem,
    encrypted_session: bool,
    connection: Mutex<Option<Connection>>,
}

/// An open session with the Secret Service, and the default collection's object path once
/// known (resolved once per connection: one D-Bus round trip less on every later call).
struct Connection {
    service: SecretService<'static>,
    default_collection: Option<OwnedObjectPath>,
}

impl Connection {
    /// The default collection (the `default` alias), resolved on first use.
    fn default_collection(&mut self) -> Result<Collection<'_>, secret_service::Error> {
        match &self.default_collection {
            Some(path) => self.service.get_collection_by_path(path.clone()),
            None => {
                let collection = self.service.get_default_collection()?;
                self.default_collection = Some(collection.collection_path.clone());
                Ok(collection)
            }
        }
    }
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
            encrypted_session: false,
            connection: Mutex::new(None),
        }
    }

    /// Negotiates an encrypted session (Diffie-Hellman, AES) for the secret's transfer over
    /// D-Bus, as libsecret does; by default the transfer is `plain` (see the type's docs).
    #[must_use]
    pub fn with_encrypted_session(mut self, encrypted: bool) -> Self {
        self.encrypted_session = encrypted;
        self
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
        f: impl FnOnce(&mut Connection) -> Result<T, secret_service::Error>,
    ) -> Result<T, BoxError> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => {
                let encryption = if self.encrypted_session {
                    EncryptionType::Dh
                } else {
                    EncryptionType::Plain
                };
                slot.insert(Connection {
                    service: SecretService::connect(encryption)?,
                    default_collection: None,
                })
            }
        };
        match f(connection) {
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
        self.with(|connection| {
            // Only the default collection, where msal-extensions writes: an item another
            // process planted elsewhere is never read, and no other collection is asked to
            // unlock (which would raise a prompt on the user's screen). A locked collection
            // refuses the secret itself: no separate round trip to ask whether it is locked.
            let collection = connection.default_collection()?;
            match collection.search_items(attributes)?.first() {
                Some(item) => item.get_secret().map(Some),
                None => Ok(None),
            }
        })
    }

    fn save(&self, document: &[u8]) -> Result<(), BoxError> {
        let attributes = self.attributes();
        self.with(|connection| {
            // A locked collection refuses the new item itself (see `load`).
            let collection = connection.default_collection()?;
            collection.create_item(&self.item.label, attributes, document, true, CONTENT_TYPE)?;
            Ok(())
        })
    }

    fn check(&self) -> Result<(), BoxError> {
        self.with(|connection| connection.default_collection()?.ensure_unlocked())
    }

    fn kind(&self) -> &'static str {
        "secret service"
    }
}
