//! Entra ID authorities, instance discovery, OpenID metadata and the token endpoint client:
//! the protocol layer any credential type (browser, device code, client secret) reuses.
//!
//! ```
//! use entra_core::Secret;
//! use entra_msal_lite::{
//!     AuthCodeFlow, Authority, AuthorizeParams, Endpoints, merge_client_capabilities,
//! };
//!
//! // Parse and canonicalise the authority; known clouds need no network request at all.
//! let authority = Authority::parse("login.microsoftonline.com/organizations")?;
//! let endpoints = Endpoints::known_cloud(&authority).expect("a known cloud");
//!
//! // Start an authorization-code flow: PKCE, state and nonce come from the OS random source.
//! let claims = merge_client_capabilities(None, true)?; // enable_cae
//! let params = AuthorizeParams::new(
//!     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
//!     "http://localhost:8400",
//!     &["https://management.azure.com/.default"],
//! )
//! .with_claims(claims.as_deref());
//! let flow = AuthCodeFlow::new(&endpoints, params)?;
//! let url = flow.authorize_url();
//! assert_eq!(
//!     url.query_param("scope").as_deref(),
//!     Some("https://management.azure.com/.default offline_access openid profile")
//! );
//! assert_eq!(url.query_param("code_challenge_method").as_deref(), Some("S256"));
//! // Secrets never show in Debug output.
//! assert!(!format!("{flow:?}").contains(flow.state().secret()));
//!
//! // After the redirect: check state, then redeem the code (pure request building here;
//! // `TokenClient::redeem_code` sends it).
//! flow.check_state(Some(flow.state().secret()))?;
//! let request = flow
//!     .redemption(Secret::new("code-from-redirect"), None)
//!     .to_request(&endpoints.token_endpoint)?;
//! assert_eq!(request.form_value("grant_type"), Some("authorization_code"));
//! assert_eq!(request.form_value("client_info"), Some("1"));
//! # Ok::<(), entra_msal_lite::MsalError>(())
//! ```
//!
//! The root holds the paved path; the rest lives in its module ([`authority`], [`cloud`],
//! [`device_code`], [`endpoints`], [`flight`], [`id_token`], [`pkce`], [`request`],
//! [`response`]). Layout:
//! - [`Authority`], [`AuthorityHost`], [`AuthorityOptions`]: parsing and canonicalisation
//!   (https only unless the test-only
//!   [`danger_allow_insecure_http`](AuthorityOptions::danger_allow_insecure_http)),
//!   `AZURE_AUTHORITY_HOST` ([`authority_host_from_env`](crate::authority::authority_host_from_env)).
//! - [`cloud`]: [`known_cloud`](cloud::known_cloud), [`aliases`](cloud::aliases),
//!   [`default_arm_scope`](cloud::default_arm_scope): built-in metadata of the clouds MSAL
//!   trusts.
//! - [`Endpoints`], [`EndpointResolver`]: derived endpoints for known clouds; instance
//!   discovery and OpenID configuration (issuer-checked, cached, single-flight) otherwise.
//! - [`AuthCodeFlow`], [`build_authorize_url`](crate::request::build_authorize_url), [`AuthCodeGrant`], [`RefreshGrant`],
//!   [`TokenRequest`]: request building with no I/O.
//! - [`TokenClient`]: the async sender (timeout, size cap, retries with `Retry-After`).
//! - [`parse_token_response`](crate::response::parse_token_response), [`TokenResponse`], [`ClientInfo`](crate::response::ClientInfo): response parsing.
//! - [`decode_id_token`](crate::id_token::decode_id_token), [`IdTokenValidation`], [`Account`], [`authentication_record`](crate::id_token::authentication_record):
//!   ID token checks and the signed-in account.
//! - [`MsalError`]: typed errors, convertible into [`entra_core::Error`].

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod authority;
mod challenge;
mod claims;
#[cfg(feature = "http")]
mod client;
pub mod cloud;
pub mod device_code;
pub mod endpoints;
mod error;
pub mod flight;
pub mod id_token;
pub mod pkce;
pub mod request;
#[cfg(feature = "http")]
mod resolver;
pub mod response;

// The paved path at the root; everything else in its module (`authority`, `cloud`,
// `device_code`, `endpoints`, `flight`, `id_token`, `pkce`, `request`, `response`).
pub use authority::{Authority, AuthorityHost, AuthorityOptions};
pub use challenge::{claims_from_challenge, tenant_from_challenge};
pub use claims::{CAE_CAPABILITIES, merge_client_capabilities};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use client::{RetryPolicy, TokenClient, TokenClientOptions};
pub use device_code::{DeviceCode, DeviceCodeGrant};
pub use endpoints::Endpoints;
/// The secret type of this crate's grants and responses, re-exported from `entra-core`.
pub use entra_core::Secret;
pub use error::{IdTokenProblem, MsalError, Result};
pub use id_token::{Account, IdTokenClaims, IdTokenValidation};
pub use pkce::Pkce;
#[cfg(feature = "certificate")]
#[cfg_attr(docsrs, doc(cfg(feature = "certificate")))]
pub use request::ClientCertificate;
pub use request::{
    AuthCodeFlow, AuthCodeGrant, AuthorizeParams, ClientCredential, ClientCredentialsGrant,
    RefreshGrant, TokenRequest,
};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use resolver::EndpointResolver;
pub use response::TokenResponse;

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
