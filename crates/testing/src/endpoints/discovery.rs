//! The mock's instance discovery endpoint (`/common/discovery/instance`): known clouds, a custom authority, `invalid_instance`.

use super::*;

/// Entra's alias groups (preferred_network, preferred_cache, aliases).
pub(super) const KNOWN_CLOUDS: [(&str, &str, &[&str]); 4] = [
    (
        "login.microsoftonline.com",
        "login.windows.net",
        &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
    ),
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    ),
    (
        "login.microsoftonline.de",
        "login.microsoftonline.de",
        &["login.microsoftonline.de"],
    ),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    ),
];

pub(super) fn instance_discovery(shared: &Shared, ctx: &Ctx) -> Response<Body> {
    if ctx.method != "GET" {
        return method_not_allowed(ctx, "GET");
    }
    let Some(version) = ctx.q("api-version") else {
        return ctx.error(&EntraError::missing("api-version"));
    };
    if version != "1.0" && version != "1.1" {
        return ctx.error(&EntraError::new(
            400,
            "invalid_request",
            90_009,
            format!("The api-version '{version}' is not supported. Use 1.0 or 1.1."),
        ));
    }
    let Some(endpoint) = ctx.q("authorization_endpoint") else {
        return ctx.error(&EntraError::missing("authorization_endpoint"));
    };
    let Ok(url) = url::Url::parse(endpoint) else {
        return ctx.error(&EntraError::new(
            400,
            "invalid_instance",
            50_049,
            "Unknown or invalid instance.",
        ));
    };
    let host_only = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let host = match url.port() {
        Some(p) => format!("{host_only}:{p}"),
        None => host_only.clone(),
    };
    let untrusted = {
        let st = shared.state();
        st.settings
            .untrusted_hosts
            .iter()
            .any(|h| *h == host_only || *h == host)
    };
    if untrusted || host_only.is_empty() {
        return ctx.error(&EntraError::new(
            400,
            "invalid_instance",
            50_049,
            "Unknown or invalid instance.",
        ));
    }
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
        .unwrap_or("common");
    let mut metadata: Vec<serde_json::Value> = KNOWN_CLOUDS
        .iter()
        .map(|(network, cache, aliases)| {
            serde_json::json!({
                "preferred_network": network,
                "preferred_cache": cache,
                "aliases": aliases,
            })
        })
        .collect();
    if !KNOWN_CLOUDS
        .iter()
        .any(|(_, _, aliases)| aliases.contains(&host.as_str()))
    {
        metadata.push(serde_json::json!({
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }));
    }
    json(
        200,
        &serde_json::json!({
            "tenant_discovery_endpoint": format!(
                "{}://{host}/{tenant}/v2.0/.well-known/openid-configuration",
                url.scheme()
            ),
            "api-version": version,
            "metadata": metadata,
        }),
    )
}
