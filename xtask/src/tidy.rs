//! Tidy checks over the whole tree, run as ordinary `#[test]`s so `cargo test` enforces them.

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use crate::root;

    /// Every `.rs` file under `crates/` and `xtask/`, skipping build output.
    fn rust_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if name != "target" && !name.to_string_lossy().starts_with('.') {
                        walk(&path, out);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&root().join("crates"), &mut out);
        walk(&root().join("xtask"), &mut out);
        assert!(out.len() > 10, "found only {} Rust files", out.len());
        out
    }

    fn crate_dirs() -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(root().join("crates"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        dirs.sort();
        dirs
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let mut missing = Vec::new();
        for file in rust_files() {
            let text = fs::read_to_string(&file).unwrap();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("#!["))
                .unwrap_or("");
            if !first.starts_with("//!") {
                missing.push(file.display().to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "files without a leading //! doc: {missing:#?}"
        );
    }

    #[test]
    fn no_ignored_or_should_panic_tests() {
        let banned = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
        let mut found = Vec::new();
        for file in rust_files() {
            let text = fs::read_to_string(&file).unwrap();
            for b in banned {
                if text.contains(b) {
                    found.push(format!("{}: {b}", file.display()));
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn every_crate_has_a_changelog_with_an_unreleased_section() {
        for dir in crate_dirs() {
            let changelog = dir.join("CHANGELOG.md");
            let text = fs::read_to_string(&changelog)
                .unwrap_or_else(|_| panic!("{} is missing", changelog.display()));
            assert!(text.contains("## Unreleased"), "{}", changelog.display());
        }
    }

    #[test]
    fn every_crate_has_a_readme_that_opens_with_an_example() {
        for dir in crate_dirs() {
            let readme = dir.join("README.md");
            let text = fs::read_to_string(&readme)
                .unwrap_or_else(|_| panic!("{} is missing", readme.display()));
            // A binary-only crate (the `entra` command) opens with how to run it instead.
            let binary_only = !dir.join("src/lib.rs").exists();
            let example = if binary_only { "```sh" } else { "```rust" };
            assert!(
                text.contains(example),
                "{} has no {example} example",
                readme.display()
            );
        }
    }

    /// The dependency lines of a manifest, each with the section it stands in (e.g.
    /// `[dependencies]`, `[dev-dependencies]`); blank lines and comments left out.
    fn dependency_lines(manifest: &Path) -> Vec<(String, String)> {
        let text = fs::read_to_string(manifest).unwrap();
        let mut section = String::new();
        let mut lines = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_owned();
            } else if section.ends_with("dependencies]")
                && !line.is_empty()
                && !line.starts_with('#')
            {
                lines.push((section.clone(), line.to_owned()));
            }
        }
        lines
    }

    #[test]
    fn third_party_versions_live_in_the_workspace_manifest() {
        // In a crate manifest, a dependency line either says `workspace = true` or is a path
        // dependency on a sibling; a version written there would drift from the workspace's.
        for dir in crate_dirs().into_iter().chain([root().join("xtask")]) {
            let manifest = dir.join("Cargo.toml");
            for (section, line) in dependency_lines(&manifest) {
                assert!(
                    line.contains("workspace = true") || line.contains("path = "),
                    "{}: `{line}` in {section} should use `workspace = true`",
                    manifest.display()
                );
            }
        }
    }

    #[test]
    fn library_crates_never_depend_on_the_testing_crate() {
        for dir in crate_dirs() {
            for (section, line) in dependency_lines(&dir.join("Cargo.toml")) {
                // The `entra` command may carry the mock behind its opt-in `mock` feature.
                let opt_in = dir.ends_with("cli") && line.contains("optional = true");
                assert!(
                    section != "[dependencies]" || !line.starts_with("entra-testing") || opt_in,
                    "{} depends on entra-testing outside [dev-dependencies]",
                    dir.display()
                );
            }
        }
    }

    /// The repository paths a Markdown text names in backticks (`crates/...`, `xtask/...`),
    /// with `{a,b}` alternatives expanded.
    fn named_paths(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for quoted in text.split('`').skip(1).step_by(2) {
            if !(quoted.starts_with("crates/") || quoted.starts_with("xtask/"))
                || quoted.contains(' ')
            {
                continue;
            }
            match (quoted.find('{'), quoted.find('}')) {
                (Some(open), Some(close)) if open < close => {
                    let (head, rest) = quoted.split_at(open);
                    let tail = &rest[close - open + 1..];
                    for choice in rest[1..close - open].split(',') {
                        out.push(format!("{head}{choice}{tail}"));
                    }
                }
                _ => out.push(quoted.to_owned()),
            }
        }
        out
    }

    /// The workspace denies `unsafe_code`; the one module that must call the OS (Windows'
    /// DPAPI) allows it, and no other may.
    #[test]
    fn unsafe_code_is_allowed_in_the_dpapi_module_only() {
        let allowed = Path::new("crates/cache/src/persistent/dpapi.rs");
        let mut found = Vec::new();
        for file in rust_files() {
            let text = std::fs::read_to_string(&file).unwrap();
            if text.contains(concat!("allow(", "unsafe_code)")) {
                found.push(file.strip_prefix(root()).unwrap_or(&file).to_path_buf());
            }
        }
        assert_eq!(
            found,
            vec![allowed.to_path_buf()],
            "unsafe code outside dpapi.rs"
        );
    }

    #[test]
    fn every_path_architecture_md_names_exists() {
        let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
        let paths = named_paths(&text);
        assert!(paths.len() > 20, "found only {} paths", paths.len());
        let missing: Vec<&String> = paths
            .iter()
            .filter(|p| !root().join(p.trim_end_matches('/')).exists())
            .collect();
        assert!(
            missing.is_empty(),
            "ARCHITECTURE.md names paths that do not exist: {missing:?}"
        );
        // The parser itself: alternatives are expanded, prose is skipped.
        assert_eq!(
            named_paths("`crates/a/{b,c}.rs` and `not/a/path` and `crates/x y`"),
            ["crates/a/b.rs", "crates/a/c.rs"]
        );
    }

    #[test]
    fn layers_point_down_only() {
        // entra-core depends on no sibling; msal-lite, cache and testing only on entra-core;
        // the public-client layer on the three below it; credentials on it and below.
        let allowed: &[(&str, &[&str])] = &[
            ("core", &[]),
            ("msal-lite", &["entra-core"]),
            ("cache", &["entra-core"]),
            ("testing", &["entra-core"]),
            (
                "public-client",
                &["entra-core", "entra-msal-lite", "entra-cache"],
            ),
            (
                "device-code",
                &[
                    "entra-core",
                    "entra-msal-lite",
                    "entra-cache",
                    "entra-public-client",
                ],
            ),
            (
                "browser-flow",
                &[
                    "entra-core",
                    "entra-msal-lite",
                    "entra-cache",
                    "entra-public-client",
                    "entra-device-code",
                ],
            ),
            // The `entra` command: the credentials, the cache (accounts, sign-out), and the
            // mock behind its opt-in feature.
            (
                "cli",
                &[
                    "entra-core",
                    "entra-cache",
                    "entra-device-code",
                    "entra-browser-flow",
                    "entra-testing",
                ],
            ),
        ];
        // Every crate has a place in the layers: a new one must be added above.
        for dir in crate_dirs() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                allowed.iter().any(|(d, _)| *d == name),
                "crates/{name} has no entry in the layer rules (xtask/src/tidy.rs)"
            );
        }
        for (dir, ok) in allowed {
            let manifest = root().join("crates").join(dir).join("Cargo.toml");
            for (section, line) in dependency_lines(&manifest) {
                // Normal dependencies, also target-specific ones; not dev-dependencies.
                let normal = section.ends_with("dependencies]") && !section.contains("dev-");
                if !normal || !line.starts_with("entra-") {
                    continue;
                }
                let name = line.split(['.', ' ', '=']).next().unwrap_or("");
                assert!(ok.contains(&name), "crates/{dir} must not depend on {name}");
            }
        }
    }
}
