//! One rule for tests whose requirement (a keyring, Python, Chromium) is missing: outside CI
//! they say why they are skipped; in CI they fail.

/// Whether this runs in CI: `CI` set to anything but empty, `false` or `0` (GitHub Actions,
/// GitLab and `.ci/run` set `CI=true`).
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A test's requirement is missing: in CI this panics with `reason` (the requirement is
/// installed there, so its absence is a failure); elsewhere it prints `skipped: <reason>` so
/// the skip is visible in the test output. Call it, then `return` from the test.
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
    assert!(!in_ci(), "required in CI: {reason}");
    println!("skipped: {reason}");
}
