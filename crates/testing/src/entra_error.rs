//! Entra-shaped error answers: the JSON of the token and discovery endpoints and the HTML
//! error page of the authorize endpoint.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::util::{html_escape, random_guid};

/// The body type of every response.
pub(crate) type Body = Full<Bytes>;

/// Builds a response; falls back to a bare 500 if the parts are somehow invalid.
pub(crate) fn response(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
    headers: &[(&str, String)],
) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, "no-store, no-cache");
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(body.into())).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::from_static(b"internal mock error")));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    response(
        status,
        "application/json; charset=utf-8",
        value.to_string(),
        &[],
    )
}

/// Entra's timestamp format: `2024-05-01 12:34:56Z`.
pub(crate) fn entra_timestamp() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// An OAuth error as Entra reports it.
#[derive(Clone, Debug)]
pub(crate) struct EntraError {
    pub(crate) status: u16,
    pub(crate) error: String,
    pub(crate) code: u32,
    pub(crate) message: String,
    extra: Option<Box<Extra>>,
}

/// The rarely used parts of an error (boxed to keep `Result<_, EntraError>` small).
#[derive(Clone, Debug, Default)]
struct Extra {
    suberror: Option<String>,
    claims: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl EntraError {
    /// An error with this status, `error`, AADSTS code and message.
    pub(crate) fn new(status: u16, error: &str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            code,
            message: message.into(),
            extra: None,
        }
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Sets the `suberror` field.
    pub(crate) fn with_suberror(mut self, suberror: impl Into<String>) -> Self {
        self.extra().suberror = Some(suberror.into());
        self
    }

    /// Sets the `claims` field (a claims challenge).
    pub(crate) fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.extra().claims = Some(claims.into());
        self
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.extra().headers.push((name, value));
        self
    }

    /// 400 `invalid_request` for a missing parameter (`AADSTS900144`).
    pub(crate) fn missing(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900_144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// 400 `invalid_grant` with this code and message.
    pub(crate) fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", code, message)
    }

    /// `error_description`: `AADSTS{code}: {message}` plus the trace lines.
    pub(crate) fn description(&self, trace: &str, correlation: &str, ts: &str) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}",
            self.code, self.message
        )
    }

    /// The JSON body.
    pub(crate) fn body(&self, base: &str, correlation: Option<&str>) -> serde_json::Value {
        let trace = random_guid();
        let correlation = correlation.map_or_else(random_guid, str::to_owned);
        let ts = entra_timestamp();
        let mut v = serde_json::json!({
            "error": self.error,
            "error_description": self.description(&trace, &correlation, &ts),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{base}/error?code={}", self.code),
        });
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), &self.extra) {
            if let Some(s) = &extra.suberror {
                obj.insert("suberror".to_owned(), s.clone().into());
            }
            if let Some(c) = &extra.claims {
                obj.insert("claims".to_owned(), c.clone().into());
            }
        }
        v
    }

    /// The JSON response.
    pub(crate) fn to_response(&self, base: &str, correlation: Option<&str>) -> Response<Body> {
        let body = self.body(base, correlation).to_string();
        response(
            self.status,
            "application/json; charset=utf-8",
            body,
            self.extra.as_ref().map_or(&[][..], |e| &e.headers[..]),
        )
    }

    /// The HTML error page the authorize endpoint shows when it cannot redirect.
    pub(crate) fn to_html_page(&self) -> Response<Body> {
        let trace = random_guid();
        let correlation = random_guid();
        let ts = entra_timestamp();
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head><body>\
             <h1>Sorry, but we\u{2019}re having trouble signing you in.</h1>\
             <p id=\"error-code\">AADSTS{code}</p><p id=\"error-message\">AADSTS{code}: {msg}</p>\
             <p>Request Id: {trace}</p><p>Correlation Id: {correlation}</p><p>Timestamp: {ts}</p>\
             </body></html>",
            code = self.code,
            msg = html_escape(&self.message),
        );
        response(self.status, "text/html; charset=utf-8", page, &[])
    }
}
