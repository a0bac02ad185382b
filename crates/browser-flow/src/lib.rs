//! `InteractiveBrowserCredential` for Microsoft Entra ID: signs a user in through the system
//! browser (authorization code flow with PKCE, redirect received on a loopback server), then
//! serves tokens silently from its cache and refresh tokens. The Rust counterpart of Python's
//! `azure.identity.InteractiveBrowserCredential`, with every keyword and method.
//!
//! ```no_run
//! use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
//! use entra_core::{TokenCredential, TokenRequestOptions};
//!
//! # async fn run() -> entra_core::Result<()> {
//! let credential = InteractiveBrowserCredential::new(
//!     InteractiveBrowserCredentialOptions::default().with_tenant_id("contoso.onmicrosoft.com"),
//! )?;
//!
//! // The first call opens the browser; later calls are served from the cache.
//! let token = credential
//!     .get_token(&["https://management.azure.com/.default"], None)
//!     .await?;
//! println!("expires on {}", token.expires_on);
//!
//! // Save the record to sign in silently in a later process (with a persistent cache).
//! let record = credential.authentication_record().expect("signed in");
//! std::fs::write("record.json", record.serialize()).expect("writable");
//!
//! // Per-request options: tenant, claims challenge, continuous access evaluation.
//! let options = TokenRequestOptions::default().with_enable_cae(true);
//! let _ = credential
//!     .get_token_info(&["https://graph.microsoft.com/.default"], Some(options))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Construction validates everything and does no I/O:
//!
//! ```
//! use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
//!
//! let err = InteractiveBrowserCredential::new(
//!     InteractiveBrowserCredentialOptions::default().with_redirect_uri("http://localhost"),
//! )
//! .unwrap_err();
//! assert!(err.is_invalid_argument());
//! assert_eq!(
//!     err.to_string(),
//!     "InteractiveBrowserCredential: \"redirect_uri\" must be a URL with port number, for \
//!      example \"http://localhost:8400\""
//! );
//! ```
//!
//! How it works, and where it differs from Python on purpose, is documented on
//! [`InteractiveBrowserCredential`]. The seams: [`BrowserOpener`](entra_core::BrowserOpener)
//! (default [`SystemBrowser`]; [`PrintUrlOpener`] for machines without one), the cache backend
//! ([`entra_cache::CacheBackend`]) and the `reqwest::Client` used for every request.

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "azure_core")]
pub mod azure_core;
mod browser;
mod credential;
mod error;
mod options;
mod paste;
mod peer;
mod redirect;
mod redirect_uri;
mod server;

// The public interface is:
pub use browser::{PrintUrlOpener, SystemBrowser};
pub use credential::InteractiveBrowserCredential;
pub use entra_cache::TokenCachePersistenceOptions;
pub use entra_msal_lite::{request::ONE_TIME_QUERY_PARAMS, request::ResponseMode};
pub use entra_public_client::AuthenticateOptions;
pub use error::{BrowserFlowError, PasteError};
pub use options::{DEFAULT_TIMEOUT, InteractiveBrowserCredentialOptions, Prompt};
pub use paste::{PasteFromStdin, PasteRedirect};

/// The README's examples, compiled as doctests (they use the `azure_core` feature too).
#[cfg(all(doctest, feature = "azure_core"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
