//! Use the credential wherever the Azure SDK for Rust takes an
//! `Arc<dyn azure_core::credentials::TokenCredential>` (cargo feature `azure_core`). The adapter
//! lives in [`entra_public_client::azure_core`], shared by every credential; it is re-exported
//! here.
//!
//! [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential) implements
//! [`azure_core::credentials::TokenCredential`] itself, so it drops into any Azure SDK client:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
//!
//! let credential = InteractiveBrowserCredential::new(
//!     InteractiveBrowserCredentialOptions::default().with_tenant_id("contoso.onmicrosoft.com"),
//! )?;
//! // Any client of the Azure SDK for Rust, e.g. Key Vault secrets:
//! // let client = azure_security_keyvault_secrets::SecretClient::new(
//! //     "https://myvault.vault.azure.net/", credential.clone(), None)?;
//! let for_the_sdk: Arc<dyn azure_core::credentials::TokenCredential> = credential.clone();
//! # let _ = for_the_sdk; Ok(()) }
//! ```
//!
//! What crosses the boundary and what does not (`refresh_on`, claims, tenant, CAE) is described
//! in [`entra_public_client::azure_core`].

pub use entra_public_client::azure_core::{
    AzureCoreCredential, ClaimsChallengeHandler, claims_challenge_of, refresh_after_challenge,
    to_azure_core_error, to_azure_core_token,
};
