//! What was last applied: the state model and the state file (lock, backup, atomic write).

mod model;

pub use model::{FORMAT_VERSION, HostKey, ResourceState, State};
