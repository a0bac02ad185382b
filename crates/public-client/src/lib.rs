//! The public-client layer that every interactive Entra ID credential shares, as MSAL's
//! `PublicClientApplication` and azidentity's `publicClient` do: option resolution (authority
//! and `AZURE_AUTHORITY_HOST`, tenant, client id, record, allowed tenants), the HTTP client and
//! endpoints built only when a request is about to be sent, the plain and CAE cache
//! partitions, a lock-free front map with single-flight, silent acquisition (candidate realms,
//! refresh tokens, `refresh_on`) and one function that completes any grant's response into
//! the cache, the account and an [`AuthenticationRecord`](entra_core::AuthenticationRecord).
//!
//! A credential supplies only its [`InteractiveStep`] (open a browser, show a device code):
//!
//! ```
//! use std::sync::Arc;
//!
//! use entra_core::{AccessTokenInfo, Result, TokenCredential, TokenRequestOptions};
//! use entra_public_client::{InteractiveStep, PublicClient, PublicClientOptions, StepContext, StepOutcome};
//!
//! /// The user-facing part of a credential.
//! #[derive(Debug)]
//! struct MyStep;
//!
//! #[async_trait::async_trait]
//! impl InteractiveStep for MyStep {
//!     fn credential_name(&self) -> &'static str {
//!         "MyCredential"
//!     }
//!
//!     async fn sign_in(&self, ctx: &StepContext<'_>) -> Result<StepOutcome> {
//!         // Run a grant against ctx.endpoints with ctx.client, e.g. a device code flow.
//!         let _ = (ctx.scopes, ctx.endpoints.token_endpoint.as_str());
//!         Err(entra_core::Error::credential_unavailable("not implemented in this example"))
//!     }
//! }
//!
//! /// A credential: a newtype over the shared layer with its step, forwarding in one line
//! /// per method (inherent, so that both `TokenCredential` traits in scope stay unambiguous).
//! #[derive(Debug)]
//! pub struct MyCredential(PublicClient<MyStep>);
//!
//! impl MyCredential {
//!     pub async fn get_token_info(
//!         &self,
//!         scopes: &[&str],
//!         options: Option<TokenRequestOptions>,
//!     ) -> Result<AccessTokenInfo> {
//!         self.0.get_token_info(scopes, options).await
//!     }
//! }
//!
//! let credential = MyCredential(PublicClient::new(PublicClientOptions::new(), MyStep)?);
//! // `PublicClient<S>` is itself a `TokenCredential`:
//! let shared: Arc<dyn TokenCredential> = Arc::new(PublicClient::new(
//!     PublicClientOptions::new(),
//!     MyStep,
//! )?);
//! # let _ = (Arc::new(credential), shared);
//! # Ok::<(), entra_core::Error>(())
//! ```

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "azure_core")]
pub mod azure_core;
mod client;
mod front;
mod help;
mod macros;
mod options;
mod step;
mod tenant;

/// Re-exported so that implementing [`InteractiveStep`] (an `#[async_trait]` trait) needs no
/// dependency of your own: write `#[entra_public_client::async_trait]` on the impl.
pub use async_trait::async_trait;
pub use client::PublicClient;
pub use help::{TROUBLESHOOTING, decorate, troubleshooting_anchor};
#[doc(hidden)]
pub use macros::__reexport;
pub use options::{AuthenticateOptions, HttpClientFactory, PublicClientOptions};
pub use step::{InteractiveStep, StepContext, StepOutcome, timed_out};
pub use tenant::DISABLE_MULTITENANT_ENV;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
