//! Confidential applications the mock knows ([`ConfidentialApp`]: a client secret or a
//! certificate), and [`TestCertificate`], an RSA certificate made for a test.

use rcgen::{CertificateParams, KeyPair, PKCS_RSA_SHA256};

use crate::MockError;

/// What a confidential application authenticates with at the mock's token endpoint.
#[derive(Clone)]
pub(crate) enum AppCredential {
    Secret(String),
    /// The certificate's PEM (its public key checks the assertion's signature) and DER (its
    /// SHA-256 thumbprint must be the assertion's `x5t#S256`).
    Certificate {
        pem: String,
        der: Vec<u8>,
    },
}

/// A confidential application registered at the mock: the client-credentials grant is
/// answered for it, with an app token, when the request carries its secret or an assertion
/// signed with its certificate's key (RFC 7523: `x5t#S256` of the certificate, `aud` the
/// token endpoint, `iss` = `sub` = the client id, unexpired).
///
/// ```
/// # async fn demo() -> Result<(), entra_testing::MockError> {
/// use entra_testing::{ConfidentialApp, MockEntra, TestCertificate};
/// let certificate = TestCertificate::generate("my-app")?;
/// let mock = MockEntra::builder()
///     .confidential_app(ConfidentialApp::with_secret("11111111-0000-4000-8000-000000000001", "s3cret"))
///     .confidential_app(ConfidentialApp::with_certificate(
///         "11111111-0000-4000-8000-000000000002",
///         &certificate,
///     ))
///     .start()
///     .await?;
/// # let _ = mock; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConfidentialApp {
    pub(crate) client_id: String,
    pub(crate) credential: AppCredential,
}

impl ConfidentialApp {
    /// An application that authenticates with `secret`.
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into().to_ascii_lowercase(),
            credential: AppCredential::Secret(secret.into()),
        }
    }

    /// An application that authenticates with an assertion signed by `certificate`'s key.
    pub fn with_certificate(client_id: impl Into<String>, certificate: &TestCertificate) -> Self {
        Self {
            client_id: client_id.into().to_ascii_lowercase(),
            credential: AppCredential::Certificate {
                pem: certificate.certificate_pem.clone(),
                der: certificate.der.clone(),
            },
        }
    }

    /// The application's client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl std::fmt::Debug for ConfidentialApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.credential {
            AppCredential::Secret(_) => "secret",
            AppCredential::Certificate { .. } => "certificate",
        };
        f.debug_struct("ConfidentialApp")
            .field("client_id", &self.client_id)
            .field("credential", &kind)
            .finish()
    }
}

/// A self-signed RSA 2048 certificate and its private key, in PEM, made for a test.
#[derive(Clone)]
pub struct TestCertificate {
    certificate_pem: String,
    private_key_pem: String,
    der: Vec<u8>,
}

impl TestCertificate {
    /// A new certificate for the subject `common_name`.
    ///
    /// # Errors
    /// [`MockError::Key`] when the key or the certificate cannot be made.
    pub fn generate(common_name: &str) -> Result<Self, MockError> {
        crate::install_crypto_providers();
        let key = KeyPair::generate_for(&PKCS_RSA_SHA256)
            .map_err(|e| MockError::Key(format!("generating the RSA key failed: {e}")))?;
        let mut params = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| MockError::Key(format!("the certificate parameters: {e}")))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let certificate = params
            .self_signed(&key)
            .map_err(|e| MockError::Key(format!("signing the certificate failed: {e}")))?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
            der: certificate.der().to_vec(),
        })
    }

    /// The certificate, PEM.
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key, PEM (PKCS#8).
    #[must_use]
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The certificate, DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

impl std::fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificate")
            .field("der_len", &self.der.len())
            .finish_non_exhaustive()
    }
}
