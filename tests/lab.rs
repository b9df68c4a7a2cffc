//! The real-cluster suite: the `swarmform` binary against a lab of containers that behave like
//! hosts (`swarmform lab`: systemd, sshd, and Docker installed by swarmform on bare nodes).
//!
//! Every test is ignored, so a plain `cargo test` stays hermetic; `.ci/test` runs them with
//! `cargo test --test lab -- --ignored --test-threads=1` after `.ci/lab-setup` has installed and
//! started a Docker engine. Run without one, a test fails loudly: it never skips.
//!
//! The checks read the cluster through `docker exec NODE docker ...` on the nodes, never through
//! swarmform's own view (its state, `plan`, `exec`). Steps are logged with their times on
//! stderr (`--nocapture` shows them live) and summed up at the end of each test.
//!
//! A lab is one per Docker engine (its network and node names are fixed), so the tests hold a
//! process-wide lock, and every lab is taken down by a guard, even when a test fails. A failed
//! test keeps its work folder (configs, state, the output of every swarmform run in `logs/`) and
//! prints where it is.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Known bugs
// ---------------------------------------------------------------------------------------------

/// swarmform bugs this suite found that are not fixed yet. A check guarded by one of them logs a
/// `KNOWN BUG` line and carries on (with a stated workaround) instead of failing. Delete an entry
/// once the bug is fixed: its checks become strict again. `SWARMFORM_LAB_STRICT=1` makes every
/// guarded check strict without editing this list.
const OPEN_BUGS: &[(&str, &str)] = &[];

/// Whether a guarded check passed. `ok == false` fails the test unless `bug` is open (then it
/// is logged as a known bug and the caller works around it); an open bug whose check passes is
/// logged too, so the entry can be deleted.
fn known_bug(bug: &str, ok: bool, detail: &str) -> bool {
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

fn clock() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// One line on stderr, stamped with the seconds since the suite started.
fn log(text: &str) {
    eprintln!("lab [{:>6.1}s] {text}", clock().elapsed().as_secs_f64());
}

/// A test's steps and how long each took, printed as a table at the end.
struct Steps {
    test: &'static str,
    started: Instant,
    done: Vec<(String, Duration)>,
    current: Option<(String, Instant)>,
}

impl Steps {
    fn new(test: &'static str) -> Steps {
        log(&format!("===== {test}"));
        Steps {
            test,
            started: Instant::now(),
            done: Vec::new(),
            current: None,
        }
    }

    fn step(&mut self, name: &str) {
        self.close();
        log(&format!("== {name}"));
        self.current = Some((name.to_owned(), Instant::now()));
    }

    fn close(&mut self) {
        if let Some((name, started)) = self.current.take() {
            let took = started.elapsed();
            log(&format!("   ({:.1}s) {name}", took.as_secs_f64()));
            self.done.push((name, took));
        }
    }

    fn summary(mut self) {
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
fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The suite needs a Docker engine on this machine; without one it fails, it does not skip.
fn require_docker() {
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
struct Lab {
    dir: Option<tempfile::TempDir>,
    work: PathBuf,
    runs: AtomicUsize,
    /// Whether there is no lab to take down (it is down already, or there never was one).
    down: bool,
}

impl Lab {
    fn new(name: &str) -> Lab {
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
    fn scratch(name: &str) -> Lab {
        let mut folder = Lab::new(name);
        folder.down = true;
        folder
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text)
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    /// Copies the files of a folder (not its subfolders) into the work folder.
    fn copy_from(&self, folder: &Path) {
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

    fn command(&self, args: &[&str]) -> Command {
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
    fn run(&self, args: &[&str]) -> Ran {
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

    fn keep_log(&self, shown: &str, stdout: &str, stderr: &str) {
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
    fn up(&self, args: &[&str]) {
        let args: Vec<&str> = ["lab", "up"]
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        self.run(&args).expect(0);
    }

    /// `swarmform lab down`, checked: nothing of the lab is left.
    fn down(mut self) {
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
struct Ran {
    shown: String,
    output: Output,
    took: Duration,
}

impl Ran {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// The line that sums an apply or a plan up, for the log.
    fn summary_line(&self) -> Option<String> {
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

    fn expect(self, code: i32) -> Ran {
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
fn docker(args: &[&str]) -> Result<String, String> {
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
fn on(node: &str, command: &[&str]) -> Result<String, String> {
    let args: Vec<&str> = ["exec", node]
        .iter()
        .copied()
        .chain(command.iter().copied())
        .collect();
    docker(&args)
}

/// `docker exec NODE sh -c SCRIPT`.
fn sh(node: &str, script: &str) -> Result<String, String> {
    on(node, &["sh", "-c", script])
}

fn json_lines(text: &str) -> Result<Vec<Value>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(|error| format!("{error}: {line}")))
        .collect()
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// Retries `probe` every second until it returns Ok, or fails the test after `timeout`.
fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
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
fn check_nodes(via: &str, managers: &[&str], workers: &[&str]) -> Result<(), String> {
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
fn node_labels(via: &str, node: &str) -> Result<Value, String> {
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
    // swarmform's ownership labels are on every node it manages; the callers check the rest.
    let owner = labels["swarmform.address"].as_str().unwrap_or_default();
    if owner != format!("node.{node}") {
        return Err(format!(
            "{node} does not carry swarmform.address=node.{node}: {text}"
        ));
    }
    if !labels["swarmform.lineage"].is_string() {
        return Err(format!("{node} does not carry swarmform.lineage: {text}"));
    }
    if let Some(object) = labels.as_object_mut() {
        object.retain(|key, _| !key.starts_with("swarmform."));
    }
    Ok(labels)
}

/// The web service's running tasks: each one's node. Fails unless `replicas` tasks run and the
/// service reports `replicas/replicas`, with no update in progress.
fn web_tasks(via: &str, replicas: usize) -> Result<Vec<String>, String> {
    let services = json_lines(&on(
        via,
        &[
            "docker",
            "service",
            "ls",
            "--filter",
            "name=web_web",
            "--format",
            "{{json .}}",
        ],
    )?)?;
    let wanted = format!("{replicas}/{replicas}");
    match services.as_slice() {
        [service] if text(service, "Replicas") == wanted => {}
        _ => return Err(format!("service web_web is not {wanted}: {services:?}")),
    }
    let update = on(
        via,
        &[
            "docker",
            "service",
            "inspect",
            "web_web",
            "--format",
            "{{json .UpdateStatus}}",
        ],
    )?;
    if update.contains("\"updating\"") {
        return Err(format!("web_web is still updating: {update}"));
    }
    let tasks = json_lines(&on(
        via,
        &[
            "docker",
            "service",
            "ps",
            "web_web",
            "--filter",
            "desired-state=running",
            "--format",
            "{{json .}}",
        ],
    )?)?;
    let running: Vec<String> = tasks
        .iter()
        .filter(|task| text(task, "CurrentState").starts_with("Running"))
        .map(|task| text(task, "Node"))
        .collect();
    if running.len() != replicas || tasks.len() != replicas {
        return Err(format!(
            "{} of {replicas} web tasks run: {tasks:?}",
            running.len()
        ));
    }
    Ok(running)
}

/// The web containers on `nodes`, read on each node: every one serves httpd, has the secret
/// `token` with `secret` in it and the log options of daemon.json. Returns how many there are.
fn check_web_containers(nodes: &[&str], secret: &str, max_size: &str) -> Result<usize, String> {
    let mut count = 0;
    for node in nodes {
        let ids = on(
            node,
            &[
                "docker",
                "ps",
                "--quiet",
                "--filter",
                "label=com.docker.swarm.service.name=web_web",
            ],
        )?;
        for id in ids.lines().filter(|id| !id.is_empty()) {
            count += 1;
            let content = on(node, &["docker", "exec", id, "cat", "/run/secrets/token"])?;
            if content.trim() != secret {
                return Err(format!(
                    "{node}: container {id} has the secret {content:?}, not {secret:?}"
                ));
            }
            let page = on(
                node,
                &[
                    "docker",
                    "exec",
                    id,
                    "wget",
                    "-qO-",
                    "http://127.0.0.1:8080/",
                ],
            )?;
            if !page.contains("busybox httpd answers") {
                return Err(format!("{node}: container {id}'s httpd answered {page:?}"));
            }
            let log_config = on(
                node,
                &[
                    "docker",
                    "inspect",
                    id,
                    "--format",
                    "{{json .HostConfig.LogConfig}}",
                ],
            )?;
            let log_config: Value =
                serde_json::from_str(&log_config).map_err(|error| error.to_string())?;
            if log_config["Config"]["max-size"] != max_size {
                return Err(format!(
                    "{node}: container {id} logs with {log_config}, not max-size {max_size}"
                ));
            }
        }
    }
    Ok(count)
}

/// /etc/docker/daemon.json on a node, parsed.
fn daemon_json(node: &str) -> Result<Value, String> {
    let text = on(node, &["cat", "/etc/docker/daemon.json"])?;
    serde_json::from_str(&text).map_err(|error| format!("{node}: daemon.json: {error}: {text}"))
}

/// What the scenario expects the cluster to be after a step.
struct Expected<'a> {
    managers: &'a [&'a str],
    workers: &'a [&'a str],
    labels: Vec<(&'a str, Value)>,
    /// The workers labelled web=yes, where the web tasks must run.
    web_nodes: &'a [&'a str],
    replicas: usize,
    secret: &'a str,
    max_size: &'a str,
}

/// Every check of step b, read on the nodes; waits (a bounded time) for what Docker converges
/// on by itself after swarmform returned (a node back Ready after a restart, tasks rescheduled).
fn check_cluster(expected: &Expected<'_>) {
    let via = expected.managers[0];
    eventually(
        "the nodes are Ready, with their roles and one leader",
        Duration::from_secs(60),
        || check_nodes(via, expected.managers, expected.workers),
    );
    for (node, labels) in &expected.labels {
        let found = node_labels(via, node).expect("node labels");
        assert_eq!(&found, labels, "labels of {node}");
    }
    let network = on(
        via,
        &[
            "docker",
            "network",
            "inspect",
            "backend",
            "--format",
            "{{json .}}",
        ],
    )
    .expect("the network backend exists");
    let network: Value = serde_json::from_str(&network).expect("network JSON");
    assert_eq!(network["Driver"], "overlay", "{network}");
    assert_eq!(network["Scope"], "swarm", "{network}");
    assert_eq!(network["Attachable"], true, "{network}");
    assert_eq!(
        network["IPAM"]["Config"][0]["Subnet"], "10.20.0.0/24",
        "{network}"
    );
    let secrets = json_lines(
        &on(via, &["docker", "secret", "ls", "--format", "{{json .}}"]).expect("secret ls"),
    )
    .expect("secret JSON");
    let names: Vec<String> = secrets.iter().map(|secret| text(secret, "Name")).collect();
    assert!(
        names.len() == 1 && names[0].starts_with("token-"),
        "one version of the secret token: {names:?}"
    );
    let nodes = eventually(
        &format!("web_web runs {0}/{0}, not updating", expected.replicas),
        Duration::from_secs(90),
        || web_tasks(via, expected.replicas),
    );
    for node in &nodes {
        assert!(
            expected.web_nodes.contains(&node.as_str()),
            "a web task runs on {node}, not on a node labelled web=yes ({:?})",
            expected.web_nodes
        );
    }
    let containers = eventually(
        "every web container has the secret, serves httpd, and logs with daemon.json's options",
        Duration::from_secs(60),
        || {
            let count =
                check_web_containers(expected.web_nodes, expected.secret, expected.max_size)?;
            if count == expected.replicas {
                Ok(count)
            } else {
                Err(format!(
                    "{count} web containers run, not {}",
                    expected.replicas
                ))
            }
        },
    );
    for node in expected.managers.iter().chain(expected.workers) {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(
            json["log-opts"]["max-size"], expected.max_size,
            "{node}: {json}"
        );
        assert_eq!(json["log-driver"], "json-file", "{node}: {json}");
    }
    log(&format!(
        "   checked: {} managers, {} workers, labels, network 10.20.0.0/24, secret {}, {containers} web tasks on {nodes:?}, daemon.json",
        expected.managers.len(),
        expected.workers.len(),
        names[0]
    ));
}

/// `plan --json`: the addresses that change, with their action (no-ops left out).
fn changes(plan_json: &str) -> BTreeMap<String, String> {
    let plan: Value = serde_json::from_str(plan_json).expect("plan JSON");
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|change| change["action"] != "no_op")
        .map(|change| (text(change, "address"), text(change, "action")))
        .collect()
}

fn expected_changes(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(address, action)| ((*address).to_owned(), (*action).to_owned()))
        .collect()
}

/// `text` with `from` replaced by `to`; `from` must occur exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` occurs once in the config"
    );
    text.replacen(from, to, 1)
}

/// `text` without the table `[hosts.NAME]` (its lines up to the next blank line).
fn without_host(text: &str, name: &str) -> String {
    let header = format!("[hosts.{name}]\n");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("{header} in the config"));
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |offset| start + offset + 2);
    format!("{}{}", &text[..start], &text[end..])
}

/// The SHA256 fingerprint of a node's ed25519 host key, read through the container runtime.
fn host_key_fingerprint(node: &str) -> String {
    let line = on(
        node,
        &["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"],
    )
    .expect("ssh-keygen -l");
    line.split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_owned()
}

/// Watches that the swarm has a leader, as seen from `via`, once a second until stopped.
/// Returns the longest stretch without one.
struct LeaderWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Duration, usize)>,
}

impl LeaderWatch {
    fn start(via: &'static [&'static str]) -> LeaderWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut longest = Duration::ZERO;
            let mut without_since: Option<Instant> = None;
            let mut polls = 0;
            while !flag.load(Ordering::SeqCst) {
                polls += 1;
                let has_leader = via.iter().any(|manager| {
                    on(
                        manager,
                        &["docker", "node", "ls", "--format", "{{.ManagerStatus}}"],
                    )
                    .is_ok_and(|statuses| statuses.lines().any(|status| status == "Leader"))
                });
                match (has_leader, without_since) {
                    (true, Some(since)) => {
                        longest = longest.max(since.elapsed());
                        without_since = None;
                    }
                    (false, None) => without_since = Some(Instant::now()),
                    _ => {}
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            if let Some(since) = without_since {
                longest = longest.max(since.elapsed());
            }
            (longest, polls)
        });
        LeaderWatch { stop, thread }
    }

    fn stop(self) -> (Duration, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the leader watch")
    }
}

/// Runs `swarmform ARGS` and SIGKILLs it as soon as a line of its stderr matches `when`.
/// Returns the stderr read until then.
fn kill_when(lab: &Lab, args: &[&str], when: impl Fn(&str) -> bool) -> String {
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
const LEAVE_AS_MANAGER: &str =
    "You are attempting to leave the swarm on a node that is participating as a manager";

/// Runs `swarmform ARGS` (an apply or a destroy) to exit 0. While the bug `demote-leave-race`
/// is open, a run that fails only because of it is run again (twice at most): the state records
/// what was done, and by then the node has seen its demotion.
fn run_past_demote_race(lab: &Lab, args: &[&str]) -> Ran {
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

/// An HTTP GET from this machine to a lab node's host-mode port: the page, or why not.
fn http_get(address: &str, port: u16) -> Result<String, String> {
    http_get_path(address, port, "/")
}

fn http_get_path(address: &str, port: u16, path: &str) -> Result<String, String> {
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

const SCENARIO_MANAGERS: [&str; 3] = ["lab-manager1", "lab-manager2", "lab-manager3"];
const SCENARIO_WORKERS: [&str; 2] = ["lab-worker1", "lab-worker2"];
const SCENARIO_ADDRESSES: [(&str, &str); 5] = [
    ("lab-manager1", "172.30.0.11"),
    ("lab-manager2", "172.30.0.12"),
    ("lab-manager3", "172.30.0.13"),
    ("lab-worker1", "172.30.0.14"),
    ("lab-worker2", "172.30.0.15"),
];
const ALL_SCENARIO_NODES: [&str; 5] = [
    "lab-manager1",
    "lab-manager2",
    "lab-manager3",
    "lab-worker1",
    "lab-worker2",
];

// ---------------------------------------------------------------------------------------------
// The scenario: 3 managers and 2 workers, from bare nodes to nothing
// ---------------------------------------------------------------------------------------------

// Bare nodes → Docker installed, swarm formed, labels, a network, a secret and a stack → an
// empty second plan → a label, the replicas, a daemon option and the secret changed → a SIGKILL
// mid-apply and a converging re-apply → a manager and a worker removed with quorum held → a
// changed host key refused → destroy leaves nothing.
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn scenario_from_bare_nodes_to_nothing() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("scenario_from_bare_nodes_to_nothing");
    require_docker();

    // ---- a. the lab, Docker installed by swarmform, the stack ----------------------------------
    steps.step("a1. lab up --managers 3 --workers 2 --bare");
    let lab = Lab::new("scenario");
    lab.up(&["--managers", "3", "--workers", "2", "--bare"]);
    lab.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/scenario"));
    lab.write("token.txt", "token-v1\n");
    for node in ALL_SCENARIO_NODES {
        let docker_binary = sh(node, "command -v docker || echo none").expect("a node answers");
        assert_eq!(
            docker_binary, "none",
            "{node} is bare: no Docker before swarmform installs it"
        );
    }

    steps.step("a2. plan bootstrap.toml: every host's facts, Docker not installed yet");
    let bootstrap = ["-c", "bootstrap.toml", "--state", "swarmform.state.json"];
    let planned = lab.run(&[&bootstrap[..], &["plan"]].concat()).expect(0);
    for node in ALL_SCENARIO_NODES {
        assert!(
            planned
                .stdout()
                .lines()
                .any(|line| line.starts_with(&format!("  {node} "))
                    && line.contains("Debian GNU/Linux 12 (bookworm)")
                    && line.contains("Docker: not installed (will be installed)")),
            "the plan shows {node}'s facts:\n{}",
            planned.stdout()
        );
    }

    steps.step("a2. apply bootstrap.toml (includes lab.toml): install Docker, daemon.json, swarm init, joins");
    let applied = lab
        .run(&[&bootstrap[..], &["apply", "--auto-approve"]].concat())
        .expect(0);
    assert!(
        applied
            .stderr()
            .contains("Apply complete! Resources: 16 added, 0 changed, 0 destroyed."),
        "5 engines, 5 daemons, the swarm, 5 nodes:\n{}",
        applied.stderr()
    );
    for node in ALL_SCENARIO_NODES {
        let status =
            on(node, &["dpkg-query", "-W", "-f", "${Status}", "docker.io"]).expect("dpkg-query");
        assert_eq!(
            status, "install ok installed",
            "{node}: docker.io installed by swarmform"
        );
        let active = on(node, &["systemctl", "is-active", "docker"]).expect("dockerd is active");
        assert_eq!(active, "active", "{node}");
    }
    eventually("5 nodes in the swarm", Duration::from_secs(60), || {
        check_nodes("lab-manager1", &SCENARIO_MANAGERS, &SCENARIO_WORKERS)
    });

    steps.step("a2. the unlock key is in unlock.key (0600) and nowhere else; the TLS API needs the client certificate");
    let key = lab.read("unlock.key");
    let key = key.trim();
    assert!(key.starts_with("SWMKEY-1-"), "{key}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(lab.path("unlock.key"))
            .expect("unlock.key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for text in [
        applied.stdout(),
        applied.stderr(),
        lab.read("swarmform.state.json"),
    ] {
        assert!(!text.contains(key), "the unlock key leaked:\n{text}");
    }
    let client = lab.path(".swarmform/tls/client");
    let client_file = |name: &str| client.join(name).display().to_string();
    for (node, address) in SCENARIO_ADDRESSES {
        let host = format!("tcp://{address}:2376");
        let version = docker(&[
            "--tlsverify",
            "--tlscacert",
            &client_file("ca.pem"),
            "--tlscert",
            &client_file("cert.pem"),
            "--tlskey",
            &client_file("key.pem"),
            "-H",
            &host,
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .unwrap_or_else(|error| panic!("{node}'s TLS API with the client certificate: {error}"));
        assert!(version.starts_with("20.10"), "{node}: {version}");
        assert!(
            docker(&["-H", &host, "version"]).is_err(),
            "{node}'s TCP API answers without TLS"
        );
    }

    steps.step("a3. lab load local/busybox:1");
    let loaded = lab.run(&["lab", "load", "local/busybox:1"]).expect(0);
    assert!(
        loaded.stderr().contains("Loaded into 5 nodes"),
        "{}",
        loaded.stderr()
    );

    steps.step("a4. apply cluster.toml: labels, network, secret, stack");
    let cluster = lab.read("cluster.toml");
    lab.write("swarmform.toml", &cluster);
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[
            ("network.backend", "create"),
            ("node.lab-manager1", "update"),
            ("node.lab-manager2", "update"),
            ("node.lab-manager3", "update"),
            ("node.lab-worker1", "update"),
            ("node.lab-worker2", "update"),
            ("secret.token", "create"),
            ("stack.web", "create"),
        ]),
        "the second config adds labels and the workloads, nothing else"
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);

    // ---- b. checks on the nodes ----------------------------------------------------------------
    steps.step("b. check: nodes, roles, leader, labels, network, secret, replicas, daemon.json");
    let mut expected = Expected {
        managers: &SCENARIO_MANAGERS,
        workers: &SCENARIO_WORKERS,
        labels: vec![
            ("lab-manager1", json!({"zone": "a"})),
            ("lab-manager2", json!({"zone": "b"})),
            ("lab-manager3", json!({"zone": "c"})),
            ("lab-worker1", json!({"zone": "a", "web": "yes"})),
            ("lab-worker2", json!({"zone": "b", "web": "yes"})),
        ],
        web_nodes: &SCENARIO_WORKERS,
        replicas: 2,
        secret: "token-v1",
        max_size: "10m",
    };
    check_cluster(&expected);

    // ---- c. nothing left to do -----------------------------------------------------------------
    steps.step("c. plan --detailed-exitcode: no changes");
    let again = lab.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(
        again.stdout().starts_with("No changes."),
        "{}",
        again.stdout()
    );

    // ---- c2. drift: changed by hand, planned back ----------------------------------------------
    steps.step("c2. by hand: a label added, an availability, daemon.json edited: planned back");
    sh(
        "lab-manager1",
        "docker node update --label-add extra=1 lab-worker1 >/dev/null && docker node update --availability pause lab-worker2 >/dev/null",
    )
    .expect("change nodes by hand");
    sh(
        "lab-worker1",
        "sed -i 's/^{$/{\\n  \"debug\": true,/' /etc/docker/daemon.json",
    )
    .expect("edit daemon.json by hand");
    assert_eq!(
        daemon_json("lab-worker1").expect("daemon.json")["debug"],
        true
    );
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[
            ("daemon.lab-worker1", "update"),
            ("node.lab-worker1", "update"),
            ("node.lab-worker2", "update"),
        ]),
        "exactly what was changed by hand is planned back"
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        daemon_json("lab-worker1").expect("daemon.json")["debug"],
        Value::Null,
        "daemon.json written back"
    );
    check_cluster(&expected);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- d. a label, the replicas, the daemon option, the secret ------------------------------
    steps.step("d. change a label, the replicas, log-opts max-size, rotate the secret");
    let changed = edit(
        &cluster,
        "labels = { zone = \"b\", web = \"yes\" }",
        "labels = { zone = \"c\", web = \"yes\" }",
    );
    let changed = edit(
        &changed,
        "vars = { replicas = 2 }",
        "vars = { replicas = 3 }",
    );
    let changed = edit(
        &changed,
        "\"log-opts\" = { \"max-size\" = \"10m\" }",
        "\"log-opts\" = { \"max-size\" = \"20m\" }",
    );
    lab.write("swarmform.toml", &changed);
    lab.write("token.txt", "token-v2\n");
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[
            ("daemon.lab-manager1", "update"),
            ("daemon.lab-manager2", "update"),
            ("daemon.lab-manager3", "update"),
            ("daemon.lab-worker1", "update"),
            ("daemon.lab-worker2", "update"),
            ("node.lab-worker2", "update"),
            ("secret.token", "replace"),
            ("stack.web", "update"),
        ]),
        "exactly what changed"
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    let update = on(
        "lab-manager1",
        &[
            "docker",
            "service",
            "inspect",
            "web_web",
            "--format",
            "{{json .UpdateStatus}}",
        ],
    )
    .unwrap_or_else(|error| error);
    known_bug(
        "stack-update-not-awaited",
        !update.contains("\"updating\""),
        &format!("right after apply returned, web_web's UpdateStatus is {update}"),
    );
    expected.labels[4] = ("lab-worker2", json!({"zone": "c", "web": "yes"}));
    expected.replicas = 3;
    expected.secret = "token-v2";
    expected.max_size = "20m";
    check_cluster(&expected);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- e. SIGKILL in the middle of an apply that restarts dockerd ---------------------------
    steps.step(
        "e. SIGKILL mid-apply (dockerd restarts for a daemon label), apply again, plan empty",
    );
    let labelled = edit(
        &changed,
        "\"log-opts\" = { \"max-size\" = \"20m\" }\n",
        "\"log-opts\" = { \"max-size\" = \"20m\" }\n\"labels\" = [\"io.swarmform.lab.step=e\"]\n",
    );
    lab.write("swarmform.toml", &labelled);
    let seen = kill_when(&lab, &["apply", "--auto-approve"], |line| {
        line.starts_with("daemon.") && line.contains(": done")
    });
    assert!(seen.contains("daemon."), "{seen}");
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json"))
        .expect("the state is valid JSON after the SIGKILL");
    assert!(
        state["resources"]
            .as_array()
            .is_some_and(|resources| !resources.is_empty())
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);
    for node in ALL_SCENARIO_NODES {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(
            json["labels"],
            json!(["io.swarmform.lab.step=e"]),
            "{node}: {json}"
        );
        // dockerd really runs with it: restarted, not only written.
        let labels =
            on(node, &["docker", "info", "--format", "{{json .Labels}}"]).expect("docker info");
        assert!(
            labels.contains("io.swarmform.lab.step=e"),
            "{node}: dockerd runs without the new daemon.json (its labels: {labels})"
        );
    }
    check_cluster(&expected);

    // ---- e2. roles swapped: promote before demote ----------------------------------------------
    steps.step("e2. lab-worker1 becomes a manager, lab-manager3 a worker: promoted first, a leader throughout");
    let swapped = edit(
        &edit(
            &labelled,
            "[hosts.lab-worker1]\naddress = \"172.30.0.14\"\nrole = \"worker\"",
            "[hosts.lab-worker1]\naddress = \"172.30.0.14\"\nrole = \"manager\"",
        ),
        "[hosts.lab-manager3]\naddress = \"172.30.0.13\"\nrole = \"manager\"",
        "[hosts.lab-manager3]\naddress = \"172.30.0.13\"\nrole = \"worker\"",
    );
    lab.write("swarmform.toml", &swapped);
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[
            ("node.lab-manager3", "update"),
            ("node.lab-worker1", "update"),
        ])
    );
    let watch = LeaderWatch::start(&["lab-manager1", "lab-manager2"]);
    let applied = lab.run(&["apply", "--auto-approve"]).expect(0);
    let (without_leader, polls) = watch.stop();
    log(&format!(
        "   longest time without a leader during the swap: {:.1}s ({polls} polls)",
        without_leader.as_secs_f64()
    ));
    assert!(
        without_leader <= Duration::from_secs(15),
        "quorum was lost: no leader for {without_leader:?}"
    );
    let stderr = applied.stderr();
    let promoted = stderr
        .find("node.lab-worker1: done")
        .expect("the promotion finished");
    let demoted = stderr
        .find("node.lab-manager3: demote")
        .expect("the demotion started");
    assert!(
        promoted < demoted,
        "the new manager is promoted before the old one is demoted:\n{stderr}"
    );
    let swapped_managers = ["lab-manager1", "lab-manager2", "lab-worker1"];
    let swapped_workers = ["lab-manager3", "lab-worker2"];
    expected.managers = &swapped_managers;
    expected.workers = &swapped_workers;
    check_cluster(&expected);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- f. a manager removed, a worker gone -------------------------------------------------
    steps.step("f. lab-worker2 goes away (stopped); lab-manager2 and lab-worker2 removed: quorum holds, the unreachable node is forced out");
    docker(&["stop", "--time", "1", "lab-worker2"]).expect("stop lab-worker2");
    let shrunk = without_host(&without_host(&swapped, "lab-manager2"), "lab-worker2");
    lab.write("swarmform.toml", &shrunk);
    let planned = lab.run(&["plan"]).expect(0);
    let stdout = planned.stdout();
    for text in [
        "`lab-worker2` cannot be reached: removed with `docker node rm --force`",
        "docker node rm --force (from lab-manager1)",
    ] {
        assert!(stdout.contains(text), "the plan says `{text}`:\n{stdout}");
    }
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[
            ("daemon.lab-manager2", "delete"),
            ("daemon.lab-worker2", "delete"),
            ("engine.lab-manager2", "delete"),
            ("engine.lab-worker2", "delete"),
            ("node.lab-manager2", "delete"),
            ("node.lab-worker2", "delete"),
        ]),
        "exactly the two hosts' resources go"
    );
    let watch = LeaderWatch::start(&["lab-manager1", "lab-worker1"]);
    lab.run(&["apply", "--auto-approve"]).expect(0);
    let (without_leader, polls) = watch.stop();
    log(&format!(
        "   longest time without a leader during the removal: {:.1}s ({polls} polls)",
        without_leader.as_secs_f64()
    ));
    assert!(
        without_leader <= Duration::from_secs(15),
        "quorum was lost: no leader for {without_leader:?}"
    );
    let remaining_managers = ["lab-manager1", "lab-worker1"];
    let remaining_workers = ["lab-manager3"];
    expected.managers = &remaining_managers;
    expected.workers = &remaining_workers;
    expected
        .labels
        .retain(|(node, _)| !matches!(*node, "lab-manager2" | "lab-worker2"));
    expected.web_nodes = &["lab-worker1"];
    check_cluster(&expected);
    let state = on(
        "lab-manager2",
        &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
    .expect("docker info");
    assert_eq!(state, "inactive", "lab-manager2 left the swarm");
    let left = sh(
        "lab-manager2",
        "test -e /etc/docker/daemon.json && echo present || echo absent",
    )
    .expect("test");
    assert_eq!(
        left, "absent",
        "lab-manager2: on_destroy = \"revert\" removed daemon.json"
    );
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- f2. one more worker: the join tokens are rotated --------------------------------------
    steps.step("f2. lab-manager2 joins again, as a worker: the join tokens are rotated after it");
    let token_before = on(
        "lab-manager1",
        &["docker", "swarm", "join-token", "--quiet", "worker"],
    )
    .expect("join-token");
    let grown = format!(
        "{shrunk}\n[hosts.lab-manager2]\naddress = \"172.30.0.12\"\nrole = \"worker\"\nlabels = {{ zone = \"b\" }}\n"
    );
    lab.write("swarmform.toml", &grown);
    let applied = lab.run(&["apply", "--auto-approve"]).expect(0);
    let token_after = on(
        "lab-manager1",
        &["docker", "swarm", "join-token", "--quiet", "worker"],
    )
    .expect("join-token");
    assert_ne!(
        token_before, token_after,
        "the worker join token was rotated"
    );
    for text in [applied.stdout(), applied.stderr()] {
        assert!(
            !text.contains(&token_before) && !text.contains(&token_after),
            "a join token leaked:\n{text}"
        );
    }
    let grown_workers = ["lab-manager3", "lab-manager2"];
    expected.workers = &grown_workers;
    expected.labels.push(("lab-manager2", json!({"zone": "b"})));
    check_cluster(&expected);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- h. a changed host key is refused ------------------------------------------------------
    // Before g: `plan` reaches the hosts to refresh what the state holds, and after a destroy
    // the state holds nothing. Once refused, the host is trusted again the way the error's hint
    // says, so destroy can take it apart.
    steps.step("h. lab-worker1's host key changes: refused, naming both fingerprints");
    let before = host_key_fingerprint("lab-worker1");
    sh(
        "lab-worker1",
        "rm /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh",
    )
    .expect("regenerate the host keys");
    let after = host_key_fingerprint("lab-worker1");
    assert_ne!(before, after);
    let refused = lab.run(&["plan"]).expect(1);
    let stderr = refused.stderr();
    assert!(
        stderr.contains("lab-worker1") && stderr.contains(&before) && stderr.contains(&after),
        "the refusal names the host and both fingerprints ({before}, {after}):\n{stderr}"
    );
    let refused = lab.run(&["exec", "--hosts", "lab-worker1", "--", "true"]);
    assert_ne!(refused.code(), Some(0), "exec is refused too");
    assert!(refused.stdout().contains(&after) || refused.stderr().contains(&after));
    // What the hint says to do once the change is known to be legitimate: forget the old key and
    // trust the new one (read through the container runtime, not from the network).
    let known_hosts = lab.path(".swarmform-lab/known_hosts");
    let status = Command::new("ssh-keygen")
        .arg("-R")
        .arg("172.30.0.14")
        .arg("-f")
        .arg(&known_hosts)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -R");
    assert!(status.success());
    // ssh-keygen -R keeps the old file as known_hosts.old: not the lab's, so `lab down` would
    // leave it (and the folder) behind.
    std::fs::remove_file(lab.path(".swarmform-lab/known_hosts.old"))
        .expect("remove known_hosts.old");
    let key =
        on("lab-worker1", &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).expect("the new key");
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&known_hosts)
        .expect("known_hosts");
    writeln!(file, "172.30.0.14 {}", key.join(" ")).expect("append the new key");
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    // ---- g. destroy leaves nothing -------------------------------------------------------------
    steps.step("g. destroy: every node leaves, nothing swarmform made remains, state empty");
    let destroyed = run_past_demote_race(&lab, &["destroy", "--auto-approve"]);
    assert!(
        destroyed.stderr().contains("Destroy complete!"),
        "{}",
        destroyed.stderr()
    );
    // lab-worker2 was forced out while stopped: swarmform no longer manages it.
    for node in ALL_SCENARIO_NODES
        .into_iter()
        .filter(|node| *node != "lab-worker2")
    {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state, "inactive", "{node} is out of any swarm");
        let containers = on(node, &["docker", "ps", "--all", "--quiet"]).expect("docker ps");
        assert!(
            containers.is_empty(),
            "{node} still has containers: {containers}"
        );
        let networks = on(
            node,
            &[
                "docker",
                "network",
                "ls",
                "--filter",
                "name=backend",
                "--quiet",
            ],
        )
        .expect("network ls");
        assert!(networks.is_empty(), "{node} still has the network backend");
        // The engine is never uninstalled (README: destroying forgets it).
        let active = on(node, &["systemctl", "is-active", "docker"]).expect("dockerd");
        assert_eq!(
            active, "active",
            "{node}: dockerd was left installed and running"
        );
        {
            let files = sh(
                node,
                "ls /etc/docker/daemon.json /etc/systemd/system/docker.service.d/swarmform.conf 2>/dev/null; ls -A /etc/docker/swarmform-tls 2>/dev/null; true",
            )
            .expect("ls");
            assert!(
                files.is_empty(),
                "{node}: on_destroy = \"revert\" left {files}"
            );
        }
    }
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json")).expect("state JSON");
    assert_eq!(state["resources"], json!([]), "{state}");
    let listed = lab.run(&["state", "list"]).expect(0);
    assert!(listed.stdout().trim().is_empty(), "{}", listed.stdout());

    steps.step("lab down");
    lab.down();
    steps.summary();
}

// ---------------------------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------------------------

// examples/lab applies as it is to a default lab (1 manager, 2 workers) with the one line of its
// README, answers on its host-mode ports, and is destroyed; every other example plans offline
// (their images cannot be built here).
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn examples_apply_to_the_lab_or_plan() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("examples_apply_to_the_lab_or_plan");
    require_docker();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    steps.step(
        "the other examples validate and plan (--refresh=false, state in a temporary folder)",
    );
    let mut others: Vec<PathBuf> = std::fs::read_dir(&examples)
        .expect("read examples/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.join("swarmform.toml").is_file() && !path.ends_with("lab"))
        .collect();
    others.sort();
    assert!(!others.is_empty(), "examples/ holds more than the lab");
    let scratch = Lab::scratch("examples-plan");
    for example in &others {
        let name = example
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let config = example.join("swarmform.toml").display().to_string();
        let state = scratch
            .path(&format!("{name}.state.json"))
            .display()
            .to_string();
        let common = ["-c", config.as_str(), "--state", state.as_str()];
        scratch
            .run(&[&common[..], &["validate"]].concat())
            .expect(0);
        let planned = scratch
            .run(&[&common[..], &["plan", "--refresh=false"]].concat())
            .expect(0);
        let last = planned
            .stdout()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        assert!(
            last.starts_with("Plan: ") && last.ends_with(" to add, 0 to change, 0 to destroy."),
            "{name}: {last}"
        );
        assert!(
            !Path::new(&state).exists(),
            "{name}: an offline plan wrote a state"
        );
    }
    drop(scratch);

    steps.step(
        "examples/lab: lab up && lab load local/busybox:1 && apply --auto-approve (in a copy)",
    );
    let lab = Lab::new("example-lab");
    lab.copy_from(&examples.join("lab"));
    lab.up(&[]);
    lab.run(&["lab", "load", "local/busybox:1"]).expect(0);
    lab.run(&["apply", "--auto-approve"]).expect(0);

    steps.step("examples/lab: check the nodes, the stacks and their host-mode ports");
    let managers = ["lab-manager1"];
    let workers = ["lab-worker1", "lab-worker2"];
    eventually("3 nodes, one manager", Duration::from_secs(60), || {
        check_nodes("lab-manager1", &managers, &workers)
    });
    for worker in workers {
        assert_eq!(
            node_labels("lab-manager1", worker).expect("labels"),
            json!({"tier": "web"})
        );
    }
    let network = on(
        "lab-manager1",
        &[
            "docker",
            "network",
            "inspect",
            "web",
            "--format",
            "{{json .IPAM.Config}}",
        ],
    )
    .expect("the network web");
    assert!(network.contains("\"10.0.10.0/24\""), "{network}");
    let services = eventually(
        "web_web 3/3 and visualizer 1/1",
        Duration::from_secs(60),
        || {
            let services = json_lines(&on(
                "lab-manager1",
                &["docker", "service", "ls", "--format", "{{json .}}"],
            )?)?;
            let replicas: BTreeMap<String, String> = services
                .iter()
                .map(|service| (text(service, "Name"), text(service, "Replicas")))
                .collect();
            let wanted = BTreeMap::from([
                (
                    "visualizer-visualizer_visualizer".to_owned(),
                    "1/1".to_owned(),
                ),
                ("web_web".to_owned(), "3/3 (max 1 per node)".to_owned()),
            ]);
            if replicas == wanted {
                Ok(replicas)
            } else {
                Err(format!("{replicas:?}"))
            }
        },
    );
    log(&format!("   services: {services:?}"));
    for (address, port) in [
        ("172.30.0.11", 8080),
        ("172.30.0.12", 8080),
        ("172.30.0.13", 8080),
        ("172.30.0.11", 8081),
    ] {
        let page = eventually(
            &format!("http://{address}:{port}/ answers"),
            Duration::from_secs(30),
            || {
                http_get(address, port).and_then(|page| {
                    if page.contains("busybox httpd answers") {
                        Ok(page)
                    } else {
                        Err(page)
                    }
                })
            },
        );
        assert!(page.starts_with("HTTP/1."), "{page}");
    }
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("examples/lab: destroy");
    lab.run(&["destroy", "--auto-approve"]).expect(0);
    for node in ["lab-manager1", "lab-worker1", "lab-worker2"] {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state, "inactive", "{node}");
        // dockerd removes the stopped task containers of a swarm it left a moment later.
        eventually(
            &format!("no container left on {node}"),
            Duration::from_secs(60),
            || {
                let containers = on(node, &["docker", "ps", "--all", "--quiet"])?;
                if containers.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{node}: {containers}"))
                }
            },
        );
    }

    steps.step("lab down");
    lab.down();
    steps.summary();
}

// ---------------------------------------------------------------------------------------------
// Workloads: a registry, images, a stack
// ---------------------------------------------------------------------------------------------

const WORKLOAD_NODES: [(&str, &str); 3] = [
    ("lab-manager1", "172.30.0.11"),
    ("lab-worker1", "172.30.0.12"),
    ("lab-worker2", "172.30.0.13"),
];

/// The page and the secret of every web task: `(node, page, secret)`.
fn web_tasks_served() -> Result<Vec<(String, String, String)>, String> {
    let mut served = Vec::new();
    for (node, _) in WORKLOAD_NODES {
        let ids = on(
            node,
            &[
                "docker",
                "ps",
                "--quiet",
                "--filter",
                "label=com.docker.swarm.service.name=web_web",
            ],
        )?;
        for id in ids.lines().filter(|id| !id.is_empty()) {
            let secret = on(node, &["docker", "exec", id, "cat", "/run/secrets/token"])?;
            let page = on(
                node,
                &[
                    "docker",
                    "exec",
                    id,
                    "wget",
                    "-qO-",
                    "http://127.0.0.1:8080/",
                ],
            )?;
            served.push((
                node.to_owned(),
                page.trim().to_owned(),
                secret.trim().to_owned(),
            ));
        }
    }
    Ok(served)
}

/// Exactly `count` web tasks, each serving `page` with the secret `secret`.
fn check_web(count: usize, page: &str, secret: &str) {
    eventually(
        &format!("{count} web tasks serving {page:?} with the secret {secret:?}"),
        Duration::from_secs(60),
        || {
            let served = web_tasks_served()?;
            if served.len() == count
                && served.iter().all(|(_, served_page, served_secret)| {
                    served_page.contains(page) && served_secret == secret
                })
            {
                Ok(())
            } else {
                Err(format!("{served:?}"))
            }
        },
    );
}

/// The tags the lab registry holds for `local/web`.
fn registry_tags() -> Result<String, String> {
    let response = http_get_path("172.30.0.11", 5000, "/v2/local/web/tags/list")?;
    response
        .split("\r\n\r\n")
        .nth(1)
        .map(str::to_owned)
        .ok_or(response)
}

// The registry and the images, for real: `image load` puts the registry's image on its node over
// SSH, apply deploys the registry (every daemon trusting it), `image push` puts an image built
// here into it, and a stack pulls it over an overlay network with a secret and passes its
// health check; then a rotated secret with a new image, a service scaled by hand planned back, a broken image rolled back by Docker and reported with its task errors, a
// replaced network taking the stack down and up, and destroy in order.
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn workloads_from_a_registry_on_the_lab() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("workloads_from_a_registry_on_the_lab");
    require_docker();

    steps.step("w1. lab up; build local/web:1 and local/web:2 here; docker save local/registry:2");
    let lab = Lab::new("workloads");
    lab.up(&[]);
    lab.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/workloads"));
    lab.write("token.txt", "token-v1\n");
    let base = lab.read("swarmform.toml");
    let stack = lab.read("stack.toml");
    for tag in ["1", "2"] {
        let context = lab.path(&format!("web{tag}"));
        std::fs::create_dir_all(&context).expect("build context");
        std::fs::write(
            context.join("Dockerfile"),
            format!(
                "FROM local/busybox:1\nRUN mkdir -p /var/www/apiv1 && echo '<p>web {tag} from the registry</p>' > /var/www/index.html && echo healthy > /var/www/apiv1/healths\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www\"]\n"
            ),
        )
        .expect("Dockerfile");
        let image = format!("local/web:{tag}");
        docker(&[
            "build",
            "--quiet",
            "--tag",
            &image,
            &context.display().to_string(),
        ])
        .expect("docker build");
    }
    let tarball = lab.path("registry.tar").display().to_string();
    docker(&["save", "--output", &tarball, "local/registry:2"]).expect("docker save");

    steps.step("w2. image load registry.tar --hosts lab-manager1 (over SSH)");
    let loaded = lab
        .run(&["image", "load", "registry.tar", "--hosts", "lab-manager1"])
        .expect(0);
    assert!(
        loaded.stderr().contains("Loaded image: local/registry:2"),
        "{}",
        loaded.stderr()
    );
    on(
        "lab-manager1",
        &["docker", "image", "inspect", "local/registry:2"],
    )
    .expect("the image is on lab-manager1");

    steps.step("w3. a node already in another swarm is refused, with the way out");
    on(
        "lab-worker2",
        &["docker", "swarm", "init", "--advertise-addr", "172.30.0.13"],
    )
    .expect("a swarm made by hand on lab-worker2");
    let refused = lab.run(&["plan"]).expect(1);
    for text in [
        "`lab-worker2` is already in swarm",
        "which the state does not record",
        "docker swarm leave --force",
    ] {
        assert!(
            refused.stderr().contains(text),
            "the refusal says `{text}`:\n{}",
            refused.stderr()
        );
    }
    on("lab-worker2", &["docker", "swarm", "leave", "--force"]).expect("leave it");

    steps.step("w3. apply: the registry, trusted by every daemon; the network; the secret");
    lab.run(&["apply", "--auto-approve"]).expect(0);
    eventually("the registry answers", Duration::from_secs(60), || {
        http_get_path("172.30.0.11", 5000, "/v2/").and_then(|response| {
            if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                Ok(())
            } else {
                Err(response)
            }
        })
    });
    for (node, _) in WORKLOAD_NODES {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(
            json["insecure-registries"],
            json!(["172.30.0.11:5000"]),
            "{node}"
        );
    }

    steps.step("w4. image push local/web:1 and local/web:2");
    for tag in ["1", "2"] {
        let pushed = lab
            .run(&["image", "push", &format!("local/web:{tag}")])
            .expect(0);
        assert_eq!(
            pushed.stdout().trim(),
            format!("172.30.0.11:5000/local/web:{tag}")
        );
    }
    let tags = registry_tags().expect("the registry's tags");
    assert!(tags.contains("\"1\"") && tags.contains("\"2\""), "{tags}");

    steps.step("w5. the stack from the registry: plan per service, apply, health check");
    lab.write("swarmform.toml", &format!("{base}{stack}"));
    let planned = lab.run(&["plan"]).expect(0);
    let stdout = planned.stdout();
    for line in [
        "+ services.web_web.image    = \"172.30.0.11:5000/local/web:1\"",
        "+ services.web_web.replicas = 3",
        "check http://172.30.0.11:8080/apiv1/healths (20 tries, 1s apart)",
    ] {
        assert!(stdout.contains(line), "the plan shows `{line}`:\n{stdout}");
    }
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 1 from the registry", "token-v1");
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w6. rotate the secret, deploy :2: the plan shows each change");
    lab.write("token.txt", "token-v2\n");
    let changed_stack = edit(
        &stack,
        "vars = { tag = \"1\", replicas = 3 }",
        "vars = { tag = \"2\", replicas = 3 }",
    );
    lab.write("swarmform.toml", &format!("{base}{changed_stack}"));
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[("secret.token", "replace"), ("stack.web", "update")])
    );
    let planned = lab.run(&["plan"]).expect(0);
    let stdout = planned.stdout();
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("~ services.web_web.image")
                && line.ends_with(
                    "= \"172.30.0.11:5000/local/web:1\" -> \"172.30.0.11:5000/local/web:2\""
                )),
        "the plan shows the service's new image:\n{stdout}"
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 2 from the registry", "token-v2");
    let secrets = on(
        "lab-manager1",
        &["docker", "secret", "ls", "--format", "{{.Name}}"],
    )
    .expect("secret ls");
    assert_eq!(
        secrets.lines().count(),
        1,
        "the superseded secret is gone: {secrets}"
    );
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w7. drift: web_web scaled to 1 by hand, planned back to 3");
    on(
        "lab-manager1",
        &["docker", "service", "scale", "--detach", "web_web=1"],
    )
    .expect("scale by hand");
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("~ services.web_web.replicas = 1 -> 3"),
        "{}",
        planned.stdout()
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 2 from the registry", "token-v2");

    steps.step("w8. the probe updated to an image the registry lacks: Docker rolls back, apply names the tasks' errors");
    let broken = edit(
        &changed_stack,
        "vars = { tag = \"1\" }",
        "vars = { tag = \"9\" }",
    );
    lab.write("swarmform.toml", &format!("{base}{broken}"));
    let failed = lab.run(&["apply", "--auto-approve"]).expect(1);
    let stderr = failed.stderr();
    for text in ["probe_probe", "rolled it back", "local/web:9"] {
        assert!(
            stderr.contains(text),
            "the failure says `{text}` (what Docker did and why):\n{stderr}"
        );
    }
    let rolled_back = on(
        "lab-manager1",
        &[
            "docker",
            "service",
            "inspect",
            "probe_probe",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}} {{json .UpdateStatus.State}}",
        ],
    )
    .expect("service inspect");
    assert!(
        rolled_back.starts_with("172.30.0.11:5000/local/web:1")
            && rolled_back.ends_with("\"rollback_completed\""),
        "the previous version runs again: {rolled_back}"
    );
    eventually("the probe runs 1/1", Duration::from_secs(60), || {
        let replicas = on(
            "lab-manager1",
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                "name=probe_probe",
                "--format",
                "{{.Replicas}}",
            ],
        )?;
        if replicas == "1/1" {
            Ok(())
        } else {
            Err(replicas)
        }
    });
    lab.write("swarmform.toml", &format!("{base}{changed_stack}"));
    lab.run(&["apply", "--auto-approve"]).expect(0);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step(
        "w9. the network's subnet changes: the stack goes down and comes back on the new one",
    );
    let moved = edit(
        &base,
        "subnet = \"10.21.0.0/24\"",
        "subnet = \"10.22.0.0/24\"",
    );
    lab.write("swarmform.toml", &format!("{moved}{changed_stack}"));
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("because `network.backend` is replaced"),
        "{}",
        planned.stdout()
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    let subnet = on(
        "lab-manager1",
        &[
            "docker",
            "network",
            "inspect",
            "backend",
            "--format",
            "{{json .IPAM.Config}}",
        ],
    )
    .expect("network inspect");
    assert!(subnet.contains("10.22.0.0/24"), "{subnet}");
    check_web(3, "web 2 from the registry", "token-v2");
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w10. destroy: the stack, then the registry, the network and the secret");
    lab.run(&["destroy", "--auto-approve"]).expect(0);
    for (node, _) in WORKLOAD_NODES {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state, "inactive", "{node}");
        let containers = on(node, &["docker", "ps", "--quiet"]).expect("docker ps");
        assert!(containers.is_empty(), "{node}: {containers}");
    }

    steps.step("lab down");
    lab.down();
    steps.summary();
}

// ---------------------------------------------------------------------------------------------
// Kills in every phase, and retiring the bootstrap manager
// ---------------------------------------------------------------------------------------------

/// The crash test's config: `hosts` of the 3+1 lab, a daemon option, and the stack when `stack`.
fn crash_config(hosts: &[(&str, &str, &str)], max_size: &str, stack: bool) -> String {
    let mut config = format!(
        "[ssh]\nuser = \"root\"\nidentity_file = \".swarmform-lab/id_ed25519\"\nknown_hosts = \".swarmform-lab/known_hosts\"\nhost_key_policy = \"strict\"\nconnect_timeout = \"10s\"\n\n[daemon]\non_destroy = \"revert\"\n\n[daemon.json]\n\"log-driver\" = \"json-file\"\n\"log-opts\" = {{ \"max-size\" = \"{max_size}\" }}\n\n[networks.backend]\nsubnet = \"10.21.0.0/24\"\n\n[secrets.token]\nfile = \"token.txt\"\n"
    );
    for (name, address, role) in hosts {
        config.push_str(&format!(
            "\n[hosts.{name}]\naddress = \"{address}\"\nrole = \"{role}\"\n"
        ));
    }
    if stack {
        config.push_str("\n[stacks.sleeper]\ntemplate = \"sleeper.yml.hbs\"\n");
    }
    config
}

/// busybox sleeping: stops at once (`stop_grace_period`), with the network and the secret.
const SLEEPER: &str = "version: \"3.8\"\nservices:\n  sleeper:\n    image: local/busybox:1\n    command: [\"sleep\", \"100000\"]\n    stop_grace_period: 1s\n    deploy:\n      replicas: 2\n    networks: [backend]\n    secrets: [token]\nnetworks:\n  backend:\n    external: true\n    name: {{json networks.backend}}\nsecrets:\n  token:\n    external: true\n    name: {{json secrets.token}}\n";

/// Runs `apply` killed at the first stderr line (`-v` shows every command) that contains
/// `moment`, then applies again and requires the next plan to be empty.
fn killed_then_converged(lab: &Lab, args: &[&str], moment: &str) {
    let verbose: Vec<&str> = args.iter().copied().chain(["-v"]).collect();
    let seen = kill_when(lab, &verbose, |line| line.contains(moment));
    assert!(seen.contains(moment), "{seen}");
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json"))
        .expect("the state is valid JSON after the SIGKILL");
    assert!(state["resources"].is_array(), "{state}");
    run_past_demote_race(lab, args);
    if args.first() == Some(&"apply") {
        lab.run(&["plan", "--detailed-exitcode"]).expect(0);
    }
}

#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn kills_in_every_phase_converge_on_the_lab() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("kills_in_every_phase_converge_on_the_lab");
    require_docker();

    steps.step("k0. lab up --managers 3 --workers 1; lab load local/busybox:1");
    let lab = Lab::new("crash");
    lab.up(&["--managers", "3", "--workers", "1"]);
    lab.run(&["lab", "load", "local/busybox:1"]).expect(0);
    lab.write("token.txt", "token-v1\n");
    let m1 = ("lab-manager1", "172.30.0.11", "manager");
    let m2 = ("lab-manager2", "172.30.0.12", "manager");
    let m3 = ("lab-manager3", "172.30.0.13", "manager");
    let w1 = ("lab-worker1", "172.30.0.14", "worker");

    steps.step("k1. SIGKILL during `docker swarm init` (two managers configured), apply again");
    lab.write("swarmform.toml", &crash_config(&[m1, m2], "10m", false));
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker swarm init");
    check_nodes("lab-manager1", &["lab-manager1", "lab-manager2"], &[])
        .expect("the swarm of two managers");

    steps.step("k2. SIGKILL during a join (a manager and a worker more), apply again");
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "10m", false),
    );
    killed_then_converged(
        &lab,
        &["apply", "--auto-approve"],
        "$ docker swarm join --token",
    );
    check_nodes(
        "lab-manager1",
        &["lab-manager1", "lab-manager2", "lab-manager3"],
        &["lab-worker1"],
    )
    .expect("every node joined once");

    steps.step("k3. SIGKILL during a dockerd restart (daemon option changed), apply again");
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "20m", false),
    );
    killed_then_converged(
        &lab,
        &["apply", "--auto-approve"],
        "$ systemctl daemon-reload && systemctl restart docker",
    );
    for node in [
        "lab-manager1",
        "lab-manager2",
        "lab-manager3",
        "lab-worker1",
    ] {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(json["log-opts"]["max-size"], "20m", "{node}: {json}");
    }
    eventually(
        "every node Ready and Active",
        Duration::from_secs(120),
        || {
            check_nodes(
                "lab-manager1",
                &["lab-manager1", "lab-manager2", "lab-manager3"],
                &["lab-worker1"],
            )
        },
    );

    steps.step("k4. SIGKILL during the stack deploy, apply again");
    lab.write("sleeper.yml.hbs", SLEEPER);
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "20m", true),
    );
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker stack deploy");
    eventually("2 sleeper tasks running", Duration::from_secs(120), || {
        let tasks = on(
            "lab-manager1",
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                "name=sleeper_sleeper",
                "--format",
                "{{.Replicas}}",
            ],
        )?;
        if tasks.trim() == "2/2" {
            Ok(())
        } else {
            Err(tasks)
        }
    });

    steps.step("k5. SIGKILL while a manager leaves (lab-manager3 removed), apply again");
    lab.write("swarmform.toml", &crash_config(&[m1, m2, w1], "20m", true));
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker node demote");
    check_nodes(
        "lab-manager1",
        &["lab-manager1", "lab-manager2"],
        &["lab-worker1"],
    )
    .expect("lab-manager3 gone, no ghost");

    steps.step("k6. the bootstrap manager and leader lab-manager1 retired, killed at its leave, apply again");
    lab.write("swarmform.toml", &crash_config(&[m2, w1], "20m", true));
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("Fault tolerance: 2 managers → 1: the swarm still tolerates 0 failures."),
        "{}",
        planned.stdout()
    );
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker swarm leave");
    check_nodes("lab-manager2", &["lab-manager2"], &["lab-worker1"])
        .expect("lab-manager1 gone, no ghost, lab-manager2 leads");
    let left = on(
        "lab-manager1",
        &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
    .expect("docker info");
    assert_eq!(left.trim(), "inactive");

    steps.step("k7. SIGKILL during destroy (at the stack's removal), destroy again");
    killed_then_converged(&lab, &["destroy", "--auto-approve"], "$ docker stack rm");
    for node in [
        "lab-manager1",
        "lab-manager2",
        "lab-manager3",
        "lab-worker1",
    ] {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state.trim(), "inactive", "{node}");
        let containers = on(node, &["docker", "ps", "--quiet"]).expect("docker ps");
        assert!(containers.trim().is_empty(), "{node}: {containers}");
    }
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json")).expect("state JSON");
    assert_eq!(state["resources"], json!([]), "{state}");

    steps.step("k8. lab down");
    lab.down();
    steps.summary();
}
