//! What was last applied: the state model and the state file (lock, backup, atomic write).

mod error;
mod file;
mod lock;
mod model;

pub use error::StateError;
pub use file::{StateFile, temporary_beside, write_atomically};
pub use lock::{LockGuard, LockInfo, force_unlock};
pub use model::{
    ADDRESS_LABEL, FORMAT_VERSION, GHOST, HostKey, LABEL_PREFIX, LINEAGE_LABEL, ResourceState,
    State,
};
