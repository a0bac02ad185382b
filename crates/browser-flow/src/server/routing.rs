//! What a request to the loopback server is and what it gets: the one-time start address, the
//! redirect carrying the code (query or form post, within size and time caps), or a refusal.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use entra_core::{Error, constant_time_eq};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use entra_msal_lite::request::ResponseMode;

use crate::error::BrowserFlowError;
use crate::redirect::{self, RedirectOutcome, Rejection};

use super::pages::{notice, respond, start_redirect_response};
use super::state::{AuthCode, Ends, START_PREFIX, Shared, Slot, StartRedirect, claim};

pub(super) const MAX_BODY_BYTES: usize = 16 * 1024;
/// ... and its body within this time.
pub(super) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// What a request to the loopback server was, for the `kind` field of its tracing event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RequestKind {
    /// The one-time start address, first `GET`: `302` to the sign-in page.
    StartRedirect,
    /// The start address with a method other than GET: `405`.
    StartWrongMethod,
    /// The start address fetched again: `410`, and the sign-in ends.
    StartReused,
    /// A `Host` this server does not serve: `421`.
    WrongHost,
    /// The start address or the redirect path from another user's process: `403`.
    OtherUser,
    /// A sign-in response before the start address was fetched: `400`.
    NotStarted,
    /// `/favicon.ico`: `404`.
    Favicon,
    /// Any other path: `404`.
    UnrelatedPath,
    /// The redirect path with the wrong method: `405`.
    WrongMethod,
    /// A form post that is not a form: `415`.
    UnsupportedMediaType,
    /// A body too large or incomplete: `413`.
    TooLarge,
    /// A body that did not arrive in time: `408`.
    BodyTimeout,
    /// Parameters that are not a sign-in response: `400`.
    BadRequest,
    /// A sign-in response with another `state`: `400`.
    StateMismatch,
    /// The sign-in response with a code: `200`, success page.
    Code,
    /// The sign-in response with an error: `200`, failure page.
    ErrorRedirect,
    /// A second valid response after the first: `200`, "already complete".
    AlreadyComplete,
}

impl RequestKind {
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            Self::StartRedirect => "start_redirect",
            Self::StartWrongMethod => "start_wrong_method",
            Self::StartReused => "start_reused",
            Self::WrongHost => "wrong_host",
            Self::OtherUser => "other_user",
            Self::NotStarted => "not_started",
            Self::Favicon => "favicon",
            Self::UnrelatedPath => "unrelated_path",
            Self::WrongMethod => "wrong_method",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::BodyTimeout => "body_timeout",
            Self::BadRequest => "bad_request",
            Self::StateMismatch => "state_mismatch",
            Self::Code => "authorization_code",
            Self::ErrorRedirect => "error_redirect",
            Self::AlreadyComplete => "already_complete",
        }
    }
}

/// The start address: its first `GET` redirects to the sign-in page; a second one ends the
/// sign-in (someone else has the link).
pub(super) fn start_address(
    req: &Request<Incoming>,
    start: &StartRedirect,
    shared: &Shared,
    slot: &Slot,
) -> (RequestKind, Response<Full<Bytes>>) {
    use RequestKind as K;
    if req.method() != Method::GET {
        return (
            K::StartWrongMethod,
            notice(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "Open this address in a browser to sign in.",
            ),
        );
    }
    if !shared.start_opened.swap(true, Ordering::AcqRel) {
        return (
            K::StartRedirect,
            start_redirect_response(start.location.secret()),
        );
    }
    let stopped = claim(
        shared,
        slot,
        Err(BrowserFlowError::StartAddressReused.into()),
    );
    let explanation = if stopped {
        "This sign-in link was already used, so the sign-in was stopped for your safety. \
         Start the sign-in again from your application."
    } else {
        "This sign-in link was already used."
    };
    (
        K::StartReused,
        notice(StatusCode::GONE, "Sign-in link already used", explanation),
    )
}

pub(super) async fn route(
    req: Request<Incoming>,
    shared: &Shared,
    slot: &Slot,
    ends: Ends,
) -> (RequestKind, Response<Full<Bytes>>) {
    use RequestKind as K;
    if !host_allowed(&req, &shared.hosts) {
        return (
            K::WrongHost,
            notice(
                StatusCode::MISDIRECTED_REQUEST,
                "Wrong address",
                "This server only answers requests addressed to the sign-in's redirect address.",
            ),
        );
    }
    let path = req.uri().path();
    let start = shared
        .start
        .as_ref()
        .filter(|s| path.starts_with(START_PREFIX) && constant_time_eq(path, s.path.secret()));
    if (start.is_some() || path == shared.path) && !ends.peer_allowed() {
        return (
            K::OtherUser,
            notice(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "This sign-in belongs to another user of this machine.",
            ),
        );
    }
    if let Some(start) = start {
        return start_address(&req, start, shared, slot);
    }
    if path != shared.path {
        let kind = if req.uri().path() == "/favicon.ico" {
            K::Favicon
        } else {
            K::UnrelatedPath
        };
        return (
            kind,
            notice(
                StatusCode::NOT_FOUND,
                "Not found",
                "This address only accepts the sign-in response.",
            ),
        );
    }
    if shared.start.is_some() && !shared.start_opened.load(Ordering::Acquire) {
        // The browser has not even been to the start address: this response cannot belong
        // to the sign-in this server started.
        return (
            K::NotStarted,
            notice(
                StatusCode::BAD_REQUEST,
                "Unexpected sign-in response",
                "This sign-in response does not belong to a sign-in started here.",
            ),
        );
    }
    let expected = match shared.mode {
        ResponseMode::Query => Method::GET,
        _ => Method::POST,
    };
    if req.method() != expected {
        let mut response = notice(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This address only accepts the sign-in response.",
        );
        if let Ok(allow) = HeaderValue::from_str(expected.as_str()) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return (K::WrongMethod, response);
    }
    let params: Bytes = if expected == Method::GET {
        Bytes::copy_from_slice(req.uri().query().unwrap_or("").as_bytes())
    } else {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return (
                K::UnsupportedMediaType,
                notice(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Unsupported media type",
                    "The sign-in response must be a form (application/x-www-form-urlencoded).",
                ),
            );
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return (
                K::TooLarge,
                notice(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request too large",
                    "The request body is larger than any sign-in response.",
                ),
            );
        }
        let body = Limited::new(req.into_body(), MAX_BODY_BYTES);
        match tokio::time::timeout(BODY_READ_TIMEOUT, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => {
                return (
                    K::TooLarge,
                    notice(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request too large",
                        "The request body is larger than any sign-in response or incomplete.",
                    ),
                );
            }
            Err(_) => {
                return (
                    K::BodyTimeout,
                    notice(
                        StatusCode::REQUEST_TIMEOUT,
                        "Request timeout",
                        "The request body did not arrive in time.",
                    ),
                );
            }
        }
    };
    match redirect::classify(&params, shared.expected_state.secret()) {
        Err(rejection) => {
            tracing::debug!(
                ?rejection,
                "loopback server: request does not complete the sign-in (400)"
            );
            let (kind, title) = if rejection == Rejection::StateMismatch {
                (K::StateMismatch, "Unexpected sign-in response")
            } else {
                (K::BadRequest, "Bad request")
            };
            (
                kind,
                notice(StatusCode::BAD_REQUEST, title, rejection.explanation()),
            )
        }
        Ok(outcome) => {
            let (kind, page, result) = match outcome {
                RedirectOutcome::Code { code, client_info } => {
                    tracing::debug!("loopback server: authorization code received");
                    (
                        K::Code,
                        shared.pages.success(),
                        Ok(AuthCode { code, client_info }),
                    )
                }
                RedirectOutcome::Error(response) => {
                    tracing::debug!(error = %response.error, "loopback server: the authority redirected with an error");
                    let page = shared.pages.failure(&response);
                    (
                        K::ErrorRedirect,
                        page,
                        Err(Error::from_error_response(None, response)),
                    )
                }
            };
            if !claim(shared, slot, result) {
                return (
                    K::AlreadyComplete,
                    respond(StatusCode::OK, redirect::already_complete_page()),
                );
            }
            (kind, respond(StatusCode::OK, page))
        }
    }
}

/// Whether the request's `Host` (or absolute-form authority) is one this server serves.
pub(super) fn host_allowed(req: &Request<Incoming>, hosts: &[String]) -> bool {
    let given = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    given.is_some_and(|h| hosts.iter().any(|allowed| h.eq_ignore_ascii_case(allowed)))
}
