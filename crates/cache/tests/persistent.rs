//! The persistent backend: the secret store (the file is then a signal), the protected file
//! (DPAPI's shape, with a stand-in protector), the plaintext fallback, the lock file shared
//! with msal-extensions, permissions, lazy loading, unreadable files, two processes writing at
//! once, a process killed mid-write.

// Helpers of integration tests may unwrap: a failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use entra_cache::{
    AccessTokenQuery, BoxError, Cache, CacheBackend, CacheDocument, CacheError, FileBackend,
    MemorySecretStore, Protector, SecretStore, TokenCachePersistenceOptions, TokenWrite,
};
use time::OffsetDateTime;

const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const HOME: &str = "uid.utid";
const ENV: &str = "login.microsoftonline.com";
const ROLE_ENV: &str = "ENTRA_CACHE_TEST_ROLE";
const DIR_ENV: &str = "ENTRA_CACHE_TEST_DIR";
const PREFIX_ENV: &str = "ENTRA_CACHE_TEST_PREFIX";
const LEGACY: &[u8] = b"entra-rs encrypted token cache v1\n\x01\x02\x03sealed";

// ---------------------------------------------------------------------------------------------
// stand-ins for the OS

/// A secret store that is never usable (no Secret Service, locked, ...).
#[derive(Debug)]
struct NoStore;

impl SecretStore for NoStore {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        Err("org.freedesktop.DBus.Error.ServiceUnknown".into())
    }
    fn save(&self, _document: &[u8]) -> Result<(), BoxError> {
        Err("org.freedesktop.DBus.Error.ServiceUnknown".into())
    }
    fn kind(&self) -> &'static str {
        "none"
    }
}

/// DPAPI's shape without Windows: what one "user" seals, another cannot open. (Not
/// encryption: the tests check what the backend does around the platform call.)
#[derive(Debug)]
struct StandInProtector(u8);

impl Protector for StandInProtector {
    fn protect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError> {
        let mut out = vec![0x01, 0x00, self.0];
        out.extend(data.iter().map(|b| b ^ self.0));
        Ok(out)
    }
    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError> {
        match data {
            [0x01, 0x00, user, sealed @ ..] if *user == self.0 => {
                Ok(sealed.iter().map(|b| b ^ self.0).collect())
            }
            _ => Err("the data was protected for another user".into()),
        }
    }
    fn kind(&self) -> &'static str {
        "file stand-in"
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

fn stored(path: &Path, store: &Arc<MemorySecretStore>) -> FileBackend {
    FileBackend::new(path).with_secret_store(store.clone())
}

fn protected(path: &Path, user: u8) -> FileBackend {
    FileBackend::new(path).with_protector(Arc::new(StandInProtector(user)))
}

/// A protected backend the processes of a test share (the document lives in the file).
fn shared_backend(dir: &Path) -> FileBackend {
    protected(&dir.join("msal.cache.nocae"), 7)
}

/// A plaintext backend (what the lock protects does not depend on encryption).
fn plain_backend(dir: &Path) -> FileBackend {
    FileBackend::new(dir.join("msal.cache.nocae"))
        .with_secret_store(Arc::new(NoStore))
        .with_allow_unencrypted_storage(true)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn lock_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lockfile", path.display()))
}

// ---------------------------------------------------------------------------------------------
// where the document lives

#[tokio::test]
async fn with_a_secret_store_the_document_is_there_and_the_file_only_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("msal.cache.nocae");
    let store = Arc::new(MemorySecretStore::new());

    let cache = Cache::with_backend(Arc::new(stored(&path, &store)));
    // Lazy: nothing exists before the first operation.
    assert!(!dir.path().join("sub").exists());
    assert_eq!(lookup(&cache, "s").await, None);
    cache
        .write_token_response(&write("s", "SECRET-AT-1"), now())
        .await
        .unwrap();

    // MSAL's JSON in the store, nothing in the file.
    let document = store.document().unwrap();
    let doc = CacheDocument::from_json(&document).unwrap();
    assert_eq!(
        doc.access_tokens().next().unwrap().1.secret.secret(),
        "SECRET-AT-1"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    // The lock is held only around the write: the lock file is gone.
    assert!(!lock_path(&path).exists());
    // The signal's time runs ahead of the clock, so that a process that was loading while
    // this write happened (msal-extensions compares it with the end of its load) reloads.
    let touched = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(touched > std::time::SystemTime::now() + Duration::from_secs(1));

    // A new process (a new backend on the same store) finds the token; a write by another
    // process is seen once it touches the signal.
    let fresh = Cache::with_backend(Arc::new(stored(&path, &store)));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("SECRET-AT-1"));
    fresh
        .write_token_response(&write("t", "from-fresh"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&cache, "t").await.as_deref(), Some("from-fresh"));
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("SECRET-AT-1"));

    // A file holding data (an earlier plaintext fallback, our 0.1 format) is neither read nor
    // rewritten: MSAL ignores it too.
    for content in [br#"{"AccessToken": {}}"#.as_slice(), LEGACY] {
        std::fs::write(&path, content).unwrap();
        let other = Cache::with_backend(Arc::new(stored(&path, &store)));
        assert_eq!(lookup(&other, "s").await.as_deref(), Some("SECRET-AT-1"));
        other
            .write_token_response(&write("u", "u-at"), now())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content);
    }
}

#[tokio::test]
async fn a_protected_file_round_trips_and_is_left_alone_when_it_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let cache = Cache::with_backend(Arc::new(protected(&path, 7)));
    cache
        .write_token_response(&write("s", "SECRET-AT-1"), now())
        .await
        .unwrap();
    let raw = std::fs::read(&path).unwrap();
    assert!(!contains(&raw, b"SECRET-AT-1"));
    assert!(!contains(&raw, b"AccessToken"));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let fresh = Cache::with_backend(Arc::new(protected(&path, 7)));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("SECRET-AT-1"));

    // Another user's file: a typed error naming the file, and it is never overwritten.
    let other = Cache::with_backend(Arc::new(protected(&path, 9)));
    let err = other.reload().await.unwrap_err();
    assert!(matches!(err, CacheError::Undecryptable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("delete it"), "{err}");
    let err = other
        .write_token_response(&write("t", "x"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Undecryptable { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), raw);

    // MSAL's plain JSON there (an earlier fallback) is read, and sealed by the next write.
    let plain = Cache::with_backend(Arc::new(plain_backend(dir.path())));
    std::fs::remove_file(&path).unwrap();
    plain
        .write_token_response(&write("s", "old-at"), now())
        .await
        .unwrap();
    let cache = Cache::with_backend(Arc::new(protected(&path, 7)));
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("old-at"));
    cache
        .write_token_response(&write("t", "new-at"), now())
        .await
        .unwrap();
    let raw = std::fs::read(&path).unwrap();
    assert!(!contains(&raw, b"old-at"));
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("old-at"));

    // An empty file (a change-signal file) is an empty cache.
    std::fs::write(&path, b"").unwrap();
    let cache = Cache::with_backend(Arc::new(protected(&path, 7)));
    assert_eq!(lookup(&cache, "s").await, None);
}

#[tokio::test]
async fn no_usable_store_is_a_typed_error_naming_the_option() {
    #[derive(Debug)]
    struct Refusing;
    impl Protector for Refusing {
        fn protect(&self, _data: &[u8]) -> Result<Vec<u8>, BoxError> {
            Err("CryptProtectData: access denied".into())
        }
        fn unprotect(&self, _data: &[u8]) -> Result<Vec<u8>, BoxError> {
            Err("CryptUnprotectData: access denied".into())
        }
        fn kind(&self) -> &'static str {
            "refusing"
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    for (backend, cause) in [
        (
            FileBackend::new(&path).with_secret_store(Arc::new(NoStore)),
            "ServiceUnknown",
        ),
        (
            FileBackend::new(&path).with_protector(Arc::new(Refusing)),
            "access denied",
        ),
    ] {
        let cache = Cache::with_backend(Arc::new(backend));
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
                .contains(cause),
            "{err:?}"
        );
        let err = cache.reload().await.unwrap_err();
        assert!(matches!(err, CacheError::KeyringUnavailable { .. }));
        assert!(!path.exists(), "nothing written in plaintext");
        let core: entra_core::Error = err.into();
        assert!(core.is_client_authentication());
        assert!(core.to_string().contains("allow_unencrypted_storage"));
    }
}

#[tokio::test]
async fn plaintext_fallback_writes_msal_s_own_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let b = plain_backend(dir.path());
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
async fn corrupt_foreign_and_legacy_files_are_errors_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xffnot a cache".to_vec()),
        ("foreign json", b"[\"a list\"]".to_vec()),
        ("truncated json", b"{\"AccessToken\": {\"k\": {".to_vec()),
    ];
    for (what, content) in cases {
        std::fs::write(&path, &content).unwrap();
        let cache = Cache::with_backend(Arc::new(plain_backend(dir.path())));
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
    // Our 0.1 format, in both file modes: a typed error that says what it is and what to do.
    for backend in [plain_backend(dir.path()), protected(&path, 7)] {
        std::fs::write(&path, LEGACY).unwrap();
        let cache = Cache::with_backend(Arc::new(backend));
        let err = cache
            .write_token_response(&write("t", "x"), now())
            .await
            .unwrap_err();
        assert!(matches!(err, CacheError::LegacyFormat { .. }), "{err:?}");
        assert!(err.to_string().contains("entra-rs 0.1"), "{err}");
        assert!(err.to_string().contains("delete it"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), LEGACY);
        let core: entra_core::Error = err.into();
        assert_eq!(core.reason(), entra_core::Reason::CacheUnreadable);
    }
    // An empty file (MSAL's change-signal file) is an empty cache.
    std::fs::write(&path, b"").unwrap();
    let cache = Cache::with_backend(Arc::new(plain_backend(dir.path())));
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

    let make = |cae| Cache::with_backend(Arc::new(protected(&options.path(cae).unwrap(), 7)));
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

/// The attributes msal-extensions looks its Secret Service item up by, for the cache file
/// `name`, written out here (not taken from the library) so that the tests check them.
#[cfg(all(unix, not(target_os = "macos")))]
fn msal_item_attributes(name: &str) -> [&str; 4] {
    [
        "xdg:schema",
        name,
        "MsalClientID",
        "Microsoft.Developer.IdentityService",
    ]
}

/// Removes a test's Secret Service item(s) with libsecret's `secret-tool`.
#[cfg(all(unix, not(target_os = "macos")))]
fn clear_item(attributes: &[&str]) {
    let status = Command::new("secret-tool")
        .arg("clear")
        .args(attributes)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The default backend of `path` when it is the real Secret Service (encrypted); `None` after
/// saying why it is skipped (in CI, where gnome-keyring runs, a failure).
#[cfg(all(unix, not(target_os = "macos")))]
async fn secret_service_backend(path: &Path) -> Option<FileBackend> {
    let b = FileBackend::new(path);
    match b.is_encrypted().await {
        Ok(encrypted) => {
            assert!(encrypted);
            Some(b)
        }
        Err(CacheError::KeyringUnavailable { source }) => {
            entra_testing::skip_or_fail(&format!("no usable Secret Service ({source})"));
            None
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// The real Secret Service (gnome-keyring in CI), checked with an independent client,
/// libsecret's `secret-tool`: the item has exactly msal-extensions' attributes, label and
/// text. Skipped with a message when none is usable, except in CI (CI=true), where it must
/// pass.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test]
async fn the_secret_service_item_is_where_msal_extensions_looks() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("entra-test-{}.nocae", std::process::id());
    let path = dir.path().join(&name);
    let Some(b) = secret_service_backend(&path).await else {
        return;
    };
    assert_eq!(b.kind(), "secret service");
    let cache = Cache::with_backend(Arc::new(b));
    cache
        .write_token_response(&write("s", "keyring-at"), now())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"",
        "the file is only a signal"
    );
    let fresh = Cache::with_backend(Arc::new(FileBackend::new(&path)));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("keyring-at"));

    let attributes = msal_item_attributes(&name);
    let out = Command::new("secret-tool")
        .arg("lookup")
        .args(attributes)
        .output();
    let Ok(out) = out else {
        entra_testing::skip_or_fail(
            "secret-tool not installed (libsecret-tools): the item was not inspected",
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = CacheDocument::from_json(&out.stdout).unwrap();
    assert_eq!(
        doc.access_tokens().next().unwrap().1.secret.secret(),
        "keyring-at"
    );
    let search = Command::new("secret-tool")
        .args(["search", "--all"])
        .args(attributes)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&search.stdout);
    assert!(listing.contains("label = MSALCache"), "{listing}");
    clear_item(&attributes);
}

/// Issue 20 (also): an item with msal-extensions' attributes planted in another collection
/// (here gnome-keyring's `session` collection, as any process of the user can) is never read:
/// only the default collection is, and the planted document does not become the cache.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test]
async fn a_look_alike_item_in_another_collection_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("entra-test-planted-{}.nocae", std::process::id());
    let path = dir.path().join(&name);
    let Some(b) = secret_service_backend(&path).await else {
        return;
    };
    let attributes = msal_item_attributes(&name);
    let source = Cache::in_memory();
    source
        .write_token_response(&write("s", "planted-at"), now())
        .await
        .unwrap();
    let planted = source.tokens().to_json();
    let Ok(mut store) = Command::new("secret-tool")
        .args(["store", "--label=MSALCache", "--collection=session"])
        .args(attributes)
        .stdin(std::process::Stdio::piped())
        .spawn()
    else {
        entra_testing::skip_or_fail("secret-tool not installed (libsecret-tools)");
        return;
    };
    {
        use std::io::Write as _;
        let mut stdin = store.stdin.take().unwrap();
        stdin.write_all(&planted).unwrap();
    }
    assert!(store.wait().unwrap().success(), "secret-tool store failed");

    let cache = Cache::with_backend(Arc::new(b));
    assert_eq!(lookup(&cache, "s").await, None, "the planted item was read");

    clear_item(&attributes);
}

// ---------------------------------------------------------------------------------------------
// the lock file, shared with msal-extensions

#[cfg(unix)]
#[tokio::test]
async fn a_live_holder_s_lock_file_is_waited_for_and_an_old_dead_one_s_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let lock = lock_path(&path);
    let short = |b: FileBackend| {
        Cache::with_backend(Arc::new(b.with_lock_timeout(Duration::from_millis(300))))
    };

    // msal-extensions on Linux holds the lock by having created the file (no flock): this
    // process's pid stands for a live Python holder, and an empty new file for one that has
    // not written its pid yet.
    for content in [format!("{} python", std::process::id()), String::new()] {
        std::fs::write(&lock, &content).unwrap();
        let cache = short(plain_backend(dir.path()));
        let err = cache
            .write_token_response(&write("s", "at"), now())
            .await
            .unwrap_err();
        assert!(matches!(err, CacheError::LockTimeout { .. }), "{err:?}");
        assert!(err.to_string().contains(".lockfile"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&lock).unwrap(),
            content,
            "never touched"
        );
        assert!(!path.exists(), "nothing written without the lock");
    }

    // Issue 20 (also): a holder whose pid cannot be seen (here a finished process's; as well
    // a live one in another PID namespace) may be alive: while its lock file is younger than
    // the lock timeout (its time set ahead, so that it stays young however slow this
    // machine), it is waited for and never removed.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let content = format!("{dead} /usr/bin/python3");
    let file = std::fs::File::create(&lock).unwrap();
    std::io::Write::write_all(&mut &file, content.as_bytes()).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let cache = short(plain_backend(dir.path()));
    let err = cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::LockTimeout { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), content);

    // Older than the lock timeout (a minute), the holder that cannot be seen is gone: the
    // file is removed and the write goes ahead; likewise an empty file a minute old.
    let file = std::fs::File::options().write(true).open(&lock).unwrap();
    file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    drop(file);
    cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("at"));
    assert!(
        !lock.exists(),
        "deleted on release, as msal-extensions does"
    );

    let file = std::fs::File::create(&lock).unwrap();
    file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    drop(file);
    cache
        .write_token_response(&write("t", "at"), now())
        .await
        .unwrap();
    assert!(!lock.exists());
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
async fn a_stale_lock_file_is_removed_but_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let b = plain_backend(dir.path());
    // Another MSAL process's lock file, left behind a minute ago by a process that is gone:
    // removed, not rewritten. A hard link is refused.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(b.lock_path(), format!("{dead} python")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(b.lock_path())
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
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
    // The protected backend refuses it too.
    let sealed = protected(&path, 7);
    assert!(matches!(
        sealed.load(None).await,
        Err(CacheError::TooLarge { .. })
    ));
}

#[test]
fn the_memory_secret_store_never_shows_its_document() {
    let store = MemorySecretStore::new();
    store
        .save(br#"{"AccessToken": {"k": {"secret": "SECRET-AT"}}}"#)
        .unwrap();
    let shown = format!("{store:?}");
    assert_eq!(
        shown, "MemorySecretStore { len: Some(47) }",
        "the size only"
    );
}

// ---------------------------------------------------------------------------------------------
// Windows (run under Wine in CI)

/// Issue 21.1: on Windows a holder keeps a lock on the lock file while it holds it. A file
/// nobody has locked, left by a process that died (here a minute ago), is taken over and the
/// write goes ahead; one whose holder keeps its lock is waited for and never touched.
#[cfg(windows)]
#[tokio::test]
async fn on_windows_a_dead_holder_s_lock_file_is_taken_over_and_a_live_one_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let lock = lock_path(&path);
    let short = |b: FileBackend| {
        Cache::with_backend(Arc::new(b.with_lock_timeout(Duration::from_millis(300))))
    };
    let content = "4242 C:\\Python311\\python.exe";
    std::fs::write(&lock, content).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let cache = short(plain_backend(dir.path()));
    cache
        .write_token_response(&write("s", "at"), now())
        .await
        .unwrap();
    assert_eq!(lookup(&cache, "s").await.as_deref(), Some("at"));
    assert!(!lock.exists(), "taken over, then deleted on release");

    // A live holder (msal-extensions' portalocker, or one of ours) keeps its lock.
    let held = std::fs::File::create(&lock).unwrap();
    std::io::Write::write_all(&mut &held, content.as_bytes()).unwrap();
    held.lock().unwrap();
    let err = cache
        .write_token_response(&write("t", "at"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::LockTimeout { .. }), "{err:?}");
    drop(held);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        content,
        "never touched"
    );
}

/// Issue 21.2: msal-extensions and .NET read the cache file without letting it be replaced
/// (no `FILE_SHARE_DELETE`); a write that comes while such a reader has it open waits for the
/// reader instead of failing the sign-in.
#[cfg(windows)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_windows_a_write_waits_for_a_reader_that_holds_the_file_open() {
    use std::os::windows::fs::OpenOptionsExt as _;
    const FILE_SHARE_READ: u32 = 1;
    const FILE_SHARE_WRITE: u32 = 2;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let cache = Arc::new(Cache::with_backend(Arc::new(plain_backend(dir.path()))));
    cache
        .write_token_response(&write("s", "first"), now())
        .await
        .unwrap();
    // As Python's open(path, "r") opens it.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .open(&path)
        .unwrap();
    let retrying = replace_retries();
    let writer = {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move {
            cache
                .write_token_response(&write("t", "second"), now())
                .await
        })
    };
    // The event: the writer found the file held open and is retrying (before the fix it
    // failed at once, and this wait ends with the writer).
    tokio::select! {
        () = retrying.notified() => {}
        _ = async { while !writer.is_finished() { tokio::task::yield_now().await } } => {}
    }
    drop(reader);
    writer.await.unwrap().unwrap();
    let fresh = Cache::with_backend(Arc::new(plain_backend(dir.path())));
    assert_eq!(lookup(&fresh, "t").await.as_deref(), Some("second"));
    assert_eq!(lookup(&fresh, "s").await.as_deref(), Some("first"));
}

/// Signals each time the backend says it is retrying a replace (its DEBUG event), whichever
/// thread the write runs on.
#[cfg(windows)]
fn replace_retries() -> Arc<tokio::sync::Notify> {
    use tracing_subscriber::layer::SubscriberExt as _;

    struct Retries(Arc<tokio::sync::Notify>);

    struct Message(bool);

    impl tracing::field::Visit for Message {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" && format!("{value:?}").contains("retrying the replace") {
                self.0 = true;
            }
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Retries {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let mut message = Message(false);
            event.record(&mut message);
            if message.0 {
                self.0.notify_one();
            }
        }
    }

    static NOTIFY: std::sync::OnceLock<Arc<tokio::sync::Notify>> = std::sync::OnceLock::new();
    Arc::clone(NOTIFY.get_or_init(|| {
        let notify = Arc::new(tokio::sync::Notify::new());
        let subscriber = tracing_subscriber::registry()
            .with(Retries(Arc::clone(&notify)))
            .with(tracing_subscriber::filter::LevelFilter::DEBUG);
        let _ = tracing::subscriber::set_global_default(subscriber);
        notify
    }))
}

/// A secret store that counts how often the document is read from it.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemorySecretStore,
    loads: std::sync::atomic::AtomicUsize,
}

impl SecretStore for CountingStore {
    fn load(&self) -> Result<Option<Vec<u8>>, BoxError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load()
    }
    fn save(&self, document: &[u8]) -> Result<(), BoxError> {
        self.inner.save(document)
    }
    // As the Secret Service's: the probe asks whether the store is usable, not for the document.
    fn check(&self) -> Result<(), BoxError> {
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "counting"
    }
}

// What `entra` does: the account lookup and the credential read through one backend. The
// second reader gets the document without asking the store again (a D-Bus round trip with
// the Secret Service), and a write by another process is still seen.
#[tokio::test]
async fn a_second_reader_of_one_backend_does_not_ask_the_store_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let store = Arc::new(CountingStore::default());
    let loads = || store.loads.load(std::sync::atomic::Ordering::SeqCst);
    let other_process = Cache::with_backend(Arc::new(
        FileBackend::new(&path).with_secret_store(store.clone()),
    ));
    other_process
        .write_token_response(&write("s1", "at-1"), now())
        .await
        .unwrap();

    let backend: Arc<dyn CacheBackend> =
        Arc::new(FileBackend::new(&path).with_secret_store(store.clone()));
    let before = loads();
    let first = Cache::with_backend(Arc::clone(&backend));
    assert_eq!(lookup(&first, "s1").await.as_deref(), Some("at-1"));
    assert_eq!(loads(), before + 1);
    let second = Cache::with_backend(Arc::clone(&backend));
    assert_eq!(lookup(&second, "s1").await.as_deref(), Some("at-1"));
    assert_eq!(
        loads(),
        before + 1,
        "the second reader asked the store again"
    );

    // Another process writes (and touches the signal file): the next reader sees it.
    other_process
        .write_token_response(&write("s2", "at-2"), now())
        .await
        .unwrap();
    let third = Cache::with_backend(Arc::clone(&backend));
    assert_eq!(lookup(&third, "s2").await.as_deref(), Some("at-2"));
}

// Issue 21: processes that share the cache take turns to refresh. The turn is an OS lock on
// `<cache>.refresh.lock`: a second taker waits for the first, at most the lock timeout, then
// goes on without it; once the first lets go it is taken at once.
#[tokio::test]
async fn refreshes_take_turns_through_the_refresh_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal.cache.nocae");
    let first = FileBackend::new(&path).with_protector(Arc::new(StandInProtector(7)));
    let second = FileBackend::new(&path)
        .with_protector(Arc::new(StandInProtector(7)))
        .with_lock_timeout(Duration::from_millis(50));
    let turn = first
        .refresh_lock()
        .await
        .unwrap()
        .expect("a file backend takes turns");
    assert!(turn.waited().is_zero());
    assert!(first.refresh_lock_path().exists());
    // Held: the second waits its bound out and is told to go on without a turn.
    assert!(second.refresh_lock().await.unwrap().is_none());
    drop(turn);
    let turn = second.refresh_lock().await.unwrap().expect("free again");
    assert!(turn.waited().is_zero());
    // A memory backend (one process) does not take turns.
    let memory = entra_cache::MemoryBackend::new();
    assert!(memory.refresh_lock().await.unwrap().is_none());
}
