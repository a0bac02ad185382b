//! Helpers shared by this crate's integration tests (each test binary uses some of them).
#![allow(dead_code)]

pub(crate) mod capture;
pub(crate) mod chromium;
pub(crate) mod resource;
