//! The command's files: the persistent cache the flags name, record files and kubeconfigs,
//! read without races or surprises (regular files only, capped, never waiting on a FIFO) and
//! written as the cache files are (0600, atomic, a link replaced and never followed).

use std::path::Path;

use entra_browser_flow::TokenCachePersistenceOptions;
use entra_core::{AuthenticationRecord, Error, Result};

/// The largest record file read (a record is about 300 bytes).
pub(crate) const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// Reads a small text file: only a regular file (never a FIFO or a device), at most `limit`
/// bytes (never a buffer sized from the length the file claims). What is checked is the file
/// that was opened (no check-then-open race), and opening never waits on a FIFO.
pub(crate) fn read_small(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a regular file of at most {limit} bytes"),
        ));
    }
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text)?;
    Ok(text)
}

/// Saves a file (the record, a kubeconfig) as the cache files are saved: a new file of mode
/// 0600 beside `path`, renamed over it, so a link at `path` is replaced (never followed) and a
/// reader sees the old content or the new one, never half of it.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix(".entra-")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_data()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub(crate) fn read_record(path: &Path) -> Result<Option<AuthenticationRecord>> {
    match read_small(path, MAX_RECORD_BYTES) {
        Ok(text) => {
            let record = AuthenticationRecord::deserialize(&text).map_err(|e| {
                Error::invalid_argument(format!("--record {}: {}", path.display(), e.message()))
            })?;
            note!(
                "Using the account in {}: {} (tenant {})",
                path.display(),
                record.username(),
                record.tenant_id()
            );
            Ok(Some(record))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::invalid_argument(format!(
            "--record {}: cannot read the file",
            path.display()
        ))
        .with_source(e)),
    }
}

/// The file `login` saves the az account in (beside the cache) and `az account
/// get-access-token` reads.
const ACCOUNT_FILE: &str = "entra.az-account.json";

/// Where `login` keeps the az account's record.
///
/// # Errors
/// No cache directory can be found (no `HOME`, no `ENTRA_TOKEN_CACHE_DIR`).
pub(crate) fn account_file() -> Result<std::path::PathBuf> {
    Ok(TokenCachePersistenceOptions::default()
        .resolved_directory()?
        .join(ACCOUNT_FILE))
}
