//! `entra` reached under the name `az` (a link, as busybox dispatches on its name): the part of
//! the Azure CLI every Azure SDK's `AzureCliCredential` runs, `az account get-access-token`,
//! answered from the cache the Azure Identity SDKs share, never prompting (the SDKs give it no
//! stdin and 10-13 s), plus `az login` and `az logout` (also `entra login`/`entra logout`).
//!
//! The account is the one `login` saved (`entra.az-account.json` beside the cache). Not signed
//! in, the one stderr line says `az login` and carries no `AADSTS`: Python's and .NET's
//! credentials then report "unavailable" and a chain moves on; anything else stops it.

use std::ffi::OsString;
use std::path::PathBuf;

use entra_cache::TokenCachePersistenceOptions;
use entra_core::{Error, Result};

use crate::args::{Args, Command, DEFAULT_CACHE_NAME, Output};

/// Azure Resource Manager as az names it: the resource when none is given.
pub(crate) const ARM_RESOURCE: &str = "https://management.core.windows.net/";

/// The file `login` saves the account in (beside the cache) and `get-access-token` reads.
const ACCOUNT_FILE: &str = "entra.az-account.json";

/// What az says when nobody is signed in (Python and .NET look for `az login` in it).
pub(crate) const NOT_SIGNED_IN: &str = "Please run 'az login' to setup account.";

/// Whether the program was started under the name `az`.
pub(crate) fn invoked_as_az(argv0: Option<&OsString>) -> bool {
    argv0
        .map(PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_ascii_lowercase()))
        .is_some_and(|stem| stem == "az")
}

/// Where `login` keeps the az account's record.
pub(crate) fn account_file() -> Result<PathBuf> {
    Ok(TokenCachePersistenceOptions::default()
        .resolved_directory()?
        .join(ACCOUNT_FILE))
}

/// az's `--resource-type` values and their resources.
fn resource_of_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "arm" => ARM_RESOURCE,
        "ms-graph" => "https://graph.microsoft.com/",
        "aad-graph" => "https://graph.windows.net/",
        "batch" => "https://batch.core.windows.net/",
        "data-lake" => "https://datalake.azure.net/",
        "media" => "https://rest.media.azure.net",
        "oss-rdbms" => "https://ossrdbms-aad.database.windows.net",
        _ => return None,
    })
}

/// The scope of an az resource: the resource with `/.default` appended as az appends it (so
/// ARM's `https://management.core.windows.net/` becomes `…net//.default`, as MSAL wants).
fn scope_of(resource: &str) -> String {
    format!("{resource}/.default")
}

fn bad(message: impl Into<String>) -> Error {
    Error::invalid_argument(message.into())
}

fn text(parser: &mut lexopt::Parser) -> Result<String> {
    use lexopt::ValueExt as _;
    parser
        .value()
        .map_err(|e| bad(e.to_string()))?
        .string()
        .map_err(|e| bad(e.to_string()))
}

/// Parses az's command line (without the program name) into the command it stands for.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Command> {
    let words: Vec<String> = args
        .iter()
        .take(2)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["account", "get-access-token", ..] => get_access_token(args.into_iter().skip(2)),
        ["login", ..] => crate::args::parse_login(args.into_iter().skip(1).collect(), true),
        ["logout", ..] => {
            let mut a = Args {
                cache_name: Some(DEFAULT_CACHE_NAME.to_owned()),
                az: true,
                ..Args::default()
            };
            a.record = Some(account_file()?);
            Ok(Command::Logout(a))
        }
        ["--version" | "version", ..] => Ok(Command::Version),
        _ => Err(bad(
            "this az is entra: it answers `az account get-access-token`, `az login` and `az \
             logout` (run `entra --help` for the rest)",
        )),
    }
}

/// `az account get-access-token`'s flags, as the SDKs and scripts pass them.
fn get_access_token(args: impl Iterator<Item = OsString>) -> Result<Command> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut a = Args {
        cache_name: Some(DEFAULT_CACHE_NAME.to_owned()),
        no_prompt: true,
        az: true,
        additionally_allowed_tenants: vec!["*".to_owned()],
        record: Some(account_file()?),
        ..Args::default()
    };
    let mut resource: Option<String> = None;
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("resource") => resource = Some(text(&mut parser)?),
            Long("resource-type") => {
                let kind = text(&mut parser)?;
                resource = Some(
                    resource_of_type(&kind)
                        .ok_or_else(|| bad(format!("--resource-type {kind} is not one az knows")))?
                        .to_owned(),
                );
            }
            Long("scope") | Long("scopes") => a.scopes.push(text(&mut parser)?),
            Short('t') | Long("tenant") => a.request_tenant_id = Some(text(&mut parser)?),
            Short('s') | Long("subscription") => a.subscription = Some(text(&mut parser)?),
            Short('o') | Long("output") => {
                let value = text(&mut parser)?;
                a.output = match value.as_str() {
                    "json" | "jsonc" => Output::Json,
                    "tsv" => Output::Tsv,
                    _ => return Err(bad(format!("--output {value}: this az prints json or tsv"))),
                };
            }
            Long("query") => a.query = Some(text(&mut parser)?),
            Long("only-show-errors") | Long("debug") | Long("verbose") => {}
            Short('v') => a.verbose = true,
            other => return Err(bad(other.unexpected().to_string())),
        }
    }
    if a.scopes.is_empty() {
        a.scopes
            .push(scope_of(resource.as_deref().unwrap_or(ARM_RESOURCE)));
    } else if resource.is_some() {
        return Err(bad("--resource and --scope cannot be used together"));
    }
    if let Some(query) = &a.query
        && !matches!(
            query.as_str(),
            "accessToken" | "expiresOn" | "expires_on" | "tenant" | "tokenType" | "subscription"
        )
    {
        return Err(bad(format!(
            "--query {query}: this az selects one field (accessToken, expiresOn, expires_on, \
             tenant, tokenType, subscription)"
        )));
    }
    Ok(Command::GetToken(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Command> {
        parse(words.iter().map(OsString::from).collect())
    }

    fn token_args(words: &[&str]) -> Args {
        match parse_words(words).unwrap() {
            Command::GetToken(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_sdk_s_command_line_is_understood() {
        // Python and .NET.
        let a = token_args(&[
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://management.azure.com",
            "--tenant",
            "contoso.com",
            "--subscription",
            "sub-1",
        ]);
        assert_eq!(a.scopes, ["https://management.azure.com/.default"]);
        assert_eq!(a.request_tenant_id.as_deref(), Some("contoso.com"));
        assert_eq!(a.subscription.as_deref(), Some("sub-1"));
        assert!(a.no_prompt && a.az);
        // Go.
        let a = token_args(&[
            "account",
            "get-access-token",
            "-o",
            "json",
            "--resource",
            "https://vault.azure.net",
        ]);
        assert_eq!(a.scopes, ["https://vault.azure.net/.default"]);
        // Rust: a scope.
        let a = token_args(&[
            "account",
            "get-access-token",
            "-o",
            "json",
            "--scope",
            "https://graph.microsoft.com/.default",
        ]);
        assert_eq!(a.scopes, ["https://graph.microsoft.com/.default"]);
        // Nothing: Azure Resource Manager, as az.
        let a = token_args(&["account", "get-access-token"]);
        assert_eq!(a.scopes, ["https://management.core.windows.net//.default"]);
        let a = token_args(&["account", "get-access-token", "--resource-type", "ms-graph"]);
        assert_eq!(a.scopes, ["https://graph.microsoft.com//.default"]);
        let a = token_args(&[
            "account",
            "get-access-token",
            "--query",
            "accessToken",
            "-o",
            "tsv",
        ]);
        assert_eq!(a.output, Output::Tsv);
        assert!(
            parse_words(&["account", "show"])
                .unwrap_err()
                .is_invalid_argument()
        );
        assert!(
            parse_words(&["account", "get-access-token", "--query", "[0].x"])
                .unwrap_err()
                .is_invalid_argument()
        );
    }

    #[test]
    fn the_name_decides() {
        for name in ["az", "/usr/local/bin/az", "AZ.exe", "az.cmd"] {
            assert!(invoked_as_az(Some(&OsString::from(name))), "{name}");
        }
        for name in ["entra", "/bin/azure", "laz"] {
            assert!(!invoked_as_az(Some(&OsString::from(name))), "{name}");
        }
    }
}
