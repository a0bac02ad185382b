//! `entra get-token`: the account (a record file, else the cache's), the credential the flags
//! ask for ([`Signer`]), one token, and the record saved.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use entra_browser_flow::TokenCachePersistenceOptions;
use entra_cache::CacheBackend;
use entra_core::{AccessTokenInfo, Error, Reason, Result, TokenRequestOptions};

use crate::accounts;
use crate::args::Args;
use crate::files::{MAX_RECORD_BYTES, read_record, read_small, write_private};
use crate::kube::ExecInfo;
use crate::mock::Mock;
use crate::signer::Signer;

/// A factory of the HTTP client that also trusts the roots in `SSL_CERT_FILE`, when it is
/// set: the file is read and checked now (a broken one is reported before anything is read or
/// sent), the client built only when a request is about to be sent (a token from the cache
/// loads no TLS roots).
fn http_client_from_env() -> Result<Option<impl Fn() -> Result<reqwest::Client> + Send + Sync>> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let pem = read_small(&path, 16 * 1024 * 1024).map_err(|e| {
        Error::invalid_argument(format!("SSL_CERT_FILE: cannot read {}", path.display()))
            .with_source(e)
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::invalid_argument(format!(
            "SSL_CERT_FILE: {} is not a PEM file of certificates",
            path.display()
        )));
    }
    Ok(Some(move || {
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
        reqwest::Client::builder()
            .tls_certs_merge(certs)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                Error::credential_unavailable("could not build the HTTP client").with_source(e)
            })
    }))
}

/// Whether the cache file of `persistence` exists (before a run: is this its first use?).
fn cache_file_exists(persistence: Option<&TokenCachePersistenceOptions>, cae: bool) -> bool {
    persistence
        .and_then(|p| p.path(cae).ok())
        .is_some_and(|path| path.exists())
}

/// Says once, on the run that created it, that the cache is a plaintext file.
async fn notice_plaintext_cache(persistence: Option<&TokenCachePersistenceOptions>, cae: bool) {
    let Some(backend) = persistence.and_then(|p| p.backend(cae).ok()) else {
        return;
    };
    if backend.path().exists() && matches!(backend.is_encrypted().await, Ok(false)) {
        say!(
            "No OS secret store is usable here: the token cache is the plaintext file {} \
             (readable only by you, as az and kubelogin keep theirs). Pass --strict-cache (or \
             set ENTRA_STRICT_CACHE=1) to refuse instead.",
            backend.path().display()
        );
    }
}

/// A token and what `get-token` prints with it.
pub(crate) struct Got {
    pub(crate) info: AccessTokenInfo,
    /// The tenant the token is for.
    pub(crate) tenant: String,
    /// The signed-in account's name, when known.
    pub(crate) username: Option<String>,
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
    // A broken SSL_CERT_FILE is reported before anything is read or sent.
    let env_client = match &mock {
        Some(_) => None,
        None => http_client_from_env()?
            .map(|make| crate::signer::Http::Factory(std::sync::Arc::new(make))),
    };
    let persistence = args.persistence();
    let first_use = !cache_file_exists(persistence.as_ref(), args.enable_cae);
    // The account: the record file's, else the one the persistent cache holds (or the one
    // --username names), as `az` uses its signed-in account.
    let record = match &args.record {
        // `login` signs in afresh, as az login does, and saves the new account there.
        Some(_) if args.fresh_sign_in => None,
        Some(path) => read_record(path)?,
        None => None,
    };
    // One backend for the request's partition: the account lookup and the credential share
    // its store and connection (opening a Secret Service session costs milliseconds).
    let backend: Option<Arc<dyn CacheBackend>> = match &persistence {
        Some(p) => Some(Arc::new(p.backend(args.enable_cae)?)),
        None => None,
    };
    // As az, only the account `login` saved (az answers for its signed-in account, never for
    // another program's that happens to be alone in the shared cache).
    let record = match (record, &backend) {
        (Some(record), _) => Some(record),
        (None, Some(backend)) if !args.az && !args.fresh_sign_in => {
            accounts::record_from_cache(backend, args).await?
        }
        (None, _) => None,
    };
    let shared = persistence.clone().zip(backend);
    let credential =
        Signer::build(args, mock.as_ref(), record, shared, env_client).map_err(|e| {
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
    let result = credential.get_token_info(&scopes, request).await;
    if let Some(mock) = &mock {
        mock.report();
    }
    let info = result?;
    if first_use {
        notice_plaintext_cache(persistence.as_ref(), args.enable_cae).await;
    }

    let record = credential.authentication_record();
    if credential.prompted()
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
            write_private(path, &text).map_err(|e| {
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
    let username = record.as_ref().map(|r| r.username().to_owned());
    let tenant = args
        .request_tenant_id
        .clone()
        .or_else(|| record.map(|r| r.tenant_id().to_owned()))
        .or_else(|| args.tenant_id.clone())
        .unwrap_or_else(|| "organizations".to_owned());
    Ok(Got {
        info,
        tenant,
        username,
    })
}
