//! What writes take (`TokenWrite`, `AccountWrite`), the `Mutation`s they become, and how a mutation changes a `CacheDocument` (MSAL's write rules).

use super::*;

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
pub(super) fn put<T>(section: &mut Section<T>, key: String, entry: T) {
    if section
        .keys()
        .any(|k| **k != *key && k.eq_ignore_ascii_case(&key))
    {
        section.retain(|k, _| **k == *key || !k.eq_ignore_ascii_case(&key));
    }
    section.insert(Arc::from(key), Slot::Typed(Arc::new(entry)));
}

pub(super) fn existing_extra<T>(
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

    pub(super) fn apply_write(&mut self, w: &TokenWrite, now: i64) {
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
    pub(super) fn remove_account(
        &mut self,
        home: &str,
        environments: &[String],
        client_id: &str,
    ) -> bool {
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
