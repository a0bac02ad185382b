//! Integration tests of `InteractiveBrowserCredential` against `entra-testing`'s mock Entra ID
//! and headless browser stand-in (everything on 127.0.0.1).

// Tests may unwrap (CONTRIBUTING); helpers outside `#[test]` functions need it said.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/attack_first.rs"]
mod attack_first;
mod attacks;
mod both;
mod common;
mod concurrency;
mod errors;
mod junk;
mod msal_python;
mod paste;
mod shared_cache;
mod signin;
