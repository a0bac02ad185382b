//! Argument checks shared by every credential: tenant ids and scopes.

use crate::{Error, Result};

/// Where to find a tenant id; quoted in the invalid-tenant message, as Python does.
const FIND_TENANT_ID: &str = "https://learn.microsoft.com/partner-center/find-ids-and-domain-names";

/// Checks a tenant id: non-empty, only ASCII letters, digits, `-` and `.` (a GUID, a domain
/// such as `contoso.onmicrosoft.com`, `organizations`, `common`, `consumers`, `adfs`).
///
/// # Errors
/// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) with Python's message otherwise.
///
/// ```
/// use entra_core::validate_tenant_id;
///
/// assert!(validate_tenant_id("contoso.onmicrosoft.com").is_ok());
/// assert!(validate_tenant_id("my tenant").is_err());
/// ```
pub fn validate_tenant_id(tenant_id: &str) -> Result<()> {
    let ok = !tenant_id.is_empty()
        && tenant_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "Invalid tenant ID provided. You can locate your tenant ID by following the \
             instructions here: {FIND_TENANT_ID}"
        )))
    }
}

/// Checks the scopes of a token request: at least one, none empty, none containing white
/// space or control characters (a scope with a space would silently become two).
///
/// `method` names the call for the message, e.g. `get_token`.
///
/// # Errors
/// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) naming the bad scope.
///
/// ```
/// use entra_core::validate_scopes;
///
/// assert!(validate_scopes("get_token", &["https://graph.microsoft.com/.default"]).is_ok());
/// assert!(validate_scopes::<&str>("get_token", &[]).is_err());
/// ```
pub fn validate_scopes<S: AsRef<str>>(method: &str, scopes: &[S]) -> Result<()> {
    if scopes.is_empty() {
        return Err(Error::invalid_argument(format!(
            "'{method}' requires at least one scope"
        )));
    }
    for scope in scopes {
        let scope = scope.as_ref();
        if scope.is_empty() {
            return Err(Error::invalid_argument(format!(
                "'{method}' was given an empty scope. Pass scopes such as \
                 \"https://management.azure.com/.default\"."
            )));
        }
        if scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid_argument(format!(
                "The scope {scope:?} contains white space or a control character. Pass each \
                 scope as its own item."
            )));
        }
    }
    Ok(())
}

/// Hosts of the Azure clouds' Entra ID authorities. Python: `AzureAuthorityHosts`.
///
/// These are bare hosts, as in Python; a credential prepends `https://`.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AzureAuthorityHosts;

impl AzureAuthorityHosts {
    /// Azure public cloud (the default).
    pub const AZURE_PUBLIC_CLOUD: &'static str = "login.microsoftonline.com";
    /// Azure operated by 21Vianet (China).
    pub const AZURE_CHINA: &'static str = "login.chinacloudapi.cn";
    /// Azure US Government.
    pub const AZURE_GOVERNMENT: &'static str = "login.microsoftonline.us";
}

/// The client id of the Azure development application ("developer sign-on", the Azure CLI's
/// public client): the default of interactive credentials, as in Python.
pub const DEVELOPER_SIGN_ON_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_python_accepts() {
        for t in [
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "contoso.onmicrosoft.com",
            "organizations",
            "common",
            "consumers",
            "adfs",
        ] {
            assert!(validate_tenant_id(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn tenant_ids_python_rejects() {
        for t in [
            "my tenant",
            "my_tenant",
            "/",
            "\\",
            "\"my-tenant\"",
            "'my-tenant'",
            "",
            "ténant",
            "a/b",
        ] {
            let err = validate_tenant_id(t).unwrap_err();
            assert!(err.is_invalid_argument(), "{t}");
            assert!(
                err.message().starts_with("Invalid tenant ID provided."),
                "{err}"
            );
        }
    }

    #[test]
    fn scopes() {
        assert!(validate_scopes("get_token", &["a", "api://x/y.z"]).is_ok());
        let err = validate_scopes::<&str>("get_token_info", &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "'get_token_info' requires at least one scope"
        );
        assert!(validate_scopes("get_token", &[""]).is_err());
        let err = validate_scopes("get_token", &["a b"]).unwrap_err();
        assert!(err.message().contains("\"a b\""), "{err}");
        assert!(validate_scopes("get_token", &["a\nb"]).is_err());
    }

    #[test]
    fn authority_hosts() {
        assert_eq!(
            AzureAuthorityHosts::AZURE_PUBLIC_CLOUD,
            "login.microsoftonline.com"
        );
        assert_eq!(AzureAuthorityHosts::AZURE_CHINA, "login.chinacloudapi.cn");
        assert_eq!(
            AzureAuthorityHosts::AZURE_GOVERNMENT,
            "login.microsoftonline.us"
        );
    }
}
