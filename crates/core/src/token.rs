//! Access tokens and the options of a token request.

use std::fmt;

use time::OffsetDateTime;

use crate::Secret;

/// An access token and when it expires: what [`TokenCredential::get_token`] returns.
///
/// Python: `azure.core.credentials.AccessToken`. `Debug` never shows the token.
///
/// ```
/// use entra_core::AccessToken;
/// use entra_core::time::{Duration, OffsetDateTime};
///
/// let token = AccessToken::new("eyJ0eXAi...", OffsetDateTime::now_utc() + Duration::hours(1));
/// let header = format!("Bearer {}", token.token.secret());
/// assert!(header.starts_with("Bearer eyJ"));
/// assert!(!format!("{token:?}").contains("eyJ"), "Debug hides the token");
/// ```
///
/// [`TokenCredential::get_token`]: crate::TokenCredential::get_token
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    /// The token to send as `Authorization: Bearer <token>`.
    pub token: Secret,
    /// When the token expires.
    pub expires_on: OffsetDateTime,
}

impl AccessToken {
    /// Creates an access token.
    pub fn new(token: impl Into<Secret>, expires_on: OffsetDateTime) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// An access token with the extra properties a token response carries: what
/// [`TokenCredential::get_token_info`] returns.
///
/// Python: `azure.core.credentials.AccessTokenInfo`. Unlike Python's, this type's `Debug`
/// never shows the token.
///
/// ```
/// use entra_core::AccessTokenInfo;
/// use entra_core::time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::now_utc();
/// let info = AccessTokenInfo::new("eyJ0eXAi...", now + Duration::hours(1))
///     .with_refresh_on(Some(now + Duration::minutes(30)));
/// assert_eq!(info.token_type, "Bearer");
/// // A caller that keeps the token asks again once `refresh_on` has passed.
/// let ask_again_at = info.refresh_on.unwrap_or(info.expires_on);
/// assert!(ask_again_at < info.expires_on);
/// ```
///
/// [`TokenCredential::get_token_info`]: crate::TokenCredential::get_token_info
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessTokenInfo {
    /// The token to send as `Authorization: <token_type> <token>`.
    pub token: Secret,
    /// When the token expires.
    pub expires_on: OffsetDateTime,
    /// The token type, `Bearer` unless the service said otherwise.
    pub token_type: String,
    /// When the token should be refreshed proactively, if the service said (`refresh_in`).
    pub refresh_on: Option<OffsetDateTime>,
}

impl AccessTokenInfo {
    /// Creates a `Bearer` token with no `refresh_on`.
    pub fn new(token: impl Into<Secret>, expires_on: OffsetDateTime) -> Self {
        Self {
            token: token.into(),
            expires_on,
            token_type: "Bearer".to_owned(),
            refresh_on: None,
        }
    }

    /// Sets the token type.
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets when the token should be refreshed.
    #[must_use]
    pub fn with_refresh_on(mut self, refresh_on: Option<OffsetDateTime>) -> Self {
        self.refresh_on = refresh_on;
        self
    }
}

impl fmt::Debug for AccessTokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenInfo")
            .field("token", &self.token)
            .field("expires_on", &self.expires_on)
            .field("token_type", &self.token_type)
            .field("refresh_on", &self.refresh_on)
            .finish()
    }
}

impl From<AccessTokenInfo> for AccessToken {
    fn from(info: AccessTokenInfo) -> Self {
        Self {
            token: info.token,
            expires_on: info.expires_on,
        }
    }
}

/// Options of one token request. Python: `azure.core.credentials.TokenRequestOptions`.
///
/// ```
/// use entra_core::TokenRequestOptions;
///
/// let options = TokenRequestOptions::default()
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_enable_cae(true);
/// assert_eq!(options.tenant_id.as_deref(), Some("contoso.onmicrosoft.com"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequestOptions {
    /// Additional claims the token must carry, as JSON: typically a resource's claims
    /// challenge after a `401` with `WWW-Authenticate: ... claims="..."`. A request with claims
    /// never takes a cached access token.
    pub claims: Option<String>,
    /// The tenant to request the token from, instead of the credential's own (subject to
    /// the credential's `additionally_allowed_tenants`).
    pub tenant_id: Option<String>,
    /// Ask for a token that supports Continuous Access Evaluation (CAE). CAE tokens are
    /// cached apart from the others.
    pub enable_cae: bool,
}

impl TokenRequestOptions {
    /// Sets [`claims`](Self::claims). An empty string means none, as in Python.
    #[must_use]
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        let claims = claims.into();
        self.claims = (!claims.is_empty()).then_some(claims);
        self
    }

    /// Sets [`tenant_id`](Self::tenant_id). An empty string means none, as in Python.
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        let tenant_id = tenant_id.into();
        self.tenant_id = (!tenant_id.is_empty()).then_some(tenant_id);
        self
    }

    /// Sets [`enable_cae`](Self::enable_cae).
    #[must_use]
    pub fn with_enable_cae(mut self, enable_cae: bool) -> Self {
        self.enable_cae = enable_cae;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_token() {
        let at = AccessToken::new("at-VALUE-123", OffsetDateTime::UNIX_EPOCH);
        let info = AccessTokenInfo::new("info-VALUE-456", OffsetDateTime::UNIX_EPOCH)
            .with_refresh_on(Some(OffsetDateTime::UNIX_EPOCH));
        for text in [
            format!("{at:?}"),
            format!("{at:#?}"),
            format!("{info:?}"),
            format!("{info:#?}"),
        ] {
            assert!(!text.contains("VALUE"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn info_converts_to_token() {
        let info = AccessTokenInfo::new("t", OffsetDateTime::UNIX_EPOCH).with_token_type("PoP");
        assert_eq!(info.token_type, "PoP");
        let at: AccessToken = info.into();
        assert_eq!(at.token.secret(), "t");
        assert_eq!(at.expires_on, OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn empty_option_strings_mean_none() {
        let o = TokenRequestOptions::default()
            .with_claims("")
            .with_tenant_id("");
        assert_eq!(o, TokenRequestOptions::default());
        let o = TokenRequestOptions::default()
            .with_claims("{}")
            .with_tenant_id("t");
        assert_eq!(o.claims.as_deref(), Some("{}"));
        assert_eq!(o.tenant_id.as_deref(), Some("t"));
        assert!(!o.enable_cae);
    }
}
