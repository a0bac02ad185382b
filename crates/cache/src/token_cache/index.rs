//! The indexed snapshot: an immutable document plus the hash indexes lookups search.

use super::*;

pub(super) type Buckets<T> = HashMap<u64, Vec<T>>;

/// An immutable document plus its indexes. Readers hold an `Arc` to one; a writer builds a new
/// one and swaps it in.
pub(crate) struct State {
    pub(crate) doc: CacheDocument,
    /// hash(client_id, home_account_id, realm, scope) → access tokens whose target has scope.
    pub(super) at_by_scope: Buckets<Arc<AccessTokenEntry>>,
    /// hash(home_account_id) → refresh tokens.
    pub(super) rt_by_home: Buckets<CachedRefreshToken>,
    /// hash(home_account_id) → ID tokens.
    pub(super) id_by_home: Buckets<Arc<IdTokenEntry>>,
    /// hash(home_account_id) → accounts.
    pub(super) account_by_home: Buckets<Arc<AccountEntry>>,
    /// hash(client_id) → app metadata.
    pub(super) app_by_client: Buckets<Arc<AppMetadataEntry>>,
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

    pub(super) fn find_access_token<E: AsRef<str>, S: AsRef<str>>(
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

    pub(super) fn find_app_metadata<E: AsRef<str>>(
        &self,
        client_id: &str,
        environments: &[E],
    ) -> Option<&Arc<AppMetadataEntry>> {
        self.app_by_client
            .get(&hash_ci(&[client_id]))?
            .iter()
            .find(|m| eq_ci(&m.client_id, client_id) && env_matches(&m.environment, environments))
    }

    pub(super) fn find_refresh_tokens<E: AsRef<str>>(
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
