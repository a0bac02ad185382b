//! Token endpoint responses: the success body, the OAuth error body and `client_info`
//! (sans-I/O parsers).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_core::{AccessTokenInfo, ErrorResponse, Secret};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{MsalError, Result};

const WHAT: &str = "the token request";

/// Entra ID's `client_info`: the user's object id and home tenant id, from which the home
/// account id `uid.utid` is built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The user's object id in the home tenant.
    pub uid: String,
    /// The home tenant id (absent for some personal accounts).
    pub utid: Option<String>,
}

impl ClientInfo {
    /// A client info from its parts.
    pub fn new(uid: impl Into<String>, utid: Option<String>) -> Self {
        Self {
            uid: uid.into(),
            utid,
        }
    }

    /// Decodes the base64url JSON `{"uid": ..., "utid": ...}` (padding optional).
    ///
    /// ```
    /// use entra_msal_lite::response::ClientInfo;
    ///
    /// // base64url of {"uid":"u1","utid":"t1"}
    /// let info = ClientInfo::decode("eyJ1aWQiOiJ1MSIsInV0aWQiOiJ0MSJ9")?;
    /// assert_eq!(info.home_account_id(), "u1.t1");
    /// assert_eq!(info.anchor_mailbox(), "Oid:u1@t1");
    /// # Ok::<(), entra_msal_lite::MsalError>(())
    /// ```
    ///
    /// # Errors
    /// [`MsalError::MissingField`] (`client_info`) when it is not base64url JSON with a
    /// non-empty string `uid`.
    pub fn decode(raw: &str) -> Result<Self> {
        let invalid = || MsalError::MissingField {
            what: WHAT,
            field: "client_info",
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim().trim_end_matches('='))
            .map_err(|_| invalid())?;
        let map: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let uid = string_field(&map, "uid").ok_or_else(invalid)?;
        Ok(Self {
            uid,
            utid: string_field(&map, "utid"),
        })
    }

    /// `uid.utid`, or `uid.uid` when there is no `utid` (MSAL Go).
    #[must_use]
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid.as_deref().unwrap_or(&self.uid))
    }

    /// The `X-AnchorMailbox` routing hint `Oid:<uid>@<utid>`.
    #[must_use]
    pub fn anchor_mailbox(&self) -> String {
        format!(
            "Oid:{}@{}",
            self.uid,
            self.utid.as_deref().unwrap_or(&self.uid)
        )
    }
}

/// A successful token response. `Debug` never shows a token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// The token type, `Bearer` unless the service said otherwise.
    pub token_type: String,
    /// Seconds the access token is valid for, as sent.
    pub expires_in: u64,
    /// `received_at + expires_in`.
    pub expires_on: OffsetDateTime,
    /// Seconds of the extended lifetime, when sent.
    pub ext_expires_in: Option<u64>,
    /// `received_at + ext_expires_in`.
    pub ext_expires_on: Option<OffsetDateTime>,
    /// Seconds after which the token should be refreshed proactively, when sent.
    pub refresh_in: Option<u64>,
    /// `received_at + refresh_in`.
    pub refresh_on: Option<OffsetDateTime>,
    /// The refresh token, when sent.
    pub refresh_token: Option<Secret>,
    /// The raw ID token, when sent.
    pub id_token: Option<Secret>,
    /// The granted scopes; empty when the service did not say (then all requested scopes
    /// were granted).
    pub scope: Vec<String>,
    /// The decoded `client_info`, when sent.
    pub client_info: Option<ClientInfo>,
    /// The `client_info` as sent (base64url), for caches that store it.
    pub raw_client_info: Option<String>,
    /// The family id (`foci`), `"1"` for Microsoft first-party apps.
    pub foci: Option<String>,
    /// When the request was sent (the base of every `*_on` field).
    pub received_at: OffsetDateTime,
}

impl TokenResponse {
    /// The access token as [`AccessTokenInfo`] (token, expiry, type, `refresh_on`).
    #[must_use]
    pub fn access_token_info(&self) -> AccessTokenInfo {
        AccessTokenInfo::new(self.access_token.clone(), self.expires_on)
            .with_token_type(self.token_type.clone())
            .with_refresh_on(self.refresh_on)
    }

    /// The granted scopes, or `requested` when the service did not list them.
    #[must_use]
    pub fn granted_scopes<'a>(&'a self, requested: &'a [String]) -> &'a [String] {
        if self.scope.is_empty() {
            requested
        } else {
            &self.scope
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_on", &self.expires_on)
            .field("refresh_on", &self.refresh_on)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("scope", &self.scope)
            .field("client_info", &self.client_info)
            .field("foci", &self.foci)
            .finish_non_exhaustive()
    }
}

/// The error an answer of the authority's backchannel stands for, if any: an OAuth error body
/// is [`MsalError::Service`] (whatever the status), any other non-2xx status
/// [`MsalError::HttpStatus`].
pub(crate) fn check_answer(
    what: &'static str,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<()> {
    if let Some(response) = parse_error_body(body) {
        return Err(MsalError::Service {
            status,
            response: Box::new(response),
            retry_after,
        });
    }
    if !(200..300).contains(&status) {
        return Err(MsalError::HttpStatus {
            what,
            status,
            retry_after,
        });
    }
    Ok(())
}

/// Parses a token endpoint response.
///
/// `received_at` is when the request was sent (expiry times are computed from it, as
/// Python does); `retry_after` is the response's `Retry-After`, kept in errors.
///
/// # Errors
/// [`MsalError::Service`] for an OAuth error body (any status, even 200);
/// [`MsalError::HttpStatus`] for a failure status without one;
/// [`MsalError::MalformedResponse`] for a body that is not a JSON object;
/// [`MsalError::MissingField`] when `access_token` or `expires_in` is missing or invalid,
/// or `client_info` cannot be decoded.
///
/// ```
/// use entra_msal_lite::response::parse_token_response;
/// use time::OffsetDateTime;
///
/// let now = OffsetDateTime::now_utc();
/// let ok = parse_token_response(
///     200,
///     br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","refresh_in":1800}"#,
///     now,
///     None,
/// )?;
/// assert_eq!(ok.expires_on, now + time::Duration::hours(1));
/// assert_eq!(ok.refresh_on, Some(now + time::Duration::minutes(30)));
///
/// let err = parse_token_response(
///     400,
///     br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#,
///     now,
///     None,
/// )
/// .unwrap_err();
/// assert!(err.is_invalid_grant() && err.is_interaction_required());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
pub fn parse_token_response(
    status: u16,
    body: &[u8],
    received_at: OffsetDateTime,
    retry_after: Option<Duration>,
) -> Result<TokenResponse> {
    check_answer(WHAT, status, body, retry_after)?;
    let map: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| MsalError::malformed(WHAT, &e))?;
    let missing = |field: &'static str| MsalError::MissingField { what: WHAT, field };

    let access_token = string_field(&map, "access_token").ok_or_else(|| missing("access_token"))?;
    let Some(Ok(expires_in)) = seconds_field(&map, "expires_in") else {
        return Err(missing("expires_in"));
    };
    let expires_on = add_seconds(received_at, expires_in).ok_or_else(|| missing("expires_in"))?;
    let optional_seconds = |field: &'static str| -> Result<Option<(u64, OffsetDateTime)>> {
        match seconds_field(&map, field) {
            None => Ok(None),
            Some(Err(())) => Err(missing(field)),
            Some(Ok(secs)) => add_seconds(received_at, secs)
                .map(|at| Some((secs, at)))
                .ok_or_else(|| missing(field)),
        }
    };
    let ext = optional_seconds("ext_expires_in")?;
    let refresh = optional_seconds("refresh_in")?;
    let raw_client_info = string_field(&map, "client_info");
    let client_info = raw_client_info
        .as_deref()
        .map(ClientInfo::decode)
        .transpose()?;
    let foci = match map.get("foci") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(TokenResponse {
        access_token: Secret::new(access_token),
        token_type: string_field(&map, "token_type").unwrap_or_else(|| "Bearer".to_owned()),
        expires_in,
        expires_on,
        ext_expires_in: ext.map(|(s, _)| s),
        ext_expires_on: ext.map(|(_, at)| at),
        refresh_in: refresh.map(|(s, _)| s),
        refresh_on: refresh.map(|(_, at)| at),
        refresh_token: string_field(&map, "refresh_token").map(Secret::new),
        id_token: string_field(&map, "id_token").map(Secret::new),
        scope: string_field(&map, "scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        client_info,
        raw_client_info,
        foci,
        received_at,
    })
}

/// Reads an OAuth error body: `Some` when the body is a JSON object with a non-empty string
/// `error`. Every field Entra ID sends is kept; fields of the wrong type are dropped, never
/// fatal.
#[must_use]
pub fn parse_error_body(body: &[u8]) -> Option<ErrorResponse> {
    let map: Map<String, Value> = serde_json::from_slice(body).ok()?;
    let error = string_field(&map, "error")?;
    let mut response = ErrorResponse::new(error);
    response.error_description = string_field(&map, "error_description");
    response.error_codes = match map.get("error_codes") {
        Some(Value::Array(codes)) => codes.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    response.suberror = string_field(&map, "suberror");
    response.claims = string_field(&map, "claims");
    response.correlation_id = string_field(&map, "correlation_id");
    response.trace_id = string_field(&map, "trace_id");
    response.timestamp = string_field(&map, "timestamp");
    response.error_uri = string_field(&map, "error_uri");
    Some(response)
}

/// Parses a `Retry-After` header: delta seconds, or an HTTP date (relative to `now`; a date
/// in the past means zero).
#[must_use]
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// A non-empty string field.
pub(crate) fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A seconds field sent as a number or a numeric string: `None` when absent, `Err` when
/// present but unusable.
pub(crate) fn seconds_field(
    map: &Map<String, Value>,
    key: &str,
) -> Option<std::result::Result<u64, ()>> {
    match map.get(key)? {
        Value::Null => None,
        Value::Number(n) => Some(n.as_u64().ok_or(())),
        Value::String(s) => Some(s.trim().parse::<u64>().map_err(|_| ())),
        _ => Some(Err(())),
    }
}

/// `at + secs`, `None` on overflow.
fn add_seconds(at: OffsetDateTime, secs: u64) -> Option<OffsetDateTime> {
    let secs = i64::try_from(secs).ok()?;
    at.checked_add(time::Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn full_success_response() {
        let body = format!(
            r#"{{"token_type":"Bearer","scope":"https://graph.microsoft.com/User.Read openid profile",
                "expires_in":3599,"ext_expires_in":"7199","refresh_in":1800,"access_token":"AT-SECRET",
                "refresh_token":"RT-SECRET","id_token":"ID-SECRET","client_info":"{}","foci":"1"}}"#,
            b64(r#"{"uid":"u1","utid":"t1"}"#)
        );
        let r = parse_token_response(200, body.as_bytes(), now(), None).unwrap();
        assert_eq!(r.access_token.secret(), "AT-SECRET");
        assert_eq!(r.refresh_token.as_ref().unwrap().secret(), "RT-SECRET");
        assert_eq!(r.id_token.as_ref().unwrap().secret(), "ID-SECRET");
        assert_eq!(r.token_type, "Bearer");
        assert_eq!(r.expires_in, 3599);
        assert_eq!(r.expires_on, now() + time::Duration::seconds(3599));
        assert_eq!(r.ext_expires_in, Some(7199));
        assert_eq!(
            r.ext_expires_on,
            Some(now() + time::Duration::seconds(7199))
        );
        assert_eq!(r.refresh_in, Some(1800));
        assert_eq!(r.refresh_on, Some(now() + time::Duration::seconds(1800)));
        assert_eq!(
            r.scope,
            ["https://graph.microsoft.com/User.Read", "openid", "profile"]
        );
        assert_eq!(
            r.client_info,
            Some(ClientInfo::new("u1", Some("t1".to_owned())))
        );
        assert_eq!(r.foci.as_deref(), Some("1"));
        assert_eq!(r.received_at, now());
        let info = r.access_token_info();
        assert_eq!(info.token.secret(), "AT-SECRET");
        assert_eq!(info.refresh_on, r.refresh_on);
        let requested = vec!["x".to_owned()];
        assert_eq!(r.granted_scopes(&requested), &r.scope[..]);
        let debug = format!("{r:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }

    #[test]
    fn minimal_success_uses_defaults() {
        let r = parse_token_response(
            200,
            br#"{"access_token":"a","expires_in":"60"}"#,
            now(),
            None,
        )
        .unwrap();
        assert_eq!(r.token_type, "Bearer");
        assert!(r.refresh_on.is_none() && r.refresh_token.is_none() && r.client_info.is_none());
        let requested = vec!["x".to_owned()];
        assert_eq!(r.granted_scopes(&requested), &requested[..]);
        let r = parse_token_response(
            200,
            br#"{"access_token":"a","expires_in":60,"foci":1}"#,
            now(),
            None,
        )
        .unwrap();
        assert_eq!(r.foci.as_deref(), Some("1"));
    }

    #[test]
    fn missing_or_invalid_fields_are_typed() {
        for (body, field) in [
            (r#"{"expires_in":60}"#, "access_token"),
            (r#"{"access_token":"","expires_in":60}"#, "access_token"),
            (r#"{"access_token":5,"expires_in":60}"#, "access_token"),
            (r#"{"access_token":"a"}"#, "expires_in"),
            (r#"{"access_token":"a","expires_in":-1}"#, "expires_in"),
            (r#"{"access_token":"a","expires_in":"soon"}"#, "expires_in"),
            (
                r#"{"access_token":"a","expires_in":18446744073709551615}"#,
                "expires_in",
            ),
            (
                r#"{"access_token":"a","expires_in":60,"refresh_in":[1]}"#,
                "refresh_in",
            ),
            (
                r#"{"access_token":"a","expires_in":60,"ext_expires_in":1.5}"#,
                "ext_expires_in",
            ),
            (
                r#"{"access_token":"a","expires_in":60,"client_info":"!!!"}"#,
                "client_info",
            ),
        ] {
            let err = parse_token_response(200, body.as_bytes(), now(), None).unwrap_err();
            match &err {
                MsalError::MissingField { field: f, .. } => assert_eq!(*f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn malformed_bodies_never_echo_content() {
        for body in [
            &b"{\"access_token\":\"SECRET-AT\""[..],
            b"SECRET-AT",
            b"",
            b"[1,2]",
            b"\xff\xfe",
        ] {
            let err = parse_token_response(200, body, now(), None).unwrap_err();
            assert!(
                matches!(err, MsalError::MalformedResponse { .. }),
                "{err:?}"
            );
            assert!(!err.to_string().contains("SECRET"));
            assert!(!format!("{err:?}").contains("SECRET"));
        }
    }

    #[test]
    fn every_error_field_is_kept() {
        let body = br#"{"error":"interaction_required","error_description":"AADSTS50076: MFA required.",
            "error_codes":[50076,"x",50079],"suberror":"basic_action","claims":"{\"access_token\":{\"capolids\":{\"essential\":true}}}",
            "correlation_id":"corr-1","trace_id":"trace-1","timestamp":"2026-11-24 10:00:00Z",
            "error_uri":"https://login.microsoftonline.com/error?code=50076"}"#;
        let err = parse_token_response(400, body, now(), Some(Duration::from_secs(3))).unwrap_err();
        let r = err.error_response().unwrap();
        assert_eq!(r.error, "interaction_required");
        assert_eq!(
            r.error_description.as_deref(),
            Some("AADSTS50076: MFA required.")
        );
        assert_eq!(r.error_codes, [50076, 50079]);
        assert_eq!(r.suberror.as_deref(), Some("basic_action"));
        assert_eq!(
            r.claims.as_deref(),
            Some(r#"{"access_token":{"capolids":{"essential":true}}}"#)
        );
        assert_eq!(r.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(r.trace_id.as_deref(), Some("trace-1"));
        assert_eq!(r.timestamp.as_deref(), Some("2026-11-24 10:00:00Z"));
        assert!(r.error_uri.is_some());
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert!(err.is_interaction_required());
        assert!(!err.is_invalid_grant());
        assert!(!err.is_transient());
        assert_eq!(err.claims(), r.claims.as_deref());
        assert_eq!(
            err.to_string(),
            "Authentication failed: AADSTS50076: MFA required."
        );

        let core: entra_core::Error = err.into();
        assert!(core.is_client_authentication());
        assert_eq!(core.status(), Some(400));
        assert_eq!(
            core.message(),
            "Authentication failed: AADSTS50076: MFA required."
        );
        assert_eq!(
            core.error_response().unwrap().suberror.as_deref(),
            Some("basic_action")
        );
        assert!(core.claims().is_some());

        // An error in a 200 body is still an error; without a description the code is shown.
        let err =
            parse_token_response(200, br#"{"error":"invalid_grant"}"#, now(), None).unwrap_err();
        assert!(err.is_invalid_grant() && err.is_interaction_required());
        assert_eq!(err.to_string(), "Authentication failed: invalid_grant");
        for code in ["login_required", "consent_required"] {
            let body = format!(r#"{{"error":"{code}"}}"#);
            assert!(
                parse_token_response(400, body.as_bytes(), now(), None)
                    .unwrap_err()
                    .is_interaction_required()
            );
        }
        let err =
            parse_token_response(400, br#"{"error":"invalid_client"}"#, now(), None).unwrap_err();
        assert!(!err.is_interaction_required());
    }

    #[test]
    fn http_errors_without_oauth_body() {
        let err = parse_token_response(502, b"<html>Bad gateway</html>", now(), None).unwrap_err();
        assert!(matches!(err, MsalError::HttpStatus { status: 502, .. }));
        assert!(err.is_transient());
        let core: entra_core::Error = err.into();
        assert_eq!(core.status(), Some(502));
        assert_eq!(
            core.message(),
            "Authentication failed: the token request failed with HTTP status 502"
        );
        assert!(parse_error_body(br#"{"error":""}"#).is_none());
        assert!(parse_error_body(br#"{"error":5}"#).is_none());
        assert!(parse_error_body(b"[]").is_none());
    }

    #[test]
    fn client_info_forms() {
        let padded = URL_SAFE_NO_PAD.encode(r#"{"uid":"u","utid":"t"}"#) + "==";
        let info = ClientInfo::decode(&padded).unwrap();
        assert_eq!(info.home_account_id(), "u.t");
        let no_utid = ClientInfo::decode(&b64(r#"{"uid":"u"}"#)).unwrap();
        assert_eq!(no_utid.home_account_id(), "u.u");
        assert_eq!(no_utid.anchor_mailbox(), "Oid:u@u");
        for bad in ["", "e30", &b64(r#"{"uid":5}"#), &b64("[1]"), "###"] {
            assert!(ClientInfo::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_values() {
        let now = OffsetDateTime::parse(
            "Wed, 21 Oct 2026 07:28:00 +0000",
            &time::format_description::well_known::Rfc2822,
        )
        .unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
