//! The shared layer on its own, against the mock Entra ID, with a step that involves no
//! browser (a device code the user approves before the first poll): what every credential
//! gets from `PublicClient<S>`. The silent path, tenants, single-flight and the persistent
//! cache are tested here once, not per credential.

// Tests may unwrap (CONTRIBUTING); helpers outside `#[test]` functions need it said.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod common;
mod concurrency;
mod persistence;
mod silent;
mod tenants;
