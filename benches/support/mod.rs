//! What the benchmarks share (`mod support;` in each; a folder, so cargo does not take it for a
//! benchmark of its own).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The release `swarmform` binary, built first. `cargo bench` builds the benches in release
/// mode; the binary beside them is release too.
pub fn release_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "swarmform", "--quiet"])
        .status()
        .expect("cargo build --release");
    assert!(status.success(), "cargo build --release failed");
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/swarmform")
}
