//! MSAL's unified cache schema: the five entity types, their key formats, and the JSON document
//! that holds them (read and written exactly as MSAL Python, .NET, Java, Go and JS do).
//! The entries are in `entries.rs`, the document in `document.rs`.

mod document;
mod entries;

pub use self::document::{CacheDocument, section};
pub(crate) use self::document::{Section, Slot};
pub use self::entries::{
    AccessTokenEntry, AccountEntry, AppMetadataEntry, IdTokenEntry, RefreshTokenEntry,
};

/// The `authority_type` of an Entra ID (AAD) account.
pub const AUTHORITY_TYPE_MSSTS: &str = "MSSTS";
/// The `authority_type` of an AD FS account.
pub const AUTHORITY_TYPE_ADFS: &str = "ADFS";

/// MSAL's cache key formats. Keys only name entries in the document: every lookup in this crate
/// matches on field values, never on keys, because each MSAL language builds keys a little
/// differently.
///
/// ```
/// use entra_cache::keys;
///
/// assert_eq!(
///     keys::access_token("uid.utid", "login.microsoftonline.com", "CID", "organizations", "https://graph.microsoft.com/User.Read"),
///     "uid.utid-login.microsoftonline.com-accesstoken-cid-organizations-https://graph.microsoft.com/user.read"
/// );
/// assert_eq!(
///     keys::refresh_token("uid.utid", "login.microsoftonline.com", "cid"),
///     "uid.utid-login.microsoftonline.com-refreshtoken-cid--"
/// );
/// ```
pub mod keys {
    /// `<home_account_id>-<environment>-accesstoken-<client_id>-<realm>-<target>`, lower-cased.
    #[must_use]
    pub fn access_token(
        home_account_id: &str,
        environment: &str,
        client_id: &str,
        realm: &str,
        target: &str,
    ) -> String {
        format!("{home_account_id}-{environment}-accesstoken-{client_id}-{realm}-{target}")
            .to_lowercase()
    }

    /// `<home_account_id>-<environment>-refreshtoken-<client_id>--`, lower-cased: the realm and
    /// target slots are empty (refresh tokens are realm- and scope-independent; this is the key
    /// MSAL Python computes for an entry without `target`, and MSAL .NET's canonical form).
    #[must_use]
    pub fn refresh_token(home_account_id: &str, environment: &str, client_id: &str) -> String {
        format!("{home_account_id}-{environment}-refreshtoken-{client_id}--").to_lowercase()
    }

    /// `<home_account_id>-<environment>-idtoken-<client_id>-<realm>-`, lower-cased (empty target
    /// slot).
    #[must_use]
    pub fn id_token(
        home_account_id: &str,
        environment: &str,
        client_id: &str,
        realm: &str,
    ) -> String {
        format!("{home_account_id}-{environment}-idtoken-{client_id}-{realm}-").to_lowercase()
    }

    /// `<home_account_id>-<environment>-<realm>`, lower-cased.
    #[must_use]
    pub fn account(home_account_id: &str, environment: &str, realm: &str) -> String {
        format!("{home_account_id}-{environment}-{realm}").to_lowercase()
    }

    /// `appmetadata-<environment>-<client_id>` (not lower-cased, as MSAL Python writes it).
    #[must_use]
    pub fn app_metadata(environment: &str, client_id: &str) -> String {
        format!("appmetadata-{environment}-{client_id}")
    }
}
