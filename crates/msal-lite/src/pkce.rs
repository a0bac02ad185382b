//! PKCE (RFC 7636, S256), `state` and `nonce` from the operating system's random source.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_core::Secret;
use sha2::{Digest, Sha256};

use crate::error::{MsalError, Result};

/// Fills a buffer from the OS random source (getrandom).
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(MsalError::Random)?;
    Ok(buf)
}

/// A PKCE pair: the secret verifier (kept by the client) and its S256 challenge (sent on the
/// authorize URL).
///
/// ```
/// use entra_msal_lite::Pkce;
///
/// let pkce = Pkce::new()?;
/// assert_eq!(pkce.verifier().len(), 43);
/// assert_eq!(pkce.challenge_method(), "S256");
/// assert!(!format!("{pkce:?}").contains(pkce.verifier().secret()));
/// # Ok::<(), entra_msal_lite::MsalError>(())
/// ```
#[derive(Clone)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A new pair: 32 random bytes, base64url without padding (43 characters), as MSAL Go.
    ///
    /// # Errors
    /// [`MsalError::Random`] if the OS random source fails.
    pub fn new() -> Result<Self> {
        let bytes = random_bytes::<32>()?;
        Ok(Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The pair of a known verifier (for tests and RFC 7636 vectors).
    #[must_use]
    pub fn from_verifier(verifier: impl Into<Secret>) -> Self {
        let verifier = verifier.into();
        let challenge = s256_challenge(verifier.secret());
        Self {
            verifier,
            challenge,
        }
    }

    /// The verifier, sent only in the code redemption.
    #[must_use]
    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    /// The challenge: base64url(SHA-256(verifier)).
    #[must_use]
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// Always `S256`.
    #[must_use]
    pub fn challenge_method(&self) -> &'static str {
        "S256"
    }
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &self.verifier)
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// base64url(SHA-256(verifier)) without padding.
#[must_use]
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A new `state`: 32 random bytes, base64url (43 characters, 256 bits; Python uses 16 bytes).
///
/// # Errors
/// [`MsalError::Random`] if the OS random source fails.
pub fn new_state() -> Result<Secret> {
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// A new `nonce`: the hex SHA-256 of 32 random bytes (64 hex characters), the shape MSAL
/// Python sends; the ID token's `nonce` claim must equal it.
///
/// # Errors
/// [`MsalError::Random`] if the OS random source fails.
pub fn new_nonce() -> Result<Secret> {
    let bytes = random_bytes::<32>()?;
    Ok(Secret::new(hex::encode(Sha256::digest(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_unreserved_chars_and_unique() {
        let a = Pkce::new().unwrap();
        let b = Pkce::new().unwrap();
        assert_ne!(a.verifier(), b.verifier());
        for p in [&a, &b] {
            let v = p.verifier().secret();
            assert_eq!(v.len(), 43);
            assert!(
                v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
            );
            assert_eq!(p.challenge(), s256_challenge(v));
            assert!(!format!("{p:?}").contains(v));
        }
    }

    #[test]
    fn state_and_nonce_shapes() {
        let s1 = new_state().unwrap();
        let s2 = new_state().unwrap();
        assert_eq!(s1.len(), 43);
        assert_ne!(s1, s2);
        let n = new_nonce().unwrap();
        assert_eq!(n.len(), 64);
        assert!(n.secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(n, new_nonce().unwrap());
    }
}
