//! Progress flows from the engine to the user through [`Reporter`]; the engine never prints.

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
