//! Temporary crate root while the siblings are written.
#![allow(dead_code, missing_docs, unreachable_pub)]

mod browser;
mod front;
mod options;
mod redirect;
mod server;
mod tenant;

pub use browser::{PrintUrlOpener, SystemBrowser};
pub use options::{InteractiveBrowserCredentialOptions, ResponseMode};
pub struct InteractiveBrowserCredential;
impl InteractiveBrowserCredential { pub fn new() {} pub fn authenticate() {} }

#[cfg(feature = "azure_core")]
pub mod azure_core;
