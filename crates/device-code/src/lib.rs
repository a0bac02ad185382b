//! `DeviceCodeCredential` for Microsoft Entra ID: the user signs in on another device by
//! entering a short code at `https://microsoft.com/devicelogin` (the device authorization
//! grant, RFC 8628), for SSH sessions, containers, Codespaces and any machine without a
//! browser. The Rust counterpart of Python's `azure.identity.DeviceCodeCredential`, built on
//! the same shared layer as `InteractiveBrowserCredential` ([`entra_public_client`]): the
//! same cache, record, tenant rules, CAE and single-flight.
//!
//! ```no_run
//! use entra_core::TokenCredential;
//! use entra_device_code::{DeviceCodeCredential, DeviceCodeCredentialOptions};
//!
//! # async fn run() -> entra_core::Result<()> {
//! let credential = DeviceCodeCredential::new(
//!     DeviceCodeCredentialOptions::default().with_prompt_callback(|info| {
//!         eprintln!("Open {} and enter the code {}", info.verification_uri, info.user_code);
//!     }),
//! )?;
//! // The first call shows the code and waits for the user; later calls use the cache.
//! let token = credential
//!     .get_token(&["https://management.azure.com/.default"], None)
//!     .await?;
//! println!("expires on {}", token.expires_on);
//! # Ok(()) }
//! ```

// docs.rs (`--cfg docsrs`): mark the items a feature or a platform brings.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod credential;
mod options;
mod step;

pub use credential::DeviceCodeCredential;
pub use entra_public_client::AuthenticateOptions;
pub use options::DeviceCodeCredentialOptions;
pub use step::{
    DeviceCodeInfo, DeviceCodeStep, PollTimer, PromptCallback, TokioTimer, print_to_stderr,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
