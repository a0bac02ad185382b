//! Headless Chromium for the end-to-end test: where it is, the `BROWSER` value that makes the
//! credential's default opener start it (through `tests/support/chromium.sh`), a small DevTools
//! protocol client that fills and submits the sign-in page, and a guard that kills every process
//! Chromium started, by id, on every path.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Where Chromium is: `$ENTRA_TEST_CHROMIUM`, else `/usr/bin/chromium` (Debian's package), else
/// `chromium` on `PATH`.
pub(crate) fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ENTRA_TEST_CHROMIUM") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    })
}

/// One Chromium run: a fresh work directory (profile, pid file, log) and, on drop, the kill of
/// every process of Chromium's session.
///
/// The test process owns the directory ([`Chromium::new`]); the child process that runs the
/// credential (with `BROWSER` in its environment) attaches to it ([`Chromium::attach`]). Both
/// kill Chromium's processes when dropped, so they die whichever process ends first or fails.
pub(crate) struct Chromium {
    dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
}

impl Chromium {
    /// A fresh work directory for a Chromium that the credential will start.
    pub(crate) fn new() -> Self {
        let owned = tempfile::Builder::new()
            .prefix("entra-chromium-")
            .tempdir()
            .unwrap();
        Self {
            dir: owned.path().to_owned(),
            _owned: Some(owned),
        }
    }

    /// The work directory of a [`Chromium::new`] made by another process.
    pub(crate) fn attach(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            _owned: None,
        }
    }

    /// The work directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The value for `BROWSER`: `sh <script> <work dir>` (the webbrowser crate appends the URL;
    /// it splits the value on whitespace and `:`, so neither may appear in the paths).
    pub(crate) fn browser_env(&self) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/chromium.sh");
        let value = format!("sh {} {}", script.display(), self.dir.display());
        assert!(
            !script.display().to_string().contains([' ', ':'])
                && !self.dir.display().to_string().contains([' ', ':']),
            "BROWSER cannot carry paths with spaces or colons: {value}"
        );
        value
    }

    /// Chromium's pid (also its session and process group id), once the script has started it.
    pub(crate) fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("chromium.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// What Chromium wrote to stdout/stderr (for failure messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromium.log")).unwrap_or_default()
    }

    /// Waits (up to `within`) for Chromium's DevTools port, then connects to its page.
    pub(crate) fn connect(&self, within: Duration) -> Result<DevTools, String> {
        let deadline = Instant::now() + within;
        let port_file = self.dir.join("profile/DevToolsActivePort");
        let port: u16 = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                break port;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Chromium wrote no DevTools port within {within:?} (pid {:?}); its log:\n{}",
                    self.pid(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let ws_url = loop {
            let targets = http_get_json(port, "/json/list")?;
            let page = targets.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    .map(str::to_owned)
            });
            if let Some(url) = page {
                break url;
            }
            if Instant::now() > deadline {
                return Err(format!("Chromium shows no page target: {targets}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (socket, _) =
            tungstenite::connect(ws_url.as_str()).map_err(|e| format!("DevTools connect: {e}"))?;
        if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
            tcp.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
        }
        Ok(DevTools { socket, next_id: 1 })
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else {
            return;
        };
        // Chromium and its helpers (zygote, renderer, utility processes) share the session and
        // process group whose id is Chromium's pid: kill the group, then any straggler of the
        // session by its own pid.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        for straggler in session_members(pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &straggler.to_string()])
                .status();
        }
        // Wait (bounded) until none is alive, so the profile directory can be removed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !session_members(pid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Live (not zombie) processes whose session id is `sid`, read from `/proc`.
pub(crate) fn session_members(sid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // Fields after the command name (which is in parentheses and may hold spaces):
            // state ppid pgrp session ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(3) == Some(&sid.to_string().as_str())
        })
        .collect()
}

/// A GET to Chromium's DevTools HTTP endpoint on 127.0.0.1, parsed as JSON.
fn http_get_json(port: u16, path: &str) -> Result<Value, String> {
    let mut tcp =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("DevTools HTTP: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    // Chromium keeps the connection open: read the head, then Content-Length bytes.
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp
            .read(&mut buf)
            .map_err(|e| format!("DevTools HTTP: {e}"))?;
        if n == 0 {
            return Err("DevTools HTTP: connection closed early".to_owned());
        }
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .ok_or_else(|| format!("DevTools HTTP: no Content-Length in {head:?}"))?;
        if body.len() >= length {
            return serde_json::from_str(&body[..length])
                .map_err(|e| format!("DevTools HTTP: {e} in {body:?}"));
        }
    }
}

/// A DevTools protocol connection to one page.
pub(crate) struct DevTools {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl DevTools {
    /// Sends one command and returns its `result` (or the protocol error as `Err`).
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .map_err(|e| format!("DevTools send: {e}"))?;
        loop {
            let message = self
                .socket
                .read()
                .map_err(|e| format!("DevTools read: {e}"))?;
            let Message::Text(text) = message else {
                continue;
            };
            let reply: Value =
                serde_json::from_str(text.as_str()).map_err(|e| format!("DevTools JSON: {e}"))?;
            if reply["id"] != id {
                continue; // an event
            }
            if let Some(error) = reply.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(reply["result"].clone());
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value. A page in the middle
    /// of a navigation answers with an error; callers poll.
    pub(crate) fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(format!("exception: {exception}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Polls `expression` until it returns something other than `null`/`false` (errors during
    /// navigations count as not yet), for at most `within`.
    pub(crate) fn wait_for(&mut self, expression: &str, within: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        loop {
            match self.eval(expression) {
                Ok(Value::Null | Value::Bool(false)) => {}
                Ok(value) => return Ok(value),
                Err(e) => last = Value::String(e),
            }
            if Instant::now() > deadline {
                let href = self.eval("location.href").unwrap_or_default();
                return Err(format!(
                    "gave up after {within:?} waiting for `{expression}` (page {href}, last {last})"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes the browser politely (the guard kills it anyway).
    pub(crate) fn close_browser(&mut self) {
        let _ = self.call("Browser.close", json!({}));
    }
}
