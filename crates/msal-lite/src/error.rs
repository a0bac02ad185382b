//! [`MsalError`]: every failure of this crate, typed, secret-free, convertible into
//! [`entra_core::Error`].

use std::sync::Arc;
use std::time::Duration;

use entra_core::{ErrorResponse, Untrusted};

/// `Result` with this crate's [`MsalError`].
pub type Result<T, E = MsalError> = std::result::Result<T, E>;

/// The message Python azure-identity shows for an unknown authority host with instance
/// discovery enabled (quoted after `"The authority provided, "`).
const NOT_WELL_KNOWN: &str = "is not well-known. If this authority is valid and trustworthy, you \
     can disable this check by passing in 'disable_instance_discovery=True' when constructing the \
     credential.";

/// The tail of MSAL Python's tenant-discovery error.
const AUTHORITY_FORMAT_HINT: &str = "Authority would typically be in a format of \
     https://login.microsoftonline.com/your_tenant or https://tenant_name.ciamlogin.com or \
     https://tenant_name.b2clogin.com/tenant.onmicrosoft.com/policy.  Also please double check \
     your tenant name or GUID is correct.";

/// Which id-token check failed. No variant holds a token or a nonce value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenProblem {
    /// The token is not three base64url parts with a JSON object payload.
    Malformed,
    /// A required claim is missing (`iss`, `sub`, `aud`, ...).
    MissingClaim(&'static str),
    /// `aud` is not this application's client id.
    WrongAudience,
    /// `nonce` differs from the one sent on the authorize URL (or is missing).
    WrongNonce,
    /// `exp` has passed (beyond the allowed clock skew).
    Expired,
    /// `iss` does not belong to the authority.
    WrongIssuer,
}

impl std::fmt::Display for IdTokenProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("the ID token is malformed"),
            Self::MissingClaim(claim) => write!(f, "the ID token has no '{claim}' claim"),
            Self::WrongAudience => {
                f.write_str("the ID token's audience is not this application's client ID")
            }
            Self::WrongNonce => {
                f.write_str("the ID token's nonce does not match the one sent to the authority")
            }
            Self::Expired => f.write_str("the ID token has expired"),
            Self::WrongIssuer => f.write_str("the ID token was not issued by the authority"),
        }
    }
}

/// Every failure of this crate.
///
/// Messages describe this layer only and never contain a token, code, verifier, `state`,
/// nonce or a response body; lower-level causes are reachable through
/// [`source`](std::error::Error::source). Entra ID error responses are kept as data in
/// [`MsalError::Service`].
///
/// Convert into [`entra_core::Error`] with `?` or `.into()`: argument errors become
/// [`InvalidArgument`](entra_core::ErrorKind::InvalidArgument), everything else
/// [`ClientAuthentication`](entra_core::ErrorKind::ClientAuthentication) with Python's
/// `"Authentication failed: ..."` message, the HTTP status and the Entra ID response kept.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MsalError {
    /// The authority URL or host is unusable; `value` is what was given, `rule` what it broke.
    #[error("'{}' is an invalid authority. {rule}", Untrusted(value))]
    InvalidAuthority {
        /// The authority as given.
        value: String,
        /// The rule it broke, ending with what to do.
        rule: String,
    },
    /// An argument other than the authority is wrong (a reserved scope, a bad tenant, claims
    /// that are not JSON).
    #[error("{}", Untrusted(.0))]
    InvalidArgument(String),
    /// Instance discovery answered `invalid_instance`: the host is not an Entra ID authority
    /// Microsoft knows.
    #[error("The authority provided, {authority}, {NOT_WELL_KNOWN}")]
    InvalidInstance {
        /// `https://<host>` of the rejected authority.
        authority: String,
        /// The discovery endpoint's error response.
        response: Box<ErrorResponse>,
    },
    /// Instance discovery for an authority host that is not a known cloud could not be
    /// completed (network, timeout, an HTTP error, a malformed answer), so the host could not
    /// be validated. Nothing is sent to an unvalidated authority: this fails closed.
    #[error(
        "Instance discovery for {authority} failed, so the authority could not be validated \
         (the cause follows). Check the network connection and try again; if this authority is \
         valid and trustworthy, you can disable this check by passing in \
         'disable_instance_discovery=True' when constructing the credential."
    )]
    InstanceDiscoveryFailed {
        /// `https://<host>` of the authority.
        authority: String,
        /// What went wrong.
        #[source]
        cause: Box<MsalError>,
    },
    /// The OpenID configuration of the authority could not be fetched (HTTP 4xx) or lacks a
    /// required field.
    #[error("Unable to get authority configuration for {authority}. {AUTHORITY_FORMAT_HINT}")]
    TenantDiscovery {
        /// The canonical authority URL.
        authority: String,
        /// The HTTP status, when the server answered with an error.
        status: Option<u16>,
        /// What was wrong with the document, when it was received.
        problem: Option<String>,
    },
    /// The issuer of the OpenID configuration does not belong to the authority.
    #[error(
        "the issuer '{}' in the OpenID configuration does not match the authority {}",
        Untrusted(issuer),
        Untrusted(authority)
    )]
    IssuerMismatch {
        /// The issuer the document named.
        issuer: String,
        /// The canonical authority URL.
        authority: String,
    },
    /// Entra ID answered with an OAuth error response (e.g. `invalid_grant`,
    /// `interaction_required`). The message is Python's.
    #[error("Authentication failed: {}", Untrusted(.response.summary()))]
    Service {
        /// The HTTP status.
        status: u16,
        /// The error response, every field kept.
        response: Box<ErrorResponse>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The server answered with an HTTP error status and a body that is not an OAuth error.
    #[error("{what} failed with HTTP status {status}")]
    HttpStatus {
        /// Which request, e.g. `the token request`.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The request could not be sent or the response not received (DNS, connect, TLS, reset).
    #[error("{what} to {url} failed")]
    Network {
        /// Which request.
        what: &'static str,
        /// The URL requested (never carries a secret: secrets travel in bodies).
        url: String,
        /// The transport error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// No complete response within the per-request timeout.
    #[error("{what} to {url} timed out after {timeout:?}")]
    Timeout {
        /// Which request.
        what: &'static str,
        /// The URL requested.
        url: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The response body exceeded the configured size cap.
    #[error("the response to {what} exceeded {limit} bytes")]
    ResponseTooLarge {
        /// Which request.
        what: &'static str,
        /// The cap in bytes.
        limit: usize,
    },
    /// The response is not the JSON expected (position only: a body may hold secrets).
    #[error(
        "the response to {what} is not valid JSON ({category} at line {line}, column {column})"
    )]
    MalformedResponse {
        /// Which response.
        what: &'static str,
        /// serde_json's category: `syntax`, `data`, `eof` or `io`.
        category: &'static str,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// The response lacks a required field or a field has an unusable value.
    #[error("the response to {what} has a missing or invalid '{field}'")]
    MissingField {
        /// Which response.
        what: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The `state` of the redirect is missing or differs from the one sent (a forged or
    /// stale redirect). Neither value is shown.
    #[error("the state of the authorization response does not match the state of the request")]
    StateMismatch,
    /// An ID token check failed.
    #[error("{0}")]
    IdToken(IdTokenProblem),
    /// The OS random source failed.
    #[error("the operating system's random number generator failed")]
    Random(#[source] getrandom::Error),
}

impl MsalError {
    /// Entra ID's error response, when the service sent one.
    #[must_use]
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match self {
            Self::Service { response, .. } | Self::InvalidInstance { response, .. } => {
                Some(response)
            }
            _ => None,
        }
    }

    /// The OAuth error code of a service error (`invalid_grant`, ...).
    #[must_use]
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::Service { response, .. } => Some(response.error.as_str()),
            _ => None,
        }
    }

    /// The HTTP status of the failed response, when there was one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } | Self::HttpStatus { status, .. } => Some(*status),
            Self::TenantDiscovery { status, .. } => *status,
            Self::InvalidInstance { .. } => Some(400),
            _ => None,
        }
    }

    /// The server's `Retry-After`, when it sent one with the final failed response.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Service { retry_after, .. } | Self::HttpStatus { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether a new interactive sign-in may fix this: the service answered
    /// `interaction_required`, `login_required`, `consent_required` or `invalid_grant`
    /// (an expired, revoked or policy-blocked refresh token). Check this after a failed
    /// refresh to decide whether to prompt.
    #[must_use]
    pub fn is_interaction_required(&self) -> bool {
        matches!(
            self.oauth_error(),
            Some("interaction_required" | "login_required" | "consent_required" | "invalid_grant")
        )
    }

    /// The silent path's rule, as Python azure-identity's: whether a failed silent request
    /// (cache, refresh token) should fall back to an interactive sign-in. True for any OAuth
    /// error answer that is not transient (`interaction_required`, `invalid_grant`, but also
    /// `invalid_client`, a claims challenge, ...); false for network failures, timeouts, 429
    /// and 5xx, which a prompt would not fix. Broader than
    /// [`is_interaction_required`](Self::is_interaction_required), which is only the service
    /// explicitly asking for one. entra-public-client decides with this, and only this.
    #[must_use]
    pub fn needs_interaction(&self) -> bool {
        self.error_response().is_some() && !self.is_transient()
    }

    /// Whether the service answered `invalid_grant`.
    #[must_use]
    pub fn is_invalid_grant(&self) -> bool {
        self.oauth_error() == Some("invalid_grant")
    }

    /// The claims challenge of a service error, to pass back on the next request.
    #[must_use]
    pub fn claims(&self) -> Option<&str> {
        self.error_response().and_then(|r| r.claims.as_deref())
    }

    /// Whether retrying the same call unchanged could succeed (network failures, timeouts,
    /// 429 and 5xx).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } | Self::Timeout { .. } => true,
            Self::Service { status, .. } | Self::HttpStatus { status, .. } => {
                *status == 429 || (500..600).contains(status)
            }
            Self::InstanceDiscoveryFailed { cause, .. } => cause.is_transient(),
            _ => false,
        }
    }

    pub(crate) fn invalid_authority(value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidAuthority {
            value: value.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn malformed(what: &'static str, err: &serde_json::Error) -> Self {
        let category = match err.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        Self::MalformedResponse {
            what,
            category,
            line: err.line(),
            column: err.column(),
        }
    }
}

impl From<MsalError> for entra_core::Error {
    fn from(err: MsalError) -> Self {
        let reason = match &err {
            MsalError::InvalidInstance { .. } | MsalError::InstanceDiscoveryFailed { .. } => {
                entra_core::Reason::InvalidInstance
            }
            MsalError::TenantDiscovery { .. } | MsalError::IssuerMismatch { .. } => {
                entra_core::Reason::TenantDiscovery
            }
            _ => entra_core::Reason::Other,
        };
        let converted = match &err {
            MsalError::InvalidAuthority { .. } | MsalError::InvalidArgument(_) => {
                Self::invalid_argument(err.to_string())
            }
            MsalError::Service {
                status, response, ..
            } => Self::from_error_response(Some(*status), (**response).clone()),
            other => {
                let mut converted =
                    Self::client_authentication(format!("Authentication failed: {other}"));
                if let Some(status) = other.status() {
                    converted = converted.with_status(status);
                }
                // `invalid_instance` keeps Python's rewritten message and the service's answer.
                if let MsalError::InvalidInstance { response, .. } = other {
                    converted = converted.with_error_response((**response).clone());
                }
                converted
            }
        };
        // The message says the typed error's text; it stays reachable by type
        // (`find_cause`), and the chain goes on with its own cause: each cause said once.
        converted.with_reason(reason).with_lower(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_instance_keeps_the_service_answer() {
        let response = ErrorResponse::new("invalid_instance")
            .with_description("AADSTS50049: Unknown or invalid instance.");
        let e: entra_core::Error = MsalError::InvalidInstance {
            authority: "https://contoso.example".into(),
            response: Box::new(response),
        }
        .into();
        assert!(e.is_client_authentication());
        assert!(e.message().contains("disable_instance_discovery"), "{e}");
        assert_eq!(e.status(), Some(400));
        assert_eq!(
            e.error_response().map(|r| r.error.as_str()),
            Some("invalid_instance")
        );
    }

    /// The texts of `e` and of each source, in order.
    fn chain(e: &entra_core::Error) -> Vec<String> {
        let mut texts = vec![e.to_string()];
        let mut next = std::error::Error::source(e);
        while let Some(s) = next {
            texts.push(s.to_string());
            next = s.source();
        }
        texts
    }

    #[test]
    fn a_converted_error_says_each_cause_once() {
        let e: entra_core::Error = MsalError::Service {
            status: 400,
            response: Box::new(
                ErrorResponse::new("invalid_grant").with_description("AADSTS70000: revoked"),
            ),
            retry_after: None,
        }
        .into();
        assert_eq!(chain(&e), ["Authentication failed: AADSTS70000: revoked"]);
        assert!(matches!(
            e.find_cause::<MsalError>(),
            Some(MsalError::Service { .. })
        ));
        let e: entra_core::Error = MsalError::Network {
            what: "the token request",
            url: "https://login.example/t/oauth2/v2.0/token".into(),
            source: Arc::new(std::io::Error::other("connection reset by peer")),
        }
        .into();
        assert_eq!(
            chain(&e),
            [
                "Authentication failed: the token request to \
                 https://login.example/t/oauth2/v2.0/token failed",
                "connection reset by peer"
            ]
        );
    }

    #[test]
    fn conversions_into_core_errors() {
        let e: entra_core::Error = MsalError::invalid_authority("x", "It is bad.").into();
        assert!(e.is_invalid_argument());
        assert_eq!(e.message(), "'x' is an invalid authority. It is bad.");
        // The typed error is the source (issue: errors stay data across layers).
        let source = e.find_cause::<MsalError>();
        assert!(matches!(source, Some(MsalError::InvalidAuthority { .. })));

        let e: entra_core::Error = MsalError::InvalidArgument("bad scope".into()).into();
        assert!(e.is_invalid_argument());

        let e: entra_core::Error = MsalError::StateMismatch.into();
        assert!(e.is_client_authentication());
        assert_eq!(
            e.message(),
            "Authentication failed: the state of the authorization response does not match the \
             state of the request"
        );

        let e: entra_core::Error = MsalError::TenantDiscovery {
            authority: "https://login.contoso.local/t".into(),
            status: Some(404),
            problem: None,
        }
        .into();
        assert_eq!(e.status(), Some(404));
        assert!(e.message().starts_with(
            "Authentication failed: Unable to get authority configuration for \
             https://login.contoso.local/t."
        ));

        let e: entra_core::Error = MsalError::ResponseTooLarge {
            what: "the token request",
            limit: 10,
        }
        .into();
        assert_eq!(
            e.message(),
            "Authentication failed: the response to the token request exceeded 10 bytes"
        );
        assert_eq!(e.status(), None);
    }

    #[test]
    fn classification_helpers() {
        let service = |error: &str, status: u16| MsalError::Service {
            status,
            response: Box::new(ErrorResponse::new(error)),
            retry_after: None,
        };
        assert!(service("interaction_required", 400).is_interaction_required());
        assert!(!service("invalid_client", 401).is_interaction_required());
        // The silent path's rule is broader: any non-transient OAuth answer.
        assert!(service("invalid_client", 401).needs_interaction());
        assert!(service("interaction_required", 400).needs_interaction());
        assert!(!service("temporarily_unavailable", 503).needs_interaction());
        assert!(service("temporarily_unavailable", 503).is_transient());
        assert!(service("throttled", 429).is_transient());
        assert!(!service("invalid_grant", 400).is_transient());
        assert!(
            MsalError::IdToken(IdTokenProblem::Expired)
                .status()
                .is_none()
        );
        assert!(MsalError::StateMismatch.error_response().is_none());
        assert_eq!(
            MsalError::IdToken(IdTokenProblem::MissingClaim("sub")).to_string(),
            "the ID token has no 'sub' claim"
        );
    }
}
