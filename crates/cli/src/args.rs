//! The command line: subcommands and their flags, parsed with `lexopt` into plain values.
//! Every flag of the old `get_token` example keeps its name; az's names are aliases.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use entra_core::{Error, Result};

/// The default persistent cache: the one Azure Identity's SDKs share.
pub(crate) const DEFAULT_CACHE_NAME: &str = "msal.cache";

/// What `get-token` prints.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// `az account get-access-token`'s JSON.
    #[default]
    Json,
    /// A Kubernetes `ExecCredential` (kubectl credential plugin).
    ExecCredential,
    /// az's `-o tsv`: the values, tab-separated (with `--query`, the one value).
    Tsv,
}

/// What the embedded mock's browser stand-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MockBrowser {
    SignIn,
    Cancel,
    NeverFinish,
    CannotOpen,
}

/// The flags of `get-token` (and the cache flags `accounts` and `sign-out` share).
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
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Help,
    Version,
    GetToken(Args),
    Accounts(Args),
    SignOut(Args),
    /// `entra login` / `az login`: sign in and save the account `az` answers for.
    Login(Args),
    /// `entra logout` / `az logout`: sign that account out.
    Logout(Args),
}

fn bad(e: lexopt::Error) -> Error {
    Error::invalid_argument(e.to_string())
}

fn text(parser: &mut lexopt::Parser) -> Result<String> {
    use lexopt::ValueExt as _;
    parser.value().map_err(bad)?.string().map_err(bad)
}

/// Parses the arguments (without the program name). With no subcommand, the flags are
/// `get-token`'s (as the `get_token` example took them).
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let sub = match args.first().and_then(|a| a.to_str()) {
        Some("--version" | "-V") => return Ok(Command::Version),
        Some("login") => return parse_login(args.into_iter().skip(1).collect(), false),
        Some("logout") => {
            let mut a = parse_flags(args.into_iter().skip(1).collect(), false)?
                .ok_or_else(|| Error::invalid_argument("logout takes no --help"))?;
            a.cache_name
                .get_or_insert_with(|| DEFAULT_CACHE_NAME.to_owned());
            a.record = Some(crate::az::account_file()?);
            a.az = true;
            return Ok(Command::Logout(a));
        }
        Some(s @ ("get-token" | "accounts" | "sign-out" | "help" | "version")) => {
            let s = s.to_owned();
            args.remove(0);
            s
        }
        Some(other) if !other.starts_with('-') => {
            return Err(Error::invalid_argument(format!(
                "unknown command '{other}': use get-token, login, logout, accounts or sign-out"
            )));
        }
        _ => "get-token".to_owned(),
    };
    match sub.as_str() {
        "help" => return Ok(Command::Help),
        "version" => return Ok(Command::Version),
        _ => {}
    }
    let Some(mut a) = parse_flags(args, sub == "get-token")? else {
        return Ok(Command::Help);
    };
    a.strict_cache |= std::env::var("ENTRA_STRICT_CACHE").is_ok_and(|v| v == "1" || v == "true");
    if a.strict_cache && a.allow_unencrypted_storage {
        return Err(Error::invalid_argument(
            "--strict-cache (or ENTRA_STRICT_CACHE) refuses the plaintext cache that \
             --allow-unencrypted-storage allows: choose one",
        ));
    }
    if a.allow_unencrypted_storage && a.cache_name.is_none() {
        return Err(Error::invalid_argument(
            "--allow-unencrypted-storage only applies to a persistent cache: add --cache-name NAME",
        ));
    }
    if a.device_code && a.paste_redirect {
        return Err(Error::invalid_argument(
            "--device-code and --paste-redirect are two ways to sign in without a browser here: \
             choose one",
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
    match sub.as_str() {
        "get-token" => {
            if a.scopes.is_empty() {
                return Err(Error::invalid_argument(
                    "at least one --scope (or --resource) is required, e.g. --scope https://graph.microsoft.com/.default",
                ));
            }
            Ok(Command::GetToken(a))
        }
        "accounts" | "sign-out" => {
            if a.cache_name.is_none() {
                return Err(Error::invalid_argument(
                    "--no-cache leaves no accounts to list or sign out",
                ));
            }
            // Without a mock, --mock-* flags were refused above; --mock itself means nothing here.
            a.mock = false;
            Ok(if sub == "accounts" {
                Command::Accounts(a)
            } else {
                Command::SignOut(a)
            })
        }
        _ => Err(Error::invalid_argument(format!("unknown command '{sub}'"))),
    }
}

/// `entra login` (and az's `login`, whose `--use-device-code` and `-t` it takes): get-token's
/// flags, Azure Resource Manager's scope by default, the account saved where `az` reads it.
pub(crate) fn parse_login(args: Vec<OsString>, az: bool) -> Result<Command> {
    let args = args.into_iter().map(|a| match a.to_str() {
        Some("--use-device-code") => OsString::from("--device-code"),
        Some("-t") => OsString::from("--tenant"),
        _ => a,
    });
    let Some(mut a) = parse_flags(args.collect(), true)? else {
        return Ok(Command::Help);
    };
    if a.scopes.is_empty() {
        a.scopes
            .push(format!("{}/.default", crate::az::ARM_RESOURCE));
    }
    if a.record.is_none() {
        a.record = Some(crate::az::account_file()?);
    }
    a.az = az;
    Ok(Command::Login(a))
}

/// `Ok(None)` means `--help`. `token_flags`: the flags only `get-token` takes are accepted.
fn parse_flags(args: Vec<OsString>, token_flags: bool) -> Result<Option<Args>> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut a = Args::default();
    let mut cache_name: Option<String> = None;
    let mut no_cache = false;
    while let Some(arg) = parser.next().map_err(bad)? {
        let token_only = |name: &str| -> Result<()> {
            if token_flags {
                Ok(())
            } else {
                Err(Error::invalid_argument(format!(
                    "--{name} only applies to get-token"
                )))
            }
        };
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Short('v') | Long("verbose") => a.verbose = true,
            Long("scope") | Long("scopes") => {
                token_only("scope")?;
                a.scopes.push(text(&mut parser)?);
            }
            Long("resource") => {
                token_only("resource")?;
                let resource = text(&mut parser)?;
                a.scopes
                    .push(format!("{}/.default", resource.trim_end_matches('/')));
            }
            Long("authority") => a.authority = Some(text(&mut parser)?),
            Long("tenant-id") | Long("tenant") => a.tenant_id = Some(text(&mut parser)?),
            Long("client-id") => a.client_id = Some(text(&mut parser)?),
            Long("redirect-uri") => {
                token_only("redirect-uri")?;
                a.redirect_uri = Some(text(&mut parser)?);
            }
            Long("login-hint") => {
                token_only("login-hint")?;
                a.login_hint = Some(text(&mut parser)?);
            }
            Long("prompt") => {
                token_only("prompt")?;
                use entra_browser_flow::Prompt;
                let value = text(&mut parser)?;
                a.prompt = Some(match value.as_str() {
                    "select_account" => Prompt::SelectAccount,
                    "login" => Prompt::Login,
                    "consent" => Prompt::Consent,
                    "create" => Prompt::Create,
                    "none" => Prompt::NoInteraction,
                    _ => {
                        return Err(Error::invalid_argument(format!(
                            "--prompt takes select_account, login, consent, create or none, not '{value}'"
                        )));
                    }
                });
            }
            Long("domain-hint") => {
                token_only("domain-hint")?;
                a.domain_hint = Some(text(&mut parser)?);
            }
            Long("timeout") => {
                token_only("timeout")?;
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
                token_only("claims")?;
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
            Long("cache-name") => cache_name = Some(text(&mut parser)?),
            Long("no-cache") => no_cache = true,
            Long("allow-unencrypted-storage") => a.allow_unencrypted_storage = true,
            Long("strict-cache") => a.strict_cache = true,
            Long("record") => a.record = Some(PathBuf::from(parser.value().map_err(bad)?)),
            Long("username") => a.username = Some(text(&mut parser)?),
            Long("no-prompt") => {
                token_only("no-prompt")?;
                a.no_prompt = true;
            }
            Long("device-code") => {
                token_only("device-code")?;
                a.device_code = true;
            }
            Long("paste-redirect") => {
                token_only("paste-redirect")?;
                a.paste_redirect = true;
            }
            Long("request-tenant-id") => {
                token_only("request-tenant-id")?;
                a.request_tenant_id = Some(text(&mut parser)?);
            }
            Long("additionally-allowed-tenant") => {
                a.additionally_allowed_tenants.push(text(&mut parser)?);
            }
            Short('o') | Long("output") => {
                token_only("output")?;
                let value = text(&mut parser)?;
                a.output = match value.as_str() {
                    "json" => Output::Json,
                    "exec-credential" => Output::ExecCredential,
                    _ => {
                        return Err(Error::invalid_argument(format!(
                            "--output takes json or exec-credential, not '{value}'"
                        )));
                    }
                };
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
                    "sign-in" => MockBrowser::SignIn,
                    "cancel" => MockBrowser::Cancel,
                    "never-finish" => MockBrowser::NeverFinish,
                    "cannot-open" => MockBrowser::CannotOpen,
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
    if no_cache && cache_name.is_some() {
        return Err(Error::invalid_argument(
            "--no-cache and --cache-name contradict each other",
        ));
    }
    // The tool keeps a persistent cache by default (Azure Identity's shared one), except
    // against the embedded mock, whose tokens must never land in a real cache.
    a.cache_name = match (cache_name, no_cache || a.mock) {
        (Some(name), _) => Some(name),
        (None, true) => None,
        (None, false) => Some(DEFAULT_CACHE_NAME.to_owned()),
    };
    Ok(Some(a))
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
        assert!(matches!(
            parse_strs(&["sign-out", "--username", "a@b"]).unwrap(),
            Command::SignOut(Args { username: Some(u), .. }) if u == "a@b"
        ));
    }

    #[test]
    fn bad_input_is_an_invalid_argument() {
        for bad in [
            &[][..],
            &["--scope"],
            &["--scope", "s", "--timeout", "soon"],
            &["--scope", "s", "--timeout", "0"],
            &["--scope", "s", "--claims", "not json"],
            &["--mock", "--scope", "s", "--allow-unencrypted-storage"],
            &["--scope", "s", "--mock-browser", "cancel"],
            &["--scope", "s", "--unknown"],
            &["--scope", "s", "positional"],
            &["--scope", "s", "--output", "yaml"],
            &["--scope", "s", "--no-cache", "--cache-name", "n"],
            &["accounts", "--scope", "s"],
            &["accounts", "--no-cache"],
            &["sign-out", "--no-prompt"],
            &["launch"],
        ] {
            let err = parse_strs(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad:?}");
        }
        assert_eq!(parse_strs(&["--help"]).unwrap(), Command::Help);
        assert_eq!(parse_strs(&["accounts", "-h"]).unwrap(), Command::Help);
        assert_eq!(parse_strs(&["help"]).unwrap(), Command::Help);
    }
}
