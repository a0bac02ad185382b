//! kubectl's side of a credential plugin call: `KUBERNETES_EXEC_INFO`, the `ExecCredential`
//! kubectl sends along, says which `client.authentication.k8s.io` version it expects back and
//! whether the plugin may talk to the user (a terminal on stdin). Absent, the plugin answers
//! `v1beta1`, as kubelogin does (what `az aks get-credentials` and kubelogin's
//! `convert-kubeconfig` write into kubeconfigs).

use entra_core::{Error, Result};

/// The versions of the exec credential API kubectl speaks.
pub(crate) const V1: &str = "client.authentication.k8s.io/v1";
/// The older version, still what most AKS kubeconfigs name.
pub(crate) const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// What kubectl told the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecInfo {
    /// The `apiVersion` to answer with.
    pub(crate) api_version: &'static str,
    /// `spec.interactive`: `Some(false)` when kubectl gives the plugin no terminal.
    pub(crate) interactive: Option<bool>,
}

/// Reads `KUBERNETES_EXEC_INFO` from the environment.
///
/// # Errors
/// `InvalidArgument` for a value that is not an `ExecCredential` of a known version.
pub(crate) fn from_env() -> Result<ExecInfo> {
    parse(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref())
}

fn parse(value: Option<&str>) -> Result<ExecInfo> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(ExecInfo {
            api_version: V1BETA1,
            interactive: None,
        });
    };
    let info: serde_json::Value = serde_json::from_str(value).map_err(|_| {
        Error::invalid_argument("KUBERNETES_EXEC_INFO is not the JSON ExecCredential kubectl sends")
    })?;
    let api_version = match info["apiVersion"].as_str() {
        Some(V1) => V1,
        Some(V1BETA1) | None => V1BETA1,
        Some(other) => {
            return Err(Error::invalid_argument(format!(
                "KUBERNETES_EXEC_INFO asks for {other}; entra answers {V1} and {V1BETA1}: set \
                 the kubeconfig exec entry's apiVersion to one of them"
            )));
        }
    };
    Ok(ExecInfo {
        api_version,
        interactive: info["spec"]["interactive"].as_bool(),
    })
}

/// The `ExecCredential` kubectl reads: the version it asked for, the token and its expiry
/// (RFC 3339, UTC). No `spec`: kubectl ignores one in the answer.
pub(crate) fn exec_credential(info: &ExecInfo, token: &str, expires: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": info.api_version,
        "status": {
            "expirationTimestamp": expires,
            "token": token,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_kubectl_asks_for_is_answered_and_v1beta1_without_a_request() {
        let absent = parse(None).unwrap();
        assert_eq!(absent.api_version, V1BETA1);
        assert_eq!(absent.interactive, None);
        let v1 = parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        ))
        .unwrap();
        assert_eq!(v1.api_version, V1);
        assert_eq!(v1.interactive, Some(false));
        let beta = parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#,
        ))
        .unwrap();
        assert_eq!(beta.api_version, V1BETA1);
        assert_eq!(beta.interactive, Some(true));
        assert!(parse(Some("not json")).unwrap_err().is_invalid_argument());
        let future =
            parse(Some(r#"{"apiVersion":"client.authentication.k8s.io/v2"}"#)).unwrap_err();
        assert!(future.message().contains("v2"), "{future}");
        let answer = exec_credential(&v1, "t", "2030-01-01T00:00:00Z");
        assert_eq!(answer["apiVersion"], V1);
        assert!(answer.get("spec").is_none());
        assert_eq!(answer["status"]["token"], "t");
    }
}
