//! `cargo xtask bench`: criterion benchmarks and `target/bench-summary.md`.

/// Runs the benchmarks.
pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    Err("the benchmarks are not built yet".to_owned())
}
