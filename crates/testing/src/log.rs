//! The request log: every request the mock received, to assert on.

use std::fmt;

use crate::Endpoint;

/// One request the mock received.
///
/// The log keeps secrets (codes, verifiers, refresh tokens in form fields): it is a test tool.
/// `Debug` shows only the method, path, endpoint, status and the *names* of the fields.
#[derive(Clone)]
pub struct RecordedRequest {
    pub(crate) endpoint: Endpoint,
    pub(crate) method: String,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) status: Option<u16>,
    pub(crate) fault: bool,
}

impl RecordedRequest {
    /// Which endpoint the request was routed to.
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The method, e.g. `POST`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The `Host` header the client sent (e.g. `login.microsoftonline.com` or `localhost:PORT`).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path, e.g. `/organizations/oauth2/v2.0/token`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tenant segment of the path (`organizations`, a GUID, `adfs`, ...), if the path has one.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|s| !s.is_empty())
    }

    /// The decoded query parameters, in order.
    #[must_use]
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first query parameter called `name`.
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<&str> {
        crate::util::pair(&self.query, name)
    }

    /// The decoded `application/x-www-form-urlencoded` body fields, in order.
    #[must_use]
    pub fn form(&self) -> &[(String, String)] {
        &self.form
    }

    /// The first form field called `name`.
    #[must_use]
    pub fn form_param(&self, name: &str) -> Option<&str> {
        crate::util::pair(&self.form, name)
    }

    /// The headers (names lower case), in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first header called `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        crate::util::pair(&self.headers, &name)
    }

    /// The status the mock answered, or `None` when it closed the connection instead (or has
    /// not answered yet).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether an injected [`Fault`](crate::Fault) answered this request.
    #[must_use]
    pub fn was_faulted(&self) -> bool {
        self.fault
    }

    /// For token requests: the `grant_type` field.
    #[must_use]
    pub fn grant_type(&self) -> Option<&str> {
        self.form_param("grant_type")
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let query: Vec<&str> = self.query.iter().map(|(k, _)| k.as_str()).collect();
        let form: Vec<&str> = self.form.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RecordedRequest")
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query_names", &query)
            .field("form_names", &form)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
