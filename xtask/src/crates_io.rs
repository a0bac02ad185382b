//! What keeps the crates publishable as layers (issue 23): the minimum supported Rust version
//! builds everything, every feature of every crate builds alone and with none, the packages
//! pack (with their LICENSE), and the dependency tree holds only licenses we can ship with
//! MIT and one version of each crate but the exceptions `deny.toml` names (cargo-deny's
//! offline `licenses` and `bans` checks).

use std::env;
use std::process::Command;

use serde_json::Value;

use crate::{cargo, in_ci, root, run};

/// Every check, in the order a failure is cheapest to find.
pub(crate) fn check() -> Result<(), String> {
    features()?;
    deny()?;
    package()?;
    msrv()
}

/// The workspace's packages with their features (`cargo metadata`).
fn packages() -> Result<Vec<(String, Vec<String>)>, String> {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    let meta: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let mut out = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        if name == "xtask" {
            continue;
        }
        let features = package["features"]
            .as_object()
            .map(|f| {
                f.keys()
                    .filter(|k| k.as_str() != "default")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.push((name.to_owned(), features));
    }
    out.sort();
    Ok(out)
}

/// Each crate with no features, then with each feature alone (the library and binaries).
fn features() -> Result<(), String> {
    for (package, features) in packages()? {
        // No feature, then each one alone.
        for feature in std::iter::once(None).chain(features.iter().map(Some)) {
            let mut check = cargo();
            check.args([
                "check",
                "--quiet",
                "--locked",
                "--package",
                &package,
                "--no-default-features",
            ]);
            if let Some(feature) = feature {
                check.args(["--features", feature]);
            }
            run(&mut check)?;
        }
    }
    Ok(())
}

/// `cargo package` of the whole workspace: each package packs (its LICENSE included) and its
/// packed manifest builds.
fn package() -> Result<(), String> {
    for (package, _) in packages()? {
        let output = cargo()
            .args([
                "package",
                "--list",
                "--locked",
                "--allow-dirty",
                "--package",
                &package,
            ])
            .current_dir(root())
            .output()
            .map_err(|e| format!("could not run cargo package --list: {e}"))?;
        let listed = String::from_utf8_lossy(&output.stdout);
        if !listed.lines().any(|l| l == "LICENSE") {
            return Err(format!("the {package} package has no LICENSE file"));
        }
    }
    // A target directory of its own, emptied first: cargo never rebuilds a registry package
    // of an unchanged version, so a verification could link an earlier run's build of ours.
    forget_packed_workspace_crates();
    let dir = root().join("target/package-check");
    let _ = std::fs::remove_dir_all(&dir);
    run(cargo()
        .args([
            "package",
            "--workspace",
            "--locked",
            "--allow-dirty",
            "--exclude",
            "xtask",
        ])
        .env("CARGO_TARGET_DIR", &dir))
}

/// Removes cargo's extracted copies of our own packages from an earlier `cargo package`: their
/// version does not change between runs, so cargo would verify against the stale copy (a fresh
/// machine has none). Only `entra-*` packages, which never come from crates.io here.
fn forget_packed_workspace_crates() {
    let home = env::var_os("CARGO_HOME").map_or_else(
        || env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")),
        |h| Some(h.into()),
    );
    let Some(home) = home else { return };
    for kind in ["src", "cache"] {
        let Ok(registries) = std::fs::read_dir(home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            let Ok(entries) = std::fs::read_dir(registry.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("entra-") {
                    let path = entry.path();
                    let _ = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                }
            }
        }
    }
}

/// The workspace's `rust-version`.
fn rust_version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .map_err(|e| format!("could not read Cargo.toml: {e}"))?;
    manifest
        .lines()
        .find_map(|l| {
            let value = l.trim().strip_prefix("rust-version")?.trim_start();
            Some(value.strip_prefix('=')?.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| "Cargo.toml names no rust-version".to_owned())
}

/// `cargo +<rust-version> check` of every target and feature, in its own target directory;
/// the toolchain is installed by rustup when missing (a minimal profile).
fn msrv() -> Result<(), String> {
    let version = rust_version()?;
    let installed = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.starts_with(&format!("{version}-")))
    {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            &version,
            "--profile",
            "minimal",
        ]))?;
    }
    let toolchain = format!("+{version}");
    run(Command::new("cargo")
        .args([
            toolchain.as_str(),
            "check",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
        ])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("CARGO_TARGET_DIR", root().join("target/msrv")))
}

/// cargo-deny's offline checks; `.ci/run` installs it (`cargo install --locked cargo-deny`).
fn deny() -> Result<(), String> {
    let tool = root().join("target/tools/bin/cargo-deny");
    let mut command = if tool.is_file() {
        let mut c = Command::new(tool);
        c.arg("deny");
        c
    } else if crate::on_path("cargo-deny") {
        let mut c = cargo();
        c.arg("deny");
        c
    } else if in_ci() {
        return Err(
            "cargo-deny is missing: cargo install --locked --root target/tools cargo-deny"
                .to_owned(),
        );
    } else {
        eprintln!("xtask: skipped the license and duplicate check: cargo-deny is not installed");
        return Ok(());
    };
    run(command.args(["--offline", "--locked", "check", "licenses", "bans"]))
}
