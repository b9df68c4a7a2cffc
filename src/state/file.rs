//! The state file on disk: loading with version checks, and saving with a backup and an
//! atomic replace, only while the lock is held.
//!
//! A state path that is a symbolic link stands for its target: the target is read and
//! replaced, and its `.backup` and `.lock` sit beside the target, so every link to one state
//! shares one lock. A link to nothing is an error, never "no state".
//!
//! The file's concerns have a file each: this one holds [`StateFile`] (its paths, reading with the
//! format checks, taking the lock, saving with the backup); `atomic` replaces a file atomically
//! through a temporary file beside it; `stale` removes the temporary files a killed run left.

mod atomic;
mod stale;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::state::lock::{self, LockGuard};
use crate::state::{FORMAT_VERSION, LockInfo, State, StateError};

use atomic::write_atomically_with;
pub use atomic::{temporary_beside, write_atomically};
use stale::remove_stale_temporaries;

/// The state file at one path, with its `.backup` and `.lock` beside it.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// Whether this run already kept the state it started from in `.backup`: an apply saves
    /// after every step, and each save durably writing a backup too would double the fsyncs.
    backed_up: std::sync::atomic::AtomicBool,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> StateFile {
        StateFile {
            path: path.into(),
            backed_up: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file the state lives in: the path itself, or the target of the symbolic link it
    /// is. A link whose target does not exist is [`StateError::DanglingLink`].
    pub fn target(&self) -> Result<PathBuf, StateError> {
        resolve(&self.path)
    }

    /// `<target>.backup`: the state as it was before this run, written by the run's first save.
    pub fn backup_path(&self) -> PathBuf {
        backup_of(&self.target().unwrap_or_else(|_| self.path.clone()))
    }

    /// `<target>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        lock::lock_path(&self.target().unwrap_or_else(|_| self.path.clone()))
    }

    /// `<target>.unlock-key`: where an apply keeps a new unlock key that could not be written
    /// to `unlock_key_file` and cannot be shown on a terminal.
    pub fn unlock_key_fallback_path(&self) -> PathBuf {
        with_suffix(
            &self.target().unwrap_or_else(|_| self.path.clone()),
            ".unlock-key",
        )
    }

    /// Reads the state; `None` when the file does not exist yet. Needs no lock, so a concurrent
    /// save is seen either whole or not at all (saves replace the file atomically).
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let target = self.target()?;
        let content = match fs::read(&target) {
            Ok(content) => content,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    operation: "read",
                    source,
                });
            }
        };
        // The version comes first: a newer file may have fields this build cannot parse.
        let value = self.checked_value(&content)?;
        let mut state: State =
            serde_json::from_value(value).map_err(|error| self.corrupt(error.to_string()))?;
        // A hand-edited file may list resources out of order; lookups need them sorted.
        state
            .resources
            .sort_by(|left, right| left.address.cmp(&right.address));
        if let Some(pair) = state
            .resources
            .windows(2)
            .find(|pair| pair[0].address == pair[1].address)
        {
            return Err(self.corrupt(format!(
                "resource `{}` is listed more than once",
                pair[0].address
            )));
        }
        Ok(Some(state))
    }

    /// Takes the state lock for `operation` (`plan`, `apply`, ...), waiting up to `timeout`
    /// for another holder to release it (zero tries once). Once held, temporary copies of the
    /// state that a killed run left beside it are removed.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let guard = LockGuard::acquire(&self.target()?, operation, timeout)?;
        remove_stale_temporaries(&guard);
        Ok(guard)
    }

    /// Breaks the lock whose id is `id`, refusing a holder still running on this host unless
    /// `force`; see [`force_unlock`](crate::state::force_unlock).
    pub fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        lock::force_unlock(&self.target()?, id, force)
    }

    /// Writes `state`, incrementing its serial and stamping this build's versions on it.
    ///
    /// The first save of a run copies the file it replaces, if any, to
    /// [`backup_path`](Self::backup_path): the state before the run. Both writes replace their
    /// file atomically, so a crash leaves either the old or the new content. A file in a newer
    /// format is never overwritten.
    pub fn save(&self, state: &mut State, guard: &LockGuard) -> Result<(), StateError> {
        debug_assert_eq!(
            guard.path(),
            self.lock_path(),
            "the guard must lock this state file"
        );
        // Written where the lock was taken: the link's target as it was then.
        let target = guard.state_path();
        use std::sync::atomic::Ordering;
        // Later saves of this run replace what the first one wrote, under the same lock.
        if !self.backed_up.load(Ordering::Acquire) {
            match fs::read(target) {
                Ok(previous) => {
                    self.check_version(&previous)?;
                    write_atomically(&backup_of(target), &previous)?;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StateError::Io {
                        path: self.path.clone(),
                        operation: "read",
                        source,
                    });
                }
            }
            self.backed_up.store(true, Ordering::Release);
        }

        let previous_serial = state.serial;
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        state.swarmform_version = env!("CARGO_PKG_VERSION").to_owned();
        let written = write_atomically_with(target, |file| serialize(state, file));
        if written.is_err() {
            // Nothing was written: keep the serial matching the file.
            state.serial = previous_serial;
        }
        written
    }

    /// Parses `content` as JSON and checks its `format_version`, which any file of any version
    /// has.
    fn checked_value(&self, content: &[u8]) -> Result<Value, StateError> {
        let value: Value =
            serde_json::from_slice(content).map_err(|error| self.corrupt(error.to_string()))?;
        let found = match value.get("format_version") {
            Some(version) => version.as_u64().ok_or_else(|| {
                self.corrupt(format!(
                    "`format_version` is {version}, not a non-negative integer"
                ))
            })?,
            None if value.is_object() => {
                return Err(self.corrupt("`format_version` is missing".to_owned()));
            }
            None => return Err(self.corrupt("it is not a JSON object".to_owned())),
        };
        if found > u64::from(FORMAT_VERSION) {
            return Err(StateError::NewerFormat {
                path: self.path.clone(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        Ok(value)
    }

    /// Refuses to replace a file written in a newer format. A corrupt file may be replaced: its
    /// bytes are kept in the backup.
    fn check_version(&self, content: &[u8]) -> Result<(), StateError> {
        match self.checked_value(content) {
            Err(error @ StateError::NewerFormat { .. }) => Err(error),
            _ => Ok(()),
        }
    }

    fn corrupt(&self, detail: String) -> StateError {
        StateError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Pretty JSON with two-space indentation and a trailing newline.
/// The state as its file holds it: pretty JSON and a newline, written straight into `file`
/// (a hundred hosts' state is some 200 KB; a `Vec` grown to hold it is twice that).
fn serialize(state: &State, file: &mut dyn io::Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *file, state)?;
    file.write_all(b"\n")
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut path = path.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

fn backup_of(target: &Path) -> PathBuf {
    with_suffix(target, ".backup")
}

/// The state file `path` stands for: itself, or the target of the symbolic link it is (links
/// followed to the end). A link to nothing is an error naming the link and its target.
fn resolve(path: &Path) -> Result<PathBuf, StateError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(target) => Ok(target),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(StateError::DanglingLink {
                    link: path.to_owned(),
                    target: fs::read_link(path).unwrap_or_default(),
                })
            }
            Err(source) => Err(StateError::Io {
                path: path.to_owned(),
                operation: "follow the symbolic link",
                source,
            }),
        },
        Ok(_) => Ok(path.to_owned()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(path.to_owned()),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            operation: "inspect",
            source,
        }),
    }
}
