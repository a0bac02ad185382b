//! The cross-process lock: `<cache>.lockfile`, held by whoever *created* it, as
//! msal-extensions holds it on Linux and macOS (an exclusive create, `"<pid> <argv0>"` inside,
//! deleted on release). Ours also takes an advisory lock (`flock`) on the file it created, so
//! that two of our processes can tell a live holder from a stale file without racing.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind as IoErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, warn};

use super::files::{read_head, same_file};
use crate::CacheError;

/// How long a write waits for another process's lock before giving up, by default
/// (msal-extensions waits 5 s, MSAL.NET 60 s).
pub(super) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const LOCK_RETRY: Duration = Duration::from_millis(5);

/// A lock file with no owner line this long after its creation was left by a writer that
/// died between creating it and writing its pid.
#[cfg(unix)]
const NAMELESS_STALE_AFTER: Duration = Duration::from_secs(10);

/// The longest pause left between one release and the next acquire in this process.
const MAX_COURTESY: Duration = Duration::from_millis(50);

/// When this process last released a lock, and how long it had held it: the next acquire
/// waits as long again (at most [`MAX_COURTESY`]), so that a process polling for the file to
/// disappear (msal-extensions checks every 0.25 s and gives up after 5 s) sees it gone.
static LAST_RELEASE: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

/// An exclusive lock on `<cache>.lockfile`, held while the value lives; the file is deleted on
/// release.
pub(super) struct FileLock {
    file: File,
    path: PathBuf,
    since: Instant,
}

/// Creates the lock file (`O_CREAT | O_EXCL`, mode 0600: never follows a link, not even a
/// dangling one). `None` when it exists.
fn create(path: &Path) -> Result<Option<File>, CacheError> {
    let mut create = OpenOptions::new();
    create.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        create.mode(0o600);
    }
    match create.open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == IoErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(CacheError::io("lock", path, e)),
    }
}

/// Whether the process `pid` exists (a process of another user counts as existing).
#[cfg(unix)]
fn alive(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(pid) => !matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

/// On Windows every holder keeps a lock on the file while it holds it (ours with `LockFileEx`
/// through `File::lock`, msal-extensions' with portalocker's), so a file nobody has locked is
/// a dead holder's once it is older than the moment between creating and locking it. The pid
/// is not needed (and reading another process's status would take a platform call).
#[cfg(not(unix))]
fn alive(_pid: i32) -> bool {
    false
}

/// How old a lock file nobody holds a lock on must be before it is taken over where liveness
/// is read from the lock alone (Windows): a holder creates the file and locks it at once.
#[cfg(not(unix))]
const UNLOCKED_STALE_AFTER: Duration = Duration::from_secs(2);

/// Looks at an existing lock file: removes it when its holder is gone and returns `true`
/// (create again), or returns `false` (wait). An existing lock file must be a plain file of
/// this user with one name; anything else is [`CacheError::Insecure`] and is left as it is.
///
/// A holder whose pid cannot be seen may be dead, or alive in another PID namespace (a dev
/// container sharing the home directory): its lock is taken over only once it is older than
/// `timeout`, the longest any writer waits for it.
fn remove_if_stale(path: &Path, timeout: Duration) -> Result<bool, CacheError> {
    let insecure = |problem: &str| CacheError::Insecure {
        path: path.to_owned(),
        problem: problem.to_owned(),
        fix: "delete it; the next write creates a new lock file".to_owned(),
    };
    let mut open = OpenOptions::new();
    open.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
                .bits()
                .cast_signed(),
        );
    }
    let mut file = match open.open(path) {
        Ok(file) => file,
        // Released meanwhile: create it again.
        Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(true),
        Err(e) if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            drop(e);
            return Err(insecure("the lock file is a symbolic link"));
        }
        Err(e) => return Err(CacheError::io("lock", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io("lock", path, e))?;
    if !meta.is_file() {
        return Err(insecure("the lock file is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(insecure("the lock file belongs to another user"));
        }
        match meta.nlink() {
            0 => return Ok(true),
            1 => {}
            _ => return Err(insecure("the lock file has another name (a hard link)")),
        }
    }
    // One of our processes holds its own lock file locked: it is alive.
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(e)) => return Err(CacheError::io("lock", path, e)),
    }
    // Under this advisory lock no other process of ours removes it; the file still being the
    // one at the path means nobody released it meanwhile.
    if !same_file(&file, path) {
        return Ok(true);
    }
    let head = read_head(&mut file, 64);
    let pid = std::str::from_utf8(&head)
        .ok()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse::<i32>().ok());
    let older_than = |limit: Duration| {
        meta.modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age > limit)
    };
    #[cfg(unix)]
    let stale = match pid {
        Some(pid) => !alive(pid) && older_than(timeout),
        None => older_than(NAMELESS_STALE_AFTER),
    };
    // Nobody holds a lock on it (the try_lock above succeeded): dead, once past the moment
    // between a holder's create and lock.
    #[cfg(not(unix))]
    let stale = {
        let _ = (timeout, pid.map(alive));
        older_than(UNLOCKED_STALE_AFTER)
    };
    if !stale {
        return Ok(false);
    }
    warn!(file = %path.display(), pid, "removing a lock file its holder left behind");
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == IoErrorKind::NotFound => Ok(true),
        Err(e) => Err(CacheError::io("remove the stale lock", path, e)),
    }
}

impl FileLock {
    pub(super) fn acquire(path: &Path, timeout: Duration) -> Result<Self, CacheError> {
        let courtesy = *LAST_RELEASE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, held)) = courtesy {
            let gap = held.min(MAX_COURTESY);
            if let Some(left) = gap.checked_sub(at.elapsed()) {
                std::thread::sleep(left);
            }
        }
        let start = Instant::now();
        loop {
            if let Some(mut file) = create(path)? {
                // Ours: another of our processes may be looking at it (holding the advisory
                // lock for a moment); wait for it.
                file.lock().map_err(|e| CacheError::io("lock", path, e))?;
                let program = std::env::args().next().unwrap_or_default();
                let _ = write!(file, "{} {program}", std::process::id());
                return Ok(Self {
                    file,
                    path: path.to_owned(),
                    since: Instant::now(),
                });
            }
            if remove_if_stale(path, timeout)? {
                continue;
            }
            if start.elapsed() > timeout {
                return Err(CacheError::LockTimeout {
                    path: path.to_owned(),
                });
            }
            std::thread::sleep(LOCK_RETRY);
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Delete while still holding the advisory lock, then unlock by closing.
        if let Err(e) = fs::remove_file(&self.path) {
            debug!(file = %self.path.display(), error = %e, "could not remove the lock file");
        }
        let _ = self.file.unlock();
        *LAST_RELEASE.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), self.since.elapsed()));
    }
}

/// The refresh lock of a cache: an OS advisory lock (`flock`, `LockFileEx`) on
/// `<cache>.refresh.lock`, which the OS releases when its holder exits, however it exits. Only
/// our processes take it, and never while they hold the cache's lock file, so MSAL's
/// programs never wait for a refresh of ours. Waits at most `wait` for another holder, then
/// returns `None` (the caller refreshes anyway).
pub(super) fn refresh_lock(
    path: &Path,
    wait: Duration,
) -> Result<Option<(File, Duration)>, CacheError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| CacheError::io("open the refresh lock", path, e))?;
    let start = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) if !said => return Ok(Some((file, Duration::ZERO))),
            Ok(()) => return Ok(Some((file, start.elapsed()))),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(CacheError::io("lock the refresh lock", path, e));
            }
        }
        if !said {
            debug!(file = %path.display(), "another process is refreshing a token: waiting for it");
            said = true;
        }
        if start.elapsed() > wait {
            warn!(
                file = %path.display(),
                waited_ms = start.elapsed().as_millis(),
                "another process's refresh has not finished: refreshing here too"
            );
            return Ok(None);
        }
        std::thread::sleep(LOCK_RETRY);
    }
}
