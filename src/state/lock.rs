//! The state lock: an OS advisory lock on `<state path>.lock`, which also records who holds it.
//!
//! The OS lock is what excludes; the JSON inside is only for telling the user who to wait for.
//! A process killed outright releases its OS lock, so a stale lock file never blocks anyone: the
//! next process locks it and overwrites the information. Nothing here decides from the file's
//! content that a lock is stale: while its holder lives, the OS lock keeps everyone else out.
//! Only `force-unlock` breaks a lock, and it refuses while the holder runs on this host.

#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::state::StateError;

const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long to keep re-reading a held lock file that is still empty: a swarmform holder writes
/// its information right after locking, so this only matters in that short window.
const INFO_GRACE: Duration = Duration::from_millis(500);

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A UUID v4, new for every acquisition; `swarmform force-unlock` takes it.
    pub id: String,
    /// The command holding the lock: `plan`, `apply`, ...
    pub operation: String,
    /// `user@hostname`.
    pub who: String,
    pub pid: u32,
    /// Seconds since the UNIX epoch.
    pub created: u64,
}

impl LockInfo {
    fn new(operation: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            who: format!("{}@{}", user(), hostname()),
            pid: std::process::id(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
        }
    }

    /// `created` as `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn created_utc(&self) -> String {
        format_utc(self.created)
    }

    /// The holder's host: what follows the last `@` of `who`.
    pub fn hostname(&self) -> &str {
        self.who.rsplit_once('@').map_or("", |(_, host)| host)
    }
}

/// Holds the state lock; dropping it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    /// The lock file.
    path: PathBuf,
    /// The state file it locks: the target when the state path is a symbolic link.
    state: PathBuf,
    info: LockInfo,
    /// When the lock was taken: a temporary file older than this was left by an earlier holder.
    acquired: SystemTime,
}

impl LockGuard {
    /// Locks `state_path`, retrying until `timeout` has passed (zero tries once).
    pub(super) fn acquire(
        state_path: &Path,
        operation: &str,
        timeout: Duration,
    ) -> Result<LockGuard, StateError> {
        LockGuard::acquire_watched(state_path, operation, timeout, |_| {})
    }

    /// [`acquire`](Self::acquire), calling `found_held` with the holder's information (when it
    /// can be read) every time the lock is found held: how a test sees a waiter wait.
    fn acquire_watched(
        state_path: &Path,
        operation: &str,
        timeout: Duration,
        mut found_held: impl FnMut(Option<&LockInfo>),
    ) -> Result<LockGuard, StateError> {
        let path = lock_path(state_path);
        let start = Instant::now();
        let acquired = SystemTime::now();
        let mut holder = None;
        let mut waiting = false;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_error(&path, "open the lock file"))?;
            match file.try_lock() {
                Ok(()) => {
                    // Between our open and our lock, the previous holder may have removed the
                    // file (or `force-unlock` did): a lock on an unlinked inode excludes no one.
                    if !names_file(&path, &file).map_err(io_error(&path, "inspect"))? {
                        continue;
                    }
                    return LockGuard::hold(file, path, state_path, operation, acquired);
                }
                Err(TryLockError::WouldBlock) => {
                    if let Ok(info) = read_info(&path) {
                        holder = Some(info);
                    }
                    found_held(holder.as_ref());
                    if !waiting && !timeout.is_zero() {
                        waiting = true;
                        tracing::trace!(
                            lock = %path.display(),
                            holder = holder.as_ref().map_or("", |info| info.id.as_str()),
                            "the state lock is held: waiting for it"
                        );
                    }
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StateError::Io {
                        path,
                        operation: "lock",
                        source,
                    });
                }
            }
            drop(file);
            let waited = start.elapsed();
            if waited >= timeout {
                // A single try did not wait, however long the try took.
                let waited = if timeout.is_zero() {
                    Duration::ZERO
                } else {
                    waited
                };
                return Err(match holder.or_else(|| read_info_with_grace(&path)) {
                    Some(info) => StateError::Locked {
                        path: state_path.to_owned(),
                        info: Box::new(info),
                        waited,
                    },
                    None => StateError::LockUnreadable {
                        path,
                        detail: "it is held, but empty or not swarmform's".to_owned(),
                    },
                });
            }
            thread::sleep(POLL_INTERVAL.min(timeout - waited));
        }
    }

    fn hold(
        mut file: File,
        path: PathBuf,
        state_path: &Path,
        operation: &str,
        acquired: SystemTime,
    ) -> Result<LockGuard, StateError> {
        let info = LockInfo::new(operation);
        let json = serde_json::to_vec(&info).map_err(|error| StateError::Io {
            path: path.clone(),
            operation: "write the lock file",
            source: error.into(),
        })?;
        // A process killed while holding the lock left its information behind.
        file.set_len(0)
            .and_then(|()| file.write_all(&json))
            .map_err(io_error(&path, "write the lock file"))?;
        Ok(LockGuard {
            file,
            path,
            state: state_path.to_owned(),
            info,
            acquired,
        })
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state file this guard locks (a symbolic link's target, resolved when locking).
    pub fn state_path(&self) -> &Path {
        &self.state
    }

    pub(super) fn acquired(&self) -> SystemTime {
        self.acquired
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Remove while still holding the OS lock, so nobody can lock the file we are about to
        // delete; a waiter that already opened it notices the unlink and retries. After a
        // `force-unlock` the path may name someone else's lock file: leave that one alone.
        match names_file(&self.path, &self.file) {
            Ok(true) => {
                if let Err(error) = fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), %error, "could not remove the lock file");
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "could not inspect the lock file");
            }
        }
    }
}

/// Breaks the lock on `state_path` if its id is `id`, returning who held it.
///
/// Meant for a lock whose holder is gone; a live holder keeps its OS lock on the removed file,
/// so the next process locks a fresh file alongside it and two runs write the state at once.
/// So unless `force`, a lock still held by a running process of this host is refused. A holder
/// on another host cannot be checked from here and is trusted to be gone, as the user says.
pub fn force_unlock(state_path: &Path, id: &str, force: bool) -> Result<LockInfo, StateError> {
    let path = lock_path(state_path);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(StateError::NotLocked {
                path: state_path.to_owned(),
            });
        }
        Err(source) => {
            return Err(StateError::Io {
                path,
                operation: "open the lock file",
                source,
            });
        }
    };
    let mut content = String::new();
    file.read_to_string(&mut content)
        .map_err(io_error(&path, "read the lock file"))?;
    let info: LockInfo =
        serde_json::from_str(&content).map_err(|error| StateError::LockUnreadable {
            path: path.clone(),
            detail: error.to_string(),
        })?;
    if info.id != id {
        return Err(StateError::UnlockMismatch {
            path: state_path.to_owned(),
            expected: info.id,
            given: id.to_owned(),
        });
    }
    if !force && held_here(&info, &file) {
        return Err(StateError::HolderRunning {
            path: state_path.to_owned(),
            info: Box::new(info),
        });
    }
    // Only remove the file we read: the holder may have released it and another taken a new one.
    if names_file(&path, &file).map_err(io_error(&path, "inspect"))? {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError::Io {
                    path,
                    operation: "remove the lock file",
                    source,
                });
            }
        }
    }
    Ok(info)
}

/// Whether the lock `file` records is held by a process still running on this host: its host
/// is this one, the OS lock is taken, and its pid is alive. An OS lock that is free means the
/// file is stale and blocks no one, whatever its pid has become since.
fn held_here(info: &LockInfo, file: &File) -> bool {
    if info.hostname() != hostname() {
        return false;
    }
    match file.try_lock() {
        // Taken by us now: released when `file` closes, after the stale file is gone.
        Ok(()) => false,
        // Held, or a file system without locks: the pid tells.
        Err(_) => process_alive(info.pid),
    }
}

/// Whether process `pid` of this host is running (a zombie is not): `/proc/PID` where there is
/// a `/proc`, else `ps -p PID`. When neither can tell, it is taken to be alive.
pub(super) fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // `PID (COMMAND) STATE ...`; COMMAND may hold spaces and parentheses.
            Ok(stat) => stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
                .is_none_or(|state| !matches!(state, 'Z' | 'X')),
            Err(error) => error.kind() != io::ErrorKind::NotFound,
        };
    }
    std::process::Command::new("ps")
        .args(["-p", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_or(true, |status| status.success())
}

/// `<state path>.lock`.
pub(super) fn lock_path(state_path: &Path) -> PathBuf {
    let mut path = state_path.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

/// Whether `path` still names the open `file` (false when it was removed or replaced).
fn names_file(path: &Path, file: &File) -> io::Result<bool> {
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

fn read_info(path: &Path) -> Result<LockInfo, String> {
    let content = fs::read(path).map_err(|error| error.to_string())?;
    serde_json::from_slice(&content).map_err(|error| error.to_string())
}

fn read_info_with_grace(path: &Path) -> Option<LockInfo> {
    let start = Instant::now();
    loop {
        if let Ok(info) = read_info(path) {
            return Some(info);
        }
        if start.elapsed() >= INFO_GRACE {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(io::Error) -> StateError {
    move |source| StateError::Io {
        path: path.to_owned(),
        operation,
        source,
    }
}

fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|user| !user.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(super) fn hostname() -> String {
    let from_file = fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned());
    let from_command = || {
        std::process::Command::new("hostname")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|name| name.trim().to_owned())
    };
    from_file
        .filter(|name| !name.is_empty())
        .or_else(|| from_command().filter(|name| !name.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Seconds since the UNIX epoch as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian calendar).
fn format_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Howard Hinnant's civil_from_days: eras of 400 years, years starting in March.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        time / 3_600,
        time % 3_600 / 60,
        time % 60
    )
}
