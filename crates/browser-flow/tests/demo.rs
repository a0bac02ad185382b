//! `cargo xtask demo` runs the `demo` example: built here once by cargo (the only test that
//! builds an example), it must finish and show the counts it measured.

// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Builds an example (cargo is a no-op when it is fresh) and returns its path.
fn build_example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--package",
        "entra-browser-flow",
        "--example",
        name,
        "--message-format",
        "json-render-diagnostics",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .stderr(Stdio::inherit());
    // The same features and profile as this test, so nothing is rebuilt for nothing.
    if cfg!(feature = "azure_core") {
        cmd.args(["--features", "azure_core"]);
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let output = cmd.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "building the {name} example failed"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}

/// The demo must finish and its closing table must show the
/// counts it measured: a sign-in, then the cache, the refresh token, and a fresh credential
/// served from the persistent cache.
#[test]
fn the_demo_narrates_measured_counts() {
    if entra_testing::skip_under_wine(
        "it builds the demo with cargo, which does not run under Wine",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(build_example("demo"))
        .env("TMPDIR", dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("| ") && !l.starts_with("| step") && !l.starts_with("| ---"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let counts: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
    assert_eq!(
        counts,
        [
            ("interactive sign-in", "2", "1"),
            ("same scope again (cache)", "0", "0"),
            ("new scope (refresh token)", "1", "0"),
            ("fresh credential, Graph", "0", "0"),
            ("fresh credential, ARM", "0", "0"),
        ],
        "{stdout}"
    );
    // Secrets and one-time values are never printed.
    assert!(stdout.contains("state=<"), "{stdout}");
    assert!(!stdout.contains("eyJ"), "no token in the narration");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the temporary cache is removed"
    );
}
