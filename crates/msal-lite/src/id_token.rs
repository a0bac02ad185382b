//! ID tokens: claim decoding (no signature check), the `aud`/`nonce`/`exp`/`iss` checks, and
//! the account and [`AuthenticationRecord`] built from them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_core::{AuthenticationRecord, Secret, constant_time_eq};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use crate::authority::Authority;
use crate::endpoints::{Endpoints, issuer_matches_authority};
use crate::error::{IdTokenProblem, MsalError, Result};
use crate::response::ClientInfo;

/// The clock skew allowed when checking `exp`.
pub const ID_TOKEN_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// The claims of an ID token this crate uses. `Debug` hides `nonce`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (pairwise user id).
    pub sub: Option<String>,
    /// Audiences (the client id).
    pub aud: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: Option<i64>,
    /// Issued at, Unix seconds.
    pub iat: Option<i64>,
    /// The nonce echoed from the authorize request.
    pub nonce: Option<String>,
    /// Tenant id.
    pub tid: Option<String>,
    /// Object id of the user in the tenant.
    pub oid: Option<String>,
    /// The user's sign-in name (Entra ID v2).
    pub preferred_username: Option<String>,
    /// The user principal name (ADFS, v1).
    pub upn: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Every claim of the payload, including those above.
    pub all: Map<String, Value>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("tid", &self.tid)
            .field("oid", &self.oid)
            .field("preferred_username", &self.preferred_username)
            .finish_non_exhaustive()
    }
}

impl IdTokenClaims {
    /// `preferred_username`, else `upn`, else empty.
    #[must_use]
    pub fn username(&self) -> &str {
        self.preferred_username
            .as_deref()
            .or(self.upn.as_deref())
            .unwrap_or_default()
    }

    /// The issuing tenant: `tid`, else the first path segment of `iss` (`adfs` for ADFS).
    #[must_use]
    pub fn tenant_id(&self) -> String {
        if let Some(tid) = &self.tid {
            return tid.clone();
        }
        Url::parse(&self.iss)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut s| s.next().map(str::to_owned))
            })
            .unwrap_or_default()
    }

    /// `host[:port]` of `iss`, Python's `AuthenticationRecord.authority`.
    #[must_use]
    pub fn issuer_host(&self) -> Option<String> {
        let url = Url::parse(&self.iss).ok()?;
        let host = url.host_str().filter(|h| !h.is_empty())?;
        Some(match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        })
    }
}

/// Decodes an ID token's payload **without checking its signature**: the token came straight
/// from the token endpoint over TLS (OIDC Core 3.1.3.7), as every MSAL does.
///
/// # Errors
/// [`MsalError::IdToken`] with [`IdTokenProblem::Malformed`] when the token is not three
/// dot-separated parts with a base64url JSON-object payload, or
/// [`IdTokenProblem::MissingClaim`] when `iss` or `aud` is missing.
pub fn decode_id_token(token: &str) -> Result<IdTokenClaims> {
    let malformed = || MsalError::IdToken(IdTokenProblem::Malformed);
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let all: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let string = |key: &str| match all.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let number = |key: &str| match all.get(key) {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    };
    let iss = string("iss").ok_or(MsalError::IdToken(IdTokenProblem::MissingClaim("iss")))?;
    let aud = match all.get("aud") {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if aud.is_empty() {
        return Err(MsalError::IdToken(IdTokenProblem::MissingClaim("aud")));
    }
    Ok(IdTokenClaims {
        iss,
        sub: string("sub"),
        aud,
        exp: number("exp"),
        iat: number("iat"),
        nonce: string("nonce"),
        tid: string("tid"),
        oid: string("oid"),
        preferred_username: string("preferred_username"),
        upn: string("upn"),
        name: string("name"),
        all,
    })
}

/// What an ID token is checked against.
#[derive(Clone, Debug)]
pub struct IdTokenValidation<'a> {
    client_id: &'a str,
    nonce: Option<&'a Secret>,
    endpoints: &'a Endpoints,
    now: OffsetDateTime,
}

impl<'a> IdTokenValidation<'a> {
    /// Checks against `client_id` and the authority of `endpoints`, at the current time,
    /// with no nonce check.
    #[must_use]
    pub fn new(client_id: &'a str, endpoints: &'a Endpoints) -> Self {
        Self {
            client_id,
            nonce: None,
            endpoints,
            now: OffsetDateTime::now_utc(),
        }
    }

    /// Requires `nonce` (the one sent on the authorize URL). Set it for code redemptions.
    #[must_use]
    pub fn with_nonce(mut self, nonce: Option<&'a Secret>) -> Self {
        self.nonce = nonce;
        self
    }

    /// Checks `exp` against `now` instead of the current time.
    #[must_use]
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        self.now = now;
        self
    }

    /// Runs the checks: `aud` contains the client id; `nonce` equals the expected one (when
    /// set); `exp` is not past (with [`ID_TOKEN_CLOCK_SKEW`]); `iss` equals the expected
    /// issuer, or matches its `{tenantid}` template with the token's `tid`, or its host
    /// belongs to the authority (see [`issuer_matches_authority`]).
    ///
    /// # Errors
    /// [`MsalError::IdToken`] naming the failed check.
    pub fn check(&self, claims: &IdTokenClaims) -> Result<()> {
        let result = self.run_checks(claims);
        if let Err(e) = &result {
            tracing::warn!(problem = %e, issuer = %claims.iss, "ID token rejected");
        }
        result
    }

    fn run_checks(&self, claims: &IdTokenClaims) -> Result<()> {
        if !claims.aud.iter().any(|a| a == self.client_id) {
            return Err(MsalError::IdToken(IdTokenProblem::WrongAudience));
        }
        if let Some(expected) = self.nonce {
            let ok = claims
                .nonce
                .as_deref()
                .is_some_and(|n| constant_time_eq(n, expected.secret()));
            if !ok {
                return Err(MsalError::IdToken(IdTokenProblem::WrongNonce));
            }
        }
        let exp = claims
            .exp
            .ok_or(MsalError::IdToken(IdTokenProblem::MissingClaim("exp")))?;
        let deadline = OffsetDateTime::from_unix_timestamp(exp)
            .ok()
            .and_then(|t| t.checked_add(ID_TOKEN_CLOCK_SKEW));
        if deadline.is_none_or(|d| d < self.now) {
            return Err(MsalError::IdToken(IdTokenProblem::Expired));
        }
        if !self.issuer_ok(claims) {
            return Err(MsalError::IdToken(IdTokenProblem::WrongIssuer));
        }
        Ok(())
    }

    fn issuer_ok(&self, claims: &IdTokenClaims) -> bool {
        let expected = &self.endpoints.issuer;
        if claims.iss == *expected {
            return true;
        }
        if let Some(tid) = &claims.tid
            && expected.contains("{tenantid}")
            && claims.iss == expected.replace("{tenantid}", tid)
        {
            return true;
        }
        issuer_matches_authority(
            &claims.iss,
            &self.endpoints.authority,
            &self.endpoints.aliases,
        )
    }

    /// Decodes `token` and [`check`](Self::check)s it.
    ///
    /// # Errors
    /// As [`decode_id_token`] and [`check`](Self::check).
    pub fn verify(&self, token: &Secret) -> Result<IdTokenClaims> {
        let claims = decode_id_token(token.secret())?;
        self.check(&claims)?;
        Ok(claims)
    }
}

/// The signed-in account, as MSAL's cache stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Account {
    /// `uid.utid` from `client_info`, else the ID token's `sub` (ADFS).
    pub home_account_id: String,
    /// The authority's host without its port (the cache's `environment`, [`Authority::environment`]).
    pub environment: String,
    /// The issuing tenant: `tid`, else the issuer's first path segment.
    pub tenant_id: String,
    /// `oid`, else `sub`.
    pub local_account_id: String,
    /// `preferred_username`, else `upn`, else empty.
    pub username: String,
    /// `MSSTS` or `ADFS`.
    pub authority_type: &'static str,
}

impl Account {
    /// Builds the account from checked ID token claims and the response's `client_info`.
    ///
    /// # Errors
    /// [`MsalError::IdToken`] ([`IdTokenProblem::MissingClaim`] `sub`) when there is neither
    /// `client_info` nor `sub`.
    pub fn from_id_token(
        claims: &IdTokenClaims,
        client_info: Option<&ClientInfo>,
        authority: &Authority,
    ) -> Result<Self> {
        let home_account_id = match client_info {
            Some(info) => info.home_account_id(),
            None => claims
                .sub
                .clone()
                .ok_or(MsalError::IdToken(IdTokenProblem::MissingClaim("sub")))?,
        };
        Ok(Self {
            home_account_id,
            environment: authority.environment().to_owned(),
            tenant_id: claims.tenant_id(),
            local_account_id: claims
                .oid
                .clone()
                .or_else(|| claims.sub.clone())
                .unwrap_or_default(),
            username: claims.username().to_owned(),
            authority_type: authority.kind().cache_authority_type(),
        })
    }
}

/// Builds Python's [`AuthenticationRecord`] from checked ID token claims: authority = the
/// host of the authority the user signed in at (Python takes the host of `iss`, which a
/// token can choose; the configured authority cannot be changed by a response), client id =
/// `aud`, home account id from `client_info` (else `sub`), tenant = `tid` (else the issuer
/// path), username = `preferred_username` (else `upn`).
///
/// # Errors
/// [`MsalError::IdToken`] when the account cannot be built.
pub fn authentication_record(
    claims: &IdTokenClaims,
    client_info: Option<&ClientInfo>,
    authority: &Authority,
) -> Result<AuthenticationRecord> {
    let authority = authority.host().to_owned();
    let client_id = claims
        .aud
        .first()
        .ok_or(MsalError::IdToken(IdTokenProblem::MissingClaim("aud")))?;
    let home_account_id = match client_info {
        Some(info) => info.home_account_id(),
        None => claims
            .sub
            .clone()
            .ok_or(MsalError::IdToken(IdTokenProblem::MissingClaim("sub")))?,
    };
    Ok(AuthenticationRecord::new(
        claims.tenant_id(),
        client_id.clone(),
        authority,
        home_account_id,
        claims.username(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn token(payload: &Value) -> Secret {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        Secret::new(format!("{header}.{body}.c2lnbmF0dXJl"))
    }

    fn claims() -> Value {
        json!({
            "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"),
            "aud": CLIENT,
            "sub": "sub-1",
            "oid": "oid-1",
            "tid": TID,
            "nonce": "nonce-1",
            "exp": 1_700_003_600,
            "iat": 1_700_000_000,
            "preferred_username": "alice@contoso.com",
            "name": "Alice",
        })
    }

    fn endpoints(authority: &str) -> Endpoints {
        Endpoints::known_cloud(&Authority::parse(authority).unwrap()).unwrap()
    }

    fn validation<'a>(e: &'a Endpoints, nonce: &'a Secret) -> IdTokenValidation<'a> {
        IdTokenValidation::new(CLIENT, e)
            .with_nonce(Some(nonce))
            .at(now())
    }

    #[test]
    fn a_good_token_passes_and_builds_the_account() {
        let e = endpoints("https://login.microsoftonline.com/organizations");
        let nonce = Secret::new("nonce-1");
        let c = validation(&e, &nonce).verify(&token(&claims())).unwrap();
        assert_eq!(c.tid.as_deref(), Some(TID));
        assert_eq!(c.name.as_deref(), Some("Alice"));
        assert_eq!(c.all["iat"], 1_700_000_000);
        assert!(!format!("{c:?}").contains("nonce-1"));

        let info = ClientInfo::new("uid", Some("utid".to_owned()));
        let account = Account::from_id_token(&c, Some(&info), &e.authority).unwrap();
        assert_eq!(account.home_account_id, "uid.utid");
        assert_eq!(account.environment, "login.microsoftonline.com");
        assert_eq!(account.tenant_id, TID);
        assert_eq!(account.local_account_id, "oid-1");
        assert_eq!(account.username, "alice@contoso.com");
        assert_eq!(account.authority_type, "MSSTS");

        let record = authentication_record(&c, Some(&info), &e.authority).unwrap();
        assert_eq!(record.authority(), "login.microsoftonline.com");
        assert_eq!(record.client_id(), CLIENT);
        assert_eq!(record.home_account_id(), "uid.utid");
        assert_eq!(record.tenant_id(), TID);
        assert_eq!(record.username(), "alice@contoso.com");
    }

    #[test]
    fn wrong_nonce_audience_expiry_and_issuer_fail() {
        let e = endpoints("https://login.microsoftonline.com/organizations");
        let nonce = Secret::new("nonce-1");
        let check = |v: Value| validation(&e, &nonce).verify(&token(&v)).unwrap_err();

        let mut v = claims();
        v["nonce"] = json!("nonce-2");
        assert!(matches!(
            check(v),
            MsalError::IdToken(IdTokenProblem::WrongNonce)
        ));
        let mut v = claims();
        v.as_object_mut().unwrap().remove("nonce");
        assert!(matches!(
            check(v),
            MsalError::IdToken(IdTokenProblem::WrongNonce)
        ));

        let mut v = claims();
        v["aud"] = json!("another-client");
        let err = check(v);
        assert!(matches!(
            err,
            MsalError::IdToken(IdTokenProblem::WrongAudience)
        ));
        assert_eq!(
            err.to_string(),
            "the ID token's audience is not this application's client ID"
        );

        let mut v = claims();
        v["exp"] = json!(1_700_000_000 - 301);
        let err = check(v);
        assert!(matches!(err, MsalError::IdToken(IdTokenProblem::Expired)));
        let core: entra_core::Error = err.into();
        assert_eq!(
            core.message(),
            "Authentication failed: the ID token has expired"
        );
        // Within the clock skew is fine.
        let mut v = claims();
        v["exp"] = json!(1_700_000_000 - 299);
        assert!(validation(&e, &nonce).verify(&token(&v)).is_ok());
        let mut v = claims();
        v.as_object_mut().unwrap().remove("exp");
        assert!(matches!(
            check(v),
            MsalError::IdToken(IdTokenProblem::MissingClaim("exp"))
        ));
        let mut v = claims();
        v["exp"] = json!(i64::MAX);
        assert!(matches!(
            check(v),
            MsalError::IdToken(IdTokenProblem::Expired)
        ));

        let mut v = claims();
        v["iss"] = json!(format!("https://evil.example/{TID}/v2.0"));
        assert!(matches!(
            check(v),
            MsalError::IdToken(IdTokenProblem::WrongIssuer)
        ));
    }

    #[test]
    fn issuer_rules() {
        let nonce = Secret::new("nonce-1");
        // {tenantid} template with the token's tid, on an alias host.
        let e = endpoints("https://login.windows.net/common");
        assert!(validation(&e, &nonce).verify(&token(&claims())).is_ok());
        // Exact issuer for a GUID tenant.
        let e = endpoints(&format!("https://login.microsoftonline.com/{TID}"));
        assert_eq!(
            e.issuer,
            format!("https://login.microsoftonline.com/{TID}/v2.0")
        );
        assert!(validation(&e, &nonce).verify(&token(&claims())).is_ok());
        // Without a nonce requirement (refresh), the nonce is not checked.
        let mut v = claims();
        v["nonce"] = json!("whatever");
        assert!(
            IdTokenValidation::new(CLIENT, &e)
                .at(now())
                .verify(&token(&v))
                .is_ok()
        );
        // aud may be an array.
        let mut v = claims();
        v["aud"] = json!(["x", CLIENT]);
        assert!(validation(&e, &nonce).verify(&token(&v)).is_ok());
    }

    #[test]
    fn adfs_accounts_use_sub_and_issuer_path() {
        let c = decode_id_token(
            token(&json!({
                "iss": "https://adfs.contoso.com/adfs",
                "aud": CLIENT,
                "sub": "adfs-sub",
                "upn": "bob@contoso.com",
                "exp": 1_700_003_600,
            }))
            .secret(),
        )
        .unwrap();
        let authority = Authority::parse("https://adfs.contoso.com/adfs").unwrap();
        let account = Account::from_id_token(&c, None, &authority).unwrap();
        assert_eq!(account.home_account_id, "adfs-sub");
        assert_eq!(account.tenant_id, "adfs");
        assert_eq!(account.local_account_id, "adfs-sub");
        assert_eq!(account.username, "bob@contoso.com");
        assert_eq!(account.authority_type, "ADFS");
        let record = authentication_record(&c, None, &authority).unwrap();
        assert_eq!(record.authority(), "adfs.contoso.com");
        assert_eq!(record.home_account_id(), "adfs-sub");
        assert_eq!(record.tenant_id(), "adfs");

        // Neither client_info nor sub: no account.
        let c = decode_id_token(
            token(&json!({"iss": "https://adfs.contoso.com/adfs", "aud": CLIENT})).secret(),
        )
        .unwrap();
        assert!(Account::from_id_token(&c, None, &authority).is_err());
        assert!(authentication_record(&c, None, &authority).is_err());
        assert_eq!(c.username(), "");
    }

    #[test]
    fn malformed_tokens() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"iss":"https://x","aud":"a"}"#);
        assert!(decode_id_token(&format!("h.{payload}.")).is_ok());
        for bad in [
            String::new(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("h.{payload}.s.x"),
            "h.!!!.s".to_owned(),
            format!("h.{}.s", URL_SAFE_NO_PAD.encode("[1]")),
            format!("h.{}.s", URL_SAFE_NO_PAD.encode("not json")),
        ] {
            let err = decode_id_token(&bad).unwrap_err();
            assert!(
                matches!(err, MsalError::IdToken(IdTokenProblem::Malformed)),
                "{bad}"
            );
        }
        let no_iss = format!("h.{}.s", URL_SAFE_NO_PAD.encode(r#"{"aud":"a"}"#));
        assert!(matches!(
            decode_id_token(&no_iss).unwrap_err(),
            MsalError::IdToken(IdTokenProblem::MissingClaim("iss"))
        ));
        let no_aud = format!(
            "h.{}.s",
            URL_SAFE_NO_PAD.encode(r#"{"iss":"https://x","aud":[]}"#)
        );
        assert!(matches!(
            decode_id_token(&no_aud).unwrap_err(),
            MsalError::IdToken(IdTokenProblem::MissingClaim("aud"))
        ));
    }
}
