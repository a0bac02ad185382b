//! `cargo xtask bench`: criterion benchmarks and `target/bench-summary.md`.
//!
//! 1. Runs the criterion benches of `entra-cache` and `entra-browser-flow` with short
//!    measurement times (the whole run fits in about ten minutes on two cores, once built).
//!    Bench programs that count things (requests made, heap bytes) write them as JSON to
//!    `$ENTRA_BENCH_OUT/<name>.json`: `[{"name": .., "value": .., "unit": .., "note": ..}]`.
//! 2. Measures whole fresh processes of the `entra` binary (release build, `--features mock`): one
//!    interactive sign-in against its embedded mock saves a record and a persistent cache,
//!    then each later process must return a token silently: the harness measures wall time,
//!    and counts requests from the mock's report on stderr (the tool has no statistics
//!    interface of its own).
//! 3. Reads every criterion `new/estimates.json` written by this run and the measurement
//!    files, and writes `<target dir>/bench-summary.md` with the machine they came from.
//!
//! `cargo xtask bench --summary-only` rewrites the summary from the results on disk.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Criterion settings for every bench: short, so the whole run stays within minutes.
const CRITERION_ARGS: [&str; 6] = [
    "--warm-up-time",
    "1",
    "--measurement-time",
    "3",
    "--noise-threshold",
    "0.05",
];

/// Fresh processes measured after the first (interactive) one.
const PROCESS_RUNS: usize = 10;

/// The line the `entra` binary's embedded mock prints after a run (`--mock`'s report).
const MOCK_REPORT_PREFIX: &str = "Mock Entra ID received ";

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

/// Runs the benchmarks and writes the summary.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let summary_only = args.iter().any(|a| a == "--summary-only");
    if let Some(unknown) = args.iter().find(|a| *a != "--summary-only") {
        return Err(format!(
            "unknown argument `{unknown}` (usage: cargo xtask bench [--summary-only])"
        ));
    }
    let meta = metadata()?;
    let target = meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".to_owned())?;
    let out = target.join("bench-measurements");
    let criterion_home = target.join("criterion");
    let started = SystemTime::now();

    if !summary_only {
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out).map_err(|e| format!("could not create {}: {e}", out.display()))?;
        let wall = Instant::now();
        for package in ["entra-cache", "entra-browser-flow"] {
            // Named bench targets only: `--benches` would also run the library's unit tests,
            // whose harness rejects criterion's arguments.
            let benches = bench_targets(&meta, package);
            if benches.is_empty() {
                eprintln!("xtask bench: {package} has no benchmarks");
                continue;
            }
            let mut cmd = cargo();
            cmd.args(["bench", "--package", package]);
            for bench in &benches {
                cmd.args(["--bench", bench]);
            }
            cmd.arg("--")
                .args(CRITERION_ARGS)
                .env("ENTRA_BENCH_OUT", &out)
                .env("CRITERION_HOME", &criterion_home);
            crate::run(&mut cmd)?;
        }
        let process = measure_fresh_processes(&target)?;
        write_measurements(&out.join("fresh_process.json"), &process)?;
        eprintln!("xtask bench: benchmarks ran in {:.0?}", wall.elapsed());
    }

    // With --summary-only every result on disk counts; otherwise only this run's.
    let since = if summary_only { UNIX_EPOCH } else { started };
    let criterion = read_criterion(&criterion_home, since);
    let measurements = read_measurements(&out);
    if criterion.is_empty() && measurements.is_empty() {
        return Err(format!(
            "no results found under {} or {}",
            criterion_home.display(),
            out.display()
        ));
    }
    let summary = render_summary(&criterion, &measurements, &machine());
    let path = target.join("bench-summary.md");
    fs::write(&path, &summary).map_err(|e| format!("could not write {}: {e}", path.display()))?;
    println!("{summary}");
    eprintln!("xtask bench: wrote {}", path.display());
    Ok(())
}

/// `cargo metadata` of the workspace (no dependencies): target directory and targets.
fn metadata() -> Result<Value, String> {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(crate::root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))
}

/// The names of a package's `[[bench]]` targets.
fn bench_targets(meta: &Value, package: &str) -> Vec<String> {
    let Some(packages) = meta["packages"].as_array() else {
        return Vec::new();
    };
    packages
        .iter()
        .filter(|p| p["name"] == package)
        .filter_map(|p| p["targets"].as_array())
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

/// One figure measured by a bench program.
#[derive(Debug, Clone, PartialEq)]
struct Measurement {
    name: String,
    value: f64,
    unit: String,
    note: String,
}

impl Measurement {
    fn new(name: &str, value: f64, unit: &str, note: &str) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            note: note.to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name, "value": self.value, "unit": self.unit, "note": self.note,
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            name: value["name"].as_str()?.to_owned(),
            value: value["value"].as_f64()?,
            unit: value["unit"].as_str().unwrap_or("").to_owned(),
            note: value["note"].as_str().unwrap_or("").to_owned(),
        })
    }
}

fn write_measurements(path: &Path, items: &[Measurement]) -> Result<(), String> {
    let json = Value::Array(items.iter().map(Measurement::to_json).collect());
    fs::write(path, format!("{json:#}\n"))
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

/// Every measurement file in `dir`, in file-name order.
fn read_measurements(dir: &Path) -> BTreeMap<String, Vec<Measurement>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        let parsed = fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        let items: Vec<Measurement> = match parsed {
            Some(Value::Array(items)) => items.iter().filter_map(Measurement::from_json).collect(),
            _ => {
                eprintln!("xtask bench: skipping unreadable {}", path.display());
                continue;
            }
        };
        out.insert(stem, items);
    }
    out
}

/// One criterion benchmark's result.
#[derive(Debug, Clone, PartialEq)]
struct CriterionResult {
    id: String,
    /// Nanoseconds per iteration.
    mean: f64,
    mean_low: f64,
    mean_high: f64,
    median: f64,
    /// Elements per iteration when the bench declared a throughput.
    elements: Option<f64>,
}

/// Every `new/estimates.json` under `home` modified at or after `since`.
fn read_criterion(home: &Path, since: SystemTime) -> Vec<CriterionResult> {
    fn walk(dir: &Path, since: SystemTime, out: &mut Vec<CriterionResult>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if entry.file_name() == "new" {
                if let Some(result) = read_one(&path, since) {
                    out.push(result);
                }
            } else if entry.file_name() != "base" && entry.file_name() != "report" {
                walk(&path, since, out);
            }
        }
    }
    fn read_one(new: &Path, since: SystemTime) -> Option<CriterionResult> {
        let estimates_path = new.join("estimates.json");
        let modified = fs::metadata(&estimates_path).ok()?.modified().ok()?;
        if modified < since {
            return None;
        }
        let estimates: Value =
            serde_json::from_str(&fs::read_to_string(&estimates_path).ok()?).ok()?;
        let benchmark: Value = fs::read_to_string(new.join("benchmark.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let id = benchmark["full_id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| Some(new.parent()?.file_name()?.to_string_lossy().into_owned()))?;
        let mean = &estimates["mean"];
        Some(CriterionResult {
            id,
            mean: mean["point_estimate"].as_f64()?,
            mean_low: mean["confidence_interval"]["lower_bound"]
                .as_f64()
                .unwrap_or(f64::NAN),
            mean_high: mean["confidence_interval"]["upper_bound"]
                .as_f64()
                .unwrap_or(f64::NAN),
            median: estimates["median"]["point_estimate"]
                .as_f64()
                .unwrap_or(f64::NAN),
            elements: benchmark["throughput"]["Elements"].as_f64(),
        })
    }
    let mut out = Vec::new();
    walk(home, since, &mut out);
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// A duration in nanoseconds, in the unit that reads best.
fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".to_owned()
    } else if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "ns" => format_ns(value),
        "ms" => format!("{value:.1} ms"),
        "bytes" if value >= 1024.0 * 1024.0 => format!("{:.2} MiB", value / 1024.0 / 1024.0),
        "bytes" if value >= 1024.0 => format!("{:.1} KiB", value / 1024.0),
        "KiB" if value >= 1024.0 => format!("{:.1} MiB", value / 1024.0),
        "requests" if value == 1.0 => "1 request".to_owned(),
        _ if value.fract() == 0.0 && value.abs() < 1e15 => format!("{value:.0} {unit}"),
        _ => format!("{value:.2} {unit}"),
    }
}

/// The machine the figures came from.
#[derive(Debug, Clone, PartialEq)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
    os: String,
    rustc: String,
    date: String,
}

fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let os = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("{} {}", env::consts::OS, r.trim()))
        .unwrap_or_else(|_| env::consts::OS.to_owned());
    let rustc = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model,
        memory,
        os,
        rustc,
        date: utc_date(SystemTime::now()),
    }
}

/// `YYYY-MM-DD HH:MM UTC` without a date crate (Howard Hinnant's civil-from-days).
fn utc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn render_summary(
    criterion: &[CriterionResult],
    measurements: &BTreeMap<String, Vec<Measurement>>,
    machine: &Machine,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# entra-rs benchmark summary\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask bench` on {}. Machine: {} CPU(s) available, {}, {} memory, {}; {}.\n",
        machine.date, machine.cpus, machine.cpu_model, machine.memory, machine.os, machine.rustc
    );
    let _ = writeln!(
        s,
        "Criterion figures are the mean time per iteration with its 95% confidence interval \
         (short measurement times: expect a few percent of noise, more on a shared machine).\n"
    );
    if !criterion.is_empty() {
        let _ = writeln!(s, "## Timings (criterion)\n");
        let _ = writeln!(s, "| benchmark | mean | 95% CI | median | per element |");
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
        for r in criterion {
            let per_element = r
                .elements
                .filter(|e| *e > 0.0)
                .map_or_else(|| "".to_owned(), |e| format_ns(r.mean / e));
            let _ = writeln!(
                s,
                "| `{}` | {} | {} – {} | {} | {} |",
                r.id,
                format_ns(r.mean),
                format_ns(r.mean_low),
                format_ns(r.mean_high),
                format_ns(r.median),
                per_element
            );
        }
        let _ = writeln!(s);
    }
    if !measurements.is_empty() {
        let _ = writeln!(s, "## Measured by the bench programs\n");
        let _ = writeln!(s, "| source | figure | value | note |");
        let _ = writeln!(s, "| --- | --- | ---: | --- |");
        for (source, items) in measurements {
            for m in items {
                let _ = writeln!(
                    s,
                    "| {source} | {} | {} | {} |",
                    m.name,
                    format_value(m.value, &m.unit),
                    m.note.replace('|', "\\|")
                );
            }
        }
        let _ = writeln!(s);
    }
    s
}

/// The release build of the `entra` binary, with its embedded mock.
fn build_example() -> Result<PathBuf, String> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--package",
        "entra-cli",
        "--features",
        "mock",
        "--bin",
        "entra",
        "--message-format",
        "json-render-diagnostics",
    ])
    .current_dir(crate::root())
    .stderr(Stdio::inherit());
    eprintln!("$ {cmd:?}");
    let output = cmd
        .output()
        .map_err(|e| format!("could not run cargo build: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the entra binary failed ({})",
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "entra")
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo build reported no entra executable".to_owned())
}

/// What the harness measured of one run: its wall time, and the requests its embedded mock
/// received (from the mock's report on stderr).
#[derive(Debug, Default, Clone, PartialEq)]
struct ProcessStats {
    wall: Duration,
    requests: Option<u64>,
}

fn run_example(exe: &Path, args: &[&str], cache_dir: &Path) -> Result<ProcessStats, String> {
    let started = Instant::now();
    let output = Command::new(exe)
        .args(args)
        .env("ENTRA_TOKEN_CACHE_DIR", cache_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "entra {} failed ({}):\n{stderr}",
            args.join(" "),
            output.status
        ));
    }
    let stdout: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("entra printed no JSON object ({e})"))?;
    if stdout["accessToken"].as_str().is_none_or(str::is_empty) {
        return Err("entra printed no accessToken".to_owned());
    }
    let requests = stderr
        .lines()
        .find_map(|l| l.strip_prefix(MOCK_REPORT_PREFIX))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    Ok(ProcessStats { wall, requests })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Whole fresh processes of the example: one interactive sign-in, then silent runs.
fn measure_fresh_processes(target: &Path) -> Result<Vec<Measurement>, String> {
    let exe = build_example()?;
    let work = target.join("bench-fresh-process");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("could not create {}: {e}", work.display()))?;
    let record = work.join("record.json");
    let record_arg = record.to_string_lossy().into_owned();
    // Each process starts its own mock, which knows none of the earlier tokens: a silent run
    // can only succeed from the persistent cache.
    let args = [
        "--mock",
        "--scope",
        "https://graph.microsoft.com/.default",
        "--cache-name",
        "bench",
        "--allow-unencrypted-storage",
        "--record",
        &record_arg,
    ];
    eprintln!("xtask bench: fresh processes of {}", exe.display());
    let first = run_example(&exe, &args, &work)?;
    let mut silent_args = args.to_vec();
    silent_args.push("--no-prompt");
    let mut runs = Vec::with_capacity(PROCESS_RUNS);
    for _ in 0..PROCESS_RUNS {
        runs.push(run_example(&exe, &silent_args, &work)?);
    }
    let custom = custom_authority_runs(&exe, &work)?;
    let stores = store_runs(&exe, &work)?;
    let _ = fs::remove_dir_all(&work);

    let wall: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64() * 1e3).collect();
    let max_requests = runs.iter().filter_map(|r| r.requests).max();
    let n = runs.len();
    let mut out = vec![
        Measurement::new(
            "first process: interactive sign-in, wall time",
            first.wall.as_secs_f64() * 1e3,
            "ms",
            &format!(
                "includes starting the embedded mock; {} requests to it",
                first
                    .requests
                    .map_or_else(|| "?".to_owned(), |r| r.to_string())
            ),
        ),
        Measurement::new(
            "fresh process, silent from persistent cache + record: wall time (median)",
            median(wall.clone()),
            "ms",
            &format!(
                "{n} runs, min {:.1} ms, max {:.1} ms; includes starting the embedded mock (TLS keys, RSA key)",
                wall.iter().copied().fold(f64::INFINITY, f64::min),
                wall.iter().copied().fold(0.0, f64::max)
            ),
        ),
    ];
    out.push(Measurement::new(
        "fresh process: requests made (max over runs)",
        max_requests.map_or(f64::NAN, |r| r as f64),
        "requests",
        "must be 0",
    ));
    if let Some(r) = max_requests.filter(|r| *r != 0) {
        eprintln!("xtask bench: WARNING: a silent fresh process made {r} request(s); expected 0");
    }
    let custom_wall: Vec<f64> = custom.iter().map(|r| r.wall.as_secs_f64() * 1e3).collect();
    let custom_requests = custom.iter().filter_map(|r| r.requests).max();
    out.push(Measurement::new(
        "fresh process on a custom authority (https://localhost:PORT): requests made (max)",
        custom_requests.map_or(f64::NAN, |r| r as f64),
        "requests",
        "must be 0: the authority is resolved only when a request is about to be sent",
    ));
    out.push(Measurement::new(
        "fresh process on a custom authority: wall time (median)",
        median(custom_wall),
        "ms",
        &format!("{} runs; includes starting the embedded mock", custom.len()),
    ));
    if let Some(r) = custom_requests.filter(|r| *r != 0) {
        eprintln!(
            "xtask bench: WARNING: a silent fresh process on a custom authority made {r} request(s); expected 0"
        );
    }
    out.extend(stores);
    Ok(out)
}

/// Runs `exe` with `args` and `env` `n` times (each run must succeed); the median and the
/// smallest wall time, in ms.
fn median_wall(
    exe: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cache_dir: &Path,
    n: usize,
) -> Result<(f64, f64), String> {
    let mut walls = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let output = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .env("ENTRA_TOKEN_CACHE_DIR", cache_dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
        walls.push(started.elapsed().as_secs_f64() * 1e3);
        if !output.status.success() {
            return Err(format!(
                "entra {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((median(walls), min))
}

/// What a kubectl call pays: a fresh `entra` process (no mock) serving a token silently from
/// the persistent cache, with the cache in MSAL's file (no D-Bus session) and in the Secret
/// Service (when this runs inside `cargo xtask test`'s or a desktop's session); and the
/// machine's floor, `entra --version`.
fn store_runs(exe: &Path, work: &Path) -> Result<Vec<Measurement>, String> {
    const RUNS: usize = 31;
    let scope = "https://graph.microsoft.com/.default";
    let no_bus = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/entra-bench",
    )];
    let mut out = Vec::new();
    let (floor, floor_min) = median_wall(exe, &["--version"], &[], work, RUNS)?;
    out.push(Measurement::new(
        "fresh process floor: entra --version (median)",
        floor,
        "ms",
        &format!("{RUNS} runs, min {floor_min:.1} ms: starting a process of this binary here"),
    ));
    let mut cases: Vec<(&str, &[(&str, &str)])> = vec![("file", &no_bus)];
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        cases.push(("Secret Service", &[]));
    }
    for (store, env) in cases {
        let name = format!("bench-{}", store.replace(' ', "-").to_lowercase());
        // Sign in once against the embedded mock, which answers as login.microsoftonline.com:
        // the cache then serves the real host's account without any request.
        median_wall(
            exe,
            &["--mock", "--scope", scope, "--cache-name", &name],
            env,
            work,
            1,
        )?;
        let (wall, min) = median_wall(
            exe,
            &["--scope", scope, "--cache-name", &name, "--no-prompt"],
            env,
            work,
            RUNS,
        )?;
        out.push(Measurement::new(
            &format!("fresh silent get-token, no mock, cache in the {store} (median)"),
            wall,
            "ms",
            &format!("{RUNS} runs, min {min:.1} ms; what one kubectl call pays"),
        ));
    }
    Ok(out)
}

/// A sign-in at a custom authority (the embedded mock on one fixed port, validated by instance
/// discovery), then silent fresh processes with the record and the persistent cache.
fn custom_authority_runs(exe: &Path, work: &Path) -> Result<Vec<ProcessStats>, String> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port for the custom authority: {e}"))?
        .port()
        .to_string();
    let authority = format!("https://localhost:{port}");
    let record = work.join("custom-record.json");
    let record_arg = record.to_string_lossy().into_owned();
    let args = [
        "--mock",
        "--mock-port",
        &port,
        "--authority",
        &authority,
        "--scope",
        "https://graph.microsoft.com/.default",
        "--cache-name",
        "bench-custom",
        "--allow-unencrypted-storage",
        "--record",
        &record_arg,
    ];
    run_example(exe, &args, work)?;
    let mut silent_args = args.to_vec();
    silent_args.push("--no-prompt");
    (0..PROCESS_RUNS)
        .map(|_| run_example(exe, &silent_args, work))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_in_readable_units() {
        assert_eq!(format_ns(12.34), "12.3 ns");
        assert_eq!(format_ns(1_500.0), "1.50 µs");
        assert_eq!(format_ns(2_500_000.0), "2.50 ms");
        assert_eq!(format_ns(3e9), "3.00 s");
        assert_eq!(format_value(0.0, "requests"), "0 requests");
        assert_eq!(format_value(2048.0, "bytes"), "2.0 KiB");
    }

    #[test]
    fn finds_only_bench_targets() {
        let meta = serde_json::json!({"packages": [
            {"name": "entra-cache", "targets": [
                {"name": "entra_cache", "kind": ["lib"]},
                {"name": "cache", "kind": ["bench"]},
            ]},
            {"name": "entra-browser-flow", "targets": [
                {"name": "get_token", "kind": ["example"]},
                {"name": "get_token", "kind": ["bench"]},
                {"name": "memory", "kind": ["bench"]},
            ]},
        ]});
        assert_eq!(bench_targets(&meta, "entra-cache"), ["cache"]);
        assert_eq!(
            bench_targets(&meta, "entra-browser-flow"),
            ["get_token", "memory"]
        );
        assert!(bench_targets(&meta, "xtask").is_empty());
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_date(t), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn reads_criterion_results_and_measurements_into_a_table() {
        let dir = env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        let new = dir
            .join("criterion")
            .join("get_token")
            .join("cached")
            .join("new");
        fs::create_dir_all(&new).unwrap();
        fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":41.5,"confidence_interval":{"lower_bound":40.0,"upper_bound":43.0}},
                "median":{"point_estimate":41.0}}"#,
        )
        .unwrap();
        fs::write(
            new.join("benchmark.json"),
            r#"{"full_id":"get_token/cached","throughput":null}"#,
        )
        .unwrap();
        let out = dir.join("measurements");
        fs::create_dir_all(&out).unwrap();
        write_measurements(
            &out.join("stampede.json"),
            &[Measurement::new(
                "token requests",
                1.0,
                "requests",
                "must be 1",
            )],
        )
        .unwrap();
        let results = read_criterion(&dir.join("criterion"), UNIX_EPOCH);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].id, "get_token/cached");
        // Results older than the run are left out.
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert!(read_criterion(&dir.join("criterion"), later).is_empty());
        let measurements = read_measurements(&out);
        let summary = render_summary(&results, &measurements, &machine());
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            summary.contains("| `get_token/cached` | 41.5 ns | 40.0 ns – 43.0 ns | 41.0 ns |"),
            "{summary}"
        );
        assert!(
            summary.contains("| stampede | token requests | 1 request | must be 1 |"),
            "{summary}"
        );
        assert!(summary.contains("CPU(s) available"), "{summary}");
    }
}
