//! [`CacheError`]: everything that can go wrong loading, saving or protecting a token cache.

use std::error::Error as StdError;
use std::path::PathBuf;

/// A boxed error from a lower layer (I/O, the keyring, a custom backend).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error of the token cache. No variant, message or source holds a token.
///
/// Converts into [`entra_core::Error`] (kind
/// [`ClientAuthentication`](entra_core::ErrorKind::ClientAuthentication), as Python's
/// azure-identity reports cache failures from `get_token`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The stored document is not a token cache this crate can read: not JSON, not a JSON
    /// object, truncated, or an encrypted file whose envelope is damaged. The file is left
    /// untouched; no write replaces it until it is repaired, moved or deleted.
    #[error(
        "the token cache {location} is corrupt or not a token cache ({reason}); it was left unchanged: move or delete it to start a new cache"
    )]
    Corrupt {
        /// Where the document lives (a path, or a backend's description).
        location: String,
        /// What is wrong with it (never its content).
        reason: String,
    },
    /// The protected cache file cannot be unsealed by this user's data protection (DPAPI on
    /// Windows): it was written by another user or machine, or altered. The file is left
    /// untouched.
    #[error(
        "the token cache {} cannot be decrypted by this user's data protection (it was written by another user or on another machine, or altered); it was left unchanged: delete it to start a new cache",
        path.display()
    )]
    Undecryptable {
        /// The cache file.
        path: PathBuf,
    },
    /// No OS secret store is usable to keep the cache (the Secret Service on Linux, the
    /// Keychain on macOS, DPAPI on Windows), and plaintext storage was not allowed; or the
    /// store failed later.
    #[error(
        "cache encryption is impossible because no OS secret store is usable (on Linux: no D-Bus Secret Service such as gnome-keyring, or it is locked, as in an SSH session); set `allow_unencrypted_storage` in TokenCachePersistenceOptions to store the cache unencrypted instead"
    )]
    KeyringUnavailable {
        /// The keyring's error.
        #[source]
        source: BoxError,
    },
    /// The file at the cache's path was written by entra-rs 0.1 in an encrypted format of its
    /// own, which no MSAL reads and this version no longer does. It is left untouched.
    #[error(
        "the token cache {} was written by entra-rs 0.1 in a format of its own that is no longer read; delete it (you will be asked to sign in once) to share the cache with the other Azure SDKs",
        path.display()
    )]
    LegacyFormat {
        /// The cache file.
        path: PathBuf,
    },
    /// Reading, writing or locking a cache file failed.
    #[error("token cache I/O failed: could not {operation} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `lock`, `create the directory of`, ...).
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another process held the cache's lock file for too long.
    #[error(
        "timed out waiting for the token cache lock {}; if no other program uses the cache, delete this lock file",
        path.display()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
    },
    /// The cache's directory or lock file could be used by another user or program to
    /// redirect or read this user's writes (a directory writable by others or owned by
    /// another user, a lock file that is a link or not a plain file of this user). Nothing was
    /// written.
    #[error("the token cache location {} is not safe to use: {problem}; {fix}", path.display())]
    Insecure {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// The file at the cache's path is not a regular file (a FIFO, a device, a directory, a
    /// socket). It is not read and never replaced.
    #[error(
        "the token cache {} is not a regular file; move it away to start a new cache",
        path.display()
    )]
    NotAFile {
        /// The cache file's path.
        path: PathBuf,
    },
    /// The cache file is larger than any token cache
    /// ([`MAX_CACHE_FILE_BYTES`](crate::MAX_CACHE_FILE_BYTES)). It is not read and never
    /// replaced.
    #[error(
        "the token cache {} is larger than {limit} bytes, more than any token cache; it was left unchanged: move or delete it to start a new cache",
        path.display()
    )]
    TooLarge {
        /// The cache file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// No persistent cache exists for this platform or environment (for example, no home
    /// directory).
    #[error("a persistent token cache is not available in this environment: {0}")]
    Unavailable(String),
    /// A custom [`CacheBackend`](crate::CacheBackend) failed.
    #[error("the token cache backend failed")]
    Backend(#[source] BoxError),
}

impl CacheError {
    /// A [`CacheError::Backend`] wrapping a custom backend's error.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend(source.into())
    }

    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            operation,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            location: location.into(),
            reason: reason.into(),
        }
    }
}

impl From<CacheError> for entra_core::Error {
    fn from(err: CacheError) -> Self {
        use entra_core::Reason;
        let reason = match &err {
            CacheError::KeyringUnavailable { .. } => Reason::KeyringUnavailable,
            CacheError::Corrupt { .. }
            | CacheError::Undecryptable { .. }
            | CacheError::LegacyFormat { .. }
            | CacheError::NotAFile { .. }
            | CacheError::TooLarge { .. } => Reason::CacheUnreadable,
            CacheError::Insecure { .. } => Reason::CacheLocationUnsafe,
            CacheError::LockTimeout { .. } => Reason::CacheLocked,
            _ => Reason::Other,
        };
        let message = format!("Authentication failed: {err}");
        // Said once: in the message; the typed error stays reachable (`find_cause`).
        entra_core::Error::client_authentication(message)
            .with_reason(reason)
            .with_lower(err)
    }
}
