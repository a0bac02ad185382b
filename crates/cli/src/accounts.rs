//! `entra accounts` and `entra sign-out`: the accounts of the persistent cache (the plain and
//! the CAE one), and removing one account's tokens through the credential's `sign_out`.

use std::sync::Arc;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::{CacheBackend, TokenCachePersistenceOptions};
use entra_core::{AuthenticationRecord, DEVELOPER_SIGN_ON_CLIENT_ID, Error, Result};

use crate::args::Args;

/// One account of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) username: String,
    pub(crate) home_account_id: String,
    pub(crate) tenant_id: String,
    pub(crate) environment: String,
}

impl Account {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "username": self.username,
            "homeAccountId": self.home_account_id,
            "tenantId": self.tenant_id,
            "environment": self.environment,
        })
    }

    fn record(&self, client_id: &str) -> AuthenticationRecord {
        AuthenticationRecord::new(
            &self.tenant_id,
            client_id,
            &self.environment,
            &self.home_account_id,
            &self.username,
        )
    }
}

/// Credential options on the command's authority and client id that never prompt (the cache
/// is the caller's to set): what `accounts`, `sign-out` and the account lookup act through.
fn quiet_options(
    args: &Args,
    record: Option<AuthenticationRecord>,
) -> InteractiveBrowserCredentialOptions {
    let mut options =
        InteractiveBrowserCredentialOptions::default().with_disable_automatic_authentication(true);
    match record {
        // A record names its own authority and client id (a different --authority or
        // --client-id is refused by the credential).
        Some(record) => options = options.with_authentication_record(record),
        None => {
            if let Some(client_id) = &args.client_id {
                options = options.with_client_id(client_id.clone());
            }
        }
    }
    if let Some(authority) = &args.authority {
        options = options.with_authority(authority.clone());
    }
    options
}

/// The accounts the caches of `options` hold for the command's authority (`--authority`,
/// `AZURE_AUTHORITY_HOST`, else the public cloud, with its aliases), once each, sorted by
/// username: the credential's own [`accounts`](InteractiveBrowserCredential::accounts), as
/// MSAL's `get_accounts` lists those of the application's authority. No request is sent.
async fn accounts_of(
    args: &Args,
    options: InteractiveBrowserCredentialOptions,
) -> Result<Vec<Account>> {
    let credential = InteractiveBrowserCredential::new(options)?;
    let accounts = credential.accounts().await?;
    // The cache keeps the host without an explicit port (MSAL Python's form); a record made
    // from the account must name the authority as configured, port included.
    let configured = args.authority.as_deref().map(authority_host);
    Ok(accounts
        .iter()
        .map(|entry| Account {
            username: entry.username.clone(),
            home_account_id: entry.home_account_id.clone(),
            tenant_id: entry.realm.clone(),
            environment: configured
                .clone()
                .unwrap_or_else(|| entry.environment.clone()),
        })
        .collect())
}

/// The accounts of the plain and the CAE persistent cache ([`accounts_of`]).
async fn list(args: &Args, persistence: &TokenCachePersistenceOptions) -> Result<Vec<Account>> {
    let options = quiet_options(args, None).with_cache_persistence_options(persistence.clone());
    accounts_of(args, options).await
}

/// The host (and port) of an `--authority` value, as a cache account's `environment` holds it.
fn authority_host(authority: &str) -> String {
    let rest = authority
        .strip_prefix("https://")
        .or_else(|| authority.strip_prefix("http://"))
        .unwrap_or(authority);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// The application the cache's tokens are for: `--client-id`, else the credential's default.
fn client_id(args: &Args) -> &str {
    args.client_id
        .as_deref()
        .unwrap_or(DEVELOPER_SIGN_ON_CLIENT_ID)
}

/// The one account `--username` names, or the only one; `None` when there is none, or several
/// and no `--username` (then get-token signs in).
fn pick(accounts: Vec<Account>, username: Option<&str>) -> Result<Option<Account>> {
    match username {
        Some(name) => {
            let named: Vec<Account> = accounts
                .into_iter()
                .filter(|a| a.username.eq_ignore_ascii_case(name))
                .collect();
            match named.len() {
                0 => Err(Error::invalid_argument(format!(
                    "no account named {name} is in the token cache: run `entra accounts` to list them"
                ))),
                1 => Ok(named.into_iter().next()),
                n => Err(Error::invalid_argument(format!(
                    "{n} accounts named {name} are in the token cache (one per home tenant); \
                     pass --record with the record of the one you mean"
                ))),
            }
        }
        None if accounts.len() == 1 => Ok(accounts.into_iter().next()),
        None => Ok(None),
    }
}

/// The record `get-token` uses when no `--record` was given: the account of `backend` (the
/// request's partition, the same store the credential then reads), or the one `--username`
/// names.
pub(crate) async fn record_from_cache(
    backend: &Arc<dyn CacheBackend>,
    args: &Args,
) -> Result<Option<AuthenticationRecord>> {
    let options = quiet_options(args, None).with_cache_backend(Arc::clone(backend));
    let accounts = accounts_of(args, options).await?;
    let client_id = client_id(args);
    Ok(pick(accounts, args.username.as_deref())?.map(|a| {
        note!(
            "Using the account in the token cache: {} (tenant {})",
            a.username,
            a.tenant_id
        );
        a.record(client_id)
    }))
}

/// `entra accounts`.
pub(crate) async fn accounts(args: &Args) -> Result<Vec<Account>> {
    let Some(persistence) = args.persistence() else {
        return Ok(Vec::new());
    };
    list(args, &persistence).await
}

/// `entra sign-out`: removes the account's tokens for the client; returns the account.
pub(crate) async fn sign_out(args: &Args) -> Result<(Account, bool)> {
    let Some(persistence) = args.persistence() else {
        return Err(Error::invalid_argument(
            "no persistent cache to sign out of",
        ));
    };
    let accounts = list(args, &persistence).await?;
    let several = accounts.len() > 1;
    let Some(account) = pick(accounts, args.username.as_deref())? else {
        return Err(Error::invalid_argument(if several {
            "several accounts are in the token cache: name one with --username (see `entra accounts`)"
        } else {
            "no account is in the token cache"
        }));
    };
    let record = account.record(client_id(args));
    let credential = InteractiveBrowserCredential::new(
        quiet_options(args, Some(record)).with_cache_persistence_options(persistence),
    )?;
    let removed = credential.sign_out().await?;
    Ok((account, removed))
}

/// `entra logout` / `az logout`: signs the account `login` saved out of the caches and forgets
/// it; returns its name (`None` when nobody was signed in).
pub(crate) async fn logout(args: &Args) -> Result<Option<String>> {
    let (Some(path), Some(persistence)) = (&args.record, args.persistence()) else {
        return Ok(None);
    };
    let Some(record) = crate::files::read_record(path)? else {
        return Ok(None);
    };
    let username = record.username().to_owned();
    // The record's own authority and client id, whatever the flags say.
    let credential = InteractiveBrowserCredential::new(
        InteractiveBrowserCredentialOptions::default()
            .with_authentication_record(record)
            .with_cache_persistence_options(persistence)
            .with_disable_automatic_authentication(true),
    )?;
    credential.sign_out().await?;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::credential_unavailable(format!(
                "could not remove the account file {}",
                path.display()
            ))
            .with_source(e));
        }
    }
    Ok(Some(username))
}
