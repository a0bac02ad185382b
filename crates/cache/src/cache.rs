//! [`Cache`]: a [`TokenCache`] kept in step with a [`CacheBackend`] (lazy load, reload when
//! the store changed, locked read-modify-write for every change).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use time::OffsetDateTime;
use tracing::{debug, instrument, trace};

use crate::CacheError;
use crate::backend::{CacheBackend, CacheVersion, Loaded, RefreshLock};
use crate::model::{AccountEntry, AppMetadataEntry, CacheDocument, IdTokenEntry};
use crate::token_cache::{
    AccessTokenQuery, CachedAccessToken, CachedRefreshToken, Mutation, RefreshTokenQuery,
    TokenCache, TokenWrite,
};

/// Milliseconds since `started`, to the microsecond, for tracing fields.
fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The name of a change, for tracing fields.
fn operation_name(mutation: &Mutation<'_>) -> &'static str {
    match mutation {
        Mutation::Write(..) => "write_token_response",
        Mutation::RemoveRefreshToken(_) => "remove_refresh_token",
        Mutation::RemoveAccount { .. } => "remove_account",
        Mutation::Clear => "clear",
        Mutation::Replace(_) => "import",
    }
}

/// The token cache a credential uses: a [`TokenCache`] plus, optionally, a [`CacheBackend`]
/// where the document is stored.
///
/// - Construction touches no storage; the first operation loads the document.
/// - Every lookup first asks the backend whether the stored document changed (for a file, one
///   `stat`), reloading it if so; then it searches the in-memory indexes.
/// - Every change runs inside the backend's lock: reload if changed, apply, save. Two
///   processes writing at once lose nothing.
/// - A store that cannot be read or parsed gives a [`CacheError`]; it is never overwritten.
///
/// ```
/// use entra_cache::{AccessTokenQuery, Cache, TokenWrite};
/// use time::OffsetDateTime;
///
/// # async fn run() -> Result<(), entra_cache::CacheError> {
/// let cache = Cache::in_memory();
/// let now = OffsetDateTime::now_utc();
/// let write = TokenWrite::new("client", "login.microsoftonline.com", "organizations", &["User.Read"])
///     .with_home_account_id("uid.utid")
///     .with_access_token("eyJ0eXAi...", 3600)
///     .with_refresh_token("rt", Some("1"));
/// cache.write_token_response(&write, now).await?;
///
/// let envs = ["login.microsoftonline.com"];
/// let query = AccessTokenQuery::new("client", "uid.utid", "organizations", &envs, &["User.Read"]);
/// assert!(cache.find_access_token(&query, now).await?.is_some());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct Cache {
    tokens: TokenCache,
    backend: Option<Arc<dyn CacheBackend>>,
    /// The version of the stored document the in-memory cache reflects.
    version: Mutex<Option<CacheVersion>>,
    /// Serialises this process's writes (the backend's lock serialises processes).
    write_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("tokens", &self.tokens)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl Cache {
    /// A cache kept in memory only (the default).
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            tokens: TokenCache::new(),
            backend: None,
            version: Mutex::new(None),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// A cache stored by `backend`. Nothing is read until the first operation.
    #[must_use]
    pub fn with_backend(backend: Arc<dyn CacheBackend>) -> Self {
        Self {
            backend: Some(backend),
            ..Self::in_memory()
        }
    }

    /// The in-memory cache, as of the last load or write. Reading it directly skips the
    /// reload check; writing through it changes only memory (the next reload may replace it),
    /// so write through this `Cache` to save.
    #[must_use]
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// The backend, if any.
    #[must_use]
    pub fn backend(&self) -> Option<&Arc<dyn CacheBackend>> {
        self.backend.as_ref()
    }

    /// The backend's [`refresh_lock`](CacheBackend::refresh_lock): `None` without a backend,
    /// or when the backend does not coordinate refreshes among processes.
    ///
    /// # Errors
    /// The backend could not take the lock.
    pub async fn refresh_lock(&self) -> Result<Option<RefreshLock>, CacheError> {
        match &self.backend {
            Some(backend) => backend.refresh_lock().await,
            None => Ok(None),
        }
    }

    fn known_version(&self) -> Option<CacheVersion> {
        self.version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_version(&self, version: Option<CacheVersion>) {
        *self.version.lock().unwrap_or_else(PoisonError::into_inner) = version;
    }

    /// Reloads the document if the backend's copy changed (MSAL's before-access hook). The
    /// lookups call this themselves.
    ///
    /// # Errors
    /// The backend failed, or the stored document is corrupt (it is left unchanged).
    pub async fn reload(&self) -> Result<(), CacheError> {
        let Some(backend) = &self.backend else {
            return Ok(());
        };
        let known = self.known_version();
        let started = Instant::now();
        let loaded = backend.load(known.as_ref()).await.inspect_err(|e| {
            debug!(
                backend = backend.kind(),
                duration_ms = millis(started),
                error = %e,
                "token cache load failed"
            );
        })?;
        match loaded {
            Loaded::Unchanged => {
                // Every lookup asks: keep this one at TRACE.
                trace!(
                    backend = backend.kind(),
                    outcome = "unchanged",
                    duration_ms = millis(started),
                    "token cache load"
                );
            }
            Loaded::Missing => {
                debug!(
                    backend = backend.kind(),
                    outcome = "missing",
                    entries = 0,
                    bytes = 0,
                    duration_ms = millis(started),
                    "token cache load"
                );
                if known.is_some() || !self.tokens.is_empty() {
                    debug!("token cache store is empty: dropping the in-memory cache");
                    self.tokens.install(CacheDocument::default());
                    self.set_version(None);
                }
            }
            Loaded::Data { data, version } => {
                let doc = CacheDocument::from_json_at(&data, &format!("{backend:?}"))?;
                debug!(
                    backend = backend.kind(),
                    outcome = "loaded",
                    entries = doc.len(),
                    bytes = data.len(),
                    duration_ms = millis(started),
                    "token cache load"
                );
                self.tokens.install(doc);
                self.set_version(Some(version));
            }
        }
        Ok(())
    }

    async fn mutate(&self, mutation: Mutation<'_>) -> Result<bool, CacheError> {
        let operation = operation_name(&mutation);
        let Some(backend) = &self.backend else {
            let started = Instant::now();
            let changed = self.tokens.mutate(&mutation);
            debug!(
                backend = "none",
                operation,
                changed,
                entries = self.tokens.len(),
                duration_ms = millis(started),
                "token cache updated in memory"
            );
            return Ok(changed);
        };
        let _writer = self.write_lock.lock().await;
        let started = Instant::now();
        let known = self.known_version();
        let location = format!("{backend:?}");
        let mut result: Option<(CacheDocument, Option<CacheVersion>, bool, usize)> = None;
        let tokens = &self.tokens;
        let mut update = |loaded: Loaded| -> Result<Option<Vec<u8>>, CacheError> {
            let (mut doc, version) = match loaded {
                Loaded::Unchanged => (tokens.document(), known.clone()),
                Loaded::Missing => (CacheDocument::default(), None),
                Loaded::Data { data, version } => (
                    CacheDocument::from_json_at(&data, &location)?,
                    Some(version),
                ),
            };
            let changed = doc.apply(&mutation);
            let bytes = changed.then(|| doc.to_json());
            let len = bytes.as_ref().map_or(0, Vec::len);
            result = Some((doc, version, changed, len));
            Ok(bytes)
        };
        let written = backend
            .modify(known.as_ref(), &mut update)
            .await
            .inspect_err(|e| {
                debug!(
                    backend = backend.kind(),
                    operation,
                    duration_ms = millis(started),
                    error = %e,
                    "token cache save failed"
                );
            })?;
        let Some((doc, loaded_version, changed, bytes)) = result else {
            return Ok(false);
        };
        debug!(
            backend = backend.kind(),
            operation,
            changed,
            saved = written.is_some(),
            entries = doc.len(),
            bytes,
            duration_ms = millis(started),
            "token cache save"
        );
        self.tokens.install(doc);
        self.set_version(if changed { written } else { loaded_version });
        Ok(changed)
    }

    /// Finds a valid access token (see [`TokenCache::find_access_token`]), after reloading the
    /// document if the store changed.
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    #[instrument(level = "debug", skip_all, fields(client_id = query.client_id, realm = query.realm))]
    pub async fn find_access_token<E: AsRef<str> + Sync, S: AsRef<str> + Sync>(
        &self,
        query: &AccessTokenQuery<'_, E, S>,
        now: OffsetDateTime,
    ) -> Result<Option<CachedAccessToken>, CacheError> {
        self.reload().await?;
        let hit = self.tokens.find_access_token(query, now);
        debug!(hit = hit.is_some(), "access token lookup");
        Ok(hit)
    }

    /// The refresh tokens to try, best first (see [`TokenCache::find_refresh_tokens`]).
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn find_refresh_tokens<E: AsRef<str> + Sync>(
        &self,
        query: &RefreshTokenQuery<'_, E>,
    ) -> Result<Vec<CachedRefreshToken>, CacheError> {
        self.reload().await?;
        Ok(self.tokens.find_refresh_tokens(query))
    }

    /// The best refresh token (see [`TokenCache::find_refresh_tokens`]).
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn find_refresh_token<E: AsRef<str> + Sync>(
        &self,
        query: &RefreshTokenQuery<'_, E>,
    ) -> Result<Option<CachedRefreshToken>, CacheError> {
        self.reload().await?;
        Ok(self.tokens.find_refresh_token(query))
    }

    /// All accounts in `environments`.
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn accounts<E: AsRef<str> + Sync>(
        &self,
        environments: &[E],
    ) -> Result<Vec<Arc<AccountEntry>>, CacheError> {
        self.reload().await?;
        Ok(self.tokens.accounts(environments))
    }

    /// The account `home_account_id` (see [`TokenCache::find_account`]).
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn find_account<E: AsRef<str> + Sync>(
        &self,
        home_account_id: &str,
        environments: &[E],
        realm: Option<&str>,
    ) -> Result<Option<Arc<AccountEntry>>, CacheError> {
        self.reload().await?;
        Ok(self
            .tokens
            .find_account(home_account_id, environments, realm))
    }

    /// The ID token of (client, account, realm).
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn find_id_token<E: AsRef<str> + Sync>(
        &self,
        client_id: &str,
        home_account_id: &str,
        environments: &[E],
        realm: &str,
    ) -> Result<Option<Arc<IdTokenEntry>>, CacheError> {
        self.reload().await?;
        Ok(self
            .tokens
            .find_id_token(client_id, home_account_id, environments, realm))
    }

    /// The application metadata of `client_id`.
    ///
    /// # Errors
    /// See [`reload`](Self::reload).
    pub async fn find_app_metadata<E: AsRef<str> + Sync>(
        &self,
        client_id: &str,
        environments: &[E],
    ) -> Result<Option<Arc<AppMetadataEntry>>, CacheError> {
        self.reload().await?;
        Ok(self.tokens.find_app_metadata(client_id, environments))
    }

    /// Writes a token response (see [`TokenWrite`]) and saves the document.
    ///
    /// # Errors
    /// The backend failed or its document is corrupt; then nothing was saved.
    #[instrument(level = "debug", skip_all, fields(client_id = %write.client_id, realm = %write.realm))]
    pub async fn write_token_response(
        &self,
        write: &TokenWrite,
        now: OffsetDateTime,
    ) -> Result<(), CacheError> {
        self.mutate(Mutation::Write(write, now.unix_timestamp()))
            .await
            .map(|_| ())
    }

    /// Removes a refresh token; returns whether it was there.
    ///
    /// # Errors
    /// As [`write_token_response`](Self::write_token_response).
    pub async fn remove_refresh_token(
        &self,
        token: &CachedRefreshToken,
    ) -> Result<bool, CacheError> {
        self.mutate(Mutation::RemoveRefreshToken(token.key())).await
    }

    /// Signs an account out of this client (see [`TokenCache::remove_account`]).
    ///
    /// # Errors
    /// As [`write_token_response`](Self::write_token_response).
    pub async fn remove_account<E: AsRef<str> + Sync>(
        &self,
        home_account_id: &str,
        environments: &[E],
        client_id: &str,
    ) -> Result<bool, CacheError> {
        self.mutate(Mutation::RemoveAccount {
            home_account_id,
            environments: environments.iter().map(|e| e.as_ref().to_owned()).collect(),
            client_id,
        })
        .await
    }

    /// Replaces the whole stored document with `doc` (an import; MSAL's `deserialize`
    /// followed by a save).
    ///
    /// # Errors
    /// As [`write_token_response`](Self::write_token_response).
    pub async fn import(&self, doc: CacheDocument) -> Result<(), CacheError> {
        self.mutate(Mutation::Replace(&doc)).await.map(|_| ())
    }

    /// Removes every entry and saves the empty document.
    ///
    /// # Errors
    /// As [`write_token_response`](Self::write_token_response).
    pub async fn clear(&self) -> Result<(), CacheError> {
        self.mutate(Mutation::Clear).await.map(|_| ())
    }
}
