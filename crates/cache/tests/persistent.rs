//! The persistent backend: encryption, the keyring, plaintext fallback, permissions, lazy
//! loading, corrupt files, two processes writing at once, a process killed mid-write.

// Helpers of integration tests may unwrap: a failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use entra_cache::{
    AccessTokenQuery, BoxError, Cache, CacheBackend, CacheDocument, CacheError, FileBackend,
    KeyStore, KeyringKeyStore, MemoryKeyStore, TokenCachePersistenceOptions, TokenWrite,
};
use time::OffsetDateTime;

const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const HOME: &str = "uid.utid";
const ENV: &str = "login.microsoftonline.com";
const ROLE_ENV: &str = "ENTRA_CACHE_TEST_ROLE";
const DIR_ENV: &str = "ENTRA_CACHE_TEST_DIR";
const PREFIX_ENV: &str = "ENTRA_CACHE_TEST_PREFIX";

// ---------------------------------------------------------------------------------------------
// key stores for tests

/// Keys in a file: shared by the processes of a test.
#[derive(Debug)]
struct FileKeyStore(PathBuf);

impl KeyStore for FileKeyStore {
    fn get(&self, _name: &str) -> Result<Option<Vec<u8>>, BoxError> {
        match std::fs::read(&self.0) {
            Ok(k) => Ok(Some(k)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    fn set(&self, _name: &str, key: &[u8]) -> Result<(), BoxError> {
        std::fs::write(&self.0, key).map_err(Into::into)
    }
}

/// A keyring that is never usable (no Secret Service, locked, ...).
#[derive(Debug)]
struct NoKeyring;

impl KeyStore for NoKeyring {
    fn get(&self, _name: &str) -> Result<Option<Vec<u8>>, BoxError> {
        Err("org.freedesktop.DBus.Error.ServiceUnknown".into())
    }
    fn set(&self, _name: &str, _key: &[u8]) -> Result<(), BoxError> {
        Err("org.freedesktop.DBus.Error.ServiceUnknown".into())
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn write(scope: &str, token: &str) -> TokenWrite {
    TokenWrite::new(CLIENT, ENV, "organizations", &[scope])
        .with_home_account_id(HOME)
        .with_access_token(token, 3600)
        .with_refresh_token(format!("rt-{token}"), None::<String>)
}

async fn lookup(cache: &Cache, scope: &str) -> Option<String> {
    let envs = [ENV];
    let scopes = [scope];
    let q = AccessTokenQuery::new(CLIENT, HOME, "organizations", &envs, &scopes);
    cache
        .find_access_token(&q, now())
        .await
        .unwrap()
        .map(|t| t.secret().secret().to_owned())
}

fn backend(path: &Path, keys: Arc<dyn KeyStore>) -> FileBackend {
    FileBackend::new(path).with_key_store(keys)
}

/// An encrypted backend whose key the processes of a test share through a file.
fn shared_backend(dir: &Path) -> FileBackend {
    backend(
        &dir.join("msal.cache.nocae"),
        Arc::new(FileKeyStore(dir.join("test.key"))),
    )
}

/// A plaintext backend (what the lock protects does not depend on encryption, and unoptimised
/// test builds encrypt slowly).
fn plain_backend(dir: &Path) -> FileBackend {
    backend(&dir.join("msal.cache.nocae"), Arc::new(NoKeyring)).with_allow_unencrypted_storage(true)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// encryption, keyring, permissions

#[tokio::test]
async fn encrypted_cache_round_trips_across_processes_and_is_unreadable_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("msal.cache.nocae");
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());

    let cache = Cache::with_backend(Arc::new(backend(&path, keys.clone())));
    // Lazy: nothing exists before the first operation.
    assert!(!dir.path().join("sub").exists());
    cache
        .write_token_response(&write("s", "SECRET-AT-1"), now())
        .await
        .unwrap();

    let raw = std::fs::read(&path).unwrap();
    assert!(raw.starts_with(b"entra-rs encrypted token cache v1\n"));
    assert!(!contains(&raw, b"SECRET-AT-1"));
    assert!(!contains(&raw, b"AccessToken"));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    // The lock is held only around the write: the lock file is gone.
    assert!(!Path::new(&format!("{}.lockfile", path.display())).exists());

    // A new process (a new cache with the same key store) finds the token on disk.
    let fresh = Cache::with_backend(Arc::new(backend(&path, keys.clone())));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("SECRET-AT-1"));

    // Another key: undecryptable, a typed error, and the file is left alone.
    let other_key = Arc::new(MemoryKeyStore::new());
    other_key.set(&path.to_string_lossy(), &[7u8; 32]).unwrap();
    let wrong = Cache::with_backend(Arc::new(backend(&path, other_key)));
    let err = wrong.reload().await.unwrap_err();
    assert!(matches!(err, CacheError::Undecryptable { .. }), "{err:?}");
    let err = wrong
        .write_token_response(&write("t", "x"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Undecryptable { .. }), "{err:?}");
    // No key at all (the keyring was reset): no new key is made over an encrypted file.
    let empty = Cache::with_backend(Arc::new(backend(&path, Arc::new(MemoryKeyStore::new()))));
    let err = empty.reload().await.unwrap_err();
    assert!(matches!(err, CacheError::Undecryptable { .. }), "{err:?}");
    assert!(err.to_string().contains("delete it"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), raw);
    // A flipped bit is detected.
    let mut tampered = raw.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let fresh = Cache::with_backend(Arc::new(backend(&path, keys)));
    assert!(matches!(
        fresh.reload().await.unwrap_err(),
        CacheError::Undecryptable { .. }
    ));
}

#[tokio::test]
async fn no_usable_keyring_is_a_typed_error_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let cache = Cache::with_backend(Arc::new(backend(&path, Arc::new(NoKeyring))));
    let err = cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CacheError::KeyringUnavailable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("allow_unencrypted_storage"),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err)
            .unwrap()
            .to_string()
            .contains("ServiceUnknown")
    );
    let err = cache.reload().await.unwrap_err();
    assert!(matches!(err, CacheError::KeyringUnavailable { .. }));
    assert!(!path.exists(), "nothing written in plaintext");
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(core.to_string().contains("allow_unencrypted_storage"));
}

#[tokio::test]
async fn plaintext_fallback_writes_msal_s_own_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let b = backend(&path, Arc::new(NoKeyring)).with_allow_unencrypted_storage(true);
    assert!(!b.is_encrypted().await.unwrap());
    let cache = Cache::with_backend(Arc::new(b));
    cache
        .write_token_response(&write("s", "plain-at"), now())
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\n    \"AccessToken\": {"), "{text}");
    let doc = CacheDocument::from_json(text.as_bytes()).unwrap();
    assert_eq!(
        doc.access_tokens().next().unwrap().1.secret.secret(),
        "plain-at"
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // A file MSAL Python wrote there is read as is.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msal-python-cache.json"),
        &path,
    )
    .unwrap();
    assert_eq!(cache.tokens().len(), 3, "not reloaded yet");
    cache.reload().await.unwrap();
    assert_eq!(cache.tokens().len(), 7);
}

#[tokio::test]
async fn a_plaintext_cache_is_read_then_encrypted_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let plain = Cache::with_backend(Arc::new(
        backend(&path, Arc::new(NoKeyring)).with_allow_unencrypted_storage(true),
    ));
    plain
        .write_token_response(&write("s", "old-at"), now())
        .await
        .unwrap();
    // Now a keyring is usable.
    let cache = Cache::with_backend(Arc::new(backend(&path, Arc::new(MemoryKeyStore::new()))));
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("old-at"));
    cache
        .write_token_response(&write("t", "new-at"), now())
        .await
        .unwrap();
    let raw = std::fs::read(&path).unwrap();
    assert!(raw.starts_with(b"entra-rs encrypted"));
    assert!(!contains(&raw, b"old-at"));
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("old-at"));
}

#[tokio::test]
async fn corrupt_truncated_and_foreign_files_are_errors_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let good = Cache::with_backend(Arc::new(backend(&path, keys.clone())));
    good.write_token_response(&write("s", "at"), now())
        .await
        .unwrap();
    let sealed = std::fs::read(&path).unwrap();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xffnot a cache".to_vec()),
        ("foreign json", b"[\"a list\"]".to_vec()),
        ("truncated json", b"{\"AccessToken\": {\"k\": {".to_vec()),
        ("truncated encrypted", sealed[..40].to_vec()),
    ];
    for (what, content) in cases {
        std::fs::write(&path, &content).unwrap();
        let cache = Cache::with_backend(Arc::new(backend(&path, keys.clone())));
        let err = cache.reload().await.unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{what}: {err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{what}: {err}"
        );
        let err = cache
            .write_token_response(&write("t", "x"), now())
            .await
            .unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{what}: {err:?}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "{what}: never overwritten"
        );
    }
    // An empty file (MSAL's change-signal file) is an empty cache.
    std::fs::write(&path, b"").unwrap();
    let cache = Cache::with_backend(Arc::new(backend(&path, keys)));
    assert_eq!(lookup(&cache, "s").await, None);
    cache
        .write_token_response(&write("s", "at2"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("at2"));
}

#[tokio::test]
async fn caches_on_one_file_see_each_other_and_cae_is_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let options = TokenCachePersistenceOptions::default().with_directory(dir.path().join("ids"));
    assert_eq!(options.name, "msal.cache");
    assert_eq!(
        options.path(false).unwrap(),
        dir.path().join("ids/msal.cache.nocae")
    );
    assert_eq!(
        options.path(true).unwrap(),
        dir.path().join("ids/msal.cache.cae")
    );
    let nocae_backend = options.backend(false).unwrap();
    assert_eq!(
        nocae_backend.lock_path(),
        dir.path().join("ids/msal.cache.nocae.lockfile")
    );
    assert!(options.clone().with_name("a/b").path(false).is_err());

    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let make =
        |cae| Cache::with_backend(Arc::new(backend(&options.path(cae).unwrap(), keys.clone())));
    let (a, b, cae) = (make(false), make(false), make(true));
    a.write_token_response(&write("s", "from-a"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&b, "s").await.as_deref(), Some("from-a"));
    b.write_token_response(&write("t", "from-b"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&a, "t").await.as_deref(), Some("from-b"));
    assert_eq!(lookup(&a, "s").await.as_deref(), Some("from-a"));
    // The CAE cache is another file.
    assert_eq!(lookup(&cae, "s").await, None);
    cae.write_token_response(&write("s", "cae-at"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&a, "s").await.as_deref(), Some("from-a"));
    // Deleting the file empties the caches that read it.
    std::fs::remove_file(options.path(false).unwrap()).unwrap();
    assert_eq!(lookup(&a, "s").await, None);
}

/// The real OS keyring (Secret Service on Linux). Skipped with a message when none is usable,
/// except in CI (CI=true), where the keyring is set up and this must pass.
#[tokio::test]
async fn os_keyring_keeps_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let b = FileBackend::new(&path);
    match b.is_encrypted().await {
        Ok(encrypted) => assert!(encrypted),
        Err(CacheError::KeyringUnavailable { source }) => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but no usable keyring: {source}"
            );
            println!("skipped: no usable keyring ({source})");
            return;
        }
        Err(e) => panic!("{e:?}"),
    }
    let cache = Cache::with_backend(Arc::new(b));
    cache
        .write_token_response(&write("s", "keyring-at"), now())
        .await
        .unwrap();
    assert!(
        std::fs::read(&path)
            .unwrap()
            .starts_with(b"entra-rs encrypted")
    );
    let fresh = Cache::with_backend(Arc::new(FileBackend::new(&path)));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("keyring-at"));
    // The key is really in the keyring: 32 bytes under the file's path.
    let key = KeyringKeyStore
        .get(&path.to_string_lossy())
        .unwrap()
        .unwrap();
    assert_eq!(key.len(), 32);
    // Clean up the test's keyring item.
    let entry = keyring::Entry::new("entra-rs.token-cache", &path.to_string_lossy()).unwrap();
    entry.delete_credential().unwrap();
}

// ---------------------------------------------------------------------------------------------
// processes

fn child(test: &str, role: &str, dir: &Path, prefix: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(DIR_ENV, dir)
        .env(PREFIX_ENV, prefix);
    cmd
}

/// In a child process: the role given by the parent, if any.
fn child_role() -> Option<(String, PathBuf, String)> {
    let role = std::env::var(ROLE_ENV).ok()?;
    let dir = PathBuf::from(std::env::var(DIR_ENV).ok()?);
    let prefix = std::env::var(PREFIX_ENV).ok()?;
    Some((role, dir, prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_500_entries_each_lose_none() {
    const N: usize = 500;
    if let Some((role, dir, prefix)) = child_role() {
        assert_eq!(role, "writer");
        let cache = Cache::with_backend(Arc::new(plain_backend(&dir)));
        for i in 0..N {
            cache
                .write_token_response(
                    &write(&format!("{prefix}{i}"), &format!("{prefix}-at-{i}")),
                    now(),
                )
                .await
                .unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let test = "two_processes_writing_500_entries_each_lose_none";
    let mut a = child(test, "writer", dir.path(), "a")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut b = child(test, "writer", dir.path(), "b")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());

    let cache = Cache::with_backend(Arc::new(plain_backend(dir.path())));
    cache.reload().await.unwrap();
    let doc = cache.tokens().document();
    assert_eq!(doc.access_tokens().count(), 2 * N);
    for prefix in ["a", "b"] {
        for i in 0..N {
            assert_eq!(
                lookup(&cache, &format!("{prefix}{i}")).await.as_deref(),
                Some(format!("{prefix}-at-{i}").as_str())
            );
        }
    }
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join("msal.cache.nocae")), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_write_leaves_a_readable_cache() {
    const BASE: usize = 1_500;
    if let Some((role, dir, prefix)) = child_role() {
        assert_eq!(role, "loop");
        let cache = Cache::with_backend(Arc::new(shared_backend(&dir)));
        // Write until killed.
        for i in 0.. {
            cache
                .write_token_response(&write(&format!("{prefix}{i}"), "x"), now())
                .await
                .unwrap();
            println!("wrote {i}");
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A large cache, so that each write takes a while.
    let cache = Cache::with_backend(Arc::new(shared_backend(dir.path())));
    let mut doc = String::from("{\"AccessToken\": {");
    for i in 0..BASE {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            r#""k{i}": {{"credential_type": "AccessToken", "secret": "{secret}", "home_account_id": "{HOME}",
            "environment": "{ENV}", "client_id": "{CLIENT}", "realm": "organizations",
            "target": "base{i}", "expires_on": "9999999999"}}"#,
            secret = "s".repeat(1_000)
        ));
    }
    doc.push_str("}}");
    cache
        .import(CacheDocument::from_json(doc.as_bytes()).unwrap())
        .await
        .unwrap();
    cache
        .write_token_response(&write("seed", "seed-at"), now())
        .await
        .unwrap();

    let test = "a_process_killed_mid_write_leaves_a_readable_cache";
    for round in 0..3 {
        let mut proc = child(test, "loop", dir.path(), &format!("r{round}-"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        // Let it finish a few writes, then kill it wherever it is (likely inside a write).
        let mut done = 0;
        while done < 2 + round {
            let line = lines.next().unwrap().unwrap();
            if line.starts_with("wrote ") {
                done += 1;
            }
        }
        proc.kill().unwrap();
        proc.wait().unwrap();

        // The cache is readable, holds everything written before, and takes new writes (the
        // killed process's lock died with it).
        let fresh = Cache::with_backend(Arc::new(shared_backend(dir.path())));
        fresh.reload().await.unwrap();
        assert!(fresh.tokens().len() > BASE, "round {round}");
        assert_eq!(lookup(&fresh, "seed").await.as_deref(), Some("seed-at"));
        assert!(lookup(&fresh, "base42").await.is_some());
        for i in 0..done {
            assert!(
                lookup(&fresh, &format!("r{round}-{i}")).await.is_some(),
                "round {round} write {i}"
            );
        }
        fresh
            .write_token_response(&write(&format!("after{round}"), "after"), now())
            .await
            .unwrap();
        assert!(lookup(&fresh, &format!("after{round}")).await.is_some());
        // Temporary files of the killed write are cleaned up by the next writer.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// a hostile file system: links, FIFOs, devices, huge files, unsafe directories

/// Whether this process runs as root (some checks need another user to own a file).
#[cfg(unix)]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_lock_file_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let b = plain_backend(dir.path());
    std::os::unix::fs::symlink(&victim, b.lock_path()).unwrap();
    let cache = Cache::with_backend(Arc::new(b));
    let err = cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap_err();
    let CacheError::Insecure { path, problem, fix } = &err else {
        panic!("{err:?}");
    };
    assert!(path.ends_with("msal.cache.nocae.lockfile"), "{path:?}");
    assert!(problem.contains("symbolic link"), "{problem}");
    assert!(fix.contains("delete it"), "{fix}");
    assert!(err.to_string().contains(".lockfile"), "{err}");
    // The file the link points to is neither truncated nor written.
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // A dangling link's target is not created either.
    let dir = tempfile::tempdir().unwrap();
    let b = plain_backend(dir.path());
    let target = dir.path().join("created-by-attacker");
    std::os::unix::fs::symlink(&target, b.lock_path()).unwrap();
    let cache = Cache::with_backend(Arc::new(b));
    assert!(matches!(
        cache.write_token_response(&write("s", "at"), now()).await,
        Err(CacheError::Insecure { .. })
    ));
    assert!(!target.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_lock_file_is_locked_but_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let b = plain_backend(dir.path());
    // Another MSAL process's lock file, left behind: used, not rewritten. A hard link is not.
    std::fs::write(b.lock_path(), b"4242 python").unwrap();
    let lock_path = b.lock_path().to_owned();
    let cache = Cache::with_backend(Arc::new(b));
    cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("at"));
    // Deleted on release, as MSAL's extensions do.
    assert!(!lock_path.exists());

    let other = dir.path().join("other-file");
    std::fs::write(&other, b"keep").unwrap();
    std::fs::hard_link(&other, &lock_path).unwrap();
    let err = cache
        .write_token_response(&write("s", "at2"), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CacheError::Insecure { problem, .. } if problem.contains("hard link")),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&other).unwrap(), b"keep");
}

#[cfg(unix)]
#[tokio::test]
async fn a_directory_writable_by_others_or_owned_by_another_user_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("shared");
    std::fs::create_dir(&cache_dir).unwrap();
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let b = plain_backend(&cache_dir);
    let err = b.load(None).await.unwrap_err();
    let CacheError::Insecure { path, problem, fix } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(path, &cache_dir);
    assert!(
        problem.contains("other users can write to it (mode 777)"),
        "{problem}"
    );
    assert_eq!(fix, &format!("run `chmod go-w '{}'`", cache_dir.display()));
    // Nothing was written there.
    let cache = Cache::with_backend(Arc::new(plain_backend(&cache_dir)));
    assert!(
        cache
            .write_token_response(&write("s", "at"), now())
            .await
            .is_err()
    );
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 0);

    // Mode 0755 (the default umask's) is fine.
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        plain_backend(&cache_dir).load(None).await.unwrap(),
        entra_cache::Loaded::Missing
    );

    if !is_root() {
        println!("skipped the other-owner case: only root can give a directory to another user");
        return;
    }
    std::os::unix::fs::chown(&cache_dir, Some(65534), None).unwrap();
    let err = plain_backend(&cache_dir).load(None).await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Insecure { problem, fix, .. }
            if problem.contains("owned by user 65534") && fix.contains("chown")),
        "{err:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn fifos_devices_and_huge_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let b = plain_backend(dir.path());
    let path = b.path().to_owned();

    // A FIFO: opening it for reading would wait forever for a writer.
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    let err = b.load(None).await.unwrap_err();
    assert!(
        matches!(&err, CacheError::NotAFile { path: p } if p == &path),
        "{err:?}"
    );
    std::fs::remove_file(&path).unwrap();

    // A link to /dev/zero: never read (it would never end).
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let b = plain_backend(dir.path());
    assert!(matches!(
        b.load(None).await,
        Err(CacheError::NotAFile { .. })
    ));
    std::fs::remove_file(&path).unwrap();

    // A sparse 200 GB file: refused from its size, no allocation of what it claims.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(200 * 1024 * 1024 * 1024).unwrap();
    drop(file);
    let b = plain_backend(dir.path());
    let err = b.load(None).await.unwrap_err();
    assert!(
        matches!(&err, CacheError::TooLarge { limit, .. } if *limit == entra_cache::MAX_CACHE_FILE_BYTES),
        "{err:?}"
    );
    // ... and a write does not replace it.
    let cache = Cache::with_backend(Arc::new(plain_backend(dir.path())));
    assert!(matches!(
        cache.write_token_response(&write("s", "at"), now()).await,
        Err(CacheError::TooLarge { .. })
    ));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        200 * 1024 * 1024 * 1024
    );
    // The encrypted backend's first look at the file (is it ours?) refuses it too.
    let encrypted = backend(&path, Arc::new(MemoryKeyStore::new()));
    assert!(matches!(
        encrypted.load(None).await,
        Err(CacheError::TooLarge { .. })
    ));
}

#[test]
fn the_memory_key_store_never_shows_its_keys() {
    let store = MemoryKeyStore::new();
    let key = [0xABu8; 32];
    store
        .set("/home/alice/.IdentityService/msal.cache.nocae", &key)
        .unwrap();
    let shown = format!("{store:?}");
    assert_eq!(shown, "MemoryKeyStore { keys: 1, .. }");
    assert!(!shown.contains("171"), "{shown}"); // 0xAB as a decimal byte
    assert!(!shown.contains("alice"), "{shown}");
}
