//! The cache document: MSAL's five sections (unknown ones and entries that cannot be read
//! kept as they are), parsed from and serialized to MSAL's JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::entries::{
    AccessTokenEntry, AccountEntry, AppMetadataEntry, IdTokenEntry, RefreshTokenEntry,
};
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
