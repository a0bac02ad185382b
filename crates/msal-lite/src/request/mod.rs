//! Request building with no I/O: scopes here; the authorize URL and the code flow in
//! `authorize.rs`; token request forms, headers and grants in `grant.rs`.

use std::fmt;

use entra_core::{Secret, constant_time_eq};
use url::Url;
use uuid::Uuid;

use crate::endpoints::Endpoints;
use crate::error::{MsalError, Result};
use crate::pkce::{self, Pkce};
use crate::response::ClientInfo;

/// The scopes MSAL adds to every user request; passing one yourself is an error.
pub const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The `x-client-SKU` this crate sends.
pub const CLIENT_SKU: &str = "entra-rs.msal-lite";

/// Adds `openid profile offline_access` to the requested scopes, de-duplicates and sorts them
/// (MSAL Python's decoration, used on the authorize URL and both token grants).
///
/// ```
/// use entra_msal_lite::request::decorate_scopes;
///
/// let scopes = decorate_scopes(&["https://graph.microsoft.com/.default", "User.Read", "User.Read"])?;
/// assert_eq!(
///     scopes,
///     ["User.Read", "https://graph.microsoft.com/.default", "offline_access", "openid", "profile"]
/// );
/// assert!(decorate_scopes(&["openid"]).is_err());
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
///
/// # Errors
/// [`MsalError::InvalidArgument`] for a reserved scope, an empty scope or one containing
/// white space or a control character.
pub fn decorate_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>> {
    check_scopes(scopes)?;
    let mut out: Vec<String> = Vec::with_capacity(scopes.len() + 3);
    out.extend(scopes.iter().map(|s| s.as_ref().to_owned()));
    out.extend(RESERVED_SCOPES.iter().map(|s| (*s).to_owned()));
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks the scopes a caller asks for, without allocating: none empty, none with white space
/// or a control character, none of the reserved `openid`, `profile`, `offline_access` (in any
/// case), which every request carries anyway and which name no resource. A credential calls
/// it before looking in any cache, so a reserved scope fails the same way whether or not a
/// token is cached.
///
/// ```
/// use entra_msal_lite::request::check_scopes;
///
/// assert!(check_scopes(&["https://graph.microsoft.com/.default"]).is_ok());
/// assert!(check_scopes(&["OpenID"]).is_err());
/// ```
///
/// # Errors
/// [`MsalError::InvalidArgument`] naming the first bad scope.
pub fn check_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<()> {
    for scope in scopes {
        let scope = scope.as_ref();
        if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MsalError::InvalidArgument(format!(
                "The scope {scope:?} is empty or contains white space or a control character. \
                 Pass each scope as its own item."
            )));
        }
        if RESERVED_SCOPES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(scope))
        {
            return Err(MsalError::InvalidArgument(format!(
                "The scope '{scope}' is reserved: openid, profile and offline_access are always \
                 requested and may not be passed as user-provided scopes."
            )));
        }
    }
    Ok(())
}

mod authorize;
#[cfg(feature = "certificate")]
mod certificate;
mod confidential;
mod grant;

pub use self::authorize::*;
#[cfg(feature = "certificate")]
pub use self::certificate::*;
pub use self::confidential::*;
pub use self::grant::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_query_parameters_are_added_but_never_replace_the_urls_own() {
        let e = crate::Endpoints::known_cloud(
            &crate::Authority::parse("https://login.microsoftonline.com/common").unwrap(),
        )
        .unwrap();
        let params = AuthorizeParams::new("c", "http://localhost:8400", &["s"])
            .with_extra_query("msafed", "0")
            .with_extra_query("state", "attacker-chosen")
            .with_extra_query("X-AnchorMailbox", "UPN:x");
        let flow = AuthCodeFlow::new(&e, params).unwrap();
        let url = flow.authorize_url();
        assert_eq!(url.query_param("msafed").as_deref(), Some("0"));
        assert_eq!(
            url.query_param("state").as_deref(),
            Some(flow.state().secret())
        );
        assert!(url.query_param("X-AnchorMailbox").is_none());
    }
    use crate::authority::Authority;

    fn endpoints() -> Endpoints {
        Endpoints::known_cloud(
            &Authority::parse("https://login.microsoftonline.com/organizations").unwrap(),
        )
        .unwrap()
    }

    fn flow(params: AuthorizeParams) -> AuthCodeFlow {
        AuthCodeFlow::with_secrets(
            &endpoints(),
            params,
            Pkce::from_verifier("VERIFIER-SECRET-0123456789abcdefghijklmnopq"),
            Secret::new("STATE-SECRET"),
            Secret::new("NONCE-SECRET"),
        )
        .unwrap()
    }

    fn query(url: &AuthorizeUrl) -> Vec<(String, String)> {
        url.url().query_pairs().into_owned().collect()
    }

    #[test]
    fn scopes_are_decorated_sorted_and_deduplicated() {
        assert_eq!(
            decorate_scopes(&["b", "a", "b", "profile2"]).unwrap(),
            ["a", "b", "offline_access", "openid", "profile", "profile2"]
        );
        assert_eq!(
            decorate_scopes::<&str>(&[]).unwrap(),
            ["offline_access", "openid", "profile"]
        );
        for reserved in ["openid", "profile", "offline_access", "OpenID"] {
            let err = decorate_scopes(&["a", reserved]).unwrap_err();
            assert!(matches!(err, MsalError::InvalidArgument(_)));
            assert!(err.to_string().contains(reserved), "{err}");
            let core: entra_core::Error = err.into();
            assert!(core.is_invalid_argument());
        }
        for bad in ["", "a b", "a\tb", "a\u{0}"] {
            assert!(decorate_scopes(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorize_url_has_every_python_parameter() {
        let f = flow(
            AuthorizeParams::new(
                "client-1",
                "http://localhost:8400",
                &["https://graph.microsoft.com/.default"],
            )
            .with_login_hint(Some("alice@contoso.com"))
            .with_claims(Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#)),
        );
        let url = f.authorize_url();
        assert!(
            url.as_str().starts_with(
                "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?"
            )
        );
        let q = query(url);
        let expected = [
            ("client_id", "client-1"),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8400"),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid profile",
            ),
            ("state", "STATE-SECRET"),
            ("nonce", "NONCE-SECRET"),
            ("code_challenge", f.pkce().challenge()),
            ("code_challenge_method", "S256"),
            ("prompt", "select_account"),
            ("response_mode", "form_post"),
            ("client_info", "1"),
            ("login_hint", "alice@contoso.com"),
            ("X-AnchorMailbox", "UPN:alice@contoso.com"),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
            ),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(q, expected);
        assert_eq!(
            f.pkce().challenge(),
            pkce::s256_challenge(f.pkce().verifier().secret())
        );
        // Debug output shows neither state, nonce, challenge nor verifier.
        let debug = format!("{f:?} {url:?}");
        for secret in [
            "STATE-SECRET",
            "NONCE-SECRET",
            "VERIFIER-SECRET",
            f.pkce().challenge(),
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn authorize_url_options() {
        let f = flow(
            AuthorizeParams::new("c", "http://localhost:1", &["s"])
                .with_prompt(None)
                .with_response_mode(ResponseMode::Query)
                .with_domain_hint(Some("contoso.com"))
                .with_login_hint(Some(""))
                .with_claims(Some("")),
        );
        let url = f.authorize_url();
        assert_eq!(url.query_param("prompt"), None);
        assert_eq!(url.query_param("response_mode").as_deref(), Some("query"));
        assert_eq!(
            url.query_param("domain_hint").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(url.query_param("login_hint"), None);
        assert_eq!(url.query_param("X-AnchorMailbox"), None);
        assert_eq!(url.query_param("claims"), None);
        let f = flow(
            AuthorizeParams::new("c", "http://localhost:1", &["s"]).with_prompt(Some("login")),
        );
        assert_eq!(
            f.authorize_url().query_param("prompt").as_deref(),
            Some("login")
        );
        let err = AuthCodeFlow::new(&endpoints(), AuthorizeParams::new("c", "r", &["openid"]))
            .unwrap_err();
        assert!(matches!(err, MsalError::InvalidArgument(_)));
    }

    #[test]
    fn random_flows_differ_and_state_is_checked() {
        let params = AuthorizeParams::new("c", "http://localhost:1", &["s"]);
        let a = AuthCodeFlow::new(&endpoints(), params.clone()).unwrap();
        let b = AuthCodeFlow::new(&endpoints(), params).unwrap();
        assert_ne!(a.state(), b.state());
        assert_ne!(a.nonce(), b.nonce());
        assert_ne!(a.pkce().verifier(), b.pkce().verifier());
        assert_eq!(a.nonce().len(), 64);
        assert!(a.check_state(Some(a.state().secret())).is_ok());
        for bad in [None, Some(""), Some(b.state().secret())] {
            let err = a.check_state(bad).unwrap_err();
            assert!(matches!(err, MsalError::StateMismatch));
            assert!(!err.to_string().contains(a.state().secret()));
        }
    }

    #[test]
    fn code_redemption_form_and_headers() {
        let f = flow(
            AuthorizeParams::new(
                "client-1",
                "http://localhost:8400",
                &["https://graph.microsoft.com/.default"],
            )
            .with_claims(Some(r#"{"x":1}"#)),
        );
        let grant = f.redemption(
            Secret::new("CODE-SECRET"),
            Some(ClientInfo::new("uid-1", Some("utid-1".to_owned()))),
        );
        let req = grant.to_request(&endpoints().token_endpoint).unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            req.form_names().collect::<Vec<_>>(),
            [
                "grant_type",
                "client_id",
                "code",
                "redirect_uri",
                "code_verifier",
                "scope",
                "client_info",
                "claims"
            ]
        );
        assert_eq!(req.grant_type(), "authorization_code");
        assert_eq!(req.form_value("client_id"), Some("client-1"));
        assert_eq!(req.form_value("code"), Some("CODE-SECRET"));
        assert_eq!(
            req.form_value("redirect_uri"),
            Some("http://localhost:8400")
        );
        assert_eq!(
            req.form_value("code_verifier"),
            Some(f.pkce().verifier().secret())
        );
        assert_eq!(
            req.form_value("scope"),
            Some("https://graph.microsoft.com/.default offline_access openid profile")
        );
        assert_eq!(req.form_value("client_info"), Some("1"));
        assert_eq!(req.form_value("claims"), Some(r#"{"x":1}"#));
        assert_eq!(req.header("x-anchormailbox"), Some("Oid:uid-1@utid-1"));
        assert_eq!(
            req.header("client-request-id"),
            Some(req.correlation_id().to_string().as_str())
        );
        assert_eq!(req.header("x-client-SKU"), Some(CLIENT_SKU));
        assert_eq!(req.header("x-client-VER"), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(req.header("x-client-OS"), Some(std::env::consts::OS));
        assert_eq!(req.header("x-ms-lib-capability"), Some("retry-after, h429"));
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        let body = req.encoded_body();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.secret().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs.len(), 8);
        assert!(pairs.contains(&("code".to_owned(), "CODE-SECRET".to_owned())));
        let debug = format!("{req:?} {grant:?}");
        assert!(
            !debug.contains("CODE-SECRET") && !debug.contains("VERIFIER-SECRET"),
            "{debug}"
        );
        assert!(debug.contains("client-1"));

        // No client_info, no claims: neither header nor field.
        let req = AuthCodeGrant::new("c", Secret::new("x"), Secret::new("v"), "r", &["s"])
            .to_request(&endpoints().token_endpoint)
            .unwrap();
        assert_eq!(req.header("X-AnchorMailbox"), None);
        assert_eq!(req.form_value("claims"), None);
        // Every request gets its own correlation id.
        let again = AuthCodeGrant::new("c", Secret::new("x"), Secret::new("v"), "r", &["s"])
            .to_request(&endpoints().token_endpoint)
            .unwrap();
        assert_ne!(req.correlation_id(), again.correlation_id());
    }

    #[test]
    fn refresh_form_and_anchor() {
        let grant = RefreshGrant::new("client-1", Secret::new("RT-SECRET"), &["b", "a"])
            .with_claims(Some(r#"{"access_token":{}}"#))
            .with_home_account_id(Some("uid-1.utid-1"));
        let req = grant.to_request(&endpoints().token_endpoint).unwrap();
        assert_eq!(
            req.form_names().collect::<Vec<_>>(),
            [
                "grant_type",
                "client_id",
                "refresh_token",
                "scope",
                "client_info",
                "claims"
            ]
        );
        assert_eq!(req.grant_type(), "refresh_token");
        assert_eq!(req.form_value("refresh_token"), Some("RT-SECRET"));
        assert_eq!(
            req.form_value("scope"),
            Some("a b offline_access openid profile")
        );
        assert_eq!(req.header("X-AnchorMailbox"), Some("Oid:uid-1@utid-1"));
        assert_eq!(grant.scopes(), ["b", "a"]);
        let debug = format!("{req:?} {grant:?}");
        assert!(!debug.contains("RT-SECRET"), "{debug}");

        for id in [None, Some("adfs-sub"), Some(".x"), Some("x.")] {
            let req = RefreshGrant::new("c", Secret::new("r"), &["s"])
                .with_home_account_id(id)
                .to_request(&endpoints().token_endpoint)
                .unwrap();
            assert_eq!(req.header("X-AnchorMailbox"), None, "{id:?}");
        }
        assert!(
            RefreshGrant::new("c", Secret::new("r"), &["offline_access"])
                .to_request(&endpoints().token_endpoint)
                .is_err()
        );
    }
}
