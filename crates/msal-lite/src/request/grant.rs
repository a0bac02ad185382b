//! The backchannel: token request forms (`TokenRequest`), the headers every request carries, and the code-redemption and refresh grants.

use super::*;

/// A form value; secret ones never show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum FormValue {
    Plain(String),
    Secret(Secret),
}

impl FormValue {
    fn as_str(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Secret(s) => s.secret(),
        }
    }
}

/// A token endpoint request, built with no I/O: URL, headers and form. `Debug` redacts the
/// code, verifier and refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    url: Url,
    headers: Vec<(&'static str, String)>,
    form: Vec<(&'static str, FormValue)>,
    correlation_id: Uuid,
}

impl TokenRequest {
    /// An empty form POST to `url` with the standard headers and a new correlation id: the
    /// start of any request to the authority's backchannel (a grant this crate has no type
    /// for, or extra parameters on one it has). Add fields with
    /// [`with_param`](Self::with_param) and [`with_secret_param`](Self::with_secret_param).
    ///
    /// ```
    /// use entra_core::Secret;
    /// use entra_msal_lite::TokenRequest;
    ///
    /// let url = url::Url::parse("https://login.microsoftonline.com/common/oauth2/v2.0/token")?;
    /// let request = TokenRequest::form(&url)
    ///     .with_param("grant_type", "urn:example:grant")
    ///     .with_secret_param("assertion", Secret::new("never-shown"));
    /// assert_eq!(request.grant_type(), "urn:example:grant");
    /// assert!(!format!("{request:?}").contains("never-shown"));
    /// # Ok::<(), url::ParseError>(())
    /// ```
    #[must_use]
    pub fn form(url: &Url) -> Self {
        token_request(url, Vec::new(), None)
    }

    /// Adds (or replaces) a plain form field.
    #[must_use]
    pub fn with_param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.set(name, FormValue::Plain(value.into()));
        self
    }

    /// Adds (or replaces) a secret form field: never shown by `Debug`.
    #[must_use]
    pub fn with_secret_param(mut self, name: &'static str, value: Secret) -> Self {
        self.set(name, FormValue::Secret(value));
        self
    }

    /// Adds (or replaces) a header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => *v = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    fn set(&mut self, name: &'static str, value: FormValue) {
        match self.form.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.form.push((name, value)),
        }
    }

    /// The token endpoint.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers (names as sent).
    #[must_use]
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// A header's value (case-insensitive name).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A form field's value. **Exposes secrets** (`code`, `code_verifier`,
    /// `refresh_token`): for tests and the transport only.
    #[must_use]
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The names of the form fields, in order.
    pub fn form_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.form.iter().map(|(n, _)| *n)
    }

    /// The `application/x-www-form-urlencoded` body (a secret: it holds the grant).
    #[must_use]
    pub fn encoded_body(&self) -> Secret {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.form {
            ser.append_pair(name, value.as_str());
        }
        Secret::new(ser.finish())
    }

    /// The `client-request-id` sent (quote it when reporting a problem).
    #[must_use]
    pub fn correlation_id(&self) -> Uuid {
        self.correlation_id
    }

    /// The grant type.
    #[must_use]
    pub fn grant_type(&self) -> &str {
        self.form_value("grant_type").unwrap_or_default()
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form: Vec<(&str, &str)> = self
            .form
            .iter()
            .map(|(n, v)| match v {
                FormValue::Plain(s) => (*n, s.as_str()),
                FormValue::Secret(_) => (*n, "<redacted>"),
            })
            .collect();
        f.debug_struct("TokenRequest")
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("form", &form)
            .finish()
    }
}

/// The headers of every backchannel request: `Accept`, `client-request-id`,
/// `return-client-request-id`, `x-client-SKU`/`-VER`/`-OS`/`-CPU` and
/// `x-ms-lib-capability: retry-after, h429`.
#[must_use]
pub fn standard_headers(correlation_id: Uuid) -> Vec<(&'static str, String)> {
    vec![
        ("Accept", "application/json".to_owned()),
        ("client-request-id", correlation_id.to_string()),
        ("return-client-request-id", "true".to_owned()),
        ("x-client-SKU", CLIENT_SKU.to_owned()),
        ("x-client-VER", env!("CARGO_PKG_VERSION").to_owned()),
        ("x-client-OS", std::env::consts::OS.to_owned()),
        ("x-client-CPU", std::env::consts::ARCH.to_owned()),
        ("x-ms-lib-capability", "retry-after, h429".to_owned()),
    ]
}

pub(super) fn token_request(
    token_endpoint: &Url,
    form: Vec<(&'static str, FormValue)>,
    anchor_mailbox: Option<String>,
) -> TokenRequest {
    let correlation_id = Uuid::new_v4();
    let mut headers = standard_headers(correlation_id);
    headers.push((
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
    ));
    if let Some(anchor) = anchor_mailbox {
        headers.push(("X-AnchorMailbox", anchor));
    }
    TokenRequest {
        url: token_endpoint.clone(),
        headers,
        form,
        correlation_id,
    }
}

/// The authorization-code grant (with PKCE).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCodeGrant {
    client_id: String,
    code: Secret,
    verifier: Secret,
    redirect_uri: String,
    scopes: Vec<String>,
    claims: Option<String>,
    client_info: Option<ClientInfo>,
}

impl AuthCodeGrant {
    /// A grant for `code`, redeemed with the PKCE `verifier` and the exact `redirect_uri`
    /// of the authorize request.
    pub fn new<S: AsRef<str>>(
        client_id: impl Into<String>,
        code: Secret,
        verifier: Secret,
        redirect_uri: impl Into<String>,
        scopes: &[S],
    ) -> Self {
        Self {
            client_id: client_id.into(),
            code,
            verifier,
            redirect_uri: redirect_uri.into(),
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            claims: None,
            client_info: None,
        }
    }

    /// Sets the `claims` JSON.
    #[must_use]
    pub fn with_claims(mut self, claims: Option<&str>) -> Self {
        self.claims = claims.filter(|c| !c.is_empty()).map(str::to_owned);
        self
    }

    /// Sets the redirect's `client_info`, sent as `X-AnchorMailbox: Oid:<uid>@<utid>`.
    #[must_use]
    pub fn with_client_info(mut self, client_info: Option<ClientInfo>) -> Self {
        self.client_info = client_info;
        self
    }

    /// The request (pure): `grant_type=authorization_code`, `client_id`, `code`,
    /// `redirect_uri`, `code_verifier`, decorated `scope`, `client_info=1`, `claims`.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for bad scopes.
    pub fn to_request(&self, token_endpoint: &Url) -> Result<TokenRequest> {
        let scope = decorate_scopes(&self.scopes)?.join(" ");
        let mut form = vec![
            (
                "grant_type",
                FormValue::Plain("authorization_code".to_owned()),
            ),
            ("client_id", FormValue::Plain(self.client_id.clone())),
            ("code", FormValue::Secret(self.code.clone())),
            ("redirect_uri", FormValue::Plain(self.redirect_uri.clone())),
            ("code_verifier", FormValue::Secret(self.verifier.clone())),
            ("scope", FormValue::Plain(scope)),
            ("client_info", FormValue::Plain("1".to_owned())),
        ];
        if let Some(claims) = &self.claims {
            form.push(("claims", FormValue::Plain(claims.clone())));
        }
        Ok(token_request(
            token_endpoint,
            form,
            self.client_info.as_ref().map(ClientInfo::anchor_mailbox),
        ))
    }

    /// The scopes the caller asked for (undecorated).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl fmt::Debug for AuthCodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCodeGrant")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The refresh-token grant.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    client_id: String,
    refresh_token: Secret,
    scopes: Vec<String>,
    claims: Option<String>,
    anchor_mailbox: Option<String>,
}

impl RefreshGrant {
    /// A grant redeeming `refresh_token` for `scopes`.
    pub fn new<S: AsRef<str>>(
        client_id: impl Into<String>,
        refresh_token: Secret,
        scopes: &[S],
    ) -> Self {
        Self {
            client_id: client_id.into(),
            refresh_token,
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            claims: None,
            anchor_mailbox: None,
        }
    }

    /// Sets the `claims` JSON.
    #[must_use]
    pub fn with_claims(mut self, claims: Option<&str>) -> Self {
        self.claims = claims.filter(|c| !c.is_empty()).map(str::to_owned);
        self
    }

    /// Sets the account's home account id `uid.utid`, sent as
    /// `X-AnchorMailbox: Oid:<uid>@<utid>` (ignored unless it has the `uid.utid` shape).
    #[must_use]
    pub fn with_home_account_id(mut self, home_account_id: Option<&str>) -> Self {
        self.anchor_mailbox = home_account_id
            .and_then(|id| id.split_once('.'))
            .filter(|(uid, utid)| !uid.is_empty() && !utid.is_empty())
            .map(|(uid, utid)| format!("Oid:{uid}@{utid}"));
        self
    }

    /// The request (pure): `grant_type=refresh_token`, `client_id`, `refresh_token`,
    /// decorated `scope`, `client_info=1`, `claims`.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for bad scopes.
    pub fn to_request(&self, token_endpoint: &Url) -> Result<TokenRequest> {
        let scope = decorate_scopes(&self.scopes)?.join(" ");
        let mut form = vec![
            ("grant_type", FormValue::Plain("refresh_token".to_owned())),
            ("client_id", FormValue::Plain(self.client_id.clone())),
            (
                "refresh_token",
                FormValue::Secret(self.refresh_token.clone()),
            ),
            ("scope", FormValue::Plain(scope)),
            ("client_info", FormValue::Plain("1".to_owned())),
        ];
        if let Some(claims) = &self.claims {
            form.push(("claims", FormValue::Plain(claims.clone())));
        }
        Ok(token_request(
            token_endpoint,
            form,
            self.anchor_mailbox.clone(),
        ))
    }

    /// The scopes the caller asked for (undecorated).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}
