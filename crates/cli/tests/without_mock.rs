//! The `entra` binary built without the `mock` feature (what `cargo install` gives): `--mock`
//! is refused with how to get it, before anything else runs.
#![cfg(not(feature = "mock"))]

use std::process::Command;

#[test]
fn mock_needs_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_entra"))
        .args([
            "get-token",
            "--mock",
            "--scope",
            "https://graph.microsoft.com/.default",
        ])
        .env("ENTRA_TOKEN_CACHE_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features mock"), "{stderr}");
    assert!(out.stdout.is_empty());
}
