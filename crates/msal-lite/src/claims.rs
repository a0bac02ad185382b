//! Client capabilities (CAE): merging `xms_cc` into a claims challenge.

use serde_json::{Map, Value, json};

use crate::error::{MsalError, Result};

/// The client-capabilities claims of a CAE-enabled client (`CP1`).
pub const CAE_CAPABILITIES: &str = r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#;

/// The `claims` to send: the caller's claims challenge, with
/// `{"access_token":{"xms_cc":{"values":["CP1"]}}}` merged in when `enable_cae` is set.
///
/// - no claims, no CAE: `None` (no `claims` parameter at all);
/// - claims, no CAE: the claims verbatim;
/// - CAE, no claims: the capabilities JSON;
/// - both: the claims object with `access_token.xms_cc` set, every other key kept (Python's
///   `setdefault("access_token", {}).update(xms_cc=...)`).
///
/// ```
/// use entra_msal_lite::merge_client_capabilities;
///
/// let merged = merge_client_capabilities(
///     Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}},"id_token":{"x":1}}"#),
///     true,
/// )?;
/// assert_eq!(
///     merged.as_deref(),
///     Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"},"xms_cc":{"values":["CP1"]}},"id_token":{"x":1}}"#)
/// );
/// assert_eq!(merge_client_capabilities(None, false)?, None);
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
///
/// # Errors
/// [`MsalError::InvalidArgument`] when CAE is enabled and the claims are not a JSON object,
/// or their `access_token` member is not an object.
pub fn merge_client_capabilities(claims: Option<&str>, enable_cae: bool) -> Result<Option<String>> {
    let claims = claims.map(str::trim).filter(|c| !c.is_empty());
    match (claims, enable_cae) {
        (None, false) => Ok(None),
        (Some(c), false) => Ok(Some(c.to_owned())),
        (None, true) => Ok(Some(CAE_CAPABILITIES.to_owned())),
        (Some(c), true) => {
            let mut root: Map<String, Value> = serde_json::from_str(c).map_err(|_| {
                MsalError::InvalidArgument(
                    "The claims challenge is not a JSON object. Pass the decoded claims of the \
                     WWW-Authenticate challenge."
                        .to_owned(),
                )
            })?;
            let access_token = root
                .entry("access_token")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(access_token) = access_token else {
                return Err(MsalError::InvalidArgument(
                    "The claims challenge's 'access_token' member is not a JSON object, so the \
                     client capabilities cannot be merged into it."
                        .to_owned(),
                ));
            };
            access_token.insert("xms_cc".to_owned(), json!({ "values": ["CP1"] }));
            Ok(Some(Value::Object(root).to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_siblings_and_overwrites_xms_cc() {
        let merged = merge_client_capabilities(
            Some(r#"{"access_token":{"xms_cc":{"values":["cp2"]},"acrs":{"value":"c1"}}}"#),
            true,
        )
        .unwrap()
        .unwrap();
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["access_token"]["xms_cc"]["values"], json!(["CP1"]));
        assert_eq!(v["access_token"]["acrs"]["value"], "c1");
    }

    #[test]
    fn each_combination() {
        assert_eq!(merge_client_capabilities(Some("  "), false).unwrap(), None);
        assert_eq!(
            merge_client_capabilities(Some(r#"{"a":1}"#), false)
                .unwrap()
                .as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(
            merge_client_capabilities(None, true).unwrap().as_deref(),
            Some(CAE_CAPABILITIES)
        );
        assert_eq!(
            merge_client_capabilities(Some(r#"{"id_token":{}}"#), true)
                .unwrap()
                .as_deref(),
            Some(r#"{"id_token":{},"access_token":{"xms_cc":{"values":["CP1"]}}}"#)
        );
        for bad in ["[1]", "not json", r#"{"access_token":"x"}"#] {
            let err = merge_client_capabilities(Some(bad), true).unwrap_err();
            assert!(matches!(err, MsalError::InvalidArgument(_)), "{bad}");
        }
    }
}
