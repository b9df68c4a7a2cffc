//! SSH: the remote command builder, and (next) the russh transport and connection pool.

pub mod command;

pub use command::{RemoteCommand, Script, quote};
