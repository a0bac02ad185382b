//! The token signing key (RSA 2048, generated at start) and the JWKS that publishes it.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{KeyPair, PKCS_RSA_SHA256};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::MockError;
use crate::util::b64url;

/// An RSA signing key with its key id and public components.
pub(crate) struct SigningKey {
    key: EncodingKey,
    kid: String,
    n: String,
    e: String,
}

impl SigningKey {
    /// Generates a fresh RSA 2048 key.
    pub(crate) fn generate() -> Result<Self, MockError> {
        crate::install_crypto_providers();
        let pair = KeyPair::generate_for(&PKCS_RSA_SHA256)
            .map_err(|e| MockError::Key(format!("generating the RSA key failed: {e}")))?;
        let key = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes())
            .map_err(|e| MockError::Key(format!("loading the RSA key failed: {e}")))?;
        let jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)
            .map_err(|e| MockError::Key(format!("reading the RSA public key failed: {e}")))?;
        let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
            return Err(MockError::Key("the generated key is not RSA".to_owned()));
        };
        let kid = b64url(&Sha256::digest(rsa.n.as_bytes())[..15]);
        Ok(Self {
            key,
            kid,
            n: rsa.n,
            e: rsa.e,
        })
    }

    /// Signs `claims` as an RS256 JWT with `typ: JWT` and this key's `kid`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, MockError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| MockError::Key(format!("signing a token failed: {e}")))
    }

    /// The JWKS document served at `/{tenant}/discovery/v2.0/keys`.
    pub(crate) fn jwks(&self, issuer: Option<&str>) -> serde_json::Value {
        let mut key = serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
        });
        if let (Some(issuer), Some(obj)) = (issuer, key.as_object_mut()) {
            obj.insert("issuer".to_owned(), issuer.into());
        }
        serde_json::json!({ "keys": [key] })
    }
}

impl SigningKey {
    /// Verifies an RS256 token signed by this key and returns its claims (signature and format
    /// only: expiry, audience and issuer are not checked).
    pub(crate) fn verify(&self, token: &str) -> Result<serde_json::Value, MockError> {
        let key = jsonwebtoken::DecodingKey::from_rsa_components(&self.n, &self.e)
            .map_err(|e| MockError::Key(format!("the public key is unusable: {e}")))?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| MockError::InvalidToken(e.to_string()))
    }
}
