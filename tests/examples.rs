//! Every example under `examples/` validates and plans offline in text, JSON and markdown, so
//! examples cannot rot. New examples are picked up without touching this file.

use std::path::{Path, PathBuf};

use crate::support::Test;

/// The folders of `examples/` that hold a `swarmform.toml`, sorted.
fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read examples/").path())
        .filter(|path| path.join("swarmform.toml").is_file())
        .collect();
    found.sort();
    found
}

// Each example validates, and plans offline as text, JSON and markdown, creating something.
#[test]
fn every_example_validates_and_plans() {
    let examples = examples();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    if root.is_dir() {
        let folders = std::fs::read_dir(&root)
            .expect("read examples/")
            .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.path().is_dir()))
            .count();
        assert_eq!(
            examples.len(),
            folders,
            "every folder of examples/ holds a swarmform.toml"
        );
    }
    for example in &examples {
        let name = example
            .file_name()
            .expect("folder name")
            .to_string_lossy()
            .into_owned();
        let config = example.join("swarmform.toml").display().to_string();
        let test = Test::new();
        // The state goes to the temporary directory, so examples/ is never written to.
        let state = test.state_path().display().to_string();
        let common = ["-c", config.as_str(), "--state", state.as_str()];
        let run = test.run(&[&common[..], &["validate"]].concat());
        assert_eq!(run.code(), Some(0), "{name}: validate\n{}", run.stderr());
        assert!(
            run.stderr().contains("The config is valid: "),
            "{name}: {}",
            run.stderr()
        );

        let run = test.run(&[&common[..], &["plan", "--refresh=false"]].concat());
        assert_eq!(run.code(), Some(0), "{name}: plan\n{}", run.stderr());
        let stdout = run.stdout();
        let last = stdout.lines().last().unwrap_or_default();
        let added: usize = last
            .strip_prefix("Plan: ")
            .and_then(|rest| rest.strip_suffix(" to add, 0 to change, 0 to destroy."))
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| {
                panic!("{name}: the plan does not end with a summary of additions:\n{stdout}")
            });
        assert!(added > 0, "{name}: {last}");

        let run = test.run(&[&common[..], &["plan", "--refresh=false", "--json"]].concat());
        assert_eq!(run.code(), Some(0), "{name}: plan --json\n{}", run.stderr());
        let plan: serde_json::Value = serde_json::from_str(&run.stdout())
            .unwrap_or_else(|error| panic!("{name}: plan JSON: {error}"));
        assert_eq!(plan["summary"]["add"], added, "{name}");

        let run = test.run(&[&common[..], &["plan", "--refresh=false", "--markdown"]].concat());
        assert_eq!(
            run.code(),
            Some(0),
            "{name}: plan --markdown\n{}",
            run.stderr()
        );
        assert!(
            run.stdout().contains(&format!(
                "**Plan:** {added} to add, 0 to change, 0 to destroy."
            )),
            "{name}: {}",
            run.stdout()
        );
        assert!(
            !test.state_path().exists(),
            "{name}: an offline plan wrote a state"
        );
    }
}
