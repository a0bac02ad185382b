//! Authorities: parsing, canonicalisation, types (Entra ID, ADFS, B2C, CIAM, OIDC) and the
//! `AZURE_AUTHORITY_HOST` default.

use std::fmt;

use entra_core::AzureAuthorityHosts;
use url::Url;

use crate::cloud;
use crate::error::{MsalError, Result};

/// The environment variable naming the default authority host, as in Python.
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

const HTTPS_RULE: &str = "The value must be a TLS protected (https) URL.";
const TENANT_RULE: &str = "It must be an URL such as https://login.microsoftonline.com/<your \
                           tenant>, naming the tenant as the first path segment.";

/// The type of an authority, which decides its endpoints and whether it is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// Entra ID (`https://login.microsoftonline.com/<tenant>`): tenant is a GUID, a domain,
    /// `common`, `organizations` or `consumers`.
    Entra,
    /// Active Directory Federation Services (`https://adfs.contoso.com/adfs`).
    Adfs,
    /// Azure AD B2C (`*.b2clogin.*` hosts, `/tfp/` paths or `b2c_` policies).
    B2c,
    /// Entra External ID for customers (`*.ciamlogin.com`).
    Ciam,
    /// A generic OpenID Connect authority, created only by [`Authority::oidc`].
    Oidc,
}

impl AuthorityKind {
    /// MSAL's `authority_type` cache value: `ADFS` for ADFS, else `MSSTS`.
    #[must_use]
    pub fn cache_authority_type(self) -> &'static str {
        match self {
            Self::Adfs => "ADFS",
            _ => "MSSTS",
        }
    }

    /// Whether the authority returns `client_info` (all but ADFS and generic OIDC), so the
    /// home account id is `uid.utid` rather than the id token's `sub`.
    #[must_use]
    pub fn supports_client_info(self) -> bool {
        !matches!(self, Self::Adfs | Self::Oidc)
    }
}

/// How an authority may be used.
///
/// ```
/// use entra_msal_lite::{Authority, AuthorityOptions};
///
/// let options = AuthorityOptions::default().with_disable_instance_discovery(true);
/// let authority = Authority::parse_with("https://login.contoso.local/tenant", &options)?;
/// assert!(!authority.validates_instance());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AuthorityOptions {
    /// Skip instance discovery and authority validation (private clouds, Azure Stack).
    /// Alias lists then shrink to the authority host itself. Python:
    /// `disable_instance_discovery`.
    pub disable_instance_discovery: bool,
    allow_insecure_http: bool,
}

impl AuthorityOptions {
    /// Sets [`disable_instance_discovery`](Self::disable_instance_discovery).
    #[must_use]
    pub fn with_disable_instance_discovery(mut self, disable: bool) -> Self {
        self.disable_instance_discovery = disable;
        self
    }

    /// **Dangerous; audit before use.** Accepts `http://` authorities, so tokens travel in
    /// clear text. Meant only for mock identity providers on `127.0.0.1` in tests.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether `http://` authorities are accepted.
    #[must_use]
    pub fn allows_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }
}

/// A parsed, canonical authority: `https://host[:port]/<tenant>/` (B2C:
/// `https://host/<tenant>/<policy>/`).
///
/// Host and path are lower-cased, a default port is dropped, any other port kept.
///
/// ```
/// use entra_msal_lite::{Authority, authority::AuthorityKind};
///
/// let a = Authority::parse("https://Login.MicrosoftOnline.com/Contoso.onmicrosoft.com")?;
/// assert_eq!(a.as_str(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/");
/// assert_eq!(a.kind(), AuthorityKind::Entra);
/// assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
/// assert!(a.is_known_cloud());
///
/// // A bare host gets https:// prepended, as Python does.
/// let b = Authority::parse("login.microsoftonline.us/organizations")?;
/// assert_eq!(b.as_str(), "https://login.microsoftonline.us/organizations/");
///
/// // Anything but https is refused unless explicitly allowed for tests.
/// assert!(Authority::parse("http://login.microsoftonline.com/common").is_err());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    url: Url,
    kind: AuthorityKind,
    host: String,
    tenant: String,
    policy: Option<String>,
    options: AuthorityOptions,
}

impl Authority {
    /// Parses an authority URL with default options (https only, instance discovery on).
    ///
    /// # Errors
    /// [`MsalError::InvalidAuthority`] naming the value and the rule it broke.
    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_with(value, &AuthorityOptions::default())
    }

    /// Parses an authority URL.
    ///
    /// Rules: scheme `https` (or `http` with
    /// [`danger_allow_insecure_http`](AuthorityOptions::danger_allow_insecure_http)); no user
    /// info, query or fragment; a tenant as the first path segment, except for CIAM hosts
    /// (`https://contoso.ciamlogin.com/` means tenant `contoso.onmicrosoft.com`). The type is
    /// ADFS for a first segment `adfs`; B2C for `*.b2clogin.{com,cn,us,de}` hosts, a first
    /// segment `tfp` or a second segment starting with `b2c_` (a policy is then required);
    /// CIAM for `*.ciamlogin.com` hosts; Entra ID otherwise. Path segments after the tenant
    /// (and policy) are ignored.
    ///
    /// # Errors
    /// [`MsalError::InvalidAuthority`] naming the value and the rule it broke.
    pub fn parse_with(value: &str, options: &AuthorityOptions) -> Result<Self> {
        let url = parse_base_url(value, options)?;
        let host = host_of(&url);
        let host_name = url.host_str().unwrap_or_default().to_owned();
        let lowered_path = url.path().to_ascii_lowercase();
        let segments: Vec<&str> = lowered_path.split('/').filter(|s| !s.is_empty()).collect();

        let is_ciam = host_name.ends_with(".ciamlogin.com");
        let is_b2c_host = [
            ".b2clogin.com",
            ".b2clogin.cn",
            ".b2clogin.us",
            ".b2clogin.de",
        ]
        .iter()
        .any(|suffix| host_name.ends_with(suffix));
        let first = segments.first().copied();

        let (kind, tenant, policy) = if is_ciam {
            let tenant = match first {
                Some(t) => t.to_owned(),
                None => {
                    let label = host_name.split('.').next().unwrap_or_default();
                    format!("{label}.onmicrosoft.com")
                }
            };
            (AuthorityKind::Ciam, tenant, None)
        } else if first == Some("tfp") {
            let (Some(tenant), Some(policy)) = (segments.get(1), segments.get(2)) else {
                return Err(MsalError::invalid_authority(
                    value,
                    "A B2C authority with /tfp/ needs a tenant and a policy: \
                     https://<host>/tfp/<tenant>/<policy>.",
                ));
            };
            (
                AuthorityKind::B2c,
                (*tenant).to_owned(),
                Some((*policy).to_owned()),
            )
        } else if is_b2c_host || segments.get(1).is_some_and(|s| s.starts_with("b2c_")) {
            let (Some(tenant), Some(policy)) = (segments.first(), segments.get(1)) else {
                return Err(MsalError::invalid_authority(
                    value,
                    "A B2C authority needs a tenant and a policy: \
                     https://<tenant>.b2clogin.com/<tenant>.onmicrosoft.com/<policy>.",
                ));
            };
            (
                AuthorityKind::B2c,
                (*tenant).to_owned(),
                Some((*policy).to_owned()),
            )
        } else if first == Some("adfs") {
            (AuthorityKind::Adfs, "adfs".to_owned(), None)
        } else {
            let Some(tenant) = first else {
                return Err(MsalError::invalid_authority(value, TENANT_RULE));
            };
            (AuthorityKind::Entra, tenant.to_owned(), None)
        };

        check_segment(value, "tenant", &tenant)?;
        if let Some(policy) = &policy {
            check_segment(value, "policy", policy)?;
        }

        let path = match (kind, &policy) {
            (AuthorityKind::B2c, Some(p)) if first == Some("tfp") => format!("tfp/{tenant}/{p}/"),
            (_, Some(p)) => format!("{tenant}/{p}/"),
            (_, None) => format!("{tenant}/"),
        };
        let canonical = format!("{}://{host}/{path}", url.scheme());
        let url = Url::parse(&canonical).map_err(|_| {
            MsalError::invalid_authority(value, "It could not be canonicalised as a URL.")
        })?;

        Ok(Self {
            url,
            kind,
            host,
            tenant,
            policy,
            options: options.clone(),
        })
    }

    /// A generic OpenID Connect authority: its metadata is read from
    /// `<url>/.well-known/openid-configuration` and it is never instance-validated.
    ///
    /// # Errors
    /// [`MsalError::InvalidAuthority`] for a URL that is not https (unless allowed), carries
    /// user info, a query or a fragment.
    pub fn oidc(value: &str, options: &AuthorityOptions) -> Result<Self> {
        let mut url = parse_base_url(value, options)?;
        let host = host_of(&url);
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{path}/"));
        let tenant = url
            .path_segments()
            .and_then(|mut s| s.next())
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            url,
            kind: AuthorityKind::Oidc,
            host,
            tenant,
            policy: None,
            options: options.clone(),
        })
    }

    /// The canonical URL, with a trailing `/`.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The canonical URL as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The type of authority.
    #[must_use]
    pub fn kind(&self) -> AuthorityKind {
        self.kind
    }

    /// `host[:port]`, lower-cased: where requests go, and the host of a record's `authority`.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The cache's `environment` for this authority: the host name in lower case without the
    /// port (and without an IPv6 address's brackets), as MSAL Python writes and looks it up.
    /// Differs from [`host`](Self::host) only for an authority with an explicit port.
    ///
    /// ```
    /// # use entra_msal_lite::Authority;
    /// let adfs = Authority::parse("https://adfs.contoso.local:8443/adfs")?;
    /// assert_eq!(adfs.host(), "adfs.contoso.local:8443");
    /// assert_eq!(adfs.environment(), "adfs.contoso.local");
    /// # Ok::<(), entra_msal_lite::MsalError>(())
    /// ```
    #[must_use]
    pub fn environment(&self) -> &str {
        let host = self.url.host_str().unwrap_or_default();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The tenant: the first path segment (`adfs` for ADFS, the B2C tenant for B2C; for a
    /// generic OIDC authority the first path segment or empty).
    #[must_use]
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The B2C policy, for B2C authorities.
    #[must_use]
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// The options the authority was parsed with.
    #[must_use]
    pub fn options(&self) -> &AuthorityOptions {
        &self.options
    }

    /// `scheme://host[:port]`: Python's authority as shown in messages.
    #[must_use]
    pub fn origin(&self) -> String {
        format!("{}://{}", self.url.scheme(), self.host)
    }

    /// Whether this is an Entra ID authority on a host of a known cloud over https (no
    /// port): its endpoints are derived without any request.
    #[must_use]
    pub fn is_known_cloud(&self) -> bool {
        self.kind == AuthorityKind::Entra
            && self.url.scheme() == "https"
            && self.url.port().is_none()
            && cloud::is_known_host(&self.host)
    }

    /// Whether the tenant is one of `common`, `organizations`, `consumers`.
    #[must_use]
    pub fn is_multi_tenant(&self) -> bool {
        matches!(
            self.tenant.as_str(),
            "common" | "organizations" | "consumers"
        )
    }

    /// Whether instance discovery validates this authority: only Entra ID authorities on
    /// hosts outside the known clouds, with discovery not disabled (ADFS, B2C, CIAM and OIDC
    /// are "known to the developer", as in MSAL).
    #[must_use]
    pub fn validates_instance(&self) -> bool {
        self.kind == AuthorityKind::Entra
            && !self.options.disable_instance_discovery
            && !self.is_known_cloud()
    }

    /// The same authority for another tenant (a per-request `tenant_id`).
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] when the tenant is not a valid tenant id (letters,
    /// digits, `-`, `.`) or when the authority is ADFS, B2C or OIDC, whose tenant is fixed.
    pub fn with_tenant(&self, tenant: &str) -> Result<Self> {
        if !matches!(self.kind, AuthorityKind::Entra | AuthorityKind::Ciam) {
            return Err(MsalError::InvalidArgument(format!(
                "The tenant of {} authority {} cannot be changed.",
                match self.kind {
                    AuthorityKind::Adfs => "an ADFS",
                    AuthorityKind::B2c => "a B2C",
                    _ => "an OpenID Connect",
                },
                self.as_str()
            )));
        }
        validate_tenant(tenant)?;
        let tenant = tenant.to_ascii_lowercase();
        if tenant == self.tenant {
            return Ok(self.clone());
        }
        Self::parse_with(
            &format!("{}://{}/{tenant}/", self.url.scheme(), self.host),
            &self.options,
        )
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authority host without a tenant: Python's `authority` option and
/// `AZURE_AUTHORITY_HOST`, e.g. `login.microsoftonline.com` or `https://login.microsoftonline.us`.
///
/// ```
/// use entra_msal_lite::AuthorityHost;
///
/// let host = AuthorityHost::parse("login.microsoftonline.com/")?;
/// assert_eq!(host.as_str(), "https://login.microsoftonline.com");
/// let authority = host.authority("organizations")?;
/// assert_eq!(authority.as_str(), "https://login.microsoftonline.com/organizations/");
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorityHost {
    origin: String,
    options: AuthorityOptions,
}

impl AuthorityHost {
    /// Parses a host with default options.
    ///
    /// # Errors
    /// [`MsalError::InvalidAuthority`] as in [`parse_with`](Self::parse_with).
    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_with(value, &AuthorityOptions::default())
    }

    /// Parses a host: white space and trailing `/` are stripped and `https://` is prepended
    /// when there is no scheme (Python's normalisation). The scheme must be https (unless
    /// allowed), and there must be no path, user info, query or fragment.
    ///
    /// # Errors
    /// [`MsalError::InvalidAuthority`] naming the value and the rule.
    pub fn parse_with(value: &str, options: &AuthorityOptions) -> Result<Self> {
        let url = parse_base_url(value, options)?;
        if url.path() != "/" && !url.path().is_empty() {
            return Err(MsalError::invalid_authority(
                value,
                "An authority host has no path: pass the tenant separately.",
            ));
        }
        Ok(Self {
            origin: format!("{}://{}", url.scheme(), host_of(&url)),
            options: options.clone(),
        })
    }

    /// The Azure public cloud, `https://login.microsoftonline.com`.
    #[must_use]
    pub fn public_cloud() -> Self {
        Self {
            origin: format!("https://{}", AzureAuthorityHosts::AZURE_PUBLIC_CLOUD),
            options: AuthorityOptions::default(),
        }
    }

    /// `scheme://host[:port]`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// `host[:port]`.
    #[must_use]
    pub fn host(&self) -> &str {
        self.origin
            .split_once("://")
            .map_or(self.origin.as_str(), |(_, h)| h)
    }

    /// Returns a copy using `options`.
    #[must_use]
    pub fn with_options(mut self, options: &AuthorityOptions) -> Self {
        self.options = options.clone();
        self
    }

    /// The authority of `tenant` on this host.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for an invalid tenant id,
    /// [`MsalError::InvalidAuthority`] if the result cannot be parsed.
    pub fn authority(&self, tenant: &str) -> Result<Authority> {
        validate_tenant(tenant)?;
        Authority::parse_with(&format!("{}/{tenant}", self.origin), &self.options)
    }
}

impl fmt::Display for AuthorityHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// The default authority host: `AZURE_AUTHORITY_HOST` when set and non-empty, else the Azure
/// public cloud (Python's behaviour when no `authority` is given).
///
/// # Errors
/// [`MsalError::InvalidAuthority`] when the variable holds an invalid host (e.g. `http://`).
pub fn authority_host_from_env() -> Result<AuthorityHost> {
    authority_host_from_value(authority_host_env_value().as_deref())
}

/// The value of `AZURE_AUTHORITY_HOST` when set and not blank: the one place the variable is
/// read.
#[must_use]
pub fn authority_host_env_value() -> Option<String> {
    std::env::var(AZURE_AUTHORITY_HOST)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// [`authority_host_from_env`] for a given value of the variable (testable without touching
/// the process environment).
///
/// # Errors
/// As [`authority_host_from_env`].
pub fn authority_host_from_value(value: Option<&str>) -> Result<AuthorityHost> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => AuthorityHost::parse(v),
        _ => Ok(AuthorityHost::public_cloud()),
    }
}

/// Checks a tenant id as Python does, and refuses `.`/`..` which would change the path.
fn validate_tenant(tenant: &str) -> Result<()> {
    entra_core::validate_tenant_id(tenant)
        .map_err(|e| MsalError::InvalidArgument(e.message().to_owned()))?;
    if tenant.chars().all(|c| c == '.') {
        return Err(MsalError::InvalidArgument(
            "Invalid tenant ID provided: a tenant cannot be made only of dots.".to_owned(),
        ));
    }
    Ok(())
}

/// Python's normalisation and the checks every authority form shares.
fn parse_base_url(value: &str, options: &AuthorityOptions) -> Result<Url> {
    let has_scheme = value.contains("://");
    let trimmed = value.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(MsalError::invalid_authority(value, "It is empty."));
    }
    let text = if has_scheme {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&text)
        .map_err(|e| MsalError::invalid_authority(value, format!("It is not a URL ({e}).")))?;
    match url.scheme() {
        "https" => {}
        "http" if options.allow_insecure_http => {}
        _ => return Err(MsalError::invalid_authority(value, HTTPS_RULE)),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(MsalError::invalid_authority(value, "It has no host."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(MsalError::invalid_authority(
            value,
            "It must not contain user info (user:password@).",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(MsalError::invalid_authority(
            value,
            "It must not contain a query (?...) or fragment (#...).",
        ));
    }
    Ok(url)
}

/// `host[:port]` of a URL; the url crate already lower-cases domains and drops default ports.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Tenant and policy segments: letters, digits, `-`, `.`, `_`; not only dots.
fn check_segment(value: &str, what: &str, segment: &str) -> Result<()> {
    let ok = !segment.is_empty()
        && !segment.chars().all(|c| c == '.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(MsalError::invalid_authority(
            value,
            format!(
                "Its {what} '{segment}' may contain only ASCII letters, digits, '-', '.' and '_'."
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure() -> AuthorityOptions {
        AuthorityOptions::default().danger_allow_insecure_http(true)
    }

    #[test]
    fn entra_tenants_in_every_form() {
        for (input, canonical, tenant) in [
            (
                "https://login.microsoftonline.com/72F988BF-86F1-41AF-91AB-2D7CD011DB47",
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
            ),
            (
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/",
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/",
                "contoso.onmicrosoft.com",
            ),
            (
                "https://LOGIN.microsoftonline.com/Common",
                "https://login.microsoftonline.com/common/",
                "common",
            ),
            (
                "login.microsoftonline.com/organizations",
                "https://login.microsoftonline.com/organizations/",
                "organizations",
            ),
            (
                "  https://login.windows.net/consumers//  ",
                "https://login.windows.net/consumers/",
                "consumers",
            ),
            // Extra path segments after the tenant are ignored (MSAL Go).
            (
                "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
                "https://login.microsoftonline.com/common/",
                "common",
            ),
            // A port is kept; the default one dropped.
            (
                "https://login.contoso.local:8443/tenant",
                "https://login.contoso.local:8443/tenant/",
                "tenant",
            ),
            (
                "https://login.microsoftonline.com:443/common",
                "https://login.microsoftonline.com/common/",
                "common",
            ),
        ] {
            let a = Authority::parse(input).unwrap();
            assert_eq!(a.as_str(), canonical, "{input}");
            assert_eq!(a.tenant(), tenant, "{input}");
            assert_eq!(a.kind(), AuthorityKind::Entra, "{input}");
            assert_eq!(a.to_string(), canonical);
        }
        let a = Authority::parse("https://login.contoso.local:8443/tenant").unwrap();
        assert_eq!(a.host(), "login.contoso.local:8443");
        assert_eq!(a.origin(), "https://login.contoso.local:8443");
        assert!(!a.is_known_cloud());
        assert!(a.validates_instance());
        assert!(
            Authority::parse("https://login.microsoftonline.com/common")
                .unwrap()
                .is_multi_tenant()
        );
    }

    #[test]
    fn known_cloud_requires_https_default_port_and_entra() {
        assert!(
            Authority::parse("https://login.windows.net/t")
                .unwrap()
                .is_known_cloud()
        );
        assert!(
            Authority::parse("https://login.chinacloudapi.cn/t")
                .unwrap()
                .is_known_cloud()
        );
        assert!(
            !Authority::parse("https://login.microsoftonline.com:8443/t")
                .unwrap()
                .is_known_cloud()
        );
        let http =
            Authority::parse_with("http://login.microsoftonline.com/t", &insecure()).unwrap();
        assert!(!http.is_known_cloud());
        assert!(
            !Authority::parse("https://login.microsoftonline.com/adfs")
                .unwrap()
                .is_known_cloud()
        );
        assert!(
            !Authority::parse("https://fake-login.microsoftonline.com/t")
                .unwrap()
                .is_known_cloud()
        );
    }

    #[test]
    fn adfs() {
        let a = Authority::parse("https://ADFS.contoso.com/adfs/").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Adfs);
        assert_eq!(a.tenant(), "adfs");
        assert_eq!(a.as_str(), "https://adfs.contoso.com/adfs/");
        assert!(!a.validates_instance());
        assert!(!a.kind().supports_client_info());
        assert_eq!(a.kind().cache_authority_type(), "ADFS");
        let err = a.with_tenant("contoso").unwrap_err();
        assert!(err.to_string().contains("ADFS"), "{err}");
    }

    #[test]
    fn b2c_by_host_tfp_and_policy_prefix() {
        let a = Authority::parse(
            "https://fabrikamb2c.b2clogin.com/fabrikamb2c.onmicrosoft.com/B2C_1_SignUpSignIn",
        )
        .unwrap();
        assert_eq!(a.kind(), AuthorityKind::B2c);
        assert_eq!(a.tenant(), "fabrikamb2c.onmicrosoft.com");
        assert_eq!(a.policy(), Some("b2c_1_signupsignin"));
        assert_eq!(
            a.as_str(),
            "https://fabrikamb2c.b2clogin.com/fabrikamb2c.onmicrosoft.com/b2c_1_signupsignin/"
        );
        assert!(!a.validates_instance());

        let a = Authority::parse(
            "https://login.microsoftonline.com/tfp/contoso.onmicrosoft.com/B2C_1_x",
        )
        .unwrap();
        assert_eq!(a.kind(), AuthorityKind::B2c);
        assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
        assert_eq!(
            a.as_str(),
            "https://login.microsoftonline.com/tfp/contoso.onmicrosoft.com/b2c_1_x/"
        );

        let a = Authority::parse("https://id.contoso.com/contoso.onmicrosoft.com/b2c_1a_custom")
            .unwrap();
        assert_eq!(a.kind(), AuthorityKind::B2c);
        for host in ["x.b2clogin.cn", "x.b2clogin.us", "x.b2clogin.de"] {
            let a = Authority::parse(&format!("https://{host}/x.onmicrosoft.com/p")).unwrap();
            assert_eq!(a.kind(), AuthorityKind::B2c, "{host}");
        }

        for bad in [
            "https://fabrikamb2c.b2clogin.com/fabrikamb2c.onmicrosoft.com",
            "https://fabrikamb2c.b2clogin.com/",
            "https://login.microsoftonline.com/tfp/contoso.onmicrosoft.com",
        ] {
            let err = Authority::parse(bad).unwrap_err();
            assert!(matches!(err, MsalError::InvalidAuthority { .. }), "{bad}");
            assert!(err.to_string().contains("policy"), "{err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
        let b2c = Authority::parse("https://x.b2clogin.com/x.onmicrosoft.com/p").unwrap();
        assert!(b2c.with_tenant("other").is_err());
    }

    #[test]
    fn ciam_with_and_without_path() {
        let a = Authority::parse("https://Contoso.ciamlogin.com/").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Ciam);
        assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
        assert_eq!(
            a.as_str(),
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/"
        );
        assert!(!a.validates_instance());
        let a =
            Authority::parse("contoso.ciamlogin.com/72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Ciam);
        assert_eq!(a.tenant(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        let b = a.with_tenant("fabrikam.onmicrosoft.com").unwrap();
        assert_eq!(
            b.as_str(),
            "https://contoso.ciamlogin.com/fabrikam.onmicrosoft.com/"
        );
    }

    #[test]
    fn generic_oidc() {
        let a = Authority::oidc(
            "https://idp.example.com/realms/dev",
            &AuthorityOptions::default(),
        )
        .unwrap();
        assert_eq!(a.kind(), AuthorityKind::Oidc);
        assert_eq!(a.as_str(), "https://idp.example.com/realms/dev/");
        assert_eq!(a.tenant(), "realms");
        assert!(!a.validates_instance());
        assert!(a.with_tenant("x").is_err());
        assert!(Authority::oidc("http://idp.example.com", &AuthorityOptions::default()).is_err());
    }

    #[test]
    fn bad_authorities_name_value_and_rule() {
        for (bad, rule) in [
            (
                "http://login.microsoftonline.com/common",
                "TLS protected (https)",
            ),
            (
                "ftp://login.microsoftonline.com/common",
                "TLS protected (https)",
            ),
            ("", "empty"),
            ("   ", "empty"),
            ("https://", "not a URL"),
            ("https://login.microsoftonline.com", "tenant"),
            ("https://login.microsoftonline.com/", "tenant"),
            (
                "https://user:pw@login.microsoftonline.com/common",
                "user info",
            ),
            ("https://login.microsoftonline.com/common?x=1", "query"),
            ("https://login.microsoftonline.com/common#frag", "fragment"),
            (
                "https://login.microsoftonline.com/te%20nant",
                "may contain only",
            ),
            ("https://login.microsoftonline.com/a$b", "may contain only"),
            ("https://exa mple.com/common", "not a URL"),
        ] {
            let err = Authority::parse(bad).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, MsalError::InvalidAuthority { .. }),
                "{bad}: {text}"
            );
            assert!(text.contains(&format!("'{bad}'")), "{text}");
            assert!(text.contains(rule), "{bad}: {text}");
            let core: entra_core::Error = err.into();
            assert!(core.is_invalid_argument());
        }
        // Python's exact message for a non-https authority.
        assert_eq!(
            Authority::parse("http://login.microsoftonline.com/common")
                .unwrap_err()
                .to_string(),
            "'http://login.microsoftonline.com/common' is an invalid authority. The value must be \
             a TLS protected (https) URL."
        );
    }

    #[test]
    fn insecure_http_only_when_opted_in() {
        let a = Authority::parse_with("http://127.0.0.1:5000/tenant", &insecure()).unwrap();
        assert_eq!(a.as_str(), "http://127.0.0.1:5000/tenant/");
        assert_eq!(a.host(), "127.0.0.1:5000");
        assert!(a.options().allows_insecure_http());
        // The option travels with tenant changes.
        let b = a.with_tenant("other").unwrap();
        assert_eq!(b.as_str(), "http://127.0.0.1:5000/other/");
        assert!(Authority::parse("http://127.0.0.1:5000/tenant").is_err());
        assert!(Authority::parse_with("ftp://127.0.0.1/t", &insecure()).is_err());
    }

    #[test]
    fn with_tenant_validates_and_cannot_escape_the_host() {
        let a = Authority::parse("https://login.microsoftonline.com/organizations").unwrap();
        let b = a
            .with_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
            .unwrap();
        assert_eq!(
            b.as_str(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/"
        );
        assert_eq!(a.with_tenant("ORGANIZATIONS").unwrap(), a);
        for bad in [
            "../../other.com/tenant",
            "a/b",
            "..",
            ".",
            "",
            "my tenant",
            "evil.com#",
        ] {
            let err = a.with_tenant(bad).unwrap_err();
            assert!(matches!(err, MsalError::InvalidArgument(_)), "{bad}");
        }
    }

    #[test]
    fn authority_hosts_and_the_environment() {
        for (input, origin) in [
            (
                "login.microsoftonline.com",
                "https://login.microsoftonline.com",
            ),
            (
                "https://login.microsoftonline.us/",
                "https://login.microsoftonline.us",
            ),
            (" login.chinacloudapi.cn ", "https://login.chinacloudapi.cn"),
            (
                "https://Login.Contoso.Local:8443",
                "https://login.contoso.local:8443",
            ),
        ] {
            let h = AuthorityHost::parse(input).unwrap();
            assert_eq!(h.as_str(), origin);
            assert_eq!(h.to_string(), origin);
        }
        let h = AuthorityHost::parse("https://login.contoso.local:8443").unwrap();
        assert_eq!(h.host(), "login.contoso.local:8443");
        assert_eq!(
            h.authority("contoso").unwrap().as_str(),
            "https://login.contoso.local:8443/contoso/"
        );
        assert!(h.authority("bad tenant").is_err());
        let err = AuthorityHost::parse("http://login.microsoftonline.com").unwrap_err();
        assert!(err.to_string().contains("TLS protected (https)"), "{err}");
        let err = AuthorityHost::parse("https://login.microsoftonline.com/tenant").unwrap_err();
        assert!(err.to_string().contains("no path"), "{err}");
        let h = AuthorityHost::parse_with("http://127.0.0.1:1234", &insecure()).unwrap();
        assert!(h.authority("t").unwrap().options().allows_insecure_http());
        let h = AuthorityHost::public_cloud()
            .with_options(&AuthorityOptions::default().with_disable_instance_discovery(true));
        assert!(
            h.authority("t")
                .unwrap()
                .options()
                .disable_instance_discovery
        );

        assert_eq!(
            authority_host_from_value(None).unwrap(),
            AuthorityHost::public_cloud()
        );
        assert_eq!(
            authority_host_from_value(Some("  ")).unwrap(),
            AuthorityHost::public_cloud()
        );
        assert_eq!(
            authority_host_from_value(Some("login.microsoftonline.us"))
                .unwrap()
                .as_str(),
            "https://login.microsoftonline.us"
        );
        assert!(authority_host_from_value(Some("http://x.example")).is_err());
    }
}
