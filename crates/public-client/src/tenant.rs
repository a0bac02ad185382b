//! Per-request tenant resolution, exactly as Python's `resolve_tenant`, plus validation of the
//! requested tenant (Python inserts it into the authority URL unchecked).

use entra_core::{Error, Reason, Result, validate_tenant_id};

/// Any non-empty value disables per-request tenant switching (Python's variable).
pub const DISABLE_MULTITENANT_ENV: &str = "AZURE_IDENTITY_DISABLE_MULTITENANTAUTH";

/// Whether `AZURE_IDENTITY_DISABLE_MULTITENANTAUTH` is set to a non-empty value.
pub(crate) fn multitenant_disabled_by_env() -> bool {
    std::env::var_os(DISABLE_MULTITENANT_ENV).is_some_and(|v| !v.is_empty())
}

/// The tenant a request goes to.
///
/// 1. no requested tenant, or the configured one: the configured tenant;
/// 2. configured tenant `adfs`, or multi-tenant authentication disabled: the configured tenant
///    (the requested one is ignored, as Python does);
/// 3. `*` or the requested tenant in `allowed`: the requested tenant;
/// 4. no allowed tenants and the configured tenant is `organizations`: the requested tenant;
/// 5. otherwise a client-authentication error saying how to allow it.
pub(crate) fn resolve_tenant<'a>(
    configured: &'a str,
    requested: Option<&'a str>,
    allowed: &[String],
    multitenant_disabled: bool,
) -> Result<&'a str> {
    let Some(requested) = requested.filter(|t| !t.is_empty()) else {
        return Ok(configured);
    };
    if requested.eq_ignore_ascii_case(configured) {
        return Ok(configured);
    }
    if configured.eq_ignore_ascii_case("adfs") || multitenant_disabled {
        tracing::info!(
            "a request tenant was ignored: multi-tenant authentication is disabled or the tenant is adfs"
        );
        return Ok(configured);
    }
    validate_tenant_id(requested)?;
    if allowed
        .iter()
        .any(|t| t == "*" || t.eq_ignore_ascii_case(requested))
    {
        return Ok(requested);
    }
    if allowed.is_empty() && configured.eq_ignore_ascii_case("organizations") {
        return Ok(requested);
    }
    Err(Error::client_authentication(format!(
        "The current credential is not configured to acquire tokens for tenant {requested}. To \
         enable acquiring tokens for this tenant add it to the additionally_allowed_tenants when \
         creating the credential, or add \"*\" to additionally_allowed_tenants to allow acquiring \
         tokens for any tenant."
    ))
    .with_reason(Reason::TenantNotAllowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn python_rules_in_order() {
        assert_eq!(resolve_tenant("t1", None, &[], false).unwrap(), "t1");
        assert_eq!(resolve_tenant("t1", Some("t1"), &[], false).unwrap(), "t1");
        assert_eq!(resolve_tenant("t1", Some("T1"), &[], false).unwrap(), "t1");
        assert_eq!(
            resolve_tenant("adfs", Some("t2"), &s(&["*"]), false).unwrap(),
            "adfs"
        );
        assert_eq!(
            resolve_tenant("t1", Some("t2"), &s(&["*"]), true).unwrap(),
            "t1"
        );
        assert_eq!(
            resolve_tenant("t1", Some("t2"), &s(&["*"]), false).unwrap(),
            "t2"
        );
        assert_eq!(
            resolve_tenant("t1", Some("t2"), &s(&["t2"]), false).unwrap(),
            "t2"
        );
        assert_eq!(
            resolve_tenant("organizations", Some("t2"), &[], false).unwrap(),
            "t2"
        );
        let err = resolve_tenant("organizations", Some("t2"), &s(&["t3"]), false).unwrap_err();
        assert!(err.is_client_authentication());
        let err = resolve_tenant("t1", Some("t2"), &[], false).unwrap_err();
        assert!(err.is_client_authentication());
        assert!(err.message().starts_with(
            "The current credential is not configured to acquire tokens for tenant t2."
        ));
    }

    #[test]
    fn requested_tenants_are_validated() {
        let err = resolve_tenant("t1", Some("../evil"), &s(&["*"]), false).unwrap_err();
        assert!(err.is_invalid_argument());
        let err = resolve_tenant("organizations", Some("a b"), &[], false).unwrap_err();
        assert!(err.is_invalid_argument());
    }
}
