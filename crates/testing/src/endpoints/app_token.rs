//! The client-credentials grant at the mock's token endpoint: a confidential application's
//! secret or certificate assertion is checked as Entra ID checks it, and an app token (no ID
//! token, no refresh token) is issued.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use time::OffsetDateTime;

use super::*;
use crate::confidential::AppCredential;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn invalid_client(code: u32, message: impl Into<String>) -> EntraError {
    EntraError::new(401, "invalid_client", code, message)
}

/// Answers `grant_type=client_credentials` for the application `client_id`.
pub(super) fn client_credentials(
    shared: &Shared,
    st: &State,
    ctx: &Ctx,
    tenant: &Tenant,
    client_id: &str,
) -> Result<serde_json::Value, EntraError> {
    let Tenant::Known(tenant) = tenant else {
        return Err(EntraError::new(
            400,
            "invalid_request",
            90_009,
            "Application is requesting a token for itself. This scenario is supported only if \
             resource is specified using the GUID based App Identifier.",
        ));
    };
    let Some(app) = st
        .settings
        .confidential_apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    else {
        return Err(EntraError::new(
            400,
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                tenant.id()
            ),
        ));
    };
    let scope = ctx.f("scope").ok_or_else(|| EntraError::missing("scope"))?;
    let resource = match scope.split_whitespace().collect::<Vec<_>>()[..] {
        [one] if one.ends_with("/.default") => one.trim_end_matches("/.default").to_owned(),
        _ => {
            return Err(EntraError::new(
                400,
                "invalid_scope",
                1_002_012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows \
                     must have a scope value with /.default suffixed to the resource identifier \
                     (application ID URI)."
                ),
            ));
        }
    };
    match &app.credential {
        AppCredential::Secret(secret) => {
            if ctx.f("client_secret") != Some(secret.as_str()) {
                return Err(invalid_client(
                    7_000_215,
                    "Invalid client secret provided. Ensure the secret being sent in the \
                     request is the client secret value, not the client secret ID.",
                ));
            }
        }
        AppCredential::Certificate { pem, der } => {
            let audience = format!("{}{}", ctx.base, ctx.path);
            check_assertion(ctx, client_id, &audience, pem, der)?;
        }
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = i64::try_from(st.settings.token_lifetime.as_secs()).unwrap_or(3600);
    // The service principal's object id: a GUID derived from the client id.
    let hex: String = Sha256::digest(client_id.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let app_oid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let claims = serde_json::json!({
        "aud": resource,
        "iss": tokens::issuer(&ctx.base, tenant.id(), false),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": client_id, "azp": client_id, "idtyp": "app",
        "oid": app_oid, "sub": app_oid, "tid": tenant.id(),
        "uti": random_token(1), "ver": "2.0",
    });
    let token = shared.key.sign(&claims).map_err(|e| {
        EntraError::new(
            500,
            "server_error",
            90_033,
            format!("The mock could not sign a token: {e}"),
        )
    })?;
    tracing::debug!("mock Entra ID issued an app token");
    Ok(serde_json::json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
}

/// Checks a certificate assertion: its type, `x5t#S256` (the registered certificate), the
/// PS256/RS256 signature by that certificate's key, `aud` (this token endpoint), `iss` and
/// `sub` (the client id), `exp`, and a `jti`.
fn check_assertion(
    ctx: &Ctx,
    client_id: &str,
    audience: &str,
    pem: &str,
    der: &[u8],
) -> Result<(), EntraError> {
    if ctx.f("client_assertion_type") != Some(ASSERTION_TYPE) {
        return Err(invalid_client(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or \
             'client_secret'.",
        ));
    }
    let assertion = ctx
        .f("client_assertion")
        .ok_or_else(|| EntraError::missing("client_assertion"))?;
    let bad = |what: &str| {
        invalid_client(
            700_027,
            format!("Client assertion failed signature validation: {what}."),
        )
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("not a JWT"))?;
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(der));
    if header.x5t_s256.as_deref() != Some(thumbprint.as_str()) {
        return Err(invalid_client(
            700_027,
            "The certificate with identifier used to sign the client assertion is not \
             registered on application.",
        ));
    }
    if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
        return Err(bad("the algorithm is not PS256 or RS256"));
    }
    let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| bad("no key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
        .map_err(|e| bad(&e.to_string()))?;
    if data
        .claims
        .get("jti")
        .and_then(serde_json::Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad("no jti"));
    }
    Ok(())
}
