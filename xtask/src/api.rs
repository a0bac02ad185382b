//! Snapshots of each library crate's public API, kept under version control in `api/`, so a
//! new `pub` item shows up in review: read from the rustdoc `cargo xtask ci` builds
//! (`--all-features`, Linux): every item of `all.html` (structs, enums, traits, functions,
//! macros, constants, types) with its inherent methods, enum variants, public fields and
//! trait methods. `cargo xtask api --bless` rewrites the snapshots after a deliberate change.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::root;

/// The library crates whose API is published.
const LIBRARIES: [&str; 7] = [
    "entra_core",
    "entra_msal_lite",
    "entra_cache",
    "entra_public_client",
    "entra_device_code",
    "entra_browser_flow",
    "entra_testing",
];

/// The text between `from` and the first of `until` after it (or the end).
fn section<'a>(page: &'a str, from: &str, until: &[&str]) -> &'a str {
    let Some(start) = page.find(from) else {
        return "";
    };
    let rest = &page[start..];
    let end = until
        .iter()
        .filter_map(|u| rest.find(u))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The values of `id="<prefix>.NAME"` in `text`.
fn ids(text: &str, prefix: &str) -> Vec<String> {
    let needle = format!("id=\"{prefix}.");
    text.match_indices(&needle)
        .filter_map(|(at, _)| {
            let name = &text[at + needle.len()..];
            let end = name.find('"')?;
            Some(name[..end].to_owned())
        })
        .collect()
}

/// One crate's API lines, sorted.
fn api_of(doc: &Path, krate: &str) -> Result<BTreeSet<String>, String> {
    let dir = doc.join(krate);
    let all = fs::read_to_string(dir.join("all.html"))
        .map_err(|e| format!("no rustdoc for {krate} (run cargo doc first): {e}"))?;
    let mut lines = BTreeSet::new();
    for (at, _) in all.match_indices("<li><a href=\"") {
        let rest = &all[at + "<li><a href=\"".len()..];
        let Some(end) = rest.find('"') else { continue };
        let href = &rest[..end];
        let Some(file) = href.rsplit('/').next() else {
            continue;
        };
        let mut parts = file.splitn(3, '.');
        let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let module = href
            .rsplit_once('/')
            .map(|(m, _)| format!("{}::", m.replace('/', "::")))
            .unwrap_or_default();
        let path = format!("{module}{name}");
        lines.insert(format!("{kind} {path}"));
        let page = fs::read_to_string(dir.join(href)).unwrap_or_default();
        let inherent = section(
            &page,
            "id=\"implementations-list\"",
            &[
                "id=\"trait-implementations\"",
                "id=\"synthetic-implementations\"",
                "id=\"blanket-implementations\"",
            ],
        );
        for method in ids(inherent, "method") {
            lines.insert(format!("{kind} {path}::{method}"));
        }
        for (prefix, what) in [
            ("variant", "variant"),
            ("structfield", "field"),
            ("tymethod", "required"),
            ("method", "provided"),
        ] {
            if prefix == "method" && kind != "trait" {
                continue;
            }
            for member in ids(&page, prefix) {
                lines.insert(format!("{kind} {path} {what} {member}"));
            }
        }
    }
    Ok(lines)
}

/// Compares every crate's API with its snapshot (or rewrites the snapshots with `bless`).
pub(crate) fn check(bless: bool) -> Result<(), String> {
    let doc = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), Into::into)
        .join("doc");
    let snapshots = root().join("api");
    let mut changed = Vec::new();
    for krate in LIBRARIES {
        let now: Vec<String> = api_of(&doc, krate)?.into_iter().collect();
        let text = format!("{}\n", now.join("\n"));
        let file = snapshots.join(format!("{krate}.txt"));
        if bless {
            fs::create_dir_all(&snapshots).map_err(|e| format!("{}: {e}", snapshots.display()))?;
            fs::write(&file, &text).map_err(|e| format!("{}: {e}", file.display()))?;
            continue;
        }
        let before = fs::read_to_string(&file).unwrap_or_default();
        if before != text {
            let old: BTreeSet<&str> = before.lines().collect();
            let new: BTreeSet<&str> = text.lines().collect();
            let added: Vec<&&str> = new.difference(&old).collect();
            let removed: Vec<&&str> = old.difference(&new).collect();
            changed.push(format!("{krate}: added {added:?}, removed {removed:?}"));
        }
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the public API changed; review it and run `cargo xtask api --bless`:\n{}",
            changed.join("\n")
        ))
    }
}
