//! What the bench programs share: the credential under test, signed in against a mock, and
//! the measurement file that `cargo xtask bench` merges into `target/bench-summary.md`.

// Each bench program uses a part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_testing::{HeadlessBrowser, MockEntra};

/// The scope most benches request.
pub(crate) const GRAPH: &str = "https://graph.microsoft.com/.default";

/// A credential for `mock` with the stand-in browser and an in-memory cache.
pub(crate) fn credential(mock: &MockEntra) -> Arc<InteractiveBrowserCredential> {
    InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_http_client(mock.resolving_http_client())
            .with_browser(Arc::new(HeadlessBrowser::new(mock))),
    )
    .expect("valid options")
}

static MEASUREMENTS: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

/// Records one figure (also printed at once).
pub(crate) fn record(name: &str, value: f64, unit: &str, note: &str) {
    println!("measured: {name}: {value} {unit} ({note})");
    MEASUREMENTS.lock().unwrap().push(serde_json::json!({
        "name": name, "value": value, "unit": unit, "note": note,
    }));
}

/// Writes the recorded figures to `$ENTRA_BENCH_OUT/<file>.json`, when that is set.
pub(crate) fn write(file: &str) {
    let Some(dir) = std::env::var_os("ENTRA_BENCH_OUT") else {
        return;
    };
    let path = std::path::Path::new(&dir).join(format!("{file}.json"));
    let items = serde_json::Value::Array(MEASUREMENTS.lock().unwrap().clone());
    std::fs::write(&path, format!("{items:#}\n")).expect("the measurement file is writable");
    println!("measurements written to {}", path.display());
}

/// Whether cargo runs this program as a benchmark (`cargo bench`) rather than as a quick
/// check (`cargo test --benches`).
pub(crate) fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}
