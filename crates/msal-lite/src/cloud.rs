//! Built-in metadata of the clouds MSAL trusts: alias groups, preferred hosts, ARM scopes.
//!
//! The table is MSAL Go v1.9's `known_metadata.go` (≈ MSAL.NET `KnownMetadataProvider`), so a
//! sign-in against any of these hosts needs neither instance discovery nor an OpenID
//! configuration request.

/// Metadata of one known cloud: the hosts that are aliases of each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloudMetadata {
    /// The host to send requests to.
    pub preferred_network: &'static str,
    /// The host MSAL writes cache entries under (`login.windows.net` for the public cloud).
    pub preferred_cache: &'static str,
    /// Every host of the cloud, `preferred_network` first.
    pub aliases: &'static [&'static str],
    /// The Azure Resource Manager `.default` scope of the cloud: what `authenticate()` asks
    /// for when the caller gives no scopes. `None` when Python has no default for the cloud.
    pub arm_scope: Option<&'static str>,
}

const PUBLIC_ARM: &str = "https://management.core.windows.net//.default";
const CHINA_ARM: &str = "https://management.core.chinacloudapi.cn//.default";
const US_GOV_ARM: &str = "https://management.core.usgovcloudapi.net//.default";

/// The known clouds, public cloud first.
pub static KNOWN_CLOUDS: &[CloudMetadata] = &[
    CloudMetadata {
        preferred_network: "login.microsoftonline.com",
        preferred_cache: "login.windows.net",
        aliases: &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
        arm_scope: Some(PUBLIC_ARM),
    },
    CloudMetadata {
        preferred_network: "login.partner.microsoftonline.cn",
        preferred_cache: "login.partner.microsoftonline.cn",
        aliases: &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
        arm_scope: Some(CHINA_ARM),
    },
    CloudMetadata {
        preferred_network: "login.microsoftonline.de",
        preferred_cache: "login.microsoftonline.de",
        aliases: &["login.microsoftonline.de"],
        arm_scope: None,
    },
    CloudMetadata {
        preferred_network: "login.microsoftonline.us",
        preferred_cache: "login.microsoftonline.us",
        aliases: &["login.microsoftonline.us", "login.usgovcloudapi.net"],
        arm_scope: Some(US_GOV_ARM),
    },
    CloudMetadata {
        preferred_network: "login-us.microsoftonline.com",
        preferred_cache: "login-us.microsoftonline.com",
        aliases: &["login-us.microsoftonline.com"],
        arm_scope: None,
    },
    CloudMetadata {
        preferred_network: "login.sovcloud-identity.fr",
        preferred_cache: "login.sovcloud-identity.fr",
        aliases: &["login.sovcloud-identity.fr"],
        arm_scope: None,
    },
    CloudMetadata {
        preferred_network: "login.sovcloud-identity.de",
        preferred_cache: "login.sovcloud-identity.de",
        aliases: &["login.sovcloud-identity.de"],
        arm_scope: None,
    },
    CloudMetadata {
        preferred_network: "login.sovcloud-identity.sg",
        preferred_cache: "login.sovcloud-identity.sg",
        aliases: &["login.sovcloud-identity.sg"],
        arm_scope: None,
    },
];

/// The known cloud `host` belongs to (exact, case-insensitive match; a port means unknown).
///
/// ```
/// use entra_msal_lite::cloud::known_cloud;
///
/// let cloud = known_cloud("login.windows.net").unwrap();
/// assert_eq!(cloud.preferred_network, "login.microsoftonline.com");
/// assert!(known_cloud("fake-login.microsoftonline.com").is_none());
/// ```
#[must_use]
pub fn known_cloud(host: &str) -> Option<&'static CloudMetadata> {
    KNOWN_CLOUDS
        .iter()
        .find(|cloud| cloud.aliases.iter().any(|a| a.eq_ignore_ascii_case(host)))
}

/// Whether `host` is one of the hosts MSAL trusts without instance discovery.
#[must_use]
pub fn is_known_host(host: &str) -> bool {
    known_cloud(host).is_some()
}

/// The alias group of a known host, or an empty slice for any other host.
#[must_use]
pub fn aliases(host: &str) -> &'static [&'static str] {
    known_cloud(host).map_or(&[], |cloud| cloud.aliases)
}

/// The host MSAL writes cache entries under for `host`: the cloud's `preferred_cache`, or the
/// host itself when it is not known.
#[must_use]
pub fn preferred_cache_host(host: &str) -> &str {
    known_cloud(host).map_or(host, |cloud| cloud.preferred_cache)
}

/// The Azure Resource Manager `.default` scope for an authority host (public, China, US
/// Government), used by `authenticate()` without scopes; `None` for other clouds.
///
/// ```
/// use entra_msal_lite::cloud::default_arm_scope;
///
/// assert_eq!(
///     default_arm_scope("login.microsoftonline.com"),
///     Some("https://management.core.windows.net//.default")
/// );
/// assert_eq!(default_arm_scope("login.example.org"), None);
/// ```
#[must_use]
pub fn default_arm_scope(host: &str) -> Option<&'static str> {
    known_cloud(host).and_then(|cloud| cloud.arm_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MSAL Go's `TestTrustedHost` list: every one must have metadata.
    const TRUSTED: [&str; 13] = [
        "login.windows.net",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
        "login.microsoftonline.de",
        "login-us.microsoftonline.com",
        "login.microsoftonline.us",
        "login.microsoftonline.com",
        "login.microsoft.com",
        "sts.windows.net",
        "login.usgovcloudapi.net",
        "login.sovcloud-identity.fr",
        "login.sovcloud-identity.de",
        "login.sovcloud-identity.sg",
    ];

    #[test]
    fn every_trusted_host_has_metadata_and_nothing_else_does() {
        for host in TRUSTED {
            assert!(is_known_host(host), "{host}");
            assert!(aliases(host).contains(&host), "{host}");
        }
        let all: usize = KNOWN_CLOUDS.iter().map(|c| c.aliases.len()).sum();
        assert_eq!(all, TRUSTED.len());
        for host in [
            "fake-login.microsoftonline.com",
            "login.microsoftonline.com.evil.example",
            "microsoftonline.com",
            "",
            "login.microsoftonline.com:8443",
        ] {
            assert!(!is_known_host(host), "{host}");
            assert!(aliases(host).is_empty());
        }
    }

    #[test]
    fn public_cloud_aliases_share_one_entry() {
        let a = known_cloud("login.microsoftonline.com").unwrap();
        for host in [
            "login.windows.net",
            "login.microsoft.com",
            "STS.windows.net",
        ] {
            assert_eq!(known_cloud(host), Some(a));
        }
        assert_eq!(
            preferred_cache_host("login.microsoft.com"),
            "login.windows.net"
        );
        assert_eq!(preferred_cache_host("idp.example"), "idp.example");
        assert_eq!(
            aliases("login.chinacloudapi.cn"),
            &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"]
        );
    }

    #[test]
    fn arm_scopes_per_cloud() {
        assert_eq!(default_arm_scope("login.windows.net"), Some(PUBLIC_ARM));
        assert_eq!(
            default_arm_scope("login.chinacloudapi.cn"),
            Some("https://management.core.chinacloudapi.cn//.default")
        );
        assert_eq!(
            default_arm_scope("login.microsoftonline.us"),
            Some("https://management.core.usgovcloudapi.net//.default")
        );
        assert_eq!(default_arm_scope("login.sovcloud-identity.fr"), None);
    }
}
