//! [`TokenCache`]: the in-memory MSAL cache, with indexed value-based lookups and
//! copy-on-write snapshots so that readers never wait for a writer.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use entra_core::{AccessTokenInfo, Secret};
use serde_json::Map;
use time::OffsetDateTime;

use crate::model::{
    AUTHORITY_TYPE_MSSTS, AccessTokenEntry, AccountEntry, AppMetadataEntry, CacheDocument,
    IdTokenEntry, RefreshTokenEntry, Section, Slot, keys,
};

/// A cached access token that expires within this many seconds counts as expired (MSAL's
/// five-minute buffer, the same in Python, Go and .NET).
pub const EXPIRY_BUFFER_SECONDS: i64 = 300;

/// The family id MSAL tries first when it does not know whether an app is in a family.
const DEFAULT_FAMILY_ID: &str = "1";

mod compare;
mod index;
mod query;
mod write;

use self::compare::*;
use self::index::*;
pub use self::query::*;
pub use self::write::*;

/// The in-memory MSAL token cache: indexed value-based lookups over an immutable snapshot.
///
/// - Reads take no lock: they load the current snapshot (an atomic pointer) and search its
///   indexes, so reads from many tasks at once never wait for each other or for a writer, and
///   a hit allocates nothing but the returned handle's reference count.
/// - Writes build a new snapshot and swap it in (writers are serialised among themselves).
/// - Lookups match field values, never key strings, with MSAL's rules: environment aliases,
///   realm, client id, home account id, scopes as a case-insensitive subset of the target,
///   token type; a token expiring within [`EXPIRY_BUFFER_SECONDS`] counts as expired.
///
/// This type never touches storage; [`Cache`](crate::Cache) adds a backend.
///
/// ```
/// use entra_cache::{AccessTokenQuery, TokenCache, TokenWrite};
/// use time::OffsetDateTime;
///
/// let cache = TokenCache::new();
/// let now = OffsetDateTime::now_utc();
/// cache.write_token_response(
///     &TokenWrite::new("client", "login.microsoftonline.com", "organizations", &["User.Read"])
///         .with_home_account_id("uid.utid")
///         .with_access_token("eyJ0eXAi...", 3600),
///     now,
/// );
/// let aliases = ["login.microsoftonline.com", "login.windows.net"];
/// let hit = cache.find_access_token(
///     &AccessTokenQuery::new("client", "uid.utid", "organizations", &aliases, &["user.read"]),
///     now,
/// );
/// assert_eq!(hit.unwrap().secret().secret(), "eyJ0eXAi...");
/// ```
pub struct TokenCache {
    state: ArcSwap<State>,
    writer: Mutex<()>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("document", &self.state.load().doc)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::from_document(CacheDocument::default())
    }

    /// A cache holding `doc`.
    #[must_use]
    pub fn from_document(doc: CacheDocument) -> Self {
        Self {
            state: ArcSwap::from_pointee(State::new(doc)),
            writer: Mutex::new(()),
        }
    }

    /// A copy of the current document (cheap: entries are shared).
    #[must_use]
    pub fn document(&self) -> CacheDocument {
        self.state.load().doc.clone()
    }

    /// The current document serialized as MSAL's JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        self.state.load().doc.to_json()
    }

    /// Replaces the whole content (e.g. after deserializing a document from elsewhere).
    pub fn replace_document(&self, doc: CacheDocument) {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.state.store(Arc::new(State::new(doc)));
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.load().doc.len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds an access token valid for more than five minutes after `now`. When several
    /// match, the one that expires last.
    #[must_use]
    pub fn find_access_token<E: AsRef<str>, S: AsRef<str>>(
        &self,
        query: &AccessTokenQuery<'_, E, S>,
        now: OffsetDateTime,
    ) -> Option<CachedAccessToken> {
        self.state
            .load()
            .find_access_token(query, now.unix_timestamp())
    }

    /// The refresh tokens to try for an account, best first (MSAL Python's FOCI order):
    /// - an app known to be in a family (its `AppMetadata` has a `family_id`), or not known at
    ///   all (no `AppMetadata`), gets the family's refresh tokens first, then its own;
    /// - an app known to be outside any family gets only its own.
    ///
    /// Within each group the most recently written comes first. Empty when `home_account_id`
    /// is empty.
    #[must_use]
    pub fn find_refresh_tokens<E: AsRef<str>>(
        &self,
        query: &RefreshTokenQuery<'_, E>,
    ) -> Vec<CachedRefreshToken> {
        self.state.load().find_refresh_tokens(query)
    }

    /// The first of [`find_refresh_tokens`](Self::find_refresh_tokens).
    #[must_use]
    pub fn find_refresh_token<E: AsRef<str>>(
        &self,
        query: &RefreshTokenQuery<'_, E>,
    ) -> Option<CachedRefreshToken> {
        self.find_refresh_tokens(query).into_iter().next()
    }

    /// All accounts whose environment is one of `environments`.
    #[must_use]
    pub fn accounts<E: AsRef<str>>(&self, environments: &[E]) -> Vec<Arc<AccountEntry>> {
        self.state
            .load()
            .doc
            .accounts
            .values()
            .filter_map(|s| match s {
                Slot::Typed(a) if env_matches(&a.environment, environments) => Some(Arc::clone(a)),
                _ => None,
            })
            .collect()
    }

    /// The account with `home_account_id` in `environments`, preferring one of `realm` when
    /// given.
    #[must_use]
    pub fn find_account<E: AsRef<str>>(
        &self,
        home_account_id: &str,
        environments: &[E],
        realm: Option<&str>,
    ) -> Option<Arc<AccountEntry>> {
        let state = self.state.load();
        let bucket = state.account_by_home.get(&hash_ci(&[home_account_id]))?;
        let mut candidates = bucket.iter().filter(|a| {
            eq_ci(&a.home_account_id, home_account_id) && env_matches(&a.environment, environments)
        });
        match realm {
            Some(realm) => {
                let all: Vec<&Arc<AccountEntry>> = candidates.collect();
                all.iter()
                    .find(|a| eq_ci(&a.realm, realm))
                    .or_else(|| all.first())
                    .map(|a| Arc::clone(a))
            }
            None => candidates.next().map(Arc::clone),
        }
    }

    /// The ID token of (client, account, realm) in `environments`.
    #[must_use]
    pub fn find_id_token<E: AsRef<str>>(
        &self,
        client_id: &str,
        home_account_id: &str,
        environments: &[E],
        realm: &str,
    ) -> Option<Arc<IdTokenEntry>> {
        let state = self.state.load();
        state
            .id_by_home
            .get(&hash_ci(&[home_account_id]))?
            .iter()
            .find(|t| {
                eq_ci(&t.home_account_id, home_account_id)
                    && eq_ci(&t.client_id, client_id)
                    && eq_ci(&t.realm, realm)
                    && env_matches(&t.environment, environments)
            })
            .cloned()
    }

    /// The application metadata of `client_id` in `environments`.
    #[must_use]
    pub fn find_app_metadata<E: AsRef<str>>(
        &self,
        client_id: &str,
        environments: &[E],
    ) -> Option<Arc<AppMetadataEntry>> {
        self.state
            .load()
            .find_app_metadata(client_id, environments)
            .cloned()
    }

    /// Writes a token response (see [`TokenWrite`] for the rules).
    pub fn write_token_response(&self, write: &TokenWrite, now: OffsetDateTime) {
        self.mutate(&Mutation::Write(write, now.unix_timestamp()));
    }

    /// Removes a refresh token (e.g. after the service rejected it with `invalid_grant`).
    /// Returns whether it was there.
    pub fn remove_refresh_token(&self, token: &CachedRefreshToken) -> bool {
        self.mutate(&Mutation::RemoveRefreshToken(token.key()))
    }

    /// Signs an account out of this client (MSAL's `remove_account`): removes its refresh
    /// tokens for this client and its family refresh tokens, and all its access tokens, ID
    /// tokens and account entries in `environments`. Returns whether anything was removed.
    pub fn remove_account<E: AsRef<str>>(
        &self,
        home_account_id: &str,
        environments: &[E],
        client_id: &str,
    ) -> bool {
        self.mutate(&Mutation::RemoveAccount {
            home_account_id,
            environments: environments.iter().map(|e| e.as_ref().to_owned()).collect(),
            client_id,
        })
    }

    /// Removes every entry (unknown top-level sections are kept).
    pub fn clear(&self) {
        self.mutate(&Mutation::Clear);
    }

    pub(crate) fn mutate(&self, mutation: &Mutation<'_>) -> bool {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut doc = self.state.load().doc.clone();
        let changed = doc.apply(mutation);
        if changed {
            self.state.store(Arc::new(State::new(doc)));
        }
        changed
    }

    /// Installs a document built elsewhere (after a load or a locked write).
    pub(crate) fn install(&self, doc: CacheDocument) {
        self.replace_document(doc);
    }
}
