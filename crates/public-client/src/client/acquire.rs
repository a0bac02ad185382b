//! Acquisition, the entry of every call: the front map (one lookup for a ready token), the
//! request checks, single-flight per key, then the silent path and, when it cannot serve, the
//! interactive step; the outcome goes back into the front map.

use async_trait::async_trait;
use entra_core::TokenCredential;

use super::*;

impl<S: InteractiveStep> PublicClient<S> {
    /// Gets an access token for `scopes`: from memory, the token cache or a refresh token
    /// when possible, else through the credential's step (unless
    /// `disable_automatic_authentication`). A ready token in the front map is served with one
    /// lookup and nothing copied but the token's reference count and its expiry.
    ///
    /// # Errors
    /// `InvalidArgument` for bad or reserved scopes; `AuthenticationRequired` when interaction
    /// is needed but disabled; the step's, the cache's and the authority's errors otherwise.
    /// Every error names the credential and links its troubleshooting section.
    pub async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        self.token("get_token", scopes, options)
            .await
            .map_err(|e| self.decorate(e))
    }

    /// As [`get_token`](Self::get_token), with the token type and `refresh_on`.
    ///
    /// # Errors
    /// As [`get_token`](Self::get_token).
    pub async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        self.token_info("get_token_info", scopes, options)
            .await
            .map_err(|e| self.decorate(e))
    }

    /// Interactively authenticates a user, always (also with
    /// `disable_automatic_authentication`), caches the token for `scopes` and returns the
    /// record of the account. With no scopes it asks for the Azure Resource Manager scope of a
    /// known cloud (public, China, US Government), as Python does.
    ///
    /// # Errors
    /// `CredentialUnavailable` with "Authenticating in this environment requires a value for
    /// the 'scopes' keyword argument." when no scopes are given for another cloud, or when the
    /// step cannot run (no port, no browser); `ClientAuthentication` when the sign-in fails or
    /// times out.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        self.authenticate_scopes(scopes, claims)
            .await
            .map_err(|e| self.decorate(e))
    }

    /// [`authenticate`](Self::authenticate) with every keyword of Python's: scopes, claims, a
    /// tenant (under the rules of a request's tenant) and CAE (the token goes to the CAE
    /// cache).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate); a tenant that is not allowed is a
    /// client-authentication error, as for `get_token`.
    pub async fn authenticate_with(
        &self,
        options: &AuthenticateOptions,
    ) -> Result<AuthenticationRecord> {
        self.authenticate_options(options)
            .await
            .map_err(|e| self.decorate(e))
    }

    /// `get_token` of a credential: as [`get_token_info`](Self::get_token_info), without the
    /// token type and `refresh_on`. A ready token in the front map is served with one lookup
    /// and nothing copied but the token's reference count and its expiry.
    ///
    /// # Errors
    /// As [`get_token_info`](Self::get_token_info).
    async fn token(
        &self,
        method: &str,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        if let Some(hit) = self.front_hit(scopes, options.as_ref(), |front, tenant, cae, now| {
            front.get_token(scopes, tenant, cae, now)
        }) {
            return Ok(hit);
        }
        self.token_info(method, scopes, options)
            .await
            .map(Into::into)
    }

    /// The front map's answer for a request, read with `read`. No check runs first: only
    /// requests that passed every check (scopes, tenant) are ever inserted, under exactly
    /// these scope strings, so a request that would fail a check finds nothing here and takes
    /// the slow path, which reports it.
    fn front_hit<T>(
        &self,
        scopes: &[&str],
        options: Option<&TokenRequestOptions>,
        read: impl FnOnce(&FrontCache, &str, bool, std::time::SystemTime) -> Option<T>,
    ) -> Option<T> {
        let (tenant, cae) = match options {
            None => (self.tenant_id.as_str(), false),
            Some(o) if o.claims.as_deref().is_some_and(|c| !c.is_empty()) => return None,
            Some(o) => {
                let requested = o.tenant_id.as_deref();
                let disabled = requested.is_some_and(|t| !t.eq_ignore_ascii_case(&self.tenant_id))
                    && multitenant_disabled_by_env();
                let tenant = resolve_tenant(
                    &self.tenant_id,
                    requested,
                    &self.additionally_allowed_tenants,
                    disabled,
                )
                .ok()?;
                (tenant, o.enable_cae)
            }
        };
        let hit = read(&self.front, tenant, cae, std::time::SystemTime::now())?;
        // The hot path: no span, one TRACE event (a few ns when TRACE is off).
        tracing::trace!(
            scopes = ?scopes,
            tenant,
            cae,
            outcome = Outcome::Hit.as_str(),
            source = "memory",
            "get_token served from the in-memory token map"
        );
        Some(hit)
    }

    /// `get_token` / `get_token_info` of a credential: the scope and tenant checks, the front
    /// map, then under single-flight the cache, the refresh token and, unless
    /// `disable_automatic_authentication`, `step`. `method` names the call in messages and
    /// traces.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) for bad or reserved scopes;
    /// [`AuthenticationRequired`](ErrorKind::AuthenticationRequired) when interaction is
    /// needed but disabled; the step's, the cache's and the authority's errors otherwise.
    async fn token_info(
        &self,
        method: &str,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        if let Some(hit) = self.front_hit(scopes, options.as_ref(), |front, tenant, cae, now| {
            front.get(scopes, tenant, cae, OffsetDateTime::from(now))
        }) {
            return Ok(hit);
        }
        validate_scopes(method, scopes)?;
        // Before any cache: a reserved scope fails whether or not a token is cached.
        check_scopes(scopes)?;
        let options = options.unwrap_or_default();
        let claims = options.claims.as_deref().filter(|c| !c.is_empty());
        let cae = options.enable_cae;
        let tenant = self.request_tenant(options.tenant_id.as_deref())?;
        let key = FlightKey {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            tenant: tenant.to_owned(),
            cae,
            claims: claims.map(str::to_owned),
        };
        let span = tracing::info_span!(
            "get_token",
            method,
            scopes = ?scopes,
            tenant,
            cae,
            claims = claims.is_some(),
            outcome = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = OnceLock::new();
        let result = self
            .flights
            .run(key, || async {
                let result = self.acquire_slow(scopes, tenant, claims, cae).await;
                let _ = outcome.set(match &result {
                    Ok((_, o)) => *o,
                    Err(_) => Outcome::Error,
                });
                result.map(|(info, _)| info)
            })
            .instrument(span.clone())
            .await;
        // Not set: another caller's acquisition for the same key finished while this one
        // waited, and its result was taken.
        let outcome = match (outcome.get(), &result) {
            (Some(o), _) => *o,
            (None, Ok(_)) => Outcome::Shared,
            (None, Err(_)) => Outcome::Error,
        };
        span.record("outcome", outcome.as_str());
        span.in_scope(|| {
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(_) => tracing::debug!(outcome = outcome.as_str(), duration_ms, "get_token done"),
                Err(e) if self.enable_support_logging => tracing::info!(
                    outcome = outcome.as_str(),
                    duration_ms,
                    error_kind = error_kind(e),
                    oauth_error = e.error_response().map(|r| r.error.as_str()),
                    error = %e,
                    "get_token failed"
                ),
                // The message may quote Entra ID's description, which can name the user.
                Err(e) => tracing::info!(
                    outcome = outcome.as_str(),
                    duration_ms,
                    error_kind = error_kind(e),
                    oauth_error = e.error_response().map(|r| r.error.as_str()),
                    "get_token failed"
                ),
            }
        });
        result
    }

    /// Always runs `step` (also with `disable_automatic_authentication`), caches the token for
    /// `scopes` and returns the record. With no scopes it asks for the Azure Resource Manager
    /// scope of a known cloud, as Python does.
    ///
    /// # Errors
    /// [`CredentialUnavailable`](ErrorKind::CredentialUnavailable) when no scopes are given for
    /// another cloud; the step's, the cache's and the authority's errors otherwise.
    async fn authenticate_scopes(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationRecord> {
        let mut options = AuthenticateOptions::default().with_scopes(scopes.iter().copied());
        if let Some(claims) = claims {
            options = options.with_claims(claims);
        }
        self.authenticate_options(&options).await
    }

    /// [`authenticate`](Self::authenticate) with all of Python's keywords: scopes, claims, a
    /// tenant (under the same rules as a request's) and CAE (the token is cached in the CAE
    /// cache).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate); a tenant that is not allowed is a
    /// client-authentication error, as for `get_token`.
    async fn authenticate_options(
        &self,
        options: &AuthenticateOptions,
    ) -> Result<AuthenticationRecord> {
        let tenant = self
            .request_tenant(options.tenant_id.as_deref())?
            .to_owned();
        let scopes: Vec<&str> = options.scopes.iter().map(String::as_str).collect();
        let span = tracing::info_span!(
            "authenticate",
            scopes = ?scopes,
            tenant = tenant.as_str()
        );
        self.authenticate_inner(
            &scopes,
            options.claims.as_deref(),
            &tenant,
            options.enable_cae,
        )
        .instrument(span)
        .await
    }

    async fn authenticate_inner(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
        tenant: &str,
        cae: bool,
    ) -> Result<AuthenticationRecord> {
        let default_scope;
        let scopes: &[&str] = if scopes.is_empty() {
            let host = self.authority_host.host();
            default_scope = default_arm_scope(host)
                .ok_or_else(|| Error::credential_unavailable(NO_SCOPES_FOR_CLOUD))?;
            std::slice::from_ref(&default_scope)
        } else {
            scopes
        };
        validate_scopes("authenticate", scopes)?;
        check_scopes(scopes)?;
        let claims = claims.filter(|c| !c.is_empty());
        let cache = self.cache(cae)?;
        // The cache must be usable (keyring, file) before the user is asked to sign in.
        cache.reload().await?;
        let endpoints = self.endpoints(tenant).await?;
        let (info, record) = self.interactive(&endpoints, scopes, claims, cae).await?;
        self.front.insert(scopes, tenant, cae, &info);
        Ok(record)
    }

    async fn acquire_slow(
        &self,
        scopes: &[&str],
        tenant: &str,
        claims: Option<&str>,
        cae: bool,
    ) -> Result<(AccessTokenInfo, Outcome)> {
        // Another caller may have finished meanwhile.
        if claims.is_none()
            && let Some(hit) = self
                .front
                .get(scopes, tenant, cae, OffsetDateTime::now_utc())
        {
            tracing::debug!(
                source = "memory",
                "access token served from the in-memory token map"
            );
            return Ok((hit, Outcome::Hit));
        }
        if self.disable_automatic_authentication && self.record.load().is_none() {
            // Nobody signed in and no prompt allowed: nothing to send (Python sends nothing).
            tracing::info!("no account signed in and interactive authentication disabled");
            return Err(Error::authentication_required(scopes, claims));
        }
        let cache = self.cache(cae)?;
        match self.silent(&cache, tenant, scopes, claims, cae).await {
            Ok((info, outcome)) => {
                // A token got with claims (a resource's challenge, e.g. a CAE revocation)
                // replaces the cached one for these scopes, tenant and CAE setting, as MSAL's
                // cache write does: the next plain call must not serve the revoked token.
                self.front.insert(scopes, tenant, cae, &info);
                return Ok((info, outcome));
            }
            Err(SilentMiss::Failed(e)) => return Err(e),
            Err(SilentMiss::NeedsInteraction) => {}
        }
        if self.disable_automatic_authentication {
            tracing::info!("interactive authentication required but disabled");
            return Err(Error::authentication_required(scopes, claims));
        }
        // The cache must be usable (keyring, file) before the user is asked to sign in: a
        // sign-in whose tokens cannot be kept would only have to be repeated.
        cache.reload().await?;
        let endpoints = self.endpoints(tenant).await?;
        let (info, _record) = self.interactive(&endpoints, scopes, claims, cae).await?;
        self.front.insert(scopes, tenant, cae, &info);
        Ok((info, Outcome::Prompt))
    }
}

#[async_trait]
impl<S: InteractiveStep> TokenCredential for PublicClient<S> {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessToken> {
        Self::get_token(self, scopes, options).await
    }

    async fn get_token_info(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions>,
    ) -> Result<AccessTokenInfo> {
        Self::get_token_info(self, scopes, options).await
    }
}
