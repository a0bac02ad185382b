//! The Windows build, run for real under Wine: clippy for `x86_64-pc-windows-gnu` on all
//! targets, the library crates' tests as Windows programs (cargo's runner is `wine`), and an
//! `entra.exe` round trip through the DPAPI-sealed cache.
//!
//! Needs the target (`rustup target add x86_64-pc-windows-gnu`), MinGW-w64's linker and Wine
//! (Debian's `gcc-mingw-w64-x86-64`, `wine64`, `wine`; `.ci/run` installs them). Debian
//! bookworm's Wine 8 ships no `bcryptprimitives.dll`, from which Rust's standard library takes
//! random bytes (`ProcessPrng`); without it every Rust program exits with code 53 before
//! `main`. `xtask/wine/bcryptprimitives.c` is a stand-in built here with MinGW and put in the
//! Wine prefix (`target/wine/prefix`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, in_ci, on_path, root, run, target_installed};

/// The Windows target.
const TARGET: &str = "x86_64-pc-windows-gnu";
/// MinGW-w64's C compiler and linker.
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";
/// The crates whose tests run under Wine: the libraries (the command's tests drive Unix
/// peers: kubectl, Python, symlinks).
const LIBRARIES: [&str; 6] = [
    "entra-core",
    "entra-msal-lite",
    "entra-cache",
    "entra-public-client",
    "entra-device-code",
    "entra-browser-flow",
];

/// What is missing to run the Windows build here, if anything.
fn missing() -> Option<String> {
    if !target_installed(TARGET) {
        return Some(format!("the {TARGET} target (rustup target add {TARGET})"));
    }
    for program in [MINGW_GCC, "wine", "wineboot"] {
        if !on_path(program) {
            return Some(format!(
                "{program} (apt-get install gcc-mingw-w64-x86-64 wine64 wine)"
            ));
        }
    }
    None
}

/// The Wine prefix with the stand-in `bcryptprimitives.dll`, made once under `target/wine`.
fn prefix() -> Result<PathBuf, String> {
    let dir = root().join("target/wine");
    let prefix = dir.join("prefix");
    let system32 = prefix.join("drive_c/windows/system32");
    let dll = system32.join("bcryptprimitives.dll");
    if dll.is_file() {
        return Ok(prefix);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let built = dir.join("bcryptprimitives.dll");
    let source = root().join("xtask/wine");
    run(Command::new(MINGW_GCC)
        .args(["-O2", "-shared", "-o"])
        .arg(&built)
        .arg(source.join("bcryptprimitives.c"))
        .arg(source.join("bcryptprimitives.def"))
        .arg("-ladvapi32"))?;
    run(Command::new("wineboot")
        .arg("-i")
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all"))?;
    std::fs::copy(&built, &dll).map_err(|e| format!("could not install {}: {e}", dll.display()))?;
    Ok(prefix)
}

/// `cargo` for the Windows target, its programs run by Wine in `prefix`.
fn windows_cargo(prefix: &Path) -> Command {
    let mut cmd = cargo();
    cmd.env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", MINGW_GCC)
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", "wine")
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        // Tests Wine cannot run (a real Chromium, cargo itself) say so and skip.
        .env("ENTRA_UNDER_WINE", "1");
    cmd
}

/// Runs the Windows build's checks, or says why they cannot run here (in CI, where the tools
/// are installed, a missing one fails).
pub(crate) fn check() -> Result<(), String> {
    if let Some(what) = missing() {
        if in_ci() {
            return Err(format!("the Windows build needs {what}"));
        }
        eprintln!("xtask: skipped the Windows build under Wine: {what} is missing");
        return Ok(());
    }
    let prefix = prefix()?;
    run(windows_cargo(&prefix).args([
        "clippy",
        "--target",
        TARGET,
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    let mut test = windows_cargo(&prefix);
    test.args(["test", "--target", TARGET, "--locked", "--no-fail-fast"]);
    for library in LIBRARIES {
        test.args(["--package", library]);
    }
    run(&mut test)?;
    round_trip(&prefix)
}

/// `entra.exe get-token --mock` twice under Wine: the first run signs in and writes the
/// DPAPI-sealed cache in `%LOCALAPPDATA%\.IdentityService` (no token text in it), the second
/// is served from it without a request.
fn round_trip(prefix: &Path) -> Result<(), String> {
    run(windows_cargo(prefix).args([
        "build",
        "--target",
        TARGET,
        "--locked",
        "--package",
        "entra-cli",
        "--features",
        "mock",
        "--bin",
        "entra",
    ]))?;
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target_dir.join(format!("{TARGET}/debug/entra.exe"));
    let name = format!("xtask-round-trip-{}", std::process::id());
    let entra = |extra: &[&str]| -> Result<(serde_json::Value, String), String> {
        let mut cmd = Command::new("wine");
        cmd.arg(&exe)
            .args([
                "get-token",
                "--mock",
                "--scope",
                "https://graph.microsoft.com/.default",
                "--cache-name",
                &name,
            ])
            .args(extra)
            .env("WINEPREFIX", prefix)
            .env("WINEDEBUG", "-all")
            .env_remove("ENTRA_TOKEN_CACHE_DIR")
            .env_remove("SSL_CERT_FILE");
        eprintln!("$ {cmd:?}");
        let out = cmd
            .output()
            .map_err(|e| format!("could not run wine: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(format!("entra.exe failed ({}):\n{stderr}", out.status));
        }
        let json = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("entra.exe printed no JSON ({e}):\n{stderr}"))?;
        Ok((json, stderr))
    };
    let (first, first_log) = entra(&[])?;
    let (second, second_log) = entra(&["--no-prompt"])?;
    let requests = |log: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix("Mock Entra ID received "))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    };
    let token = first["accessToken"].as_str().unwrap_or_default();
    if token.is_empty() || second["accessToken"].as_str() != Some(token) {
        return Err("the second entra.exe run did not serve the first one's token".to_owned());
    }
    if requests(&first_log).as_deref() != Some("2") || requests(&second_log).as_deref() != Some("0")
    {
        return Err(format!(
            "expected 2 requests, then 0:\n{first_log}\n---\n{second_log}"
        ));
    }
    let users = prefix.join("drive_c/users");
    let sealed = std::fs::read_dir(&users)
        .map_err(|e| format!("no Wine users folder {}: {e}", users.display()))?
        .filter_map(Result::ok)
        .map(|user| {
            user.path()
                .join("AppData/Local/.IdentityService")
                .join(format!("{name}.nocae"))
        })
        .find(|path| path.is_file())
        .ok_or("entra.exe wrote no cache file under %LOCALAPPDATA%\\.IdentityService")?;
    let bytes = std::fs::read(&sealed).map_err(|e| format!("{}: {e}", sealed.display()))?;
    if bytes.windows(token.len()).any(|w| w == token.as_bytes())
        || bytes.windows(11).any(|w| w == b"AccessToken")
    {
        return Err(format!("{} holds readable token text", sealed.display()));
    }
    let _ = std::fs::remove_file(&sealed);
    eprintln!(
        "xtask: entra.exe under Wine: signed in (2 requests), then served silently (0 requests) \
         from the DPAPI-sealed {}",
        sealed.display()
    );
    Ok(())
}
