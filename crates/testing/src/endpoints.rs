//! Request handling: routing, logging, faults and the Entra endpoints.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, LOCATION, RETRY_AFTER};
use hyper::{Request, Response};
use sha2::{Digest, Sha256};

use crate::config::AuthorizeRefusal;
pub(crate) use crate::entra_error::{Body, json};
use crate::entra_error::{EntraError, response};
use crate::fault::{Endpoint, Fault};
use crate::log::RecordedRequest;
use crate::server::{CodeGrant, PendingSignIn, Shared, State};
use crate::tokens::{self, IssueRequest, Scopes};
use crate::users::{MSA_TENANT_ID, TestTenant, TestUser};
use crate::util::{encode_form, html_escape, is_guid, pair, parse_form, random_guid, random_token};

/// Header a browser stand-in sends to choose the user to sign in as.
pub const USER_HEADER: &str = "x-mock-entra-user";
/// Header a browser stand-in sends to make the authorize endpoint refuse (`access_denied`,
/// `consent_required`, `interaction_required` or any `error` value).
pub const REFUSE_HEADER: &str = "x-mock-entra-refuse";
/// Query parameter (`=1`) that asks for the HTML sign-in page for one authorize request.
pub const SIGN_IN_PAGE_PARAM: &str = "mock_sign_in_page";

/// The maximum request body accepted.
const MAX_BODY: usize = 1 << 20;

/// The error a service returns to make hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by an injected fault")
    }
}

impl std::error::Error for CloseConnection {}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Discovery,
    OpenIdConfiguration(String),
    Authorize(String),
    SignIn(String),
    Token(String),
    DeviceCode(String),
    Keys(String),
    NotFound,
}

impl Route {
    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Discovery => Endpoint::InstanceDiscovery,
            Self::OpenIdConfiguration(_) => Endpoint::OpenIdConfiguration,
            Self::Authorize(_) => Endpoint::Authorize,
            Self::SignIn(_) => Endpoint::SignIn,
            Self::Token(_) => Endpoint::Token,
            Self::DeviceCode(_) => Endpoint::DeviceCode,
            Self::Keys(_) => Endpoint::Keys,
            Self::NotFound => Endpoint::Other,
        }
    }

    fn parse(path: &str) -> Self {
        let segs: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        let t = |s: &str| s.to_ascii_lowercase();
        match segs.as_slice() {
            ["common", "discovery", "instance"] => Self::Discovery,
            ["adfs", ".well-known", "openid-configuration"] => {
                Self::OpenIdConfiguration("adfs".into())
            }
            ["adfs", "oauth2", "authorize"] => Self::Authorize("adfs".into()),
            ["adfs", "oauth2", "token"] => Self::Token("adfs".into()),
            ["adfs", "discovery", "keys"] => Self::Keys("adfs".into()),
            ["adfs", "login"] => Self::SignIn("adfs".into()),
            [tenant, "v2.0", ".well-known", "openid-configuration"] => {
                Self::OpenIdConfiguration(t(tenant))
            }
            [tenant, "oauth2", "v2.0", "authorize"] => Self::Authorize(t(tenant)),
            [tenant, "oauth2", "v2.0", "token"] => Self::Token(t(tenant)),
            [tenant, "oauth2", "v2.0", "devicecode"] => Self::DeviceCode(t(tenant)),
            [tenant, "discovery", "v2.0", "keys"] => Self::Keys(t(tenant)),
            [tenant, "login"] => Self::SignIn(t(tenant)),
            _ => Self::NotFound,
        }
    }
}

/// The tenant of a request path.
#[derive(Clone, Debug)]
pub(crate) enum Tenant {
    Common,
    Organizations,
    Consumers,
    Adfs,
    Known(TestTenant),
}

impl Tenant {
    /// The segment used in the endpoints the mock advertises (a domain becomes its GUID).
    pub(crate) fn segment(&self) -> &str {
        match self {
            Self::Common => "common",
            Self::Organizations => "organizations",
            Self::Consumers => "consumers",
            Self::Adfs => "adfs",
            Self::Known(t) => t.id(),
        }
    }

    /// The tenant id tokens get for `user`.
    pub(crate) fn tid_for(&self, user: &TestUser) -> String {
        match self {
            Self::Common | Self::Organizations => user.home_tenant_id().to_owned(),
            Self::Consumers => MSA_TENANT_ID.to_owned(),
            Self::Adfs => "adfs".to_owned(),
            Self::Known(t) => t.id().to_owned(),
        }
    }

    fn is_adfs(&self) -> bool {
        matches!(self, Self::Adfs)
    }
}

pub(crate) fn resolve_tenant(st: &State, segment: &str) -> Result<Tenant, EntraError> {
    match segment {
        "common" => return Ok(Tenant::Common),
        "organizations" => return Ok(Tenant::Organizations),
        "consumers" => return Ok(Tenant::Consumers),
        "adfs" => return Ok(Tenant::Adfs),
        _ => {}
    }
    if let Some(t) = st
        .settings
        .tenants
        .iter()
        .find(|t| t.id() == segment || t.domain() == Some(segment))
    {
        return Ok(Tenant::Known(t.clone()));
    }
    if is_guid(segment) {
        // Any GUID is a tenant the user can reach (as a guest), as refresh tokens are not
        // tenant-bound.
        return Ok(Tenant::Known(TestTenant::with_id(segment)));
    }
    Err(EntraError::new(
        400,
        "invalid_tenant",
        90_002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and \
             are signing into the correct cloud. Check with your subscription administrator, \
             this may happen if there are no active subscriptions for the tenant."
        ),
    ))
}

/// One parsed request.
pub(crate) struct Ctx {
    pub(crate) method: String,
    host: String,
    pub(crate) base: String,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Ctx {
    fn q(&self, name: &str) -> Option<&str> {
        pair(&self.query, name)
    }

    pub(crate) fn f(&self, name: &str) -> Option<&str> {
        pair(&self.form, name)
    }

    fn header(&self, name: &str) -> Option<&str> {
        pair(&self.headers, name)
    }

    fn correlation(&self) -> Option<&str> {
        self.header("client-request-id").filter(|c| is_guid(c))
    }

    pub(crate) fn error(&self, e: &EntraError) -> Response<Body> {
        e.to_response(&self.base, self.correlation())
    }
}

/// Handles one request: parse, apply faults, answer, log.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, CloseConnection> {
    let (parts, body) = req.into_parts();
    let body: Bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| format!("localhost:{}", shared.port))
        .to_ascii_lowercase();
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let ctx = Ctx {
        method: parts.method.as_str().to_owned(),
        base: format!("{}://{}", shared.scheme(), host),
        host,
        path: parts.uri.path().to_owned(),
        query: parts
            .uri
            .query()
            .map(|q| parse_form(q.as_bytes()))
            .unwrap_or_default(),
        form: if is_form {
            parse_form(&body)
        } else {
            Vec::new()
        },
        headers,
    };
    let route = Route::parse(&ctx.path);
    let endpoint = route.endpoint();

    let fault = shared.state().take_fault(endpoint);
    let mut faulted = fault.is_some();
    let result = match fault {
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            faulted = false;
            Ok(dispatch(&shared, &ctx, &route))
        }
        Some(Fault::CloseConnection) => Err(CloseConnection),
        Some(f) => Ok(fault_response(&ctx, &f)),
        None => Ok(dispatch(&shared, &ctx, &route)),
    };
    let status = result.as_ref().ok().map(|r| r.status().as_u16());
    tracing::debug!(
        ?endpoint,
        method = %ctx.method,
        path = %ctx.path,
        status = ?status,
        faulted,
        "mock Entra ID request"
    );
    let mut st = shared.state();
    *st.counts.entry(endpoint).or_insert(0) += 1;
    st.log.push(RecordedRequest {
        endpoint,
        method: ctx.method,
        host: ctx.host,
        path: ctx.path,
        query: ctx.query,
        form: ctx.form,
        headers: ctx.headers,
        status,
        fault: faulted || result.is_err(),
    });
    result
}

fn fault_response(ctx: &Ctx, fault: &Fault) -> Response<Body> {
    match fault {
        Fault::TooManyRequests { retry_after_secs } => {
            let e = EntraError::new(
                429,
                "temporarily_unavailable",
                50_196,
                "The server terminated an operation because it encountered a client request loop. \
                 Please contact your app vendor.",
            )
            .with_header(RETRY_AFTER.as_str(), retry_after_secs.to_string());
            ctx.error(&e)
        }
        Fault::ServerError { status } => {
            let error = if matches!(status, 503 | 504) {
                "temporarily_unavailable"
            } else {
                "server_error"
            };
            ctx.error(&EntraError::new(
                *status,
                error,
                90_033,
                "A transient error has occurred. Please try again.",
            ))
        }
        Fault::MalformedJson => response(
            200,
            "application/json; charset=utf-8",
            "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_tok",
            &[],
        ),
        Fault::InvalidGrant => ctx.error(&EntraError::invalid_grant(
            70_000,
            "Provided grant is invalid or malformed.",
        )),
        Fault::InteractionRequired { suberror } => {
            let e = EntraError::new(
                400,
                "interaction_required",
                50_076,
                "Due to a configuration change made by your administrator, or because you moved \
                 to a new location, you must use multi-factor authentication to access the resource.",
            )
            .with_suberror(suberror.clone());
            ctx.error(&e)
        }
        Fault::Response {
            status,
            content_type,
            body,
        } => response(*status, content_type, body.clone(), &[]),
        // Handled by the caller.
        Fault::SlowDown => ctx.error(&EntraError::new(
            400,
            "slow_down",
            70_016,
            "OAuth 2.0 device flow error. Polling too often: slow down.",
        )),
        Fault::Delay(_) | Fault::CloseConnection => response(500, "text/plain", "", &[]),
    }
}

fn dispatch(shared: &Shared, ctx: &Ctx, route: &Route) -> Response<Body> {
    match route {
        Route::Discovery => instance_discovery(shared, ctx),
        Route::OpenIdConfiguration(t) => openid_configuration(shared, ctx, t),
        Route::Authorize(t) => authorize(shared, ctx, t),
        Route::SignIn(t) => sign_in(shared, ctx, t),
        Route::Token(t) => token(shared, ctx, t),
        Route::DeviceCode(t) => crate::device_code::device_code(shared, ctx, t),
        Route::Keys(t) => keys(shared, ctx, t),
        Route::NotFound => response(404, "text/plain; charset=utf-8", "Not Found", &[]),
    }
}

pub(crate) fn method_not_allowed(ctx: &Ctx, allowed: &str) -> Response<Body> {
    ctx.error(&EntraError::new(
        400,
        "invalid_request",
        900_561,
        format!(
            "The endpoint only accepts {allowed} requests. Received a {} request.",
            ctx.method
        ),
    ))
}

// ---- instance discovery ----

/// Entra's alias groups (preferred_network, preferred_cache, aliases).
const KNOWN_CLOUDS: [(&str, &str, &[&str]); 4] = [
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

fn instance_discovery(shared: &Shared, ctx: &Ctx) -> Response<Body> {
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

// ---- OpenID configuration and keys ----

fn openid_configuration(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
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

fn keys(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
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

// ---- authorize ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorize request.
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    mode: ResponseMode,
    state: String,
    scopes: Scopes,
    code_challenge: String,
    nonce: Option<String>,
    client_info: bool,
    login_hint: Option<String>,
}

/// Why an authorize request fails: a page (no trusted redirect yet) or an error redirect.
enum AuthorizeFailure {
    Page(EntraError),
    Redirect {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        error: EntraError,
    },
}

/// Whether `uri` is an RFC 8252 loopback redirect URI: `http://localhost|127.0.0.1|[::1]`,
/// any port, optional path, no fragment, no user info.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    url.scheme() == "http"
        && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The request's `client_id` (lower-case), if it is given and known.
pub(crate) fn client_of(st: &State, ctx: &Ctx, segment: &str) -> Result<String, EntraError> {
    let client_id = ctx
        .f("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| EntraError::missing("client_id"))?
        .to_ascii_lowercase();
    if !client_allowed(st, &client_id) {
        return Err(unknown_client(&client_id, segment));
    }
    Ok(client_id)
}

fn client_allowed(st: &State, client_id: &str) -> bool {
    match &st.settings.allowed_client_ids {
        Some(ids) => ids.iter().any(|i| i.eq_ignore_ascii_case(client_id)),
        None => is_guid(client_id),
    }
}

fn unknown_client(client_id: &str, tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
             This can happen if the application has not been installed by the administrator of \
             the tenant or consented to by any user in the tenant."
        ),
    )
}

fn validate_authorize(
    st: &State,
    query: &[(String, String)],
    tenant_segment: &str,
) -> Result<AuthorizeParams, AuthorizeFailure> {
    let q = |n: &str| pair(query, n);
    let client_id = q("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AuthorizeFailure::Page(EntraError::missing("client_id")))?;
    if !client_allowed(st, client_id) {
        return Err(AuthorizeFailure::Page(unknown_client(
            client_id,
            tenant_segment,
        )));
    }
    let redirect_uri = q("redirect_uri")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AuthorizeFailure::Page(EntraError::missing("redirect_uri")))?;
    if !is_loopback_redirect(redirect_uri) {
        return Err(AuthorizeFailure::Page(EntraError::new(
            400,
            "invalid_request",
            50_011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{client_id}'."
            ),
        )));
    }
    let state = q("state").map(str::to_owned);
    let mode = match q("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return Err(AuthorizeFailure::Redirect {
                redirect_uri: redirect_uri.to_owned(),
                mode: ResponseMode::Query,
                state,
                error: EntraError::new(
                    400,
                    "invalid_request",
                    900_143,
                    format!(
                        "The response_mode '{other}' is not supported by this mock: use query \
                         or form_post."
                    ),
                ),
            });
        }
    };
    let fail = |error: EntraError| AuthorizeFailure::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: state.clone(),
        error,
    };
    match q("response_type") {
        Some("code") => {}
        None => return Err(fail(EntraError::missing("response_type"))),
        Some(other) => {
            return Err(fail(EntraError::new(
                400,
                "unsupported_response_type",
                700_054,
                format!("response_type '{other}' is not enabled for the application."),
            )));
        }
    }
    let Some(state_value) = state.clone().filter(|s| !s.is_empty()) else {
        return Err(fail(EntraError::missing("state")));
    };
    let scopes = Scopes::parse(q("scope").unwrap_or_default()).map_err(fail)?;
    let Some(code_challenge) = q("code_challenge").filter(|c| !c.is_empty()) else {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code \
             redemption.",
        )));
    };
    if q("code_challenge_method") != Some("S256") {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            501_491,
            "Invalid code_challenge_method: only 'S256' is accepted.",
        )));
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            501_491,
            "Invalid size of Code_Challenge parameter.",
        )));
    }
    Ok(AuthorizeParams {
        client_id: client_id.to_ascii_lowercase(),
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: state_value,
        scopes,
        code_challenge: code_challenge.to_owned(),
        nonce: q("nonce").map(str::to_owned),
        client_info: q("client_info") == Some("1"),
        login_hint: q("login_hint").map(str::to_owned),
    })
}

/// Delivers a redirect to the client: 302 with a query, or Entra's auto-submitting form.
fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Response<Body> {
    match mode {
        ResponseMode::Query => {
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            let location = format!("{redirect_uri}{sep}{}", encode_form(params.iter().copied()));
            response(
                302,
                "text/html; charset=utf-8",
                "",
                &[(LOCATION.as_str(), location)],
            )
        }
        ResponseMode::FormPost => {
            let mut inputs = String::new();
            for (k, v) in params {
                inputs.push_str(&format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\" />",
                    html_escape(k),
                    html_escape(v)
                ));
            }
            let page = format!(
                "<html><head><title>Working...</title></head><body>\
                 <form method=\"POST\" name=\"hiddenform\" action=\"{action}\">{inputs}\
                 <noscript><p>Script is disabled. Click Submit to continue.</p>\
                 <input type=\"submit\" value=\"Submit\" /></noscript></form>\
                 <script language=\"javascript\">document.forms[0].submit();</script>\
                 </body></html>",
                action = html_escape(redirect_uri)
            );
            response(200, "text/html; charset=utf-8", page, &[])
        }
    }
}

fn failure_response(failure: AuthorizeFailure) -> Response<Body> {
    match failure {
        AuthorizeFailure::Page(e) => e.to_html_page(),
        AuthorizeFailure::Redirect {
            redirect_uri,
            mode,
            state,
            error,
        } => {
            let description = error.description(
                &random_guid(),
                &random_guid(),
                &crate::entra_error::entra_timestamp(),
            );
            let mut params: Vec<(&str, &str)> =
                vec![("error", &error.error), ("error_description", &description)];
            if let Some(s) = state.as_deref() {
                params.push(("state", s));
            }
            deliver(&redirect_uri, mode, &params)
        }
    }
}

fn authorize(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "GET" {
        return method_not_allowed(ctx, "GET");
    }
    let mut st = shared.state();
    let tenant = match resolve_tenant(&st, segment) {
        Ok(t) => t,
        Err(e) => return e.to_html_page(),
    };
    let params = match validate_authorize(&st, &ctx.query, segment) {
        Ok(p) => p,
        Err(f) => return failure_response(f),
    };
    let refusal = ctx
        .header(REFUSE_HEADER)
        .map(AuthorizeRefusal::from_header)
        .or_else(|| st.settings.authorize_refusal.clone());
    if let Some(refusal) = refusal {
        let (error, description) = refusal.parts(&params.client_id);
        tracing::debug!(%error, "mock Entra ID authorize refused");
        return deliver(
            &params.redirect_uri,
            params.mode,
            &[
                ("error", &error),
                ("error_description", &description),
                ("state", &params.state),
            ],
        );
    }
    let chosen = ctx.header(USER_HEADER).map(str::to_owned);
    let wants_page = st.settings.sign_in_page || ctx.q(SIGN_IN_PAGE_PARAM) == Some("1");
    if chosen.is_none() && wants_page {
        let id = random_token(1);
        let now = Instant::now();
        st.pending_sign_ins
            .retain(|_, p| now.duration_since(p.created).as_secs() < 3600);
        st.pending_sign_ins.insert(
            id.clone(),
            PendingSignIn {
                query: ctx.query.clone(),
                tenant: segment.to_owned(),
                created: now,
            },
        );
        return sign_in_page(segment, &id, params.login_hint.as_deref(), None);
    }
    let user = match chosen {
        Some(name) => match st.user(&name) {
            Some(u) => u.clone(),
            None => return no_such_user(&name, segment),
        },
        None => {
            let hinted = params
                .login_hint
                .as_deref()
                .and_then(|h| st.user(h))
                .cloned();
            match hinted.or_else(|| st.default_user().cloned()) {
                Some(u) => u,
                None => return no_such_user("(default)", segment),
            }
        }
    };
    complete_sign_in(&mut st, &tenant, &params, user)
}

fn no_such_user(name: &str, tenant: &str) -> Response<Body> {
    EntraError::new(
        400,
        "invalid_request",
        50_034,
        format!("The user account {name} does not exist in the {tenant} directory."),
    )
    .to_html_page()
}

/// Issues a code for `user` and delivers the success redirect.
fn complete_sign_in(
    st: &mut State,
    tenant: &Tenant,
    params: &AuthorizeParams,
    user: TestUser,
) -> Response<Body> {
    let code = format!("1.A{}", random_token(3));
    let adfs = tenant.is_adfs();
    let info = tokens::client_info(&user);
    let tid = tenant.tid_for(&user);
    tracing::debug!(adfs, "mock Entra ID issued an authorization code");
    st.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: params.client_id.clone(),
            redirect_uri: params.redirect_uri.clone(),
            code_challenge: params.code_challenge.clone(),
            scopes: params.scopes.all.clone(),
            nonce: params.nonce.clone(),
            user,
            tid,
            adfs,
            issued: Instant::now(),
        },
    );
    let session_state = random_guid();
    let mut out: Vec<(&str, &str)> = vec![("code", &code)];
    if params.client_info && !adfs {
        out.push(("client_info", &info));
    }
    out.push(("state", &params.state));
    out.push(("session_state", &session_state));
    deliver(&params.redirect_uri, params.mode, &out)
}

/// The HTML sign-in page: a username field and a submit button.
fn sign_in_page(
    tenant: &str,
    ctx_id: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> Response<Body> {
    let error_html = error
        .map(|e| {
            format!(
                "<div id=\"usernameError\" role=\"alert\">{}</div>",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1>Sign in</h1>{error_html}\
         <form id=\"mock-entra-sign-in\" method=\"post\" action=\"/{tenant}/login\">\
         <input type=\"hidden\" name=\"ctx\" value=\"{ctx}\" />\
         <label for=\"i0116\">Email, phone, or Skype</label>\
         <input type=\"email\" id=\"i0116\" name=\"login\" value=\"{hint}\" autocomplete=\"username\" />\
         <input type=\"submit\" id=\"idSIButton9\" value=\"Sign in\" />\
         </form></body></html>",
        tenant = html_escape(tenant),
        ctx = html_escape(ctx_id),
        hint = html_escape(hint.unwrap_or_default()),
    );
    response(200, "text/html; charset=utf-8", page, &[])
}

/// The submit of the sign-in page: `ctx` and `login` (the username).
fn sign_in(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "POST" {
        return method_not_allowed(ctx, "POST");
    }
    let mut st = shared.state();
    let Some(ctx_id) = ctx.f("ctx") else {
        return EntraError::missing("ctx").to_html_page();
    };
    let Some(pending) = st.pending_sign_ins.get(ctx_id).cloned() else {
        return EntraError::new(
            400,
            "invalid_request",
            90_014,
            "The sign-in session was not found or has expired. Start the sign-in again.",
        )
        .to_html_page();
    };
    let username = ctx.f("login").unwrap_or_default().trim().to_owned();
    let Some(user) = st.user(&username).cloned() else {
        return sign_in_page(
            segment,
            ctx_id,
            Some(&username),
            Some(
                "This username may be incorrect. Make sure you typed it correctly. Otherwise, \
                 contact your admin.",
            ),
        );
    };
    st.pending_sign_ins.remove(ctx_id);
    let tenant = match resolve_tenant(&st, &pending.tenant) {
        Ok(t) => t,
        Err(e) => return e.to_html_page(),
    };
    let params = match validate_authorize(&st, &pending.query, &pending.tenant) {
        Ok(p) => p,
        Err(f) => return failure_response(f),
    };
    complete_sign_in(&mut st, &tenant, &params, user)
}

// ---- token ----

fn token(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
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

fn token_inner(
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
        crate::device_code::DEVICE_CODE_GRANT => crate::device_code::poll(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/common/discovery/instance"), Route::Discovery);
        assert_eq!(
            Route::parse("/Contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"),
            Route::OpenIdConfiguration("contoso.onmicrosoft.com".into())
        );
        assert_eq!(
            Route::parse("/organizations/oauth2/v2.0/authorize"),
            Route::Authorize("organizations".into())
        );
        assert_eq!(
            Route::parse("/adfs/oauth2/token/"),
            Route::Token("adfs".into())
        );
        assert_eq!(
            Route::parse("/organizations/oauth2/v2.0/devicecode"),
            Route::DeviceCode("organizations".into())
        );
        assert_eq!(Route::parse("/favicon.ico"), Route::NotFound);
    }

    #[test]
    fn loopback_redirects() {
        for ok in [
            "http://localhost",
            "http://localhost:8400",
            "http://127.0.0.1:1234/callback",
            "http://[::1]:5000/",
        ] {
            assert!(is_loopback_redirect(ok), "{ok}");
        }
        for bad in [
            "https://localhost:8400",
            "http://example.com:8400",
            "http://localhost.evil.com",
            "http://user@localhost:8400",
            "http://localhost:8400/#frag",
            "not a url",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
    }
}
