//! `cargo xtask demo`: the main job, narrated, against the embedded mock identity provider.
//!
//! The demo itself is the `demo` example of `entra-browser-flow` (it needs the library and
//! the mock, which xtask deliberately does not depend on); this runs it with cargo, passing
//! any extra arguments through.

use std::env;
use std::process::Command;

/// Runs the demo: `cargo run -p entra-browser-flow --example demo -- <args>`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.args([
        "run",
        "--package",
        "entra-browser-flow",
        "--example",
        "demo",
        "--",
    ])
    .args(args);
    crate::run(&mut cmd)
}
