//! The front channel: the authorize URL (`AuthorizeParams`, `build_authorize_url`) and the authorization-code flow that holds its `state`, nonce and PKCE verifier until the code is redeemed.

use super::*;

/// Whether a redirect's `state` is the one the sign-in sent: the one rule every response
/// check uses (the loopback server's, a pasted address's, [`AuthCodeFlow::check_state`]). An
/// empty value never matches; the comparison takes the same time wherever the values differ.
#[must_use]
pub fn state_matches(received: &str, expected: &str) -> bool {
    !expected.is_empty() && constant_time_eq(received, expected)
}

/// The authorize URL's query parameters that hold one-time values (`state`, `nonce`, the PKCE
/// challenge): never shown in logs, reports or anything handed to another program. The one
/// list every redaction uses.
pub const ONE_TIME_QUERY_PARAMS: [&str; 3] = ["state", "nonce", "code_challenge"];

/// The authorize URL's query parameters that hold personal data (the login hint, also sent as
/// `X-AnchorMailbox`): shown only where personal data may be (support logging).
pub const PERSONAL_QUERY_PARAMS: [&str; 2] = ["login_hint", "X-AnchorMailbox"];

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
pub(super) const OWN_QUERY: [&str; 14] = [
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
            Some(state) if state_matches(state, self.state.secret()) => Ok(()),
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
