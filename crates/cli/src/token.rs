//! `entra get-token`: builds an `InteractiveBrowserCredential` (or its device code and
//! paste-back variants) from the flags and gets one token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use entra_browser_flow::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, PasteFromStdin,
    PasteRedirect, SystemBrowser, TokenCachePersistenceOptions,
};
use entra_core::{
    AccessTokenInfo, AuthenticationRecord, BrowserOpenError, BrowserOpener, Error, Reason, Result,
    TokenRequestOptions,
};

use crate::accounts;
use crate::args::Args;
use crate::kube::ExecInfo;
use crate::mock::Mock;

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
        say!("Signing in: opening {} at\n  {url}", self.what);
        let result = self.inner.open(url).await;
        if let Err(e) = &result {
            say!("Could not open {}: {e}", self.what);
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
    approve: Option<crate::mock::Approve>,
    chosen_here: bool,
) -> impl Fn(&entra_device_code::DeviceCodeInfo) + Send + Sync + 'static {
    move |info| {
        if chosen_here {
            // Said only now that the user must act: a token from the cache prints nothing.
            say!(
                "No browser can be opened here (no display in this SSH session or container): \
                 signing in with a device code instead. Pass --device-code to choose it yourself."
            );
        }
        say!("{}", info.message);
        if let Some(approve) = &approve {
            let approved = approve(&info.user_code);
            say!(
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
    let pem = read_small(&path, 16 * 1024 * 1024).map_err(|e| {
        Error::invalid_argument(format!("SSL_CERT_FILE: cannot read {}", path.display()))
            .with_source(e)
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
        Error::invalid_argument(format!(
            "SSL_CERT_FILE: {} is not a PEM file of certificates",
            path.display()
        ))
        .with_source(e)
    })?;
    note!(
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
/// bytes (never a buffer sized from the length the file claims). What is checked is the file
/// that was opened (no check-then-open race), and opening never waits on a FIFO.
pub(crate) fn read_small(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a regular file of at most {limit} bytes"),
        ));
    }
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text)?;
    Ok(text)
}

/// Saves the record as the cache files are saved: a new file of mode 0600 beside `path`,
/// renamed over it, so a link at `path` is replaced (never followed) and a reader sees the
/// old record or the new one, never half of one.
fn write_record(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix(".entra-record-")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_data()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn read_record(path: &Path) -> Result<Option<AuthenticationRecord>> {
    match read_small(path, MAX_RECORD_BYTES) {
        Ok(text) => {
            let record = AuthenticationRecord::deserialize(&text).map_err(|e| {
                Error::invalid_argument(format!("--record {}: {}", path.display(), e.message()))
            })?;
            note!(
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

/// The persistent cache options of the flags, if any.
pub(crate) fn persistence(args: &Args) -> Option<TokenCachePersistenceOptions> {
    args.cache_name.as_ref().map(|name| {
        TokenCachePersistenceOptions::default()
            .with_name(name.clone())
            .with_allow_unencrypted_storage(args.allow_unencrypted_storage)
    })
}

/// A token and what `get-token` prints with it.
pub(crate) struct Got {
    pub(crate) info: AccessTokenInfo,
    /// The tenant the token is for.
    pub(crate) tenant: String,
}

/// Gets the token the flags ask for; `exec` is what kubectl said of the call (nothing when
/// not run by kubectl).
pub(crate) async fn run(args: &Args, exec: &ExecInfo) -> Result<Got> {
    if args.paste_redirect && exec.interactive == Some(false) {
        // kubectl gives the plugin no terminal: nothing could be pasted, and kubectl would
        // run the sign-in again and again.
        return Err(Error::credential_unavailable(
            "kubectl runs entra without a terminal, so no address can be pasted back: run the \
             same `entra get-token --paste-redirect ...` in a terminal once, and kubectl's calls \
             are then served from the cache",
        ));
    }
    let mock = Mock::start(args).await?;
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
    if let Some(v) = args.prompt {
        options = options.with_prompt(v);
    }
    if let Some(v) = &args.domain_hint {
        options = options.with_domain_hint(v.clone());
    }
    if let Some(v) = args.timeout {
        options = options.with_timeout(v);
    }
    // A broken SSL_CERT_FILE is reported before anything is read or sent.
    let env_client = match &mock {
        Some(_) => None,
        None => http_client_from_env()?,
    };
    let persistence = persistence(args);
    if let Some(p) = &persistence {
        options = options.with_cache_persistence_options(p.clone());
    }
    // The account: the record file's, else the one the persistent cache holds (or the one
    // --username names), as `az` uses its signed-in account.
    let record = match &args.record {
        Some(path) => read_record(path)?,
        None => None,
    };
    let record = match (record, &persistence) {
        (Some(record), _) => Some(record),
        (None, Some(p)) => accounts::record_from_cache(p, args).await?,
        (None, None) => None,
    };
    if let Some(record) = record {
        options = options.with_authentication_record(record);
    }
    let browser = if let Some(mock) = &mock {
        options = options.with_http_client(mock.http.clone());
        Arc::new(Announce {
            inner: Arc::clone(&mock.browser),
            what: "the mock's headless browser stand-in",
            opened: AtomicUsize::new(0),
        })
    } else {
        if let Some(client) = env_client {
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
            Some(mock) => Arc::clone(&mock.paste),
            None => Arc::new(PasteFromStdin::default()),
        };
        options = options.with_paste_redirect(paste);
    }
    let device_code =
        args.device_code || (mock.is_none() && !args.paste_redirect && no_browser_here());
    if device_code {
        options = options
            .with_browser(Arc::new(NoBrowser))
            .with_device_code_fallback_prompt(device_code_prompt(
                mock.as_ref().map(|m| Arc::clone(&m.approve)),
                !args.device_code,
            ));
    }

    let credential = InteractiveBrowserCredential::new(options).map_err(|e| {
        match (&args.record, e.reason()) {
            (Some(path), Reason::RecordMismatch) => Error::invalid_argument(format!(
                "--record {}: {}; change --authority or --client-id to the record's, or pass \
                 another --record (a file that does not exist yet signs in again)",
                path.display(),
                e.message()
            ))
            .with_reason(Reason::RecordMismatch),
            _ => e,
        }
    })?;
    let mut request = TokenRequestOptions::default().with_enable_cae(args.enable_cae);
    if let Some(claims) = &args.claims {
        request = request.with_claims(claims.clone());
    }
    if let Some(tenant) = &args.request_tenant_id {
        request = request.with_tenant_id(tenant.clone());
    }
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let result = credential.get_token_info(&scopes, Some(request)).await;
    if let Some(mock) = &mock {
        mock.report();
    }
    let info = result?;

    let record = credential.authentication_record();
    if browser.opened.load(Ordering::Relaxed) > 0
        && let Some(record) = &record
    {
        say!(
            "Signed in as {} (tenant {})",
            record.username(),
            record.tenant_id()
        );
    }
    if let Some(path) = &args.record
        && let Some(record) = &record
    {
        let text = record.serialize();
        if read_small(path, MAX_RECORD_BYTES).ok().as_deref() != Some(text.as_str()) {
            write_record(path, &text).map_err(|e| {
                Error::credential_unavailable(format!(
                    "could not save the authentication record to {}",
                    path.display()
                ))
                .with_source(e)
            })?;
            note!("Saved the account record to {}", path.display());
        }
    }
    if let Some(p) = &persistence
        && let Ok(path) = p.path(args.enable_cae)
    {
        note!("Token cache: {}", path.display());
    }
    let tenant = args
        .request_tenant_id
        .clone()
        .or_else(|| record.map(|r| r.tenant_id().to_owned()))
        .or_else(|| args.tenant_id.clone())
        .unwrap_or_else(|| "organizations".to_owned());
    Ok(Got { info, tenant })
}
