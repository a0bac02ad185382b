//! The redirect parser: turns the parameters a browser delivers to the loopback server into an
//! authorization code or an Entra ID error, checking `state` first (in constant time).
//!
//! Pure functions, no I/O: the server feeds them a query string or a form body, whatever its
//! size or encoding, and they never panic.

use std::fmt;
use std::sync::Arc;

use entra_core::{ErrorResponse, Secret};

/// The most parameters a redirect may carry; Entra ID sends at most half a dozen.
const MAX_PARAMS: usize = 64;

/// What a valid redirect (one carrying the expected `state`) delivered.
pub(crate) enum RedirectOutcome {
    /// The authorization code, plus `client_info` when Entra ID sent it.
    Code {
        /// The authorization code (a secret).
        code: Secret,
        /// Entra ID's base64url `client_info`, when present (not a secret).
        client_info: Option<String>,
    },
    /// The authority refused: `error`, `error_description`, ... as sent.
    Error(ErrorResponse),
}

impl fmt::Debug for RedirectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code { client_info, .. } => f
                .debug_struct("Code")
                .field("code", &"<redacted>")
                .field("client_info", &client_info.is_some())
                .finish(),
            Self::Error(response) => f.debug_tuple("Error").field(response).finish(),
        }
    }
}

/// Why a request to the redirect path does not end the wait. None of these holds a value
/// from the request (they are echoed into pages and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No `state`, `code` or `error` at all: not a sign-in response (a reload, a probe).
    NotASignInResponse,
    /// A parameter appears twice; the request is ambiguous.
    DuplicateParameter(&'static str),
    /// More parameters than any sign-in response has.
    TooManyParameters,
    /// `state` is missing.
    MissingState,
    /// `state` differs from the sign-in in progress (a stale tab, a forged request).
    StateMismatch,
    /// The right `state` but neither `code` nor `error`.
    NeitherCodeNorError,
}

impl Rejection {
    /// A short explanation shown on the 400 page and in logs.
    pub(crate) fn explanation(self) -> &'static str {
        match self {
            Self::NotASignInResponse => "This address only accepts the sign-in response.",
            Self::DuplicateParameter(_) => "The sign-in response repeats a parameter.",
            Self::TooManyParameters => "The request has too many parameters.",
            Self::MissingState => "The sign-in response has no 'state' parameter.",
            Self::StateMismatch => {
                "This response does not belong to the sign-in in progress. Waiting for the \
                 right one; you may close this window."
            }
            Self::NeitherCodeNorError => {
                "The sign-in response carries neither an authorization code nor an error."
            }
        }
    }
}

/// The parameters a redirect may carry, each at most once.
#[derive(Default)]
struct Params {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
    error_codes: Option<String>,
    suberror: Option<String>,
    correlation_id: Option<String>,
    trace_id: Option<String>,
    timestamp: Option<String>,
    client_info: Option<String>,
}

fn set(slot: &mut Option<String>, name: &'static str, value: String) -> Result<(), Rejection> {
    if slot.is_some() {
        return Err(Rejection::DuplicateParameter(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Classifies an `application/x-www-form-urlencoded` parameter string (a query string without
/// its `?`, or a form body) against the `state` of the sign-in in progress.
///
/// The `state` is checked before anything else (an `error` with the wrong `state` is ignored,
/// unlike MSAL Go), blank values count as absent, unknown parameters are ignored.
pub(crate) fn classify(input: &[u8], expected_state: &str) -> Result<RedirectOutcome, Rejection> {
    let mut params = Params::default();
    for (count, (key, value)) in url::form_urlencoded::parse(input).enumerate() {
        if count >= MAX_PARAMS {
            return Err(Rejection::TooManyParameters);
        }
        let value = value.into_owned();
        match key.as_ref() {
            "state" => set(&mut params.state, "state", value)?,
            "code" => set(&mut params.code, "code", value)?,
            "error" => set(&mut params.error, "error", value)?,
            "error_description" => set(&mut params.error_description, "error_description", value)?,
            "error_uri" => set(&mut params.error_uri, "error_uri", value)?,
            "error_codes" => set(&mut params.error_codes, "error_codes", value)?,
            "suberror" => set(&mut params.suberror, "suberror", value)?,
            "correlation_id" => set(&mut params.correlation_id, "correlation_id", value)?,
            "trace_id" => set(&mut params.trace_id, "trace_id", value)?,
            "timestamp" => set(&mut params.timestamp, "timestamp", value)?,
            "client_info" => set(&mut params.client_info, "client_info", value)?,
            _ => {}
        }
    }
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let state = non_empty(params.state);
    let code = non_empty(params.code);
    let error = non_empty(params.error);
    let Some(state) = state else {
        return Err(if code.is_none() && error.is_none() {
            Rejection::NotASignInResponse
        } else {
            Rejection::MissingState
        });
    };
    if !entra_msal_lite::request::state_matches(&state, expected_state) {
        return Err(Rejection::StateMismatch);
    }
    if let Some(error) = error {
        let mut response = ErrorResponse::new(error);
        response.error_description = non_empty(params.error_description);
        response.error_uri = non_empty(params.error_uri);
        response.suberror = non_empty(params.suberror);
        response.correlation_id = non_empty(params.correlation_id);
        response.trace_id = non_empty(params.trace_id);
        response.timestamp = non_empty(params.timestamp);
        response.error_codes = params
            .error_codes
            .as_deref()
            .map(parse_error_codes)
            .unwrap_or_default();
        return Ok(RedirectOutcome::Error(response));
    }
    match code {
        Some(code) => Ok(RedirectOutcome::Code {
            code: Secret::new(code),
            client_info: non_empty(params.client_info),
        }),
        None => Err(Rejection::NeitherCodeNorError),
    }
}

/// `error_codes` arrives as `[70000,50173]` or `70000,50173`; anything unparsable is dropped.
fn parse_error_codes(text: &str) -> Vec<i64> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter_map(|part| part.trim().parse().ok())
        .take(16)
        .collect()
}

/// Escapes text for an HTML element or a quoted attribute.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

const SECURITY_NOTE: &str =
    "For your security: do not share the contents of this page, the address bar, or screenshots.";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;\
         color:#222}}h1{{font-size:1.4em}}p.note{{color:#666;font-size:.9em}}</style></head>\
         <body><h1>{title}</h1>{body}<p class=\"note\">{SECURITY_NOTE}</p></body></html>\n"
    )
}

/// The pages the loopback server shows when the sign-in ends: the built-in ones, or HTML the
/// application gives (as MSAL.NET's `HtmlMessageSuccess` / `HtmlMessageError`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Pages {
    pub(crate) success: Option<Arc<str>>,
    pub(crate) failure: Option<Arc<str>>,
}

impl Pages {
    /// The page after a successful sign-in.
    pub(crate) fn success(&self) -> String {
        self.success
            .as_deref()
            .map_or_else(success_page, str::to_owned)
    }

    /// The page after Entra redirected with an error: the application's, with `{error}` and
    /// `{error_description}` replaced by the escaped values, else the built-in one.
    pub(crate) fn failure(&self, response: &ErrorResponse) -> String {
        let Some(template) = self.failure.as_deref() else {
            return failure_page(response);
        };
        let description = response.error_description.as_deref().unwrap_or("");
        // One pass, so an inserted value is never itself searched for a placeholder.
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{error_description}") {
                out.push_str(&html_escape(description));
                rest = after;
            } else if let Some(after) = tail.strip_prefix("{error}") {
                out.push_str(&html_escape(&response.error));
                rest = after;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// The page shown after a successful sign-in.
pub(crate) fn success_page() -> String {
    page(
        "Authentication complete",
        "<p>You can close this window and return to the application.</p>",
    )
}

/// The page shown when Entra ID redirected with an error; every echoed value is escaped.
pub(crate) fn failure_page(response: &ErrorResponse) -> String {
    let mut body = format!(
        "<p>Sign-in failed: <code>{}</code></p>",
        html_escape(&response.error)
    );
    if let Some(description) = &response.error_description {
        body.push_str(&format!("<p>{}</p>", html_escape(description)));
    }
    if let Some(uri) = &response.error_uri {
        body.push_str(&format!("<p>More information: {}</p>", html_escape(uri)));
    }
    body.push_str("<p>You can close this window and return to the application.</p>");
    page("Authentication failed", &body)
}

/// The page for a request that does not end the wait (400, 404, 405, 413, 415).
pub(crate) fn notice_page(title: &str, explanation: &str) -> String {
    page(
        &html_escape(title),
        &format!("<p>{}</p>", html_escape(explanation)),
    )
}

/// The page for a duplicate redirect that arrives after the sign-in completed.
pub(crate) fn already_complete_page() -> String {
    page(
        "Authentication complete",
        "<p>This sign-in has already completed. You can close this window.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(pairs: &[(&str, &str)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    #[test]
    fn code_with_the_right_state_completes() {
        let body = encode(&[
            ("code", "c-1"),
            ("state", "s-1"),
            ("client_info", "eyJ1aWQiOiJ1In0"),
        ]);
        match classify(body.as_bytes(), "s-1").unwrap() {
            RedirectOutcome::Code { code, client_info } => {
                assert_eq!(code.secret(), "c-1");
                assert_eq!(client_info.as_deref(), Some("eyJ1aWQiOiJ1In0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_is_checked_before_error_and_code() {
        let body = encode(&[("error", "access_denied"), ("state", "other")]);
        assert_eq!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::StateMismatch
        );
        let body = encode(&[("code", "c"), ("state", "s-")]);
        assert_eq!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::StateMismatch
        );
        let body = encode(&[("code", "c")]);
        assert_eq!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::MissingState
        );
        assert_eq!(
            classify(b"", "s").unwrap_err(),
            Rejection::NotASignInResponse
        );
        // Python's quirk: a bare "/" must not end the wait.
        assert_eq!(
            classify(b"/", "s").unwrap_err(),
            Rejection::NotASignInResponse
        );
        let body = encode(&[("state", "s")]);
        assert_eq!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::NeitherCodeNorError
        );
    }

    #[test]
    fn errors_keep_their_fields() {
        let body = encode(&[
            ("error", "consent_required"),
            ("error_description", "AADSTS65001: consent"),
            ("error_uri", "https://login.example/error"),
            ("error_codes", "[65001,1]"),
            ("suberror", "consent_required"),
            ("correlation_id", "c-1"),
            ("state", "s"),
        ]);
        match classify(body.as_bytes(), "s").unwrap() {
            RedirectOutcome::Error(r) => {
                assert_eq!(r.error, "consent_required");
                assert_eq!(r.error_description.as_deref(), Some("AADSTS65001: consent"));
                assert_eq!(r.error_codes, vec![65001, 1]);
                assert_eq!(r.suberror.as_deref(), Some("consent_required"));
                assert_eq!(r.correlation_id.as_deref(), Some("c-1"));
                assert_eq!(r.error_uri.as_deref(), Some("https://login.example/error"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_and_floods_are_rejected() {
        let body = encode(&[("state", "s"), ("code", "a"), ("code", "b")]);
        assert_eq!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::DuplicateParameter("code")
        );
        let body = encode(&[("state", "s"), ("state", "s"), ("code", "a")]);
        assert!(matches!(
            classify(body.as_bytes(), "s").unwrap_err(),
            Rejection::DuplicateParameter("state")
        ));
        let flood = "x=1&".repeat(100);
        assert_eq!(
            classify(flood.as_bytes(), "s").unwrap_err(),
            Rejection::TooManyParameters
        );
    }

    #[test]
    fn debug_hides_the_code() {
        let outcome = RedirectOutcome::Code {
            code: Secret::new("CODE-VALUE"),
            client_info: None,
        };
        assert!(!format!("{outcome:?}").contains("CODE-VALUE"));
    }

    #[test]
    fn custom_pages_are_used_and_their_values_escaped_once() {
        let pages = Pages {
            success: Some("<p>Done, {error}</p>".into()),
            failure: Some("<h1>{error}</h1><p>{error_description}</p><p>{other}</p>".into()),
        };
        assert_eq!(pages.success(), "<p>Done, {error}</p>");
        let mut r = ErrorResponse::new("access_denied<script>");
        r.error_description = Some("{error} & <b>".to_owned());
        assert_eq!(
            pages.failure(&r),
            "<h1>access_denied&lt;script&gt;</h1><p>{error} &amp; &lt;b&gt;</p><p>{other}</p>"
        );
        let builtin = Pages::default();
        assert!(builtin.success().contains("Authentication complete"));
        assert!(builtin.failure(&r).contains("access_denied&lt;script&gt;"));
    }

    #[test]
    fn pages_escape_every_echoed_value() {
        let r = ErrorResponse::new("<script>alert(1)</script>")
            .with_description("\"quoted\" & 'single' <b>");
        let html = failure_page(&r);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;quoted&quot; &amp; &#x27;single&#x27; &lt;b&gt;"));
        assert!(success_page().starts_with("<!DOCTYPE html>"));
        assert!(notice_page("<x>", "<y>").contains("&lt;y&gt;"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048),
                                       state in "[A-Za-z0-9_-]{0,30}") {
            let _ = classify(&input, &state);
        }

        #[test]
        fn encoded_redirects_round_trip(code in "\\PC{1,200}", state in "\\PC{1,64}",
                                        junk_key in "[a-z_]{1,12}", junk in "\\PC{0,50}") {
            prop_assume!(!["state","code","error","error_description","error_uri","error_codes",
                "suberror","correlation_id","trace_id","timestamp","client_info"]
                .contains(&junk_key.as_str()));
            let body = encode(&[(&junk_key, &junk), ("code", &code), ("state", &state)]);
            match classify(body.as_bytes(), &state) {
                Ok(RedirectOutcome::Code { code: got, .. }) => prop_assert_eq!(got.secret(), code.as_str()),
                other => prop_assert!(false, "{:?}", other),
            }
            // Any other state is refused.
            let wrong = format!("{state}x");
            prop_assert_eq!(classify(body.as_bytes(), &wrong).unwrap_err(), Rejection::StateMismatch);
        }

        #[test]
        fn escaped_text_has_no_markup(text in "\\PC{0,200}") {
            let escaped = html_escape(&text);
            prop_assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('"'));
        }
    }
}
