//! SSH: the remote command builder, and the russh transport with its per-host connection pool.
//!
//! [`targets`] merges the config's SSH settings with `~/.ssh/config` into one [`HostTarget`] per
//! host; a [`Pool`] connects to each host once (directly or through a jump host), verifies its
//! host key against known_hosts and the state, logs in with identity files or ssh-agent, and
//! runs each [`Script`] on its own channel of that connection.

mod algorithms;
pub mod command;
mod error;
mod host_key;
mod identity;
mod pool;
mod session;
mod target;

pub use algorithms::DEFAULT_KEY_EXCHANGE;
pub use command::{RemoteCommand, Script, quote};
pub use error::{RecordedIn, SshError};
// `fingerprint`, `host_key` and `Environment` are public for the transport's integration tests
// (`tests/ssh.rs`), which check fingerprints and log in without the process environment.
pub use host_key::{fingerprint, host_key};
pub use identity::{Environment, PASSPHRASE_VARIABLE};
pub use pool::{Output, Pool, StreamError, Upload, upload_script, uploads_script};
pub use target::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, HostTarget, JumpHost, targets};
