//! `entra accounts` and `entra sign-out`: the accounts of the persistent cache (the plain and
//! the CAE one), and removing one account's tokens through the credential's `sign_out`.

use std::collections::BTreeMap;
use std::sync::Arc;

use entra_browser_flow::{InteractiveBrowserCredential, InteractiveBrowserCredentialOptions};
use entra_cache::{Cache, CacheBackend, TokenCachePersistenceOptions};
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

/// Every account of the plain and the CAE cache, once each, sorted by username.
pub(crate) async fn list(persistence: &TokenCachePersistenceOptions) -> Result<Vec<Account>> {
    list_in(persistence, &[false, true]).await
}

/// The accounts of the given partitions (`false`: plain, `true`: CAE).
async fn list_in(persistence: &TokenCachePersistenceOptions, cae: &[bool]) -> Result<Vec<Account>> {
    let mut found = BTreeMap::new();
    for &cae in cae {
        let cache = persistence.cache(cae)?;
        add_accounts(&cache, &mut found).await?;
    }
    Ok(found.into_values().collect())
}

/// Adds the accounts of `cache` to `found`, once each (by username and home account).
async fn add_accounts(
    cache: &Cache,
    found: &mut BTreeMap<(String, String), Account>,
) -> Result<()> {
    cache.reload().await?;
    for (_, entry) in cache.tokens().document().accounts() {
        let account = Account {
            username: entry.username.clone(),
            home_account_id: entry.home_account_id.clone(),
            tenant_id: entry.realm.clone(),
            environment: entry.environment.clone(),
        };
        found
            .entry((
                account.username.to_lowercase(),
                account.home_account_id.clone(),
            ))
            .or_insert(account);
    }
    Ok(())
}

/// The host (and port) of an `--authority` value, as a cache account's `environment` holds it.
fn authority_host(authority: &str) -> String {
    let rest = authority
        .strip_prefix("https://")
        .or_else(|| authority.strip_prefix("http://"))
        .unwrap_or(authority);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// The cache's `environment` of a `host[:port]`: the host without the port.
fn environment_of(host: &str) -> &str {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name)
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
    let mut found = BTreeMap::new();
    add_accounts(&Cache::with_backend(Arc::clone(backend)), &mut found).await?;
    let mut accounts: Vec<Account> = found.into_values().collect();
    // With --authority, only that authority's accounts: another's record would be refused.
    // MSAL Python writes the host without an explicit port; the record keeps the port.
    if let Some(authority) = &args.authority {
        let host = authority_host(authority);
        let environment = environment_of(&host);
        accounts.retain(|a| {
            a.environment.eq_ignore_ascii_case(&host)
                || a.environment.eq_ignore_ascii_case(environment)
        });
        for account in &mut accounts {
            account.environment.clone_from(&host);
        }
    }
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
    list(&persistence).await
}

/// `entra sign-out`: removes the account's tokens for the client; returns the account.
pub(crate) async fn sign_out(args: &Args) -> Result<(Account, bool)> {
    let Some(persistence) = args.persistence() else {
        return Err(Error::invalid_argument(
            "no persistent cache to sign out of",
        ));
    };
    let accounts = list(&persistence).await?;
    let several = accounts.len() > 1;
    let Some(account) = pick(accounts, args.username.as_deref())? else {
        return Err(Error::invalid_argument(if several {
            "several accounts are in the token cache: name one with --username (see `entra accounts`)"
        } else {
            "no account is in the token cache"
        }));
    };
    let client_id = client_id(args);
    let mut options = InteractiveBrowserCredentialOptions::default()
        .with_authentication_record(account.record(client_id))
        .with_cache_persistence_options(persistence)
        .with_disable_automatic_authentication(true);
    if let Some(authority) = &args.authority {
        options = options.with_authority(authority.clone());
    }
    let credential = InteractiveBrowserCredential::new(options)?;
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

#[cfg(test)]
mod tests {
    use super::environment_of;

    #[test]
    fn the_environment_of_a_host_drops_only_an_explicit_port() {
        assert_eq!(environment_of("localhost:8443"), "localhost");
        assert_eq!(
            environment_of("login.microsoftonline.com"),
            "login.microsoftonline.com"
        );
        assert_eq!(environment_of("[::1]:8443"), "::1");
        assert_eq!(environment_of("[::1]"), "::1");
        assert_eq!(environment_of("host:"), "host:");
    }
}
