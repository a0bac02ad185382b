//! `cargo xtask demo`: the main job, narrated, against the embedded mock identity provider.

/// Runs the demo.
pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    Err("the demo is not built yet".to_owned())
}
