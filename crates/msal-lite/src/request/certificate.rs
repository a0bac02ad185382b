//! [`ClientCertificate`]: a confidential client's certificate and private key, and the RFC 7523
//! client assertion signed with it as MSAL signs one for Entra ID: `PS256`, the certificate's
//! SHA-256 thumbprint as `x5t#S256`, `aud` the token endpoint, `iss` = `sub` = the client id,
//! a fresh `jti`, valid for ten minutes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::*;

/// How long an assertion is valid (MSAL's ten minutes).
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// A certificate (its chain, leaf first) and the leaf's RSA private key. `Debug` shows the
/// thumbprint only.
///
/// ```no_run
/// use std::sync::Arc;
/// use entra_msal_lite::{ClientCertificate, ClientCredential};
///
/// let certificate = ClientCertificate::from_pem(
///     &std::fs::read_to_string("app.crt")?,
///     &std::fs::read_to_string("app.key")?,
/// )?;
/// println!("registered thumbprint (base64url SHA-256): {}", certificate.thumbprint_sha256());
/// let credential = ClientCredential::Certificate(Arc::new(certificate));
/// # let _ = credential;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientCertificate {
    key: EncodingKey,
    thumbprint: String,
    chain: Vec<String>,
    send_chain: bool,
}

impl ClientCertificate {
    /// From PEM: `certificate_pem` holds the certificate (and any chain after it) as
    /// `CERTIFICATE` blocks, `private_key_pem` the leaf's RSA key (PKCS#8 or PKCS#1).
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] naming what is missing or unreadable.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self> {
        let chain = pem_certificates(certificate_pem)?;
        let Some(leaf) = chain.first() else {
            return Err(MsalError::InvalidArgument(
                "the certificate PEM holds no CERTIFICATE block".to_owned(),
            ));
        };
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|_| {
            MsalError::InvalidArgument(
                "the private key is not an RSA private key in PEM (PKCS#8 or PKCS#1)".to_owned(),
            )
        })?;
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(leaf)),
            chain: chain.iter().map(|der| STANDARD.encode(der)).collect(),
            send_chain: false,
        })
    }

    /// Sends the chain in the assertion's `x5c` header, for an application that trusts the
    /// certificate by subject name and issuer (MSAL's `send_x5c`).
    #[must_use]
    pub fn with_chain(mut self, send: bool) -> Self {
        self.send_chain = send;
        self
    }

    /// The leaf's SHA-256 thumbprint, base64url without padding (the assertion's `x5t#S256`).
    #[must_use]
    pub fn thumbprint_sha256(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh assertion for the client `client_id` at the token endpoint `audience`.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] when the key cannot sign.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<Secret> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let mut header = Header::new(Algorithm::PS256);
        header.typ = Some("JWT".to_owned());
        header.x5t_s256 = Some(self.thumbprint.clone());
        if self.send_chain {
            header.x5c = Some(self.chain.clone());
        }
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|_| {
                MsalError::InvalidArgument(
                    "signing the client assertion with the certificate's key failed".to_owned(),
                )
            })
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint_sha256", &self.thumbprint)
            .field("send_chain", &self.send_chain)
            .finish_non_exhaustive()
    }
}

/// The DER of each `CERTIFICATE` block of `pem`, in order.
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let Some(end) = body.find(END) else {
            return Err(MsalError::InvalidArgument(
                "a CERTIFICATE block of the certificate PEM has no END line".to_owned(),
            ));
        };
        let text: String = body[..end].split_whitespace().collect();
        let der = STANDARD.decode(text).map_err(|_| {
            MsalError::InvalidArgument(
                "a CERTIFICATE block of the certificate PEM is not base64".to_owned(),
            )
        })?;
        out.push(der);
        rest = &body[end + END.len()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_pem_blocks_are_read_in_order_and_bad_ones_named() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(pem).unwrap(),
            [vec![0, 1, 2, 3], vec![4, 5]]
        );
        assert!(pem_certificates("-----BEGIN CERTIFICATE-----\nAAEC").is_err());
        assert!(
            pem_certificates("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err()
        );
        let err = ClientCertificate::from_pem("", "").unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE block"), "{err}");
        let err = ClientCertificate::from_pem(pem, "not a key").unwrap_err();
        assert!(err.to_string().contains("RSA private key"), "{err}");
    }
}
