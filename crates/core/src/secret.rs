//! [`Secret`]: a token string that never shows itself.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// A secret string: an access, refresh or ID token, an authorization code, a PKCE verifier.
///
/// - `Debug` and `Display` print `Secret(<redacted>)` / `<redacted>`, never the value.
/// - Equality is compared in constant time (for equal lengths).
/// - The value is read only through an explicit [`Secret::secret`] call, so every place that
///   exposes a secret is easy to find with a search.
/// - Cloning is cheap (a reference count): a cached token is handed out without copying it.
///
/// `Secret` deliberately implements neither `Serialize` nor `Deserialize`: a type that writes a
/// secret somewhere must call [`Secret::secret`] and say so.
///
/// ```
/// use entra_core::Secret;
///
/// let s = Secret::new("eyJ0eXAi...");
/// assert_eq!(s.secret(), "eyJ0eXAi...");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.to_string(), "<redacted>");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// Returns the secret value. Call this only where the value must leave the program
    /// (an HTTP header, a cache file).
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The length of the value in bytes (not secret: useful for diagnostics).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Compares two strings in constant time (for equal lengths). Use it for `state` and other
/// values an attacker could probe byte by byte.
#[must_use]
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super-secret-value"));
        assert!(!format!("{s:#?}").contains("super-secret-value"));
        assert!(!format!("{s}").contains("super-secret-value"));
        assert_eq!(s.secret(), "super-secret-value");
        assert_eq!(s.len(), 18);
        assert!(!s.is_empty());
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(Secret::new("abc"), Secret::from("abc".to_owned()));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert!(constant_time_eq("state-1", "state-1"));
        assert!(!constant_time_eq("state-1", "state-2"));
        assert!(!constant_time_eq("state", "state-2"));
    }

    #[test]
    fn clone_shares_the_value() {
        let a = Secret::new("token");
        let b = a.clone();
        assert!(std::ptr::eq(a.secret().as_ptr(), b.secret().as_ptr()));
    }
}
