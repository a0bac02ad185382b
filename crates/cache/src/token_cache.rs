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

// ---------------------------------------------------------------------------------------------
// case-insensitive hashing and comparison (no allocation)

fn feed_ci(h: &mut DefaultHasher, s: &str) {
    if s.is_ascii() {
        let mut buf = [0u8; 64];
        for chunk in s.as_bytes().chunks(buf.len()) {
            let b = &mut buf[..chunk.len()];
            b.copy_from_slice(chunk);
            b.make_ascii_lowercase();
            h.write(b);
        }
    } else {
        let mut utf8 = [0u8; 4];
        for c in s.chars().flat_map(char::to_lowercase) {
            h.write(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
    // A separator that never occurs in UTF-8, so ("ab", "c") and ("a", "bc") differ.
    h.write_u8(0xff);
}

fn hash_ci(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        feed_ci(&mut h, p);
    }
    h.finish()
}

/// Case-insensitive equality (Unicode lower-casing, no allocation).
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

fn env_matches<E: AsRef<str>>(environment: &str, aliases: &[E]) -> bool {
    aliases.iter().any(|a| eq_ci(a.as_ref(), environment))
}

fn target_contains_all<S: AsRef<str>>(target: &str, scopes: &[S]) -> bool {
    scopes
        .iter()
        .all(|s| target.split_whitespace().any(|t| eq_ci(t, s.as_ref())))
}

fn to_time(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

// ---------------------------------------------------------------------------------------------
// queries and results

/// What to look up an access token by. Build it with [`AccessTokenQuery::new`].
///
/// `environments` is the authority host and its aliases (e.g. `login.microsoftonline.com`,
/// `login.windows.net`, `login.microsoft.com`, `sts.windows.net`); with instance discovery
/// disabled, just the host. All comparisons ignore case.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AccessTokenQuery<'a, E: AsRef<str> = &'a str, S: AsRef<str> = &'a str> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The account's `<uid>.<utid>` (empty for app-only tokens).
    pub home_account_id: &'a str,
    /// The tenant (realm) the token must have been requested from.
    pub realm: &'a str,
    /// The authority host and its aliases.
    pub environments: &'a [E],
    /// The requested scopes: each must be in the token's target (case-insensitive).
    pub scopes: &'a [S],
    /// The token type; `None` means `Bearer`.
    pub token_type: Option<&'a str>,
    /// The proof-of-possession key id; `None` for bearer tokens.
    pub key_id: Option<&'a str>,
}

impl<'a, E: AsRef<str>, S: AsRef<str>> AccessTokenQuery<'a, E, S> {
    /// A query for a bearer token.
    pub fn new(
        client_id: &'a str,
        home_account_id: &'a str,
        realm: &'a str,
        environments: &'a [E],
        scopes: &'a [S],
    ) -> Self {
        Self {
            client_id,
            home_account_id,
            realm,
            environments,
            scopes,
            token_type: None,
            key_id: None,
        }
    }

    /// Sets the token type (`None` or `Bearer` for bearer tokens).
    #[must_use]
    pub fn with_token_type(mut self, token_type: Option<&'a str>) -> Self {
        self.token_type = token_type;
        self
    }

    /// Sets the proof-of-possession key id.
    #[must_use]
    pub fn with_key_id(mut self, key_id: Option<&'a str>) -> Self {
        self.key_id = key_id;
        self
    }
}

/// A cached access token that is valid for at least five more minutes. Cloning is cheap; the
/// token is never shown by `Debug`.
#[derive(Clone)]
pub struct CachedAccessToken(Arc<AccessTokenEntry>);

impl CachedAccessToken {
    /// The token.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.0.secret
    }

    /// When the token expires.
    #[must_use]
    pub fn expires_on(&self) -> OffsetDateTime {
        to_time(self.0.expires_on).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// When the token should be refreshed proactively, if the service said (`refresh_in`).
    #[must_use]
    pub fn refresh_on(&self) -> Option<OffsetDateTime> {
        self.0.refresh_on.and_then(to_time)
    }

    /// Whether `refresh_on` has passed: the caller should try to refresh the token and fall
    /// back to this one if that fails (what MSAL Python and .NET do).
    #[must_use]
    pub fn should_refresh(&self, now: OffsetDateTime) -> bool {
        self.0.refresh_on.is_some_and(|r| r <= now.unix_timestamp())
    }

    /// The token type (`Bearer` when the entry has none).
    #[must_use]
    pub fn token_type(&self) -> &str {
        self.0.token_type.as_deref().unwrap_or("Bearer")
    }

    /// The cache entry.
    #[must_use]
    pub fn entry(&self) -> &AccessTokenEntry {
        &self.0
    }

    /// The token as `entra_core`'s [`AccessTokenInfo`].
    #[must_use]
    pub fn to_access_token_info(&self) -> AccessTokenInfo {
        AccessTokenInfo::new(self.0.secret.clone(), self.expires_on())
            .with_token_type(self.token_type())
            .with_refresh_on(self.refresh_on())
    }
}

impl fmt::Debug for CachedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CachedAccessToken").field(&self.0).finish()
    }
}

/// What to look up refresh tokens by.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RefreshTokenQuery<'a, E: AsRef<str> = &'a str> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The account's `<uid>.<utid>` (required: no account, no refresh token).
    pub home_account_id: &'a str,
    /// The authority host and its aliases.
    pub environments: &'a [E],
}

impl<'a, E: AsRef<str>> RefreshTokenQuery<'a, E> {
    /// A query.
    pub fn new(client_id: &'a str, home_account_id: &'a str, environments: &'a [E]) -> Self {
        Self {
            client_id,
            home_account_id,
            environments,
        }
    }
}

/// A cached refresh token and where it is stored. Cloning is cheap; the token is never shown
/// by `Debug`.
#[derive(Clone)]
pub struct CachedRefreshToken {
    key: Arc<str>,
    entry: Arc<RefreshTokenEntry>,
}

impl CachedRefreshToken {
    /// The token.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.entry.secret
    }

    /// The family id, when this is a family refresh token (FOCI).
    #[must_use]
    pub fn family_id(&self) -> Option<&str> {
        self.entry.family_id.as_deref().filter(|f| !f.is_empty())
    }

    /// The client id that received the token (for a family token, possibly another app).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.entry.client_id
    }

    /// The cache key of the entry.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The cache entry.
    #[must_use]
    pub fn entry(&self) -> &RefreshTokenEntry {
        &self.entry
    }
}

impl fmt::Debug for CachedRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedRefreshToken")
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// writes

/// The account to record with a token response, derived from its ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountWrite {
    /// The object id (`oid`, else `sub`).
    pub local_account_id: String,
    /// `preferred_username`, else `upn`, else empty.
    pub username: String,
    /// `MSSTS` (default) or `ADFS`.
    pub authority_type: String,
    /// The grant that created the account (MSAL Python's `account_source`), e.g.
    /// `authorization_code`.
    pub account_source: Option<String>,
}

impl AccountWrite {
    /// An Entra ID (`MSSTS`) account.
    pub fn new(local_account_id: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            local_account_id: local_account_id.into(),
            username: username.into(),
            authority_type: AUTHORITY_TYPE_MSSTS.to_owned(),
            account_source: None,
        }
    }

    /// Sets the authority type (`MSSTS` or `ADFS`).
    #[must_use]
    pub fn with_authority_type(mut self, authority_type: impl Into<String>) -> Self {
        self.authority_type = authority_type.into();
        self
    }

    /// Sets the grant type that created the account.
    #[must_use]
    pub fn with_account_source(mut self, grant_type: impl Into<String>) -> Self {
        self.account_source = Some(grant_type.into());
        self
    }
}

/// One successful token response, ready to be written to the cache (MSAL's write rules).
///
/// - The refresh token is written if present (with `family_id` from the response's `foci`),
///   and replaces the refresh token that was redeemed to get it, if the caller says which.
/// - The access token is written only if it is valid for more than five minutes; its target is
///   the scopes the server granted (the response's `scope`), else the requested scopes, sorted.
/// - The ID token and the account are written if present.
/// - The application metadata is always written; it carries `family_id` when the response had
///   `foci`.
/// - Without a `home_account_id` (app-only tokens), only the access token and the metadata are
///   written.
///
/// `Debug` never shows a token.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TokenWrite {
    /// The application (client) id.
    pub client_id: String,
    /// The authority host (the environment of every entry written).
    pub environment: String,
    /// The tenant of the authority (the realm of every entry written).
    pub realm: String,
    /// The scopes the request asked for.
    pub requested_scopes: Vec<String>,
    /// The response's `scope` (space-separated), when present.
    pub granted_scope: Option<String>,
    /// The account's `<uid>.<utid>` (from `client_info`, else the ID token's `sub`).
    pub home_account_id: Option<String>,
    /// The access token.
    pub access_token: Option<Secret>,
    /// `expires_in` of the response (seconds).
    pub expires_in: i64,
    /// `ext_expires_in` of the response (seconds), when present.
    pub ext_expires_in: Option<i64>,
    /// `refresh_in` of the response (seconds), when present.
    pub refresh_in: Option<i64>,
    /// `token_type` of the response; `None` means `Bearer`.
    pub token_type: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// `foci` of the response: the family id.
    pub family_id: Option<String>,
    /// The raw ID token.
    pub id_token: Option<Secret>,
    /// The account to record.
    pub account: Option<AccountWrite>,
    /// The refresh token that was redeemed to get this response; replaced by the new one.
    pub redeemed_refresh_token: Option<CachedRefreshToken>,
}

impl TokenWrite {
    /// A write for a response from `environment`/`realm` to `client_id`'s request for
    /// `requested_scopes`.
    pub fn new<S: AsRef<str>>(
        client_id: impl Into<String>,
        environment: impl Into<String>,
        realm: impl Into<String>,
        requested_scopes: &[S],
    ) -> Self {
        Self {
            client_id: client_id.into(),
            environment: environment.into(),
            realm: realm.into(),
            requested_scopes: requested_scopes
                .iter()
                .map(|s| s.as_ref().to_owned())
                .collect(),
            ..Self::default()
        }
    }

    /// Sets the response's `scope`.
    #[must_use]
    pub fn with_granted_scope(mut self, scope: Option<impl Into<String>>) -> Self {
        self.granted_scope = scope.map(Into::into);
        self
    }

    /// Sets the account's home account id.
    #[must_use]
    pub fn with_home_account_id(mut self, home_account_id: impl Into<String>) -> Self {
        self.home_account_id = Some(home_account_id.into());
        self
    }

    /// Sets the access token and its `expires_in` (seconds).
    #[must_use]
    pub fn with_access_token(mut self, token: impl Into<Secret>, expires_in: i64) -> Self {
        self.access_token = Some(token.into());
        self.expires_in = expires_in;
        self
    }

    /// Sets `ext_expires_in` (seconds).
    #[must_use]
    pub fn with_ext_expires_in(mut self, ext_expires_in: Option<i64>) -> Self {
        self.ext_expires_in = ext_expires_in;
        self
    }

    /// Sets `refresh_in` (seconds): the token's `refresh_on` becomes now + `refresh_in`.
    #[must_use]
    pub fn with_refresh_in(mut self, refresh_in: Option<i64>) -> Self {
        self.refresh_in = refresh_in;
        self
    }

    /// Sets the token type.
    #[must_use]
    pub fn with_token_type(mut self, token_type: Option<impl Into<String>>) -> Self {
        self.token_type = token_type.map(Into::into);
        self
    }

    /// Sets the refresh token and the response's `foci` (family id).
    #[must_use]
    pub fn with_refresh_token(
        mut self,
        token: impl Into<Secret>,
        family_id: Option<impl Into<String>>,
    ) -> Self {
        self.refresh_token = Some(token.into());
        self.family_id = family_id.map(Into::into).filter(|f: &String| !f.is_empty());
        self
    }

    /// Sets the response's `foci` without a refresh token.
    #[must_use]
    pub fn with_family_id(mut self, family_id: Option<impl Into<String>>) -> Self {
        self.family_id = family_id.map(Into::into).filter(|f: &String| !f.is_empty());
        self
    }

    /// Sets the raw ID token.
    #[must_use]
    pub fn with_id_token(mut self, token: impl Into<Secret>) -> Self {
        self.id_token = Some(token.into());
        self
    }

    /// Sets the account to record.
    #[must_use]
    pub fn with_account(mut self, account: AccountWrite) -> Self {
        self.account = Some(account);
        self
    }

    /// Names the refresh token redeemed to get this response: it is removed when the response
    /// brings a new one.
    #[must_use]
    pub fn replacing_refresh_token(mut self, redeemed: &CachedRefreshToken) -> Self {
        self.redeemed_refresh_token = Some(redeemed.clone());
        self
    }

    /// The access token's target: the granted scopes, else the requested ones; sorted and
    /// de-duplicated, space-separated (as MSAL Python writes it).
    #[must_use]
    pub fn target(&self) -> String {
        let mut scopes: Vec<&str> = match self.granted_scope.as_deref() {
            Some(g) if !g.trim().is_empty() => g.split_whitespace().collect(),
            _ => self
                .requested_scopes
                .iter()
                .flat_map(|s| s.split_whitespace())
                .collect(),
        };
        scopes.sort_unstable();
        scopes.dedup();
        scopes.join(" ")
    }
}

impl fmt::Debug for TokenWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenWrite")
            .field("client_id", &self.client_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("requested_scopes", &self.requested_scopes)
            .field("granted_scope", &self.granted_scope)
            .field("home_account_id", &self.home_account_id)
            .field("access_token", &self.access_token)
            .field("expires_in", &self.expires_in)
            .field("refresh_in", &self.refresh_in)
            .field("refresh_token", &self.refresh_token)
            .field("family_id", &self.family_id)
            .field("id_token", &self.id_token)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A change to the document. Applied to the in-memory snapshot, or inside a backend's
/// cross-process lock to the freshly loaded document.
#[derive(Debug)]
pub(crate) enum Mutation<'a> {
    Write(&'a TokenWrite, i64),
    RemoveRefreshToken(&'a str),
    RemoveAccount {
        home_account_id: &'a str,
        environments: Vec<String>,
        client_id: &'a str,
    },
    Clear,
    Replace(&'a CacheDocument),
}

/// Inserts `entry` under `key`, replacing an entry whose key differs only in case (MSAL Go's
/// upgrade of mixed-case v1 keys).
fn put<T>(section: &mut Section<T>, key: String, entry: T) {
    if section
        .keys()
        .any(|k| **k != *key && k.eq_ignore_ascii_case(&key))
    {
        section.retain(|k, _| **k == *key || !k.eq_ignore_ascii_case(&key));
    }
    section.insert(Arc::from(key), Slot::Typed(Arc::new(entry)));
}

fn existing_extra<T>(
    section: &Section<T>,
    key: &str,
    extra: impl Fn(&T) -> &Map<String, serde_json::Value>,
) -> Map<String, serde_json::Value> {
    match section.get(key) {
        Some(Slot::Typed(t)) => extra(t).clone(),
        _ => Map::new(),
    }
}

impl CacheDocument {
    /// Applies a mutation; returns whether anything changed.
    pub(crate) fn apply(&mut self, mutation: &Mutation<'_>) -> bool {
        match mutation {
            Mutation::Write(w, now) => {
                self.apply_write(w, *now);
                true
            }
            Mutation::RemoveRefreshToken(key) => self.refresh_tokens.remove(*key).is_some(),
            Mutation::RemoveAccount {
                home_account_id,
                environments,
                client_id,
            } => self.remove_account(home_account_id, environments, client_id),
            Mutation::Clear => {
                let changed = !self.is_empty();
                self.access_tokens.clear();
                self.refresh_tokens.clear();
                self.id_tokens.clear();
                self.accounts.clear();
                self.app_metadata.clear();
                changed
            }
            Mutation::Replace(doc) => {
                *self = (*doc).clone();
                true
            }
        }
    }

    fn apply_write(&mut self, w: &TokenWrite, now: i64) {
        let home = w.home_account_id.as_deref().unwrap_or("");
        let (env, realm, client) = (&*w.environment, &*w.realm, &*w.client_id);

        if let (Some(rt), false) = (&w.refresh_token, home.is_empty()) {
            let key = keys::refresh_token(home, env, client);
            if let Some(old) = &w.redeemed_refresh_token
                && *old.key != *key
            {
                self.refresh_tokens.remove(&*old.key);
            }
            put(
                &mut self.refresh_tokens,
                key,
                RefreshTokenEntry {
                    credential_type: "RefreshToken".to_owned(),
                    secret: rt.clone(),
                    home_account_id: home.to_owned(),
                    environment: env.to_owned(),
                    client_id: client.to_owned(),
                    target: None,
                    family_id: w.family_id.clone(),
                    last_modification_time: Some(now),
                    extra: Map::new(),
                },
            );
        }

        if let Some(at) = &w.access_token
            && w.expires_in > EXPIRY_BUFFER_SECONDS
        {
            let target = w.target();
            let key = keys::access_token(home, env, client, realm, &target);
            let expires_on = now.saturating_add(w.expires_in);
            put(
                &mut self.access_tokens,
                key,
                AccessTokenEntry {
                    credential_type: "AccessToken".to_owned(),
                    secret: at.clone(),
                    home_account_id: home.to_owned(),
                    environment: env.to_owned(),
                    client_id: client.to_owned(),
                    target,
                    realm: realm.to_owned(),
                    token_type: Some(w.token_type.clone().unwrap_or_else(|| "Bearer".to_owned())),
                    cached_at: Some(now),
                    expires_on,
                    extended_expires_on: Some(
                        w.ext_expires_in
                            .map_or(expires_on, |e| now.saturating_add(e)),
                    ),
                    refresh_on: w.refresh_in.map(|r| now.saturating_add(r)),
                    key_id: None,
                    extra: Map::new(),
                },
            );
        }

        if let (Some(id), false) = (&w.id_token, home.is_empty()) {
            let key = keys::id_token(home, env, client, realm);
            put(
                &mut self.id_tokens,
                key,
                IdTokenEntry {
                    credential_type: "IdToken".to_owned(),
                    secret: id.clone(),
                    home_account_id: home.to_owned(),
                    environment: env.to_owned(),
                    realm: realm.to_owned(),
                    client_id: client.to_owned(),
                    extra: Map::new(),
                },
            );
        }

        if let (Some(account), false) = (&w.account, home.is_empty()) {
            let key = keys::account(home, env, realm);
            let extra = existing_extra(&self.accounts, &key, |a| &a.extra);
            put(
                &mut self.accounts,
                key,
                AccountEntry {
                    home_account_id: home.to_owned(),
                    environment: env.to_owned(),
                    realm: realm.to_owned(),
                    local_account_id: account.local_account_id.clone(),
                    username: account.username.clone(),
                    authority_type: account.authority_type.clone(),
                    account_source: account.account_source.clone(),
                    extra,
                },
            );
        }

        tracing::debug!(
            client_id = client,
            environment = env,
            realm,
            access_token = w.access_token.is_some() && w.expires_in > EXPIRY_BUFFER_SECONDS,
            refresh_token = w.refresh_token.is_some() && !home.is_empty(),
            family_id = w.family_id.as_deref(),
            "token response written to the cache"
        );
        let key = keys::app_metadata(env, client);
        let extra = existing_extra(&self.app_metadata, &key, |m| &m.extra);
        put(
            &mut self.app_metadata,
            key,
            AppMetadataEntry {
                client_id: client.to_owned(),
                environment: env.to_owned(),
                family_id: w.family_id.clone(),
                extra,
            },
        );
    }

    /// MSAL Go's `RemoveAccount`: refresh tokens of (home, env) that belong to this client or
    /// to any family; all access tokens, ID tokens and accounts of (home, env).
    fn remove_account(&mut self, home: &str, environments: &[String], client_id: &str) -> bool {
        let before = self.len();
        let env_ok = |e: &str| env_matches(e, environments);
        self.refresh_tokens.retain(|_, slot| match slot {
            Slot::Typed(rt) => {
                !(eq_ci(&rt.home_account_id, home)
                    && env_ok(&rt.environment)
                    && (eq_ci(&rt.client_id, client_id)
                        || rt.family_id.as_deref().is_some_and(|f| !f.is_empty())))
            }
            Slot::Raw(_) => true,
        });
        self.access_tokens.retain(|_, slot| match slot {
            Slot::Typed(t) => !(eq_ci(&t.home_account_id, home) && env_ok(&t.environment)),
            Slot::Raw(_) => true,
        });
        self.id_tokens.retain(|_, slot| match slot {
            Slot::Typed(t) => !(eq_ci(&t.home_account_id, home) && env_ok(&t.environment)),
            Slot::Raw(_) => true,
        });
        self.accounts.retain(|_, slot| match slot {
            Slot::Typed(t) => !(eq_ci(&t.home_account_id, home) && env_ok(&t.environment)),
            Slot::Raw(_) => true,
        });
        before != self.len()
    }
}

// ---------------------------------------------------------------------------------------------
// the indexed snapshot

type Buckets<T> = HashMap<u64, Vec<T>>;

/// An immutable document plus its indexes. Readers hold an `Arc` to one; a writer builds a new
/// one and swaps it in.
pub(crate) struct State {
    pub(crate) doc: CacheDocument,
    /// hash(client_id, home_account_id, realm, scope) → access tokens whose target has scope.
    at_by_scope: Buckets<Arc<AccessTokenEntry>>,
    /// hash(home_account_id) → refresh tokens.
    rt_by_home: Buckets<CachedRefreshToken>,
    /// hash(home_account_id) → ID tokens.
    id_by_home: Buckets<Arc<IdTokenEntry>>,
    /// hash(home_account_id) → accounts.
    account_by_home: Buckets<Arc<AccountEntry>>,
    /// hash(client_id) → app metadata.
    app_by_client: Buckets<Arc<AppMetadataEntry>>,
}

impl State {
    pub(crate) fn new(doc: CacheDocument) -> Self {
        let mut at_by_scope: Buckets<Arc<AccessTokenEntry>> = HashMap::new();
        for slot in doc.access_tokens.values() {
            if let Slot::Typed(at) = slot {
                for scope in at.target.split_whitespace() {
                    let h = hash_ci(&[&at.client_id, &at.home_account_id, &at.realm, scope]);
                    at_by_scope.entry(h).or_default().push(Arc::clone(at));
                }
            }
        }
        let mut rt_by_home: Buckets<CachedRefreshToken> = HashMap::new();
        for (key, slot) in &doc.refresh_tokens {
            if let Slot::Typed(rt) = slot {
                rt_by_home
                    .entry(hash_ci(&[&rt.home_account_id]))
                    .or_default()
                    .push(CachedRefreshToken {
                        key: Arc::clone(key),
                        entry: Arc::clone(rt),
                    });
            }
        }
        fn index<T>(section: &Section<T>, field: impl Fn(&T) -> &str) -> Buckets<Arc<T>> {
            let mut map: Buckets<Arc<T>> = HashMap::new();
            for slot in section.values() {
                if let Slot::Typed(t) = slot {
                    map.entry(hash_ci(&[field(t)]))
                        .or_default()
                        .push(Arc::clone(t));
                }
            }
            map
        }
        let id_by_home = index(&doc.id_tokens, |t| &t.home_account_id);
        let account_by_home = index(&doc.accounts, |a| &a.home_account_id);
        let app_by_client = index(&doc.app_metadata, |m| &m.client_id);
        Self {
            doc,
            at_by_scope,
            rt_by_home,
            id_by_home,
            account_by_home,
            app_by_client,
        }
    }

    fn find_access_token<E: AsRef<str>, S: AsRef<str>>(
        &self,
        q: &AccessTokenQuery<'_, E, S>,
        now: i64,
    ) -> Option<CachedAccessToken> {
        let wanted_type = q.token_type.unwrap_or("Bearer");
        let matches = |at: &AccessTokenEntry| {
            eq_ci(&at.client_id, q.client_id)
                && eq_ci(&at.home_account_id, q.home_account_id)
                && eq_ci(&at.realm, q.realm)
                && env_matches(&at.environment, q.environments)
                && target_contains_all(&at.target, q.scopes)
                && eq_ci(at.token_type.as_deref().unwrap_or("Bearer"), wanted_type)
                && at.key_id.as_deref() == q.key_id
                && !at.extra.contains_key("ext_cache_key")
                // An expiry no date can hold (past year 9999) is invalid data: never served.
                && to_time(at.expires_on).is_some()
        };
        let best = if q.scopes.is_empty() {
            // No scope to index by: a scan (never the case for a credential's requests).
            self.doc
                .access_tokens
                .values()
                .filter_map(|s| match s {
                    Slot::Typed(t) => Some(t),
                    Slot::Raw(_) => None,
                })
                .filter(|t| matches(t))
                .max_by_key(|t| t.expires_on)
        } else {
            // The smallest bucket among the requested scopes; a missing one means no match.
            let mut smallest: Option<&Vec<Arc<AccessTokenEntry>>> = None;
            for scope in q.scopes {
                let h = hash_ci(&[q.client_id, q.home_account_id, q.realm, scope.as_ref()]);
                let bucket = self.at_by_scope.get(&h)?;
                if smallest.is_none_or(|s| bucket.len() < s.len()) {
                    smallest = Some(bucket);
                }
            }
            smallest?
                .iter()
                .filter(|t| matches(t))
                .max_by_key(|t| t.expires_on)
        }?;
        (best.expires_on > now.saturating_add(EXPIRY_BUFFER_SECONDS))
            .then(|| CachedAccessToken(Arc::clone(best)))
    }

    fn find_app_metadata<E: AsRef<str>>(
        &self,
        client_id: &str,
        environments: &[E],
    ) -> Option<&Arc<AppMetadataEntry>> {
        self.app_by_client
            .get(&hash_ci(&[client_id]))?
            .iter()
            .find(|m| eq_ci(&m.client_id, client_id) && env_matches(&m.environment, environments))
    }

    fn find_refresh_tokens<E: AsRef<str>>(
        &self,
        q: &RefreshTokenQuery<'_, E>,
    ) -> Vec<CachedRefreshToken> {
        if q.home_account_id.is_empty() {
            return Vec::new();
        }
        let Some(bucket) = self.rt_by_home.get(&hash_ci(&[q.home_account_id])) else {
            return Vec::new();
        };
        // MSAL Python: an app not known yet, or known to be in a family, tries the family's
        // token first; an app known to be outside any family uses only its own.
        let family: Option<&str> = match self.find_app_metadata(q.client_id, q.environments) {
            None => Some(DEFAULT_FAMILY_ID),
            Some(m) => m.family_id.as_deref().filter(|f| !f.is_empty()),
        };
        let mut mine: Vec<&CachedRefreshToken> = bucket
            .iter()
            .filter(|rt| {
                eq_ci(&rt.entry.home_account_id, q.home_account_id)
                    && env_matches(&rt.entry.environment, q.environments)
            })
            .collect();
        // Newest first.
        mine.sort_by_key(|rt| std::cmp::Reverse(rt.entry.last_modification_time.unwrap_or(0)));
        let mut out: Vec<CachedRefreshToken> = Vec::new();
        if let Some(family) = family {
            out.extend(
                mine.iter()
                    .filter(|rt| rt.family_id() == Some(family))
                    .map(|rt| (*rt).clone()),
            );
        }
        for rt in mine {
            if eq_ci(&rt.entry.client_id, q.client_id) && !out.iter().any(|o| o.key == rt.key) {
                out.push(rt.clone());
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// TokenCache

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
