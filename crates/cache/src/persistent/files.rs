//! Safe file I/O for the persistent cache: the directory checks, reads capped at
//! [`MAX_CACHE_FILE_BYTES`] from regular files only, atomic replacement, the signal file's
//! touch, and the versions that tell a changed file from an unchanged one.

use std::fs::{self, File, OpenOptions};
use std::hash::{DefaultHasher, Hasher};
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::debug;

use crate::CacheError;
use crate::backend::CacheVersion;

/// The largest cache file read: far more than any token cache (a 1,000-entry cache is about
/// 0.7 MB). A larger file, or one that grows past this while being read, is refused with
/// [`CacheError::TooLarge`]; no buffer is ever sized from the length a file claims.
pub const MAX_CACHE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How far ahead a write sets the signal file's modification time. msal-extensions reloads
/// when the time is later than the end of its last load: a write that lands while another
/// process is loading would otherwise look older than that load and never be read by it.
pub(super) const SIGNAL_AHEAD: Duration = Duration::from_secs(2);

/// The cache file's directory, when the path names one.
pub(super) fn existing_parent(path: &Path) -> Option<&Path> {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty() && d.exists())
}

/// Creates the cache file's directory (mode 0700) if needed and checks that it is safe.
pub(super) fn create_dir(path: &Path) -> Result<(), CacheError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| CacheError::io("create the directory", dir, e))?;
    check_directory(dir)
}

/// Refuses a cache directory that another user could use to plant or swap files in: one
/// writable by group or others, or owned by a user other than this one (or root), as
/// OpenSSH's `StrictModes` does. Only the directory itself is checked.
#[cfg(unix)]
pub(super) fn check_directory(dir: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(|e| CacheError::io("inspect the directory", dir, e))?;
    let me = rustix::process::geteuid().as_raw();
    let insecure = |problem: String, fix: String| CacheError::Insecure {
        path: dir.to_owned(),
        problem,
        fix,
    };
    if !meta.is_dir() {
        return Err(insecure(
            "it is not a directory".to_owned(),
            "move it away or choose another cache directory".to_owned(),
        ));
    }
    if meta.uid() != me && meta.uid() != 0 {
        return Err(insecure(
            format!(
                "it is owned by user {}, not by this user ({me})",
                meta.uid()
            ),
            format!(
                "run `chown {me} '{}'` or choose another cache directory",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(
            format!(
                "other users can write to it (mode {:o})",
                meta.mode() & 0o7777
            ),
            format!("run `chmod go-w '{}'`", dir.display()),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_directory(_dir: &Path) -> Result<(), CacheError> {
    Ok(())
}

/// Opens the cache file for reading: `None` when there is none. Never blocks on a FIFO and
/// never reads a device: anything but a regular file is [`CacheError::NotAFile`], a file
/// larger than [`MAX_CACHE_FILE_BYTES`] [`CacheError::TooLarge`]. Returns the file and its
/// metadata.
pub(super) fn open_cache_file(path: &Path) -> Result<Option<(File, fs::Metadata)>, CacheError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading would wait for a writer; a regular file ignores the flag.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CacheError::io("read", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("read", path, e))?;
    if !meta.is_file() {
        return Err(CacheError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_CACHE_FILE_BYTES {
        return Err(CacheError::TooLarge {
            path: path.to_owned(),
            limit: MAX_CACHE_FILE_BYTES,
        });
    }
    Ok(Some((file, meta)))
}

/// Reads at most [`MAX_CACHE_FILE_BYTES`] from `file`, in chunks (never a buffer sized from
/// the file's claimed length).
pub(super) fn read_capped(path: &Path, file: File) -> Result<Vec<u8>, CacheError> {
    let mut raw = Vec::new();
    file.take(MAX_CACHE_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CacheError::io("read", path, e))?;
    if raw.len() as u64 > MAX_CACHE_FILE_BYTES {
        return Err(CacheError::TooLarge {
            path: path.to_owned(),
            limit: MAX_CACHE_FILE_BYTES,
        });
    }
    Ok(raw)
}

pub(super) fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// `dev:ino:len:mtime` of a file: changes whenever the file is replaced or rewritten.
pub(super) fn stat_id(meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}:{}:{mtime}", meta.dev(), meta.ino(), meta.len())
    }
    #[cfg(not(unix))]
    {
        format!("{}:{mtime}", meta.len())
    }
}

pub(super) fn version_of(stat: &str, hash: u64) -> CacheVersion {
    CacheVersion::new(format!("{stat}#{hash:016x}"))
}

pub(super) fn split_version(v: Option<&CacheVersion>) -> (Option<&str>, Option<&str>) {
    match v.and_then(|v| v.as_str().split_once('#')) {
        Some((stat, hash)) => (Some(stat), Some(hash)),
        None => (None, None),
    }
}

/// Writes `bytes` to a temporary file (mode 0600) next to `path`, syncs it and renames it over
/// `path`. Returns the new file's version.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<CacheVersion, CacheError> {
    create_dir(path)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| CacheError::backend(e.to_string()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(suffix)
    ));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        let meta = file
            .metadata()
            .map_err(|e| CacheError::io("write", &tmp, e))?;
        replace(&tmp, path).map_err(|e| CacheError::io("replace", path, e))?;
        Ok(version_of(&stat_id(&meta), content_hash(bytes)))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// How long a replace is retried while another program has the file open without letting it
/// be replaced (Windows: msal-extensions and .NET read it without `FILE_SHARE_DELETE`).
const REPLACE_RETRY_FOR: Duration = Duration::from_secs(2);

/// Renames `tmp` over `path`. On Windows a reader that opened `path` without delete sharing
/// makes the rename fail with access denied until it closes the file: the rename is retried
/// for [`REPLACE_RETRY_FOR`] (readers hold the file for milliseconds); elsewhere it is one
/// attempt.
fn replace(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match fs::rename(tmp, path) {
            Err(e)
                if cfg!(windows)
                    && e.kind() == IoErrorKind::PermissionDenied
                    && started.elapsed() < REPLACE_RETRY_FOR =>
            {
                debug!(file = %path.display(), "the cache file is open elsewhere; retrying the replace");
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Temporary files are only created under the lock: one found while holding it was left by
/// a writer that died mid-write. Removes them (best effort).
pub(super) fn remove_stale_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let mut prefix = name.to_os_string();
    prefix.push(".tmp-");
    let prefix = prefix.to_string_lossy().into_owned();
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            debug!(file = %entry.path().display(), "removing a temporary file left by an interrupted write");
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The signal file's `stat` identity, or `absent`: what a Secret Service or Keychain cache's
/// version is made of. Anything but a regular file is [`CacheError::NotAFile`].
pub(super) fn signal_stat(path: &Path) -> Result<String, CacheError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(stat_id(&meta)),
        Ok(_) => Err(CacheError::NotAFile {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == IoErrorKind::NotFound => Ok("absent".to_owned()),
        Err(e) => Err(CacheError::io("inspect", path, e)),
    }
}

/// Touches the signal file: creates it empty (mode 0600) when missing, never follows a link,
/// never writes or truncates its content, and sets its modification time [`SIGNAL_AHEAD`] of
/// now. Returns its new `stat` identity.
pub(super) fn touch_signal(path: &Path) -> Result<String, CacheError> {
    create_dir(path)?;
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
                .bits()
                .cast_signed(),
        );
    }
    let file = options
        .open(path)
        .map_err(|e| CacheError::io("touch", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("touch", path, e))?;
    if !meta.is_file() {
        return Err(CacheError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut when = SystemTime::now() + SIGNAL_AHEAD;
    // Two writes within the clock's resolution must still give two versions.
    if meta.modified().is_ok_and(|m| m >= when) {
        when = meta.modified().unwrap_or(when) + Duration::from_micros(1);
    }
    file.set_modified(when)
        .map_err(|e| CacheError::io("touch", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("touch", path, e))?;
    Ok(stat_id(&meta))
}

/// The first `limit` bytes of a small file (the lock file's owner line), or nothing.
pub(super) fn read_head(file: &mut File, limit: u64) -> Vec<u8> {
    let mut head = Vec::new();
    let _ = file.take(limit).read_to_end(&mut head);
    head
}

/// Whether `file` is still the file `path` names.
#[cfg(unix)]
pub(super) fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `file` is still the file `path` names (Windows: the path exists; a file open there
/// cannot be replaced).
#[cfg(not(unix))]
pub(super) fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}
