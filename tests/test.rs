//! A fluent builder that runs the real binary in a temporary directory:
//! `Test::new().config(TOML).args(["plan", "--refresh=false"]).run().success()`.
//! `.applied()` writes the state a successful apply of the current config would leave, so a
//! test can change the config afterwards and plan the difference; `redacted` wraps snapshot
//! assertions whose output holds UUIDs, pids or times.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use swarmform::config::desired::evaluate;
use swarmform::config::load::{Options, load};
use swarmform::config::source::Sources;
use swarmform::state::{ResourceState, State, StateFile};

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temporary directory"),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default state file, `swarmform.state.json` beside the config.
    pub fn state_path(&self) -> PathBuf {
        self.path().join("swarmform.state.json")
    }

    /// Writes a state recording every resource of the current config as applied, as a
    /// successful `apply` would leave it. `SWARMFORM_VAR_*` variables set with [`Test::env`]
    /// are used.
    pub fn applied(self) -> Test {
        let options = Options {
            path: self.path().join("swarmform.toml"),
            env: self
                .env
                .iter()
                .filter(|(key, _)| key.starts_with("SWARMFORM_VAR_"))
                .cloned()
                .collect(),
            ..Options::default()
        };
        let mut sources = Sources::default();
        let desired =
            load(&options, &mut sources).and_then(|loaded| evaluate(&loaded.config, &mut sources));
        let desired = match desired {
            Ok(desired) => desired,
            Err(diagnostics) => {
                let rendered: Vec<String> = diagnostics
                    .iter()
                    .map(|diagnostic| diagnostic.render(&sources, false))
                    .collect();
                panic!("the config does not evaluate:\n{}", rendered.join("\n"));
            }
        };
        let mut state = State::new();
        for resource in &desired.resources {
            state.upsert(ResourceState::from_resource(resource, None));
        }
        let file = StateFile::new(self.state_path());
        let guard = file.lock("apply", Duration::ZERO).expect("lock the state");
        file.save(&mut state, &guard).expect("save the state");
        self
    }

    /// Writes `swarmform.toml`.
    pub fn config(self, text: &str) -> Test {
        self.file("swarmform.toml", text)
    }

    /// Writes a file relative to the test directory, creating folders.
    pub fn file(self, path: &str, text: &str) -> Test {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(full, text).expect("write file");
        self
    }

    pub fn arg(mut self, arg: &str) -> Test {
        self.args.push(arg.to_owned());
        self
    }

    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Test {
        self.args.extend(args.into_iter().map(str::to_owned));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Runs the binary; the test directory lives as long as the returned [`Run`].
    pub fn run(self) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_swarmform"));
        command
            .current_dir(self.dir.path())
            .args(&self.args)
            .env_remove("SWARMFORM_CONFIG")
            .env_remove("SWARMFORM_STATE")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let output = match &self.stdin {
            Some(text) => {
                use std::io::Write;
                command
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = command.spawn().expect("spawn swarmform");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(text.as_bytes())
                    .expect("write stdin");
                child.wait_with_output().expect("wait for swarmform")
            }
            None => command.output().expect("run swarmform"),
        };
        Run { test: self, output }
    }
}

pub struct Run {
    pub test: Test,
    pub output: Output,
}

impl Run {
    /// stdout with the temporary directory replaced by `[TEMP]`.
    pub fn stdout(&self) -> String {
        let text = String::from_utf8_lossy(&self.output.stdout).into_owned();
        text.replace(&self.test.path().display().to_string(), "[TEMP]")
    }

    /// stderr with the temporary directory replaced by `[TEMP]`.
    pub fn stderr(&self) -> String {
        let text = String::from_utf8_lossy(&self.output.stderr).into_owned();
        text.replace(&self.test.path().display().to_string(), "[TEMP]")
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts exit code `code`, showing both streams when it differs.
    pub fn status(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn success(self) -> Run {
        self.status(0)
    }

    pub fn failure(self) -> Run {
        self.status(1)
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.test.path().join(relative)
    }

    /// A file of the test directory, as text.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|error| panic!("read {relative}: {error}"))
    }

    /// Runs the binary again in the same directory with new arguments.
    pub fn then(self, args: &[&str]) -> Run {
        let Run { mut test, .. } = self;
        test.args = args.iter().map(|arg| (*arg).to_owned()).collect();
        test.stdin = None;
        test.run()
    }
}

/// Runs `assertions` with snapshot filters for what changes from run to run: UUIDs (lineages,
/// lock ids), lock holders, pids and times.
pub fn redacted<R>(assertions: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[UUID]",
    );
    settings.add_filter(r"locked by \S+ \(", "locked by [WHO] (");
    settings.add_filter(r"held by \S+, ", "held by [WHO], ");
    settings.add_filter(r"pid \d+", "pid [PID]");
    settings.add_filter(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "since [TIME]");
    settings.add_filter(r"waiting \d+\.\d+s", "waiting [SECONDS]s");
    settings.bind(assertions)
}

/// A three-node cluster: one manager, two workers, a network and a stack.
pub const SMALL: &str = r#"
[hosts.node1]
address = "192.0.2.11"
role = "manager"

[hosts.node2]
address = "192.0.2.12"
labels = { zone = "a" }

[hosts.node3]
address = "192.0.2.13"

[networks.web]
subnet = "10.0.9.0/24"
attachable = true

[stacks.web]
compose = "web.yml"
"#;

pub const SMALL_COMPOSE: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    networks: [web]\nnetworks:\n  web:\n    external: true\n";
