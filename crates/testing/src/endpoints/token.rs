//! The mock's token endpoint: the code, refresh-token, device-code and client-credentials grants, PKCE, single-use codes, rotation, CAE claims.

use super::*;

pub(super) fn token(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "POST" {
        return method_not_allowed(ctx, "POST");
    }
    let mut st = shared.state();
    let result = token_inner(shared, &mut st, ctx, segment);
    drop(st);
    match result {
        Ok(v) => json(200, &v),
        Err(e) => ctx.error(&e),
    }
}

pub(super) fn token_inner(
    shared: &Shared,
    st: &mut State,
    ctx: &Ctx,
    segment: &str,
) -> Result<serde_json::Value, EntraError> {
    let tenant = resolve_tenant(st, segment)?;
    let grant_type = ctx
        .f("grant_type")
        .ok_or_else(|| EntraError::missing("grant_type"))?;
    let client_id = client_of(st, ctx, segment)?;

    // Claims: record capabilities, then enforce a challenge.
    let claims_raw = ctx.f("claims").map(str::to_owned);
    let claims: Option<serde_json::Value> = match &claims_raw {
        Some(raw) => Some(serde_json::from_str(raw).map_err(|_| {
            EntraError::new(
                400,
                "invalid_request",
                50_176,
                "The claims parameter is not valid JSON.",
            )
        })?),
        None => None,
    };
    let capabilities = tokens::capabilities(claims.as_ref());
    st.last_client_capabilities = Some(capabilities.clone());
    st.last_claims.clone_from(&claims_raw);
    if let Some(challenge) = st.settings.claims_challenge.clone() {
        let wanted: serde_json::Value =
            serde_json::from_str(challenge.claims()).unwrap_or(serde_json::Value::Null);
        let satisfied = claims
            .as_ref()
            .is_some_and(|c| tokens::json_contains(c, &wanted));
        if !satisfied {
            let e = match challenge.error() {
                crate::config::ChallengeError::InteractionRequired => EntraError::new(
                    400,
                    "interaction_required",
                    50_076,
                    "Due to a configuration change made by your administrator, or because \
                         you moved to a new location, you must use multi-factor authentication \
                         to access the resource.",
                )
                .with_suberror("basic_action"),
                crate::config::ChallengeError::InvalidGrant => EntraError::invalid_grant(
                    50_173,
                    "The provided grant has expired due to it being revoked, a fresh auth token \
                     is needed. The user might have changed or reset their password.",
                ),
            };
            let e = e.with_claims(challenge.claims());
            tracing::debug!("mock Entra ID answered a claims challenge");
            return Err(e);
        }
        if challenge.clears_when_satisfied() {
            st.settings.claims_challenge = None;
        }
    }

    let client_info = ctx.f("client_info") == Some("1");
    let requested_scopes = ctx.f("scope").map(Scopes::parse).transpose()?;
    match grant_type {
        "authorization_code" => {
            let code = ctx.f("code").ok_or_else(|| EntraError::missing("code"))?;
            let redirect_uri = ctx
                .f("redirect_uri")
                .ok_or_else(|| EntraError::missing("redirect_uri"))?;
            let Some(grant) = st.codes.remove(code) else {
                if st.used_codes.contains_key(code) {
                    return Err(EntraError::invalid_grant(
                        54_005,
                        "OAuth2 Authorization code was already redeemed, please retry with a new \
                         valid code or use an existing refresh token.",
                    ));
                }
                return Err(EntraError::invalid_grant(
                    9_002_313,
                    "Invalid request. Request is malformed or invalid.",
                ));
            };
            st.used_codes.insert(code.to_owned(), Instant::now());
            if grant.issued.elapsed() >= st.settings.code_lifetime {
                return Err(EntraError::invalid_grant(
                    70_008,
                    "The provided authorization code or refresh token has expired due to \
                     inactivity. Send a new interactive authorization request for this user and \
                     resource.",
                ));
            }
            if grant.client_id != client_id {
                return Err(EntraError::invalid_grant(
                    70_000,
                    "The provided value for the 'code' parameter is not valid: the code was \
                     issued to a different client.",
                ));
            }
            if grant.redirect_uri != redirect_uri {
                return Err(EntraError::invalid_grant(
                    70_000,
                    "The provided value for the input parameter 'redirect_uri' is not valid: it \
                     differs from the redirect URI of the authorization request.",
                ));
            }
            if grant.adfs != tenant.is_adfs() {
                return Err(EntraError::invalid_grant(
                    70_000,
                    "The code was issued by another authority.",
                ));
            }
            if let Tenant::Known(t) = &tenant
                && t.id() != grant.tid
            {
                return Err(EntraError::invalid_grant(
                    700_005,
                    "Provided Authorization Code is intended to use against other tenant, hence \
                     rejected.",
                ));
            }
            let Some(verifier) = ctx.f("code_verifier") else {
                return Err(EntraError::invalid_grant(
                    50_148,
                    "The code_verifier does not match the code_challenge supplied in the \
                     authorization request for PKCE.",
                ));
            };
            let computed = crate::util::b64url(Sha256::digest(verifier.as_bytes()));
            if !entra_core::constant_time_eq(&computed, &grant.code_challenge) {
                tracing::debug!("mock Entra ID rejected a PKCE verifier");
                return Err(EntraError::invalid_grant(
                    501_481,
                    "The Code_Verifier does not match the code_challenge supplied in the \
                     authorization request.",
                ));
            }
            let scopes = match requested_scopes {
                Some(s) => s,
                None => Scopes::parse(&grant.scopes.join(" "))?,
            };
            let req = IssueRequest {
                base: &ctx.base,
                client_id: &client_id,
                user: &grant.user,
                tid: &grant.tid,
                scopes: &scopes,
                nonce: grant.nonce.as_deref(),
                adfs: grant.adfs,
                client_info,
                capabilities: &capabilities,
            };
            issue(shared, st, &req)
        }
        "refresh_token" => {
            let rt = ctx
                .f("refresh_token")
                .ok_or_else(|| EntraError::missing("refresh_token"))?;
            let Some(grant) = st.refresh_tokens.get(rt).cloned() else {
                if st.revoked_refresh_tokens.contains_key(rt) {
                    return Err(EntraError::invalid_grant(
                        50_173,
                        "The provided grant has expired due to it being revoked, a fresh auth \
                         token is needed. The user might have changed or reset their password.",
                    ));
                }
                return Err(EntraError::invalid_grant(
                    9_002_313,
                    "Invalid request. Request is malformed or invalid.",
                ));
            };
            if grant.client_id != client_id {
                return Err(EntraError::invalid_grant(
                    70_000,
                    "The refresh token was issued to a different client.",
                ));
            }
            if grant.adfs != tenant.is_adfs() {
                return Err(EntraError::invalid_grant(
                    70_000,
                    "The refresh token was issued by another authority.",
                ));
            }
            let scopes = match requested_scopes {
                Some(s) => s,
                None => Scopes::parse(&grant.scopes.join(" "))?,
            };
            if st.settings.rotate_refresh_tokens {
                st.refresh_tokens.remove(rt);
                st.revoked_refresh_tokens
                    .insert(rt.to_owned(), Instant::now());
            }
            let tid = tenant.tid_for(&grant.user);
            let req = IssueRequest {
                base: &ctx.base,
                client_id: &client_id,
                user: &grant.user,
                tid: &tid,
                scopes: &scopes,
                nonce: None,
                adfs: grant.adfs,
                client_info,
                capabilities: &capabilities,
            };
            issue(shared, st, &req)
        }
        "client_credentials" => {
            super::app_token::client_credentials(shared, st, ctx, &tenant, &client_id)
        }
        crate::device_code::DEVICE_CODE_GRANT => super::device_code::poll(
            shared,
            st,
            ctx,
            &tenant,
            &client_id,
            client_info,
            &capabilities,
        ),
        other => Err(EntraError::new(
            400,
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

pub(crate) fn issue(
    shared: &Shared,
    st: &mut State,
    req: &IssueRequest<'_>,
) -> Result<serde_json::Value, EntraError> {
    tracing::debug!(adfs = req.adfs, "mock Entra ID issued tokens");
    tokens::issue(&shared.key, st, req).map_err(|e| {
        EntraError::new(
            500,
            "server_error",
            90_033,
            format!("The mock could not sign a token: {e}"),
        )
    })
}
