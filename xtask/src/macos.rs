//! The macOS build, checked without a Mac: clippy `-D warnings` for `x86_64-apple-darwin` on
//! the crates that hold the macOS code (the Keychain store and the cache's platform choice in
//! `entra-cache`, and `entra-core` under it).
//!
//! The crates above them cannot be checked here: their TLS stack (`aws-lc-sys`, through
//! rustls and reqwest) compiles C for the target in its build script, which needs Apple's
//! toolchain and SDK (`cc: unrecognized option -arch`). Needs the target's standard library
//! (`rustup target add x86_64-apple-darwin`; `.ci/run` adds it).

use crate::{cargo, in_ci, run, target_installed};

/// The macOS target.
const TARGET: &str = "x86_64-apple-darwin";
/// The crates whose library code is checked for macOS.
const CHECKED: [&str; 2] = ["entra-core", "entra-cache"];

/// Clippy for macOS, or a printed reason to skip (an error in CI).
pub(crate) fn check() -> Result<(), String> {
    if !target_installed(TARGET) {
        let what = format!("the {TARGET} target (rustup target add {TARGET})");
        if in_ci() {
            return Err(format!("the macOS check needs {what}"));
        }
        eprintln!("xtask: skipped the macOS check: {what} is missing");
        return Ok(());
    }
    let mut clippy = cargo();
    clippy.args(["clippy", "--target", TARGET, "--locked"]);
    for package in CHECKED {
        clippy.args(["--package", package]);
    }
    clippy.args(["--", "-D", "warnings"]);
    run(&mut clippy)
}
