//! The device authorization endpoint and the device-code grant's polling at the token
//! endpoint (RFC 8628): codes issued, approved, declined or expired by the test.

use std::time::Instant;

use super::{Ctx, Tenant, client_of, json, method_not_allowed, resolve_tenant};
use crate::device_code::{DeviceCodeStatus, DeviceGrant, VERIFICATION_URI, user_code};
use crate::entra_error::EntraError;
use crate::state::{Shared, State};
use crate::tokens::{IssueRequest, Scopes};
use crate::util::random_token;

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) fn device_code(
    shared: &Shared,
    ctx: &Ctx,
    segment: &str,
) -> hyper::Response<crate::endpoints::Body> {
    if ctx.method != "POST" {
        return method_not_allowed(ctx, "POST");
    }
    let mut st = shared.state();
    match issue_code(&mut st, ctx, segment) {
        Ok(v) => json(200, &v),
        Err(e) => ctx.error(&e),
    }
}

fn issue_code(st: &mut State, ctx: &Ctx, segment: &str) -> Result<serde_json::Value, EntraError> {
    let tenant = resolve_tenant(st, segment)?;
    let client_id = client_of(st, ctx, segment)?;
    let scope = ctx.f("scope").ok_or_else(|| EntraError::missing("scope"))?;
    let scopes = Scopes::parse(scope)?;
    let device_code = random_token(3);
    let user_code = user_code();
    let lifetime = st.settings.device_code_lifetime.as_secs();
    let interval = st.settings.device_code_interval.as_secs();
    st.device_codes.insert(
        device_code.clone(),
        DeviceGrant {
            client_id,
            scopes: scopes.all,
            user_code: user_code.clone(),
            tenant: tenant.segment().to_owned(),
            status: DeviceCodeStatus::Pending,
            issued: Instant::now(),
        },
    );
    tracing::debug!("mock Entra ID issued a device code");
    Ok(serde_json::json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": VERIFICATION_URI,
        "expires_in": lifetime,
        "interval": interval,
        "message": format!(
            "To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate."
        ),
    }))
}

/// The polling grant at the token endpoint.
pub(crate) fn poll(
    shared: &Shared,
    st: &mut State,
    ctx: &Ctx,
    tenant: &Tenant,
    client_id: &str,
    client_info: bool,
    capabilities: &[String],
) -> Result<serde_json::Value, EntraError> {
    let code = ctx
        .f("device_code")
        .ok_or_else(|| EntraError::missing("device_code"))?;
    let Some(grant) = st.device_codes.get(code).cloned() else {
        return Err(EntraError::new(
            400,
            "bad_verification_code",
            70_000,
            "The provided value for the 'device_code' parameter is not valid.",
        ));
    };
    if grant.client_id != client_id || grant.tenant != tenant.segment() {
        return Err(EntraError::new(
            400,
            "bad_verification_code",
            70_000,
            "The device code was issued to a different client or for another tenant.",
        ));
    }
    let timed_out = grant.issued.elapsed() >= st.settings.device_code_lifetime;
    let user = match grant.status {
        DeviceCodeStatus::Approved(user) if !timed_out => user,
        DeviceCodeStatus::Pending if !timed_out => {
            return Err(EntraError::new(
                400,
                "authorization_pending",
                70_016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ));
        }
        DeviceCodeStatus::Declined if !timed_out => {
            st.device_codes.remove(code);
            return Err(EntraError::new(
                400,
                "authorization_declined",
                70_000,
                "The user declined the sign-in request.",
            ));
        }
        // Expired by a test, or past its lifetime.
        _ => {
            st.device_codes.remove(code);
            return Err(EntraError::new(
                400,
                "expired_token",
                70_019,
                "Verification code expired. The user did not sign in before the code expired.",
            ));
        }
    };
    st.device_codes.remove(code);
    let scopes = Scopes::parse(&grant.scopes.join(" "))?;
    let tid = tenant.tid_for(&user);
    let req = IssueRequest {
        base: &ctx.base,
        client_id,
        user: &user,
        tid: &tid,
        scopes: &scopes,
        nonce: None,
        adfs: false,
        client_info,
        capabilities,
    };
    crate::endpoints::issue(shared, st, &req)
}
