//! Confidential clients: how an application proves who it is at the token endpoint
//! ([`ClientCredential`]: a client secret, a certificate, or an assertion it brings), and the
//! client-credentials grant that gets the application's own token.

use super::*;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How a confidential client authenticates at the token endpoint. `Debug` never shows the
/// secret, the assertion or the key.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret, sent as `client_secret`.
    Secret(Secret),
    /// A certificate: each request carries a fresh assertion signed with its private key
    /// (see [`ClientCertificate`]).
    #[cfg(feature = "certificate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "certificate")))]
    Certificate(std::sync::Arc<super::certificate::ClientCertificate>),
    /// A signed assertion the caller got elsewhere (a federated credential, such as a
    /// Kubernetes service account token for workload identity), sent as `client_assertion`.
    Assertion(Secret),
}

impl ClientCredential {
    /// The form fields that authenticate the client of `client_id` at `token_endpoint`.
    fn form(
        &self,
        client_id: &str,
        token_endpoint: &Url,
    ) -> Result<Vec<(&'static str, FormValue)>> {
        let assertion = |value: Secret| {
            vec![
                (
                    "client_assertion_type",
                    FormValue::Plain(CLIENT_ASSERTION_TYPE.to_owned()),
                ),
                ("client_assertion", FormValue::Secret(value)),
            ]
        };
        Ok(match self {
            Self::Secret(secret) => vec![("client_secret", FormValue::Secret(secret.clone()))],
            #[cfg(feature = "certificate")]
            Self::Certificate(certificate) => {
                assertion(certificate.assertion(client_id, token_endpoint.as_str())?)
            }
            Self::Assertion(value) => {
                let _ = (client_id, token_endpoint);
                assertion(value.clone())
            }
        })
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(..)"),
            #[cfg(feature = "certificate")]
            Self::Certificate(certificate) => {
                f.debug_tuple("Certificate").field(certificate).finish()
            }
            Self::Assertion(_) => f.write_str("Assertion(..)"),
        }
    }
}

/// The client-credentials grant (RFC 6749 §4.4): an application's own token, with no user.
/// The scopes go as given, without the `openid profile offline_access` a user's request
/// carries (an app token has no ID token and no refresh token); Entra ID wants one
/// `<resource>/.default` scope.
///
/// ```
/// use entra_core::Secret;
/// use entra_msal_lite::{ClientCredential, ClientCredentialsGrant};
///
/// let grant = ClientCredentialsGrant::new(
///     "00000000-0000-0000-0000-000000000001",
///     ClientCredential::Secret(Secret::new("app-secret")),
///     &["https://graph.microsoft.com/.default"],
/// );
/// let url = url::Url::parse("https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token")?;
/// let request = grant.to_request(&url)?;
/// assert_eq!(request.grant_type(), "client_credentials");
/// assert_eq!(request.form_value("scope"), Some("https://graph.microsoft.com/.default"));
/// assert!(!format!("{request:?}{grant:?}").contains("app-secret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientCredentialsGrant {
    client_id: String,
    credential: ClientCredential,
    scopes: Vec<String>,
    claims: Option<String>,
}

impl ClientCredentialsGrant {
    /// A grant for the application `client_id`, authenticated by `credential`, for `scopes`.
    pub fn new<S: AsRef<str>>(
        client_id: impl Into<String>,
        credential: ClientCredential,
        scopes: &[S],
    ) -> Self {
        Self {
            client_id: client_id.into(),
            credential,
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            claims: None,
        }
    }

    /// Sets the `claims` JSON (a resource's claims challenge, client capabilities).
    #[must_use]
    pub fn with_claims(mut self, claims: Option<&str>) -> Self {
        self.claims = claims.filter(|c| !c.is_empty()).map(str::to_owned);
        self
    }

    /// The request (pure but for a certificate's signature): `grant_type=client_credentials`,
    /// `client_id`, `scope` as given, the credential's fields, `claims`.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] for no scope or a bad one (a reserved scope, white
    /// space, a control character), or when a certificate's assertion cannot be signed.
    pub fn to_request(&self, token_endpoint: &Url) -> Result<TokenRequest> {
        if self.scopes.is_empty() {
            return Err(MsalError::InvalidArgument(
                "the client-credentials grant needs a scope, such as \
                 'https://graph.microsoft.com/.default'"
                    .to_owned(),
            ));
        }
        check_scopes(&self.scopes)?;
        let mut form = vec![
            (
                "grant_type",
                FormValue::Plain("client_credentials".to_owned()),
            ),
            ("client_id", FormValue::Plain(self.client_id.clone())),
            ("scope", FormValue::Plain(self.scopes.join(" "))),
        ];
        form.extend(self.credential.form(&self.client_id, token_endpoint)?);
        if let Some(claims) = &self.claims {
            form.push(("claims", FormValue::Plain(claims.clone())));
        }
        Ok(token_request(token_endpoint, form, None))
    }

    /// The application's client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The scopes, as given.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl fmt::Debug for ClientCredentialsGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsGrant")
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Url {
        Url::parse("https://login.microsoftonline.com/contoso/oauth2/v2.0/token").unwrap()
    }

    #[test]
    fn an_app_token_request_carries_the_scopes_as_given_and_the_secret() {
        let grant = ClientCredentialsGrant::new(
            "app",
            ClientCredential::Secret(Secret::new("s3cret")),
            &["api://resource/.default"],
        )
        .with_claims(Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#));
        let request = grant.to_request(&endpoint()).unwrap();
        assert_eq!(request.form_value("scope"), Some("api://resource/.default"));
        assert_eq!(request.form_value("client_secret"), Some("s3cret"));
        assert_eq!(request.form_value("client_id"), Some("app"));
        assert!(request.form_value("client_info").is_none());
        assert!(request.form_value("claims").is_some());
        let shown = format!("{request:?} {grant:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn an_assertion_goes_as_a_jwt_bearer_client_assertion() {
        let grant = ClientCredentialsGrant::new(
            "app",
            ClientCredential::Assertion(Secret::new("header.payload.sig")),
            &["api://resource/.default"],
        );
        let request = grant.to_request(&endpoint()).unwrap();
        assert_eq!(
            request.form_value("client_assertion_type"),
            Some(CLIENT_ASSERTION_TYPE)
        );
        assert_eq!(
            request.form_value("client_assertion"),
            Some("header.payload.sig")
        );
        assert!(request.form_value("client_secret").is_none());
        assert!(!format!("{request:?}").contains("payload"));
    }

    #[test]
    fn no_scope_or_a_reserved_one_is_refused() {
        let secret = || ClientCredential::Secret(Secret::new("s"));
        let none: [&str; 0] = [];
        for scopes in [&none[..], &["openid"][..], &["a b"][..]] {
            let err = ClientCredentialsGrant::new("app", secret(), scopes)
                .to_request(&endpoint())
                .unwrap_err();
            assert!(matches!(err, MsalError::InvalidArgument(_)), "{err:?}");
        }
    }
}
