//! The loopback server's own responses: the pages a sign-in ends on, short notices for refused
//! requests, and the start address's redirect.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::redirect::{self};

pub(super) fn respond(status: StatusCode, html: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

pub(super) fn notice(status: StatusCode, title: &str, explanation: &str) -> Response<Full<Bytes>> {
    respond(status, redirect::notice_page(title, explanation))
}

/// `302` to the sign-in page, with a tiny page in case the browser does not follow it.
pub(super) fn start_redirect_response(location: &str) -> Response<Full<Bytes>> {
    let mut response = respond(
        StatusCode::FOUND,
        redirect::notice_page("Signing in", "Continuing to the sign-in page."),
    );
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => notice(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in unavailable",
            "The sign-in address is not a valid URL.",
        ),
    }
}
