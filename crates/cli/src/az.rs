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

use entra_core::{Error, Result};

use crate::args::{ARM_RESOURCE, Args, Command, DEFAULT_CACHE_NAME, Output};
use crate::files::account_file;

/// What az says when nobody is signed in (Python and .NET look for `az login` in it).
pub(crate) const NOT_SIGNED_IN: &str = "Please run 'az login' to setup account.";

/// Whether the program was started under the name `az`.
pub(crate) fn invoked_as_az(argv0: Option<&OsString>) -> bool {
    argv0
        .map(PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_ascii_lowercase()))
        .is_some_and(|stem| stem == "az")
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

/// az's command line, as far as entra answers it.
#[derive(Debug, clap::Parser)]
#[command(name = "az", disable_help_subcommand = true, version)]
struct AzCli {
    #[command(subcommand)]
    command: AzSub,
}

#[derive(Debug, clap::Subcommand)]
enum AzSub {
    /// `az account …`.
    Account {
        #[command(subcommand)]
        command: AccountSub,
    },
    /// `az login`: entra login (get-token's flags, `--use-device-code` and `-t` included).
    Login {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<OsString>,
    },
    /// `az logout`.
    Logout,
}

#[derive(Debug, clap::Subcommand)]
enum AccountSub {
    /// `az account get-access-token`.
    GetAccessToken(GetAccessToken),
}

/// `az account get-access-token`'s flags, as the SDKs and scripts pass them.
#[derive(Debug, clap::Args)]
struct GetAccessToken {
    #[arg(long, conflicts_with_all = ["resource_type", "scope"])]
    resource: Option<String>,
    #[arg(long, conflicts_with = "scope")]
    resource_type: Option<String>,
    #[arg(long, visible_alias = "scopes")]
    scope: Vec<String>,
    #[arg(short, long)]
    tenant: Option<String>,
    #[arg(short, long)]
    subscription: Option<String>,
    #[arg(short, long, default_value = "json")]
    output: String,
    #[arg(long)]
    query: Option<String>,
    #[arg(long)]
    only_show_errors: bool,
    #[arg(long)]
    debug: bool,
    #[arg(short, long)]
    verbose: bool,
}

/// Parses az's command line (without the program name) into the command it stands for.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Command> {
    use clap::Parser as _;
    let argv = std::iter::once(OsString::from("az")).chain(args);
    let cli = match AzCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            return Ok(Command::Version);
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            return Ok(Command::Help(e.render().to_string()));
        }
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            return Err(bad(
                "this az is entra: it answers `az account get-access-token`, `az login` and \
                 `az logout` (run `entra --help` for the rest)",
            ));
        }
        Err(e) => return Err(crate::args::clap_error(&e)),
    };
    match cli.command {
        AzSub::Account {
            command: AccountSub::GetAccessToken(flags),
        } => get_access_token(flags),
        AzSub::Login { rest } => crate::args::parse_az_login(rest),
        AzSub::Logout => {
            let mut a = Args {
                cache_name: Some(DEFAULT_CACHE_NAME.to_owned()),
                az: true,
                ..Args::default()
            };
            a.record = Some(account_file()?);
            Ok(Command::Logout(a))
        }
    }
}

/// `az account get-access-token` as get-token's values: never prompting, the account `login`
/// saved, the shared cache, any tenant the account may ask for.
fn get_access_token(flags: GetAccessToken) -> Result<Command> {
    let mut a = Args {
        cache_name: Some(DEFAULT_CACHE_NAME.to_owned()),
        no_prompt: true,
        az: true,
        additionally_allowed_tenants: vec!["*".to_owned()],
        record: Some(account_file()?),
        request_tenant_id: flags.tenant,
        subscription: flags.subscription,
        verbose: flags.verbose,
        scopes: flags.scope,
        ..Args::default()
    };
    a.output = match flags.output.as_str() {
        "json" | "jsonc" => Output::Json,
        "tsv" => Output::Tsv,
        other => return Err(bad(format!("--output {other}: this az prints json or tsv"))),
    };
    let resource = match (flags.resource, flags.resource_type) {
        (Some(resource), _) => Some(resource),
        (None, Some(kind)) => Some(
            resource_of_type(&kind)
                .ok_or_else(|| bad(format!("--resource-type {kind} is not one az knows")))?
                .to_owned(),
        ),
        (None, None) => None,
    };
    if a.scopes.is_empty() {
        a.scopes
            .push(scope_of(resource.as_deref().unwrap_or(ARM_RESOURCE)));
    }
    if let Some(query) = flags.query {
        if !matches!(
            query.as_str(),
            "accessToken" | "expiresOn" | "expires_on" | "tenant" | "tokenType" | "subscription"
        ) {
            return Err(bad(format!(
                "--query {query}: this az selects one field (accessToken, expiresOn, \
                 expires_on, tenant, tokenType, subscription)"
            )));
        }
        a.query = Some(query);
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
