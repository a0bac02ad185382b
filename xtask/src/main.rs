//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `ci`: everything CI checks: fmt, clippy (`-D warnings`), every test, the Windows build's
//!   clippy, library tests and an `entra.exe` round trip under Wine, docs (`-D warnings`).
//! - `test`: every test of the workspace, inside a private D-Bus session with an unlocked
//!   keyring when the machine has `dbus-run-session` and `gnome-keyring-daemon`.
//! - `demo`: the main job, narrated, against the embedded mock identity provider.
//! - `bench`: criterion benchmarks and `target/bench-summary.md`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod api;
mod bench;
mod crates_io;
mod demo;
mod macos;
mod tidy;
mod windows;

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "ci" => ci(),
        "test" => test(&rest),
        "demo" => demo::run(&rest),
        "bench" => bench::run(&rest),
        "windows" => windows::check(),
        "macos" => macos::check(),
        "crates-io" => crates_io::check(),
        "api" => api::check(rest.iter().any(|a| a == "--bless")),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | test | demo | bench | windows | macos | crates-io | api>\n\
                 \n  ci     fmt, clippy -D warnings, every test, docs -D warnings\
                 \n  test   every test (with a private keyring session when available)\
                 \n  demo   the main job against the embedded mock identity provider\
                 \n  bench  criterion benchmarks, summary in target/bench-summary.md\
                 \n  windows  the Windows build under Wine (clippy, library tests, entra.exe)\
                 \n  macos  clippy for macOS on the crates with macOS code\
                 \n  crates-io  features alone and none, cargo-deny, cargo package, the MSRV\
                 \n  api    the public API against its snapshots in api/ (--bless rewrites them)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's folder).
pub(crate) fn root() -> PathBuf {
    // `cargo xtask` (cargo run) says where xtask's manifest is now; the path compiled in is
    // only the fallback, and goes stale when checkouts share a target directory.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command in the workspace root, failing with its name when it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("$ {shown}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

pub(crate) fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    test(&[])?;
    windows::check()?;
    macos::check()?;
    crates_io::check()?;
    run(cargo()
        .args([
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--locked",
        ])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    api::check(false)?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// Whether this runs in CI (`CI` set, and not to `false` or `0`): a missing tool is then an
/// error instead of a skip.
pub(crate) fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether rustup has the standard library of `target`.
pub(crate) fn target_installed(target: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
}

pub(crate) fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Runs every test. The persistent-cache tests need an OS keyring; on Linux that is the
/// Secret Service, which needs a D-Bus session bus and an unlocked collection. When the tools
/// are installed (CI installs them) the tests run inside a private session bus with a
/// throw-away gnome-keyring whose files live in a temporary directory, so a developer's own
/// keyring is never touched. Without them, tests that need a keyring print why they skip
/// (and fail instead when `CI` is set).
fn test(extra: &[String]) -> Result<(), String> {
    let mut args: Vec<String> = [
        "test",
        "--workspace",
        "--all-features",
        "--locked",
        "--no-fail-fast",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().cloned());

    // The azure-identity interop venv `.ci/run` makes (Debian's python3 with PyGObject):
    // tests find it through ENTRA_INTEROP_PYTHON.
    let venv_python = root().join("target/interop-venv/bin/python");
    let interop = env::var_os("ENTRA_INTEROP_PYTHON")
        .or_else(|| venv_python.is_file().then(|| venv_python.into_os_string()));

    let in_session = env::var_os("ENTRA_XTASK_KEYRING_SESSION").is_some();
    if cfg!(target_os = "linux")
        && !in_session
        && on_path("dbus-run-session")
        && on_path("gnome-keyring-daemon")
    {
        let keyring_home =
            env::temp_dir().join(format!("entra-xtask-keyring-{}", std::process::id()));
        std::fs::create_dir_all(&keyring_home)
            .map_err(|e| format!("could not create {}: {e}", keyring_home.display()))?;
        let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        // The daemon gets the temporary HOME; cargo and the tests keep the real one.
        let script = "echo -n entra-xtask | HOME=\"$KEYRING_HOME\" gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                      && exec \"$@\"";
        let mut cmd = Command::new("dbus-run-session");
        cmd.args(["--", "sh", "-c", script, "sh", &cargo_bin])
            .args(&args)
            .env("KEYRING_HOME", &keyring_home)
            .env("ENTRA_XTASK_KEYRING_SESSION", "1");
        if let Some(python) = &interop {
            cmd.env("ENTRA_INTEROP_PYTHON", python);
        }
        eprintln!("xtask test: running inside a private D-Bus session with an unlocked keyring");
        let result = run(&mut cmd);
        let _ = std::fs::remove_dir_all(&keyring_home);
        result
    } else {
        if cfg!(target_os = "linux") && !in_session {
            eprintln!(
                "xtask test: dbus-run-session or gnome-keyring-daemon not found; tests that need \
                 an OS keyring will say they are skipped (install dbus and gnome-keyring to run them)"
            );
        }
        let mut cmd = cargo();
        if let Some(python) = &interop {
            cmd.env("ENTRA_INTEROP_PYTHON", python);
        }
        run(cmd.args(&args))
    }
}
