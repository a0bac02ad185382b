//! A resource's `WWW-Authenticate` challenge: the claims a Continuous Access Evaluation (or
//! Conditional Access) challenge asks for, and the tenant a Key Vault challenge names.
//!
//! The shapes met in practice:
//!
//! - ARM, Graph and other CAE-enabled resources: `Bearer realm="", authorization_uri=
//!   "https://login.microsoftonline.com/common/oauth2/authorize", client_id="…",
//!   error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsi…"` (claims base64);
//! - Key Vault: `Bearer authorization="https://login.microsoftonline.com/{tenant}",
//!   resource="https://vault.azure.net"` for its first challenge, and the CAE form above (with
//!   `error="insufficient_claims"` and `claims`) after a revocation;
//! - some services send the claims as raw JSON, or base64 without padding or URL-safe.

use base64::Engine as _;

/// One challenge of a `WWW-Authenticate` header: its scheme and parameters (names lowercased,
/// values unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1: `scheme
/// name=value, name="quoted, value", scheme2 …`). Never fails: what cannot be read is skipped.
fn challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        // A token: either a new scheme (no '=' follows) or a parameter name.
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        if token.is_empty() {
            break;
        }
        let after_ws = after.trim_start();
        if let Some(value_part) = after_ws.strip_prefix('=') {
            let value_part = value_part.trim_start();
            let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut consumed = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            consumed = i + 1;
                            break;
                        }
                        _ => value.push(c),
                    }
                }
                (value, &quoted[consumed.min(quoted.len())..])
            } else {
                let end = value_part.find(',').unwrap_or(value_part.len());
                (value_part[..end].trim().to_owned(), &value_part[end..])
            };
            if let Some(current) = out.last_mut() {
                current.params.push((token.to_ascii_lowercase(), value));
            }
            rest = remaining;
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: Vec::new(),
            });
            rest = after;
        }
    }
    out
}

/// The claims a `WWW-Authenticate` header challenges for, as the JSON text to pass as
/// `claims` to a credential; `None` when no Bearer challenge carries claims (or they are not a
/// JSON object, in raw JSON or in any base64 alphabet).
///
/// ```
/// use entra_msal_lite::claims_from_challenge;
///
/// // ARM's CAE challenge after a revocation (claims base64).
/// let header = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTcyNjA3NzU5NSJ9fX0=""#;
/// assert_eq!(
///     claims_from_challenge(header).as_deref(),
///     Some(r#"{"access_token":{"nbf":{"essential":true, "value":"1726077595"}}}"#)
/// );
/// // Key Vault's first challenge has no claims.
/// let header = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;
/// assert_eq!(claims_from_challenge(header), None);
/// ```
#[must_use]
pub fn claims_from_challenge(header: &str) -> Option<String> {
    challenges(header)
        .iter()
        .filter(|c| c.scheme == "bearer" || c.scheme == "pop")
        .find_map(|c| c.param("claims").and_then(decode_claims))
}

/// The tenant a challenge's `authorization` or `authorization_uri` names (its first path
/// segment), e.g. Key Vault's `authorization="https://login.microsoftonline.com/{tenant}"`;
/// `None` for `common`/`organizations`-less or unreadable values.
///
/// ```
/// use entra_msal_lite::tenant_from_challenge;
///
/// let header = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;
/// assert_eq!(
///     tenant_from_challenge(header).as_deref(),
///     Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
/// );
/// ```
#[must_use]
pub fn tenant_from_challenge(header: &str) -> Option<String> {
    challenges(header)
        .iter()
        .filter(|c| c.scheme == "bearer")
        .find_map(|c| {
            let uri = c
                .param("authorization")
                .or_else(|| c.param("authorization_uri"))?;
            let url = url::Url::parse(uri).ok()?;
            let tenant = url.path_segments()?.next()?.to_owned();
            (!tenant.is_empty()).then_some(tenant)
        })
}

/// The claims JSON of a `claims` parameter: raw JSON, or base64 in any alphabet, padded or
/// not; only a JSON object counts.
fn decode_claims(value: &str) -> Option<String> {
    let value = value.trim();
    let text = if value.starts_with('{') {
        value.to_owned()
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines.iter().find_map(|e| e.decode(value).ok())?;
        String::from_utf8(bytes).ok()?
    };
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
        .ok()
        .map(|_| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1726077595"}}}"#;

    fn b64(alphabet: base64::engine::GeneralPurpose) -> String {
        alphabet.encode(CLAIMS)
    }

    #[test]
    fn claims_are_found_in_every_shape_and_order() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let headers = [
            format!(
                r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{}""#,
                b64(STANDARD)
            ),
            format!(
                r#"Bearer claims="{}", error="insufficient_claims""#,
                b64(URL_SAFE_NO_PAD)
            ),
            format!(
                r#"Bearer error="insufficient_claims", claims={}"#,
                b64(STANDARD)
            ),
            format!(
                r#"Basic realm="x", Bearer authorization="https://login.microsoftonline.com/t", claims="{}""#,
                CLAIMS.replace('"', "\\\"")
            ),
            format!(r#"PoP nonce="n", claims="{}""#, b64(STANDARD)),
        ];
        for header in &headers {
            assert_eq!(
                claims_from_challenge(header).as_deref(),
                Some(CLAIMS),
                "{header}"
            );
        }
    }

    #[test]
    fn anything_else_is_no_claims_and_never_a_panic() {
        for header in [
            "",
            "Bearer",
            "Bearer claims=",
            r#"Bearer claims="not base64!""#,
            r#"Bearer claims="WzEsMiwzXQ==""#, // [1,2,3]: not an object
            r#"Basic claims="eyJhIjoxfQ==""#,  // not a Bearer challenge
            r#"Bearer claims="unterminated"#,
            "===,,,\"\"\\",
        ] {
            assert_eq!(claims_from_challenge(header), None, "{header}");
        }
    }

    #[test]
    fn the_tenant_comes_from_authorization_or_authorization_uri() {
        assert_eq!(
            tenant_from_challenge(
                r#"Bearer authorization_uri="https://login.microsoftonline.com/contoso.com/oauth2/authorize""#
            )
            .as_deref(),
            Some("contoso.com")
        );
        assert_eq!(tenant_from_challenge(r#"Bearer realm="""#), None);
        assert_eq!(
            tenant_from_challenge(r#"Bearer authorization="not a url""#),
            None
        );
    }
}
