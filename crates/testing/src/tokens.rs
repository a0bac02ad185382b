//! Scopes and token issuance: the token response, the access token and the ID token.

use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::entra_error::EntraError;
use crate::state::{RefreshGrant, State};
use crate::users::TestUser;
use crate::util::{b64url, random_token};
use crate::{MockError, keys::SigningKey};

/// Microsoft Graph, the resource of scopes without a resource prefix.
pub(crate) const GRAPH: &str = "https://graph.microsoft.com";
/// The OpenID Connect scopes (no resource).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// A parsed `scope` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scopes {
    /// Every scope, de-duplicated, in request order.
    pub(crate) all: Vec<String>,
    /// The resource of the non-OIDC scopes (Graph when there are none).
    pub(crate) resource: String,
    /// The permission names (`scp`).
    pub(crate) permissions: Vec<String>,
}

impl Scopes {
    /// Parses a space-separated scope string; more than one resource is Entra's `AADSTS28000`.
    pub(crate) fn parse(scope: &str) -> Result<Self, EntraError> {
        let mut all: Vec<String> = Vec::new();
        for s in scope.split_whitespace() {
            if !all.iter().any(|a| a == s) {
                all.push(s.to_owned());
            }
        }
        if all.is_empty() {
            return Err(EntraError::missing("scope"));
        }
        let mut resource: Option<String> = None;
        let mut permissions = Vec::new();
        for s in &all {
            if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                permissions.push(s.to_ascii_lowercase());
                continue;
            }
            let (res, perm) = match s.rsplit_once('/') {
                Some((r, p)) if !r.is_empty() => (r.to_owned(), p.to_owned()),
                _ => (GRAPH.to_owned(), s.clone()),
            };
            match &resource {
                Some(existing) if !existing.eq_ignore_ascii_case(&res) => {
                    return Err(EntraError::new(
                        400,
                        "invalid_scope",
                        28_000,
                        format!(
                            "Provided value for the input parameter scope is not valid because \
                             it contains more than one resource. Scope {scope} is not valid."
                        ),
                    ));
                }
                _ => resource = Some(res),
            }
            if perm == ".default" {
                permissions.push("user_impersonation".to_owned());
            } else if !perm.is_empty() {
                permissions.push(perm);
            }
        }
        Ok(Self {
            all,
            resource: resource.unwrap_or_else(|| GRAPH.to_owned()),
            permissions,
        })
    }

    /// Whether `name` (an OIDC scope) was requested.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.all.iter().any(|s| s.eq_ignore_ascii_case(name))
    }

    /// The granted scope string: the resource scopes as requested, then the OIDC scopes.
    pub(crate) fn granted(&self) -> String {
        let mut out: Vec<&str> = self
            .all
            .iter()
            .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
            .map(String::as_str)
            .collect();
        for o in OIDC_SCOPES {
            if self.has(o) {
                out.push(o);
            }
        }
        out.join(" ")
    }
}

/// Everything needed to issue one token response.
pub(crate) struct IssueRequest<'a> {
    pub(crate) base: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) user: &'a TestUser,
    pub(crate) tid: &'a str,
    pub(crate) scopes: &'a Scopes,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) adfs: bool,
    pub(crate) client_info: bool,
    pub(crate) capabilities: &'a [String],
}

/// `client_info`: base64url JSON `{"uid","utid"}`.
pub(crate) fn client_info(user: &TestUser) -> String {
    b64url(
        serde_json::json!({ "uid": user.oid(), "utid": user.home_tenant_id() })
            .to_string()
            .as_bytes(),
    )
}

/// A pairwise `sub`: stable per user and client.
fn pairwise_sub(user: &TestUser, client_id: &str) -> String {
    b64url(Sha256::digest(
        format!("{}|{client_id}", user.oid()).as_bytes(),
    ))
}

/// The issuer for a tenant id at a base URL (`{base}/{tid}/v2.0`, or `{base}/adfs`).
pub(crate) fn issuer(base: &str, tid: &str, adfs: bool) -> String {
    if adfs {
        format!("{base}/adfs")
    } else {
        format!("{base}/{tid}/v2.0")
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Issues tokens, stores the new refresh token and returns the token response JSON.
pub(crate) fn issue(
    key: &SigningKey,
    st: &mut State,
    req: &IssueRequest<'_>,
) -> Result<serde_json::Value, MockError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = secs(st.settings.token_lifetime);
    let ext = st.settings.ext_token_lifetime.map_or(lifetime, secs);
    let user = req.user;
    let iss = issuer(req.base, req.tid, req.adfs);
    let scp = req.scopes.permissions.join(" ");

    let mut at = if req.adfs {
        serde_json::json!({
            "aud": req.scopes.resource,
            "iss": format!("{}/adfs/services/trust", req.base),
            "iat": now, "nbf": now, "exp": now + lifetime,
            "appid": req.client_id, "apptype": "Public",
            "upn": user.username(), "unique_name": user.username(),
            "scp": scp, "ver": "1.0",
        })
    } else {
        serde_json::json!({
            "aud": req.scopes.resource,
            "iss": iss,
            "iat": now, "nbf": now, "exp": now + lifetime,
            "appid": req.client_id, "azp": req.client_id,
            "name": user.display_name(), "oid": user.oid(),
            "preferred_username": user.username(), "upn": user.username(),
            "scp": scp, "sub": pairwise_sub(user, req.client_id),
            "tid": req.tid, "uti": random_token(1), "ver": "2.0",
        })
    };
    if !req.capabilities.is_empty()
        && let Some(obj) = at.as_object_mut()
    {
        obj.insert("xms_cc".to_owned(), req.capabilities.to_vec().into());
    }
    let access_token = key.sign(&at)?;

    let mut resp = serde_json::Map::new();
    resp.insert(
        "token_type".to_owned(),
        if req.adfs { "bearer" } else { "Bearer" }.into(),
    );
    resp.insert("scope".to_owned(), req.scopes.granted().into());
    resp.insert("expires_in".to_owned(), lifetime.into());
    if !req.adfs {
        resp.insert("ext_expires_in".to_owned(), ext.into());
    }
    if let Some(refresh_in) = st.settings.refresh_in {
        resp.insert("refresh_in".to_owned(), secs(refresh_in).into());
    }
    resp.insert("access_token".to_owned(), access_token.into());

    if req.scopes.has("offline_access") {
        let rt = format!("1.M{}", random_token(4));
        st.refresh_tokens.insert(
            rt.clone(),
            RefreshGrant {
                client_id: req.client_id.to_owned(),
                user: user.clone(),
                scopes: req.scopes.all.clone(),
                adfs: req.adfs,
            },
        );
        resp.insert("refresh_token".to_owned(), rt.into());
        if req.adfs {
            resp.insert("refresh_token_expires_in".to_owned(), 86_400.into());
        }
    }

    if req.scopes.has("openid") {
        let mut id = if req.adfs {
            serde_json::json!({
                "aud": req.client_id, "iss": iss,
                "iat": now, "nbf": now, "exp": now + 3600, "auth_time": now,
                "sub": pairwise_sub(user, req.client_id),
                "upn": user.username(), "unique_name": user.username(),
                "sid": random_token(1), "apptype": "Public", "appid": req.client_id,
                "ver": "1.0",
            })
        } else {
            let iss = match &st.settings.id_token_issuer_base {
                Some(base) => issuer(base, req.tid, false),
                None => iss,
            };
            serde_json::json!({
                "aud": req.client_id, "iss": iss,
                "iat": now, "nbf": now, "exp": now + 3600,
                "name": user.display_name(), "oid": user.oid(),
                "preferred_username": user.username(),
                "rh": "0.mock-entra.",
                "sub": pairwise_sub(user, req.client_id),
                "tid": req.tid, "uti": random_token(1), "ver": "2.0",
            })
        };
        if let (Some(nonce), Some(obj)) = (req.nonce, id.as_object_mut()) {
            obj.insert("nonce".to_owned(), nonce.into());
        }
        resp.insert("id_token".to_owned(), key.sign(&id)?.into());
    }

    if req.client_info && !req.adfs {
        resp.insert("client_info".to_owned(), client_info(user).into());
    }
    Ok(serde_json::Value::Object(resp))
}

/// Whether `haystack` contains everything in `needle` (objects compared key by key, other
/// values by equality).
pub(crate) fn json_contains(haystack: &serde_json::Value, needle: &serde_json::Value) -> bool {
    match (haystack, needle) {
        (serde_json::Value::Object(h), serde_json::Value::Object(n)) => n
            .iter()
            .all(|(k, nv)| h.get(k).is_some_and(|hv| json_contains(hv, nv))),
        _ => haystack == needle,
    }
}

/// The `xms_cc` values in a claims JSON (`{"access_token":{"xms_cc":{"values":[...]}}}`).
pub(crate) fn capabilities(claims: Option<&serde_json::Value>) -> Vec<String> {
    claims
        .and_then(|c| c.get("access_token"))
        .and_then(|a| a.get("xms_cc"))
        .and_then(|x| x.get("values"))
        .and_then(serde_json::Value::as_array)
        .map(|vals| {
            vals.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_grant() {
        let s = Scopes::parse("https://graph.microsoft.com/.default openid profile offline_access")
            .unwrap();
        assert_eq!(s.resource, GRAPH);
        assert_eq!(
            s.granted(),
            "https://graph.microsoft.com/.default openid profile offline_access"
        );
        let s = Scopes::parse("User.Read openid").unwrap();
        assert_eq!(s.resource, GRAPH);
        assert!(s.permissions.contains(&"User.Read".to_owned()));
        let err = Scopes::parse("https://a.example/x https://b.example/y").unwrap_err();
        assert_eq!(err.code, 28_000);
        assert_eq!(Scopes::parse("  ").unwrap_err().code, 900_144);
    }

    #[test]
    fn contains_and_capabilities() {
        let h: serde_json::Value = serde_json::from_str(
            r#"{"access_token":{"xms_cc":{"values":["CP1"]},"nbf":{"essential":true,"value":"1"}}}"#,
        )
        .unwrap();
        let n: serde_json::Value =
            serde_json::from_str(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#)
                .unwrap();
        assert!(json_contains(&h, &n));
        assert!(!json_contains(&n, &h));
        assert_eq!(capabilities(Some(&h)), vec!["CP1".to_owned()]);
        assert!(capabilities(Some(&n)).is_empty());
    }
}
