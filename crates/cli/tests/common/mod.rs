//! What the CLI's process tests share: one finished run of `entra`, running it with its own
//! cache directory (killed if it outlives a minute), and signing in with a device code that
//! the test approves at the mock as soon as the command shows it.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use entra_testing::{MockEntra, TestUser};

/// One finished run of the command.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Nothing a terminal would act on is in the output.
    pub fn assert_nothing_raw(&self) {
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let raw: Vec<char> = text
                .chars()
                .filter(|&c| entra_core::is_unsafe_for_terminal(c))
                .collect();
            assert!(raw.is_empty(), "{name} carries {raw:?}:\n{text}");
        }
    }

    /// The error line; each cause in it said once (no part between `": "` repeated).
    pub fn error_line(&self) -> &str {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("error ("))
            .unwrap_or_else(|| panic!("no error line:\n{}", self.stderr));
        let parts: Vec<&str> = line.split(": ").map(str::trim).collect();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                part.len() < 12 || !parts[..i].contains(part),
                "{part:?} is said twice in:\n{line}"
            );
        }
        line
    }
}

/// Runs `entra` with `args`, trusting `ca` (the mock's root), its caches in `dir`; killed if it
/// runs for more than a minute (a wait the command should have ended itself).
pub async fn entra(dir: &Path, ca: Option<&Path>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_entra"));
    command
        .args(args)
        .env("ENTRA_TOKEN_CACHE_DIR", dir)
        .env_remove("RUST_LOG")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_TTY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match ca {
        Some(ca) => command.env("SSL_CERT_FILE", ca),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("entra ended by itself within a minute")
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `entra` with `args` against `mock`, approving the device code as `user` as soon as
/// the command shows it (the test reads its stderr line by line: no waiting on time).
pub async fn entra_approving(
    dir: &Path,
    ca: &Path,
    args: &[&str],
    mock: &MockEntra,
    user: &TestUser,
) -> Run {
    entra_approving_with(dir, ca, args, mock, user, &[]).await
}

/// [`entra_approving`] with `env` added to the command's environment.
pub async fn entra_approving_with(
    dir: &Path,
    ca: &Path,
    args: &[&str],
    mock: &MockEntra,
    user: &TestUser,
    env: &[(&str, &std::ffi::OsStr)],
) -> Run {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_entra"))
        .args(args)
        .envs(env.iter().copied())
        .env("ENTRA_TOKEN_CACHE_DIR", dir)
        .env("SSL_CERT_FILE", ca)
        .env_remove("RUST_LOG")
        .env_remove("AZURE_AUTHORITY_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let run = async {
        let mut stderr = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("enter the code ").nth(1) {
                let code = rest.split_whitespace().next().unwrap();
                assert!(mock.approve_device_code_as(code, user), "{line}");
            }
            stderr.push_str(&line);
            stderr.push('\n');
        }
        let mut out = String::new();
        stdout.read_to_string(&mut out).await.unwrap();
        let status = child.wait().await.unwrap();
        Run {
            code: status.code(),
            stdout: out,
            stderr,
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("entra ended by itself within a minute")
}

/// A mock whose device codes may be polled every second, and its root certificate in a file.
pub async fn signing_mock(user: TestUser) -> (MockEntra, tempfile::TempDir) {
    let mock = MockEntra::builder()
        .user(user)
        .device_code_interval(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        mock.ca_certificate_pem().unwrap(),
    )
    .unwrap();
    (mock, dir)
}
