//! Integration tests of entra-msal-lite: the async wrappers against a mockito server on
//! 127.0.0.1, the whole authorization-code flow, and property tests of every parser.

// Helpers outside #[test] functions unwrap too: a failing helper must fail its test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(all(feature = "http", feature = "certificate"))]
mod app_token;
mod client;
mod flow;
mod props;
mod resolver;
mod support;
