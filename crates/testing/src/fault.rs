//! Fault injection: what an endpoint does instead of its normal answer.

use std::time::Duration;

/// The endpoints of the mock, used to count requests and to aim faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /common/discovery/instance`.
    InstanceDiscovery,
    /// `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the ADFS form).
    OpenIdConfiguration,
    /// `GET /{tenant}/oauth2/v2.0/authorize` (and the ADFS form).
    Authorize,
    /// `POST /{tenant}/login`: the submit of the HTML sign-in page.
    SignIn,
    /// `POST /{tenant}/oauth2/v2.0/token` (and the ADFS form).
    Token,
    /// `POST /{tenant}/oauth2/v2.0/devicecode`: the device authorization request.
    DeviceCode,
    /// `GET /{tenant}/discovery/v2.0/keys` (and the ADFS form): the JWKS.
    Keys,
    /// Anything else (answered 404).
    Other,
}

impl Endpoint {
    /// Every endpoint, in a stable order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::InstanceDiscovery,
        Endpoint::OpenIdConfiguration,
        Endpoint::Authorize,
        Endpoint::SignIn,
        Endpoint::Token,
        Endpoint::DeviceCode,
        Endpoint::Keys,
        Endpoint::Other,
    ];
}

/// What an endpoint does instead of answering normally.
///
/// JSON error bodies have Entra's shape (`error`, `error_description` starting with an
/// `AADSTS` code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <seconds>` and an Entra-shaped JSON body.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// An HTTP 5xx (or any other status) with an Entra-shaped JSON body
    /// (`temporarily_unavailable` for 503/504, `server_error` otherwise).
    ServerError {
        /// The status code.
        status: u16,
    },
    /// Waits this long, then answers normally.
    Delay(Duration),
    /// HTTP 200 `application/json` whose body is cut off mid-way.
    MalformedJson,
    /// HTTP 400 `invalid_grant` (`AADSTS70000`), as for a revoked or expired grant.
    InvalidGrant,
    /// HTTP 400 `interaction_required` (`AADSTS50076`) with this `suberror`
    /// (e.g. `basic_action`, `consent_required`).
    InteractionRequired {
        /// The `suberror` field.
        suberror: String,
    },
    /// HTTP 400 `slow_down` (a device code poll that came too soon; the client must add 5
    /// seconds to its interval).
    SlowDown,
    /// Closes the connection without answering.
    CloseConnection,
    /// Any answer: status, `Content-Type` and body.
    Response {
        /// The status code.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body.
        body: String,
    },
}

impl Fault {
    /// HTTP 429 with `Retry-After: secs`.
    #[must_use]
    pub fn too_many_requests(secs: u64) -> Self {
        Self::TooManyRequests {
            retry_after_secs: secs,
        }
    }

    /// An HTTP error status (e.g. 500, 503).
    #[must_use]
    pub fn server_error(status: u16) -> Self {
        Self::ServerError { status }
    }

    /// `interaction_required` with this suberror.
    #[must_use]
    pub fn interaction_required(suberror: impl Into<String>) -> Self {
        Self::InteractionRequired {
            suberror: suberror.into(),
        }
    }
}

/// How long a fault stays in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultTimes {
    /// For the next `n` requests to the endpoint, then normal answers resume.
    Next(u32),
    /// Until [`MockEntra::clear_faults`](crate::MockEntra::clear_faults).
    Always,
}
