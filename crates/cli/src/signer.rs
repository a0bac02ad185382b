//! The credential `get-token` signs in with, built from the flags: the browser's
//! `InteractiveBrowserCredential` (with paste-back when asked), or a `DeviceCodeCredential`
//! when `--device-code` says so or no browser can be opened here. Both get the same shared
//! options (authority, tenant, client id, account, cache, HTTP client) from one place.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use entra_browser_flow::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, PasteFromStdin,
    PasteRedirect, SystemBrowser, TokenCachePersistenceOptions,
};
use entra_cache::CacheBackend;
use entra_core::{
    AccessTokenInfo, AuthenticationRecord, BrowserOpenError, BrowserOpener, Result,
    TokenRequestOptions,
};
use entra_device_code::{DeviceCodeCredential, DeviceCodeCredentialOptions, DeviceCodeInfo};

use crate::args::Args;
use crate::mock::{Approve, Mock};

/// How long the command waits for the user by default (the browser credential's default;
/// a device code's own lifetime, 15 minutes, can only shorten it).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Counts the times the user was asked to act (a browser opened, a device code shown).
type Prompted = Arc<AtomicUsize>;

/// Announces the sign-in URL on stderr, then lets `inner` open it.
#[derive(Debug)]
struct Announce {
    inner: Arc<dyn BrowserOpener>,
    what: &'static str,
    prompted: Prompted,
}

#[async_trait]
impl BrowserOpener for Announce {
    async fn open(&self, url: &str) -> std::result::Result<(), BrowserOpenError> {
        self.prompted.fetch_add(1, Ordering::Relaxed);
        say!(
            "Signing in: opening {} at\n  {url}\nWaiting for you to finish there (Ctrl-C to stop; \
             --device-code or --paste-redirect sign in without a browser here).",
            self.what
        );
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

/// Shows the device code on stderr; with the embedded mock, the mock's user enters it at once.
fn device_code_prompt(
    approve: Option<Approve>,
    chosen_here: bool,
    prompted: Prompted,
) -> impl Fn(&DeviceCodeInfo) + Send + Sync + 'static {
    move |info| {
        prompted.fetch_add(1, Ordering::Relaxed);
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

/// `ENTRA_DISABLE_INSTANCE_DISCOVERY=1`: `--disable-instance-discovery` for every run, also
/// the ones whose command line the user does not write (kubectl's, an SDK's `az`), for a
/// private cloud or AD FS whose authority Microsoft's discovery cannot know.
fn instance_discovery_disabled_by_env() -> bool {
    std::env::var("ENTRA_DISABLE_INSTANCE_DISCOVERY").is_ok_and(|v| v == "1" || v == "true")
}

/// The options every credential of the command shares, set on either options type (both
/// have the same `with_*` setters, from `entra-public-client`).
macro_rules! shared_options {
    ($options:expr, $args:expr, $record:expr, $persistence:expr, $http:expr) => {{
        let args: &Args = $args;
        let mut options = $options
            .with_disable_instance_discovery(
                args.disable_instance_discovery || instance_discovery_disabled_by_env(),
            )
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
        if let Some(record) = $record {
            options = options.with_authentication_record(record);
        }
        if let Some((p, backend)) = $persistence {
            // The request's partition through the backend the account lookup already opened;
            // the other one as configured.
            options = options.with_cache_persistence_options(p);
            options = if args.enable_cae {
                options.with_cae_cache_backend(backend)
            } else {
                options.with_cache_backend(backend)
            };
        }
        match $http {
            Some(Http::Client(client)) => options = options.with_http_client(client),
            Some(Http::Factory(factory)) => {
                options = options.with_http_client_factory(move || factory())
            }
            None => {}
        }
        options
    }};
}

/// The HTTP client a credential gets: the embedded mock's, or one built on first use.
pub(crate) enum Http {
    /// Built already.
    Client(reqwest::Client),
    /// Built when the first request is about to be sent.
    Factory(Arc<dyn Fn() -> Result<reqwest::Client> + Send + Sync>),
}

/// The credential, whichever way it signs in.
#[derive(Debug)]
enum Kind {
    Browser(Arc<InteractiveBrowserCredential>),
    DeviceCode(Arc<DeviceCodeCredential>),
}

/// The credential built from the flags, and whether it asked the user to act.
#[derive(Debug)]
pub(crate) struct Signer {
    kind: Kind,
    prompted: Prompted,
}

impl Signer {
    /// Builds the credential `args` ask for, signing in as `record` (if any) with the cache
    /// `persistence` (if any: the options, and the open backend of the request's partition)
    /// over `http` (if given).
    ///
    /// # Errors
    /// The credential's own checks (an invalid tenant, a record unlike `--authority`).
    pub(crate) fn build(
        args: &Args,
        mock: Option<&Mock>,
        record: Option<AuthenticationRecord>,
        persistence: Option<(TokenCachePersistenceOptions, Arc<dyn CacheBackend>)>,
        http: Option<Http>,
    ) -> Result<Self> {
        let prompted = Prompted::default();
        let http = http.or_else(|| mock.map(|m| Http::Client(m.http.clone())));
        let device_code =
            args.device_code || (mock.is_none() && !args.paste_redirect && no_browser_here());
        if device_code {
            let options = shared_options!(
                DeviceCodeCredentialOptions::default(),
                args,
                record,
                persistence,
                http
            )
            .with_timeout(args.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .with_prompt_callback(device_code_prompt(
                mock.map(|m| Arc::clone(&m.approve)),
                !args.device_code,
                Arc::clone(&prompted),
            ));
            return Ok(Self {
                kind: Kind::DeviceCode(DeviceCodeCredential::new(options)?),
                prompted,
            });
        }
        let mut options = shared_options!(
            InteractiveBrowserCredentialOptions::default(),
            args,
            record,
            persistence,
            http
        );
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
        let (inner, what): (Arc<dyn BrowserOpener>, _) = match mock {
            Some(mock) => (
                Arc::clone(&mock.browser),
                "the mock's headless browser stand-in",
            ),
            None => (Arc::new(SystemBrowser::default()), "your browser"),
        };
        options = options.with_browser(Arc::new(Announce {
            inner,
            what,
            prompted: Arc::clone(&prompted),
        }));
        if args.paste_redirect {
            let paste: Arc<dyn PasteRedirect> = match mock {
                Some(mock) => Arc::clone(&mock.paste),
                None => Arc::new(PasteFromStdin::default()),
            };
            options = options.with_paste_redirect(paste);
        }
        Ok(Self {
            kind: Kind::Browser(InteractiveBrowserCredential::new(options)?),
            prompted,
        })
    }

    /// A token for `scopes`.
    pub(crate) async fn get_token_info(
        &self,
        scopes: &[&str],
        options: TokenRequestOptions,
    ) -> Result<AccessTokenInfo> {
        match &self.kind {
            Kind::Browser(c) => c.get_token_info(scopes, Some(options)).await,
            Kind::DeviceCode(c) => c.get_token_info(scopes, Some(options)).await,
        }
    }

    /// The signed-in account.
    pub(crate) fn authentication_record(&self) -> Option<AuthenticationRecord> {
        match &self.kind {
            Kind::Browser(c) => c.authentication_record(),
            Kind::DeviceCode(c) => c.authentication_record(),
        }
    }

    /// Whether the user was asked to act (a browser opened, a device code shown).
    pub(crate) fn prompted(&self) -> bool {
        self.prompted.load(Ordering::Relaxed) > 0
    }
}
