//! Request building with no I/O: scopes, the authorize URL, the code-redemption and refresh
//! forms, and the headers every backchannel request carries.

use std::fmt;

use entra_core::{Secret, constant_time_eq};
use url::Url;
use uuid::Uuid;

use crate::endpoints::Endpoints;
use crate::error::{MsalError, Result};
use crate::pkce::{self, Pkce};
use crate::response::ClientInfo;

/// The scopes MSAL adds to every user request; passing one yourself is an error.
pub const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The `x-client-SKU` this crate sends.
pub const CLIENT_SKU: &str = "entra-rs.msal-lite";

/// Adds `openid profile offline_access` to the requested scopes, de-duplicates and sorts them
/// (MSAL Python's decoration, used on the authorize URL and both token grants).
///
/// ```
/// use entra_msal_lite::decorate_scopes;
///
/// let scopes = decorate_scopes(&["https://graph.microsoft.com/.default", "User.Read", "User.Read"])?;
/// assert_eq!(
///     scopes,
///     ["User.Read", "https://graph.microsoft.com/.default", "offline_access", "openid", "profile"]
/// );
/// assert!(decorate_scopes(&["openid"]).is_err());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
///
/// # Errors
/// [`MsalError::InvalidArgument`] for a reserved scope, an empty scope or one containing
/// white space or a control character.
pub fn decorate_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>> {
    check_scopes(scopes)?;
    let mut out: Vec<String> = Vec::with_capacity(scopes.len() + 3);
    out.extend(scopes.iter().map(|s| s.as_ref().to_owned()));
    out.extend(RESERVED_SCOPES.iter().map(|s| (*s).to_owned()));
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks the scopes a caller asks for, without allocating: none empty, none with white space
/// or a control character, none of the reserved `openid`, `profile`, `offline_access` (in any
/// case), which every request carries anyway and which name no resource. A credential calls
/// it before looking in any cache, so a reserved scope fails the same way whether or not a
/// token is cached.
///
/// ```
/// use entra_msal_lite::check_scopes;
///
/// assert!(check_scopes(&["https://graph.microsoft.com/.default"]).is_ok());
/// assert!(check_scopes(&["OpenID"]).is_err());
/// ```
///
/// # Errors
/// [`MsalError::InvalidArgument`] naming the first bad scope.
pub fn check_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<()> {
    for scope in scopes {
        let scope = scope.as_ref();
        if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MsalError::InvalidArgument(format!(
                "The scope {scope:?} is empty or contains white space or a control character. \
                 Pass each scope as its own item."
            )));
        }
        if RESERVED_SCOPES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(scope))
        {
            return Err(MsalError::InvalidArgument(format!(
                "The scope '{scope}' is reserved: openid, profile and offline_access are always \
                 requested and may not be passed as user-provided scopes."
            )));
        }
    }
    Ok(())
}

/// How the authority returns the authorization response to the redirect URI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// An auto-submitted HTML form POST (the default of Python, MSAL Go ≥ 1.7): the code
    /// never appears in a URL.
    #[default]
    FormPost,
    /// Query parameters on a GET to the redirect URI.
    Query,
}

impl ResponseMode {
    /// The wire value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FormPost => "form_post",
            Self::Query => "query",
        }
    }
}

/// The caller's part of an authorize request. Random values (PKCE, `state`, `nonce`) are
/// added by [`AuthCodeFlow`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    prompt: Option<String>,
    response_mode: ResponseMode,
    login_hint: Option<String>,
    domain_hint: Option<String>,
    claims: Option<String>,
    extra_query: Vec<(String, String)>,
}

/// Query parameters the authorize URL sets itself; [`AuthorizeParams::with_extra_query`]
/// refuses to add them a second time.
const OWN_QUERY: [&str; 14] = [
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "response_mode",
    "client_info",
    "login_hint",
    "domain_hint",
    "claims",
];

impl AuthorizeParams {
    /// Parameters with Python's defaults: `prompt=select_account`, `response_mode=form_post`.
    pub fn new<S: AsRef<str>>(
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        scopes: &[S],
    ) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            prompt: Some("select_account".to_owned()),
            response_mode: ResponseMode::FormPost,
            login_hint: None,
            domain_hint: None,
            claims: None,
            extra_query: Vec::new(),
        }
    }

    /// Adds a query parameter to the authorize URL (a parameter this library does not know,
    /// e.g. `msafed` or a B2C policy's own). A name the URL already sets, or
    /// `X-AnchorMailbox`, is ignored rather than sent twice.
    #[must_use]
    pub fn with_extra_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let own = OWN_QUERY.iter().any(|o| o.eq_ignore_ascii_case(&name))
            || name.eq_ignore_ascii_case("X-AnchorMailbox");
        if !own {
            self.extra_query.push((name, value.into()));
        }
        self
    }

    /// Sets `prompt` (`select_account`, `login`, `consent`, `none`, `create`), or none.
    #[must_use]
    pub fn with_prompt(mut self, prompt: Option<&str>) -> Self {
        self.prompt = prompt.map(str::to_owned);
        self
    }

    /// Sets the response mode.
    #[must_use]
    pub fn with_response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// Sets `login_hint` (also sent as the `X-AnchorMailbox=UPN:<hint>` query parameter).
    #[must_use]
    pub fn with_login_hint(mut self, hint: Option<&str>) -> Self {
        self.login_hint = hint.filter(|h| !h.is_empty()).map(str::to_owned);
        self
    }

    /// Sets `domain_hint`.
    #[must_use]
    pub fn with_domain_hint(mut self, hint: Option<&str>) -> Self {
        self.domain_hint = hint.filter(|h| !h.is_empty()).map(str::to_owned);
        self
    }

    /// Sets the `claims` JSON (already merged with client capabilities, see
    /// [`merge_client_capabilities`](crate::merge_client_capabilities)).
    #[must_use]
    pub fn with_claims(mut self, claims: Option<&str>) -> Self {
        self.claims = claims.filter(|c| !c.is_empty()).map(str::to_owned);
        self
    }

    /// The client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The redirect URI.
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes the caller asked for (undecorated).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The claims, if any.
    #[must_use]
    pub fn claims(&self) -> Option<&str> {
        self.claims.as_deref()
    }
}

/// An authorize URL. It carries `state` and `nonce`, so `Debug` hides its query; read it with
/// [`as_str`](Self::as_str) only to open the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizeUrl(Url);

impl AuthorizeUrl {
    /// The full URL, to open in the browser.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The value of a query parameter (first occurrence).
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

impl fmt::Debug for AuthorizeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut base = self.0.clone();
        base.set_query(None);
        f.debug_tuple("AuthorizeUrl")
            .field(&format_args!("{base}?<redacted>"))
            .finish()
    }
}

/// Builds the authorize URL (pure): `client_id`, `response_type=code`, `redirect_uri`,
/// decorated `scope`, `state`, `nonce`, `code_challenge` + `S256`, `prompt`,
/// `response_mode`, `client_info=1`, and when set `login_hint` + `X-AnchorMailbox`,
/// `domain_hint`, `claims`.
///
/// # Errors
/// [`MsalError::InvalidArgument`] for reserved or malformed scopes.
pub fn build_authorize_url(
    authorization_endpoint: &Url,
    params: &AuthorizeParams,
    code_challenge: &str,
    state: &Secret,
    nonce: &Secret,
) -> Result<AuthorizeUrl> {
    let scope = decorate_scopes(&params.scopes)?.join(" ");
    let mut url = authorization_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &params.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &params.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", state.secret())
            .append_pair("nonce", nonce.secret())
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(prompt) = &params.prompt {
            q.append_pair("prompt", prompt);
        }
        q.append_pair("response_mode", params.response_mode.as_str())
            .append_pair("client_info", "1");
        if let Some(hint) = &params.login_hint {
            q.append_pair("login_hint", hint)
                .append_pair("X-AnchorMailbox", &format!("UPN:{hint}"));
        }
        if let Some(hint) = &params.domain_hint {
            q.append_pair("domain_hint", hint);
        }
        if let Some(claims) = &params.claims {
            q.append_pair("claims", claims);
        }
        for (name, value) in &params.extra_query {
            q.append_pair(name, value);
        }
    }
    Ok(AuthorizeUrl(url))
}

/// One interactive authorization-code flow: the authorize URL plus the secrets it was built
/// with (PKCE verifier, `state`, `nonce`), kept to check the redirect and redeem the code.
/// Python: `initiate_auth_code_flow`.
///
/// ```
/// use entra_msal_lite::{AuthCodeFlow, AuthorizeParams, Authority, Endpoints};
///
/// let authority = Authority::parse("https://login.microsoftonline.com/organizations")?;
/// let endpoints = Endpoints::known_cloud(&authority).expect("known cloud");
/// let params = AuthorizeParams::new(
///     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
///     "http://localhost:8400",
///     &["https://management.azure.com/.default"],
/// );
/// let flow = AuthCodeFlow::new(&endpoints, params)?;
/// assert_eq!(flow.authorize_url().query_param("response_mode").as_deref(), Some("form_post"));
/// // The redirect must carry the same state.
/// assert!(flow.check_state(Some("forged")).is_err());
/// assert!(flow.check_state(Some(flow.state().secret())).is_ok());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone)]
pub struct AuthCodeFlow {
    params: AuthorizeParams,
    pkce: Pkce,
    state: Secret,
    nonce: Secret,
    url: AuthorizeUrl,
}

impl AuthCodeFlow {
    /// Starts a flow with fresh random PKCE, `state` and `nonce`.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for bad scopes; [`MsalError::Random`] if the OS random
    /// source fails.
    pub fn new(endpoints: &Endpoints, params: AuthorizeParams) -> Result<Self> {
        Self::with_secrets(
            endpoints,
            params,
            Pkce::new()?,
            pkce::new_state()?,
            pkce::new_nonce()?,
        )
    }

    /// Starts a flow with given secrets (deterministic tests).
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for bad scopes.
    pub fn with_secrets(
        endpoints: &Endpoints,
        params: AuthorizeParams,
        pkce: Pkce,
        state: Secret,
        nonce: Secret,
    ) -> Result<Self> {
        let url = build_authorize_url(
            &endpoints.authorization_endpoint,
            &params,
            pkce.challenge(),
            &state,
            &nonce,
        )?;
        tracing::debug!(
            authorize_endpoint = %endpoints.authorization_endpoint,
            response_mode = params.response_mode.as_str(),
            "authorization code flow started"
        );
        Ok(Self {
            params,
            pkce,
            state,
            nonce,
            url,
        })
    }

    /// The URL to open in the browser.
    #[must_use]
    pub fn authorize_url(&self) -> &AuthorizeUrl {
        &self.url
    }

    /// The parameters the flow was started with.
    #[must_use]
    pub fn params(&self) -> &AuthorizeParams {
        &self.params
    }

    /// The `state` sent.
    #[must_use]
    pub fn state(&self) -> &Secret {
        &self.state
    }

    /// The `nonce` sent: the ID token's `nonce` claim must equal it.
    #[must_use]
    pub fn nonce(&self) -> &Secret {
        &self.nonce
    }

    /// The PKCE pair.
    #[must_use]
    pub fn pkce(&self) -> &Pkce {
        &self.pkce
    }

    /// Checks the redirect's `state` in constant time.
    ///
    /// # Errors
    /// [`MsalError::StateMismatch`] when it is missing or differs (neither value is shown).
    pub fn check_state(&self, received: Option<&str>) -> Result<()> {
        match received {
            Some(state) if constant_time_eq(state, self.state.secret()) => Ok(()),
            _ => Err(MsalError::StateMismatch),
        }
    }

    /// The redemption grant for the `code` of the redirect, with the flow's verifier,
    /// redirect URI, scopes and claims; `client_info` from the redirect (if any) becomes the
    /// `X-AnchorMailbox` header.
    #[must_use]
    pub fn redemption(&self, code: Secret, client_info: Option<ClientInfo>) -> AuthCodeGrant {
        AuthCodeGrant::new(
            self.params.client_id.clone(),
            code,
            self.pkce.verifier().clone(),
            self.params.redirect_uri.clone(),
            &self.params.scopes,
        )
        .with_claims(self.params.claims.as_deref())
        .with_client_info(client_info)
    }
}

impl fmt::Debug for AuthCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCodeFlow")
            .field("params", &self.params)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A form value; secret ones never show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
enum FormValue {
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

fn token_request(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_query_parameters_are_added_but_never_replace_the_urls_own() {
        let e = crate::Endpoints::known_cloud(
            &crate::Authority::parse("https://login.microsoftonline.com/common").unwrap(),
        )
        .unwrap();
        let params = AuthorizeParams::new("c", "http://localhost:8400", &["s"])
            .with_extra_query("msafed", "0")
            .with_extra_query("state", "attacker-chosen")
            .with_extra_query("X-AnchorMailbox", "UPN:x");
        let flow = AuthCodeFlow::new(&e, params).unwrap();
        let url = flow.authorize_url();
        assert_eq!(url.query_param("msafed").as_deref(), Some("0"));
        assert_eq!(
            url.query_param("state").as_deref(),
            Some(flow.state().secret())
        );
        assert!(url.query_param("X-AnchorMailbox").is_none());
    }
    use crate::authority::Authority;

    fn endpoints() -> Endpoints {
        Endpoints::known_cloud(
            &Authority::parse("https://login.microsoftonline.com/organizations").unwrap(),
        )
        .unwrap()
    }

    fn flow(params: AuthorizeParams) -> AuthCodeFlow {
        AuthCodeFlow::with_secrets(
            &endpoints(),
            params,
            Pkce::from_verifier("VERIFIER-SECRET-0123456789abcdefghijklmnopq"),
            Secret::new("STATE-SECRET"),
            Secret::new("NONCE-SECRET"),
        )
        .unwrap()
    }

    fn query(url: &AuthorizeUrl) -> Vec<(String, String)> {
        url.url().query_pairs().into_owned().collect()
    }

    #[test]
    fn scopes_are_decorated_sorted_and_deduplicated() {
        assert_eq!(
            decorate_scopes(&["b", "a", "b", "profile2"]).unwrap(),
            ["a", "b", "offline_access", "openid", "profile", "profile2"]
        );
        assert_eq!(
            decorate_scopes::<&str>(&[]).unwrap(),
            ["offline_access", "openid", "profile"]
        );
        for reserved in ["openid", "profile", "offline_access", "OpenID"] {
            let err = decorate_scopes(&["a", reserved]).unwrap_err();
            assert!(matches!(err, MsalError::InvalidArgument(_)));
            assert!(err.to_string().contains(reserved), "{err}");
            let core: entra_core::Error = err.into();
            assert!(core.is_invalid_argument());
        }
        for bad in ["", "a b", "a\tb", "a\u{0}"] {
            assert!(decorate_scopes(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorize_url_has_every_python_parameter() {
        let f = flow(
            AuthorizeParams::new(
                "client-1",
                "http://localhost:8400",
                &["https://graph.microsoft.com/.default"],
            )
            .with_login_hint(Some("alice@contoso.com"))
            .with_claims(Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#)),
        );
        let url = f.authorize_url();
        assert!(
            url.as_str().starts_with(
                "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?"
            )
        );
        let q = query(url);
        let expected = [
            ("client_id", "client-1"),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8400"),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid profile",
            ),
            ("state", "STATE-SECRET"),
            ("nonce", "NONCE-SECRET"),
            ("code_challenge", f.pkce().challenge()),
            ("code_challenge_method", "S256"),
            ("prompt", "select_account"),
            ("response_mode", "form_post"),
            ("client_info", "1"),
            ("login_hint", "alice@contoso.com"),
            ("X-AnchorMailbox", "UPN:alice@contoso.com"),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
            ),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(q, expected);
        assert_eq!(
            f.pkce().challenge(),
            pkce::s256_challenge(f.pkce().verifier().secret())
        );
        // Debug output shows neither state, nonce, challenge nor verifier.
        let debug = format!("{f:?} {url:?}");
        for secret in [
            "STATE-SECRET",
            "NONCE-SECRET",
            "VERIFIER-SECRET",
            f.pkce().challenge(),
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn authorize_url_options() {
        let f = flow(
            AuthorizeParams::new("c", "http://localhost:1", &["s"])
                .with_prompt(None)
                .with_response_mode(ResponseMode::Query)
                .with_domain_hint(Some("contoso.com"))
                .with_login_hint(Some(""))
                .with_claims(Some("")),
        );
        let url = f.authorize_url();
        assert_eq!(url.query_param("prompt"), None);
        assert_eq!(url.query_param("response_mode").as_deref(), Some("query"));
        assert_eq!(
            url.query_param("domain_hint").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(url.query_param("login_hint"), None);
        assert_eq!(url.query_param("X-AnchorMailbox"), None);
        assert_eq!(url.query_param("claims"), None);
        let f = flow(
            AuthorizeParams::new("c", "http://localhost:1", &["s"]).with_prompt(Some("login")),
        );
        assert_eq!(
            f.authorize_url().query_param("prompt").as_deref(),
            Some("login")
        );
        let err = AuthCodeFlow::new(&endpoints(), AuthorizeParams::new("c", "r", &["openid"]))
            .unwrap_err();
        assert!(matches!(err, MsalError::InvalidArgument(_)));
    }

    #[test]
    fn random_flows_differ_and_state_is_checked() {
        let params = AuthorizeParams::new("c", "http://localhost:1", &["s"]);
        let a = AuthCodeFlow::new(&endpoints(), params.clone()).unwrap();
        let b = AuthCodeFlow::new(&endpoints(), params).unwrap();
        assert_ne!(a.state(), b.state());
        assert_ne!(a.nonce(), b.nonce());
        assert_ne!(a.pkce().verifier(), b.pkce().verifier());
        assert_eq!(a.nonce().len(), 64);
        assert!(a.check_state(Some(a.state().secret())).is_ok());
        for bad in [None, Some(""), Some(b.state().secret())] {
            let err = a.check_state(bad).unwrap_err();
            assert!(matches!(err, MsalError::StateMismatch));
            assert!(!err.to_string().contains(a.state().secret()));
        }
    }

    #[test]
    fn code_redemption_form_and_headers() {
        let f = flow(
            AuthorizeParams::new(
                "client-1",
                "http://localhost:8400",
                &["https://graph.microsoft.com/.default"],
            )
            .with_claims(Some(r#"{"x":1}"#)),
        );
        let grant = f.redemption(
            Secret::new("CODE-SECRET"),
            Some(ClientInfo::new("uid-1", Some("utid-1".to_owned()))),
        );
        let req = grant.to_request(&endpoints().token_endpoint).unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            req.form_names().collect::<Vec<_>>(),
            [
                "grant_type",
                "client_id",
                "code",
                "redirect_uri",
                "code_verifier",
                "scope",
                "client_info",
                "claims"
            ]
        );
        assert_eq!(req.grant_type(), "authorization_code");
        assert_eq!(req.form_value("client_id"), Some("client-1"));
        assert_eq!(req.form_value("code"), Some("CODE-SECRET"));
        assert_eq!(
            req.form_value("redirect_uri"),
            Some("http://localhost:8400")
        );
        assert_eq!(
            req.form_value("code_verifier"),
            Some(f.pkce().verifier().secret())
        );
        assert_eq!(
            req.form_value("scope"),
            Some("https://graph.microsoft.com/.default offline_access openid profile")
        );
        assert_eq!(req.form_value("client_info"), Some("1"));
        assert_eq!(req.form_value("claims"), Some(r#"{"x":1}"#));
        assert_eq!(req.header("x-anchormailbox"), Some("Oid:uid-1@utid-1"));
        assert_eq!(
            req.header("client-request-id"),
            Some(req.correlation_id().to_string().as_str())
        );
        assert_eq!(req.header("x-client-SKU"), Some(CLIENT_SKU));
        assert_eq!(req.header("x-client-VER"), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(req.header("x-client-OS"), Some(std::env::consts::OS));
        assert_eq!(req.header("x-ms-lib-capability"), Some("retry-after, h429"));
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        let body = req.encoded_body();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.secret().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs.len(), 8);
        assert!(pairs.contains(&("code".to_owned(), "CODE-SECRET".to_owned())));
        let debug = format!("{req:?} {grant:?}");
        assert!(
            !debug.contains("CODE-SECRET") && !debug.contains("VERIFIER-SECRET"),
            "{debug}"
        );
        assert!(debug.contains("client-1"));

        // No client_info, no claims: neither header nor field.
        let req = AuthCodeGrant::new("c", Secret::new("x"), Secret::new("v"), "r", &["s"])
            .to_request(&endpoints().token_endpoint)
            .unwrap();
        assert_eq!(req.header("X-AnchorMailbox"), None);
        assert_eq!(req.form_value("claims"), None);
        // Every request gets its own correlation id.
        let again = AuthCodeGrant::new("c", Secret::new("x"), Secret::new("v"), "r", &["s"])
            .to_request(&endpoints().token_endpoint)
            .unwrap();
        assert_ne!(req.correlation_id(), again.correlation_id());
    }

    #[test]
    fn refresh_form_and_anchor() {
        let grant = RefreshGrant::new("client-1", Secret::new("RT-SECRET"), &["b", "a"])
            .with_claims(Some(r#"{"access_token":{}}"#))
            .with_home_account_id(Some("uid-1.utid-1"));
        let req = grant.to_request(&endpoints().token_endpoint).unwrap();
        assert_eq!(
            req.form_names().collect::<Vec<_>>(),
            [
                "grant_type",
                "client_id",
                "refresh_token",
                "scope",
                "client_info",
                "claims"
            ]
        );
        assert_eq!(req.grant_type(), "refresh_token");
        assert_eq!(req.form_value("refresh_token"), Some("RT-SECRET"));
        assert_eq!(
            req.form_value("scope"),
            Some("a b offline_access openid profile")
        );
        assert_eq!(req.header("X-AnchorMailbox"), Some("Oid:uid-1@utid-1"));
        assert_eq!(grant.scopes(), ["b", "a"]);
        let debug = format!("{req:?} {grant:?}");
        assert!(!debug.contains("RT-SECRET"), "{debug}");

        for id in [None, Some("adfs-sub"), Some(".x"), Some("x.")] {
            let req = RefreshGrant::new("c", Secret::new("r"), &["s"])
                .with_home_account_id(id)
                .to_request(&endpoints().token_endpoint)
                .unwrap();
            assert_eq!(req.header("X-AnchorMailbox"), None, "{id:?}");
        }
        assert!(
            RefreshGrant::new("c", Secret::new("r"), &["offline_access"])
                .to_request(&endpoints().token_endpoint)
                .is_err()
        );
    }
}
