//! Endpoints of an authority: derived for known clouds, or parsed from instance discovery and
//! the OpenID configuration (sans-I/O: URL builders and response parsers only).

use serde::Deserialize;
use url::Url;

use crate::authority::{Authority, AuthorityKind};
use crate::cloud;
use crate::error::{MsalError, Result};

/// Where an authority's endpoints came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointSource {
    /// Derived from the built-in known-cloud table: no request was made.
    KnownCloud,
    /// Read from the authority's OpenID configuration document.
    OpenIdConfiguration,
}

/// The endpoints and environment of one authority.
///
/// ```
/// use entra_msal_lite::{Authority, Endpoints};
///
/// let authority = Authority::parse("https://login.microsoftonline.com/organizations")?;
/// let endpoints = Endpoints::known_cloud(&authority).expect("a known cloud");
/// assert_eq!(
///     endpoints.token_endpoint.as_str(),
///     "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
/// );
/// assert!(endpoints.is_alias("login.windows.net"));
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The authority these endpoints belong to.
    pub authority: Authority,
    /// Where the browser goes: `.../oauth2/v2.0/authorize`.
    pub authorization_endpoint: Url,
    /// Where codes and refresh tokens are redeemed: `.../oauth2/v2.0/token`.
    pub token_endpoint: Url,
    /// The expected issuer of ID tokens; Entra's `{tenantid}` template may appear in it.
    pub issuer: String,
    /// The signing keys (unused: ID tokens come straight from the TLS token endpoint).
    pub jwks_uri: Option<Url>,
    /// The device authorization endpoint, when the authority has one.
    pub device_authorization_endpoint: Option<Url>,
    /// The end-session (sign-out) endpoint, when the authority has one.
    pub end_session_endpoint: Option<Url>,
    /// Every host the cache should treat as this authority's environment (the authority host
    /// first). Just the host itself when instance discovery is disabled.
    pub aliases: Vec<String>,
    /// The host MSAL writes cache entries under for this cloud.
    pub preferred_cache: String,
    /// Where the endpoints came from.
    pub source: EndpointSource,
}

impl Endpoints {
    /// The endpoints of an Entra ID authority on a known cloud, derived without any request;
    /// `None` for any other authority.
    #[must_use]
    pub fn known_cloud(authority: &Authority) -> Option<Self> {
        if !authority.is_known_cloud() {
            return None;
        }
        let meta = cloud::known_cloud(authority.host())?;
        let base = authority.url();
        let join = |path: &str| base.join(path).ok();
        let tenant = authority.tenant();
        let issuer_tenant = if is_guid(tenant) {
            tenant
        } else {
            "{tenantid}"
        };
        let (aliases, preferred_cache) = if authority.options().disable_instance_discovery {
            (
                vec![authority.host().to_owned()],
                authority.environment().to_owned(),
            )
        } else {
            (
                alias_list(authority.host(), meta.aliases.iter().copied()),
                meta.preferred_cache.to_owned(),
            )
        };
        Some(Self {
            authority: authority.clone(),
            authorization_endpoint: join("oauth2/v2.0/authorize")?,
            token_endpoint: join("oauth2/v2.0/token")?,
            issuer: format!("https://{}/{issuer_tenant}/v2.0", meta.preferred_network),
            jwks_uri: join("discovery/v2.0/keys"),
            device_authorization_endpoint: join("oauth2/v2.0/devicecode"),
            end_session_endpoint: join("oauth2/v2.0/logout"),
            aliases,
            preferred_cache,
            source: EndpointSource::KnownCloud,
        })
    }

    /// The tenant ("realm") the cache stores tokens under: the first path segment of the
    /// token endpoint, as MSAL Python does (normally the authority's tenant).
    #[must_use]
    pub fn realm(&self) -> &str {
        self.token_endpoint
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .unwrap_or(self.authority.tenant())
    }

    /// The environments whose cache entries are this authority's: the aliases, and the
    /// authority's host without its port, which MSAL Python writes (an explicit port is kept
    /// in the aliases, where older entries and the issuer check use it).
    #[must_use]
    pub fn cache_environments(&self) -> Vec<String> {
        cache_environments(&self.authority, self.aliases.clone())
    }

    /// Whether `host` (case-insensitive) is one of this authority's aliases.
    #[must_use]
    pub fn is_alias(&self, host: &str) -> bool {
        self.aliases.iter().any(|a| a.eq_ignore_ascii_case(host))
    }
}

/// A group of aliases from instance discovery.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct AliasGroup {
    /// The host to send requests to.
    #[serde(default)]
    pub preferred_network: String,
    /// The host to write cache entries under.
    #[serde(default)]
    pub preferred_cache: String,
    /// Every host of the group.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A successful instance-discovery response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceDiscovery {
    /// The OpenID configuration URL of the authority, when the service named one.
    pub tenant_discovery_endpoint: Option<Url>,
    /// The alias groups.
    pub metadata: Vec<AliasGroup>,
}

impl InstanceDiscovery {
    /// The group holding `host`, if any.
    #[must_use]
    pub fn group_of(&self, host: &str) -> Option<&AliasGroup> {
        self.metadata
            .iter()
            .find(|g| g.aliases.iter().any(|a| a.eq_ignore_ascii_case(host)))
    }
}

#[derive(Deserialize)]
struct RawDiscovery {
    #[serde(default)]
    tenant_discovery_endpoint: Option<String>,
    #[serde(default)]
    metadata: Vec<AliasGroup>,
}

/// The default instance-discovery endpoint (MSAL Go and .NET; api-version 1.1).
pub const INSTANCE_DISCOVERY_ENDPOINT: &str =
    "https://login.microsoftonline.com/common/discovery/instance";

/// The instance-discovery request URL for `authority` against `discovery_endpoint`:
/// `?api-version=1.1&authorization_endpoint=https://<host>/<tenant>/oauth2/v2.0/authorize`.
#[must_use]
pub fn instance_discovery_url(discovery_endpoint: &Url, authority: &Authority) -> Url {
    let mut url = discovery_endpoint.clone();
    let authorize = format!("{}oauth2/v2.0/authorize", authority.as_str());
    url.query_pairs_mut()
        .append_pair("api-version", "1.1")
        .append_pair("authorization_endpoint", &authorize);
    url
}

/// Parses an instance-discovery response.
///
/// # Errors
/// [`MsalError::InvalidInstance`] when the service answered `invalid_instance` (with Python's
/// message about `disable_instance_discovery`); [`MsalError::Service`] for another OAuth
/// error; [`MsalError::HttpStatus`] for another failure status;
/// [`MsalError::MalformedResponse`] for a body that is not the expected JSON.
pub fn parse_instance_discovery(
    status: u16,
    body: &[u8],
    authority: &Authority,
) -> Result<InstanceDiscovery> {
    const WHAT: &str = "instance discovery";
    if let Some(response) = crate::response::parse_error_body(body) {
        if response.error == "invalid_instance" {
            return Err(MsalError::InvalidInstance {
                authority: authority.origin(),
                response: Box::new(response),
            });
        }
        return Err(MsalError::Service {
            status,
            response: Box::new(response),
            retry_after: None,
        });
    }
    if !(200..300).contains(&status) {
        return Err(MsalError::HttpStatus {
            what: WHAT,
            status,
            retry_after: None,
        });
    }
    let raw: RawDiscovery = json_object(WHAT, body)?;
    let tenant_discovery_endpoint = match raw.tenant_discovery_endpoint.as_deref() {
        Some(text) if !text.is_empty() => {
            Some(checked_url(text, authority).ok_or(MsalError::MissingField {
                what: WHAT,
                field: "tenant_discovery_endpoint",
            })?)
        }
        _ => None,
    };
    Ok(InstanceDiscovery {
        tenant_discovery_endpoint,
        metadata: raw.metadata,
    })
}

/// The OpenID configuration URL of an authority:
/// `<authority>/v2.0/.well-known/openid-configuration` (ADFS: `https://<host>/adfs/...`
/// without `v2.0`; generic OIDC: `<authority>/.well-known/openid-configuration`).
#[must_use]
pub fn openid_configuration_url(authority: &Authority) -> Url {
    let path = match authority.kind() {
        AuthorityKind::Adfs | AuthorityKind::Oidc => ".well-known/openid-configuration",
        _ => "v2.0/.well-known/openid-configuration",
    };
    // The canonical URL ends with '/', so joining a relative path cannot fail or escape it.
    authority
        .url()
        .join(path)
        .unwrap_or_else(|_| authority.url().clone())
}

#[derive(Deserialize)]
struct RawOpenIdConfiguration {
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// Parses an OpenID configuration document into [`Endpoints`], replacing `{tenant}` in the
/// endpoints with the authority's tenant and checking the issuer (see
/// [`issuer_matches_authority`]). `aliases` are the environment aliases from instance
/// discovery (the authority host is added first if missing).
///
/// # Errors
/// [`MsalError::TenantDiscovery`] (Python's "Unable to get authority configuration for ..."
/// message) for a 4xx status or a document lacking `authorization_endpoint`,
/// `token_endpoint` or `issuer`, or naming an endpoint that is not https;
/// [`MsalError::HttpStatus`] for another failure status;
/// [`MsalError::MalformedResponse`] for a body that is not JSON;
/// [`MsalError::IssuerMismatch`] when the issuer does not belong to the authority.
pub fn parse_openid_configuration(
    status: u16,
    body: &[u8],
    authority: &Authority,
    aliases: &[String],
) -> Result<Endpoints> {
    const WHAT: &str = "the OpenID configuration request";
    let tenant_discovery =
        |status: Option<u16>, problem: Option<String>| MsalError::TenantDiscovery {
            authority: authority.as_str().trim_end_matches('/').to_owned(),
            status,
            problem,
        };
    if (400..500).contains(&status) {
        return Err(tenant_discovery(Some(status), None));
    }
    if !(200..300).contains(&status) {
        return Err(MsalError::HttpStatus {
            what: WHAT,
            status,
            retry_after: None,
        });
    }
    let raw: RawOpenIdConfiguration = json_object(WHAT, body)?;
    let tenant = authority.tenant();
    let endpoint = |field: &'static str, value: Option<&str>| -> Result<Url> {
        let value = value.filter(|v| !v.is_empty()).ok_or_else(|| {
            tenant_discovery(None, Some(format!("the document has no '{field}'")))
        })?;
        checked_url(&value.replace("{tenant}", tenant), authority).ok_or_else(|| {
            tenant_discovery(None, Some(format!("its '{field}' is not an https URL")))
        })
    };
    let optional = |value: Option<&str>| {
        value
            .filter(|v| !v.is_empty())
            .and_then(|v| checked_url(&v.replace("{tenant}", tenant), authority))
    };
    let authorization_endpoint = endpoint(
        "authorization_endpoint",
        raw.authorization_endpoint.as_deref(),
    )?;
    let token_endpoint = endpoint("token_endpoint", raw.token_endpoint.as_deref())?;
    let issuer = raw
        .issuer
        .filter(|i| !i.is_empty())
        .ok_or_else(|| tenant_discovery(None, Some("the document has no 'issuer'".to_owned())))?;
    let aliases = alias_list(authority.host(), aliases.iter().map(String::as_str));
    if !issuer_matches_authority(&issuer, authority, &aliases) {
        return Err(MsalError::IssuerMismatch {
            issuer,
            authority: authority.as_str().to_owned(),
        });
    }
    let preferred_cache = cloud::known_cloud(authority.host())
        .filter(|_| !authority.options().disable_instance_discovery)
        .map_or_else(
            || authority.environment().to_owned(),
            |c| c.preferred_cache.to_owned(),
        );
    Ok(Endpoints {
        authority: authority.clone(),
        authorization_endpoint,
        token_endpoint,
        issuer,
        jwks_uri: optional(raw.jwks_uri.as_deref()),
        device_authorization_endpoint: optional(raw.device_authorization_endpoint.as_deref()),
        end_session_endpoint: optional(raw.end_session_endpoint.as_deref()),
        aliases,
        preferred_cache,
        source: EndpointSource::OpenIdConfiguration,
    })
}

/// Whether an issuer belongs to an authority (MSAL Go v1.9's rules, narrowed): same scheme
/// and host; or the issuer host is one of `aliases`; or it is a host of the authority's own
/// known cloud (never for a custom authority); or the authority host
/// is a subdomain of it (regional hosts); or, for CIAM, both are `*.ciamlogin.com`. The path
/// (tenant) is not compared here.
#[must_use]
pub fn issuer_matches_authority(issuer: &str, authority: &Authority, aliases: &[String]) -> bool {
    let Ok(url) = Url::parse(issuer) else {
        return false;
    };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return false;
    };
    let host_port = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    if url.scheme() == authority.url().scheme() && host_port == authority.host() {
        return true;
    }
    if url.scheme() != "https" {
        return false;
    }
    // The issuer's host must be the authority's own or one of its aliases: a known-cloud
    // host counts only for an authority of the same cloud (never for a custom authority,
    // which could otherwise hand out tokens "issued" by login.microsoftonline.com).
    let same_cloud = cloud::aliases(authority.host())
        .iter()
        .any(|a| a.eq_ignore_ascii_case(host));
    if aliases.iter().any(|a| a.eq_ignore_ascii_case(&host_port)) || same_cloud {
        return true;
    }
    let authority_host = authority.url().host_str().unwrap_or_default();
    if authority_host.ends_with(&format!(".{host}")) {
        return true;
    }
    authority.kind() == AuthorityKind::Ciam && host.ends_with(".ciamlogin.com")
}

/// Deserializes a JSON object (never an array) into `T`.
fn json_object<T: serde::de::DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| MsalError::malformed(what, &e))?;
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| MsalError::malformed(what, &e))
}

/// A URL from a server document: https, or http when the authority allows insecure http.
fn checked_url(text: &str, authority: &Authority) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    let ok = match url.scheme() {
        "https" => true,
        "http" => authority.options().allows_insecure_http(),
        _ => false,
    };
    (ok && url.host_str().is_some()).then_some(url)
}

/// `environments` with `authority`'s port-less host added when it is not among them.
#[must_use]
pub fn cache_environments(authority: &Authority, mut environments: Vec<String>) -> Vec<String> {
    let environment = authority.environment();
    if !environments
        .iter()
        .any(|e| e.eq_ignore_ascii_case(environment))
    {
        environments.push(environment.to_owned());
    }
    environments
}

/// `host` first, then the other aliases, without duplicates.
pub(crate) fn alias_list<'a>(host: &str, others: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut list = vec![host.to_owned()];
    for alias in others {
        if !list.iter().any(|a| a.eq_ignore_ascii_case(alias)) {
            list.push(alias.to_ascii_lowercase());
        }
    }
    list
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hex form.
pub(crate) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::AuthorityOptions;

    fn authority(s: &str) -> Authority {
        Authority::parse(s).unwrap()
    }

    fn oidc_doc(host: &str, tenant_path: &str, issuer: &str) -> String {
        format!(
            r#"{{"authorization_endpoint":"https://{host}/{tenant_path}/oauth2/v2.0/authorize",
                "token_endpoint":"https://{host}/{tenant_path}/oauth2/v2.0/token",
                "issuer":"{issuer}","jwks_uri":"https://{host}/{tenant_path}/discovery/v2.0/keys",
                "device_authorization_endpoint":"https://{host}/{tenant_path}/oauth2/v2.0/devicecode"}}"#
        )
    }

    #[test]
    fn known_clouds_are_derived_without_requests() {
        let a = authority("https://login.microsoftonline.com/organizations");
        let e = Endpoints::known_cloud(&a).unwrap();
        assert_eq!(e.source, EndpointSource::KnownCloud);
        assert_eq!(
            e.authorization_endpoint.as_str(),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        );
        assert_eq!(
            e.token_endpoint.as_str(),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            e.issuer,
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert_eq!(
            e.jwks_uri.as_ref().unwrap().as_str(),
            "https://login.microsoftonline.com/organizations/discovery/v2.0/keys"
        );
        assert_eq!(e.aliases[0], "login.microsoftonline.com");
        assert_eq!(e.aliases.len(), 4);
        assert!(e.is_alias("STS.windows.net"));
        assert!(!e.is_alias("login.chinacloudapi.cn"));
        assert_eq!(e.preferred_cache, "login.windows.net");
        assert_eq!(e.realm(), "organizations");

        let guid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let e = Endpoints::known_cloud(&authority(&format!("https://login.windows.net/{guid}")))
            .unwrap();
        assert_eq!(
            e.issuer,
            format!("https://login.microsoftonline.com/{guid}/v2.0")
        );
        assert_eq!(e.aliases[0], "login.windows.net");
        assert!(
            e.token_endpoint
                .as_str()
                .starts_with("https://login.windows.net/")
        );

        let e =
            Endpoints::known_cloud(&authority("https://login.chinacloudapi.cn/common")).unwrap();
        assert_eq!(
            e.issuer,
            "https://login.partner.microsoftonline.cn/{tenantid}/v2.0"
        );
        assert_eq!(
            e.aliases,
            ["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"]
        );
        let e =
            Endpoints::known_cloud(&authority("https://login.microsoftonline.us/common")).unwrap();
        assert!(e.is_alias("login.usgovcloudapi.net"));

        // Discovery disabled: aliases shrink to the host itself.
        let options = AuthorityOptions::default().with_disable_instance_discovery(true);
        let a =
            Authority::parse_with("https://login.microsoftonline.com/common", &options).unwrap();
        let e = Endpoints::known_cloud(&a).unwrap();
        assert_eq!(e.aliases, ["login.microsoftonline.com"]);
        assert!(!e.is_alias("login.windows.net"));

        for other in [
            "https://login.contoso.local/t",
            "https://login.microsoftonline.com/adfs",
            "https://x.b2clogin.com/x.onmicrosoft.com/p",
        ] {
            assert!(
                Endpoints::known_cloud(&authority(other)).is_none(),
                "{other}"
            );
        }
    }

    #[test]
    fn instance_discovery_request() {
        let a = authority("https://login.contoso.local/contoso.onmicrosoft.com");
        let url = instance_discovery_url(&Url::parse(INSTANCE_DISCOVERY_ENDPOINT).unwrap(), &a);
        assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
        assert_eq!(url.path(), "/common/discovery/instance");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("api-version".to_owned(), "1.1".to_owned()),
                (
                    "authorization_endpoint".to_owned(),
                    "https://login.contoso.local/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn instance_discovery_responses() {
        let a = authority("https://login.contoso.local/t");
        let ok = br#"{"tenant_discovery_endpoint":"https://login.contoso.local/t/v2.0/.well-known/openid-configuration",
            "api-version":"1.1","metadata":[{"preferred_network":"login.contoso.local","preferred_cache":"cache.contoso.local",
            "aliases":["login.contoso.local","cache.contoso.local"]},{"preferred_network":"x","aliases":["x"]}]}"#;
        let d = parse_instance_discovery(200, ok, &a).unwrap();
        assert_eq!(
            d.tenant_discovery_endpoint.as_ref().unwrap().as_str(),
            "https://login.contoso.local/t/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            d.group_of("LOGIN.contoso.local").unwrap().preferred_cache,
            "cache.contoso.local"
        );
        assert!(d.group_of("nope").is_none());

        let invalid = br#"{"error":"invalid_instance","error_description":"AADSTS50049: Unknown or invalid instance.","error_codes":[50049]}"#;
        let err = parse_instance_discovery(400, invalid, &a).unwrap_err();
        assert!(matches!(err, MsalError::InvalidInstance { .. }));
        assert_eq!(
            err.to_string(),
            "The authority provided, https://login.contoso.local, is not well-known. If this \
             authority is valid and trustworthy, you can disable this check by passing in \
             'disable_instance_discovery=True' when constructing the credential."
        );
        assert_eq!(err.error_response().unwrap().error_codes, [50049]);
        let core: entra_core::Error = err.into();
        assert!(core.is_client_authentication());
        assert!(
            core.message()
                .starts_with("Authentication failed: The authority provided")
        );
        assert_eq!(core.status(), Some(400));

        let err = parse_instance_discovery(500, b"<html>oops</html>", &a).unwrap_err();
        assert!(matches!(err, MsalError::HttpStatus { status: 500, .. }));
        assert!(err.is_transient());
        let err = parse_instance_discovery(400, br#"{"error":"invalid_request"}"#, &a).unwrap_err();
        assert_eq!(err.oauth_error(), Some("invalid_request"));
        let err = parse_instance_discovery(200, b"{not json", &a).unwrap_err();
        assert!(matches!(err, MsalError::MalformedResponse { .. }));
        // An http tenant discovery endpoint is refused for an https authority.
        let err = parse_instance_discovery(
            200,
            br#"{"tenant_discovery_endpoint":"http://evil.example/t"}"#,
            &a,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            MsalError::MissingField {
                field: "tenant_discovery_endpoint",
                ..
            }
        ));
        // Without metadata or endpoint it still parses.
        let d = parse_instance_discovery(200, b"{}", &a).unwrap();
        assert!(d.tenant_discovery_endpoint.is_none() && d.metadata.is_empty());
    }

    #[test]
    fn openid_configuration_urls_per_kind() {
        for (input, expected) in [
            (
                "https://login.contoso.local/t",
                "https://login.contoso.local/t/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://adfs.contoso.com/adfs",
                "https://adfs.contoso.com/adfs/.well-known/openid-configuration",
            ),
            (
                "https://x.b2clogin.com/x.onmicrosoft.com/b2c_1_p",
                "https://x.b2clogin.com/x.onmicrosoft.com/b2c_1_p/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://x.ciamlogin.com/",
                "https://x.ciamlogin.com/x.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(
                openid_configuration_url(&authority(input)).as_str(),
                expected
            );
        }
        let oidc = Authority::oidc(
            "https://idp.example/realms/dev",
            &AuthorityOptions::default(),
        )
        .unwrap();
        assert_eq!(
            openid_configuration_url(&oidc).as_str(),
            "https://idp.example/realms/dev/.well-known/openid-configuration"
        );
    }

    #[test]
    fn an_explicit_port_is_written_without_and_found_with_and_without() {
        let a = authority("https://login.contoso.local:8443/contoso");
        let doc = oidc_doc(
            "login.contoso.local:8443",
            "contoso",
            "https://login.contoso.local:8443/{tenantid}/v2.0",
        );
        let e = parse_openid_configuration(200, doc.as_bytes(), &a, &[]).unwrap();
        // MSAL Python's environment is the host without the port; entries an earlier
        // version wrote under `host:port` are still found.
        assert_eq!(e.preferred_cache, "login.contoso.local");
        assert_eq!(
            e.cache_environments(),
            ["login.contoso.local:8443", "login.contoso.local"]
        );
        // The issuer check still needs the port.
        assert_eq!(e.aliases, ["login.contoso.local:8443"]);
        // Without a port nothing is added.
        let b = authority("https://login.contoso.local/contoso");
        assert_eq!(
            cache_environments(&b, vec!["login.contoso.local".to_owned()]),
            ["login.contoso.local"]
        );
    }

    #[test]
    fn openid_configuration_documents() {
        let a = authority("https://login.contoso.local/contoso");
        let doc = oidc_doc(
            "login.contoso.local",
            "{tenant}",
            "https://login.contoso.local/{tenantid}/v2.0",
        );
        let e = parse_openid_configuration(200, doc.as_bytes(), &a, &[]).unwrap();
        assert_eq!(e.source, EndpointSource::OpenIdConfiguration);
        assert_eq!(
            e.token_endpoint.as_str(),
            "https://login.contoso.local/contoso/oauth2/v2.0/token"
        );
        assert_eq!(e.issuer, "https://login.contoso.local/{tenantid}/v2.0");
        assert!(e.device_authorization_endpoint.is_some());
        assert!(e.end_session_endpoint.is_none());
        assert_eq!(e.aliases, ["login.contoso.local"]);
        assert_eq!(e.realm(), "contoso");

        // Python's realm is the token endpoint's tenant (a domain becomes a GUID).
        let doc = oidc_doc(
            "login.contoso.local",
            "guid-1",
            "https://login.contoso.local/guid-1/v2.0",
        );
        let e = parse_openid_configuration(
            200,
            doc.as_bytes(),
            &a,
            &["alias.contoso.local".to_owned()],
        )
        .unwrap();
        assert_eq!(e.realm(), "guid-1");
        assert_eq!(e.aliases, ["login.contoso.local", "alias.contoso.local"]);

        // 4xx: Python's "Unable to get authority configuration" message.
        let err = parse_openid_configuration(404, b"{}", &a, &[]).unwrap_err();
        assert!(matches!(
            err,
            MsalError::TenantDiscovery {
                status: Some(404),
                ..
            }
        ));
        assert!(
            err.to_string().starts_with(
                "Unable to get authority configuration for https://login.contoso.local/contoso. \
             Authority would typically be in a format of"
            ),
            "{err}"
        );
        let err = parse_openid_configuration(503, b"{}", &a, &[]).unwrap_err();
        assert!(matches!(err, MsalError::HttpStatus { status: 503, .. }));
        let err = parse_openid_configuration(200, b"[]", &a, &[]).unwrap_err();
        assert!(matches!(err, MsalError::MalformedResponse { .. }));

        for missing in ["authorization_endpoint", "token_endpoint", "issuer"] {
            let mut v: serde_json::Value = serde_json::from_str(&oidc_doc(
                "login.contoso.local",
                "t",
                "https://login.contoso.local/t/v2.0",
            ))
            .unwrap();
            v.as_object_mut().unwrap().remove(missing);
            let err =
                parse_openid_configuration(200, v.to_string().as_bytes(), &a, &[]).unwrap_err();
            match err {
                MsalError::TenantDiscovery {
                    problem: Some(p), ..
                } => assert!(p.contains(missing), "{p}"),
                other => panic!("{missing}: {other:?}"),
            }
        }
        // Endpoints must be https for an https authority.
        let doc = oidc_doc(
            "login.contoso.local",
            "t",
            "https://login.contoso.local/t/v2.0",
        )
        .replace(
            "https://login.contoso.local/t/oauth2/v2.0/token",
            "http://login.contoso.local/t/oauth2/v2.0/token",
        );
        let err = parse_openid_configuration(200, doc.as_bytes(), &a, &[]).unwrap_err();
        assert!(matches!(err, MsalError::TenantDiscovery { .. }), "{err:?}");
    }

    #[test]
    fn issuer_checks() {
        let a = authority("https://login.contoso.local/contoso");
        let doc = oidc_doc("login.contoso.local", "t", "https://evil.example/t/v2.0");
        let err = parse_openid_configuration(200, doc.as_bytes(), &a, &[]).unwrap_err();
        assert!(matches!(err, MsalError::IssuerMismatch { .. }));
        assert!(err.to_string().contains("https://evil.example/t/v2.0"));

        let no_aliases: &[String] = &[];
        // MSAL Go's TestTenantDiscoveryValidateIssuer cases.
        assert!(issuer_matches_authority(
            "https://login.contoso.local/other-tenant/v2.0",
            &a,
            no_aliases
        ));
        // Narrower than MSAL Go: a known-cloud issuer is not accepted for a custom authority
        // (its tokens could otherwise claim to come from login.microsoftonline.com) ...
        assert!(!issuer_matches_authority(
            "https://login.microsoftonline.com/t/v2.0",
            &a,
            no_aliases
        ));
        let localhost = authority("https://localhost:18447/organizations");
        assert!(!issuer_matches_authority(
            "https://login.microsoftonline.com/t/v2.0",
            &localhost,
            no_aliases
        ));
        // ... only for an authority of that same cloud, and only that cloud's hosts.
        let public = authority("https://login.microsoftonline.com/t");
        assert!(issuer_matches_authority(
            "https://sts.windows.net/t/",
            &public,
            no_aliases
        ));
        assert!(!issuer_matches_authority(
            "https://login.chinacloudapi.cn/t/v2.0",
            &public,
            no_aliases
        ));
        assert!(issuer_matches_authority(
            "https://alias.contoso.local/t",
            &a,
            &["alias.contoso.local".to_owned()]
        ));
        let regional = authority("https://westus2.login.contoso.local/t");
        assert!(issuer_matches_authority(
            "https://login.contoso.local/t",
            &regional,
            no_aliases
        ));
        assert!(!issuer_matches_authority(
            "https://custom.example/t",
            &a,
            no_aliases
        ));
        assert!(!issuer_matches_authority("", &a, no_aliases));
        assert!(!issuer_matches_authority("not a url", &a, no_aliases));
        assert!(!issuer_matches_authority(
            "https://unknown-alias.example/t",
            &a,
            &["other.example".to_owned()]
        ));
        assert!(!issuer_matches_authority(
            "http://login.microsoftonline.com/t",
            &a,
            no_aliases
        ));
        assert!(!issuer_matches_authority(
            "https://fake-login.microsoftonline.com/t",
            &a,
            no_aliases
        ));
        // CIAM issuers use the tenant-id subdomain.
        let ciam = authority("https://contoso.ciamlogin.com/");
        assert!(issuer_matches_authority(
            "https://guid.ciamlogin.com/guid/v2.0",
            &ciam,
            no_aliases
        ));
        assert!(!issuer_matches_authority(
            "https://guid.ciamlogin.com/guid/v2.0",
            &a,
            no_aliases
        ));
    }

    #[test]
    fn guids() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(is_guid("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
        assert!(!is_guid("72f988bf186f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("common"));
    }
}
