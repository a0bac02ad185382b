//! A persistent cache plus a saved record: a new credential (a "new process") signs in
//! silently with zero requests, even when only the record is given.

use std::sync::Arc;

use entra_cache::{BoxError, FileBackend, SecretStore};
use entra_core::AuthenticationRecord;
use entra_public_client::PublicClientOptions;

use crate::common::{Env, SCOPE};

/// No OS secret store: the backend falls back to a plaintext file (allowed explicitly).
#[derive(Debug)]
pub(crate) struct NoKeyring;

impl SecretStore for NoKeyring {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        Err("no keyring in this test".into())
    }
    fn save(&self, _document: &[u8]) -> Result<(), BoxError> {
        Err("no keyring in this test".into())
    }
    fn kind(&self) -> &'static str {
        "none"
    }
}

/// A plaintext file backend in `dir` (MSAL's own JSON; no keyring involved).
pub(crate) fn backend(dir: &std::path::Path) -> Arc<FileBackend> {
    Arc::new(
        FileBackend::new(dir.join("test.cache.nocae"))
            .with_allow_unencrypted_storage(true)
            .with_secret_store(Arc::new(NoKeyring)),
    )
}

#[tokio::test]
async fn a_fresh_credential_with_only_the_record_signs_in_with_zero_requests() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();

    let first = env.client_with(env.options().with_cache_backend(backend(dir.path())));
    let record = first.authenticate(&[SCOPE], None).await.unwrap();
    let token = first.get_token(&[SCOPE], None).await.unwrap();
    let saved = record.serialize();
    drop(first);
    // The file is MSAL's plain JSON document.
    let text = std::fs::read_to_string(dir.path().join("test.cache.nocae")).unwrap();
    assert!(text.contains("\"AccessToken\""), "{text}");

    // "A new process": new credential, new backend object, the record read back from text.
    env.mock.clear_log();
    let record = AuthenticationRecord::deserialize(&saved).unwrap();
    let options = PublicClientOptions::new()
        .with_authentication_record(record)
        .with_http_client(env.mock.resolving_http_client())
        .with_cache_backend(backend(dir.path()));
    let second = env.client_with(options);
    let again = second.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token, token.token);
    assert_eq!(env.mock.total_requests(), 0);
    assert_eq!(env.prompts(), 1);
}

#[tokio::test]
async fn without_a_record_a_fresh_credential_prompts_as_python() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = env.client_with(env.options().with_cache_backend(backend(dir.path())));
    first.get_token(&[SCOPE], None).await.unwrap();
    let second = env.client_with(env.options().with_cache_backend(backend(dir.path())));
    second.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(env.prompts(), 2);
}

/// A custom authority (here the mock on `https://localhost:PORT`, validated by instance
/// discovery on the first sign-in): a fresh credential with the record and the persistent
/// cache makes zero requests too. The authority is resolved only when a request must be sent.
#[tokio::test]
async fn a_fresh_credential_on_a_custom_authority_makes_zero_requests() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let options = |record: Option<AuthenticationRecord>| {
        let mut options = PublicClientOptions::new()
            .with_authority(env.mock.base_url())
            .with_http_client(env.mock.resolving_http_client())
            .with_cache_backend(backend(dir.path()));
        if let Some(record) = record {
            options = options.with_authentication_record(record);
        }
        options
    };
    let first = env.client_with(options(None));
    let token = first.get_token(&[SCOPE], None).await.unwrap();
    // The first sign-in validated and resolved the authority: discovery and metadata.
    assert_eq!(
        env.mock.count(entra_testing::Endpoint::InstanceDiscovery),
        1
    );
    assert_eq!(
        env.mock.count(entra_testing::Endpoint::OpenIdConfiguration),
        1
    );
    let record = first.authentication_record().unwrap();
    drop(first);

    env.mock.clear_log();
    let second = env.client_with(options(Some(record)));
    let again = second.get_token(&[SCOPE], None).await.unwrap();
    assert_eq!(again.token, token.token);
    assert_eq!(env.mock.total_requests(), 0, "{:?}", env.mock.requests());
    assert_eq!(env.prompts(), 1);
}
