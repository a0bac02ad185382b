//! The one error type every credential returns, with a kind a caller can match on.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: match on it to decide what to do next.
///
/// The four kinds are Python azure-identity's: `ValueError` ([`InvalidArgument`]),
/// `CredentialUnavailableError` ([`CredentialUnavailable`]), `ClientAuthenticationError`
/// ([`ClientAuthentication`]) and `AuthenticationRequiredError` ([`AuthenticationRequired`]).
///
/// [`InvalidArgument`]: ErrorKind::InvalidArgument
/// [`CredentialUnavailable`]: ErrorKind::CredentialUnavailable
/// [`ClientAuthentication`]: ErrorKind::ClientAuthentication
/// [`AuthenticationRequired`]: ErrorKind::AuthenticationRequired
///
/// ```
/// use entra_core::{Error, ErrorKind};
///
/// fn next_step(error: &Error) -> &'static str {
///     match error.kind() {
///         ErrorKind::CredentialUnavailable => "try the next credential",
///         ErrorKind::AuthenticationRequired { .. } => "call authenticate with these scopes",
///         ErrorKind::ClientAuthentication { .. } => "report: the sign-in failed",
///         _ => "fix the call",
///     }
/// }
/// let error = Error::authentication_required(&["https://graph.microsoft.com/.default"], None);
/// assert_eq!(next_step(&error), "call authenticate with these scopes");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credential cannot try to authenticate: it lacks data, state or platform support
    /// (no browser could be opened, no loopback port could be bound). A chain of credentials
    /// moves on to the next one.
    CredentialUnavailable,
    /// Authentication was tried and failed: the identity provider refused, a network or cache
    /// error happened, the user did not finish in time.
    #[non_exhaustive]
    ClientAuthentication {
        /// The HTTP status of the failed response, when there was one.
        status: Option<u16>,
        /// Entra ID's error response, when the service sent one.
        response: Option<Box<ErrorResponse>>,
    },
    /// User interaction is needed and the credential may not start it by itself
    /// (`disable_automatic_authentication`). Pass `scopes` and `claims` straight to the
    /// credential's `authenticate`.
    #[non_exhaustive]
    AuthenticationRequired {
        /// The scopes of the request that needs interaction.
        scopes: Vec<String>,
        /// The claims of that request, if it had any.
        claims: Option<String>,
    },
    /// An argument is wrong (scope, tenant id, URI, authority, serialized record): fix the
    /// call; retrying it unchanged fails the same way.
    InvalidArgument,
}

/// An Entra ID (OAuth 2.0) error response, kept as data.
///
/// Fields are those Entra ID sends in a token endpoint error or an `error` redirect. None of
/// them holds a secret.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The OAuth error code, e.g. `invalid_grant`, `interaction_required`, `access_denied`.
    pub error: String,
    /// The human-readable description (starts with `AADSTSnnnnn:` for Entra ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// Entra ID's numeric error codes (`AADSTS` numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<i64>,
    /// A finer classification, e.g. `basic_action`, `consent_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// A claims challenge the client must send back in a new request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// Entra ID's correlation id: quote it in a support request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Entra ID's trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// When the service produced the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// A link to more information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl ErrorResponse {
    /// An error response with just the OAuth error code.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            ..Self::default()
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// `error_description` if present and non-empty, else `error`: what Python shows after
    /// "Authentication failed: ".
    #[must_use]
    pub fn summary(&self) -> &str {
        match self.error_description.as_deref() {
            Some(d) if !d.trim().is_empty() => d,
            _ => &self.error,
        }
    }
}

/// Why an error happened, as data: what help links and callers decide from (never the
/// message text). Set by the layer that knows (the loopback server, the cache, the authority
/// library); [`Reason::Other`] when no finer reason applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No finer reason is known.
    #[default]
    Other,
    /// No browser could be opened.
    BrowserUnavailable,
    /// The loopback redirect server could not bind its port.
    PortInUse,
    /// The user did not finish signing in within the timeout.
    Timeout,
    /// The one-time sign-in link was opened twice (another program may have read it).
    SignInLinkReused,
    /// A pasted sign-in address was refused.
    PastedAddressRefused,
    /// The persistent cache cannot be encrypted: no usable OS keyring.
    KeyringUnavailable,
    /// The cache file cannot be read: corrupt, undecryptable, not a file, too large.
    CacheUnreadable,
    /// The cache's directory or lock file could be abused by another user.
    CacheLocationUnsafe,
    /// The cache's lock was held too long by another process.
    CacheLocked,
    /// Instance discovery refused the authority, or could not validate it.
    InvalidInstance,
    /// The authority's OpenID configuration could not be read.
    TenantDiscovery,
    /// The requested tenant is not allowed by `additionally_allowed_tenants`.
    TenantNotAllowed,
    /// The configured authority or client id differs from the authentication record's.
    RecordMismatch,
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error of every credential operation.
///
/// It carries a [`kind`](Error::kind) to match on, the name of the credential that failed, a
/// message that says what to do next, an optional link to the troubleshooting guide, and the
/// lower-level cause as [`source`](StdError::source) (never repeated in the message).
///
/// No message, field or source of an `Error` holds a token, code, verifier or `state`.
///
/// `Clone` shares the source (it is held in an `Arc`), so every caller waiting on one
/// acquisition gets the same error, with the same source, reason and help link.
///
/// ```
/// use entra_core::{Error, ErrorKind};
///
/// let err = Error::authentication_required(&["https://graph.microsoft.com/.default"], None)
///     .with_credential("InteractiveBrowserCredential");
/// match err.kind() {
///     ErrorKind::AuthenticationRequired { scopes, claims, .. } => {
///         assert_eq!(scopes, &["https://graph.microsoft.com/.default"]);
///         assert!(claims.is_none());
///     }
///     _ => unreachable!(),
/// }
/// assert!(err.to_string().starts_with("InteractiveBrowserCredential: "));
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    reason: Reason,
    credential: Option<Cow<'static, str>>,
    message: Cow<'static, str>,
    help: Option<Cow<'static, str>>,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
    /// Whether `source` is a lower layer's error whose text `message` already says (see
    /// [`Error::with_lower`]): then `source()` goes on with its own source.
    said: bool,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            kind,
            reason: Reason::Other,
            credential: None,
            message: message.into(),
            help: None,
            source: None,
            said: false,
        }))
    }

    /// [`ErrorKind::CredentialUnavailable`].
    pub fn credential_unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::CredentialUnavailable, message)
    }

    /// [`ErrorKind::ClientAuthentication`] with no HTTP response.
    pub fn client_authentication(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorKind::ClientAuthentication {
                status: None,
                response: None,
            },
            message,
        )
    }

    /// [`ErrorKind::ClientAuthentication`] for an Entra ID error response. The message is
    /// Python's: `Authentication failed: <error_description or error>`.
    pub fn from_error_response(status: Option<u16>, response: ErrorResponse) -> Self {
        let message = format!("Authentication failed: {}", response.summary());
        Self::new(
            ErrorKind::ClientAuthentication {
                status,
                response: Some(Box::new(response)),
            },
            message,
        )
    }

    /// [`ErrorKind::AuthenticationRequired`] with Python's default message.
    pub fn authentication_required<S: AsRef<str>>(scopes: &[S], claims: Option<&str>) -> Self {
        Self::new(
            ErrorKind::AuthenticationRequired {
                scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
                claims: claims.filter(|c| !c.is_empty()).map(str::to_owned),
            },
            "Interactive authentication is required to get a token. Call 'authenticate' to begin.",
        )
    }

    /// [`ErrorKind::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Names the credential that failed (shown first in `Display`).
    #[must_use]
    pub fn with_credential(mut self, credential: impl Into<Cow<'static, str>>) -> Self {
        self.0.credential = Some(credential.into());
        self
    }

    /// Sets the typed [`Reason`].
    #[must_use]
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.0.reason = reason;
        self
    }

    /// The typed [`Reason`] ([`Reason::Other`] when none was set).
    #[must_use]
    pub fn reason(&self) -> Reason {
        self.0.reason
    }

    /// Adds a link to the troubleshooting guide (shown last in `Display`).
    #[must_use]
    pub fn with_help(mut self, help: impl Into<Cow<'static, str>>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// Sets the lower-level cause, reachable through [`source`](StdError::source). The
    /// message should not repeat it: a report walks the sources and says each cause once.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(Arc::from(source.into()));
        self.0.said = false;
        self
    }

    /// Keeps `lower`, the typed error of a lower layer that this error was converted from and
    /// whose text the message already says (how `From<MsalError>` and `From<CacheError>`
    /// convert). `lower` is reachable by type with [`find_cause`](Self::find_cause);
    /// [`source`](StdError::source) goes on with `lower`'s own source, so a report that walks
    /// the chain says each cause once.
    ///
    /// ```
    /// use entra_core::Error;
    ///
    /// #[derive(Debug)]
    /// struct Corrupt;
    /// impl std::fmt::Display for Corrupt {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("the cache file is not JSON")
    ///     }
    /// }
    /// impl std::error::Error for Corrupt {}
    ///
    /// let err = Error::client_authentication(format!("Authentication failed: {}", Corrupt))
    ///     .with_lower(Corrupt);
    /// assert!(err.find_cause::<Corrupt>().is_some());
    /// assert!(std::error::Error::source(&err).is_none()); // said once, in the message
    /// ```
    #[must_use]
    pub fn with_lower(mut self, lower: impl Into<BoxError>) -> Self {
        self.0.source = Some(Arc::from(lower.into()));
        self.0.said = true;
        self
    }

    /// The first error of type `T` among the lower error this one was converted from (see
    /// [`with_lower`](Self::with_lower)) and the chain of sources: how a caller decides from
    /// a lower layer's typed error.
    #[must_use]
    pub fn find_cause<T: StdError + 'static>(&self) -> Option<&T> {
        let mut next = self
            .0
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static));
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<T>() {
                return Some(found);
            }
            next = error.source();
        }
        None
    }

    /// Sets the HTTP status of a [`ClientAuthentication`](ErrorKind::ClientAuthentication)
    /// error; no effect on other kinds.
    #[must_use]
    pub fn with_status(mut self, new_status: u16) -> Self {
        if let ErrorKind::ClientAuthentication { status, .. } = &mut self.0.kind {
            *status = Some(new_status);
        }
        self
    }

    /// Attaches Entra ID's error response to a
    /// [`ClientAuthentication`](ErrorKind::ClientAuthentication) error while keeping this
    /// error's message (e.g. a message rewritten to tell the user what to do); no effect on
    /// other kinds.
    #[must_use]
    pub fn with_error_response(mut self, new_response: ErrorResponse) -> Self {
        if let ErrorKind::ClientAuthentication { response, .. } = &mut self.0.kind {
            *response = Some(Box::new(new_response));
        }
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// This layer's message, without the credential name, help link or source.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The credential that failed, if it said.
    #[must_use]
    pub fn credential(&self) -> Option<&str> {
        self.0.credential.as_deref()
    }

    /// The troubleshooting link, if any.
    #[must_use]
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// Whether this is [`ErrorKind::CredentialUnavailable`].
    #[must_use]
    pub fn is_credential_unavailable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::CredentialUnavailable)
    }

    /// Whether this is [`ErrorKind::ClientAuthentication`].
    #[must_use]
    pub fn is_client_authentication(&self) -> bool {
        matches!(self.0.kind, ErrorKind::ClientAuthentication { .. })
    }

    /// Whether this is [`ErrorKind::AuthenticationRequired`].
    #[must_use]
    pub fn is_authentication_required(&self) -> bool {
        matches!(self.0.kind, ErrorKind::AuthenticationRequired { .. })
    }

    /// Whether this is [`ErrorKind::InvalidArgument`].
    #[must_use]
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self.0.kind, ErrorKind::InvalidArgument)
    }

    /// The Entra ID error response of a client-authentication error, if there was one.
    #[must_use]
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match &self.0.kind {
            ErrorKind::ClientAuthentication { response, .. } => response.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of a client-authentication error, if there was one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match &self.0.kind {
            ErrorKind::ClientAuthentication { status, .. } => *status,
            _ => None,
        }
    }

    /// The scopes of an authentication-required error.
    #[must_use]
    pub fn scopes(&self) -> Option<&[String]> {
        match &self.0.kind {
            ErrorKind::AuthenticationRequired { scopes, .. } => Some(scopes),
            _ => None,
        }
    }

    /// The claims of an authentication-required error, or the claims challenge of an Entra
    /// ID error response.
    #[must_use]
    pub fn claims(&self) -> Option<&str> {
        match &self.0.kind {
            ErrorKind::AuthenticationRequired { claims, .. } => claims.as_deref(),
            ErrorKind::ClientAuthentication { response, .. } => {
                response.as_ref().and_then(|r| r.claims.as_deref())
            }
            _ => None,
        }
    }

    /// A short name of the kind, for command-line output and logs: `unavailable`,
    /// `authentication failed`, `authentication required`, `invalid argument`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self.0.kind {
            ErrorKind::CredentialUnavailable => "unavailable",
            ErrorKind::ClientAuthentication { .. } => "authentication failed",
            ErrorKind::AuthenticationRequired { .. } => "authentication required",
            ErrorKind::InvalidArgument => "invalid argument",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(credential) = &self.0.credential {
            write!(f, "{credential}: ")?;
        }
        // Messages may quote outside text (an Entra error description, a username): shown
        // escaped where a terminal would act on it.
        write!(f, "{}", crate::Untrusted(&self.0.message))?;
        if let Some(help) = &self.0.help {
            write!(f, " See {help}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if self.0.reason != Reason::Other {
            d.field("reason", &self.0.reason);
        }
        if let Some(credential) = &self.0.credential {
            d.field("credential", credential);
        }
        d.field("message", &self.0.message);
        if let Some(help) = &self.0.help {
            d.field("help", help);
        }
        if let Some(source) = &self.0.source {
            d.field(if self.0.said { "lower" } else { "source" }, source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.0.source.as_deref()?;
        if self.0.said {
            source.source()
        } else {
            Some(source as &(dyn StdError + 'static))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessToken, AccessTokenInfo};
    use time::OffsetDateTime;

    #[derive(Debug)]
    struct Holder {
        #[allow(dead_code)] // read only through Debug, which is the point of the test
        token: AccessToken,
        #[allow(dead_code)]
        info: AccessTokenInfo,
    }

    impl fmt::Display for Holder {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "holder of {:?}", self.token)
        }
    }

    impl StdError for Holder {}

    #[test]
    fn errors_holding_tokens_never_show_them() {
        let holder = Holder {
            token: AccessToken::new("SECRET-AT", OffsetDateTime::UNIX_EPOCH),
            info: AccessTokenInfo::new("SECRET-INFO", OffsetDateTime::UNIX_EPOCH),
        };
        let err = Error::client_authentication("Authentication failed: refresh failed")
            .with_credential("InteractiveBrowserCredential")
            .with_source(holder);
        let mut texts = vec![format!("{err}"), format!("{err:?}"), format!("{err:#?}")];
        let mut source = err.source();
        while let Some(s) = source {
            texts.push(s.to_string());
            texts.push(format!("{s:?}"));
            source = s.source();
        }
        for text in texts {
            assert!(!text.contains("SECRET"), "{text}");
        }
    }

    #[test]
    fn kinds_are_typed_and_matchable() {
        let e = Error::credential_unavailable("Failed to open a browser");
        assert!(e.is_credential_unavailable());
        assert_eq!(e.kind_name(), "unavailable");
        let e = Error::invalid_argument("bad");
        assert!(e.is_invalid_argument());
        assert_eq!(e.kind(), &ErrorKind::InvalidArgument);
        let e = Error::authentication_required(&["a", "b"], Some("{\"x\":1}"));
        assert!(e.is_authentication_required());
        assert_eq!(e.scopes(), Some(&["a".to_owned(), "b".to_owned()][..]));
        assert_eq!(e.claims(), Some("{\"x\":1}"));
        assert_eq!(
            e.message(),
            "Interactive authentication is required to get a token. Call 'authenticate' to begin."
        );
        // An empty claims string means none.
        let e = Error::authentication_required(&["a"], Some(""));
        assert_eq!(e.claims(), None);
    }

    #[test]
    fn service_errors_keep_their_fields_as_data() {
        let response: ErrorResponse = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"AADSTS70000: The grant is expired.",
                "error_codes":[70000,50173],"suberror":"bad_token","correlation_id":"c-1",
                "trace_id":"t-1","timestamp":"2026-11-24 10:00:00Z","claims":"{\"access_token\":{}}",
                "unknown_field":true}"#,
        )
        .unwrap();
        let e = Error::from_error_response(Some(400), response).with_credential("Cred");
        assert!(e.is_client_authentication());
        assert_eq!(e.status(), Some(400));
        let r = e.error_response().unwrap();
        assert_eq!(r.error, "invalid_grant");
        assert_eq!(r.error_codes, vec![70000, 50173]);
        assert_eq!(r.suberror.as_deref(), Some("bad_token"));
        assert_eq!(r.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(r.trace_id.as_deref(), Some("t-1"));
        assert_eq!(e.claims(), Some("{\"access_token\":{}}"));
        assert_eq!(
            e.to_string(),
            "Cred: Authentication failed: AADSTS70000: The grant is expired."
        );
        // Without a description the code is the summary.
        let e = Error::from_error_response(None, ErrorResponse::new("access_denied"));
        assert_eq!(e.message(), "Authentication failed: access_denied");
        assert_eq!(e.with_status(401).status(), Some(401));
        // A custom message can carry the response too.
        let e = Error::client_authentication("The authority is not well-known.")
            .with_error_response(ErrorResponse::new("invalid_instance"));
        assert_eq!(e.message(), "The authority is not well-known.");
        assert_eq!(
            e.error_response().map(|r| r.error.as_str()),
            Some("invalid_instance")
        );
        let e = Error::invalid_argument("x").with_error_response(ErrorResponse::new("y"));
        assert!(e.error_response().is_none());
    }

    #[test]
    fn sources_are_chained_not_repeated() {
        let io = std::io::Error::other("connection reset by peer");
        let e = Error::client_authentication("Authentication failed: the token request failed")
            .with_credential("InteractiveBrowserCredential")
            .with_help("https://aka.example/troubleshoot#network");
        let e = e.with_source(io);
        let text = e.to_string();
        assert!(!text.contains("connection reset"), "{text}");
        assert!(text.ends_with("See https://aka.example/troubleshoot#network"));
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("connection reset by peer")
        );
        assert_eq!(e.help(), Some("https://aka.example/troubleshoot#network"));
        assert_eq!(e.credential(), Some("InteractiveBrowserCredential"));
    }

    /// A lower layer's error whose text the message says: found by type, not said again by
    /// the chain, which goes on with its own cause.
    #[test]
    fn a_converted_lower_error_is_found_by_type_and_said_once() {
        #[derive(Debug)]
        struct Lower(std::io::Error);
        impl fmt::Display for Lower {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the token request failed")
            }
        }
        impl StdError for Lower {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let lower = Lower(std::io::Error::other("connection reset by peer"));
        let e = Error::client_authentication(format!("Authentication failed: {lower}"))
            .with_lower(lower);
        let mut chain = vec![e.to_string()];
        let mut next = e.source();
        while let Some(s) = next {
            chain.push(s.to_string());
            next = s.source();
        }
        assert_eq!(
            chain,
            [
                "Authentication failed: the token request failed",
                "connection reset by peer"
            ]
        );
        assert!(e.find_cause::<Lower>().is_some());
        assert_eq!(
            e.find_cause::<std::io::Error>()
                .map(ToString::to_string)
                .as_deref(),
            Some("connection reset by peer")
        );
        assert!(e.find_cause::<fmt::Error>().is_none());
        // Clones share it.
        assert!(e.clone().find_cause::<Lower>().is_some());
        assert!(format!("{e:?}").contains("lower"));
    }
}
