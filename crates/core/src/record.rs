//! [`AuthenticationRecord`]: who signed in, in the JSON every Azure SDK language shares.

use serde_json::{Map, Value};

use crate::{Error, Result};

/// The record format version this crate writes and reads.
pub const RECORD_VERSION: &str = "1.0";

/// Non-secret account information about a sign-in: enough for a credential in a later process
/// to find that user's tokens in a persistent cache and sign in silently.
///
/// The JSON form is exactly Python azure-identity's (and .NET's, Java's, JavaScript's): keys
/// `authority`, `clientId`, `homeAccountId`, `tenantId`, `username`, `version` = `"1.0"`, in
/// that order, written with Python's separators and ASCII escaping, so a record saved by
/// either side is read by the other.
///
/// ```
/// use entra_core::AuthenticationRecord;
///
/// let record = AuthenticationRecord::new(
///     "72f988bf-86f1-41af-91ab-2d7cd011db47",
///     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
///     "login.microsoftonline.com",
///     "uid.utid",
///     "alice@contoso.com",
/// );
/// let json = record.serialize();
/// assert!(json.starts_with(r#"{"authority": "login.microsoftonline.com", "clientId": "#));
/// assert_eq!(AuthenticationRecord::deserialize(&json).unwrap(), record);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthenticationRecord {
    authority: String,
    client_id: String,
    home_account_id: String,
    tenant_id: String,
    username: String,
}

/// The five values of an [`AuthenticationRecord`], named: the constructor that cannot swap two
/// of them silently.
///
/// ```
/// use entra_core::{AuthenticationRecord, RecordParts};
///
/// let record = AuthenticationRecord::from_parts(RecordParts {
///     authority: "login.microsoftonline.com".into(),
///     client_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
///     home_account_id: "uid.utid".into(),
///     tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
///     username: "alice@contoso.com".into(),
/// });
/// // Display and FromStr are the shared JSON; serde gives the same JSON.
/// let text = record.to_string();
/// assert_eq!(text.parse::<AuthenticationRecord>().unwrap(), record);
/// assert_eq!(serde_json::to_value(&record).unwrap()["version"], "1.0");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordParts {
    /// The authority host, e.g. `login.microsoftonline.com`.
    pub authority: String,
    /// The client (application) id.
    pub client_id: String,
    /// The home account id, `<uid>.<utid>`.
    pub home_account_id: String,
    /// The tenant that issued the sign-in.
    pub tenant_id: String,
    /// The user's name.
    pub username: String,
}

impl AuthenticationRecord {
    /// Creates a record from named values.
    #[must_use]
    pub fn from_parts(parts: RecordParts) -> Self {
        Self {
            authority: parts.authority,
            client_id: parts.client_id,
            home_account_id: parts.home_account_id,
            tenant_id: parts.tenant_id,
            username: parts.username,
        }
    }

    /// Creates a record. The argument order is Python's:
    /// `(tenant_id, client_id, authority, home_account_id, username)`; prefer
    /// [`from_parts`](Self::from_parts), which names them.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        authority: impl Into<String>,
        home_account_id: impl Into<String>,
        username: impl Into<String>,
    ) -> Self {
        Self {
            authority: authority.into(),
            client_id: client_id.into(),
            home_account_id: home_account_id.into(),
            tenant_id: tenant_id.into(),
            username: username.into(),
        }
    }

    /// The authority host that issued the sign-in, e.g. `login.microsoftonline.com`.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The client (application) id the user signed in to.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The home account id, `<uid>.<utid>` (or the `sub` claim for ADFS).
    #[must_use]
    pub fn home_account_id(&self) -> &str {
        &self.home_account_id
    }

    /// The tenant that issued the sign-in (the user's home tenant for `organizations`).
    #[must_use]
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The user's name, e.g. `alice@contoso.com`.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The record as JSON, byte for byte what Python's `AuthenticationRecord.serialize()`
    /// writes for the same values.
    #[must_use]
    pub fn serialize(&self) -> String {
        let fields = [
            ("authority", self.authority.as_str()),
            ("clientId", &self.client_id),
            ("homeAccountId", &self.home_account_id),
            ("tenantId", &self.tenant_id),
            ("username", &self.username),
            ("version", RECORD_VERSION),
        ];
        let mut out = String::with_capacity(256);
        out.push('{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_python_json_string(&mut out, key);
            out.push_str(": ");
            push_python_json_string(&mut out, value);
        }
        out.push('}');
        out
    }

    /// Reads a record written by [`serialize`](Self::serialize) or by any Azure SDK.
    ///
    /// # Errors
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) when the text is not a JSON
    /// object, when `version` is missing or not `"1.0"` (the message names the version found
    /// and the supported one, as Python's does), or when a field is missing or not a string.
    /// Extra keys are ignored.
    pub fn deserialize(data: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(data).map_err(|e| {
            Error::invalid_argument(
                "The authentication record is not valid JSON. Pass the text that \
                 AuthenticationRecord::serialize wrote.",
            )
            .with_source(e)
        })?;
        Self::from_value(value)
    }

    fn from_value(value: Value) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(Error::invalid_argument(
                "The authentication record must be a JSON object. Pass the text that \
                 AuthenticationRecord::serialize wrote.",
            ));
        };
        let version = match map.get("version") {
            Some(Value::String(v)) => v.clone(),
            Some(other) => other.to_string(),
            None => "None".to_owned(),
        };
        if version != RECORD_VERSION {
            return Err(Error::invalid_argument(format!(
                "Unexpected version \"{version}\". This package supports these versions: \
                 {{'{RECORD_VERSION}'}}"
            )));
        }
        Ok(Self {
            authority: field(&map, "authority")?,
            client_id: field(&map, "clientId")?,
            home_account_id: field(&map, "homeAccountId")?,
            tenant_id: field(&map, "tenantId")?,
            username: field(&map, "username")?,
        })
    }
}

/// The shared JSON ([`serialize`](AuthenticationRecord::serialize)).
impl std::fmt::Display for AuthenticationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.serialize())
    }
}

/// Reads the shared JSON ([`deserialize`](AuthenticationRecord::deserialize)).
impl std::str::FromStr for AuthenticationRecord {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::deserialize(s)
    }
}

/// The same fields, names and order as [`serialize`](AuthenticationRecord::serialize), `version`
/// included, so a record embedded in a larger serde document is the shared JSON.
impl serde::Serialize for AuthenticationRecord {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("AuthenticationRecord", 6)?;
        s.serialize_field("authority", &self.authority)?;
        s.serialize_field("clientId", &self.client_id)?;
        s.serialize_field("homeAccountId", &self.home_account_id)?;
        s.serialize_field("tenantId", &self.tenant_id)?;
        s.serialize_field("username", &self.username)?;
        s.serialize_field("version", RECORD_VERSION)?;
        s.end()
    }
}

/// Reads what [`Serialize`](serde::Serialize) writes, with the checks of
/// [`deserialize`](AuthenticationRecord::deserialize) (version, string fields).
impl<'de> serde::Deserialize<'de> for AuthenticationRecord {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

fn field(map: &Map<String, Value>, key: &str) -> Result<String> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::invalid_argument(format!(
            "The authentication record's \"{key}\" must be a string."
        ))),
        None => Err(Error::invalid_argument(format!(
            "The authentication record has no \"{key}\". Pass the text that \
             AuthenticationRecord::serialize wrote."
        ))),
    }
}

/// Appends `s` as a JSON string the way Python's `json.dumps` writes it by default
/// (`ensure_ascii=True`): short escapes for `"` `\` and `\b\f\n\r\t`, `\u00XX` for other
/// control characters, and `\uXXXX` (UTF-16 units, lower-case hex) for everything non-ASCII.
fn push_python_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuthenticationRecord {
        AuthenticationRecord::new(
            "tid",
            "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "login.microsoftonline.com",
            "oid.tid",
            "alice@contoso.com",
        )
    }

    #[test]
    fn serializes_exactly_like_python() {
        // The text Python azure-identity 1.27 writes for the same record.
        let python = r#"{"authority": "login.microsoftonline.com", "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "homeAccountId": "oid.tid", "tenantId": "tid", "username": "alice@contoso.com", "version": "1.0"}"#;
        assert_eq!(sample().serialize(), python);
        assert_eq!(AuthenticationRecord::deserialize(python).unwrap(), sample());
    }

    #[test]
    fn exact_key_set() {
        let value: Value = serde_json::from_str(&sample().serialize()).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "authority",
                "clientId",
                "homeAccountId",
                "tenantId",
                "username",
                "version"
            ]
        );
    }

    #[test]
    fn round_trip_keeps_every_property_including_non_ascii() {
        let record = AuthenticationRecord::new("t", "c", "a", "h", "zoë\"😀\\\n@contoso.com");
        let json = record.serialize();
        assert!(json.is_ascii(), "{json}");
        // Python escapes non-ASCII as UTF-16 units.
        assert!(json.contains(r#"zo\u00eb\"\ud83d\ude00\\\n@"#), "{json}");
        let back = AuthenticationRecord::deserialize(&json).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.username(), "zoë\"😀\\\n@contoso.com");
        assert_eq!(back.tenant_id(), "t");
        assert_eq!(back.client_id(), "c");
        assert_eq!(back.authority(), "a");
        assert_eq!(back.home_account_id(), "h");
    }

    #[test]
    fn reads_compact_json_and_ignores_extra_keys() {
        let json = r#"{"username":"u","tenantId":"t","homeAccountId":"h","clientId":"c","authority":"a","version":"1.0","extra":[1]}"#;
        let r = AuthenticationRecord::deserialize(json).unwrap();
        assert_eq!(r, AuthenticationRecord::new("t", "c", "a", "h", "u"));
    }

    #[test]
    fn unknown_or_missing_version_is_a_clear_error() {
        let json = sample().serialize().replace("\"1.0\"", "\"42\"");
        let err = AuthenticationRecord::deserialize(&json).unwrap_err();
        assert!(err.is_invalid_argument());
        assert_eq!(
            err.message(),
            "Unexpected version \"42\". This package supports these versions: {'1.0'}"
        );
        let json = r#"{"authority": "a", "clientId": "c", "homeAccountId": "h", "tenantId": "t", "username": "u"}"#;
        let err = AuthenticationRecord::deserialize(json).unwrap_err();
        assert!(err.message().contains("\"None\""), "{err}");
        assert!(err.message().contains("'1.0'"), "{err}");
    }

    #[test]
    fn missing_fields_and_garbage_are_errors_not_panics() {
        let json = r#"{"authority": "a", "clientId": "c", "tenantId": "t", "username": "u", "version": "1.0"}"#;
        let err = AuthenticationRecord::deserialize(json).unwrap_err();
        assert!(err.message().contains("homeAccountId"), "{err}");
        for bad in [
            "",
            "null",
            "[]",
            "{",
            "\"x\"",
            r#"{"version": "1.0", "authority": 5}"#,
        ] {
            let err = AuthenticationRecord::deserialize(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_display_and_from_str_give_the_shared_json() {
        let record = AuthenticationRecord::from_parts(RecordParts {
            authority: "login.microsoftonline.com".into(),
            client_id: "c".into(),
            home_account_id: "uid.utid".into(),
            tenant_id: "t".into(),
            username: "zoë@contoso.com".into(),
        });
        let shared: Value = serde_json::from_str(&record.serialize()).unwrap();
        assert_eq!(serde_json::to_value(&record).unwrap(), shared);
        // The same keys in the same order as `serialize` writes them.
        let order = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            order(&serde_json::to_value(&record).unwrap()),
            order(&shared)
        );
        let back: AuthenticationRecord = serde_json::from_value(shared).unwrap();
        assert_eq!(back, record);
        assert_eq!(record.to_string(), record.serialize());
        assert_eq!(
            record.to_string().parse::<AuthenticationRecord>().unwrap(),
            record
        );
        // The checks of `deserialize` apply to serde too.
        let err =
            serde_json::from_str::<AuthenticationRecord>(r#"{"version": "2.0"}"#).unwrap_err();
        assert!(err.to_string().contains("Unexpected version"), "{err}");
        assert!(
            "not json"
                .parse::<AuthenticationRecord>()
                .unwrap_err()
                .is_invalid_argument()
        );
    }
}
