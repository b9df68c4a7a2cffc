//! A simulated cluster to run the real binary against: Docker hosts behind real SSH servers in
//! this test process (`swarmform_sim`), a `swarmform.toml` naming them, and a folder to run
//! swarmform in. `Cluster::new(3, 1, WORKLOADS).file("db.txt", SECRET).run(&["apply",
//! "--auto-approve"]).expect(0)`; `swarmform(..)` sets an environment variable or standard
//! input first.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use swarmform_sim::{ClusterSnapshot, KillMoment, Sim, SimOptions};

pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    pub sim: Sim,
    dir: tempfile::TempDir,
    managers: usize,
}

impl Cluster {
    /// `hosts` hosts named `node1`, `node2`, ..., the first `managers` of them managers;
    /// `workloads` follows the hosts in the config.
    pub fn new(hosts: usize, managers: usize, workloads: &str) -> Cluster {
        Cluster::with_options(SimOptions::with_hosts(hosts), managers, workloads)
    }

    /// The hosts of `options`, the first `managers` of them managers; `workloads` follows the
    /// hosts in the config.
    pub fn with_options(options: SimOptions, managers: usize, workloads: &str) -> Cluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary folder");
        let sim = runtime
            .block_on(Sim::start(options, &dir.path().join("sim")))
            .expect("simulator");
        let cluster = Cluster {
            runtime,
            sim,
            dir,
            managers,
        };
        cluster.workloads(workloads);
        cluster
    }

    /// Writes `name` in the folder, as a step of setting the cluster up.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Cluster {
        self.write(name, contents);
        self
    }

    /// Replaces everything after the hosts in `swarmform.toml`.
    pub fn workloads(&self, workloads: &str) {
        let config = format!("{}\n{workloads}", self.sim.config_hosts_toml(self.managers));
        self.write("swarmform.toml", config);
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.path(name), contents).expect("write");
    }

    /// The folder swarmform runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `swarmform ARGS` in the folder, with no standard input.
    pub fn run(&self, args: &[&str]) -> Ran {
        self.swarmform(args).run()
    }

    /// `swarmform ARGS` in the folder, to be given an environment variable or standard input
    /// before it runs.
    pub fn swarmform(&self, args: &[&str]) -> Invocation {
        Invocation {
            command: self.command(args),
            stdin: None,
        }
    }

    /// `swarmform ARGS` started in the background, its output discarded.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn swarmform")
    }

    /// The binary in the folder, with none of the caller's variables that would change what it
    /// reads or prints.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_swarmform"));
        command
            .current_dir(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SWARMFORM_CONFIG")
            .env_remove("SWARMFORM_STATE")
            .stdin(Stdio::null());
        command
    }

    /// `swarmform ARGS` in the folder, to its end (`Ok`) or SIGKILLed after `timeout` (`Err`,
    /// with what it had printed).
    pub fn run_within(&self, args: &[&str], timeout: Duration) -> Result<Ran, Ran> {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        finish_within(child, timeout)
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
    ) -> (Option<(String, String)>, Result<Ran, Ran>) {
        let before = self.sim.command_count();
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        // Lines that arrived between the spawn and the arming count towards the kill point.
        let early = self.sim.command_count() - before;
        self.sim
            .kill_at(child.id(), command.saturating_sub(early).max(1), moment);
        let ended = finish_within(child, timeout);
        (self.sim.disarm_kill(), ended)
    }

    /// `swarmform apply --auto-approve`, which must succeed.
    pub fn apply(&self) -> Ran {
        self.run(&["apply", "--auto-approve"]).expect(0)
    }

    /// `docker ARGS` on `host` through `swarmform exec`, as an operator would by hand; it must
    /// succeed.
    pub fn by_hand(&self, host: &str, args: &[&str]) {
        let mut command = vec!["exec", "--hosts", host, "--", "docker"];
        command.extend_from_slice(args);
        self.run(&command).expect(0);
    }

    pub fn snapshot(&self) -> ClusterSnapshot {
        self.sim.snapshot()
    }

    /// The state file's text, empty while there is none.
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.path("swarmform.state.json")).unwrap_or_default()
    }

    /// How many commands `host` has run so far: where [`Cluster::position`] starts looking
    /// for what a later run did.
    pub fn commands_so_far(&self, host: &str) -> usize {
        self.sim.commands(host).len()
    }

    /// The position in `host`'s command log of the first command at or after `from` that
    /// contains every one of `words`.
    pub fn position(&self, host: &str, from: usize, words: &[&str]) -> usize {
        let commands = self.sim.commands(host);
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
            self.sim
                .wait_for_command(host, pattern, Duration::from_secs(30)),
        )
    }

    /// Runs `future` on the simulator's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let sim = self.sim.clone();
        self.runtime.block_on(sim.stop());
    }
}

/// Waits for `child` at most `timeout`, reading its streams meanwhile; SIGKILLs it then
/// (`Err`, with what it printed so far).
fn finish_within(mut child: Child, timeout: Duration) -> Result<Ran, Ran> {
    let read = |stream: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|stream| Box::new(stream) as Box<dyn std::io::Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|stream| Box::new(stream) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for swarmform") {
            break (status, false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break (child.wait().expect("reap swarmform"), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    };
    if timed_out {
        Err(Ran(output))
    } else {
        Ok(Ran(output))
    }
}

/// A swarmform run being prepared by [`Cluster::swarmform`].
pub struct Invocation {
    command: Command,
    stdin: Option<Vec<u8>>,
}

impl Invocation {
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.command.env(key, value);
        self
    }

    /// Bytes to pipe to the run's standard input, which is then closed.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Invocation {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn run(mut self) -> Ran {
        let Some(bytes) = self.stdin else {
            return Ran(self.command.output().expect("run swarmform"));
        };
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        let mut stdin = child.stdin.take().expect("stdin");
        // Written beside the wait, so a run that prints before it reads cannot stall on a full
        // pipe.
        let writer = std::thread::spawn(move || stdin.write_all(&bytes));
        let output = child.wait_with_output().expect("wait for swarmform");
        writer
            .join()
            .expect("the stdin writer")
            .expect("write stdin");
        Ran(output)
    }
}

/// What a swarmform run left: its streams and exit code.
pub struct Ran(Output);

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    /// Asserts exit code `code`, showing both streams when it differs.
    pub fn expect(self, code: i32) -> Ran {
        assert_eq!(
            self.code(),
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}
