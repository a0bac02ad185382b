//! The troubleshooting guide every credential's errors link to, and the decoration every
//! error of a credential gets: the credential's name and, when the guide has a section for
//! the error's typed reason or Entra ID's answer, its link (never decided from message text).

use entra_core::{Error, ErrorKind, Reason};

/// The troubleshooting guide every error links to (kept with the browser credential, whose
/// errors are most of it; the device code's share its sections).
pub const TROUBLESHOOTING: &str =
    "https://github.com/entra-rs/entra-rs/blob/main/crates/browser-flow/TROUBLESHOOTING.md";

/// `e` as the credential `credential` returns it: named, and with its troubleshooting link
/// unless it has one already.
///
/// ```
/// use entra_core::{Error, Reason};
/// let e = entra_public_client::decorate(
///     Error::client_authentication("Timed out").with_reason(Reason::Timeout),
///     "DeviceCodeCredential",
/// );
/// assert!(e.to_string().starts_with("DeviceCodeCredential: "));
/// assert!(e.help().is_some_and(|h| h.ends_with("#timeout")));
/// ```
#[must_use]
pub fn decorate(e: Error, credential: &'static str) -> Error {
    let e = e.with_credential(credential);
    match (e.help().is_none())
        .then(|| troubleshooting_anchor(&e))
        .flatten()
    {
        Some(anchor) => e.with_help(format!("{TROUBLESHOOTING}#{anchor}")),
        None => e,
    }
}

/// The guide's section for `e`: by its typed reason first, then by Entra ID's answer.
#[must_use]
pub fn troubleshooting_anchor(e: &Error) -> Option<&'static str> {
    // The typed reason first, then Entra ID's answer (data, never the message text).
    match e.reason() {
        Reason::BrowserUnavailable => return Some("no-browser"),
        Reason::PortInUse => return Some("port-in-use"),
        Reason::Timeout => return Some("timeout"),
        Reason::SignInLinkReused => return Some("sign-in-link-reused"),
        Reason::PastedAddressRefused => return Some("ssh"),
        Reason::KeyringUnavailable => return Some("keyring-unavailable"),
        Reason::CacheUnreadable | Reason::CacheLocked => return Some("cache-corrupt"),
        Reason::CacheLocationUnsafe => return Some("cache-location-unsafe"),
        Reason::InvalidInstance => return Some("invalid-instance"),
        Reason::TenantDiscovery => return Some("tenant-discovery"),
        Reason::TenantNotAllowed => return Some("tenant-not-allowed"),
        _ => {}
    }
    if let Some(response) = e.error_response() {
        let description = response.error_description.as_deref().unwrap_or("");
        return match response.error.as_str() {
            _ if description.contains("AADSTS50011") => Some("redirect-uri-mismatch"),
            "access_denied" | "consent_required" => Some("access-denied"),
            "invalid_grant" if response.claims.is_none() => Some("invalid-grant"),
            "invalid_instance" => Some("invalid-instance"),
            _ if response.claims.is_some() => Some("claims-challenge"),
            _ => None,
        };
    }
    match e.kind() {
        ErrorKind::AuthenticationRequired { .. } => Some("authentication-required"),
        _ => None,
    }
}
