//! The persistent backend, [`FileBackend`]: the cache Azure Identity keeps under
//! `~/.IdentityService/`, in the same store as MSAL on each platform, so that every Azure SDK
//! on the machine shares one sign-in.
//!
//! - `options.rs`: [`TokenCachePersistenceOptions`] and MSAL's naming rules per platform;
//! - `store.rs`: the [`SecretStore`] and [`Protector`] seams, with in-memory stand-ins;
//! - `secret_service.rs` (Linux, BSD), `keychain.rs` (macOS), `dpapi.rs` (Windows): the
//!   platform stores;
//! - `files.rs`: safe file I/O (directory checks, capped reads, atomic writes, the signal);
//! - `lock.rs`: the `<path>.lockfile` lock shared with msal-extensions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tracing::{debug, warn};

use crate::CacheError;
use crate::backend::{CacheBackend, CacheVersion, Loaded, ModifyFn, RefreshLock};
use crate::error::BoxError;

#[cfg(all(feature = "os-stores", windows))]
mod dpapi;
mod files;
#[cfg(all(feature = "os-stores", target_os = "macos"))]
mod keychain;
mod lock;
mod options;
#[cfg(all(feature = "os-stores", unix, not(target_os = "macos")))]
mod secret_service;
mod store;

#[cfg(all(feature = "os-stores", windows))]
pub use dpapi::DpapiProtector;
pub use files::MAX_CACHE_FILE_BYTES;
#[cfg(all(feature = "os-stores", target_os = "macos"))]
pub use keychain::KeychainStore;
pub use options::{
    CACHE_DIR_ENV, DEFAULT_CACHE_NAME, KeychainItem, MSAL_ACCOUNT, MSAL_SERVICE, Platform,
    SecretServiceItem, TokenCachePersistenceOptions,
};
#[cfg(all(feature = "os-stores", unix, not(target_os = "macos")))]
pub use secret_service::SecretServiceStore;
pub use store::{MemorySecretStore, Protector, SecretStore};

use files::{
    check_directory, content_hash, create_dir, existing_parent, open_cache_file, read_capped,
    remove_stale_temp_files, signal_stat, split_version, stat_id, touch_signal, version_of,
    write_atomic,
};
use lock::FileLock;

/// The first bytes of a cache file written by entra-rs 0.1 (its own encrypted format, no
/// longer read).
const LEGACY_MAGIC: &[u8] = b"entra-rs encrypted token cache v1\n";

/// How the document is kept, as configured.
#[derive(Clone)]
enum Encryption {
    /// This platform's MSAL store, created on first use.
    Platform,
    Store(Arc<dyn SecretStore>),
    Protector(Arc<dyn Protector>),
}

/// How the document is kept, once decided.
#[derive(Clone)]
enum Mode {
    /// In a secret store; the file is only a signal.
    Store(Arc<dyn SecretStore>),
    /// In the file, sealed.
    Protected(Arc<dyn Protector>),
    /// In the file, MSAL's plain JSON.
    Plaintext,
}

/// The persistent backend: one cache, shared with other processes and other Azure SDKs.
///
/// **Where the document lives**, as MSAL (msal-extensions, used by Azure Identity) keeps it:
///
/// | platform | document | the file at [`path`](Self::path) |
/// | --- | --- | --- |
/// | Linux, BSD | a Secret Service item ([`SecretServiceItem`], [`SecretServiceStore`]) | an empty signal file, touched on every write |
/// | macOS | a Keychain generic password ([`KeychainItem`], `KeychainStore`) | an empty signal file, touched on every write |
/// | Windows | the file | MSAL's JSON sealed with DPAPI for the current user (`DpapiProtector`) |
/// | any, with `allow_unencrypted_storage` and no usable store | the file | MSAL's plain JSON, mode 0600 |
///
/// ```
/// use std::sync::Arc;
/// use entra_cache::{Cache, FileBackend, MemorySecretStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let home = dir.path();
/// // Azure Identity's default cache, in the platform's store (a Secret Service item, a
/// // Keychain item, a DPAPI-sealed file), shared with Python, .NET, JavaScript and Go:
/// let shared = FileBackend::new(home.join(".IdentityService/msal.cache.nocae"));
/// # let _ = shared;
/// // The same layout with the document in a store of your own (here: memory):
/// let backend = FileBackend::new(home.join(".IdentityService/app.nocae"))
///     .with_secret_store(Arc::new(MemorySecretStore::new()));
/// let cache = Cache::with_backend(Arc::new(backend));
/// cache.reload().await?;
/// assert!(cache.tokens().document().is_empty());
/// # Ok(()) }
/// ```
///
/// [`with_secret_store`](Self::with_secret_store) and [`with_protector`](Self::with_protector)
/// replace the platform's store (tests, custom secret managers).
///
/// - **Lock**: every write holds `<path>.lockfile` (msal-extensions' name and kind of lock:
///   whoever *creates* the file holds it; it records `<pid> <program>` and is deleted on
///   release) from the read to the write, and only then. A lock file whose process is gone is
///   removed. Reads take no lock.
/// - **Atomic writes**: a file's new content goes to a temporary file in the same directory
///   (mode 0600), is synced and renamed over it: a reader, or a process killed mid-write,
///   sees the old or the new file, never a torn one.
/// - **Reload**: before a read, one `stat` tells whether the file (or the signal file)
///   changed; a write always rereads under the lock (comparing a content hash).
/// - **No usable store**: [`CacheError::KeyringUnavailable`], unless
///   `allow_unencrypted_storage`.
/// - **Never stuck on another program's file**: with a store, the file's content is never
///   read or written (a plaintext cache left there by an earlier fallback stays, as with
///   MSAL; a warning names it). In the file modes, an empty file is an empty cache, plain JSON
///   found while sealing is read (and sealed by the next write), and anything that cannot be
///   read ([`CacheError::Corrupt`], [`CacheError::Undecryptable`], [`CacheError::LegacyFormat`])
///   is reported and never overwritten.
pub struct FileBackend {
    path: PathBuf,
    lock_path: PathBuf,
    allow_unencrypted_storage: bool,
    encryption: Encryption,
    lock_timeout: Duration,
    mode: tokio::sync::OnceCell<Mode>,
    /// With a store: the document this backend last read and its version, so that a second
    /// reader in this process (a new [`Cache`](crate::Cache) over the same backend) gets it
    /// without asking the store again while the signal file is unchanged.
    remembered: Mutex<Option<Arc<Remembered>>>,
}

/// A document a backend read from its store, and its version.
type Remembered = (CacheVersion, Vec<u8>);

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Also the "location" in error messages: keep it short.
        write!(f, "FileBackend({})", self.path.display())
    }
}

impl FileBackend {
    /// The cache at `path`, kept in this platform's MSAL store. Touches no storage.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lockfile");
        Self {
            path,
            lock_path: PathBuf::from(lock),
            allow_unencrypted_storage: false,
            encryption: Encryption::Platform,
            lock_timeout: lock::LOCK_TIMEOUT,
            mode: tokio::sync::OnceCell::new(),
            remembered: Mutex::new(None),
        }
    }

    /// Allows a plaintext file when the store is unusable.
    #[must_use]
    pub fn with_allow_unencrypted_storage(mut self, allow: bool) -> Self {
        self.allow_unencrypted_storage = allow;
        self
    }

    /// Keeps the document in `store` (the file becomes a signal), instead of the platform's.
    #[must_use]
    pub fn with_secret_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.encryption = Encryption::Store(store);
        self
    }

    /// Keeps the document in the file, sealed by `protector`, instead of the platform's store.
    #[must_use]
    pub fn with_protector(mut self, protector: Arc<dyn Protector>) -> Self {
        self.encryption = Encryption::Protector(protector);
        self
    }

    /// How long a write waits for another process's lock file before failing with
    /// [`CacheError::LockTimeout`]. Default 10 s.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The cache file (with a store: the signal file).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The refresh lock, `<path>.refresh.lock` (see [`CacheBackend::refresh_lock`]).
    #[must_use]
    pub fn refresh_lock_path(&self) -> PathBuf {
        let mut path = self.path.clone().into_os_string();
        path.push(".refresh.lock");
        PathBuf::from(path)
    }

    /// The lock file, `<path>.lockfile`.
    #[must_use]
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Whether the document is encrypted: runs the one-time store check.
    ///
    /// # Errors
    /// [`CacheError::KeyringUnavailable`] when the store is unusable and plaintext is not
    /// allowed; [`CacheError::Insecure`] for an unsafe directory.
    pub async fn is_encrypted(&self) -> Result<bool, CacheError> {
        Ok(!matches!(self.mode().await?, Mode::Plaintext))
    }

    async fn mode(&self) -> Result<Mode, CacheError> {
        self.mode
            .get_or_try_init(|| async {
                let encryption = self.encryption.clone();
                let path = self.path.clone();
                let allow = self.allow_unencrypted_storage;
                blocking(move || probe(encryption, &path, allow)).await
            })
            .await
            .cloned()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(CacheError::backend)?
}

/// This platform's MSAL store for the cache file at `path`.
fn platform_mode(path: &Path) -> Result<Mode, BoxError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the cache file has no UTF-8 file name")?;
    #[cfg(all(feature = "os-stores", unix, not(target_os = "macos")))]
    {
        let item = SecretServiceItem::for_file_name(name);
        Ok(Mode::Store(Arc::new(SecretServiceStore::new(item))))
    }
    #[cfg(all(feature = "os-stores", target_os = "macos"))]
    {
        let item = KeychainItem::for_file_name(name);
        Ok(Mode::Store(Arc::new(KeychainStore::new(item))))
    }
    #[cfg(all(feature = "os-stores", windows))]
    {
        let _ = name;
        Ok(Mode::Protected(Arc::new(DpapiProtector)))
    }
    #[cfg(all(feature = "os-stores", not(any(unix, windows))))]
    {
        let _ = name;
        Err("no OS secret store is supported on this platform".into())
    }
    #[cfg(not(feature = "os-stores"))]
    {
        let _ = name;
        Err(
            "this build has no OS secret store (entra-cache's `os-stores` feature is off): \
             give the backend a store or allow unencrypted storage"
                .into(),
        )
    }
}

/// Decides once where the document lives, and checks that the store works.
fn probe(encryption: Encryption, path: &Path, allow_unencrypted: bool) -> Result<Mode, CacheError> {
    if let Some(dir) = existing_parent(path) {
        check_directory(dir)?;
    }
    let mode = match encryption {
        Encryption::Platform => platform_mode(path),
        Encryption::Store(store) => Ok(Mode::Store(store)),
        Encryption::Protector(protector) => Ok(Mode::Protected(protector)),
    };
    let checked = mode.and_then(|mode| {
        match &mode {
            Mode::Store(store) => store.check()?,
            // A round trip, as msal-extensions' trial run: some platforms accept what they
            // cannot return.
            Mode::Protected(protector) => {
                let probe = b"entra-rs probe";
                if protector.unprotect(&protector.protect(probe)?)? != probe {
                    return Err("the data protection did not return what it sealed".into());
                }
            }
            Mode::Plaintext => {}
        }
        Ok(mode)
    });
    match checked {
        Ok(mode) => {
            if let Mode::Store(store) = &mode {
                warn_if_signal_holds_data(path, store.kind());
            }
            Ok(mode)
        }
        Err(source) if allow_unencrypted => {
            warn!(
                path = %path.display(),
                error = %source,
                "no usable OS secret store: the token cache is stored unencrypted (allow_unencrypted_storage)"
            );
            Ok(Mode::Plaintext)
        }
        Err(source) => Err(CacheError::KeyringUnavailable { source }),
    }
}

/// With a store the file is only a signal: a non-empty one holds a cache an earlier plaintext
/// fallback (or another program) left there, which MSAL ignores too. Says so once.
fn warn_if_signal_holds_data(path: &Path, store: &str) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0) {
        warn!(
            path = %path.display(),
            store,
            "the token cache is kept in the OS secret store; the file at its path still holds data \
             (an unencrypted cache from an earlier fallback?) that is no longer read: delete it"
        );
    }
}

/// Reads the document. `check_stat_first`: return `Unchanged` on an equal `stat` without
/// reading (the unlocked read path).
fn read(
    path: &Path,
    mode: &Mode,
    known: Option<&CacheVersion>,
    check_stat_first: bool,
    remembered: Option<&Remembered>,
) -> Result<Loaded, CacheError> {
    let (known_stat, known_hash) = split_version(known);
    let (stat, raw) = match mode {
        Mode::Store(store) => {
            let stat = signal_stat(path)?;
            if check_stat_first && known_stat == Some(stat.as_str()) {
                return Ok(Loaded::Unchanged);
            }
            // The document this process last read, if the signal file says it is current.
            if check_stat_first
                && let Some((version, data)) = remembered
                && split_version(Some(version)).0 == Some(stat.as_str())
            {
                return Ok(Loaded::Data {
                    data: data.clone(),
                    version: version.clone(),
                });
            }
            let Some(raw) = store
                .load()
                .map_err(|source| CacheError::KeyringUnavailable { source })?
            else {
                return Ok(Loaded::Missing);
            };
            if raw.len() as u64 > MAX_CACHE_FILE_BYTES {
                return Err(CacheError::TooLarge {
                    path: path.to_owned(),
                    limit: MAX_CACHE_FILE_BYTES,
                });
            }
            (stat, raw)
        }
        Mode::Protected(_) | Mode::Plaintext => {
            let Some((file, meta)) = open_cache_file(path)? else {
                return Ok(Loaded::Missing);
            };
            let stat = stat_id(&meta);
            if check_stat_first && known_stat == Some(stat.as_str()) {
                return Ok(Loaded::Unchanged);
            }
            (stat, read_capped(path, file)?)
        }
    };
    let hash = content_hash(&raw);
    if known_hash == Some(format!("{hash:016x}").as_str()) {
        return Ok(Loaded::Unchanged);
    }
    let data = decode(path, mode, raw)?;
    Ok(Loaded::Data {
        data,
        version: version_of(&stat, hash),
    })
}

fn decode(path: &Path, mode: &Mode, raw: Vec<u8>) -> Result<Vec<u8>, CacheError> {
    if raw.starts_with(LEGACY_MAGIC) {
        return Err(CacheError::LegacyFormat {
            path: path.to_owned(),
        });
    }
    match mode {
        Mode::Store(_) | Mode::Plaintext => Ok(raw),
        Mode::Protected(protector) => {
            // An empty file is an empty cache; plain JSON is MSAL's unencrypted fallback,
            // read here and sealed by the next write.
            if raw
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_none_or(|b| *b == b'{')
            {
                return Ok(raw);
            }
            protector
                .unprotect(&raw)
                .map_err(|_| CacheError::Undecryptable {
                    path: path.to_owned(),
                })
        }
    }
}

/// Stores `data` under the lock; returns its version.
fn write(path: &Path, mode: &Mode, data: &[u8]) -> Result<CacheVersion, CacheError> {
    match mode {
        Mode::Store(store) => {
            store
                .save(data)
                .map_err(|source| CacheError::KeyringUnavailable { source })?;
            Ok(version_of(&touch_signal(path)?, content_hash(data)))
        }
        Mode::Protected(protector) => {
            let sealed = protector
                .protect(data)
                .map_err(|e| CacheError::backend(format!("sealing the token cache failed: {e}")))?;
            // The version hashes the file's bytes, as `read` does.
            write_atomic(path, &sealed)
        }
        Mode::Plaintext => write_atomic(path, data),
    }
}

#[async_trait]
impl CacheBackend for FileBackend {
    async fn refresh_lock(&self) -> Result<Option<RefreshLock>, CacheError> {
        let (path, lock_path) = (self.path.clone(), self.refresh_lock_path());
        let wait = self.lock_timeout;
        blocking(move || {
            create_dir(&path)?;
            Ok(lock::refresh_lock(&lock_path, wait)?
                .map(|(file, waited)| RefreshLock::new(file, waited)))
        })
        .await
    }

    async fn load(&self, known: Option<&CacheVersion>) -> Result<Loaded, CacheError> {
        let mode = self.mode().await?;
        let path = self.path.clone();
        let known = known.cloned();
        let store = matches!(mode, Mode::Store(_));
        let remembered = if store {
            self.remembered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        } else {
            None
        };
        let loaded =
            blocking(move || read(&path, &mode, known.as_ref(), true, remembered.as_deref()))
                .await?;
        if store && let Loaded::Data { data, version } = &loaded {
            *self
                .remembered
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(Arc::new((version.clone(), data.clone())));
        }
        Ok(loaded)
    }

    async fn modify(
        &self,
        known: Option<&CacheVersion>,
        update: &mut ModifyFn<'_>,
    ) -> Result<Option<CacheVersion>, CacheError> {
        let mode = self.mode().await?;
        let (path, lock_path) = (self.path.clone(), self.lock_path.clone());
        let known = known.cloned();
        let read_mode = mode.clone();
        let timeout = self.lock_timeout;
        let (lock, loaded) = blocking(move || {
            create_dir(&path)?;
            let lock = FileLock::acquire(&lock_path, timeout)?;
            remove_stale_temp_files(&path);
            let loaded = read(&path, &read_mode, known.as_ref(), false, None)?;
            Ok((lock, loaded))
        })
        .await?;
        // The lock is released when `lock` drops, on every path below.
        let Some(data) = update(loaded)? else {
            blocking(move || {
                drop(lock);
                Ok(())
            })
            .await?;
            return Ok(None);
        };
        let path = self.path.clone();
        let version = blocking(move || {
            let version = write(&path, &mode, &data);
            drop(lock);
            version
        })
        .await?;
        debug!(path = %self.path.display(), backend = self.kind(), "token cache saved");
        Ok(Some(version))
    }

    fn kind(&self) -> &'static str {
        match self.mode.get() {
            Some(Mode::Store(store)) => store.kind(),
            Some(Mode::Protected(protector)) => protector.kind(),
            Some(Mode::Plaintext) => "file plaintext",
            // Not opened yet: the store is decided on first use.
            None => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoStore;

    impl SecretStore for NoStore {
        fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
            Err("no secret store".into())
        }
        fn save(&self, _document: &[u8]) -> Result<(), BoxError> {
            Err("no secret store".into())
        }
        fn kind(&self) -> &'static str {
            "none"
        }
    }

    #[tokio::test]
    async fn kind_tells_the_store_once_opened() {
        let dir = tempfile::tempdir().unwrap();
        let stored = FileBackend::new(dir.path().join("a.nocae"))
            .with_secret_store(Arc::new(MemorySecretStore::new()));
        assert_eq!(stored.kind(), "file", "not opened yet");
        assert_eq!(stored.load(None).await.unwrap(), Loaded::Missing);
        assert_eq!(stored.kind(), "memory store");
        let plaintext = FileBackend::new(dir.path().join("b.nocae"))
            .with_secret_store(Arc::new(NoStore))
            .with_allow_unencrypted_storage(true);
        assert_eq!(plaintext.load(None).await.unwrap(), Loaded::Missing);
        assert_eq!(plaintext.kind(), "file plaintext");
    }
}
