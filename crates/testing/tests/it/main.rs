//! Integration tests of the mock Entra ID and the headless browser stand-in (one binary).

// Tests may unwrap (CONTRIBUTING); helpers outside #[test] functions need it said explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod discovery;
mod endpoints;
mod faults;
mod flow;
mod support;
mod tls;
mod token;
