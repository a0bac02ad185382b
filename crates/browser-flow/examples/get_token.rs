//! `get_token`: a command-line program over `InteractiveBrowserCredential`, like
//! `az account get-access-token`. Prints one JSON object on stdout; progress, the sign-in URL
//! and errors on stderr. `--mock` runs against an embedded mock Entra ID (no internet).
//!
//! ```text
//! cargo run -p entra-browser-flow --example get_token -- --mock --scope https://graph.microsoft.com/.default
//! ```
//!
//! Run with `--help` for every flag.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use entra_browser_flow::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, PasteFromStdin,
    PasteRedirect, SystemBrowser, TokenCachePersistenceOptions,
};
use entra_core::{
    AccessTokenInfo, AuthenticationRecord, BrowserOpenError, BrowserOpener, Error, ErrorKind,
    Result, Secret, TokenRequestOptions,
};
use entra_testing::{BrowserBehavior, Endpoint, HeadlessBrowser, MockEntra, RecordedRequest};

const USAGE: &str = "\
get_token: get an access token with InteractiveBrowserCredential

USAGE:
    get_token --scope SCOPE [--scope SCOPE ...] [OPTIONS]

Prints {\"accessToken\", \"expiresOn\" (Unix seconds), \"tokenType\", \"refreshOn\"} on stdout.
Progress and the sign-in URL go to stderr. Exit codes: 0 success, 2 invalid argument,
3 unavailable, 4 authentication failed, 5 authentication required.

CREDENTIAL OPTIONS:
    --scope SCOPE                   a scope to request (repeatable; at least one)
    --authority HOST                authority host, e.g. login.microsoftonline.us
                                    (default: $AZURE_AUTHORITY_HOST, else the public cloud)
    --tenant-id TENANT              tenant GUID or domain (default: organizations)
    --client-id ID                  application (client) id (default: the Azure development app)
    --redirect-uri URI              loopback redirect URI, e.g. http://localhost:8400
                                    (default: the first free port of 8400-8999)
    --login-hint USERNAME           pre-fill the username on the sign-in page
    --timeout SECS                  how long to wait for the user (default: 300)
    --disable-instance-discovery    skip authority validation (trusted private clouds only)
    --cache-name NAME               use the persistent token cache NAME
    --allow-unencrypted-storage     allow a plaintext cache file when no OS keyring is usable
    --record PATH                   load the AuthenticationRecord from PATH if it exists;
                                    save it there after signing in
    --no-prompt                     never open a browser: fail with 'authentication required'
    --device-code                   sign in with a device code (enter it on any device) instead
                                    of a browser; chosen by itself when no browser can be
                                    opened here (an SSH session without a display)
    --paste-redirect                print the sign-in URL; sign in with a browser on any machine
                                    and paste back the address it ends on (localhost:..., a
                                    page that does not load)
    --additionally-allowed-tenant T another tenant --request-tenant-id may name (repeatable; * = any)

REQUEST OPTIONS:
    --request-tenant-id TENANT      request the token from this tenant
    --enable-cae                    request a token that supports Continuous Access Evaluation
    --claims JSON                   claims to request (a resource's claims challenge)

TESTING:
    --mock                          run against an embedded mock Entra ID with a headless
                                    browser stand-in (no internet; login.microsoftonline.com
                                    resolves to the mock)
    --mock-port PORT                the embedded mock listens on this port (default: any free one),
                                    so later runs can reach it as the same --authority
                                    https://localhost:PORT
    --mock-browser BEHAVIOR         what the stand-in does: sign-in (default), cancel,
                                    never-finish, cannot-open
    -h, --help                      print this help

ENVIRONMENT:
    SSL_CERT_FILE                   a PEM file of extra root certificates to trust
    BROWSER                         the browser to open (Linux and the BSDs)
    ENTRA_TOKEN_CACHE_DIR           the directory of persistent caches (default ~/.IdentityService)
    RUST_LOG                        tracing filter, e.g. entra_browser_flow=debug
    ENTRA_GET_TOKEN_STATS           when set, print a machine-readable statistics line
";

/// The parsed command line.
#[derive(Debug, Default, Clone, PartialEq)]
struct Args {
    scopes: Vec<String>,
    authority: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    login_hint: Option<String>,
    timeout: Option<Duration>,
    disable_instance_discovery: bool,
    enable_cae: bool,
    claims: Option<String>,
    cache_name: Option<String>,
    allow_unencrypted_storage: bool,
    record: Option<PathBuf>,
    no_prompt: bool,
    device_code: bool,
    paste_redirect: bool,
    request_tenant_id: Option<String>,
    additionally_allowed_tenants: Vec<String>,
    mock: bool,
    mock_browser: Option<BrowserBehavior>,
    mock_port: Option<u16>,
}

/// Parses the arguments (without the program name); `Ok(None)` means `--help`.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>> {
    use lexopt::prelude::*;

    fn bad(e: lexopt::Error) -> Error {
        Error::invalid_argument(e.to_string())
    }
    fn text(parser: &mut lexopt::Parser) -> Result<String> {
        parser.value().map_err(bad)?.string().map_err(bad)
    }

    let mut parser = lexopt::Parser::from_args(args);
    let mut a = Args::default();
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("scope") => a.scopes.push(text(&mut parser)?),
            Long("authority") => a.authority = Some(text(&mut parser)?),
            Long("tenant-id") => a.tenant_id = Some(text(&mut parser)?),
            Long("client-id") => a.client_id = Some(text(&mut parser)?),
            Long("redirect-uri") => a.redirect_uri = Some(text(&mut parser)?),
            Long("login-hint") => a.login_hint = Some(text(&mut parser)?),
            Long("timeout") => {
                let value = text(&mut parser)?;
                let secs: u64 = value.trim().parse().map_err(|_| {
                    Error::invalid_argument(format!(
                        "--timeout takes a whole number of seconds, not '{value}'"
                    ))
                })?;
                if secs == 0 {
                    return Err(Error::invalid_argument(
                        "--timeout must be at least 1 second",
                    ));
                }
                a.timeout = Some(Duration::from_secs(secs));
            }
            Long("disable-instance-discovery") => a.disable_instance_discovery = true,
            Long("enable-cae") => a.enable_cae = true,
            Long("claims") => {
                let claims = text(&mut parser)?;
                match serde_json::from_str::<serde_json::Value>(&claims) {
                    Ok(serde_json::Value::Object(_)) => a.claims = Some(claims),
                    _ => {
                        return Err(Error::invalid_argument(
                            "--claims must be a JSON object, e.g. \
                             '{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1700000000\"}}}'",
                        ));
                    }
                }
            }
            Long("cache-name") => a.cache_name = Some(text(&mut parser)?),
            Long("allow-unencrypted-storage") => a.allow_unencrypted_storage = true,
            Long("record") => a.record = Some(PathBuf::from(parser.value().map_err(bad)?)),
            Long("no-prompt") => a.no_prompt = true,
            Long("device-code") => a.device_code = true,
            Long("paste-redirect") => a.paste_redirect = true,
            Long("request-tenant-id") => a.request_tenant_id = Some(text(&mut parser)?),
            Long("additionally-allowed-tenant") => {
                a.additionally_allowed_tenants.push(text(&mut parser)?);
            }
            Long("mock") => a.mock = true,
            Long("mock-port") => {
                let value = text(&mut parser)?;
                a.mock_port = Some(value.parse().map_err(|_| {
                    Error::invalid_argument(format!("--mock-port {value:?} is not a port number"))
                })?);
            }
            Long("mock-browser") => {
                let value = text(&mut parser)?;
                a.mock_browser = Some(match value.as_str() {
                    "sign-in" => BrowserBehavior::SignIn,
                    "cancel" => BrowserBehavior::Cancel,
                    "never-finish" => BrowserBehavior::NeverFinish,
                    "cannot-open" => BrowserBehavior::CannotOpen,
                    _ => {
                        return Err(Error::invalid_argument(format!(
                            "--mock-browser takes sign-in, cancel, never-finish or cannot-open, \
                             not '{value}'"
                        )));
                    }
                });
            }
            _ => return Err(bad(arg.unexpected())),
        }
    }
    if a.scopes.is_empty() {
        return Err(Error::invalid_argument(
            "at least one --scope is required, e.g. --scope https://graph.microsoft.com/.default",
        ));
    }
    if a.allow_unencrypted_storage && a.cache_name.is_none() {
        return Err(Error::invalid_argument(
            "--allow-unencrypted-storage only applies to a persistent cache: add --cache-name NAME",
        ));
    }
    if a.mock_port.is_some() && !a.mock {
        return Err(Error::invalid_argument(
            "--mock-port only applies with --mock",
        ));
    }
    if a.mock_browser.is_some() && !a.mock {
        return Err(Error::invalid_argument(
            "--mock-browser only applies with --mock",
        ));
    }
    Ok(Some(a))
}

/// Announces the sign-in URL on stderr, then lets `inner` open it.
#[derive(Debug)]
struct Announce {
    inner: Arc<dyn BrowserOpener>,
    what: &'static str,
    opened: AtomicUsize,
}

#[async_trait]
impl BrowserOpener for Announce {
    async fn open(&self, url: &str) -> std::result::Result<(), BrowserOpenError> {
        self.opened.fetch_add(1, Ordering::Relaxed);
        eprintln!("Signing in: opening {} at\n  {url}", self.what);
        let result = self.inner.open(url).await;
        if let Err(e) = &result {
            eprintln!("Could not open {}: {e}", self.what);
        }
        result
    }
}

/// Whether this machine has no way to open a browser: an SSH session or a container on Linux
/// or the BSDs with no display and no `BROWSER` (as `az login` decides).
fn no_browser_here() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return false;
    }
    let remote = set("SSH_CONNECTION")
        || set("SSH_TTY")
        || std::path::Path::new("/.dockerenv").exists()
        || set("container");
    remote && !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("BROWSER")
}

/// Paste-back against the embedded mock: a "browser elsewhere" signs in at the sign-in URL and
/// pastes the address it ends on.
#[derive(Debug)]
struct MockPaste(reqwest::Client);

#[async_trait]
impl PasteRedirect for MockPaste {
    async fn paste(&self, sign_in_url: &str) -> std::result::Result<Secret, BrowserOpenError> {
        let response = self.0.get(sign_in_url).send().await.map_err(|e| {
            BrowserOpenError::new("the mock's sign-in page could not be loaded").with_source(e)
        })?;
        let ended_on = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| BrowserOpenError::new("the mock did not redirect after sign-in"))?;
        eprintln!(
            "The mock's user signed in elsewhere and pasted the address the browser ended on."
        );
        Ok(Secret::new(ended_on))
    }
}

/// An opener that opens nothing: the credential then uses its device code fallback.
#[derive(Debug)]
struct NoBrowser;

#[async_trait]
impl BrowserOpener for NoBrowser {
    async fn open(&self, _url: &str) -> std::result::Result<(), BrowserOpenError> {
        Err(BrowserOpenError::new("the device code flow was chosen"))
    }
}

/// Shows the device code on stderr; with the embedded mock, the mock's user enters it at once.
fn device_code_prompt(
    mock: Option<Arc<MockEntra>>,
) -> impl Fn(&entra_device_code::DeviceCodeInfo) + Send + Sync + 'static {
    move |info| {
        eprintln!("{}", info.message);
        if let Some(mock) = &mock {
            let approved = mock.approve_device_code(&info.user_code);
            eprintln!(
                "The mock's user entered the code {} ({})",
                info.user_code,
                if approved { "approved" } else { "unknown code" }
            );
        }
    }
}

/// An HTTP client that also trusts the roots in `SSL_CERT_FILE`, when it is set.
fn http_client_from_env() -> Result<Option<reqwest::Client>> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let pem = std::fs::read(&path).map_err(|e| {
        Error::invalid_argument(format!("SSL_CERT_FILE: cannot read {}", path.display()))
            .with_source(e)
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Error::invalid_argument(format!(
            "SSL_CERT_FILE: {} is not a PEM file of certificates",
            path.display()
        ))
        .with_source(e)
    })?;
    eprintln!(
        "Trusting {} extra root certificate(s) from {}",
        certs.len(),
        path.display()
    );
    let client = reqwest::Client::builder()
        .tls_certs_merge(certs)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| {
            Error::credential_unavailable("could not build the HTTP client").with_source(e)
        })?;
    Ok(Some(client))
}

/// The largest record file read (a record is about 300 bytes).
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// Reads a small text file: only a regular file (never a FIFO or a device), at most `limit`
/// bytes (never a buffer sized from the length the file claims).
fn read_small(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    // Looked at before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() || meta.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a regular file of at most {limit} bytes"),
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(limit)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The first bytes of a file (never more), empty when it cannot be read.
fn read_head(path: &Path) -> Vec<u8> {
    use std::io::Read as _;
    let mut head = Vec::new();
    if std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && let Ok(file) = std::fs::File::open(path)
    {
        let _ = file.take(64).read_to_end(&mut head);
    }
    head
}

fn read_record(path: &Path) -> Result<Option<AuthenticationRecord>> {
    match read_small(path, MAX_RECORD_BYTES) {
        Ok(text) => {
            let record = AuthenticationRecord::deserialize(&text).map_err(|e| {
                Error::invalid_argument(format!("--record {}: {}", path.display(), e.message()))
            })?;
            eprintln!(
                "Using the account in {}: {} (tenant {})",
                path.display(),
                record.username(),
                record.tenant_id()
            );
            Ok(Some(record))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::invalid_argument(format!(
            "--record {}: cannot read the file",
            path.display()
        ))
        .with_source(e)),
    }
}

/// What a run produced besides the token, for stderr.
#[derive(Debug, Default)]
struct RunStats {
    mock_requests: Option<u64>,
    token_time: Duration,
    cache_storage: Option<&'static str>,
}

async fn run(args: &Args, stats: &mut RunStats) -> Result<AccessTokenInfo> {
    let mock = if args.mock {
        let mut builder = MockEntra::builder();
        if let Some(port) = args.mock_port {
            builder = builder.port(port);
        }
        let mock = builder.start().await.map_err(|e| {
            Error::credential_unavailable("could not start the mock identity provider")
                .with_source(e)
        })?;
        eprintln!(
            "Mock Entra ID listening on {}; login.microsoftonline.com (and the other cloud \
             hosts) resolve to it. Signs in as {}.",
            mock.base_url(),
            mock.default_user().username()
        );
        Some(Arc::new(mock))
    } else {
        None
    };
    let started = Instant::now();

    let mut options = InteractiveBrowserCredentialOptions::default()
        .with_disable_instance_discovery(args.disable_instance_discovery)
        .with_disable_automatic_authentication(args.no_prompt)
        .with_additionally_allowed_tenants(args.additionally_allowed_tenants.iter().cloned());
    if let Some(v) = &args.authority {
        options = options.with_authority(v.clone());
    }
    if let Some(v) = &args.tenant_id {
        options = options.with_tenant_id(v.clone());
    }
    if let Some(v) = &args.client_id {
        options = options.with_client_id(v.clone());
    }
    if let Some(v) = &args.redirect_uri {
        options = options.with_redirect_uri(v.clone());
    }
    if let Some(v) = &args.login_hint {
        options = options.with_login_hint(v.clone());
    }
    if let Some(v) = args.timeout {
        options = options.with_timeout(v);
    }
    let persistence = args.cache_name.as_ref().map(|name| {
        TokenCachePersistenceOptions::default()
            .with_name(name.clone())
            .with_allow_unencrypted_storage(args.allow_unencrypted_storage)
    });
    if let Some(p) = &persistence {
        options = options.with_cache_persistence_options(p.clone());
    }
    if let Some(path) = &args.record
        && let Some(record) = read_record(path)?
    {
        options = options.with_authentication_record(record);
    }
    let browser = if let Some(mock) = &mock {
        let stand_in = HeadlessBrowser::builder(mock)
            .behavior(args.mock_browser.unwrap_or(BrowserBehavior::SignIn))
            .build();
        options = options.with_http_client(mock.resolving_http_client());
        Arc::new(Announce {
            inner: Arc::new(stand_in),
            what: "the mock's headless browser stand-in",
            opened: AtomicUsize::new(0),
        })
    } else {
        if let Some(client) = http_client_from_env()? {
            options = options.with_http_client(client);
        }
        Arc::new(Announce {
            inner: Arc::new(SystemBrowser::default()),
            what: "your browser",
            opened: AtomicUsize::new(0),
        })
    };
    options = options.with_browser(browser.clone());
    if args.paste_redirect {
        let paste: Arc<dyn PasteRedirect> = match &mock {
            Some(mock) => Arc::new(MockPaste(mock.resolving_http_client())),
            None => Arc::new(PasteFromStdin::default()),
        };
        options = options.with_paste_redirect(paste);
    }
    let device_code =
        args.device_code || (mock.is_none() && !args.paste_redirect && no_browser_here());
    if device_code {
        if !args.device_code {
            eprintln!(
                "No browser can be opened here (no display in this SSH session or container): \
                 signing in with a device code instead. Pass --device-code to choose it yourself."
            );
        }
        options = options
            .with_browser(Arc::new(NoBrowser))
            .with_device_code_fallback_prompt(device_code_prompt(mock.clone()));
    }

    let credential = InteractiveBrowserCredential::new(options)?;
    let mut request = TokenRequestOptions::default().with_enable_cae(args.enable_cae);
    if let Some(claims) = &args.claims {
        request = request.with_claims(claims.clone());
    }
    if let Some(tenant) = &args.request_tenant_id {
        request = request.with_tenant_id(tenant.clone());
    }
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let result = credential.get_token_info(&scopes, Some(request)).await;
    stats.token_time = started.elapsed();

    if let Some(mock) = &mock {
        let requests = mock.requests();
        stats.mock_requests = Some(requests.len() as u64);
        let mut line = format!("Mock Entra ID received {} request(s)", requests.len());
        for (i, r) in requests.iter().enumerate() {
            line.push_str(if i == 0 { ": " } else { ", " });
            line.push_str(&format!("{} {}", r.method(), r.path()));
            if let Some(grant) = r.grant_type() {
                line.push_str(&format!(" ({grant})"));
            }
        }
        eprintln!("{line}");
        if let Some(authorize) = mock.last_request(Endpoint::Authorize) {
            eprintln!(
                "Authorize request received by the mock:\n  {}",
                redacted_request_url(&authorize)
            );
        }
        if mock.count(Endpoint::Token) > 0 {
            let caps = mock.last_client_capabilities().unwrap_or_default();
            eprintln!(
                "Last token request: client capabilities [{}], claims {}",
                caps.join(", "),
                if mock.last_claims().is_some() {
                    "sent"
                } else {
                    "none"
                }
            );
        }
    }
    let info = result?;

    if browser.opened.load(Ordering::Relaxed) > 0
        && let Some(record) = credential.authentication_record()
    {
        eprintln!(
            "Signed in as {} (tenant {})",
            record.username(),
            record.tenant_id()
        );
    }
    if let Some(path) = &args.record
        && let Some(record) = credential.authentication_record()
    {
        let text = record.serialize();
        if read_small(path, MAX_RECORD_BYTES).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(path, &text).map_err(|e| {
                Error::credential_unavailable(format!(
                    "could not save the authentication record to {}",
                    path.display()
                ))
                .with_source(e)
            })?;
            eprintln!("Saved the account record to {}", path.display());
        }
    }
    if let Some(p) = &persistence
        && let Ok(path) = p.path(args.enable_cae)
    {
        let head = read_head(&path);
        stats.cache_storage = Some(if head.starts_with(b"entra-rs encrypted token cache") {
            "encrypted"
        } else if head.is_empty() {
            "empty"
        } else {
            "plaintext"
        });
        eprintln!(
            "Token cache: {} ({})",
            path.display(),
            stats.cache_storage.unwrap_or("unknown")
        );
    }
    Ok(info)
}

/// Query parameters whose values are one-time secrets: shown as `<redacted>`.
const REDACTED_PARAMS: [&str; 3] = ["state", "nonce", "code_challenge"];

/// The URL of a request the mock received, one-time values redacted.
fn redacted_request_url(r: &RecordedRequest) -> String {
    let Ok(mut url) = url::Url::parse(&format!("https://{}{}", r.host(), r.path())) else {
        return format!("https://{}{}", r.host(), r.path());
    };
    url.query_pairs_mut()
        .extend_pairs(r.query().iter().map(|(k, v)| {
            let v = if REDACTED_PARAMS.contains(&k.as_str()) {
                "<redacted>"
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        }));
    url.to_string()
}

/// The peak resident set size of this process in KiB (`VmHWM`, Linux only).
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn exit_code(err: &Error) -> u8 {
    match err.kind() {
        ErrorKind::InvalidArgument => 2,
        ErrorKind::CredentialUnavailable => 3,
        ErrorKind::ClientAuthentication { .. } => 4,
        ErrorKind::AuthenticationRequired { .. } => 5,
        _ => 1,
    }
}

/// The error and its causes on one line.
fn one_line(err: &Error) -> String {
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("error ({}): {}", err.kind_name(), one_line(&err));
            eprintln!("Run with --help for the flags.");
            return ExitCode::from(exit_code(&err));
        }
    };
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error (unavailable): could not start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let mut stats = RunStats::default();
    let result = runtime.block_on(run(&args, &mut stats));
    // Stop the mock and the loopback server before reporting.
    drop(runtime);
    if std::env::var_os("ENTRA_GET_TOKEN_STATS").is_some() {
        let line = serde_json::json!({
            "mockRequests": stats.mock_requests,
            "tokenMs": stats.token_time.as_secs_f64() * 1e3,
            "vmHwmKib": vm_hwm_kib(),
            "cacheStorage": stats.cache_storage,
            "ok": result.is_ok(),
        });
        eprintln!("get_token-stats {line}");
    }
    match result {
        Ok(info) => {
            let mut out = serde_json::json!({
                "accessToken": info.token.secret(),
                "expiresOn": info.expires_on.unix_timestamp(),
                "tokenType": info.token_type,
            });
            if let (Some(refresh_on), Some(map)) = (info.refresh_on, out.as_object_mut()) {
                map.insert("refreshOn".to_owned(), refresh_on.unix_timestamp().into());
            }
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error ({}): {}", err.kind_name(), one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn every_flag_is_parsed() {
        let a = parse(&[
            "--scope",
            "s1",
            "--scope=s2",
            "--authority",
            "login.microsoftonline.us",
            "--tenant-id",
            "t",
            "--client-id",
            "c",
            "--redirect-uri",
            "http://localhost:8400",
            "--login-hint",
            "u@x",
            "--timeout",
            "30",
            "--disable-instance-discovery",
            "--enable-cae",
            "--claims",
            "{}",
            "--cache-name",
            "n",
            "--allow-unencrypted-storage",
            "--record",
            "r.json",
            "--no-prompt",
            "--request-tenant-id",
            "rt",
            "--additionally-allowed-tenant",
            "a1",
            "--additionally-allowed-tenant",
            "*",
            "--mock",
            "--mock-browser",
            "cancel",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.scopes, ["s1", "s2"]);
        assert_eq!(a.timeout, Some(Duration::from_secs(30)));
        assert_eq!(a.additionally_allowed_tenants, ["a1", "*"]);
        assert_eq!(a.record.as_deref(), Some(Path::new("r.json")));
        assert!(a.disable_instance_discovery && a.enable_cae && a.no_prompt && a.mock);
        assert_eq!(a.mock_browser, Some(BrowserBehavior::Cancel));
    }

    #[test]
    fn bad_input_is_an_invalid_argument() {
        for bad in [
            &[][..],
            &["--scope"],
            &["--scope", "s", "--timeout", "soon"],
            &["--scope", "s", "--timeout", "0"],
            &["--scope", "s", "--claims", "not json"],
            &["--scope", "s", "--allow-unencrypted-storage"],
            &["--scope", "s", "--mock-browser", "cancel"],
            &["--scope", "s", "--unknown"],
            &["--scope", "s", "positional"],
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad:?}");
        }
        assert!(parse(&["--help"]).unwrap().is_none());
    }
}
