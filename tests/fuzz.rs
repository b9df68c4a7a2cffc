//! The fuzz target's inputs replayed on stable, without the fuzzer: every seed
//! (`fuzz/seeds/`, made by `fuzz/seed.sh`) and every input a fuzz run crashed, overflowed or
//! hung on (`fuzz/regressions/`) goes through the same validate path as `cargo fuzz run
//! validate` (`fuzz/src/lib.rs`), so what the fuzzer found stays fixed.

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
mod harness;

/// The files of `fuzz/NAME/`, sorted.
fn inputs(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(name);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()))
        .map(|entry| entry.expect("read the folder").path())
        .filter(|path| path.is_file() && !path.ends_with("README.md"))
        .collect();
    found.sort();
    found
}

/// Replays `input` in a fresh folder; returns what it rendered.
fn replay(input: &Path) -> String {
    let data = std::fs::read(input).expect("read the input");
    let dir = tempfile::tempdir().expect("temporary folder");
    harness::run(&data, &dir.path().join("project"))
        .unwrap_or_else(|| panic!("{} is not a project the fuzz target runs", input.display()))
}

// Every seed validates without a panic and renders a report; the examples and the built-in
// modules are valid projects, so their plans and graphs are rendered too.
#[test]
fn every_seed_validates_without_a_panic() {
    let seeds = inputs("seeds");
    assert!(seeds.len() > 20, "run fuzz/seed.sh: {} seeds", seeds.len());
    for seed in &seeds {
        let text = replay(seed);
        assert!(!text.is_empty(), "{}", seed.display());
        let name = seed.file_name().expect("name").to_string_lossy();
        if name.starts_with("example-") || name.starts_with("module-") {
            assert!(
                text.contains("The config is valid: ") && text.contains("digraph"),
                "{name}: {text}"
            );
        }
    }
}

// Every input a fuzz run found a panic, an overflow or a hang with validates now.
#[test]
fn every_fuzz_regression_validates_without_a_panic() {
    for input in inputs("regressions") {
        assert!(!replay(&input).is_empty(), "{}", input.display());
    }
}
