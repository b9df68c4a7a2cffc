//! The paths other modules have imported the evaluation's results by. The evaluation itself is
//! in [`super::evaluate`]; this module only re-exports, so those imports keep working.

pub use super::evaluate::{DAEMON_JSON_PATH, DROP_IN_PATH, Desired, TLS_DIR, evaluate};
pub use crate::redact::redact;
