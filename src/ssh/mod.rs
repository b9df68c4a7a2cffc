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

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

pub use algorithms::DEFAULT_KEY_EXCHANGE;
pub use command::{RemoteCommand, Script, quote};
pub use error::{RecordedIn, SshError};
pub use identity::PASSPHRASE_VARIABLE;
pub use pool::{Output, Pool, StreamError, upload_script};
pub use target::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, HostTarget, JumpHost, targets};
