//! The one builder every integration test runs the real binary through: a temporary folder
//! with a `swarmform.toml` and the files it reads, optionally simulated Docker hosts behind real
//! SSH servers in this test process (`swarmform_sim`), and `swarmform` run in that folder.
//!
//! ```text
//! Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE).run(&["plan", "--refresh=false"]).success();
//! let cluster = Test::with_hosts(3, 1).workloads(WORKLOADS).file("db.txt", SECRET);
//! cluster.run(&["apply", "--auto-approve"]).success();
//! cluster.swarmform(&["apply"]).stdin("yes\n").env("RUST_LOG", "debug").run().success();
//! ```
//!
//! Setting up consumes and returns the test (`config`, `workloads`, `file`, `env`, `applied`);
//! everything after takes `&self`: runs (`run`, `swarmform`, `spawn`, `run_within`,
//! `run_killed_at`), files (`path`, `read`, `write`, `write_workloads`, `state_text`), and the
//! simulated cluster (`sim`, `snapshot`, `commands`, `position`, `wait_for_command`). Outputs
//! are asserted whole with insta snapshots under [`Test::redacted`], which filters what varies
//! between runs.

mod configs;
mod filters;
mod run;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use swarmform::config::desired::evaluate;
use swarmform::config::load::{Options, load};
use swarmform::config::source::Sources;
use swarmform::state::{ResourceState, State, StateFile};
use swarmform_sim::{ClusterSnapshot, KillMoment, Sim, SimOptions};

pub use configs::{SMALL, SMALL_COMPOSE};
pub use filters::{progress_sorted, redacted, with_filters};
pub use run::{Invocation, Run};

/// A test: its folder, the environment every run gets, and the simulated hosts, if any.
pub struct Test {
    /// Declared before `dir`, so the simulator stops before its folder is removed.
    cluster: Option<Simulated>,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// Simulated hosts and the runtime their SSH servers run on.
struct Simulated {
    runtime: tokio::runtime::Runtime,
    sim: Sim,
    /// How many of the hosts, the first ones, the config makes managers.
    managers: usize,
}

impl Test {
    /// An empty folder, no hosts: for what swarmform does offline.
    pub fn new() -> Test {
        Test {
            cluster: None,
            dir: tempfile::tempdir().expect("temporary folder"),
            env: Vec::new(),
        }
    }

    /// `hosts` simulated hosts named `node1`, `node2`, ..., the first `managers` of them
    /// managers, and a `swarmform.toml` naming them (see [`Test::workloads`]).
    pub fn with_hosts(hosts: usize, managers: usize) -> Test {
        Test::with_sim(SimOptions::with_hosts(hosts), managers)
    }

    /// The simulated hosts of `options`, the first `managers` of them managers, and a
    /// `swarmform.toml` naming them.
    pub fn with_sim(options: SimOptions, managers: usize) -> Test {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary folder");
        let sim = runtime
            .block_on(Sim::start(options, &dir.path().join("sim")))
            .expect("simulator");
        let test = Test {
            cluster: Some(Simulated {
                runtime,
                sim,
                managers,
            }),
            dir,
            env: Vec::new(),
        };
        test.write_workloads("");
        test
    }

    /// Writes `swarmform.toml` as `text`, whole.
    pub fn config(self, text: &str) -> Test {
        self.file("swarmform.toml", text)
    }

    /// Writes `swarmform.toml` as the simulated hosts' `[ssh]` and `[hosts.*]` tables followed
    /// by `workloads`.
    pub fn workloads(self, workloads: &str) -> Test {
        self.write_workloads(workloads);
        self
    }

    /// Writes a file of the folder (creating its folders), as a step of setting the test up.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Test {
        self.write(name, contents);
        self
    }

    /// Sets an environment variable for every run of this test (and, for `SWARMFORM_VAR_*`,
    /// for [`Test::applied`]).
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Writes a state recording every resource of the current config as applied, as a
    /// successful `apply` would leave it, without running one.
    pub fn applied(self) -> Test {
        let options = Options {
            path: self.path("swarmform.toml"),
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

    /// The folder swarmform runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The default state file, `swarmform.state.json` beside the config.
    pub fn state_path(&self) -> PathBuf {
        self.path("swarmform.state.json")
    }

    /// The state file's text, empty while there is none.
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.state_path()).unwrap_or_default()
    }

    /// A file of the folder, as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    /// Writes a file of the folder, creating its folders.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(path, contents).unwrap_or_else(|error| panic!("write {name}: {error}"));
    }

    /// Replaces everything after the simulated hosts in `swarmform.toml`.
    pub fn write_workloads(&self, workloads: &str) {
        let simulated = self.simulated();
        let hosts = simulated.sim.config_hosts_toml(simulated.managers);
        self.write("swarmform.toml", format!("{hosts}\n{workloads}"));
    }

    /// `swarmform ARGS` in the folder, to its end, with no standard input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.swarmform(args).run()
    }

    /// `swarmform ARGS` in the folder, to be given an environment variable or standard input
    /// before it runs.
    pub fn swarmform(&self, args: &[&str]) -> Invocation {
        Invocation::new(self.command(args), self.dir())
    }

    /// `swarmform apply --auto-approve`, which must succeed.
    pub fn apply(&self) -> Run {
        self.run(&["apply", "--auto-approve"]).success()
    }

    /// The binary as every run starts it: in the folder, with this test's environment and
    /// none of the caller's variables that would change what it reads or prints, and no
    /// standard input.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_swarmform"));
        command
            .current_dir(self.dir())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SWARMFORM_CONFIG")
            .env_remove("SWARMFORM_STATE")
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// `swarmform ARGS` started in the background, its output discarded.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn swarmform")
    }

    /// `swarmform ARGS` in the folder, to its end (`Ok`) or SIGKILLed after `timeout` (`Err`,
    /// with what it had printed).
    pub fn run_within(&self, args: &[&str], timeout: Duration) -> Result<Run, Run> {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        run::finish_within(child, timeout, self.dir())
    }

    /// `swarmform ARGS` in the folder, SIGKILLed by the simulator at the `command`th command
    /// line any host receives from its start (see [`Sim::kill_at`]), or after `timeout`. The
    /// host and command line the simulator killed it at (none when a run with fewer commands
    /// finished), and how it ended.
    pub fn run_killed_at(
        &self,
        args: &[&str],
        command: usize,
        moment: KillMoment,
        timeout: Duration,
    ) -> (Option<(String, String)>, Result<Run, Run>) {
        let sim = self.sim();
        let before = sim.command_count();
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        // Lines that arrived between the spawn and the arming count towards the kill point.
        let early = sim.command_count() - before;
        sim.kill_at(child.id(), command.saturating_sub(early).max(1), moment);
        let ended = run::finish_within(child, timeout, self.dir());
        (sim.disarm_kill(), ended)
    }

    /// `docker ARGS` on `host` through `swarmform exec`, as an operator would by hand; it must
    /// succeed.
    pub fn by_hand(&self, host: &str, args: &[&str]) {
        let mut command = vec!["exec", "--hosts", host, "--", "docker"];
        command.extend_from_slice(args);
        self.run(&command).success();
    }

    fn simulated(&self) -> &Simulated {
        self.cluster
            .as_ref()
            .expect("a test with simulated hosts (Test::with_hosts)")
    }

    /// The simulated hosts.
    pub fn sim(&self) -> &Sim {
        &self.simulated().sim
    }

    /// A consistent copy of every simulated host and swarm.
    pub fn snapshot(&self) -> ClusterSnapshot {
        self.sim().snapshot()
    }

    /// Every command line `host` has run so far.
    pub fn commands(&self, host: &str) -> Vec<String> {
        self.sim().commands(host)
    }

    /// How many commands `host` has run so far: where [`Test::position`] starts looking for
    /// what a later run did.
    pub fn commands_so_far(&self, host: &str) -> usize {
        self.commands(host).len()
    }

    /// The position in `host`'s command log of the first command at or after `from` that
    /// contains every one of `words`.
    pub fn position(&self, host: &str, from: usize, words: &[&str]) -> usize {
        let commands = self.commands(host);
        commands
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, line)| words.iter().all(|word| line.contains(word)))
            .map(|(index, _)| index)
            .unwrap_or_else(|| panic!("no command with {words:?} after {from}:\n{commands:#?}"))
    }

    /// Whether `host` runs a command containing `pattern` within 30 seconds.
    pub fn wait_for_command(&self, host: &str, pattern: &str) -> bool {
        self.block_on(
            self.sim()
                .wait_for_command(host, pattern, Duration::from_secs(30)),
        )
    }

    /// Runs `future` on the simulator's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.simulated().runtime.block_on(future)
    }

    /// Runs `assertions` with snapshot filters for what varies between runs: UUIDs (lineages,
    /// lock ids), lock holders, pids, times and durations (see [`redacted`]), and, with
    /// simulated hosts, the SSH ports they listen on and Docker's ids.
    pub fn redacted<R>(&self, assertions: impl FnOnce() -> R) -> R {
        let Some(simulated) = &self.cluster else {
            return redacted(assertions);
        };
        let ports: Vec<u16> = simulated.sim.hosts().iter().map(|host| host.port).collect();
        filters::simulated(&ports, || redacted(assertions))
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        if let Some(simulated) = &self.cluster {
            let sim = simulated.sim.clone();
            simulated.runtime.block_on(sim.stop());
        }
    }
}
