//! `entra`: Microsoft Entra ID access tokens on the command line, over entra-rs's
//! `InteractiveBrowserCredential` (browser, device code or paste-back sign-in), with the token
//! cache the Azure Identity SDKs share.
//!
//! ```text
//! cargo install --path crates/cli            # or: cargo install entra-cli
//! entra get-token --scope https://graph.microsoft.com/.default
//! entra get-token --resource https://management.azure.com --output exec-credential
//! entra accounts
//! entra sign-out --username alice@contoso.com
//! ```
//!
//! `get-token` prints what `az account get-access-token` prints (`accessToken`, `expiresOn`,
//! `expires_on`, `tenant`, `tokenType`), or a Kubernetes `ExecCredential`. Run `entra --help`
//! for every flag and the exit codes.

use std::ffi::OsString;
use std::process::ExitCode;

use entra_core::{Error, ErrorKind, Result};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Writes a line to stderr, every character a terminal would act on shown escaped: the
/// command's messages quote text from servers, caches and record files (an Entra error
/// description, a device-code message, a username), which must not reach the terminal raw.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", entra_core::terminal_safe(&format!($($arg)*)))
    };
}

/// Like `say!`, only with `-v`: what the command used, which a silent call does not print.
macro_rules! note {
    ($($arg:tt)*) => {
        if crate::report::verbose() {
            say!($($arg)*);
        }
    };
}

mod accounts;
mod args;
mod kube;
mod mock;
mod report;
mod token;

use args::{Command, Output};

const USAGE: &str = "\
entra: Microsoft Entra ID access tokens on the command line

USAGE:
    entra get-token --scope SCOPE [--scope SCOPE ...] [OPTIONS]
    entra accounts [--cache-name NAME] [--allow-unencrypted-storage]
    entra sign-out [--username USERNAME] [--cache-name NAME] [--allow-unencrypted-storage]
    entra --scope SCOPE ...          (get-token, as the get_token example took it)

get-token prints, as `az account get-access-token` does:
    {\"accessToken\", \"expiresOn\" (local time, az's format), \"expires_on\" (Unix seconds),
     \"tenant\", \"tokenType\"}
or, with --output exec-credential, a Kubernetes ExecCredential for a kubeconfig `exec` entry
(AKS: --scope 6dae42f8-4368-4678-94ff-3960e28e3630/.default), in the version kubectl asks for in
KUBERNETES_EXEC_INFO (client.authentication.k8s.io/v1 or v1beta1; v1beta1 when it asks nothing).
accounts prints the accounts of the token cache; sign-out removes one account's tokens.
Only what you must act on (the sign-in URL, a device code) goes to stderr: a token served from
the cache prints nothing there (-v says which account and cache were used).

EXIT CODES:
    0  success
    1  an unexpected failure
    2  invalid argument (a flag, the record file, an unknown account)
    3  unavailable (no browser, no port, no usable OS secret store, no mock in this build)
    4  authentication failed (the sign-in failed, was cancelled or timed out; the cache is
       unreadable)
    5  authentication required (--no-prompt and no cached token)

CREDENTIAL OPTIONS:
    --scope SCOPE                   a scope to request (repeatable; at least one)
    --resource URI                  az's form: requests URI/.default
    --authority HOST                authority host, e.g. login.microsoftonline.us
                                    (default: $AZURE_AUTHORITY_HOST, else the public cloud)
    --tenant-id, --tenant TENANT    tenant GUID or domain (default: organizations)
    --client-id ID                  application (client) id (default: the Azure development app)
    --redirect-uri URI              loopback redirect URI, e.g. http://localhost:8400
                                    (default: the first free port of 8400-8999)
    --login-hint USERNAME           pre-fill the username on the sign-in page
    --prompt PROMPT                 select_account (default), login, consent, create or none
    --domain-hint DOMAIN            send the user to the domain's sign-in page (e.g. contoso.com)
    --timeout SECS                  how long to wait for the user (default: 300)
    --disable-instance-discovery    skip authority validation (trusted private clouds only)
    --cache-name NAME               the persistent token cache (default: msal.cache, the one the
                                    Azure Identity SDKs share; with --mock: none)
    --no-cache                      keep tokens in memory only
    --allow-unencrypted-storage     allow a plaintext cache file when no OS secret store is usable
    --record PATH                   load the AuthenticationRecord from PATH if it exists;
                                    save it there after signing in (default: the cache's account)
    --username USERNAME             the cache's account to use (or to sign out)
    --no-prompt                     never sign in interactively: fail with exit code 5
    --device-code                   sign in with a device code (enter it on any device) instead
                                    of a browser; chosen by itself when no browser can be
                                    opened here (an SSH session without a display)
    --paste-redirect                print the sign-in URL; sign in with a browser on any machine
                                    and paste back the address it ends on
    --additionally-allowed-tenant T another tenant --request-tenant-id may name (repeatable; * = any)

REQUEST OPTIONS:
    --request-tenant-id TENANT      request the token from this tenant
    --enable-cae                    request a token that supports Continuous Access Evaluation
    --claims JSON                   claims to request (a resource's claims challenge)
    -o, --output FORMAT             json (default) or exec-credential
    -v, --verbose                   also say which account, cache and root certificates were used

TESTING (a binary built with `--features mock`):
    --mock                          run against an embedded mock Entra ID with a headless
                                    browser stand-in (no internet)
    --mock-port PORT                the embedded mock listens on this port (default: any free one)
    --mock-browser BEHAVIOR         sign-in (default), cancel, never-finish, cannot-open
    -h, --help                      print this help
    --version                       print the version

ENVIRONMENT:
    SSL_CERT_FILE                   a PEM file of extra root certificates to trust
    BROWSER                         the browser to open (Linux and the BSDs)
    ENTRA_TOKEN_CACHE_DIR           the directory of persistent caches (default ~/.IdentityService)
    RUST_LOG                        tracing filter, e.g. entra_browser_flow=debug
";

/// JSON text with every character a terminal would act on written as a `\uXXXX` escape.
/// serde_json escapes C0 controls already; DEL, C1 controls and bidirectional overrides (in a
/// username, say) can only stand inside strings, where the escape means the same character.
fn json_terminal_safe(json: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if entra_core::is_unsafe_for_terminal(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The process exit code of an error (documented in the usage text).
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

/// `expiresOn` as az prints it: local time, `YYYY-MM-DD HH:MM:SS.ffffff`, whole seconds (az
/// formats a token's integer `expires_on`).
fn az_time(at: OffsetDateTime, local: UtcOffset) -> String {
    const AZ: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
    let t = at.to_offset(local).replace_nanosecond(0).unwrap_or(at);
    t.format(AZ).unwrap_or_default()
}

/// `status.expirationTimestamp` as Kubernetes reads it: RFC 3339 in UTC, whole seconds.
fn k8s_time(at: OffsetDateTime) -> String {
    let utc = at
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    utc.format(&Rfc3339).unwrap_or_default()
}

/// The JSON `get-token` prints.
fn token_output(
    got: &token::Got,
    output: Output,
    local: UtcOffset,
    exec: &kube::ExecInfo,
) -> serde_json::Value {
    let expires = got.info.expires_on;
    match output {
        Output::Json => serde_json::json!({
            "accessToken": got.info.token.secret(),
            "expiresOn": az_time(expires, local),
            "expires_on": expires.unix_timestamp(),
            "tenant": got.tenant,
            "tokenType": got.info.token_type,
        }),
        Output::ExecCredential => {
            kube::exec_credential(exec, got.info.token.secret(), &k8s_time(expires))
        }
    }
}

async fn dispatch(command: Command, local: UtcOffset) -> Result<serde_json::Value> {
    match command {
        Command::Help | Command::Version => Ok(serde_json::Value::Null),
        Command::GetToken(args) => {
            let output = args.output;
            // kubectl's request, read before anything is asked of the user.
            let exec = match output {
                Output::ExecCredential => kube::from_env()?,
                Output::Json => kube::ExecInfo {
                    api_version: kube::V1BETA1,
                    interactive: None,
                },
            };
            token::run(&args, &exec)
                .await
                .map(|got| token_output(&got, output, local, &exec))
        }
        Command::Accounts(args) => Ok(serde_json::Value::Array(
            accounts::accounts(&args)
                .await?
                .iter()
                .map(accounts::Account::to_json)
                .collect(),
        )),
        Command::SignOut(args) => {
            let (account, removed) = accounts::sign_out(&args).await?;
            say!(
                "Signed {} out{}",
                account.username,
                if removed {
                    ""
                } else {
                    " (no tokens were cached)"
                }
            );
            Ok(serde_json::json!({"signedOut": account.to_json(), "removed": removed}))
        }
    }
}

fn main() -> ExitCode {
    // Read while this process has one thread (the local offset cannot be read safely later).
    let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let command = match args::parse(std::env::args_os().skip(1).collect::<Vec<OsString>>()) {
        Ok(command) => command,
        Err(err) => {
            say!("error ({}): {}", err.kind_name(), one_line(&err));
            say!("Run `entra --help` for the commands and flags.");
            return ExitCode::from(exit_code(&err));
        }
    };
    if let Command::GetToken(a) | Command::Accounts(a) | Command::SignOut(a) = &command {
        report::set_verbose(a.verbose);
    }
    match &command {
        Command::Help => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("entra {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
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
            say!("error (unavailable): could not start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(dispatch(command, local));
    // Stop the mock and the loopback server before reporting.
    drop(runtime);
    match result {
        Ok(out) => {
            println!("{}", json_terminal_safe(&out.to_string()));
            ExitCode::SUCCESS
        }
        Err(err) => {
            say!("error ({}): {}", err.kind_name(), one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_printed_as_az_and_kubernetes_read_them() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(az_time(at, UtcOffset::UTC), "2027-01-15 08:00:00.000000");
        let plus2 = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(az_time(at, plus2), "2027-01-15 10:00:00.000000");
        let got = token::Got {
            info: entra_core::AccessTokenInfo::new("tok", at),
            tenant: "t".to_owned(),
        };
        let v1 = kube::ExecInfo {
            api_version: kube::V1,
            interactive: Some(false),
        };
        let exec = token_output(&got, Output::ExecCredential, plus2, &v1);
        assert_eq!(
            exec["status"]["expirationTimestamp"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
        let json = token_output(&got, Output::Json, UtcOffset::UTC, &v1);
        assert_eq!(json["expires_on"], 1_800_000_000);
        assert_eq!(json["tenant"], "t");
        assert_eq!(json["tokenType"], "Bearer");
    }

    #[test]
    fn every_error_kind_has_its_documented_exit_code() {
        assert_eq!(exit_code(&Error::invalid_argument("x")), 2);
        assert_eq!(exit_code(&Error::credential_unavailable("x")), 3);
        assert_eq!(exit_code(&Error::client_authentication("x")), 4);
        for code in ["0", "1", "2", "3", "4", "5"] {
            assert!(USAGE.contains(&format!("    {code}  ")), "{code}");
        }
    }
}
