//! Core types for Microsoft Entra ID credentials: access tokens, secrets, errors, the
//! [`TokenCredential`] trait and the [`AuthenticationRecord`]. No I/O, few dependencies, and a
//! promise to change rarely, so that SDKs can depend on this crate alone.
//!
//! ```
//! use entra_core::{AccessTokenInfo, AuthenticationRecord, Error, ErrorKind, Secret};
//! use time::{Duration, OffsetDateTime};
//!
//! // Token strings are secrets: formatting never shows them.
//! let info = AccessTokenInfo::new("eyJ0eXAi...", OffsetDateTime::now_utc() + Duration::hours(1));
//! assert!(!format!("{info:?}").contains("eyJ0eXAi"));
//!
//! // Records round-trip through the JSON every Azure SDK language reads.
//! let record = AuthenticationRecord::deserialize(
//!     r#"{"authority": "login.microsoftonline.com", "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
//!         "homeAccountId": "uid.utid", "tenantId": "utid", "username": "alice@contoso.com", "version": "1.0"}"#,
//! )?;
//! assert_eq!(record.username(), "alice@contoso.com");
//!
//! // Errors carry a kind to match on.
//! let err = Error::authentication_required(&["https://graph.microsoft.com/.default"], None);
//! assert!(matches!(err.kind(), ErrorKind::AuthenticationRequired { .. }));
//! # Ok::<(), entra_core::Error>(())
//! ```
//!
//! The crates above this one: `entra-msal-lite` (authorities and the token endpoint),
//! `entra-cache` (the MSAL token cache), `entra-browser-flow` (`InteractiveBrowserCredential`),
//! `entra-testing` (a mock Entra ID for tests).

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "azure_core")]
pub mod azure_core;
mod browser;
mod chain;
mod credential;
mod error;
mod record;
mod secret;
mod terminal;
mod token;
mod validate;

// The public interface is:
/// Re-exported so that implementing [`TokenCredential`] (an `#[async_trait]` trait whose
/// tokens expire at a [`time::OffsetDateTime`]) needs neither crate as a dependency of your own:
/// write `#[entra_core::async_trait]` on the impl, and use `entra_core::time`.
pub use async_trait::async_trait;
pub use browser::{BrowserOpenError, BrowserOpener};
pub use chain::{ChainAttempts, ChainedTokenCredential};
pub use credential::TokenCredential;
pub use error::{Error, ErrorKind, ErrorResponse, Reason, Result};
pub use record::{AuthenticationRecord, RECORD_VERSION, RecordParts};
pub use secret::{Secret, constant_time_eq};
pub use terminal::{Untrusted, is_unsafe_for_terminal, terminal_safe};
/// The `time` crate this one's types use (`OffsetDateTime`, `Duration`), re-exported.
pub use time;
pub use token::{AccessToken, AccessTokenInfo, TokenRequestOptions};
pub use validate::{
    AzureAuthorityHosts, DEVELOPER_SIGN_ON_CLIENT_ID, validate_scopes, validate_tenant_id,
};

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
