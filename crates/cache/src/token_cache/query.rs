//! What lookups take and return: `AccessTokenQuery`, `RefreshTokenQuery`, `CachedAccessToken`, `CachedRefreshToken`.

use super::*;

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
pub struct CachedAccessToken(pub(super) Arc<AccessTokenEntry>);

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
    pub(super) key: Arc<str>,
    pub(super) entry: Arc<RefreshTokenEntry>,
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
