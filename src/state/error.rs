use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::state::LockInfo;

/// Everything that can go wrong reading, writing or locking the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "failed to {operation} `{}`; check that its directory exists and that you have permission to use it",
        path.display()
    )]
    Io {
        path: PathBuf,
        /// What was being done, as a verb phrase: `read`, `replace`, `lock`, ...
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    #[error(
        "the state file `{path}` is not valid swarmform state: {detail}; it was left untouched — restore it from `{path}.backup` or fix it by hand",
        path = path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "the state file `{}` has format version {found}, but this swarmform ({}) reads only up to version {supported}; it was left untouched — upgrade swarmform to work with it",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "the state file `{}` is locked by {} (lock id `{id}`, operation `{}`, pid {}, since {}){}; wait for it to finish, or if that process is gone, run `swarmform force-unlock {id}`",
        path.display(),
        info.who,
        info.operation,
        info.pid,
        info.created_utc(),
        waited_phrase(*waited),
        id = info.id
    )]
    Locked {
        /// The state file, not the lock file.
        path: PathBuf,
        /// Boxed to keep every `Result<_, StateError>` small.
        info: Box<LockInfo>,
        waited: Duration,
    },

    /// The lock file exists, but does not say who holds it: a holder that is not swarmform, or a
    /// file edited by hand.
    #[error(
        "the lock file `{}` does not say who holds it ({detail}); if no swarmform process is running, delete it and retry",
        path.display()
    )]
    LockUnreadable {
        /// The lock file.
        path: PathBuf,
        detail: String,
    },

    #[error(
        "the lock on `{}` has id `{expected}`, not `{given}`; nothing was unlocked — check the id in the lock error, and run `swarmform force-unlock {expected}` only if that process is gone",
        path.display()
    )]
    UnlockMismatch {
        /// The state file.
        path: PathBuf,
        /// The id of the lock actually held.
        expected: String,
        given: String,
    },

    /// `force-unlock` of a lock whose holder still runs on this host.
    #[error(
        "the lock `{id}` on `{}` is held by pid {} on this host ({}, operation `{}`, since {}), and that process is still running; nothing was unlocked\nhint: wait for it to finish, or stop it (`kill {}`) and retry; if you are sure it no longer uses the state, run `swarmform force-unlock --force {id}`",
        path.display(),
        info.pid,
        info.who,
        info.operation,
        info.created_utc(),
        info.pid,
        id = info.id
    )]
    HolderRunning {
        /// The state file.
        path: PathBuf,
        /// Boxed to keep every `Result<_, StateError>` small.
        info: Box<LockInfo>,
    },

    /// The state path is a symbolic link to nothing: the state is elsewhere, not absent.
    #[error(
        "the state file `{}` is a symbolic link to `{}`, which does not exist; nothing was read or written\nhint: restore `{}` (or mount what holds it), or point the link at the state with `ln -sfn STATE {}`; to start with no state, remove the link",
        link.display(),
        target.display(),
        target.display(),
        link.display()
    )]
    DanglingLink { link: PathBuf, target: PathBuf },

    #[error(
        "the state file `{path}` is not locked (there is no `{path}.lock`); there is nothing to unlock",
        path = path.display()
    )]
    NotLocked {
        /// The state file.
        path: PathBuf,
    },
}

fn waited_phrase(waited: Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(" and still held after waiting {:.1}s", waited.as_secs_f64())
    }
}
