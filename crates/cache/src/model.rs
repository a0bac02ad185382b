//! MSAL's unified cache schema: the five entity types, their key formats, and the JSON document
//! that holds them (read and written exactly as MSAL Python, .NET, Java, Go and JS do).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use entra_core::Secret;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CacheError;

/// The top-level section names of MSAL's unified cache document.
pub mod section {
    /// Access tokens.
    pub const ACCESS_TOKEN: &str = "AccessToken";
    /// Refresh tokens (including family refresh tokens).
    pub const REFRESH_TOKEN: &str = "RefreshToken";
    /// ID tokens.
    pub const ID_TOKEN: &str = "IdToken";
    /// Accounts.
    pub const ACCOUNT: &str = "Account";
    /// Application metadata (family membership).
    pub const APP_METADATA: &str = "AppMetadata";
}

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

// ---------------------------------------------------------------------------------------------
// serde helpers: numbers as strings, secrets, null strings

mod ts {
    //! Unix-seconds timestamps: written as strings, read from strings or numbers.
    use super::{Deserialize, Deserializer, Serializer, Value, de};

    pub(super) fn parse(value: &Value) -> Option<i64> {
        match value {
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(float_to_i64))
            }
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float_to_i64)),
            _ => None,
        }
    }

    fn float_to_i64(f: f64) -> Option<i64> {
        // Timestamps fit comfortably; anything else is not a timestamp.
        (f.is_finite() && f.abs() < 1e15).then(|| {
            #[allow(clippy::cast_possible_truncation)]
            let v = f as i64;
            v
        })
    }

    pub(super) fn deserialize_opt<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<i64>, D::Error> {
        let value = Value::deserialize(d)?;
        match value {
            Value::Null => Ok(None),
            Value::String(ref s) if s.is_empty() => Ok(None),
            ref v => parse(v)
                .map(Some)
                .ok_or_else(|| de::Error::custom("a timestamp must be a number of seconds")),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        deserialize_opt(d)?.ok_or_else(|| de::Error::custom("a timestamp is required"))
    }

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
    pub(super) fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    #[allow(clippy::ref_option)] // serde's signature
    pub(super) fn serialize_opt<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }
}

mod secret_str {
    //! `Secret` fields: the cache file is where a secret must be written.
    use super::{Deserialize, Deserializer, Secret, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.secret())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::from)
    }
}

/// A string that may be `null` or missing (MSAL Python writes `null` for an absent
/// `home_account_id`).
fn str_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn opt_str_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

// ---------------------------------------------------------------------------------------------
// entities

/// An `AccessToken` entry. `Debug` never shows the token.
#[derive(Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AccessTokenEntry {
    /// `"AccessToken"`.
    #[serde(default, deserialize_with = "str_or_null")]
    pub credential_type: String,
    /// The access token.
    #[serde(with = "secret_str")]
    pub secret: Secret,
    /// `<uid>.<utid>` of the signed-in user (empty for app-only tokens).
    #[serde(default, deserialize_with = "str_or_null")]
    pub home_account_id: String,
    /// The authority host the token came from, e.g. `login.microsoftonline.com`.
    #[serde(deserialize_with = "str_or_null")]
    pub environment: String,
    /// The application (client) id.
    #[serde(deserialize_with = "str_or_null")]
    pub client_id: String,
    /// The granted scopes, space-separated.
    #[serde(deserialize_with = "str_or_null")]
    pub target: String,
    /// The tenant of the authority the token was requested from (`organizations`, a GUID, ...).
    #[serde(default, deserialize_with = "str_or_null")]
    pub realm: String,
    /// The token type; absent means `Bearer`.
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_type: Option<String>,
    /// When the token was cached (Unix seconds).
    #[serde(
        default,
        deserialize_with = "ts::deserialize_opt",
        serialize_with = "ts::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_at: Option<i64>,
    /// When the token expires (Unix seconds).
    #[serde(deserialize_with = "ts::deserialize", serialize_with = "ts::serialize")]
    pub expires_on: i64,
    /// The extended expiry (stored, never used for serving).
    #[serde(
        default,
        deserialize_with = "ts::deserialize_opt",
        serialize_with = "ts::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub extended_expires_on: Option<i64>,
    /// When the token should be refreshed proactively (from `refresh_in`).
    #[serde(
        default,
        deserialize_with = "ts::deserialize_opt",
        serialize_with = "ts::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_on: Option<i64>,
    /// The proof-of-possession key id (PoP tokens only).
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_id: Option<String>,
    /// Fields this crate does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `RefreshToken` entry. `Debug` never shows the token.
#[derive(Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct RefreshTokenEntry {
    /// `"RefreshToken"`.
    #[serde(default, deserialize_with = "str_or_null")]
    pub credential_type: String,
    /// The refresh token.
    #[serde(with = "secret_str")]
    pub secret: Secret,
    /// `<uid>.<utid>` of the signed-in user.
    #[serde(default, deserialize_with = "str_or_null")]
    pub home_account_id: String,
    /// The authority host.
    #[serde(deserialize_with = "str_or_null")]
    pub environment: String,
    /// The application (client) id that received the token.
    #[serde(deserialize_with = "str_or_null")]
    pub client_id: String,
    /// The scopes of the request (MSAL Python writes them; ignored by lookups).
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// The family id (`foci`) of a family refresh token, e.g. `"1"`.
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub family_id: Option<String>,
    /// When the entry was last written (Unix seconds; MSAL Python's field).
    #[serde(
        default,
        deserialize_with = "ts::deserialize_opt",
        serialize_with = "ts::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modification_time: Option<i64>,
    /// Fields this crate does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `IdToken` entry. `Debug` never shows the token.
#[derive(Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct IdTokenEntry {
    /// `"IdToken"`.
    #[serde(default, deserialize_with = "str_or_null")]
    pub credential_type: String,
    /// The raw ID token (a JWT).
    #[serde(with = "secret_str")]
    pub secret: Secret,
    /// `<uid>.<utid>` of the signed-in user.
    #[serde(default, deserialize_with = "str_or_null")]
    pub home_account_id: String,
    /// The authority host.
    #[serde(deserialize_with = "str_or_null")]
    pub environment: String,
    /// The tenant of the authority.
    #[serde(default, deserialize_with = "str_or_null")]
    pub realm: String,
    /// The application (client) id.
    #[serde(deserialize_with = "str_or_null")]
    pub client_id: String,
    /// Fields this crate does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `Account` entry (no secrets).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct AccountEntry {
    /// `<uid>.<utid>`.
    #[serde(deserialize_with = "str_or_null")]
    pub home_account_id: String,
    /// The authority host.
    #[serde(deserialize_with = "str_or_null")]
    pub environment: String,
    /// The tenant of the authority.
    #[serde(default, deserialize_with = "str_or_null")]
    pub realm: String,
    /// The user's object id in the tenant (`oid`, else `sub`).
    #[serde(default, deserialize_with = "str_or_null")]
    pub local_account_id: String,
    /// The user name (`preferred_username`, else `upn`).
    #[serde(default, deserialize_with = "str_or_null")]
    pub username: String,
    /// `MSSTS` (Entra ID) or `ADFS`.
    #[serde(default, deserialize_with = "str_or_null")]
    pub authority_type: String,
    /// The grant that created the account (MSAL Python's field), e.g. `authorization_code`.
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_source: Option<String>,
    /// Fields this crate does not know (`client_info`, `name`, ...), kept on round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `AppMetadata` entry (no secrets).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct AppMetadataEntry {
    /// The application (client) id.
    #[serde(deserialize_with = "str_or_null")]
    pub client_id: String,
    /// The authority host.
    #[serde(deserialize_with = "str_or_null")]
    pub environment: String,
    /// The family id when the app belongs to a family of client ids (FOCI).
    #[serde(
        default,
        deserialize_with = "opt_str_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub family_id: Option<String>,
    /// Fields this crate does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for AccessTokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenEntry")
            .field("secret", &self.secret)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .field("token_type", &self.token_type)
            .field("cached_at", &self.cached_at)
            .field("expires_on", &self.expires_on)
            .field("refresh_on", &self.refresh_on)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RefreshTokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenEntry")
            .field("secret", &self.secret)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("family_id", &self.family_id)
            .field("last_modification_time", &self.last_modification_time)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for IdTokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenEntry")
            .field("secret", &self.secret)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// the document

/// One entry of a section: typed when it has the fields this crate needs, raw JSON otherwise
/// (a foreign or damaged entry is kept as it was and never matched).
#[derive(Clone)]
pub(crate) enum Slot<T> {
    Typed(Arc<T>),
    Raw(Value),
}

impl<T: Serialize> Serialize for Slot<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Slot::Typed(t) => t.serialize(s),
            Slot::Raw(v) => v.serialize(s),
        }
    }
}

pub(crate) type Section<T> = BTreeMap<Arc<str>, Slot<T>>;

/// Serializes a section as a JSON object (keys as plain strings).
struct SectionSer<'a, T>(&'a Section<T>);

impl<T: Serialize> Serialize for SectionSer<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (&**k, v)))
    }
}

/// MSAL's unified cache document: the five sections plus any unknown top-level sections, all
/// kept on round trip.
///
/// Entries that lack a field this crate needs (a damaged or foreign entry) are kept verbatim,
/// written back unchanged and never matched by a lookup; [`unreadable_entries`] counts them.
///
/// ```
/// use entra_cache::CacheDocument;
///
/// let doc = CacheDocument::from_json(br#"{"AccessToken": {}, "unknownEntity": {"k": 1}}"#)?;
/// assert_eq!(doc.len(), 0);
/// let text = String::from_utf8(doc.to_json())?;
/// assert!(text.contains("\"unknownEntity\": {\n        \"k\": 1\n    }"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`unreadable_entries`]: CacheDocument::unreadable_entries
#[derive(Clone, Default)]
pub struct CacheDocument {
    pub(crate) access_tokens: Section<AccessTokenEntry>,
    pub(crate) refresh_tokens: Section<RefreshTokenEntry>,
    pub(crate) id_tokens: Section<IdTokenEntry>,
    pub(crate) accounts: Section<AccountEntry>,
    pub(crate) app_metadata: Section<AppMetadataEntry>,
    pub(crate) extra: Map<String, Value>,
}

impl fmt::Debug for CacheDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheDocument")
            .field("access_tokens", &self.access_tokens.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .field("id_tokens", &self.id_tokens.len())
            .field("accounts", &self.accounts.len())
            .field("app_metadata", &self.app_metadata.len())
            .field("unknown_sections", &self.extra.len())
            .finish()
    }
}

fn typed<T>(section: &Section<T>) -> impl Iterator<Item = (&str, &T)> {
    section.iter().filter_map(|(k, v)| match v {
        Slot::Typed(t) => Some((&**k, &**t)),
        Slot::Raw(_) => None,
    })
}

fn read_section<T: for<'de> Deserialize<'de>>(
    name: &str,
    value: Value,
    location: &str,
) -> Result<Section<T>, CacheError> {
    let Value::Object(map) = value else {
        return Err(CacheError::corrupt(
            location,
            format!("the \"{name}\" section is not a JSON object"),
        ));
    };
    let mut section = Section::new();
    for (key, entry) in map {
        let slot = match T::deserialize(&entry) {
            Ok(t) => Slot::Typed(Arc::new(t)),
            Err(_) => Slot::Raw(entry),
        };
        section.insert(Arc::from(key), slot);
    }
    Ok(section)
}

impl CacheDocument {
    /// An empty document.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a serialized cache (MSAL's JSON). An empty or all-whitespace input is an empty
    /// cache.
    ///
    /// # Errors
    /// [`CacheError::Corrupt`] when the input is not a JSON object or a known section is not
    /// an object.
    pub fn from_json(data: &[u8]) -> Result<Self, CacheError> {
        Self::from_json_at(data, "document")
    }

    pub(crate) fn from_json_at(data: &[u8], location: &str) -> Result<Self, CacheError> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let top: Map<String, Value> = serde_json::from_slice(data).map_err(|e| {
            CacheError::corrupt(
                location,
                format!(
                    "not a JSON object (line {}, column {}: {:?})",
                    e.line(),
                    e.column(),
                    e.classify()
                ),
            )
        })?;
        let mut doc = Self::default();
        for (name, value) in top {
            match name.as_str() {
                section::ACCESS_TOKEN => doc.access_tokens = read_section(&name, value, location)?,
                section::REFRESH_TOKEN => {
                    doc.refresh_tokens = read_section(&name, value, location)?;
                }
                section::ID_TOKEN => doc.id_tokens = read_section(&name, value, location)?,
                section::ACCOUNT => doc.accounts = read_section(&name, value, location)?,
                section::APP_METADATA => doc.app_metadata = read_section(&name, value, location)?,
                _ => {
                    doc.extra.insert(name, value);
                }
            }
        }
        Ok(doc)
    }

    /// Serializes the document as MSAL Python does: JSON indented by four spaces. Empty
    /// sections are left out; unknown sections and fields are written back.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * 700 + 64);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serializing maps of strings and JSON values into a Vec cannot fail.
        if self.serialize(&mut ser).is_err() {
            out.clear();
            out.extend_from_slice(b"{}");
        }
        out
    }

    /// The number of entries in the five sections (readable or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.access_tokens.len()
            + self.refresh_tokens.len()
            + self.id_tokens.len()
            + self.accounts.len()
            + self.app_metadata.len()
    }

    /// Whether the five sections are empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of entries kept verbatim because they lack a field this crate needs.
    #[must_use]
    pub fn unreadable_entries(&self) -> usize {
        fn raw<T>(s: &Section<T>) -> usize {
            s.values().filter(|v| matches!(v, Slot::Raw(_))).count()
        }
        raw(&self.access_tokens)
            + raw(&self.refresh_tokens)
            + raw(&self.id_tokens)
            + raw(&self.accounts)
            + raw(&self.app_metadata)
    }

    /// The readable access tokens, with their keys.
    pub fn access_tokens(&self) -> impl Iterator<Item = (&str, &AccessTokenEntry)> {
        typed(&self.access_tokens)
    }

    /// The readable refresh tokens, with their keys.
    pub fn refresh_tokens(&self) -> impl Iterator<Item = (&str, &RefreshTokenEntry)> {
        typed(&self.refresh_tokens)
    }

    /// The readable ID tokens, with their keys.
    pub fn id_tokens(&self) -> impl Iterator<Item = (&str, &IdTokenEntry)> {
        typed(&self.id_tokens)
    }

    /// The readable accounts, with their keys.
    pub fn accounts(&self) -> impl Iterator<Item = (&str, &AccountEntry)> {
        typed(&self.accounts)
    }

    /// The readable application metadata entries, with their keys.
    pub fn app_metadata(&self) -> impl Iterator<Item = (&str, &AppMetadataEntry)> {
        typed(&self.app_metadata)
    }

    /// The unknown top-level sections, kept on round trip.
    #[must_use]
    pub fn unknown_sections(&self) -> &Map<String, Value> {
        &self.extra
    }
}

impl Serialize for CacheDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        // MSAL Python's section order.
        if !self.access_tokens.is_empty() {
            map.serialize_entry(section::ACCESS_TOKEN, &SectionSer(&self.access_tokens))?;
        }
        if !self.accounts.is_empty() {
            map.serialize_entry(section::ACCOUNT, &SectionSer(&self.accounts))?;
        }
        if !self.id_tokens.is_empty() {
            map.serialize_entry(section::ID_TOKEN, &SectionSer(&self.id_tokens))?;
        }
        if !self.refresh_tokens.is_empty() {
            map.serialize_entry(section::REFRESH_TOKEN, &SectionSer(&self.refresh_tokens))?;
        }
        if !self.app_metadata.is_empty() {
            map.serialize_entry(section::APP_METADATA, &SectionSer(&self.app_metadata))?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
