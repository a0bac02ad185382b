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

// clap turns the flags' doc comments into `--help` text, where a URL stays plain text.
#![allow(rustdoc::bare_urls)]

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
mod az;
mod files;
mod kube;
mod kubeconfig;
mod mock;
mod report;
mod signer;
mod token;

use args::{Command, Output};

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

/// The error and its causes on one line. Each layer says its cause once (a message that
/// quotes a lower error does not also chain it), so the line is the chain as it is.
fn one_line(err: &Error) -> String {
    let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut line = squash(&err.to_string());
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = squash(&s.to_string());
        if !text.is_empty() {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
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

/// What a command prints on stdout.
#[derive(Debug)]
enum Printed {
    /// A JSON document.
    Json(serde_json::Value),
    /// Text as it is (az's `-o tsv`).
    Text(String),
}

/// What `get-token` prints: az's fields (with `subscription` when az was given one), az's
/// `--query FIELD` and `-o tsv`, or kubectl's `ExecCredential`.
fn token_output(
    got: &token::Got,
    args: &args::Args,
    local: UtcOffset,
    exec: &kube::ExecInfo,
) -> Printed {
    let expires = got.info.expires_on;
    if args.output == Output::ExecCredential {
        return Printed::Json(kube::exec_credential(
            exec,
            got.info.token.secret(),
            &k8s_time(expires),
        ));
    }
    let mut fields = serde_json::json!({
        "accessToken": got.info.token.secret(),
        "expiresOn": az_time(expires, local),
        "expires_on": expires.unix_timestamp(),
        "tenant": got.tenant,
        "tokenType": got.info.token_type,
    });
    if let Some(subscription) = &args.subscription {
        fields["subscription"] = subscription.clone().into();
    }
    let selected = match &args.query {
        Some(field) => fields[field.as_str()].clone(),
        None => fields,
    };
    match args.output {
        Output::Tsv => Printed::Text(match &selected {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(map) => map
                .values()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("\t"),
            other => other.to_string(),
        }),
        _ => Printed::Json(selected),
    }
}

async fn dispatch(command: Command, local: UtcOffset) -> Result<Printed> {
    let not_kubectl = kube::ExecInfo {
        api_version: kube::V1BETA1,
        interactive: None,
    };
    match command {
        Command::Help(_) | Command::Version => Ok(Printed::Json(serde_json::Value::Null)),
        Command::Completions(shell) => Ok(Printed::Text(args::completions(shell))),
        Command::ConvertKubeconfig(convert) => {
            let (path, users) = kubeconfig::run(&convert)?;
            if users.is_empty() {
                say!("No AKS user to convert in {}", path.display());
            } else {
                say!(
                    "Converted {} user(s) of {} to entra: {}",
                    users.len(),
                    path.display(),
                    users.join(", ")
                );
            }
            Ok(Printed::Json(
                serde_json::json!({"kubeconfig": path, "converted": users}),
            ))
        }
        Command::GetToken(args) => {
            // kubectl's request, read before anything is asked of the user.
            let exec = match args.output {
                Output::ExecCredential => kube::from_env()?,
                _ => not_kubectl,
            };
            token::run(&args, &exec)
                .await
                .map(|got| token_output(&got, &args, local, &exec))
        }
        Command::Login(args) => {
            let got = token::run(&args, &not_kubectl).await?;
            // What az login prints: the signed-in account.
            Ok(Printed::Json(serde_json::json!([{
                "cloudName": "AzureCloud",
                "isDefault": true,
                "tenantId": got.tenant,
                "user": {"name": got.username, "type": "user"},
            }])))
        }
        Command::Logout(args) => match accounts::logout(&args).await? {
            Some(username) => {
                say!("Signed {username} out");
                Ok(Printed::Json(serde_json::json!({"signedOut": username})))
            }
            None => Err(Error::invalid_argument(
                "no account is signed in (run `entra login`)",
            )),
        },
        Command::Accounts(args) => Ok(Printed::Json(serde_json::Value::Array(
            accounts::accounts(&args)
                .await?
                .iter()
                .map(accounts::Account::to_json)
                .collect(),
        ))),
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
            Ok(Printed::Json(
                serde_json::json!({"signedOut": account.to_json(), "removed": removed}),
            ))
        }
    }
}

fn main() -> ExitCode {
    // Read while this process has one thread (the local offset cannot be read safely later).
    let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let argv: Vec<OsString> = std::env::args_os().collect();
    let as_az = az::invoked_as_az(argv.first());
    let parsed = if as_az {
        az::parse(argv.into_iter().skip(1).collect())
    } else {
        args::parse(argv.into_iter().skip(1))
    };
    let command = match parsed {
        Ok(command) => command,
        Err(err) => {
            say!("error ({}): {}", err.kind_name(), one_line(&err));
            return ExitCode::from(exit_code(&err));
        }
    };
    if let Command::GetToken(a)
    | Command::Accounts(a)
    | Command::SignOut(a)
    | Command::Login(a)
    | Command::Logout(a) = &command
    {
        report::set_verbose(a.verbose);
    }
    match &command {
        Command::Help(text) => {
            print!("{text}");
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
        Ok(Printed::Json(out)) => {
            println!("{}", json_terminal_safe(&out.to_string()));
            ExitCode::SUCCESS
        }
        Ok(Printed::Text(out)) => {
            println!("{}", entra_core::terminal_safe(&out));
            ExitCode::SUCCESS
        }
        Err(err) if as_az => {
            // az's one line, which the SDKs paste into their errors: "az login" (and no
            // AADSTS) when the user must sign in, so that a chain moves on.
            if matches!(err.kind(), ErrorKind::AuthenticationRequired { .. }) {
                say!("ERROR: {}", az::NOT_SIGNED_IN);
            } else {
                say!("ERROR: {}", one_line(&in_the_command_s_words(err)));
            }
            ExitCode::from(1)
        }
        Err(err) => {
            let err = in_the_command_s_words(err);
            say!("error ({}): {}", err.kind_name(), one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The text of the innermost source of `err`, if it has one.
fn innermost_cause(err: &Error) -> Option<String> {
    let mut cause = None;
    let mut next = std::error::Error::source(err);
    while let Some(s) = next {
        cause = Some(s.to_string());
        next = s.source();
    }
    cause
}

/// A library error told in the command's terms: its flags, not the library's option names.
fn in_the_command_s_words(err: Error) -> Error {
    match err.reason() {
        entra_core::Reason::InvalidInstance => {
            let mut message = String::from(
                "instance discovery did not validate the authority (--authority or \
                 AZURE_AUTHORITY_HOST): if it is valid and trustworthy (a private cloud, AD FS), \
                 pass --disable-instance-discovery or set ENTRA_DISABLE_INSTANCE_DISCOVERY=1",
            );
            if let Some(cause) = innermost_cause(&err) {
                message.push_str(&format!(" ({cause})"));
            }
            let kind = err.kind().clone();
            Error::new(kind, message).with_reason(entra_core::Reason::InvalidInstance)
        }
        entra_core::Reason::BrowserUnavailable => Error::credential_unavailable(
            "Failed to open a browser here: sign in with --device-code (a code to enter on any \
             device) or --paste-redirect (a browser on another machine, then paste the address \
             it ends on)",
        )
        .with_reason(entra_core::Reason::BrowserUnavailable),
        entra_core::Reason::KeyringUnavailable => {
            // The innermost cause says why the store is unusable (no D-Bus session, ...).
            let cause = innermost_cause(&err);
            let mut message = String::from(
                "no OS secret store is usable here (on Linux: no Secret Service such as \
                 gnome-keyring, or it is locked), and --strict-cache refuses a plaintext cache: \
                 drop --strict-cache (and ENTRA_STRICT_CACHE) to keep it in a file only you can \
                 read, or pass --no-cache",
            );
            if let Some(cause) = cause {
                message.push_str(&format!(" ({cause})"));
            }
            Error::credential_unavailable(message)
                .with_reason(entra_core::Reason::KeyringUnavailable)
        }
        _ => err,
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
            username: None,
        };
        let v1 = kube::ExecInfo {
            api_version: kube::V1,
            interactive: Some(false),
        };
        let args = args::Args {
            output: Output::ExecCredential,
            ..args::Args::default()
        };
        let Printed::Json(exec) = token_output(&got, &args, plus2, &v1) else {
            panic!("JSON")
        };
        assert_eq!(
            exec["status"]["expirationTimestamp"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
        let Printed::Json(json) = token_output(&got, &args::Args::default(), UtcOffset::UTC, &v1)
        else {
            panic!("JSON")
        };
        assert_eq!(json["expires_on"], 1_800_000_000);
        assert_eq!(json["tenant"], "t");
        assert_eq!(json["tokenType"], "Bearer");
    }

    #[test]
    fn a_cause_is_said_once() {
        // A lower layer's error converted into the credential's: its text is the message, its
        // own cause follows once.
        let lower: Error = entra_cache::CacheError::Io {
            operation: "read",
            path: "/c/cache.bin".into(),
            source: std::io::Error::other("the disk is on fire"),
        }
        .into();
        assert_eq!(
            one_line(&lower),
            "Authentication failed: token cache I/O failed: could not read /c/cache.bin: the \
             disk is on fire"
        );
        // A layer above that says what to do keeps the converted error as its source.
        let upper = Error::client_authentication("Sign in again.").with_source(lower);
        assert_eq!(
            one_line(&upper),
            "Sign in again.: Authentication failed: token cache I/O failed: could not read \
             /c/cache.bin: the disk is on fire"
        );
    }

    #[test]
    fn every_error_kind_has_its_documented_exit_code() {
        assert_eq!(exit_code(&Error::invalid_argument("x")), 2);
        assert_eq!(exit_code(&Error::credential_unavailable("x")), 3);
        assert_eq!(exit_code(&Error::client_authentication("x")), 4);
        let Ok(args::Command::Help(help)) = args::parse(["--help".into()]) else {
            panic!("help")
        };
        for code in ["0", "1", "2", "3", "4", "5"] {
            assert!(help.contains(&format!("    {code}  ")), "{code}");
        }
    }
}
