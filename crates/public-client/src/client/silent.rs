//! The silent path: the cached access token (under the keys known without a request, then
//! the resolved ones), this process's turn among those sharing the cache, the refresh token,
//! and the cache write of a refreshed token.

use super::*;

/// The account's home tenant: the `utid` of `<uid>.<utid>`; for accounts without one (ADFS),
/// the record's tenant.
fn home_tenant(record: &AuthenticationRecord) -> &str {
    record
        .home_account_id()
        .split_once('.')
        .map(|(_, utid)| utid)
        .filter(|utid| !utid.is_empty())
        .unwrap_or_else(|| record.tenant_id())
}

/// The realms a cached token of the record's account may be stored under for `realm`: tokens
/// obtained through `organizations` or `common` were issued by the account's home tenant, so
/// they serve a request for that tenant, and the reverse.
///
/// The home tenant is the `utid` half of the home account id (MSAL's rule), not the record's
/// `tenant_id`: for a guest that is the tenant the user signed in to, whose tokens must never
/// answer an `organizations` request (Entra sends those to the home tenant).
fn candidate_realms<'a>(realm: &'a str, record: &'a AuthenticationRecord) -> Vec<&'a str> {
    let home = home_tenant(record);
    let mut realms = vec![realm];
    if realm.eq_ignore_ascii_case(home) {
        realms.extend(["organizations", "common"]);
    } else if realm.eq_ignore_ascii_case("organizations") || realm.eq_ignore_ascii_case("common") {
        realms.push(home);
    }
    realms
}

/// A cached access token found by the silent path.
struct Found {
    info: AccessTokenInfo,
    aging: bool,
}

impl<S: InteractiveStep> PublicClient<S> {
    /// The freshest cached access token of the record's account for `scopes` in any of the
    /// candidate realms of `realm`.
    async fn find_cached(
        &self,
        cache: &Cache,
        record: &AuthenticationRecord,
        environments: &[String],
        realm: &str,
        scopes: &[&str],
        now: OffsetDateTime,
    ) -> std::result::Result<Option<Found>, SilentMiss> {
        let home = record.home_account_id();
        for realm in candidate_realms(realm, record) {
            let query = AccessTokenQuery::new(&self.client_id, home, realm, environments, scopes);
            let hit = cache
                .find_access_token(&query, now)
                .await
                .map_err(|e| SilentMiss::Failed(e.into()))?;
            if let Some(hit) = hit {
                return Ok(Some(Found {
                    info: hit.to_access_token_info(),
                    aging: hit.should_refresh(now),
                }));
            }
        }
        Ok(None)
    }

    /// The cache, then the refresh token. Never prompts. The authority is resolved (which may
    /// take requests) only when the cache cannot serve.
    pub(super) async fn silent(
        &self,
        cache: &Cache,
        tenant: &str,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> std::result::Result<(AccessTokenInfo, Outcome), SilentMiss> {
        let Some(record) = self.record.load_full() else {
            tracing::debug!("no account signed in yet: interaction required");
            return Err(SilentMiss::NeedsInteraction);
        };
        if self.enable_support_logging {
            tracing::debug!(
                home_account_id = record.home_account_id(),
                username = record.username(),
                home_tenant = record.tenant_id(),
                "silent acquisition for the signed-in account"
            );
        }
        let authority = self
            .authority_host
            .authority(tenant)
            .map_err(|e| SilentMiss::Failed(e.into()))?;
        let now = OffsetDateTime::now_utc();
        let mut aging = None;
        let (environments, realm) = self.provisional_keys(&authority);
        if claims.is_none()
            && let Some(found) = self
                .find_cached(cache, &record, &environments, &realm, scopes, now)
                .await?
        {
            if !found.aging {
                tracing::debug!(source = "cache", "access token served from the cache");
                return Ok((found.info, Outcome::Hit));
            }
            tracing::debug!("cached access token is past refresh_on: refreshing");
            aging = Some(found.info);
        }
        // A refresh may follow. Other processes sharing the persistent cache may be about to
        // make the same one: take turns, and look again once it is ours (the token may have
        // just been written by another process; then no request at all).
        let turn = if claims.is_none() {
            self.refresh_turn(cache).await
        } else {
            None
        };
        if turn.is_some()
            && let Some(found) = self
                .find_cached(
                    cache,
                    &record,
                    &environments,
                    &realm,
                    scopes,
                    OffsetDateTime::now_utc(),
                )
                .await?
        {
            if !found.aging {
                tracing::debug!(
                    source = "cache",
                    "access token another process refreshed, served from the cache"
                );
                return Ok((found.info, Outcome::Hit));
            }
            aging = Some(found.info);
        }
        // A request may follow: resolve the authority now.
        let endpoints = self.endpoints(tenant).await.map_err(SilentMiss::Failed)?;
        let resolved_environments = endpoints.cache_environments();
        let keys_changed = resolved_environments != environments || endpoints.realm() != realm;
        if claims.is_none()
            && aging.is_none()
            && keys_changed
            && let Some(found) = self
                .find_cached(
                    cache,
                    &record,
                    &resolved_environments,
                    endpoints.realm(),
                    scopes,
                    now,
                )
                .await?
        {
            if !found.aging {
                tracing::debug!(source = "cache", "access token served from the cache");
                return Ok((found.info, Outcome::Hit));
            }
            aging = Some(found.info);
        }
        match self
            .refresh(cache, &endpoints, &record, scopes, claims, cae)
            .await
        {
            Ok(info) => Ok((info, Outcome::Refresh)),
            Err(miss) => match aging {
                // Past refresh_on but still valid: the old token is returned (Python, .NET).
                Some(old) => {
                    tracing::debug!("refresh failed; returning the still-valid cached token");
                    Ok((old, Outcome::Hit))
                }
                None => Err(miss),
            },
        }
    }

    /// This process's turn to refresh among those sharing the persistent cache, held until
    /// the refreshed token is written; `None` without a persistent cache, or when the turn
    /// could not be taken (then this process refreshes anyway: a lock must never cost a
    /// token).
    async fn refresh_turn(&self, cache: &Cache) -> Option<RefreshLock> {
        match cache.refresh_lock().await {
            Ok(turn) => {
                if let Some(waited) = turn.as_ref().map(RefreshLock::waited)
                    && !waited.is_zero()
                {
                    tracing::debug!(
                        waited_ms = waited.as_millis(),
                        "waited for another process's refresh"
                    );
                }
                turn
            }
            Err(error) => {
                tracing::warn!(%error, "could not take turns with other processes to refresh");
                None
            }
        }
    }

    async fn refresh(
        &self,
        cache: &Cache,
        endpoints: &Endpoints,
        record: &AuthenticationRecord,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> std::result::Result<AccessTokenInfo, SilentMiss> {
        let home = record.home_account_id();
        let environments = endpoints.cache_environments();
        let query = RefreshTokenQuery::new(&self.client_id, home, &environments);
        let candidates = cache
            .find_refresh_tokens(&query)
            .await
            .map_err(|e| SilentMiss::Failed(e.into()))?;
        if candidates.is_empty() {
            tracing::debug!("no refresh token in the cache");
            return Err(SilentMiss::NeedsInteraction);
        }
        let claims =
            merge_client_capabilities(claims, cae).map_err(|e| SilentMiss::Failed(e.into()))?;
        let net = self.net().map_err(SilentMiss::Failed)?;
        let mut last = SilentMiss::NeedsInteraction;
        for rt in candidates.iter().take(3) {
            let grant =
                entra_msal_lite::RefreshGrant::new(&self.client_id, rt.secret().clone(), scopes)
                    .with_claims(claims.as_deref())
                    .with_home_account_id(Some(home));
            match net.client.refresh(endpoints, &grant).await {
                Ok(response) => {
                    let write = self
                        .token_write(endpoints, scopes, &response, Some(home), None)
                        .replacing_refresh_token(rt);
                    cache
                        .write_token_response(&write, response.received_at)
                        .await
                        .map_err(|e| SilentMiss::Failed(e.into()))?;
                    tracing::debug!("access token refreshed");
                    return Ok(response.access_token_info());
                }
                Err(e) if e.needs_interaction() => {
                    tracing::debug!(
                        error = e.oauth_error().unwrap_or(""),
                        "refresh token refused"
                    );
                    last = SilentMiss::NeedsInteraction;
                }
                Err(e) => return Err(SilentMiss::Failed(e.into())),
            }
        }
        Err(last)
    }

    pub(super) fn token_write(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        response: &TokenResponse,
        home_account_id: Option<&str>,
        account: Option<AccountWrite>,
    ) -> TokenWrite {
        let expires_in = i64::try_from(response.expires_in).unwrap_or(i64::MAX);
        let granted = (!response.scope.is_empty()).then(|| response.scope.join(" "));
        let mut write = TokenWrite::new(
            &self.client_id,
            endpoints.authority.environment(),
            endpoints.realm(),
            scopes,
        )
        .with_granted_scope(granted)
        .with_access_token(response.access_token.clone(), expires_in)
        .with_ext_expires_in(response.ext_expires_in.and_then(|v| i64::try_from(v).ok()))
        .with_refresh_in(response.refresh_in.and_then(|v| i64::try_from(v).ok()))
        .with_token_type(Some(response.token_type.clone()));
        if let Some(home) = home_account_id {
            write = write.with_home_account_id(home);
        }
        if let Some(rt) = &response.refresh_token {
            write = write.with_refresh_token(rt.clone(), response.foci.clone());
        }
        if let Some(id) = &response.id_token {
            write = write.with_id_token(id.clone());
        }
        if let Some(account) = account {
            write = write.with_account(account);
        }
        write
    }
}
