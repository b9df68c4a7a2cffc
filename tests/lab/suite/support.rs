//! What every test of the real-cluster suite shares: the known bugs, the log with its step
//! timings, the lab (its work folder and the guard that takes it down), running the `swarmform`
//! binary (and killing it at a chosen moment), reading the nodes through the container runtime
//! (never through swarmform), and waiting for what Docker converges on by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::OPEN_BUGS;

// ---------------------------------------------------------------------------------------------
// Known bugs
// ---------------------------------------------------------------------------------------------

/// Whether a guarded check passed. `ok == false` fails the test unless `bug` is open (then it
/// is logged as a known bug and the caller works around it); an open bug whose check passes is
/// logged too, so the entry can be deleted.
pub fn known_bug(bug: &str, ok: bool, detail: &str) -> bool {
    let open = OPEN_BUGS.iter().find(|(id, _)| *id == bug);
    let strict = std::env::var("SWARMFORM_LAB_STRICT").is_ok_and(|value| value == "1");
    match (ok, open) {
        (true, Some(_)) => {
            log(&format!(
                "NOTE: known bug `{bug}` did not show here: if it is fixed, delete it from OPEN_BUGS in tests/lab.rs"
            ));
            true
        }
        (true, None) => true,
        (false, Some((_, what))) if !strict => {
            log(&format!("KNOWN BUG `{bug}`: {what}\n    seen: {detail}"));
            false
        }
        (false, _) => panic!("`{bug}`: {detail}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Logging and step timings
// ---------------------------------------------------------------------------------------------

pub fn clock() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// One line on stderr, stamped with the seconds since the suite started.
pub fn log(text: &str) {
    eprintln!("lab [{:>6.1}s] {text}", clock().elapsed().as_secs_f64());
}

/// A test's steps and how long each took, printed as a table at the end.
pub struct Steps {
    test: &'static str,
    started: Instant,
    done: Vec<(String, Duration)>,
    current: Option<(String, Instant)>,
}

impl Steps {
    pub fn new(test: &'static str) -> Steps {
        log(&format!("===== {test}"));
        Steps {
            test,
            started: Instant::now(),
            done: Vec::new(),
            current: None,
        }
    }

    pub fn step(&mut self, name: &str) {
        self.close();
        log(&format!("== {name}"));
        self.current = Some((name.to_owned(), Instant::now()));
    }

    pub fn close(&mut self) {
        if let Some((name, started)) = self.current.take() {
            let took = started.elapsed();
            log(&format!("   ({:.1}s) {name}", took.as_secs_f64()));
            self.done.push((name, took));
        }
    }

    pub fn summary(mut self) {
        self.close();
        let mut table = format!("===== {}: step timings\n", self.test);
        for (name, took) in &self.done {
            table.push_str(&format!("    {:>6.1}s  {name}\n", took.as_secs_f64()));
        }
        table.push_str(&format!(
            "    {:>6.1}s  total",
            self.started.elapsed().as_secs_f64()
        ));
        log(&table);
    }
}

// ---------------------------------------------------------------------------------------------
// The lab and the swarmform binary
// ---------------------------------------------------------------------------------------------

/// One lab at a time per Docker engine, whatever `--test-threads` says.
pub fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The suite needs a Docker engine on this machine; without one it fails, it does not skip.
pub fn require_docker() {
    let output = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => log(&format!(
            "Docker engine {} answers",
            String::from_utf8_lossy(&output.stdout).trim()
        )),
        Ok(output) => panic!(
            "the lab suite needs a running Docker engine, and `docker info` failed: {}\nrun it through `.ci/test`, or run `.ci/lab-setup` (as root) first",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!(
            "the lab suite needs a Docker engine, and `docker` cannot run: {error}\nrun it through `.ci/test`, or run `.ci/lab-setup` (as root) first"
        ),
    }
}

/// A work folder where swarmform runs (configs, state, `.swarmform-lab/`), and the guard that
/// takes the lab down when dropped, even on a failure.
pub struct Lab {
    dir: Option<tempfile::TempDir>,
    work: PathBuf,
    runs: AtomicUsize,
    /// Whether there is no lab to take down (it is down already, or there never was one).
    down: bool,
}

impl Lab {
    pub fn new(name: &str) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix(&format!("swarmform-{name}-"))
            .tempdir()
            .expect("a temporary folder");
        let work = dir.path().to_owned();
        std::fs::create_dir_all(work.join("logs")).expect("create logs/");
        log(&format!("work folder: {}", work.display()));
        Lab {
            dir: Some(dir),
            work,
            runs: AtomicUsize::new(0),
            down: false,
        }
    }

    /// A work folder for runs that reach no host: its guard takes no lab down.
    pub fn scratch(name: &str) -> Lab {
        let mut folder = Lab::new(name);
        folder.down = true;
        folder
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text)
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    /// Copies the files of a folder (not its subfolders) into the work folder.
    pub fn copy_from(&self, folder: &Path) {
        for entry in std::fs::read_dir(folder).expect("read the folder") {
            let path = entry.expect("an entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            if path.is_file() && !name.contains(".state.json") {
                std::fs::copy(&path, self.path(&name)).expect("copy");
            }
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_swarmform"));
        command
            .current_dir(&self.work)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SWARMFORM_CONFIG")
            .env_remove("SWARMFORM_STATE")
            .stdin(Stdio::null());
        command
    }

    /// Runs swarmform in the work folder; its output also goes to `logs/NN-COMMAND.log`.
    pub fn run(&self, args: &[&str]) -> Ran {
        let started = Instant::now();
        let output = self.command(args).output().expect("run swarmform");
        let ran = Ran {
            shown: format!("swarmform {}", args.join(" ")),
            output,
            took: started.elapsed(),
        };
        self.keep_log(&ran.shown, &ran.stdout(), &ran.stderr());
        log(&format!(
            "$ {} -> exit {} in {:.1}s{}",
            ran.shown,
            ran.code()
                .map_or("(signal)".to_owned(), |code| code.to_string()),
            ran.took.as_secs_f64(),
            ran.summary_line()
                .map(|line| format!(": {line}"))
                .unwrap_or_default()
        ));
        ran
    }

    pub fn keep_log(&self, shown: &str, stdout: &str, stderr: &str) {
        let index = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let words: Vec<&str> = shown
            .split_whitespace()
            .skip(1)
            .filter(|word| !word.starts_with('-') && !word.ends_with(".toml"))
            .take(2)
            .collect();
        let name = format!("{index:02}-{}.log", words.join("-").replace('/', "_"));
        let _ = std::fs::write(
            self.path("logs").join(name),
            format!("$ {shown}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
        );
    }

    /// `swarmform lab up ARGS` in the work folder (the lab's folder is `.swarmform-lab` there).
    pub fn up(&self, args: &[&str]) {
        let args: Vec<&str> = ["lab", "up"]
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        self.run(&args).expect(0);
    }

    /// `swarmform lab down`, checked: nothing of the lab is left.
    pub fn down(mut self) {
        self.down = true;
        self.run(&["lab", "down"]).expect(0);
        let left = docker(&[
            "ps",
            "--all",
            "--quiet",
            "--filter",
            "label=io.swarmform.lab",
        ])
        .expect("docker ps");
        assert!(left.is_empty(), "lab down left containers: {left}");
        assert!(
            !self.path(".swarmform-lab").exists(),
            "lab down left its folder"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.down {
            log("taking the lab down (guard)");
            match self.command(&["lab", "down"]).output() {
                Ok(output) if output.status.success() => log("lab down: done"),
                Ok(output) => log(&format!(
                    "lab down failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                )),
                Err(error) => log(&format!("lab down could not run: {error}")),
            }
        }
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            log(&format!(
                "the test failed: its work folder is kept for inspection: {} (logs/ holds every swarmform run)",
                kept.display()
            ));
        }
    }
}

/// A finished swarmform run.
pub struct Ran {
    shown: String,
    output: Output,
    took: Duration,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// The line that sums an apply or a plan up, for the log.
    pub fn summary_line(&self) -> Option<String> {
        let stderr = self.stderr();
        let stdout = self.stdout();
        stderr
            .lines()
            .chain(stdout.lines())
            .find(|line| {
                line.starts_with("Apply complete!")
                    || line.starts_with("Destroy complete!")
                    || line.starts_with("Plan: ")
                    || line.starts_with("No changes.")
                    || line.starts_with("error: ")
                    || line.contains(" steps applied, ")
            })
            .map(str::to_owned)
    }

    pub fn expect(self, code: i32) -> Ran {
        assert_eq!(
            self.code(),
            Some(code),
            "`{}`: exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.shown,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the nodes (never through swarmform)
// ---------------------------------------------------------------------------------------------

/// `docker ARGS` on this machine: stdout, or the error with stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run docker: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "`docker {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        ))
    }
}

/// `docker exec NODE COMMAND...`: a command run on a node through the container runtime.
pub fn on(node: &str, command: &[&str]) -> Result<String, String> {
    let args: Vec<&str> = ["exec", node]
        .iter()
        .copied()
        .chain(command.iter().copied())
        .collect();
    docker(&args)
}

/// `docker exec NODE sh -c SCRIPT`.
pub fn sh(node: &str, script: &str) -> Result<String, String> {
    on(node, &["sh", "-c", script])
}

pub fn json_lines(text: &str) -> Result<Vec<Value>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(|error| format!("{error}: {line}")))
        .collect()
}

pub fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// Retries `probe` every second until it returns Ok, or fails the test after `timeout`.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(value) => {
                if started.elapsed() > Duration::from_secs(2) {
                    log(&format!(
                        "   {what}: true after {:.1}s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                return value;
            }
            Err(last) if started.elapsed() > timeout => {
                panic!(
                    "{what}: still not true after {}s: {last}",
                    timeout.as_secs()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

/// `docker node ls` as seen by a manager: exactly these nodes, all Ready and Active, these
/// managers (one Leader, the others Reachable) and these workers.
pub fn check_nodes(via: &str, managers: &[&str], workers: &[&str]) -> Result<(), String> {
    let rows = json_lines(&on(
        via,
        &["docker", "node", "ls", "--format", "{{json .}}"],
    )?)?;
    let mut seen = BTreeSet::new();
    let mut leaders = Vec::new();
    for row in &rows {
        let name = text(row, "Hostname");
        let manager_status = text(row, "ManagerStatus");
        if text(row, "Status") != "Ready" || text(row, "Availability") != "Active" {
            return Err(format!("{name} is not Ready and Active: {row}"));
        }
        match (
            managers.contains(&name.as_str()),
            workers.contains(&name.as_str()),
        ) {
            (true, _) if !matches!(manager_status.as_str(), "Leader" | "Reachable") => {
                return Err(format!("manager {name} is {manager_status:?}: {row}"));
            }
            (false, true) if !manager_status.is_empty() => {
                return Err(format!("worker {name} is a manager: {row}"));
            }
            (false, false) => return Err(format!("{name} should not be in the swarm: {row}")),
            _ => {}
        }
        if manager_status == "Leader" {
            leaders.push(name.clone());
        }
        if !seen.insert(name.clone()) {
            return Err(format!("{name} is listed twice"));
        }
    }
    let expected: BTreeSet<String> = managers
        .iter()
        .chain(workers)
        .map(|name| (*name).to_owned())
        .collect();
    if seen != expected {
        return Err(format!("the swarm holds {seen:?}, not {expected:?}"));
    }
    if leaders.len() != 1 {
        return Err(format!("leaders: {leaders:?}"));
    }
    Ok(())
}

/// The node's labels, from `docker node inspect` on a manager.
pub fn node_labels(via: &str, node: &str) -> Result<Value, String> {
    let text = on(
        via,
        &[
            "docker",
            "node",
            "inspect",
            node,
            "--format",
            "{{json .Spec.Labels}}",
        ],
    )?;
    let mut labels: Value =
        serde_json::from_str(&text).map_err(|error| format!("{error}: {text}"))?;
    // A node carries the config's labels only: swarmform puts none of its own on nodes.
    if let Some(key) = labels
        .as_object()
        .and_then(|object| object.keys().find(|key| key.starts_with("swarmform.")))
    {
        return Err(format!("{node} carries swarmform's label {key}: {text}"));
    }
    if let Some(object) = labels.as_object_mut() {
        object.retain(|key, _| !key.starts_with("swarmform."));
    }
    Ok(labels)
}

/// /etc/docker/daemon.json on a node, parsed.
pub fn daemon_json(node: &str) -> Result<Value, String> {
    let text = on(node, &["cat", "/etc/docker/daemon.json"])?;
    serde_json::from_str(&text).map_err(|error| format!("{node}: daemon.json: {error}: {text}"))
}

/// An HTTP GET from this machine to a lab node's host-mode port: the page, or why not.
pub fn http_get(address: &str, port: u16) -> Result<String, String> {
    http_get_path(address, port, "/")
}

pub fn http_get_path(address: &str, port: u16, path: &str) -> Result<String, String> {
    let socket: SocketAddr = format!("{address}:{port}")
        .parse()
        .map_err(|error| format!("{error}"))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(3))
        .map_err(|error| format!("{socket}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
        .map_err(|error| format!("{socket}: {error}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|error| format!("{socket}: {error}"))?;
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Plans and configs
// ---------------------------------------------------------------------------------------------

/// `plan --json`: the addresses that change, with their action (no-ops left out).
pub fn changes(plan_json: &str) -> BTreeMap<String, String> {
    let plan: Value = serde_json::from_str(plan_json).expect("plan JSON");
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|change| change["action"] != "no_op")
        .map(|change| (text(change, "address"), text(change, "action")))
        .collect()
}

pub fn expected_changes(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(address, action)| ((*address).to_owned(), (*action).to_owned()))
        .collect()
}

/// `text` with `from` replaced by `to`; `from` must occur exactly once.
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` occurs once in the config"
    );
    text.replacen(from, to, 1)
}

/// `text` without the table `[hosts.NAME]` (its lines up to the next blank line).
pub fn without_host(text: &str, name: &str) -> String {
    let header = format!("[hosts.{name}]\n");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("{header} in the config"));
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |offset| start + offset + 2);
    format!("{}{}", &text[..start], &text[end..])
}

// ---------------------------------------------------------------------------------------------
// Killing a run
// ---------------------------------------------------------------------------------------------

/// Runs `swarmform ARGS` and SIGKILLs it as soon as a line of its stderr matches `when`.
/// Returns the stderr read until then.
pub fn kill_when(lab: &Lab, args: &[&str], when: impl Fn(&str) -> bool) -> String {
    let mut child: Child = lab
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn swarmform");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match received.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if when(&line) {
                    child.kill().expect("SIGKILL");
                    let status = child.wait().expect("reap");
                    log(&format!("   SIGKILL after `{line}` ({status})"));
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("reap");
                panic!("swarmform ended ({status}) before it could be killed:\n{seen}");
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("the moment to kill swarmform never came:\n{seen}");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    lab.keep_log(&format!("swarmform {} (killed)", args.join(" ")), "", &seen);
    seen
}

/// What Docker says when `docker swarm leave` runs on a node that still sees itself a manager.
pub const LEAVE_AS_MANAGER: &str =
    "You are attempting to leave the swarm on a node that is participating as a manager";

/// Runs `swarmform ARGS` (an apply or a destroy) to exit 0. While the bug `demote-leave-race`
/// is open, a run that fails only because of it is run again (twice at most): the state records
/// what was done, and by then the node has seen its demotion.
pub fn run_past_demote_race(lab: &Lab, args: &[&str]) -> Ran {
    let mut attempts = 0;
    loop {
        let ran = lab.run(args);
        attempts += 1;
        let raced = ran.code() != Some(0) && ran.stderr().contains(LEAVE_AS_MANAGER);
        if ran.code() == Some(0) || !raced || attempts == 3 {
            return ran.expect(0);
        }
        let line = ran
            .stderr()
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_default()
            .to_owned();
        known_bug("demote-leave-race", false, &line);
        log("   workaround: running it again");
    }
}
