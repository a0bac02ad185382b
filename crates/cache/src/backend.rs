//! [`CacheBackend`]: where the serialized cache lives (MSAL's before/after-access hooks), and
//! [`MemoryBackend`], a backend that keeps the document in memory.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::CacheError;

/// An opaque version of a stored document: equal versions mean equal documents. A backend
/// picks what it uses (a file's identity and modification time, a generation counter, an
/// etag).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheVersion(Arc<str>);

impl CacheVersion {
    /// A version with the given identity.
    pub fn new(version: impl Into<String>) -> Self {
        Self(Arc::from(version.into()))
    }

    /// The identity given to [`new`](Self::new).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a backend found in its store.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loaded {
    /// The stored document is still the one of the version the caller knows.
    Unchanged,
    /// Nothing is stored (yet).
    Missing,
    /// The stored document (MSAL's JSON, plaintext) and its version.
    Data {
        /// The document.
        data: Vec<u8>,
        /// Its version.
        version: CacheVersion,
    },
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged => f.write_str("Unchanged"),
            Self::Missing => f.write_str("Missing"),
            // The document holds tokens: show its size only.
            Self::Data { data, version } => f
                .debug_struct("Data")
                .field("len", &data.len())
                .field("version", version)
                .finish(),
        }
    }
}

/// The function a [`CacheBackend::modify`] runs under its lock: it gets what is stored and
/// returns the bytes to store, or `None` to leave the store as it is.
pub type ModifyFn<'a> = dyn FnMut(Loaded) -> Result<Option<Vec<u8>>, CacheError> + Send + 'a;

/// Where the serialized cache lives: a file, a database row, a secret manager.
///
/// The document is MSAL's plaintext JSON; a backend may encrypt it at rest. The two methods
/// are MSAL's before-access (`load`) and after-access (`modify`) hooks:
///
/// - [`load`](Self::load) runs before every read: it returns [`Loaded::Unchanged`] when the
///   stored document is still `known` (so the cache skips parsing), else the document. It may
///   take the lock, or not if a store's writes are atomic.
/// - [`modify`](Self::modify) runs for every write: it must take a cross-process (or
///   cross-machine) lock, read what is stored (as `load` does), call `update` with it, store
///   the bytes `update` returns, if any, atomically, and release the lock. This is what stops
///   two processes from losing each other's tokens.
///
/// Errors are returned to the caller of the cache operation. Implementations must be cheap to
/// call when nothing changed: `load` runs before every lookup.
///
/// To implement it, put `#[entra_cache::async_trait]` on the impl (the trait is an
/// `async_trait`; without it the compiler reports E0195) and write the methods' parameters as
/// the trait does. An example backend keeping the document in a shared map (a stand-in for a
/// database):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use entra_cache::async_trait;
/// use entra_cache::{Cache, CacheBackend, CacheError, CacheVersion, Loaded, ModifyFn};
///
/// #[derive(Debug, Default)]
/// struct TableBackend {
///     // row id → (generation, document); a real backend would use a transaction or a lock.
///     rows: Mutex<HashMap<String, (u64, Vec<u8>)>>,
///     row: String,
/// }
///
/// impl TableBackend {
///     fn read(&self, rows: &HashMap<String, (u64, Vec<u8>)>, known: Option<&CacheVersion>) -> Loaded {
///         match rows.get(&self.row) {
///             None => Loaded::Missing,
///             Some((generation, _)) if known.map(CacheVersion::as_str) == Some(&generation.to_string()) => {
///                 Loaded::Unchanged
///             }
///             Some((generation, data)) => Loaded::Data {
///                 data: data.clone(),
///                 version: CacheVersion::new(generation.to_string()),
///             },
///         }
///     }
/// }
///
/// #[async_trait]
/// impl CacheBackend for TableBackend {
///     async fn load(&self, known: Option<&CacheVersion>) -> Result<Loaded, CacheError> {
///         let rows = self.rows.lock().map_err(|_| CacheError::backend("poisoned"))?;
///         Ok(self.read(&rows, known))
///     }
///
///     async fn modify(
///         &self,
///         known: Option<&CacheVersion>,
///         update: &mut ModifyFn<'_>,
///     ) -> Result<Option<CacheVersion>, CacheError> {
///         // The lock: held from the read to the write.
///         let mut rows = self.rows.lock().map_err(|_| CacheError::backend("poisoned"))?;
///         let Some(data) = update(self.read(&rows, known))? else { return Ok(None) };
///         let generation = rows.get(&self.row).map_or(1, |(g, _)| g + 1);
///         rows.insert(self.row.clone(), (generation, data));
///         Ok(Some(CacheVersion::new(generation.to_string())))
///     }
/// }
///
/// let cache = Cache::with_backend(Arc::new(TableBackend { row: "alice".into(), ..Default::default() }));
/// # let _ = cache;
/// ```
#[async_trait]
pub trait CacheBackend: Send + Sync + fmt::Debug {
    /// Returns the stored document unless it is still the `known` version.
    ///
    /// # Errors
    /// The store could not be read, or its content is not a document this backend wrote.
    async fn load(&self, known: Option<&CacheVersion>) -> Result<Loaded, CacheError>;

    /// Under the store's lock: reads the stored document (like [`load`](Self::load) with
    /// `known`), passes it to `update`, and stores the bytes `update` returns, atomically.
    /// Returns the new version when something was stored.
    ///
    /// # Errors
    /// The lock, the read or the write failed, or `update` failed (then nothing is stored).
    async fn modify(
        &self,
        known: Option<&CacheVersion>,
        update: &mut ModifyFn<'_>,
    ) -> Result<Option<CacheVersion>, CacheError>;

    /// Waits until no other process sharing this store is refreshing a token, and returns a
    /// [`RefreshLock`] that keeps the others waiting until it drops. A credential about to
    /// redeem a refresh token takes it, re-reads the cache (another process may just have
    /// written the token it needs), and holds it until the refreshed token is written: twenty
    /// processes that find the same token expiring make one refresh request, not twenty.
    ///
    /// The wait is bounded (a holder that never finishes costs the others that bound, then
    /// they refresh themselves), and a holder that dies releases it. `Ok(None)`: this store
    /// does not coordinate refreshes (the default; enough for a store only one process uses).
    ///
    /// # Errors
    /// The lock could not be taken; the caller refreshes without it.
    async fn refresh_lock(&self) -> Result<Option<RefreshLock>, CacheError> {
        Ok(None)
    }

    /// What kind of store this is, for the `backend` field of the cache's tracing events:
    /// `memory` for [`MemoryBackend`], `file encrypted` or `file plaintext` for
    /// [`FileBackend`](crate::FileBackend). Never a location or anything from the document.
    /// Default: the implementing type's name ([`std::any::type_name`]).
    fn kind(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// Held by the one process sharing a store that refreshes a token (see
/// [`CacheBackend::refresh_lock`]); dropping it lets the next go on.
pub struct RefreshLock {
    _held: Box<dyn Send + Sync>,
    waited: Duration,
}

impl RefreshLock {
    /// A lock held as long as `held` lives (a locked file, a lease), taken after waiting
    /// `waited` for another holder.
    pub fn new(held: impl Send + Sync + 'static, waited: Duration) -> Self {
        Self {
            _held: Box::new(held),
            waited,
        }
    }

    /// How long taking the lock waited for another process (zero: nobody held it).
    #[must_use]
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshLock")
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct MemoryStore {
    generation: u64,
    data: Option<Vec<u8>>,
}

/// A backend that keeps the serialized document in memory. Share one `Arc<MemoryBackend>`
/// between several [`Cache`](crate::Cache)s to make them see each other's writes (as two
/// processes sharing a file do). A lone cache needs no backend: [`Cache::in_memory`] keeps
/// only the parsed cache.
///
/// ```
/// use std::sync::Arc;
/// use entra_cache::{Cache, MemoryBackend, TokenWrite};
/// use entra_core::time::OffsetDateTime;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), entra_cache::CacheError> {
/// let store = Arc::new(MemoryBackend::new());
/// let writer = Cache::with_backend(store.clone());
/// let reader = Cache::with_backend(store.clone());
/// let write = TokenWrite::new("client-id", "login.microsoftonline.com", "organizations", &["scope"])
///     .with_home_account_id("uid.utid")
///     .with_access_token("at", 3600);
/// writer.write_token_response(&write, OffsetDateTime::now_utc()).await?;
/// reader.reload().await?;
/// assert_eq!(reader.tokens().document().access_tokens().count(), 1);
/// assert!(store.data().is_some(), "MSAL's JSON, as a file would hold it");
/// # Ok(()) }
/// ```
///
/// [`Cache::in_memory`]: crate::Cache::in_memory
#[derive(Default)]
pub struct MemoryBackend {
    store: Mutex<MemoryStore>,
}

impl MemoryBackend {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `data` (MSAL's JSON).
    #[must_use]
    pub fn with_data(data: Vec<u8>) -> Self {
        Self {
            store: Mutex::new(MemoryStore {
                generation: 1,
                data: Some(data),
            }),
        }
    }

    /// A copy of the stored document.
    #[must_use]
    pub fn data(&self) -> Option<Vec<u8>> {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .data
            .clone()
    }

    fn read(store: &MemoryStore, known: Option<&CacheVersion>) -> Loaded {
        let version = CacheVersion::new(store.generation.to_string());
        match &store.data {
            None => Loaded::Missing,
            Some(_) if known == Some(&version) => Loaded::Unchanged,
            Some(data) => Loaded::Data {
                data: data.clone(),
                version,
            },
        }
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryBackend")
            .field("generation", &store.generation)
            .field("len", &store.data.as_ref().map(Vec::len))
            .finish()
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    async fn load(&self, known: Option<&CacheVersion>) -> Result<Loaded, CacheError> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Self::read(&store, known))
    }

    async fn modify(
        &self,
        known: Option<&CacheVersion>,
        update: &mut ModifyFn<'_>,
    ) -> Result<Option<CacheVersion>, CacheError> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(data) = update(Self::read(&store, known))? else {
            return Ok(None);
        };
        store.generation += 1;
        store.data = Some(data);
        Ok(Some(CacheVersion::new(store.generation.to_string())))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with no override of `kind`.
    #[derive(Debug)]
    struct Custom;

    #[async_trait]
    impl CacheBackend for Custom {
        async fn load(&self, _known: Option<&CacheVersion>) -> Result<Loaded, CacheError> {
            Ok(Loaded::Missing)
        }

        async fn modify(
            &self,
            _known: Option<&CacheVersion>,
            _update: &mut ModifyFn<'_>,
        ) -> Result<Option<CacheVersion>, CacheError> {
            Ok(None)
        }
    }

    #[test]
    fn kinds_name_the_store_never_its_content() {
        let memory: Arc<dyn CacheBackend> = Arc::new(MemoryBackend::with_data(b"{}".to_vec()));
        assert_eq!(memory.kind(), "memory");
        let custom: Arc<dyn CacheBackend> = Arc::new(Custom);
        assert!(custom.kind().ends_with("::Custom"), "{}", custom.kind());
    }
}
