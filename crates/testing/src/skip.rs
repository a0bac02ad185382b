//! One rule for tests whose requirement (a keyring, Python, Chromium) is missing: outside CI
//! they say why they are skipped; in CI they fail.

/// Whether this runs in CI: `CI` set to anything but empty, `false` or `0` (GitHub Actions,
/// GitLab and `.ci/run` set `CI=true`).
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A test's requirement is missing: in CI this panics with `reason` (the requirement is
/// installed there, so its absence is a failure); elsewhere, and under Wine (where the
/// Linux run's requirements are not, by design), it prints `skipped: <reason>` so the skip is
/// visible in the test output. Call it, then `return` from the test.
///
/// ```
/// fn needs_python() -> Result<(), String> { Err("python3 not found".into()) }
/// # if entra_testing::in_ci() { return; }
/// if let Err(reason) = needs_python() {
///     entra_testing::skip_or_fail(&reason);
///     return;
/// }
/// ```
///
/// # Panics
/// In CI, always.
pub fn skip_or_fail(reason: &str) {
    // Under Wine a requirement of the Linux run (Python, a keyring, kubectl) is not there by
    // design: the Linux run has it, so this one says so and skips.
    if under_wine() {
        println!("skipped under Wine: {reason}");
        return;
    }
    assert!(!in_ci(), "required in CI: {reason}");
    println!("skipped: {reason}");
}

/// The environment variable the Wine runner of `cargo xtask` sets for the Windows build's
/// tests.
pub const UNDER_WINE_ENV: &str = "ENTRA_UNDER_WINE";

/// Whether this test runs as a Windows program under Wine (`cargo xtask test`'s Windows step
/// sets [`UNDER_WINE_ENV`]). Only what Wine cannot run is skipped there, with the reason: a
/// real Chromium, and `cargo` itself.
#[must_use]
pub fn under_wine() -> bool {
    cfg!(windows) && std::env::var_os(UNDER_WINE_ENV).is_some()
}

/// Skips a test Wine cannot run, saying why (also in CI: the Linux run covers it).
///
/// ```
/// if entra_testing::skip_under_wine("a real Chromium does not run under Wine") {
///     return;
/// }
/// ```
pub fn skip_under_wine(reason: &str) -> bool {
    if under_wine() {
        println!("skipped under Wine: {reason}");
        return true;
    }
    false
}
