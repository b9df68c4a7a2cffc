//! Progress flows from the engine to the user through [`Reporter`] (an apply's steps) and
//! [`TransferReporter`] (image transfers); the engine never prints.

use crate::change::Vertex;

/// What the executor reports. Implementations live in `ui::progress`.
pub trait Reporter: Send + Sync {
    /// A vertex started; `description` is its first step in words.
    fn started(&self, vertex: &Vertex, description: &str);
    /// A step of a running vertex began.
    fn step(&self, vertex: &Vertex, description: &str);
    /// A remote command (already redacted) is about to run on `host`.
    fn command(&self, host: &str, command: &str);
    /// What it printed (already redacted), shown with `-v`.
    fn output(&self, host: &str, status: u32, stdout: &str, stderr: &str);
    fn succeeded(&self, vertex: &Vertex);
    fn failed(&self, vertex: &Vertex, error: &str);
    /// Not run because `cause` failed or was skipped.
    fn skipped(&self, vertex: &Vertex, cause: &Vertex);
}

/// Reports nothing (tests, benchmarks).
pub struct Silent;

impl Reporter for Silent {
    fn started(&self, _: &Vertex, _: &str) {}
    fn step(&self, _: &Vertex, _: &str) {}
    fn command(&self, _: &str, _: &str) {}
    fn output(&self, _: &str, _: u32, _: &str, _: &str) {}
    fn succeeded(&self, _: &Vertex) {}
    fn failed(&self, _: &Vertex, _: &str) {}
    fn skipped(&self, _: &Vertex, _: &Vertex) {}
}

/// Progress of image transfers, per host. The command layer picks a terminal or a plain-lines
/// implementation (`ui::progress`); the transfer code never prints.
pub trait TransferReporter: Send + Sync {
    /// Sending to `host` starts; `total` is the size when it is known (a file, not a pipe).
    fn started(&self, host: &str, what: &str, total: Option<u64>);
    /// `bytes` sent to `host` so far.
    fn sent(&self, host: &str, bytes: u64);
    /// A line about `host`: what Docker said, or the next step.
    fn message(&self, host: &str, text: &str);
    /// `host` is done; `error` when it failed (its first line is shown).
    fn finished(&self, host: &str, error: Option<&str>);
}
