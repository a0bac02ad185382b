//! [`TokenCachePersistenceOptions`] (Azure Identity's options) and the naming rules that put a
//! cache exactly where MSAL and the Azure Identity SDKs of other languages look for it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use super::FileBackend;
use crate::{Cache, CacheError};

/// The environment variable that, when set to a directory, replaces `~/.IdentityService` as
/// the directory of persistent caches (for tests and sandboxes).
pub const CACHE_DIR_ENV: &str = "ENTRA_TOKEN_CACHE_DIR";

/// The default cache name (Azure Identity's, shared with Azure CLI, PowerShell and the Azure
/// SDKs of other languages).
pub const DEFAULT_CACHE_NAME: &str = "msal.cache";

/// The service (macOS Keychain) and `MsalClientID` attribute value (Secret Service) under which
/// Azure Identity keeps its caches.
pub const MSAL_SERVICE: &str = "Microsoft.Developer.IdentityService";

/// The Keychain account of the default non-CAE cache and the Secret Service label of every
/// cache (Azure Identity's `account_name`).
pub const MSAL_ACCOUNT: &str = "MSALCache";

/// The platforms whose MSAL persistence differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platform {
    /// Linux and the BSDs: the Secret Service (gnome-keyring, KWallet) over D-Bus.
    Linux,
    /// macOS: the login Keychain.
    MacOs,
    /// Windows: a file protected with DPAPI.
    Windows,
}

impl Platform {
    /// The platform this program was built for.
    #[must_use]
    pub const fn current() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else if cfg!(target_os = "macos") {
            Self::MacOs
        } else {
            Self::Linux
        }
    }
}

/// The Secret Service item holding a cache on Linux, as msal-extensions'
/// `LibsecretPersistence` creates it for Azure Identity: in the default collection, schema
/// (`xdg:schema`) = the cache's file name, attribute `MsalClientID` =
/// `Microsoft.Developer.IdentityService`, label `MSALCache`, the JSON as a `text/plain` secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretServiceItem {
    /// The attributes the item is stored and looked up with, `xdg:schema` included.
    pub attributes: Vec<(String, String)>,
    /// The item's label.
    pub label: String,
}

impl SecretServiceItem {
    /// The item of the cache file named `file_name` (`msal.cache.nocae`, `msal.cache.cae`,
    /// `my-app.nocae`).
    #[must_use]
    pub fn for_file_name(file_name: &str) -> Self {
        Self {
            attributes: vec![
                ("xdg:schema".to_owned(), file_name.to_owned()),
                ("MsalClientID".to_owned(), MSAL_SERVICE.to_owned()),
            ],
            label: MSAL_ACCOUNT.to_owned(),
        }
    }
}

/// The Keychain generic password holding a cache on macOS, as Azure Identity names it:
/// service `Microsoft.Developer.IdentityService`, account `MSALCache` for the default non-CAE
/// cache (`msal.cache.nocae`) and the cache's file name for every other one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainItem {
    /// The item's service.
    pub service: String,
    /// The item's account.
    pub account: String,
}

impl KeychainItem {
    /// The item of the cache file named `file_name`.
    #[must_use]
    pub fn for_file_name(file_name: &str) -> Self {
        let default = format!("{DEFAULT_CACHE_NAME}.nocae");
        Self {
            service: MSAL_SERVICE.to_owned(),
            account: if file_name == default {
                MSAL_ACCOUNT.to_owned()
            } else {
                file_name.to_owned()
            },
        }
    }
}

/// Options of the persistent token cache (Python's `TokenCachePersistenceOptions`).
///
/// ```
/// use entra_cache::TokenCachePersistenceOptions;
///
/// let options = TokenCachePersistenceOptions::default()
///     .with_name("my-app")
///     .with_directory("/tmp/entra-doc-example");
/// assert_eq!(options.name, "my-app");
/// assert!(!options.allow_unencrypted_storage);
/// let path = options.path(false)?;
/// assert!(path.ends_with("my-app.nocae"));
/// // Nothing touches storage until the first lookup or write.
/// let cache = options.cache(false)?;
/// # let _ = cache;
/// # Ok::<(), entra_cache::CacheError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCachePersistenceOptions {
    /// The cache's name (a prefix: `.nocae` or `.cae` is appended). Default `msal.cache`,
    /// the cache Azure CLI, PowerShell and the other Azure SDKs share.
    pub name: String,
    /// Allow a plaintext file when encryption is impossible (no usable OS secret store). This
    /// does not turn encryption off: it only allows the fallback. Default `false`: an error.
    pub allow_unencrypted_storage: bool,
    /// The directory of the cache files; default `~/.IdentityService` (Windows:
    /// `%LOCALAPPDATA%\.IdentityService`), or the directory in [`CACHE_DIR_ENV`] when set.
    pub directory: Option<PathBuf>,
}

impl Default for TokenCachePersistenceOptions {
    fn default() -> Self {
        Self {
            name: DEFAULT_CACHE_NAME.to_owned(),
            allow_unencrypted_storage: false,
            directory: None,
        }
    }
}

impl TokenCachePersistenceOptions {
    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`allow_unencrypted_storage`](Self::allow_unencrypted_storage).
    #[must_use]
    pub fn with_allow_unencrypted_storage(mut self, allow: bool) -> Self {
        self.allow_unencrypted_storage = allow;
        self
    }

    /// Sets [`directory`](Self::directory).
    #[must_use]
    pub fn with_directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = Some(directory.into());
        self
    }

    /// The directory of the cache files.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when there is no home directory to put it in.
    pub fn resolved_directory(&self) -> Result<PathBuf, CacheError> {
        self.directory_for(Platform::current(), |name| std::env::var_os(name))
    }

    /// [`resolved_directory`](Self::resolved_directory) for `platform`, reading environment
    /// variables through `env`: `%LOCALAPPDATA%\.IdentityService` on Windows,
    /// `$HOME/.IdentityService` elsewhere, as every Azure Identity SDK.
    ///
    /// # Errors
    /// As [`resolved_directory`](Self::resolved_directory).
    pub fn directory_for(
        &self,
        platform: Platform,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<PathBuf, CacheError> {
        if let Some(dir) = &self.directory {
            return Ok(dir.clone());
        }
        if let Some(dir) = env(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        let variable = if platform == Platform::Windows {
            "LOCALAPPDATA"
        } else {
            "HOME"
        };
        env(variable)
            .filter(|b| !b.is_empty())
            .map(|b| PathBuf::from(b).join(".IdentityService"))
            .ok_or_else(|| CacheError::Unavailable(format!("{variable} is not set")))
    }

    /// The cache's file name: `<name>.cae` for CAE tokens, `<name>.nocae` otherwise.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when the name is empty or has a path separator.
    pub fn file_name(&self, cae: bool) -> Result<String, CacheError> {
        if self.name.is_empty()
            || self.name.contains(['/', '\\'])
            || self.name == "."
            || self.name == ".."
        {
            return Err(CacheError::Unavailable(
                "the cache name must be a non-empty file name without path separators".to_owned(),
            ));
        }
        let suffix = if cae { "cae" } else { "nocae" };
        Ok(format!("{}.{suffix}", self.name))
    }

    /// The cache file: `<directory>/<name>.cae` for CAE tokens, `<name>.nocae` otherwise.
    /// With a Secret Service or Keychain store it is the signal file whose modification time
    /// tells other processes to reload.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when there is no home directory, or the name is empty or
    /// has a path separator.
    pub fn path(&self, cae: bool) -> Result<PathBuf, CacheError> {
        let name = self.file_name(cae)?;
        Ok(self.resolved_directory()?.join(name))
    }

    /// The backend of the CAE or non-CAE cache, with this platform's MSAL store. Touches no
    /// storage.
    ///
    /// # Errors
    /// As [`path`](Self::path).
    pub fn backend(&self, cae: bool) -> Result<FileBackend, CacheError> {
        Ok(FileBackend::new(self.path(cae)?)
            .with_allow_unencrypted_storage(self.allow_unencrypted_storage))
    }

    /// A [`Cache`] over [`backend`](Self::backend). Touches no storage.
    ///
    /// # Errors
    /// As [`path`](Self::path).
    pub fn cache(&self, cae: bool) -> Result<Cache, CacheError> {
        Ok(Cache::with_backend(Arc::new(self.backend(cae)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    /// azure-identity's `test_persistent_cache_macos` cases: account `MSALCache` only for the
    /// default non-CAE cache.
    #[test]
    fn keychain_items_are_named_as_azure_identity_names_them() {
        let cases = [
            (TokenCachePersistenceOptions::default(), false, "MSALCache"),
            (
                TokenCachePersistenceOptions::default(),
                true,
                "msal.cache.cae",
            ),
            (
                TokenCachePersistenceOptions::default().with_name("foo"),
                false,
                "foo.nocae",
            ),
            (
                TokenCachePersistenceOptions::default().with_name("foo"),
                true,
                "foo.cae",
            ),
            (
                TokenCachePersistenceOptions::default().with_allow_unencrypted_storage(true),
                false,
                "MSALCache",
            ),
        ];
        for (options, cae, account) in cases {
            let item = KeychainItem::for_file_name(&options.file_name(cae).unwrap());
            assert_eq!(item.service, "Microsoft.Developer.IdentityService");
            assert_eq!(item.account, account, "{options:?} cae={cae}");
        }
    }

    #[test]
    fn secret_service_items_carry_the_schema_attribute_and_label_of_msal_extensions() {
        for (name, cae, schema) in [
            ("msal.cache", false, "msal.cache.nocae"),
            ("msal.cache", true, "msal.cache.cae"),
            ("app-alice", false, "app-alice.nocae"),
        ] {
            let options = TokenCachePersistenceOptions::default().with_name(name);
            let item = SecretServiceItem::for_file_name(&options.file_name(cae).unwrap());
            assert_eq!(
                item.attributes,
                vec![
                    ("xdg:schema".to_owned(), schema.to_owned()),
                    (
                        "MsalClientID".to_owned(),
                        "Microsoft.Developer.IdentityService".to_owned()
                    ),
                ]
            );
            assert_eq!(item.label, "MSALCache");
        }
    }

    #[test]
    fn directories_follow_each_platform_s_rule() {
        let options = TokenCachePersistenceOptions::default();
        let vars = [
            ("HOME", "/home/alice"),
            ("LOCALAPPDATA", r"C:\Users\alice\AppData\Local"),
        ];
        assert_eq!(
            options.directory_for(Platform::Linux, env(&vars)).unwrap(),
            PathBuf::from("/home/alice/.IdentityService")
        );
        assert_eq!(
            options.directory_for(Platform::MacOs, env(&vars)).unwrap(),
            PathBuf::from("/home/alice/.IdentityService")
        );
        assert_eq!(
            options
                .directory_for(Platform::Windows, env(&vars))
                .unwrap(),
            PathBuf::from(r"C:\Users\alice\AppData\Local").join(".IdentityService")
        );
        // No LOCALAPPDATA on Windows: a typed error naming the variable (Python falls through
        // to "not available" too).
        let err = options
            .directory_for(Platform::Windows, env(&[("HOME", "/h")]))
            .unwrap_err();
        assert!(err.to_string().contains("LOCALAPPDATA"), "{err}");
        // The override and an explicit directory win, in that order of precedence.
        let over = [("HOME", "/h"), (CACHE_DIR_ENV, "/sandbox")];
        assert_eq!(
            options.directory_for(Platform::Linux, env(&over)).unwrap(),
            PathBuf::from("/sandbox")
        );
        assert_eq!(
            options
                .clone()
                .with_directory("/explicit")
                .directory_for(Platform::Windows, env(&over))
                .unwrap(),
            PathBuf::from("/explicit")
        );
        for bad in ["", "a/b", r"a\b", ".", ".."] {
            assert!(
                options.clone().with_name(bad).file_name(false).is_err(),
                "{bad:?}"
            );
        }
    }
}
