//! [`MockEntraBuilder`] and the settings it gathers.

use std::time::Duration;

use crate::confidential::ConfidentialApp;
use crate::fault::{Endpoint, Fault, FaultTimes};
use crate::users::{TestTenant, TestUser};

/// The default Entra host names the TLS certificate names (with `localhost` and `127.0.0.1`):
/// the public cloud and its aliases, China and US Government.
pub const DEFAULT_ENTRA_HOSTS: [&str; 6] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.chinacloudapi.cn",
    "login.microsoftonline.us",
];

/// The default tenant's id.
pub const DEFAULT_TENANT_ID: &str = "11111111-2222-4333-8444-555555555555";
/// The default tenant's domain.
pub const DEFAULT_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The default user's username.
pub const DEFAULT_USERNAME: &str = "alice@contoso.onmicrosoft.com";
/// The default user's object id.
pub const DEFAULT_USER_OID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

/// How the token endpoint answers a request that lacks the challenged claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeError {
    /// `interaction_required` (`AADSTS50076`, suberror `basic_action`), as for MFA.
    InteractionRequired,
    /// `invalid_grant` (`AADSTS50173`), as for a revoked session under CAE.
    InvalidGrant,
}

/// A claims challenge (conditional access / CAE): while set, the token endpoint refuses
/// requests whose `claims` parameter does not contain these claims, answering with Entra's
/// error and a `claims` field carrying the challenge.
///
/// ```
/// use entra_testing::ClaimsChallenge;
///
/// let c = ClaimsChallenge::new(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
/// assert!(c.claims().contains("nbf"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimsChallenge {
    claims: String,
    error: ChallengeError,
    clear_when_satisfied: bool,
}

impl ClaimsChallenge {
    /// A challenge for these claims (a JSON object), answered with `interaction_required`,
    /// cleared once a request satisfies it (as when the user has done MFA).
    pub fn new(claims: impl Into<String>) -> Self {
        Self {
            claims: claims.into(),
            error: ChallengeError::InteractionRequired,
            clear_when_satisfied: true,
        }
    }

    /// Chooses the error returned for requests that lack the claims.
    #[must_use]
    pub fn with_error(mut self, error: ChallengeError) -> Self {
        self.error = error;
        self
    }

    /// Keeps the challenge after a request satisfied it (every request must carry the claims).
    #[must_use]
    pub fn persistent(mut self) -> Self {
        self.clear_when_satisfied = false;
        self
    }

    /// The challenged claims JSON.
    #[must_use]
    pub fn claims(&self) -> &str {
        &self.claims
    }

    /// The error answered.
    #[must_use]
    pub fn error(&self) -> ChallengeError {
        self.error
    }

    pub(crate) fn clears_when_satisfied(&self) -> bool {
        self.clear_when_satisfied
    }
}

/// A refusal the authorize endpoint answers with an `error` redirect to the client's
/// `redirect_uri` (after validating the client and the redirect URI, as Entra does).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeRefusal {
    /// `access_denied` (`AADSTS65004`): the user cancelled or declined consent.
    AccessDenied,
    /// `consent_required` (`AADSTS65001`): consent is missing and cannot be asked for.
    ConsentRequired,
    /// `interaction_required` (`AADSTS50058`), e.g. for `prompt=none` without a session.
    InteractionRequired,
    /// Any `error` / `error_description`.
    Custom {
        /// The `error` value.
        error: String,
        /// The `error_description` value.
        description: String,
    },
}

impl AuthorizeRefusal {
    /// The `error` and `error_description` of the redirect.
    pub(crate) fn parts(&self, client_id: &str) -> (String, String) {
        match self {
            Self::AccessDenied => (
                "access_denied".to_owned(),
                "AADSTS65004: User declined to consent to access the app.".to_owned(),
            ),
            Self::ConsentRequired => (
                "consent_required".to_owned(),
                format!(
                    "AADSTS65001: The user or administrator has not consented to use the \
                     application with ID '{client_id}'. Send an interactive authorization \
                     request for this user and resource."
                ),
            ),
            Self::InteractionRequired => (
                "interaction_required".to_owned(),
                "AADSTS50058: A silent sign-in request was sent but no user is signed in."
                    .to_owned(),
            ),
            Self::Custom { error, description } => (error.clone(), description.clone()),
        }
    }

    /// Parses the value of the [`REFUSE_HEADER`](crate::REFUSE_HEADER) header.
    pub(crate) fn from_header(value: &str) -> Self {
        match value {
            "access_denied" => Self::AccessDenied,
            "consent_required" => Self::ConsentRequired,
            "interaction_required" => Self::InteractionRequired,
            other => Self::Custom {
                error: other.to_owned(),
                description: format!("AADSTS90000: The sign-in was refused ({other})."),
            },
        }
    }
}

/// The run-time settings of a mock (changeable after start through [`MockEntra`](crate::MockEntra) methods).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) users: Vec<TestUser>,
    pub(crate) default_user: usize,
    pub(crate) tenants: Vec<TestTenant>,
    pub(crate) token_lifetime: Duration,
    pub(crate) ext_token_lifetime: Option<Duration>,
    pub(crate) refresh_in: Option<Duration>,
    pub(crate) code_lifetime: Duration,
    pub(crate) untrusted_hosts: Vec<String>,
    pub(crate) claims_challenge: Option<ClaimsChallenge>,
    pub(crate) allowed_client_ids: Option<Vec<String>>,
    pub(crate) sign_in_page: bool,
    pub(crate) authorize_refusal: Option<AuthorizeRefusal>,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) id_token_issuer_base: Option<String>,
    pub(crate) device_code_lifetime: Duration,
    pub(crate) device_code_interval: Duration,
    pub(crate) confidential_apps: Vec<ConfidentialApp>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            default_user: 0,
            tenants: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            ext_token_lifetime: None,
            refresh_in: None,
            code_lifetime: Duration::from_secs(600),
            untrusted_hosts: Vec::new(),
            claims_challenge: None,
            allowed_client_ids: None,
            sign_in_page: false,
            authorize_refusal: None,
            rotate_refresh_tokens: true,
            id_token_issuer_base: None,
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: Duration::from_secs(5),
            confidential_apps: Vec::new(),
        }
    }
}

/// Configures a [`MockEntra`](crate::MockEntra) before it starts. Obtain one from [`MockEntra::builder`](crate::MockEntra::builder).
///
/// ```
/// # async fn demo() -> Result<(), entra_testing::MockError> {
/// use std::time::Duration;
/// use entra_testing::{Endpoint, Fault, MockEntra, TestUser};
///
/// let mock = MockEntra::builder()
///     .user(TestUser::new("bob@contoso.onmicrosoft.com", entra_testing::DEFAULT_TENANT_ID))
///     .token_lifetime(Duration::from_secs(600))
///     .refresh_in(Duration::from_secs(300))
///     .fault(Endpoint::Token, Fault::too_many_requests(2))
///     .start()
///     .await?;
/// # drop(mock); Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct MockEntraBuilder {
    pub(crate) https: bool,
    pub(crate) port: u16,
    pub(crate) hosts: Vec<String>,
    pub(crate) settings: Settings,
    pub(crate) faults: Vec<(Endpoint, Fault, FaultTimes)>,
}

impl Default for MockEntraBuilder {
    fn default() -> Self {
        Self {
            https: true,
            port: 0,
            hosts: DEFAULT_ENTRA_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            settings: Settings::default(),
            faults: Vec::new(),
        }
    }
}

impl MockEntraBuilder {
    /// Serves plain HTTP instead of HTTPS (`base_url()` becomes `http://localhost:PORT`).
    pub fn http(mut self) -> Self {
        self.https = false;
        self
    }

    /// Serves HTTPS (the default) or plain HTTP.
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Adds a host name to the TLS certificate (besides `localhost`, `127.0.0.1` and
    /// [`DEFAULT_ENTRA_HOSTS`]), e.g. a private cloud's `login.contoso.test`.
    pub fn certificate_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into().to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
        self
    }

    /// Adds a user. The first user added becomes the default sign-in user (replacing the
    /// built-in `alice@contoso.onmicrosoft.com`, who stays available by name).
    pub fn user(mut self, user: TestUser) -> Self {
        self.settings.users.push(user);
        self
    }

    /// Registers a confidential application: the client-credentials grant is answered for it.
    pub fn confidential_app(mut self, app: ConfidentialApp) -> Self {
        self.settings.confidential_apps.push(app);
        self
    }

    /// Adds a tenant (its domain name then resolves to its id).
    pub fn tenant(mut self, tenant: TestTenant) -> Self {
        self.settings.tenants.push(tenant);
        self
    }

    /// Access token lifetime (`expires_in`); default one hour.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.token_lifetime = lifetime;
        self
    }

    /// `ext_expires_in`; default the token lifetime.
    pub fn ext_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.ext_token_lifetime = Some(lifetime);
        self
    }

    /// Sends `refresh_in` in token responses (absent by default).
    pub fn refresh_in(mut self, refresh_in: Duration) -> Self {
        self.settings.refresh_in = Some(refresh_in);
        self
    }

    /// Authorization code lifetime; default 10 minutes. `Duration::ZERO` makes every code
    /// expired on arrival (for expiry tests without waiting).
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.code_lifetime = lifetime;
        self
    }

    /// Makes instance discovery answer `invalid_instance` for authorities on this host.
    pub fn untrusted_host(mut self, host: impl Into<String>) -> Self {
        self.settings
            .untrusted_hosts
            .push(host.into().to_ascii_lowercase());
        self
    }

    /// Sets a claims challenge (conditional access / CAE) on the token endpoint.
    pub fn claims_challenge(mut self, challenge: ClaimsChallenge) -> Self {
        self.settings.claims_challenge = Some(challenge);
        self
    }

    /// Accepts only these client ids (by default any GUID is a registered public client).
    pub fn allowed_client_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.allowed_client_ids = Some(
            ids.into_iter()
                .map(|s| s.into().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// Answers authorize requests with the HTML sign-in page (a username field and a submit
    /// button) instead of signing in without a page.
    pub fn sign_in_page(mut self, on: bool) -> Self {
        self.settings.sign_in_page = on;
        self
    }

    /// Refuses every authorize request with this error redirect.
    pub fn authorize_refusal(mut self, refusal: AuthorizeRefusal) -> Self {
        self.settings.authorize_refusal = Some(refusal);
        self
    }

    /// Whether redeeming a refresh token revokes it and issues a new one (default `true`).
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.settings.rotate_refresh_tokens = rotate;
        self
    }

    /// Issues ID tokens whose `iss` names another base URL (e.g.
    /// `https://login.microsoftonline.com`) instead of the mock's own: a hostile or
    /// misconfigured identity provider, for testing issuer checks.
    pub fn id_token_issuer_base(mut self, base: impl Into<String>) -> Self {
        self.settings.id_token_issuer_base = Some(base.into());
        self
    }

    /// How long device codes live (`expires_in`; default 900 seconds, as Entra).
    pub fn device_code_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.device_code_lifetime = lifetime;
        self
    }

    /// The polling `interval` device codes name (default 5 seconds, as Entra).
    pub fn device_code_interval(mut self, interval: Duration) -> Self {
        self.settings.device_code_interval = interval;
        self
    }

    /// Listens on this port of 127.0.0.1 instead of one the OS chooses (0), e.g. so that
    /// processes started one after another reach the "same" custom authority.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Injects a fault for the next request to `endpoint` (see [`MockEntraBuilder::fault_times`]).
    pub fn fault(self, endpoint: Endpoint, fault: Fault) -> Self {
        self.fault_times(endpoint, fault, FaultTimes::Next(1))
    }

    /// Injects a fault for the next `n` requests to `endpoint`, or always.
    pub fn fault_times(mut self, endpoint: Endpoint, fault: Fault, times: FaultTimes) -> Self {
        self.faults.push((endpoint, fault, times));
        self
    }
}
