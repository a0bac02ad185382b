//! The device authorization grant (RFC 8628) as Entra ID does it: the request to
//! `/{tenant}/oauth2/v2.0/devicecode`, its answer ([`DeviceCode`]), and the polling grant
//! ([`DeviceCodeGrant`], `urn:ietf:params:oauth:grant-type:device_code`).

use std::fmt;
use std::time::Duration;

use entra_core::Secret;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use crate::endpoints::Endpoints;
use crate::error::{MsalError, Result};
use crate::request::{TokenRequest, decorate_scopes};
use crate::response::{check_answer, seconds_field, string_field};

/// The grant type of the polling requests.
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the authority names none (RFC 8628: 5 seconds).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// What a response is, in messages.
const WHAT: &str = "the device code request";

/// The device authorization endpoint of `endpoints`: the advertised one, else the token
/// endpoint's sibling `devicecode` (Entra's layout).
#[must_use]
pub fn device_code_endpoint(endpoints: &Endpoints) -> Url {
    if let Some(url) = &endpoints.device_authorization_endpoint {
        return url.clone();
    }
    let mut url = endpoints.token_endpoint.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop().push("devicecode");
    }
    url
}

/// The request for a device code (pure): `client_id`, the decorated `scope`, and `claims`.
///
/// # Errors
/// [`MsalError::InvalidArgument`] for bad or reserved scopes.
pub fn device_code_request<S: AsRef<str>>(
    endpoints: &Endpoints,
    client_id: &str,
    scopes: &[S],
    claims: Option<&str>,
) -> Result<TokenRequest> {
    let scope = decorate_scopes(scopes)?.join(" ");
    let mut request = TokenRequest::form(&device_code_endpoint(endpoints))
        .with_param("client_id", client_id)
        .with_param("scope", scope);
    if let Some(claims) = claims.filter(|c| !c.is_empty()) {
        request = request.with_param("claims", claims);
    }
    Ok(request)
}

/// The authority's answer to a device code request. The `device_code` is a secret (it is
/// what the polling redeems); the `user_code` is meant to be shown to the user.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceCode {
    /// The code the polling grant redeems. Never shown.
    pub device_code: Secret,
    /// The code the user types at the verification page.
    pub user_code: String,
    /// Where the user signs in (`https://microsoft.com/devicelogin`).
    pub verification_uri: String,
    /// When the codes expire.
    pub expires_on: OffsetDateTime,
    /// How long the codes live, from the response.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
    /// The sentence Entra ID wants shown ("To sign in, use a web browser to open ...").
    pub message: String,
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_on", &self.expires_on)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Parses the answer to a device code request: an OAuth error becomes
/// [`MsalError::Service`]; a success must carry `device_code`, `user_code`,
/// `verification_uri` (or Entra's older `verification_url`) and `expires_in`; `interval`
/// defaults to 5 s (and is at least 1 s); `message` is composed when absent.
///
/// # Errors
/// [`MsalError::Service`], [`MsalError::HttpStatus`], [`MsalError::MalformedResponse`],
/// [`MsalError::MissingField`].
pub fn parse_device_code(
    status: u16,
    body: &[u8],
    received_at: OffsetDateTime,
) -> Result<DeviceCode> {
    check_answer(WHAT, status, body, None)?;
    let map: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| MsalError::malformed(WHAT, &e))?;
    let missing = |field: &'static str| MsalError::MissingField { what: WHAT, field };
    let device_code = string_field(&map, "device_code").ok_or_else(|| missing("device_code"))?;
    let user_code = string_field(&map, "user_code").ok_or_else(|| missing("user_code"))?;
    let verification_uri = string_field(&map, "verification_uri")
        .or_else(|| string_field(&map, "verification_url"))
        .filter(|u| Url::parse(u).is_ok_and(|u| u.scheme() == "https"))
        .ok_or_else(|| missing("verification_uri"))?;
    let Some(Ok(expires_in)) = seconds_field(&map, "expires_in") else {
        return Err(missing("expires_in"));
    };
    let expires_on = i64::try_from(expires_in)
        .ok()
        .and_then(|s| received_at.checked_add(time::Duration::seconds(s)))
        .ok_or_else(|| missing("expires_in"))?;
    let interval = match seconds_field(&map, "interval") {
        None => DEFAULT_POLL_INTERVAL,
        Some(Ok(secs)) => Duration::from_secs(secs.clamp(1, 3600)),
        Some(Err(())) => return Err(missing("interval")),
    };
    let message = string_field(&map, "message").unwrap_or_else(|| {
        format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate.")
    });
    Ok(DeviceCode {
        device_code: Secret::new(device_code),
        user_code,
        verification_uri,
        expires_on,
        expires_in: Duration::from_secs(expires_in),
        interval,
        message,
    })
}

/// The polling grant: `grant_type=urn:ietf:params:oauth:grant-type:device_code`, `client_id`,
/// `device_code`, `client_info=1`, and `claims`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCodeGrant {
    client_id: String,
    device_code: Secret,
    claims: Option<String>,
}

impl fmt::Debug for DeviceCodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeGrant")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeGrant {
    /// A grant redeeming `device_code`.
    pub fn new(client_id: impl Into<String>, device_code: Secret) -> Self {
        Self {
            client_id: client_id.into(),
            device_code,
            claims: None,
        }
    }

    /// Sets the `claims` JSON.
    #[must_use]
    pub fn with_claims(mut self, claims: Option<&str>) -> Self {
        self.claims = claims.filter(|c| !c.is_empty()).map(str::to_owned);
        self
    }

    /// The request (pure).
    #[must_use]
    pub fn to_request(&self, token_endpoint: &Url) -> TokenRequest {
        let mut request = TokenRequest::form(token_endpoint)
            .with_param("grant_type", DEVICE_CODE_GRANT_TYPE)
            .with_param("client_id", self.client_id.as_str())
            .with_secret_param("device_code", self.device_code.clone())
            .with_param("client_info", "1");
        if let Some(claims) = &self.claims {
            request = request.with_param("claims", claims.as_str());
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::Authority;

    fn endpoints() -> Endpoints {
        Endpoints::known_cloud(
            &Authority::parse("https://login.microsoftonline.com/contoso.com").unwrap(),
        )
        .unwrap()
    }

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn the_request_goes_to_the_devicecode_endpoint_with_decorated_scopes() {
        let e = endpoints();
        let r = device_code_request(
            &e,
            "client",
            &["https://graph.microsoft.com/.default"],
            None,
        )
        .unwrap();
        assert_eq!(
            r.url().as_str(),
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/devicecode"
        );
        assert_eq!(r.form_value("client_id"), Some("client"));
        assert_eq!(
            r.form_value("scope"),
            Some("https://graph.microsoft.com/.default offline_access openid profile")
        );
        assert!(device_code_request(&e, "client", &["openid"], None).is_err());
        // Without an advertised endpoint, the token endpoint's sibling.
        let mut e = endpoints();
        e.device_authorization_endpoint = None;
        assert!(
            device_code_endpoint(&e)
                .as_str()
                .ends_with("/oauth2/v2.0/devicecode")
        );
    }

    #[test]
    fn answers_parse_and_bad_ones_are_typed_errors() {
        let body = br#"{"device_code":"DC-SECRET","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":"5","message":"To sign in, enter ABCD-EFGH"}"#;
        let code = parse_device_code(200, body, t0()).unwrap();
        assert_eq!(code.device_code.secret(), "DC-SECRET");
        assert_eq!(code.user_code, "ABCD-EFGH");
        assert_eq!(code.interval, Duration::from_secs(5));
        assert_eq!(code.expires_on, t0() + time::Duration::seconds(900));
        assert!(!format!("{code:?}").contains("DC-SECRET"));
        // An OAuth error stays data.
        let err = parse_device_code(400, br#"{"error":"invalid_scope"}"#, t0()).unwrap_err();
        assert_eq!(err.oauth_error(), Some("invalid_scope"));
        // Missing, malformed or non-https fields.
        for body in [
            &br#"{"user_code":"u","verification_uri":"https://x","expires_in":1}"#[..],
            br#"{"device_code":"d","user_code":"u","verification_uri":"http://x","expires_in":1}"#,
            br#"{"device_code":"d","user_code":"u","verification_uri":"https://x"}"#,
            br#"{"device_code":"d","user_code":"u","verification_uri":"https://x","expires_in":1,"interval":"soon"}"#,
            b"[]",
            b"not json",
        ] {
            assert!(parse_device_code(200, body, t0()).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_polling_grant_keeps_the_device_code_secret() {
        let grant =
            DeviceCodeGrant::new("client", Secret::new("DC-SECRET")).with_claims(Some("{}"));
        let r = grant.to_request(&endpoints().token_endpoint);
        assert_eq!(r.grant_type(), DEVICE_CODE_GRANT_TYPE);
        assert_eq!(r.form_value("device_code"), Some("DC-SECRET"));
        assert_eq!(r.form_value("claims"), Some("{}"));
        assert!(!format!("{r:?}").contains("DC-SECRET"));
        assert!(!format!("{grant:?}").contains("DC-SECRET"));
    }
}
