//! What was last applied: the state model and the state file (lock, backup, atomic write).

mod error;
mod file;
mod lock;
mod model;

pub use error::StateError;
pub use file::{StateFile, temporary_beside, write_atomically};
pub use lock::{LockGuard, LockInfo, force_unlock};
pub use model::{FORMAT_VERSION, HostKey, ResourceState, State};
