//! For tests only: a mock Microsoft Entra ID server ([`MockEntra`]) and a headless browser
//! stand-in ([`HeadlessBrowser`]). The API may change between releases.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> { sign_in_against_the_mock().await }
//! use base64::Engine;
//! use base64::engine::general_purpose::URL_SAFE_NO_PAD;
//! use entra_testing::{Endpoint, MockEntra};
//! use sha2::{Digest, Sha256};
//!
//! // In your tests this function carries `#[tokio::test]`.
//! async fn sign_in_against_the_mock() -> Result<(), Box<dyn std::error::Error>> {
//!     let mock = MockEntra::start().await?; // HTTPS on 127.0.0.1, OS-chosen port
//!     let client = mock.http_client(); // trusts the mock's CA, no proxy, no redirects
//!
//!     // What a browser does: GET the authorize URL; the mock signs the default user in and
//!     // redirects (response_mode=query) to the loopback redirect URI with a code.
//!     let verifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
//!     let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
//!     let redirect_uri = "http://localhost:8400";
//!     let scope = "https://graph.microsoft.com/.default openid profile offline_access";
//!     let authorize = client
//!         .get(format!("{}/organizations/oauth2/v2.0/authorize", mock.base_url()))
//!         .query(&[
//!             ("client_id", entra_core::DEVELOPER_SIGN_ON_CLIENT_ID),
//!             ("response_type", "code"),
//!             ("redirect_uri", redirect_uri),
//!             ("scope", scope),
//!             ("state", "s1"),
//!             ("nonce", "n1"),
//!             ("code_challenge", &challenge),
//!             ("code_challenge_method", "S256"),
//!             ("client_info", "1"),
//!         ])
//!         .send()
//!         .await?;
//!     assert_eq!(authorize.status(), 302);
//!     let location = url::Url::parse(authorize.headers()["location"].to_str()?)?;
//!     let code = location.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
//!
//!     // What the credential does next: redeem the code with the PKCE verifier.
//!     let tokens: serde_json::Value = client
//!         .post(format!("{}/organizations/oauth2/v2.0/token", mock.base_url()))
//!         .form(&[
//!             ("grant_type", "authorization_code"),
//!             ("client_id", entra_core::DEVELOPER_SIGN_ON_CLIENT_ID),
//!             ("code", code.as_deref().unwrap_or_default()),
//!             ("redirect_uri", redirect_uri),
//!             ("code_verifier", verifier),
//!             ("scope", scope),
//!             ("client_info", "1"),
//!         ])
//!         .send()
//!         .await?
//!         .json()
//!         .await?;
//!     let id_token = mock.verify_token(tokens["id_token"].as_str().unwrap_or_default())?;
//!     assert_eq!(id_token["nonce"], "n1");
//!     assert_eq!(id_token["preferred_username"], mock.default_user().username());
//!     assert_eq!(mock.count(Endpoint::Token), 1);
//!     Ok(())
//! }
//! ```
//!
//! # Running a credential against the mock
//!
//! Point the credential's authority host at [`MockEntra::base_url`] (or keep
//! `login.microsoftonline.com` and give it [`MockEntra::resolving_http_client`], which resolves
//! the real Entra host names to the mock over real TLS), give it [`MockEntra::http_client`]
//! and a [`HeadlessBrowser`] as its [`entra_core::BrowserOpener`], call `get_token`, then
//! assert on [`MockEntra::count`], [`MockEntra::requests`] and
//! [`HeadlessBrowser::last_outcome`] (the loopback server's answer to the redirect).
//!
//! # What the mock serves (Entra's layout)
//!
//! | path | endpoint |
//! | --- | --- |
//! | `GET /common/discovery/instance?api-version=1.0\|1.1&authorization_endpoint=...` | [`Endpoint::InstanceDiscovery`] |
//! | `GET /{tenant}/v2.0/.well-known/openid-configuration` | [`Endpoint::OpenIdConfiguration`] |
//! | `GET /{tenant}/oauth2/v2.0/authorize` | [`Endpoint::Authorize`] |
//! | `POST /{tenant}/login` (the HTML sign-in page's submit) | [`Endpoint::SignIn`] |
//! | `POST /{tenant}/oauth2/v2.0/token` | [`Endpoint::Token`] |
//! | `GET /{tenant}/discovery/v2.0/keys` | [`Endpoint::Keys`] |
//! | `/adfs/.well-known/openid-configuration`, `/adfs/oauth2/authorize`, `/adfs/oauth2/token`, `/adfs/discovery/keys` | the ADFS variant |
//!
//! Tenants: `common`, `organizations`, `consumers`, configured domains and any GUID. Issuers
//! and endpoints use the host the client sent (`Host` header); `common`/`organizations` carry
//! Entra's `{tenantid}` issuer template. The ADFS variant sends no `client_info`, and its ID
//! tokens carry `upn`/`unique_name` instead of `tid`/`oid`/`preferred_username`.
//!
//! Error codes (`AADSTS...`) are the ones Entra uses where known, and representative otherwise.
//! Not modelled: device code, client credentials, B2C/CIAM, regional endpoints, FOCI.
//!
//! mockito stays available for unit tests that stub a single request.

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod browser;
mod confidential;
mod config;
mod device_code;
mod endpoints;
mod entra_error;
mod error;
mod fault;
mod gate;
mod keys;
mod log;
mod server;
mod skip;
mod state;
mod tls;
mod tokens;
mod users;
mod util;

pub use browser::{
    BrowserBehavior, BrowserOutcome, HeadlessBrowser, HeadlessBrowserBuilder, LoopbackResponse,
};
pub use confidential::{ConfidentialApp, TestCertificate};
pub use config::{
    AuthorizeRefusal, ChallengeError, ClaimsChallenge, DEFAULT_ENTRA_HOSTS, DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID, DEFAULT_USER_OID, DEFAULT_USERNAME, MockEntraBuilder,
};
pub use endpoints::{REFUSE_HEADER, SIGN_IN_PAGE_PARAM, USER_HEADER};
pub use error::MockError;
pub use fault::{Endpoint, Fault, FaultTimes};
pub use gate::Gate;
pub use log::RecordedRequest;
pub use server::MockEntra;
pub use skip::{UNDER_WINE_ENV, in_ci, skip_or_fail, skip_under_wine, under_wine};
pub use users::{MSA_TENANT_ID, TestTenant, TestUser};

/// Installs aws-lc-rs as the process-wide crypto provider of rustls and jsonwebtoken, unless
/// one is installed already. The mock calls it on start; call it yourself before using
/// rustls or jsonwebtoken in a test that starts no mock.
pub fn install_crypto_providers() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// This crate's README example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
