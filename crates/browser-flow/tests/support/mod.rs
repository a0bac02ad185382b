//! Helpers shared by this crate's integration tests (each test binary uses some of them).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod capture;
pub(crate) mod chromium;
pub(crate) mod resource;
