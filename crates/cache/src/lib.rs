//! MSAL's token cache for Entra ID credentials: the unified cache schema every MSAL language
//! reads and writes, indexed value-based lookups, and one small backend trait with a memory
//! and a persistent (encrypted) backend.
//!
//! ```
//! use entra_cache::{AccessTokenQuery, Cache, RefreshTokenQuery, TokenWrite};
//! use time::OffsetDateTime;
//!
//! # async fn run() -> Result<(), entra_cache::CacheError> {
//! let cache = Cache::in_memory();
//! let now = OffsetDateTime::now_utc();
//!
//! // After a token response: what the credential derived from it.
//! let write = TokenWrite::new(
//!     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
//!     "login.microsoftonline.com",
//!     "organizations",
//!     &["https://graph.microsoft.com/User.Read"],
//! )
//! .with_granted_scope(Some("https://graph.microsoft.com/User.Read"))
//! .with_home_account_id("uid.utid")
//! .with_access_token("eyJ0eXAi...", 3600)
//! .with_refresh_token("0.AAAA...", Some("1"));
//! cache.write_token_response(&write, now).await?;
//!
//! // Later: look up by value, with the authority's aliases.
//! let aliases = ["login.microsoftonline.com", "login.windows.net"];
//! let query = AccessTokenQuery::new(
//!     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
//!     "uid.utid",
//!     "organizations",
//!     &aliases,
//!     &["https://graph.microsoft.com/user.read"],
//! );
//! let token = cache.find_access_token(&query, now).await?.expect("cached");
//! assert_eq!(token.secret().secret(), "eyJ0eXAi...");
//!
//! let rt = RefreshTokenQuery::new("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "uid.utid", &aliases);
//! assert!(cache.find_refresh_token(&rt).await?.is_some());
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! - [`TokenCache`]: the in-memory cache. Lock-free reads over an immutable, indexed
//!   snapshot; writes swap in a new snapshot.
//! - [`CacheBackend`]: where the serialized document lives, with MSAL's before/after-access
//!   hooks (`load`, `modify` under a cross-process lock). [`MemoryBackend`] keeps it in memory;
//!   [`FileBackend`] keeps it where MSAL and every Azure Identity SDK keep theirs (the Secret
//!   Service on Linux, the Keychain on macOS, a DPAPI file on Windows, with the signal and
//!   lock files under `~/.IdentityService/`), configured by [`TokenCachePersistenceOptions`].
//! - [`Cache`]: a `TokenCache` kept in step with a backend; what a credential holds.
//! - [`CacheDocument`] and the entry types: MSAL's schema, unknown fields kept on round trip.

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod cache;
mod error;
mod model;
mod persistent;
mod token_cache;

// The public interface is:
/// Re-exported so that implementing [`CacheBackend`] (an `#[async_trait]` trait) needs no
/// dependency of your own: write `#[entra_cache::async_trait]` on the impl.
pub use async_trait::async_trait;
pub use backend::{CacheBackend, CacheVersion, Loaded, MemoryBackend, ModifyFn, RefreshLock};
pub use cache::Cache;
pub use error::{BoxError, CacheError};
pub use model::{
    AUTHORITY_TYPE_ADFS, AUTHORITY_TYPE_MSSTS, AccessTokenEntry, AccountEntry, AppMetadataEntry,
    CacheDocument, IdTokenEntry, RefreshTokenEntry, keys, section,
};
#[cfg(all(feature = "os-stores", windows))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "os-stores", windows))))]
pub use persistent::DpapiProtector;
#[cfg(all(feature = "os-stores", target_os = "macos"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "os-stores", target_os = "macos"))))]
pub use persistent::KeychainStore;
#[cfg(all(feature = "os-stores", unix, not(target_os = "macos")))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "os-stores", unix, not(target_os = "macos"))))
)]
pub use persistent::SecretServiceStore;
pub use persistent::{
    CACHE_DIR_ENV, DEFAULT_CACHE_NAME, FileBackend, KeychainItem, MAX_CACHE_FILE_BYTES,
    MSAL_ACCOUNT, MSAL_SERVICE, MemorySecretStore, Platform, Protector, SecretServiceItem,
    SecretStore, TokenCachePersistenceOptions,
};
pub use token_cache::{
    AccessTokenQuery, AccountWrite, CachedAccessToken, CachedRefreshToken, EXPIRY_BUFFER_SECONDS,
    RefreshTokenQuery, TokenCache, TokenWrite,
};

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
