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
//! Layout:
//! - [`Authority`], [`AuthorityHost`], [`AuthorityOptions`]: parsing and canonicalisation
//!   (https only unless the test-only
//!   [`danger_allow_insecure_http`](AuthorityOptions::danger_allow_insecure_http)),
//!   `AZURE_AUTHORITY_HOST` ([`authority_host_from_env`]).
//! - [`known_cloud`], [`aliases`], [`default_arm_scope`]: built-in metadata of the clouds
//!   MSAL trusts.
//! - [`Endpoints`], [`EndpointResolver`]: derived endpoints for known clouds; instance
//!   discovery and OpenID configuration (issuer-checked, cached, single-flight) otherwise.
//! - [`AuthCodeFlow`], [`build_authorize_url`], [`AuthCodeGrant`], [`RefreshGrant`],
//!   [`TokenRequest`]: request building with no I/O.
//! - [`TokenClient`]: the async sender (timeout, size cap, retries with `Retry-After`).
//! - [`parse_token_response`], [`TokenResponse`], [`ClientInfo`]: response parsing.
//! - [`decode_id_token`], [`IdTokenValidation`], [`Account`], [`authentication_record`]:
//!   ID token checks and the signed-in account.
//! - [`MsalError`]: typed errors, convertible into [`entra_core::Error`].

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authority;
mod challenge;
mod claims;
#[cfg(feature = "http")]
mod client;
mod cloud;
mod device_code;
mod endpoints;
mod error;
mod flight;
mod id_token;
mod pkce;
mod request;
#[cfg(feature = "http")]
mod resolver;
mod response;

// The public interface is:
pub use authority::{
    AZURE_AUTHORITY_HOST, Authority, AuthorityHost, AuthorityKind, AuthorityOptions,
    authority_host_env_value, authority_host_from_env, authority_host_from_value,
};
pub use challenge::{claims_from_challenge, tenant_from_challenge};
pub use claims::{CAE_CAPABILITIES, merge_client_capabilities};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use client::{RetryPolicy, TokenClient, TokenClientOptions};
pub use cloud::{
    CloudMetadata, KNOWN_CLOUDS, aliases, default_arm_scope, is_known_host, known_cloud,
    preferred_cache_host,
};
pub use device_code::{
    DEFAULT_POLL_INTERVAL, DEVICE_CODE_GRANT_TYPE, DeviceCode, DeviceCodeGrant,
    device_code_endpoint, device_code_request, parse_device_code,
};
pub use endpoints::{
    AliasGroup, EndpointSource, Endpoints, INSTANCE_DISCOVERY_ENDPOINT, InstanceDiscovery,
    cache_environments, instance_discovery_url, issuer_matches_authority, openid_configuration_url,
    parse_instance_discovery, parse_openid_configuration,
};
/// The secret type of this crate's grants and responses, re-exported from `entra-core`.
pub use entra_core::Secret;
pub use error::{IdTokenProblem, MsalError, Result};
pub use flight::SingleFlight;
pub use id_token::{
    Account, ID_TOKEN_CLOCK_SKEW, IdTokenClaims, IdTokenValidation, authentication_record,
    decode_id_token,
};
pub use pkce::{Pkce, new_nonce, new_state, s256_challenge};
#[cfg(feature = "certificate")]
#[cfg_attr(docsrs, doc(cfg(feature = "certificate")))]
pub use request::ClientCertificate;
pub use request::{
    AuthCodeFlow, AuthCodeGrant, AuthorizeParams, AuthorizeUrl, CLIENT_ASSERTION_TYPE, CLIENT_SKU,
    ClientCredential, ClientCredentialsGrant, ONE_TIME_QUERY_PARAMS, PERSONAL_QUERY_PARAMS,
    RESERVED_SCOPES, RefreshGrant, ResponseMode, TokenRequest, build_authorize_url, check_scopes,
    decorate_scopes, standard_headers, state_matches,
};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use resolver::EndpointResolver;
pub use response::{
    ClientInfo, TokenResponse, parse_error_body, parse_retry_after, parse_token_response,
};

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
