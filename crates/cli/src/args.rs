//! The command line, declared with clap's derive: help per subcommand, suggestions for typos,
//! conflicts and allowed values come from the declarations. Every flag of the old `get_token`
//! example keeps its name (also without a subcommand); az's names are aliases. What clap
//! parses is turned into plain [`Args`] values the rest of the command uses.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use entra_core::{Error, Result};

/// The default persistent cache: the one Azure Identity's SDKs share.
pub(crate) const DEFAULT_CACHE_NAME: &str = "msal.cache";

/// What `get-token` prints.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// `az account get-access-token`'s JSON.
    #[default]
    Json,
    /// A Kubernetes `ExecCredential` (kubectl credential plugin).
    ExecCredential,
    /// az's `-o tsv`: the values, tab-separated (with `--query`, the one value).
    #[value(skip)]
    Tsv,
}

/// What the embedded mock's browser stand-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MockBrowser {
    SignIn,
    Cancel,
    NeverFinish,
    CannotOpen,
}

/// `--prompt`'s values, as Entra ID's `prompt` parameter names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum PromptArg {
    SelectAccount,
    Login,
    Consent,
    Create,
    None,
}

impl From<PromptArg> for entra_browser_flow::Prompt {
    fn from(p: PromptArg) -> Self {
        match p {
            PromptArg::SelectAccount => Self::SelectAccount,
            PromptArg::Login => Self::Login,
            PromptArg::Consent => Self::Consent,
            PromptArg::Create => Self::Create,
            PromptArg::None => Self::NoInteraction,
        }
    }
}

/// The flags of `get-token` (and the cache flags the other commands share), as plain values.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Args {
    pub(crate) scopes: Vec<String>,
    pub(crate) authority: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) login_hint: Option<String>,
    pub(crate) prompt: Option<entra_browser_flow::Prompt>,
    pub(crate) domain_hint: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) disable_instance_discovery: bool,
    pub(crate) enable_cae: bool,
    pub(crate) claims: Option<String>,
    /// `None`: no persistent cache (`--no-cache`, or `--mock` without `--cache-name`).
    pub(crate) cache_name: Option<String>,
    pub(crate) allow_unencrypted_storage: bool,
    pub(crate) record: Option<PathBuf>,
    pub(crate) username: Option<String>,
    pub(crate) no_prompt: bool,
    pub(crate) device_code: bool,
    pub(crate) paste_redirect: bool,
    pub(crate) request_tenant_id: Option<String>,
    pub(crate) additionally_allowed_tenants: Vec<String>,
    pub(crate) output: Output,
    pub(crate) mock: bool,
    pub(crate) mock_browser: Option<MockBrowser>,
    pub(crate) mock_port: Option<u16>,
    /// `-v`: also say which account, cache and roots were used.
    pub(crate) verbose: bool,
    /// `--strict-cache` (or `ENTRA_STRICT_CACHE=1`): no plaintext fallback without an OS
    /// secret store.
    pub(crate) strict_cache: bool,
    /// Run as `az` (or `entra login`/`logout`): az's output and error line.
    pub(crate) az: bool,
    /// az's `--subscription`: accepted and echoed (the token does not depend on it).
    pub(crate) subscription: Option<String>,
    /// az's `--query FIELD`: print one field.
    pub(crate) query: Option<String>,
    /// `login`: sign in whoever is cached (no account from the record file or the cache).
    pub(crate) fresh_sign_in: bool,
}

impl Args {
    /// The persistent cache options of the flags, if any.
    ///
    /// Unlike the library (which keeps Python's strict default), the command keeps its cache in
    /// MSAL's plaintext file (mode 0600, msal-extensions' path) when no OS secret store is usable,
    /// as az and kubelogin do on a headless machine; `--strict-cache` refuses instead.
    pub(crate) fn persistence(&self) -> Option<entra_cache::TokenCachePersistenceOptions> {
        self.cache_name.as_ref().map(|name| {
            entra_cache::TokenCachePersistenceOptions::default()
                .with_name(name.clone())
                .with_allow_unencrypted_storage(
                    self.allow_unencrypted_storage || !self.strict_cache,
                )
        })
    }
}

/// Azure Resource Manager as az names it: `login`'s resource and az's default.
pub(crate) const ARM_RESOURCE: &str = "https://management.core.windows.net/";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Text clap wrote for `--help`, `help` or a bare `entra`.
    Help(String),
    Version,
    GetToken(Args),
    Accounts(Args),
    SignOut(Args),
    /// `entra login` / `az login`: sign in and save the account `az` answers for.
    Login(Args),
    /// `entra logout` / `az logout`: sign that account out.
    Logout(Args),
    /// `entra kubeconfig convert`.
    ConvertKubeconfig(crate::kubeconfig::Convert),
    /// `entra completions SHELL`: the shell's completion script.
    Completions(clap_complete::Shell),
}

const EXIT_CODES: &str = "\
EXIT CODES:
    0  success
    1  an unexpected failure
    2  invalid argument (a flag, the record file, an unknown account)
    3  unavailable (no browser, no port, no usable OS secret store with --strict-cache, no mock
       in this build)
    4  authentication failed (the sign-in failed, was cancelled or timed out; the cache is
       unreadable)
    5  authentication required (--no-prompt and no cached token)

ENVIRONMENT:
    SSL_CERT_FILE                     a PEM file of extra root certificates to trust
    BROWSER                           the browser to open (Linux and the BSDs)
    ENTRA_TOKEN_CACHE_DIR             the directory of persistent caches (default ~/.IdentityService)
    ENTRA_STRICT_CACHE                1: as --strict-cache
    ENTRA_DISABLE_INSTANCE_DISCOVERY  1: as --disable-instance-discovery (for the command lines
                                      kubectl and the SDKs write: a private cloud, AD FS)
    AZURE_AUTHORITY_HOST              the authority host when --authority is not given
    KUBERNETES_EXEC_INFO              set by kubectl: the ExecCredential version to answer
    RUST_LOG                          tracing filter, e.g. entra_browser_flow=debug

Under the name `az` (a link), entra answers `az account get-access-token` as every Azure SDK's
AzureCliCredential runs it, from the account `entra login` saved, never prompting.";

/// Microsoft Entra ID access tokens on the command line.
///
/// `get-token` prints what `az account get-access-token` prints (accessToken, expiresOn in local
/// time, expires_on in Unix seconds, tenant, tokenType), or with `--output exec-credential` a
/// Kubernetes ExecCredential for a kubeconfig `exec` entry (AKS: --scope
/// 6dae42f8-4368-4678-94ff-3960e28e3630/.default), in the version kubectl asks for in
/// KUBERNETES_EXEC_INFO. Only what you must act on goes to stderr: a token served from the cache
/// prints nothing there (-v says which account and cache were used). `entra --scope SCOPE ...`
/// is `entra get-token --scope SCOPE ...`.
#[derive(Debug, Parser)]
#[command(
    name = "entra",
    version,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true,
    after_long_help = EXIT_CODES,
    after_help = "Run `entra --help` for the exit codes and the environment."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// `entra --scope ...`: get-token without the subcommand, as the get_token example took it.
    #[command(flatten)]
    get_token: TokenFlags,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Print an access token (az's JSON, or a kubectl ExecCredential).
    GetToken(TokenFlags),
    /// Sign in (Azure Resource Manager by default) and save the account that `az` (a link to
    /// entra) answers for.
    Login(TokenFlags),
    /// Sign the account `login` saved out of the token cache.
    Logout(CacheFlags),
    /// List the token cache's accounts of the authority (--authority, AZURE_AUTHORITY_HOST,
    /// else the public cloud), as get-token picks from them.
    Accounts(CacheFlags),
    /// Remove one account's tokens from the token cache.
    SignOut(CacheFlags),
    /// kubeconfig tools (kubelogin's convert-kubeconfig).
    #[command(subcommand)]
    Kubeconfig(KubeconfigSub),
    /// Token cache tools.
    #[command(subcommand)]
    Cache(CacheSub),
    /// Print a shell completion script: `entra completions bash > /etc/bash_completion.d/entra`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum KubeconfigSub {
    /// Rewrite a kubeconfig's AKS users (the legacy `azure` auth-provider and kubelogin `exec`
    /// entries) into `entra` exec entries, keeping server id, tenant and client id.
    Convert(crate::kubeconfig::ConvertFlags),
}

#[derive(Debug, Subcommand)]
enum CacheSub {
    /// Remove a user's tokens from the token cache (as sign-out; kubelogin's remove-tokens).
    Clear(CacheFlags),
}

/// Parses a `--timeout` value.
fn seconds(value: &str) -> std::result::Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".to_owned()),
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => Err("takes a whole number of seconds".to_owned()),
    }
}

/// Parses a `--claims` value: a JSON object.
fn claims_object(value: &str) -> std::result::Result<String, String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(_)) => Ok(value.to_owned()),
        _ => Err(
            "must be a JSON object, e.g. '{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1700000000\"}}}'"
                .to_owned(),
        ),
    }
}

/// The flags of `get-token` and `login`.
#[derive(Debug, Default, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
struct TokenFlags {
    /// A scope to request (repeatable), e.g. https://graph.microsoft.com/.default.
    #[arg(long = "scope", visible_alias = "scopes", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// az's form: requests URI/.default.
    #[arg(long, value_name = "URI")]
    resource: Vec<String>,
    #[command(flatten)]
    cache: CacheFlags,
    /// Loopback redirect URI, e.g. http://localhost:8400 (default: the first free port of
    /// 8400-8999).
    #[arg(long, value_name = "URI")]
    redirect_uri: Option<String>,
    /// Pre-fill the username on the sign-in page.
    #[arg(long, value_name = "USERNAME")]
    login_hint: Option<String>,
    /// Entra ID's prompt behaviour (default: select_account).
    #[arg(long, value_enum)]
    prompt: Option<PromptArg>,
    /// Send the user to the domain's sign-in page (e.g. contoso.com).
    #[arg(long, value_name = "DOMAIN")]
    domain_hint: Option<String>,
    /// How long to wait for the user, in seconds (default: 300).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    timeout: Option<Duration>,
    /// Request a token that supports Continuous Access Evaluation.
    #[arg(long)]
    enable_cae: bool,
    /// Claims to request (a resource's claims challenge), a JSON object.
    #[arg(long, value_name = "JSON", value_parser = claims_object)]
    claims: Option<String>,
    /// Load the AuthenticationRecord from PATH if it exists; save it there after signing in
    /// (default: the cache's account).
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    /// Never sign in interactively: fail with exit code 5.
    #[arg(long)]
    no_prompt: bool,
    /// Sign in with a device code (enter it on any device) instead of a browser; chosen by
    /// itself when no browser can be opened here (an SSH session without a display).
    #[arg(
        long,
        conflicts_with = "paste_redirect",
        visible_alias = "use-device-code"
    )]
    device_code: bool,
    /// Print the sign-in URL; sign in with a browser on any machine and paste back the address
    /// it ends on.
    #[arg(long)]
    paste_redirect: bool,
    /// Request the token from this tenant.
    #[arg(long, value_name = "TENANT")]
    request_tenant_id: Option<String>,
    /// Another tenant --request-tenant-id may name (repeatable; * = any).
    #[arg(long = "additionally-allowed-tenant", value_name = "TENANT")]
    additionally_allowed_tenants: Vec<String>,
    /// json (az's fields) or exec-credential (kubectl).
    #[arg(short, long, value_enum, default_value_t = Output::Json)]
    output: Output,
    /// Run against an embedded mock Entra ID with a headless browser stand-in (a binary built
    /// with `--features mock`; no internet).
    #[arg(long)]
    mock: bool,
    /// The embedded mock listens on this port (default: any free one).
    #[arg(long, value_name = "PORT", requires = "mock")]
    mock_port: Option<u16>,
    /// What the mock's browser stand-in does.
    #[arg(long, value_enum, requires = "mock")]
    mock_browser: Option<MockBrowser>,
}

/// The flags every command shares: where the tokens are cached and for which application.
#[derive(Debug, Default, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
struct CacheFlags {
    /// Authority host, e.g. login.microsoftonline.us (default: $AZURE_AUTHORITY_HOST, else the
    /// public cloud).
    #[arg(long, value_name = "HOST")]
    authority: Option<String>,
    /// Tenant GUID or domain (default: organizations).
    #[arg(long, visible_alias = "tenant", short = 't', value_name = "TENANT")]
    tenant_id: Option<String>,
    /// Application (client) id (default: the Azure development application).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Skip authority validation (trusted private clouds only).
    #[arg(long)]
    disable_instance_discovery: bool,
    /// The persistent token cache (default: msal.cache, the one the Azure Identity SDKs share;
    /// with --mock: none).
    #[arg(long, value_name = "NAME", conflicts_with = "no_cache")]
    cache_name: Option<String>,
    /// Keep tokens in memory only.
    #[arg(long)]
    no_cache: bool,
    /// Allow a plaintext cache file when no OS secret store is usable (this command's default).
    #[arg(long)]
    allow_unencrypted_storage: bool,
    /// Refuse a plaintext cache file (exit code 3 without an OS secret store); also
    /// ENTRA_STRICT_CACHE=1.
    #[arg(long, conflicts_with = "allow_unencrypted_storage")]
    strict_cache: bool,
    /// The cache's account to use (or to sign out).
    #[arg(long, value_name = "USERNAME")]
    username: Option<String>,
    /// Also say which account, cache and root certificates were used.
    #[arg(short, long)]
    verbose: bool,
}

impl CacheFlags {
    /// Into `a`, the persistent cache included: the shared one by default, none with
    /// `--no-cache`, or with the embedded mock unless named (its tokens must never land in a
    /// real cache).
    fn apply(self, a: &mut Args, mock: bool) {
        a.authority = self.authority;
        a.tenant_id = self.tenant_id;
        a.client_id = self.client_id;
        a.disable_instance_discovery = self.disable_instance_discovery;
        a.allow_unencrypted_storage = self.allow_unencrypted_storage;
        a.strict_cache = self.strict_cache
            || std::env::var("ENTRA_STRICT_CACHE").is_ok_and(|v| v == "1" || v == "true");
        a.username = self.username;
        a.verbose = self.verbose;
        a.cache_name = match (self.cache_name, self.no_cache || mock) {
            (Some(name), _) => Some(name),
            (None, true) => None,
            (None, false) => Some(DEFAULT_CACHE_NAME.to_owned()),
        };
    }

    fn into_args(self) -> Args {
        let mut a = Args::default();
        self.apply(&mut a, false);
        a
    }
}

impl TokenFlags {
    fn into_args(self) -> Args {
        let mut a = Args {
            scopes: self.scopes,
            redirect_uri: self.redirect_uri,
            login_hint: self.login_hint,
            prompt: self.prompt.map(Into::into),
            domain_hint: self.domain_hint,
            timeout: self.timeout,
            enable_cae: self.enable_cae,
            claims: self.claims,
            record: self.record,
            no_prompt: self.no_prompt,
            device_code: self.device_code,
            paste_redirect: self.paste_redirect,
            request_tenant_id: self.request_tenant_id,
            additionally_allowed_tenants: self.additionally_allowed_tenants,
            output: self.output,
            mock: self.mock,
            mock_browser: self.mock_browser,
            mock_port: self.mock_port,
            ..Args::default()
        };
        a.scopes.extend(
            self.resource
                .iter()
                .map(|r| format!("{}/.default", r.trim_end_matches('/'))),
        );
        self.cache.apply(&mut a, self.mock);
        a
    }
}

/// A clap error as the command's one error line: its message and tip, without the usage
/// block (help is one `--help` away).
pub(crate) fn clap_error(e: &clap::Error) -> Error {
    let rendered = e.render().to_string();
    let line = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join("; ");
    Error::invalid_argument(format!("{line} (see `entra --help`)"))
}

/// Parses the arguments (without the program name). With no subcommand, the flags are
/// `get-token`'s (as the `get_token` example took them).
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command> {
    let argv = std::iter::once(OsString::from("entra")).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Command::Help(e.render().to_string()))
                }
                clap::error::ErrorKind::DisplayVersion => Ok(Command::Version),
                _ => Err(clap_error(&e)),
            };
        }
    };
    let command = match cli.command {
        None => Command::GetToken(cli.get_token.into_args()),
        Some(Sub::GetToken(flags)) => Command::GetToken(flags.into_args()),
        Some(Sub::Login(flags)) => return login(flags.into_args(), false),
        Some(Sub::Logout(flags)) => {
            let mut a = flags.into_args();
            a.record = Some(crate::files::account_file()?);
            a.az = true;
            Command::Logout(a)
        }
        Some(Sub::Accounts(flags)) => Command::Accounts(flags.into_args()),
        Some(Sub::SignOut(flags) | Sub::Cache(CacheSub::Clear(flags))) => {
            Command::SignOut(flags.into_args())
        }
        Some(Sub::Kubeconfig(KubeconfigSub::Convert(flags))) => {
            Command::ConvertKubeconfig(flags.into_convert())
        }
        Some(Sub::Completions { shell }) => Command::Completions(shell),
    };
    check(command)
}

/// `entra login` (and az's `login`): get-token's flags, Azure Resource Manager's scope by
/// default, the account saved where `az` reads it.
pub(crate) fn login(mut a: Args, az: bool) -> Result<Command> {
    if a.scopes.is_empty() {
        a.scopes.push(format!("{}/.default", ARM_RESOURCE));
    }
    if a.record.is_none() {
        a.record = Some(crate::files::account_file()?);
    }
    a.az = az;
    a.fresh_sign_in = true;
    check(Command::Login(a))
}

/// az's `login` flags: get-token's (`--use-device-code`, `-t`/`--tenant` included).
pub(crate) fn parse_az_login(args: Vec<OsString>) -> Result<Command> {
    let argv = std::iter::once(OsString::from("entra")).chain(std::iter::once("login".into()));
    match parse(argv.skip(1).chain(args)) {
        Ok(Command::Login(a)) => login(a, true),
        other => other,
    }
}

/// What clap cannot declare: rules across the cache flags and the subcommand.
fn check(command: Command) -> Result<Command> {
    if let Command::GetToken(a) | Command::Login(a) = &command
        && a.scopes.is_empty()
    {
        return Err(Error::invalid_argument(
            "at least one --scope (or --resource) is required, e.g. --scope https://graph.microsoft.com/.default",
        ));
    }
    if let Command::GetToken(a)
    | Command::Login(a)
    | Command::Accounts(a)
    | Command::SignOut(a)
    | Command::Logout(a) = &command
    {
        if a.allow_unencrypted_storage && a.cache_name.is_none() {
            return Err(Error::invalid_argument(
                "--allow-unencrypted-storage only applies to a persistent cache: add --cache-name NAME",
            ));
        }
        if a.strict_cache && a.allow_unencrypted_storage {
            return Err(Error::invalid_argument(
                "--strict-cache (or ENTRA_STRICT_CACHE) refuses the plaintext cache that \
                 --allow-unencrypted-storage allows: choose one",
            ));
        }
    }
    if let Command::Accounts(a) | Command::SignOut(a) | Command::Logout(a) = &command
        && a.cache_name.is_none()
    {
        return Err(Error::invalid_argument(
            "--no-cache leaves no accounts to list or sign out",
        ));
    }
    Ok(command)
}

/// The completion script of `shell`.
pub(crate) fn completions(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory as _;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "entra", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(OsString::from))
    }

    fn token_args(args: &[&str]) -> Args {
        match parse_strs(args).unwrap() {
            Command::GetToken(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_flag_of_the_get_token_example_is_parsed_with_or_without_the_subcommand() {
        let flags = [
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
            "--prompt",
            "select_account",
        ];
        let bare = token_args(&flags);
        let mut with_sub = vec!["get-token"];
        with_sub.extend(flags);
        assert_eq!(token_args(&with_sub), bare);
        assert_eq!(bare.scopes, ["s1", "s2"]);
        assert_eq!(bare.timeout, Some(Duration::from_secs(30)));
        assert_eq!(bare.additionally_allowed_tenants, ["a1", "*"]);
        assert_eq!(bare.record.as_deref(), Some(std::path::Path::new("r.json")));
        assert_eq!(bare.cache_name.as_deref(), Some("n"));
        assert!(bare.disable_instance_discovery && bare.enable_cae && bare.no_prompt && bare.mock);
        assert_eq!(bare.mock_browser, Some(MockBrowser::Cancel));
        assert_eq!(bare.prompt, Some(entra_browser_flow::Prompt::SelectAccount));
    }

    #[test]
    fn az_names_are_aliases_and_the_shared_cache_is_the_default() {
        let a = token_args(&[
            "get-token",
            "--resource",
            "https://management.azure.com/",
            "--tenant",
            "contoso.com",
            "-o",
            "exec-credential",
        ]);
        assert_eq!(a.scopes, ["https://management.azure.com/.default"]);
        assert_eq!(a.tenant_id.as_deref(), Some("contoso.com"));
        assert_eq!(a.output, Output::ExecCredential);
        assert_eq!(a.cache_name.as_deref(), Some("msal.cache"));
        // Never the real cache with the mock, and none with --no-cache.
        assert_eq!(token_args(&["--mock", "--scope", "s"]).cache_name, None);
        assert_eq!(token_args(&["--no-cache", "--scope", "s"]).cache_name, None);
        assert!(matches!(
            parse_strs(&["accounts"]).unwrap(),
            Command::Accounts(Args { cache_name: Some(n), .. }) if n == "msal.cache"
        ));
        for sub in [&["sign-out"][..], &["cache", "clear"]] {
            let mut words = sub.to_vec();
            words.extend(["--username", "a@b"]);
            assert!(matches!(
                parse_strs(&words).unwrap(),
                Command::SignOut(Args { username: Some(u), .. }) if u == "a@b"
            ));
        }
        assert!(matches!(
            parse_strs(&["completions", "bash"]).unwrap(),
            Command::Completions(clap_complete::Shell::Bash)
        ));
    }

    #[test]
    fn bad_input_is_an_invalid_argument_with_clap_s_help() {
        for (bad, part) in [
            (&["--scope"][..], "--scope"),
            (
                &["--scope", "s", "--timeout", "soon"],
                "whole number of seconds",
            ),
            (&["--scope", "s", "--timeout", "0"], "at least 1 second"),
            (&["--scope", "s", "--claims", "not json"], "JSON object"),
            (
                &["--mock", "--scope", "s", "--allow-unencrypted-storage"],
                "--cache-name",
            ),
            (&["--scope", "s", "--mock-browser", "cancel"], "--mock"),
            (&["--scope", "s", "--scpoe", "x"], "--scope"),
            (&["--scope", "s", "positional"], "positional"),
            (&["--scope", "s", "--output", "yaml"], "exec-credential"),
            (&["--scope", "s", "--prompt", "maybe"], "select_account"),
            (
                &["--scope", "s", "--no-cache", "--cache-name", "n"],
                "--cache-name",
            ),
            (
                &["--scope", "s", "--device-code", "--paste-redirect"],
                "--paste-redirect",
            ),
            (&["accounts", "--scope", "s"], "--scope"),
            (&["accounts", "--no-cache"], "--no-cache"),
            (&["sign-out", "--no-prompt"], "--no-prompt"),
            (&["launch"], "launch"),
        ] {
            let err = parse_strs(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad:?}");
            assert!(err.message().contains(part), "{bad:?}: {err}");
            assert!(!err.message().contains('\n'), "one line: {err}");
        }
        // A typo gets a suggestion.
        let typo = parse_strs(&["--scope", "s", "--scpoe", "x"]).unwrap_err();
        assert!(typo.message().contains("similar"), "{typo}");
        for help in [&[][..], &["--help"], &["accounts", "-h"], &["help"]] {
            assert!(
                matches!(parse_strs(help).unwrap(), Command::Help(_)),
                "{help:?}"
            );
        }
        let Command::Help(per_subcommand) = parse_strs(&["accounts", "--help"]).unwrap() else {
            panic!()
        };
        assert!(!per_subcommand.contains("--login-hint"), "{per_subcommand}");
    }
}
