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
use crate::state::{CodeGrant, PendingSignIn, Shared, State};
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
    pub(crate) path: String,
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

    let gate = shared.state().gates.get(&endpoint).cloned();
    if let Some(gate) = gate {
        gate.pass().await;
    }
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
        Route::DeviceCode(t) => self::device_code::device_code(shared, ctx, t),
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

mod app_token;
mod authorize;
mod device_code;
mod discovery;
mod metadata;
mod token;

use self::authorize::*;
use self::discovery::*;
use self::metadata::*;
use self::token::*;
// Used by the device code endpoint (`crate::device_code`) and the browser stand-in.
pub(crate) use self::authorize::{client_of, is_loopback_redirect};
pub(crate) use self::token::issue;

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
