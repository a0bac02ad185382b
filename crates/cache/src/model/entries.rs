//! The five entry types of MSAL's unified cache, read and written as MSAL does: numbers as
//! strings, secrets kept out of `Debug`, unknown fields preserved.

use std::fmt;

use entra_core::Secret;
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
