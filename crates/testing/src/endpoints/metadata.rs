//! The mock's OpenID configuration and signing keys (`/.well-known/openid-configuration`, `/discovery/v2.0/keys`).

use super::*;

pub(super) fn openid_configuration(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "GET" {
        return method_not_allowed(ctx, "GET");
    }
    let tenant = match resolve_tenant(&shared.state(), segment) {
        Ok(t) => t,
        Err(e) => return ctx.error(&e),
    };
    let b = &ctx.base;
    if tenant.is_adfs() {
        return json(
            200,
            &serde_json::json!({
                "issuer": format!("{b}/adfs"),
                "authorization_endpoint": format!("{b}/adfs/oauth2/authorize/"),
                "token_endpoint": format!("{b}/adfs/oauth2/token/"),
                "jwks_uri": format!("{b}/adfs/discovery/keys"),
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt", "windows_client_authentication"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token", "code token", "code id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer", "implicit", "password", "srv_challenge", "urn:ietf:params:oauth:grant-type:device_code", "device_code"],
                "subject_types_supported": ["pairwise"],
                "scopes_supported": ["openid", "profile", "email", "offline_access", "allatclaims", "logon_cert", "aza", "user_impersonation", "vpn_cert", "winhello_cert"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "access_token_issuer": format!("{b}/adfs/services/trust"),
                "claims_supported": ["aud", "iss", "iat", "exp", "auth_time", "nonce", "at_hash", "c_hash", "sub", "upn", "unique_name", "pwd_url", "pwd_exp", "mfa_auth_time", "sid", "nbf"],
                "microsoft_multi_refresh_token": true,
                "userinfo_endpoint": format!("{b}/adfs/userinfo"),
                "end_session_endpoint": format!("{b}/adfs/oauth2/logout"),
            }),
        );
    }
    let t = tenant.segment();
    let issuer = match &tenant {
        Tenant::Known(k) => format!("{b}/{}/v2.0", k.id()),
        Tenant::Consumers => format!("{b}/{MSA_TENANT_ID}/v2.0"),
        _ => format!("{b}/{{tenantid}}/v2.0"),
    };
    json(
        200,
        &serde_json::json!({
            "token_endpoint": format!("{b}/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{b}/{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{b}/oidc/userinfo"),
            "authorization_endpoint": format!("{b}/{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{b}/{t}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{b}/{t}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{b}/{t}/kerberos"),
            "tenant_region_scope": null,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
    )
}

pub(super) fn keys(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "GET" {
        return method_not_allowed(ctx, "GET");
    }
    let tenant = match resolve_tenant(&shared.state(), segment) {
        Ok(t) => t,
        Err(e) => return ctx.error(&e),
    };
    let issuer = match &tenant {
        Tenant::Adfs => None,
        Tenant::Known(k) => Some(format!("{}/{}/v2.0", ctx.base, k.id())),
        _ => Some(format!("{}/{{tenantid}}/v2.0", ctx.base)),
    };
    json(200, &shared.key.jwks(issuer.as_deref()))
}
