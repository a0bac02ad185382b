//! The persistent backend: [`FileBackend`] (a cache file under `~/.IdentityService/`, a
//! cross-process lock file, atomic writes, mode 0600, encryption with a key kept in the OS
//! keyring) and [`TokenCachePersistenceOptions`], Azure Identity's options for it.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::hash::{DefaultHasher, Hasher};
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use tracing::{debug, info, warn};

use crate::backend::{CacheBackend, CacheVersion, Loaded, ModifyFn};
use crate::error::BoxError;
use crate::{Cache, CacheError};

/// The environment variable that, when set to a directory, replaces `~/.IdentityService` as
/// the directory of persistent caches (for tests and sandboxes).
pub const CACHE_DIR_ENV: &str = "ENTRA_TOKEN_CACHE_DIR";

/// The default cache name (Azure Identity's).
const DEFAULT_NAME: &str = "msal.cache";

/// The keyring service under which cache encryption keys are kept (the account is the cache
/// file's path). Deliberately not MSAL's `Microsoft.Developer.IdentityService`: on macOS MSAL
/// keeps its whole cache in that item, and a key must never overwrite it.
const KEYRING_SERVICE: &str = "entra-rs.token-cache";

/// The first bytes of an encrypted cache file.
const MAGIC: &[u8] = b"entra-rs encrypted token cache v1\n";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// The largest cache file read: far more than any token cache (a 1,000-entry cache is about
/// 0.7 MB). A larger file, or one that grows past this while being read, is refused with
/// [`CacheError::TooLarge`]; no buffer is ever sized from the length a file claims.
pub const MAX_CACHE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How long a write waits for another process's lock before giving up.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const LOCK_RETRY: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------------------------------
// options

/// Options of the persistent token cache (Python's `TokenCachePersistenceOptions`).
///
/// ```
/// use entra_cache::TokenCachePersistenceOptions;
///
/// let options = TokenCachePersistenceOptions::default()
///     .with_name("my-app")
///     .with_directory("/tmp/entra-doc-example");
/// assert_eq!(options.name, "my-app");
/// assert!(!options.allow_unencrypted_storage);
/// let path = options.path(false)?;
/// assert!(path.ends_with("my-app.nocae"));
/// // Nothing touches storage until the first lookup or write.
/// let cache = options.cache(false)?;
/// # let _ = cache;
/// # Ok::<(), entra_cache::CacheError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCachePersistenceOptions {
    /// The cache's name (a prefix: `.nocae` or `.cae` is appended). Default `msal.cache`,
    /// the cache Azure CLI, PowerShell and the other Azure SDKs share.
    pub name: String,
    /// Allow a plaintext file when encryption is impossible (no usable OS keyring). This does
    /// not turn encryption off: it only allows the fallback. Default `false`: an error.
    pub allow_unencrypted_storage: bool,
    /// The directory of the cache files; default `~/.IdentityService` (Windows:
    /// `%LOCALAPPDATA%\.IdentityService`), or the directory in [`CACHE_DIR_ENV`] when set.
    pub directory: Option<PathBuf>,
}

impl Default for TokenCachePersistenceOptions {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            allow_unencrypted_storage: false,
            directory: None,
        }
    }
}

impl TokenCachePersistenceOptions {
    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`allow_unencrypted_storage`](Self::allow_unencrypted_storage).
    #[must_use]
    pub fn with_allow_unencrypted_storage(mut self, allow: bool) -> Self {
        self.allow_unencrypted_storage = allow;
        self
    }

    /// Sets [`directory`](Self::directory).
    #[must_use]
    pub fn with_directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = Some(directory.into());
        self
    }

    /// The directory of the cache files.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when there is no home directory to put it in.
    pub fn resolved_directory(&self) -> Result<PathBuf, CacheError> {
        if let Some(dir) = &self.directory {
            return Ok(dir.clone());
        }
        if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        let base = if cfg!(windows) {
            std::env::var_os("LOCALAPPDATA")
        } else {
            std::env::var_os("HOME")
        };
        base.filter(|b| !b.is_empty())
            .map(|b| PathBuf::from(b).join(".IdentityService"))
            .ok_or_else(|| {
                CacheError::Unavailable(if cfg!(windows) {
                    "LOCALAPPDATA is not set".to_owned()
                } else {
                    "HOME is not set".to_owned()
                })
            })
    }

    /// The cache file: `<directory>/<name>.cae` for CAE tokens, `<name>.nocae` otherwise.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when there is no home directory, or the name is empty or
    /// has a path separator.
    pub fn path(&self, cae: bool) -> Result<PathBuf, CacheError> {
        if self.name.is_empty()
            || self.name.contains(['/', '\\'])
            || self.name == "."
            || self.name == ".."
        {
            return Err(CacheError::Unavailable(
                "the cache name must be a non-empty file name without path separators".to_owned(),
            ));
        }
        let suffix = if cae { "cae" } else { "nocae" };
        Ok(self
            .resolved_directory()?
            .join(format!("{}.{suffix}", self.name)))
    }

    /// The backend of the CAE or non-CAE cache. Touches no storage.
    ///
    /// # Errors
    /// As [`path`](Self::path).
    pub fn backend(&self, cae: bool) -> Result<FileBackend, CacheError> {
        Ok(FileBackend::new(self.path(cae)?)
            .with_allow_unencrypted_storage(self.allow_unencrypted_storage))
    }

    /// A [`Cache`] over [`backend`](Self::backend). Touches no storage.
    ///
    /// # Errors
    /// As [`path`](Self::path).
    pub fn cache(&self, cae: bool) -> Result<Cache, CacheError> {
        Ok(Cache::with_backend(Arc::new(self.backend(cae)?)))
    }
}

// ---------------------------------------------------------------------------------------------
// key store

/// Where a [`FileBackend`] keeps its 32-byte encryption key. Calls may block (they run on
/// tokio's blocking pool). The default, [`KeyringKeyStore`], is the OS keyring; a custom one
/// can keep keys in a secret manager, or fail on purpose in tests.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The key stored under `name`, or `None` when there is none.
    ///
    /// # Errors
    /// The store is unusable (no keyring service, locked, access denied).
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BoxError>;

    /// Stores `key` under `name`.
    ///
    /// # Errors
    /// The store is unusable.
    fn set(&self, name: &str, key: &[u8]) -> Result<(), BoxError>;
}

/// Keys kept in this process's memory: an encrypted cache file written with it can be read
/// only while the store lives. For tests, and for programs that must never leave a key in the
/// OS keyring (a cache that lasts one process). Keys are not zeroized on drop.
#[derive(Default)]
pub struct MemoryKeyStore(std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);

impl fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The names (cache paths) and keys are not shown: only how many there are.
        let keys = self.0.lock().map_or(0, |k| k.len());
        f.debug_struct("MemoryKeyStore")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl MemoryKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BoxError> {
        let keys = self
            .0
            .lock()
            .map_err(|_| "the key store's lock is poisoned")?;
        Ok(keys.get(name).cloned())
    }

    fn set(&self, name: &str, key: &[u8]) -> Result<(), BoxError> {
        let mut keys = self
            .0
            .lock()
            .map_err(|_| "the key store's lock is poisoned")?;
        keys.insert(name.to_owned(), key.to_vec());
        Ok(())
    }
}

/// The OS keyring through the `keyring` crate: the Secret Service (gnome-keyring, KWallet)
/// over D-Bus on Linux and the BSDs, the Keychain on macOS, the Credential Manager on
/// Windows. Keys are kept base64-encoded under the service `entra-rs.token-cache`, with the
/// cache file's path as the account.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyringKeyStore;

impl KeyStore for KeyringKeyStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BoxError> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, name)?;
        match entry.get_password() {
            Ok(encoded) => Ok(Some(BASE64.decode(encoded.trim())?)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn set(&self, name: &str, key: &[u8]) -> Result<(), BoxError> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, name)?;
        entry.set_password(&BASE64.encode(key))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// the backend

#[derive(Clone)]
enum Mode {
    Encrypted(Arc<XChaCha20Poly1305>),
    Plaintext,
}

/// The persistent backend: one cache file, shared with other processes.
///
/// - **Lock**: every write holds an exclusive lock on `<path>.lockfile` (the name every MSAL
///   extension uses) from the read to the rename, and only then; the lock file records
///   `<pid> <program>` and is deleted on release, as MSAL's extensions do. Reads take no lock.
/// - **Atomic writes**: the new document goes to a temporary file in the same directory
///   (mode 0600), is synced, and renamed over the cache file: a reader, or a process killed
///   mid-write, sees the old or the new file, never a torn one.
/// - **Reload**: before a read, one `stat` tells whether the file changed (identity, size,
///   modification time); a write always rereads under the lock (comparing a content hash).
/// - **Encryption** (default): the file is sealed with XChaCha20-Poly1305 under a random
///   32-byte key kept in the [`KeyStore`] (the OS keyring). Envelope: the line
///   `entra-rs encrypted token cache v1\n`, a 24-byte random nonce, then the ciphertext and
///   its 16-byte tag; the first line is also the associated data.
/// - **No keyring**: [`CacheError::KeyringUnavailable`], unless `allow_unencrypted_storage`,
///   in which case the file is MSAL's plain JSON (indented by four spaces), which MSAL in
///   other languages reads.
/// - **Recovery**: a plaintext file found while encrypting is read (and encrypted by the next
///   write); a file that cannot be parsed or decrypted gives [`CacheError::Corrupt`] or
///   [`CacheError::Undecryptable`] and is never overwritten; an empty file is an empty cache
///   (MSAL's extensions leave one as a change signal).
pub struct FileBackend {
    path: PathBuf,
    lock_path: PathBuf,
    allow_unencrypted_storage: bool,
    key_store: Arc<dyn KeyStore>,
    mode: tokio::sync::OnceCell<Mode>,
}

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Also the "location" in error messages: keep it short.
        write!(f, "FileBackend({})", self.path.display())
    }
}

impl FileBackend {
    /// An encrypted cache file at `path`, with its key in the OS keyring. Touches no storage.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lockfile");
        Self {
            path,
            lock_path: PathBuf::from(lock),
            allow_unencrypted_storage: false,
            key_store: Arc::new(KeyringKeyStore),
            mode: tokio::sync::OnceCell::new(),
        }
    }

    /// Allows a plaintext file when the key store is unusable.
    #[must_use]
    pub fn with_allow_unencrypted_storage(mut self, allow: bool) -> Self {
        self.allow_unencrypted_storage = allow;
        self
    }

    /// Keeps the key in `key_store` instead of the OS keyring.
    #[must_use]
    pub fn with_key_store(mut self, key_store: Arc<dyn KeyStore>) -> Self {
        self.key_store = key_store;
        self
    }

    /// The cache file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file, `<path>.lockfile`.
    #[must_use]
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Whether the file is encrypted: runs the one-time key store check (creating the key if
    /// there is none yet).
    ///
    /// # Errors
    /// [`CacheError::KeyringUnavailable`] when the key store is unusable and plaintext is not
    /// allowed; [`CacheError::Undecryptable`] when the file is encrypted but the key store has
    /// no key.
    pub async fn is_encrypted(&self) -> Result<bool, CacheError> {
        Ok(matches!(self.mode().await?, Mode::Encrypted(_)))
    }

    async fn mode(&self) -> Result<Mode, CacheError> {
        self.mode
            .get_or_try_init(|| async {
                let key_store = Arc::clone(&self.key_store);
                let path = self.path.clone();
                let lock_path = self.lock_path.clone();
                let allow = self.allow_unencrypted_storage;
                blocking(move || probe(&*key_store, &path, &lock_path, allow)).await
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

/// Decides once whether the file is encrypted, and with which key.
fn probe(
    key_store: &dyn KeyStore,
    path: &Path,
    lock_path: &Path,
    allow_unencrypted: bool,
) -> Result<Mode, CacheError> {
    let name = path.to_string_lossy();
    let unavailable = |source: BoxError| -> Result<Mode, CacheError> {
        if allow_unencrypted {
            warn!(
                path = %path.display(),
                "no usable OS keyring: the token cache is stored unencrypted (allow_unencrypted_storage)"
            );
            Ok(Mode::Plaintext)
        } else {
            Err(CacheError::KeyringUnavailable { source })
        }
    };
    let cipher = |key: &[u8]| -> Result<Mode, BoxError> {
        let cipher = XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| "the key in the keyring is not 32 bytes")?;
        Ok(Mode::Encrypted(Arc::new(cipher)))
    };
    if let Some(dir) = existing_parent(path) {
        check_directory(dir)?;
    }
    match key_store.get(&name) {
        Ok(Some(key)) => return cipher(&key).or_else(unavailable),
        Ok(None) => {}
        Err(e) => return unavailable(e),
    }
    // No key yet: create one under the file lock, so that two processes starting at once
    // agree on one key.
    create_dir(path)?;
    let _lock = FileLock::acquire(lock_path)?;
    match key_store.get(&name) {
        Ok(Some(key)) => return cipher(&key).or_else(unavailable),
        Ok(None) => {}
        Err(e) => return unavailable(e),
    }
    if file_is_encrypted(path)? {
        // A key existed once: making a new one would orphan every token in the file.
        return Err(CacheError::Undecryptable {
            path: path.to_owned(),
        });
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| CacheError::backend(e.to_string()))?;
    if let Err(e) = key_store.set(&name, &key) {
        return unavailable(e);
    }
    // A trial read, as MSAL's extensions do: some stores accept writes they cannot return.
    match key_store.get(&name) {
        Ok(Some(stored)) if stored == key => {
            info!(path = %path.display(), "created the token cache encryption key in the OS keyring");
            cipher(&key).or_else(unavailable)
        }
        Ok(_) => unavailable("the keyring did not return the key just stored".into()),
        Err(e) => unavailable(e),
    }
}

fn file_is_encrypted(path: &Path) -> Result<bool, CacheError> {
    let Some((mut file, _)) = open_cache_file(path)? else {
        return Ok(false);
    };
    let mut head = vec![0u8; MAGIC.len()];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(e) => return Err(CacheError::io("read", path, e)),
        }
    }
    Ok(head[..filled] == *MAGIC)
}

/// The cache file's directory, when the path names one.
fn existing_parent(path: &Path) -> Option<&Path> {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty() && d.exists())
}

/// Creates the cache file's directory (mode 0700) if needed and checks that it is safe.
fn create_dir(path: &Path) -> Result<(), CacheError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| CacheError::io("create the directory", dir, e))?;
    check_directory(dir)
}

/// Refuses a cache directory that another user could use to plant or swap files in: one
/// writable by group or others, or owned by a user other than this one (or root), as
/// OpenSSH's `StrictModes` does. Only the directory itself is checked.
#[cfg(unix)]
fn check_directory(dir: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(|e| CacheError::io("inspect the directory", dir, e))?;
    let me = rustix::process::geteuid().as_raw();
    let insecure = |problem: String, fix: String| CacheError::Insecure {
        path: dir.to_owned(),
        problem,
        fix,
    };
    if !meta.is_dir() {
        return Err(insecure(
            "it is not a directory".to_owned(),
            "move it away or choose another cache directory".to_owned(),
        ));
    }
    if meta.uid() != me && meta.uid() != 0 {
        return Err(insecure(
            format!(
                "it is owned by user {}, not by this user ({me})",
                meta.uid()
            ),
            format!(
                "run `chown {me} '{}'` or choose another cache directory",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(
            format!(
                "other users can write to it (mode {:o})",
                meta.mode() & 0o7777
            ),
            format!("run `chmod go-w '{}'`", dir.display()),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_directory(_dir: &Path) -> Result<(), CacheError> {
    Ok(())
}

/// Opens the cache file for reading: `None` when there is none. Never blocks on a FIFO and
/// never reads a device: anything but a regular file is [`CacheError::NotAFile`], a file
/// larger than [`MAX_CACHE_FILE_BYTES`] [`CacheError::TooLarge`]. Returns the file and its
/// metadata.
fn open_cache_file(path: &Path) -> Result<Option<(File, fs::Metadata)>, CacheError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading would wait for a writer; a regular file ignores the flag.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CacheError::io("read", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("read", path, e))?;
    if !meta.is_file() {
        return Err(CacheError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_CACHE_FILE_BYTES {
        return Err(CacheError::TooLarge {
            path: path.to_owned(),
            limit: MAX_CACHE_FILE_BYTES,
        });
    }
    Ok(Some((file, meta)))
}

/// Reads at most [`MAX_CACHE_FILE_BYTES`] from `file`, in chunks (never a buffer sized from
/// the file's claimed length).
fn read_capped(path: &Path, file: File) -> Result<Vec<u8>, CacheError> {
    let mut raw = Vec::new();
    file.take(MAX_CACHE_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CacheError::io("read", path, e))?;
    if raw.len() as u64 > MAX_CACHE_FILE_BYTES {
        return Err(CacheError::TooLarge {
            path: path.to_owned(),
            limit: MAX_CACHE_FILE_BYTES,
        });
    }
    Ok(raw)
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// `dev:ino:len:mtime` of a file: changes whenever the file is replaced or rewritten.
fn stat_id(meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}:{}:{mtime}", meta.dev(), meta.ino(), meta.len())
    }
    #[cfg(not(unix))]
    {
        format!("{}:{mtime}", meta.len())
    }
}

fn version_of(stat: &str, hash: u64) -> CacheVersion {
    CacheVersion::new(format!("{stat}#{hash:016x}"))
}

fn split_version(v: Option<&CacheVersion>) -> (Option<&str>, Option<&str>) {
    match v.and_then(|v| v.as_str().split_once('#')) {
        Some((stat, hash)) => (Some(stat), Some(hash)),
        None => (None, None),
    }
}

/// Reads the cache file. `check_stat_first`: return `Unchanged` on an equal `stat` without
/// reading (the unlocked read path).
fn read_file(
    path: &Path,
    mode: &Mode,
    known: Option<&CacheVersion>,
    check_stat_first: bool,
) -> Result<Loaded, CacheError> {
    let (known_stat, known_hash) = split_version(known);
    let Some((file, meta)) = open_cache_file(path)? else {
        return Ok(Loaded::Missing);
    };
    let stat = stat_id(&meta);
    if check_stat_first && known_stat == Some(stat.as_str()) {
        return Ok(Loaded::Unchanged);
    }
    let raw = read_capped(path, file)?;
    let hash = content_hash(&raw);
    let version = version_of(&stat, hash);
    if known_hash == Some(format!("{hash:016x}").as_str()) {
        return Ok(Loaded::Unchanged);
    }
    let data = decode(path, mode, raw)?;
    Ok(Loaded::Data { data, version })
}

fn decode(path: &Path, mode: &Mode, raw: Vec<u8>) -> Result<Vec<u8>, CacheError> {
    let Some(sealed) = raw.strip_prefix(MAGIC) else {
        // Plain JSON: MSAL's own format (or an empty change-signal file).
        return Ok(raw);
    };
    let Mode::Encrypted(cipher) = mode else {
        return Err(CacheError::Undecryptable {
            path: path.to_owned(),
        });
    };
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CacheError::corrupt(
            path.display().to_string(),
            "the encrypted file is truncated",
        ));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: MAGIC,
            },
        )
        .map_err(|_| CacheError::Undecryptable {
            path: path.to_owned(),
        })
}

fn encode(mode: &Mode, data: Vec<u8>) -> Result<Vec<u8>, CacheError> {
    let Mode::Encrypted(cipher) = mode else {
        return Ok(data);
    };
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| CacheError::backend(e.to_string()))?;
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &data,
                aad: MAGIC,
            },
        )
        .map_err(|_| CacheError::backend("encrypting the token cache failed"))?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Writes `bytes` to a temporary file (mode 0600) next to `path`, syncs it and renames it over
/// `path`. Returns the new file's version.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<CacheVersion, CacheError> {
    create_dir(path)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| CacheError::backend(e.to_string()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(suffix)
    ));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        let meta = file
            .metadata()
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| CacheError::io("replace", path, e))?;
        Ok(version_of(&stat_id(&meta), content_hash(bytes)))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Temporary files are only created under the lock: one found while holding it was left by
/// a writer that died mid-write. Removes them (best effort).
fn remove_stale_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let mut prefix = name.to_os_string();
    prefix.push(".tmp-");
    let prefix = prefix.to_string_lossy().into_owned();
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            debug!(file = %entry.path().display(), "removing a temporary file left by an interrupted write");
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An exclusive lock on `<cache>.lockfile`, held while the value lives; the file is deleted on
/// release (MSAL's extensions wait for it to disappear).
struct FileLock {
    file: File,
    path: PathBuf,
}

/// Opens (or creates, mode 0600) the lock file without following a link. Returns the file
/// and whether this call created it, or `None` when its holder deleted it meanwhile (try
/// again). An existing lock file must be a plain file of this user with one name; anything
/// else is [`CacheError::Insecure`] and is left as it is.
fn open_lock_file(path: &Path) -> Result<Option<(File, bool)>, CacheError> {
    let mut create = OpenOptions::new();
    // O_CREAT | O_EXCL never follows a link, not even a dangling one.
    create.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        create.mode(0o600);
    }
    match create.open(path) {
        Ok(file) => return Ok(Some((file, true))),
        Err(e) if e.kind() == IoErrorKind::AlreadyExists => {}
        Err(e) => return Err(CacheError::io("lock", path, e)),
    }
    let insecure = |problem: &str| CacheError::Insecure {
        path: path.to_owned(),
        problem: problem.to_owned(),
        fix: "delete it; the next write creates a new lock file".to_owned(),
    };
    let mut open = OpenOptions::new();
    open.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
                .bits()
                .cast_signed(),
        );
    }
    let file = match open.open(path) {
        Ok(file) => file,
        // Deleted by its holder between the two opens: try again.
        Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
        Err(e) if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            drop(e);
            return Err(insecure("the lock file is a symbolic link"));
        }
        Err(e) => return Err(CacheError::io("lock", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("lock", path, e))?;
    if !meta.is_file() {
        return Err(insecure("the lock file is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(insecure("the lock file belongs to another user"));
        }
        match meta.nlink() {
            // Deleted by its holder after this open: try again.
            0 => return Ok(None),
            1 => {}
            _ => return Err(insecure("the lock file has another name (a hard link)")),
        }
    }
    Ok(Some((file, false)))
}

impl FileLock {
    fn acquire(path: &Path) -> Result<Self, CacheError> {
        let start = Instant::now();
        loop {
            // `None`: the holder deleted the file meanwhile; try again.
            if let Some((file, created)) = open_lock_file(path)? {
                match file.try_lock() {
                    Ok(()) => {
                        // The previous holder deletes the file on release: a lock on a
                        // deleted file locks nothing, so check that the path still names it.
                        if same_file(&file, path) {
                            let mut file = file;
                            if created {
                                // Only a file this call created is written to (never
                                // truncated).
                                let program = std::env::args().next().unwrap_or_default();
                                let _ = write!(file, "{} {program}", std::process::id());
                            }
                            return Ok(Self {
                                file,
                                path: path.to_owned(),
                            });
                        }
                    }
                    Err(TryLockError::WouldBlock) => {}
                    Err(TryLockError::Error(e)) => return Err(CacheError::io("lock", path, e)),
                }
            }
            if start.elapsed() > LOCK_TIMEOUT {
                return Err(CacheError::LockTimeout {
                    path: path.to_owned(),
                });
            }
            std::thread::sleep(LOCK_RETRY);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Delete while still holding the lock, then unlock by closing.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[async_trait]
impl CacheBackend for FileBackend {
    async fn load(&self, known: Option<&CacheVersion>) -> Result<Loaded, CacheError> {
        let mode = self.mode().await?;
        let path = self.path.clone();
        let known = known.cloned();
        blocking(move || read_file(&path, &mode, known.as_ref(), true)).await
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
        let (lock, loaded) = blocking(move || {
            create_dir(&path)?;
            let lock = FileLock::acquire(&lock_path)?;
            remove_stale_temp_files(&path);
            let loaded = read_file(&path, &read_mode, known.as_ref(), false)?;
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
            let sealed = encode(&mode, data)?;
            let version = write_atomic(&path, &sealed);
            drop(lock);
            version
        })
        .await?;
        debug!(path = %self.path.display(), "token cache saved");
        Ok(Some(version))
    }

    fn kind(&self) -> &'static str {
        match self.mode.get() {
            Some(Mode::Encrypted(_)) => "file encrypted",
            Some(Mode::Plaintext) => "file plaintext",
            // Not opened yet: encryption is decided on first use.
            None => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoKeys;

    impl KeyStore for NoKeys {
        fn get(&self, _name: &str) -> Result<Option<Vec<u8>>, BoxError> {
            Err("no keyring".into())
        }
        fn set(&self, _name: &str, _key: &[u8]) -> Result<(), BoxError> {
            Err("no keyring".into())
        }
    }

    #[tokio::test]
    async fn kind_tells_encrypted_from_plaintext_once_opened() {
        let dir = tempfile::tempdir().unwrap();
        let encrypted = FileBackend::new(dir.path().join("a.nocae"))
            .with_key_store(Arc::new(MemoryKeyStore::new()));
        assert_eq!(encrypted.kind(), "file", "not opened yet");
        assert_eq!(encrypted.load(None).await.unwrap(), Loaded::Missing);
        assert_eq!(encrypted.kind(), "file encrypted");
        let plaintext = FileBackend::new(dir.path().join("b.nocae"))
            .with_key_store(Arc::new(NoKeys))
            .with_allow_unencrypted_storage(true);
        assert_eq!(plaintext.load(None).await.unwrap(), Loaded::Missing);
        assert_eq!(plaintext.kind(), "file plaintext");
    }
}
