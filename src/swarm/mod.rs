//! What each step does on a host: the docker CLI commands (always `--format '{{json .}}'`,
//! never screen text), their order, what counts as already done, and what is recorded.
//!
//! Every step is idempotent: a step that finds its work already done (after an interrupted
//! apply) succeeds without doing it again.

mod error;
pub mod facts;
pub mod ownership;
pub mod refresh;
pub mod stack;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use error::StepError;
pub use facts::SwarmInfo;

use crate::address::{Address, Kind};
use crate::apply::report::Reporter;
use crate::config::desired::{DAEMON_JSON_PATH, DROP_IN_PATH, Desired, TLS_DIR};
use crate::plan::graph::{Phase, Vertex};
use crate::plan::{Action, Change, Step};
use crate::redact::redact;
use crate::resource::Resource;
use crate::ssh::{Output, Pool, RemoteCommand, Script};
use crate::state::State;

/// How long cluster convergence may take before a step gives up.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(500);

/// Everything a step needs. Shared by all running vertices.
pub struct Context {
    pub pool: Arc<Pool>,
    pub desired: Arc<Desired>,
    pub state: Arc<Mutex<State>>,
    pub reporter: Arc<dyn Reporter>,
    /// Values scrubbed from every message (sensitive variables, join tokens once read).
    pub sensitive: Mutex<Vec<String>>,
    /// How often to poll while waiting (shorter in tests against the simulator).
    pub poll: Duration,
    /// Join tokens read during this run, per (manager, role): read once, never stored.
    tokens: Mutex<BTreeMap<(String, String), String>>,
    /// What managers said about their swarm during this run.
    managers: Mutex<BTreeMap<String, SwarmInfo>>,
    /// The swarm's unlock key once read during this run; never stored in the state.
    unlock_key: Mutex<Option<String>>,
    /// Set when this run locked the swarm (autolock turned on): the key, shown once.
    new_unlock_key: Mutex<Option<NewUnlockKey>>,
    /// Where a new unlock key goes when `unlock_key_file` cannot be written and the key cannot
    /// be shown on a terminal (beside the state); `None` when it will be shown.
    unlock_key_fallback: Option<std::path::PathBuf>,
    /// Set by a step after which nothing else may start (an unlock key kept elsewhere).
    halted: std::sync::atomic::AtomicBool,
}

/// The unlock key of a swarm this run autolocked, for the command to show once.
#[derive(Debug, Clone)]
pub struct NewUnlockKey {
    pub key: String,
    /// The file it was written to: `unlock_key_file`, or the fallback when that failed.
    pub written_to: Option<std::path::PathBuf>,
    /// The `unlock_key_file` that could not be written.
    pub not_written_to: Option<std::path::PathBuf>,
}

/// What a vertex left behind, for the state.
#[derive(Debug)]
pub enum Outcome {
    /// The resource exists as desired; its Docker id when it has one.
    Created { remote_id: Option<String> },
    /// The resource is gone.
    Removed,
    /// Nothing to record (the old half of a create-before-destroy replacement).
    Unchanged,
}

impl Context {
    pub fn new(
        pool: Arc<Pool>,
        desired: Arc<Desired>,
        state: Arc<Mutex<State>>,
        reporter: Arc<dyn Reporter>,
    ) -> Context {
        let sensitive = desired.sensitive_values.clone();
        Context {
            pool,
            desired,
            state,
            reporter,
            sensitive: Mutex::new(sensitive),
            poll: POLL,
            tokens: Mutex::new(BTreeMap::new()),
            managers: Mutex::new(BTreeMap::new()),
            unlock_key: Mutex::new(None),
            new_unlock_key: Mutex::new(None),
            unlock_key_fallback: None,
            halted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Where to keep a new unlock key that `unlock_key_file` cannot take, when it cannot be
    /// shown on a terminal.
    pub fn with_unlock_key_fallback(mut self, path: Option<std::path::PathBuf>) -> Context {
        self.unlock_key_fallback = path;
        self
    }

    /// Whether a step asked that nothing more starts: the executor then stops scheduling.
    pub fn halted(&self) -> bool {
        self.halted.load(std::sync::atomic::Ordering::Acquire)
    }

    fn halt(&self) {
        self.halted
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The unlock key of a swarm this run autolocked; taken once.
    pub fn take_new_unlock_key(&self) -> Option<NewUnlockKey> {
        self.new_unlock_key
            .lock()
            .ok()
            .and_then(|mut key| key.take())
    }

    fn scrub(&self, text: &str) -> String {
        let sensitive = self
            .sensitive
            .lock()
            .map(|values| values.clone())
            .unwrap_or_default();
        scrub_swarm_secrets(&redact(text, &sensitive))
    }

    fn remember_secret(&self, value: &str) {
        if let Ok(mut values) = self.sensitive.lock() {
            values.push(value.to_owned());
        }
    }

    /// Runs a script; a non-zero exit is returned, not an error.
    ///
    /// Docker refuses a request it did not process: an update whose object changed meanwhile
    /// ("update out of sequence": a node re-registering after a dockerd restart does that), or
    /// any request while the managers elect a leader. Such a refusal had no effect, so the
    /// command is sent again, for up to about 20 seconds.
    pub async fn run(&self, host: &str, script: &Script) -> Result<Output, StepError> {
        let mut attempt = 0;
        loop {
            self.reporter.command(host, &script.display());
            let output = self.pool.run(host, script).await?;
            self.reporter.output(
                host,
                output.exit_status,
                &self.scrub(&output.stdout_text()),
                &self.scrub(&output.stderr_text()),
            );
            attempt += 1;
            if output.success() || attempt >= 12 || !unprocessed(&output.stderr_text()) {
                return Ok(output);
            }
            // Leader elections (a manager's dockerd restarting) take a few seconds.
            tokio::time::sleep(self.poll.min(Duration::from_millis(250)) * attempt.min(8)).await;
        }
    }

    /// Runs a script that must succeed.
    pub async fn check(
        &self,
        host: &str,
        script: &Script,
        hint: Option<&str>,
    ) -> Result<Output, StepError> {
        let output = self.run(host, script).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(self.failure(host, script, &output, hint))
        }
    }

    fn failure(
        &self,
        host: &str,
        script: &Script,
        output: &Output,
        hint: Option<&str>,
    ) -> StepError {
        let stderr = output.stderr_text();
        let locked_hint = format!(
            "`{host}` is a manager of an autolocked swarm that restarted: unlock it with `docker swarm unlock` and the unlock key (in `unlock_key_file` if the config names one), then apply again"
        );
        let hint = if stderr.contains("needs to be unlocked") {
            Some(locked_hint.as_str())
        } else {
            hint
        };
        let stderr = if stderr.trim().is_empty() {
            output.stdout_text()
        } else {
            stderr
        };
        StepError::Command {
            host: host.to_owned(),
            command: script.display(),
            status: output.exit_status,
            stderr: self.scrub(stderr.trim()),
            hint: hint.map(str::to_owned),
        }
    }

    fn resource(&self, address: &Address) -> Option<&Resource> {
        self.desired.resource(address)
    }

    /// The desired resource a step works from; gone from the config since the plan was made,
    /// the step is refused.
    #[expect(
        clippy::result_large_err,
        reason = "the steps' own error type, which every step returns; only built on refusal"
    )]
    fn configured(&self, address: &Address) -> Result<&Resource, StepError> {
        self.resource(address).ok_or_else(|| {
            StepError::Refused(format!(
                "`{address}` is no longer in the config; plan again"
            ))
        })
    }

    /// Where `[swarm] unlock_key_file` points on this machine, when the config names one.
    fn unlock_key_path(&self) -> Option<std::path::PathBuf> {
        self.resource(&Address::swarm())
            .and_then(|swarm| swarm.payload("unlock_key_file"))
            .map(|bytes| std::path::PathBuf::from(String::from_utf8_lossy(bytes).into_owned()))
    }

    fn recorded_id(&self, address: &Address) -> Option<String> {
        self.state.lock().ok().and_then(|state| {
            state
                .resource(address)
                .and_then(|resource| resource.remote_id.clone())
        })
    }

    async fn wait<T, F, Fut>(&self, what: &str, mut probe: F) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, String>, StepError>>,
    {
        let started = std::time::Instant::now();
        loop {
            let last = match probe().await? {
                Ok(value) => return Ok(value),
                Err(seen) => Some(seen),
            };
            if started.elapsed() > CONVERGE_TIMEOUT {
                return Err(StepError::Timeout {
                    what: what.to_owned(),
                    seconds: CONVERGE_TIMEOUT.as_secs(),
                    last,
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// Join tokens (`SWMTKN-1-…`) and unlock keys (`SWMKEY-1-…`) in anything Docker prints, for
/// example `docker swarm init`'s own instructions, become `(sensitive)`.
pub fn scrub_swarm_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["SWMTKN-1-", "SWMKEY-1-"]
        .iter()
        .filter_map(|prefix| rest.find(prefix))
        .min()
    {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '-' || c == '+' || c == '/' || c == '=')
            })
            .map_or(rest.len(), |offset| start + offset);
        out.push_str("(sensitive)");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn docker(args: &[&str]) -> RemoteCommand {
    RemoteCommand::new("docker").args(args.iter().copied())
}

/// Refusals that mean the request was not processed, so sending it again is safe: a stale
/// object version, or no Raft leader for the moment.
fn unprocessed(stderr: &str) -> bool {
    stderr.contains("update out of sequence")
        || stderr.contains("node lost leader status")
        || stderr.contains("does not have a leader")
}

/// Docker's ways of saying an object does not exist: `Error: No such service: X`,
/// `no such service: X`, `... not found`.
fn is_not_found(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    lower.contains("no such ") || lower.contains("not found")
}

fn json_format() -> [&'static str; 2] {
    ["--format", "{{json .}}"]
}

/// The value a step works with: the new one, or the recorded one for a deletion.
fn attribute<'a>(change: &'a Change, name: &str) -> Option<&'a Value> {
    change.after(name).or_else(|| change.before(name))
}

fn text_attribute(change: &Change, name: &str) -> Option<String> {
    attribute(change, name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Carries out one vertex: the steps of its change that belong to `phase`.
pub async fn carry_out(
    context: &Context,
    vertex: &Vertex,
    change: &Change,
) -> Result<Outcome, StepError> {
    let steps = phase_steps(change, vertex.phase);
    let mut remote_id = None;
    if change.address.kind == Kind::Node
        && steps.iter().any(|step| {
            matches!(
                step,
                Step::Drain { .. } | Step::Demote { .. } | Step::NodeRm { .. }
            )
        })
    {
        // The node's id, read while its host is still in the swarm: `node rm` runs after it
        // left, when the host can no longer say which node it was.
        remember_node_id(context, change).await?;
    }
    for step in &steps {
        context.reporter.step(vertex, &step.describe());
        if let Some(id) = run_step(context, change, step).await? {
            remote_id = Some(id);
        }
    }
    if change.address.kind == Kind::Node
        && remote_id.is_none()
        && context.recorded_id(&change.address).is_none()
        && matches!(change.action, Action::Create | Action::Replace)
        && vertex.phase != Phase::Destroy
        && let Some(host) = &change.host
    {
        // The bootstrap manager has no join to tell its id: ask the host itself.
        let info = facts::swarm_info(context, host).await?;
        if !info.node_id.is_empty() {
            remote_id = Some(info.node_id);
        }
    }
    Ok(match (change.action, vertex.phase) {
        (Action::Delete, _) => Outcome::Removed,
        (Action::Replace, Phase::Destroy) if change.create_before_destroy => Outcome::Unchanged,
        (Action::Replace, Phase::Destroy) => Outcome::Removed,
        _ => Outcome::Created {
            remote_id: remote_id.or_else(|| context.recorded_id(&change.address)),
        },
    })
}

/// A replacement's steps split into the destroy half and the create half.
pub fn phase_steps(change: &Change, phase: Phase) -> Vec<Step> {
    if change.action != Action::Replace {
        return change.steps.clone();
    }
    let is_destroy = |step: &Step| {
        matches!(
            step,
            Step::Drain { .. }
                | Step::Leave { .. }
                | Step::NodeRm { .. }
                | Step::RemoveFile { .. }
                | Step::DockerRemove { .. }
                | Step::RemoveRegistry { .. }
                | Step::Logout { .. }
                | Step::StackRemove { .. }
        ) || (matches!(step, Step::Demote { .. }) && change.address.kind == Kind::Node)
    };
    change
        .steps
        .iter()
        .filter(|step| is_destroy(step) == (phase == Phase::Destroy))
        .cloned()
        .collect()
}

/// Runs one step; returns a Docker id when the step created an object.
async fn run_step(
    context: &Context,
    change: &Change,
    step: &Step,
) -> Result<Option<String>, StepError> {
    let host = change.host.clone().unwrap_or_default();
    match step {
        Step::RequireEngine => {
            let script = Script::new(docker(&["version", "--format", "{{json .Server.Version}}"]));
            context
                .check(&host, &script, Some("install Docker on the host, or set `[engine] install = \"if-missing\"` to let swarmform install the distribution's packages"))
                .await?;
            Ok(None)
        }
        Step::InstallEngine { packages } => {
            let present = context
                .run(
                    &host,
                    &Script::new(RemoteCommand::new("command").args(["-v", "docker"])),
                )
                .await?;
            if !present.success() {
                let install = Script::new(RemoteCommand::new("apt-get").args(["update", "-q"]))
                    .and(
                        RemoteCommand::new("env")
                            .args([
                                "DEBIAN_FRONTEND=noninteractive",
                                "apt-get",
                                "install",
                                "-y",
                                "-q",
                                "--no-install-recommends",
                            ])
                            .args(packages.iter().cloned()),
                    )
                    .and(RemoteCommand::new("systemctl").args(["enable", "--now", "docker"]));
                context
                    .check(&host, &install, Some("the host needs apt and its package mirror; install Docker by hand and use `[engine] install = \"require\"` otherwise"))
                    .await?;
            }
            wait_for_docker(context, &host).await?;
            // A login user other than root may then run `docker` by hand (from its next login).
            if let Some(user) = context.pool.user(&host).filter(|user| *user != "root") {
                let group = Script::new(
                    RemoteCommand::new("usermod")
                        .args(["-aG", "docker"])
                        .arg(user.to_owned()),
                );
                context.check(&host, &group, None).await?;
            }
            Ok(None)
        }
        Step::WriteFile { path, mode, owner } => {
            write_file(context, change, &host, path, mode, owner).await?;
            Ok(None)
        }
        Step::EnsureLine { path } => {
            let resource = context.resource(&change.address);
            let line = resource
                .and_then(|resource| resource.payload("line"))
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default();
            let script = Script::new(RemoteCommand::new("touch").arg(path.clone()))
                .and(
                    RemoteCommand::new("grep")
                        .args(["-qxF", "--"])
                        .arg(line.clone())
                        .arg(path.clone()),
                )
                .or(RemoteCommand::new("printf")
                    .args(["%s\\n"])
                    .arg(line)
                    .append_to(path.clone()));
            context.check(&host, &script, None).await?;
            Ok(None)
        }
        Step::RemoveFile { path } => {
            context
                .check(
                    &host,
                    &Script::new(RemoteCommand::new("rm").args(["-f"]).arg(path.clone())),
                    None,
                )
                .await?;
            Ok(None)
        }
        Step::RestartDocker => {
            // A manager of an autolocked swarm comes back locked: read the key from it first.
            let before = facts::swarm_info(context, &host).await;
            let unlock_key = match before {
                Ok(info) if info.control_available && autolocked(context, &host).await? => {
                    Some(unlock_key(context, &host).await?)
                }
                _ => None,
            };
            let drained = before_restart(context, &host).await?;
            let script = Script::new(RemoteCommand::new("systemctl").arg("daemon-reload"))
                .and(RemoteCommand::new("systemctl").args(["restart", "docker"]));
            context
                .check(&host, &script, Some("dockerd did not restart: check `journalctl -u docker` on the host; a daemon.json key dockerd does not know stops it from starting"))
                .await?;
            wait_for_docker(context, &host).await?;
            if facts::swarm_info(context, &host).await?.local_node_state == "locked" {
                let key = match unlock_key {
                    Some(key) => key,
                    None => unlock_key_elsewhere(context, &host).await?,
                };
                let unlock = Script::new(docker(&["swarm", "unlock"]))
                    .stdin(format!("{key}\n").into_bytes());
                context.check(&host, &unlock, None).await?;
            }
            let manager = context
                .state
                .lock()
                .ok()
                .and_then(|state| {
                    state
                        .resource(&Address::new(Kind::Node, host.clone()))
                        .map(crate::state::ResourceState::is_manager)
                })
                .unwrap_or(false);
            if manager {
                // The next manager restarts only once this one is back in a swarm with a leader.
                let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
                context
                    .wait(
                        &format!("`{host}` to rejoin a swarm with a leader"),
                        || async {
                            let output = context.pool.run(&host, &nodes).await?;
                            Ok(if output.success() {
                                Ok(())
                            } else {
                                Err(output.stderr_text().trim().to_owned())
                            })
                        },
                    )
                    .await?;
            }
            if let Some(drained) = drained {
                after_restart(context, &host, drained).await?;
            }
            Ok(None)
        }
        Step::SwarmInit { on } => swarm_init(context, change, on, None).await.map(Some),
        Step::AdoptSwarm { on, cluster_id } => swarm_init(context, change, on, Some(cluster_id))
            .await
            .map(Some),
        Step::SwarmUpdate => {
            swarm_update(context, change).await?;
            Ok(None)
        }
        Step::RotateJoinTokens { via } => {
            for role in ["worker", "manager"] {
                context
                    .check(
                        via,
                        &Script::new(docker(&["swarm", "join-token", "--rotate", "-q", role])),
                        None,
                    )
                    .await?;
            }
            if let Ok(mut tokens) = context.tokens.lock() {
                tokens.clear();
            }
            Ok(None)
        }
        Step::Join { role, via } | Step::AdoptNode { role, via, .. } => {
            join(context, change, role, via).await.map(Some)
        }
        Step::Promote { via } => {
            let id = node_id(context, change).await?;
            context
                .check(
                    via,
                    &Script::new(docker(&["node", "promote"]).arg(id.clone())),
                    None,
                )
                .await?;
            // `promote` returns before the node takes part in Raft: a demotion planned after
            // it must not start until the new manager is Ready and reachable, or quorum rests
            // on a manager that is not there yet.
            let inspect =
                Script::new(docker(&["node", "inspect", "--format", "{{json .}}"]).arg(id.clone()));
            let name = change.address.name.clone();
            context
                .wait(&format!("`{name}` to be a reachable manager"), || async {
                    let output = context.check(via, &inspect, None).await?;
                    let node: Value =
                        serde_json::from_str(output.stdout_text().trim()).unwrap_or(Value::Null);
                    let state = node["Status"]["State"].as_str().unwrap_or_default();
                    let reachability = node["ManagerStatus"]["Reachability"]
                        .as_str()
                        .unwrap_or_default();
                    Ok(if state == "ready" && reachability == "reachable" {
                        Ok(())
                    } else {
                        Err(format!(
                            "state {state}, manager reachability {reachability:?}"
                        ))
                    })
                })
                .await?;
            Ok(None)
        }
        Step::Demote { via } => {
            let id = node_id(context, change).await?;
            let info = facts::swarm_info(context, via).await?;
            if info.node_id == id {
                return Err(StepError::Refused(format!(
                    "`{via}` cannot demote itself in this plan; plan again so another manager drives the change"
                )));
            }
            context
                .check(via, &Script::new(docker(&["node", "demote"]).arg(id)), None)
                .await?;
            Ok(None)
        }
        Step::SetAvailability { availability, via } if availability == "drain" => {
            // Docker only flips the desired state: wait, as a decommission does, until the
            // tasks have stopped there and run elsewhere.
            drain(context, change, via).await?;
            Ok(None)
        }
        Step::SetAvailability { availability, via } => {
            let id = node_id(context, change).await?;
            context
                .check(
                    via,
                    &Script::new(
                        docker(&["node", "update", "--availability"])
                            .arg(availability.clone())
                            .arg(id),
                    ),
                    None,
                )
                .await?;
            Ok(None)
        }
        Step::SetLabels { via } => {
            set_labels(context, change, via).await?;
            Ok(None)
        }
        Step::Drain { via } => {
            drain(context, change, via).await?;
            Ok(None)
        }
        Step::Leave { force } => {
            let target = if change.address.kind == Kind::Swarm {
                change.host.clone().unwrap_or_default()
            } else {
                host.clone()
            };
            if !*force
                && change.address.kind == Kind::Node
                && change.before("role").and_then(Value::as_str) == Some("manager")
            {
                // The demotion was made through another manager: this node learns of it a
                // moment later, and leaving before then is refused as a manager's leave.
                context
                    .wait(&format!("`{target}` to see its demotion"), || async {
                        let info = facts::swarm_info(context, &target).await?;
                        Ok(if info.control_available {
                            Err("still a manager".to_owned())
                        } else {
                            Ok(())
                        })
                    })
                    .await?;
            }
            let mut command = docker(&["swarm", "leave"]);
            if *force {
                command = command.arg("--force");
            }
            let script = Script::new(command);
            let output = context.run(&target, &script).await?;
            if !output.success() && !output.stderr_text().contains("not part of a swarm") {
                return Err(context.failure(&target, &script, &output, None));
            }
            Ok(None)
        }
        Step::NodeRm { via, force } => {
            node_rm(context, change, via, *force).await?;
            Ok(None)
        }
        Step::DockerCreate { object, name, via } => {
            docker_create(context, change, object, name, via)
                .await
                .map(Some)
        }
        Step::DockerRemove { object, name, via } => {
            docker_rm(context, via, object, name).await?;
            Ok(None)
        }
        Step::DeployRegistry { via } => registry_deploy(context, change, via).await.map(Some),
        Step::RemoveRegistry { via } => {
            let name = change.address.name.clone();
            let docker_name = context
                .resource(&change.address)
                .and_then(|resource| resource.docker_name.clone())
                .unwrap_or(name);
            let script = Script::new(docker(&["service", "rm"]).arg(docker_name));
            let output = context.run(via, &script).await?;
            if !output.success() && !is_not_found(&output.stderr_text()) {
                return Err(context.failure(via, &script, &output, None));
            }
            // Its config and secrets, found by their labels: their names hash contents that
            // the config no longer holds.
            for object in ["config", "secret"] {
                let mut list = docker(&[object, "ls", "--format", "{{.Name}}"]);
                for label in ownership::label_words(context, &change.address) {
                    list = list.arg("--filter").arg(format!("label={label}"));
                }
                let listed = context.check(via, &Script::new(list), None).await?;
                for name in listed.stdout_text().lines().filter(|name| !name.is_empty()) {
                    docker_rm(context, via, object, name).await?;
                }
            }
            Ok(None)
        }
        Step::Login { hosts } => {
            let resource = context.resource(&change.address);
            let url = text_attribute(change, "url").unwrap_or_default();
            if let (Some(username), Some(password)) = (
                text_attribute(change, "username"),
                resource
                    .and_then(|resource| resource.payload("password"))
                    .map(<[u8]>::to_vec),
            ) {
                for target in hosts {
                    let script = Script::new(
                        docker(&["login", "--username"])
                            .arg(username.clone())
                            .arg("--password-stdin")
                            .arg(url.clone()),
                    )
                    .stdin(password.clone());
                    context
                        .check(
                            target,
                            &script,
                            Some("check the registry's username and password"),
                        )
                        .await?;
                }
            }
            Ok(None)
        }
        Step::Logout { hosts } => {
            let url = text_attribute(change, "url").unwrap_or_default();
            for target in hosts {
                context
                    .run(target, &Script::new(docker(&["logout"]).arg(url.clone())))
                    .await?;
            }
            Ok(None)
        }
        Step::StackDeploy { via } => {
            stack::stack_deploy(context, change, via).await?;
            Ok(None)
        }
        Step::StackRemove { via } => {
            stack::stack_remove(context, change, via).await?;
            Ok(None)
        }
        Step::HealthCheck { .. } => {
            stack::health_check(context, change).await?;
            Ok(None)
        }
        Step::Forget { .. } => Ok(None),
        Step::LabelService { name, via } => {
            let mut command = docker(&["service", "update", "--detach"]);
            for label in ownership::label_words(context, &change.address) {
                command = command.arg("--label-add").arg(label);
            }
            context
                .check(via, &Script::new(command.arg(name.clone())), None)
                .await?;
            Ok(None)
        }
    }
}

/// `docker OBJECT rm NAME` (a network, secret or config); one already gone is fine.
async fn docker_rm(
    context: &Context,
    via: &str,
    object: &str,
    name: &str,
) -> Result<(), StepError> {
    let script = Script::new(docker(&[object, "rm"]).arg(name.to_owned()));
    let output = context.run(via, &script).await?;
    if !output.success() && !is_not_found(&output.stderr_text()) {
        return Err(context.failure(
            via,
            &script,
            &output,
            Some("something still uses it: remove what uses it first"),
        ));
    }
    Ok(())
}

async fn wait_for_docker(context: &Context, host: &str) -> Result<(), StepError> {
    let script = Script::new(docker(&["info", "--format", "{{json .ServerVersion}}"]));
    context
        .wait(&format!("dockerd on `{host}` to answer"), || async {
            let output = context.run(host, &script).await?;
            Ok(if output.success() {
                Ok(())
            } else {
                Err(output.stderr_text().trim().to_owned())
            })
        })
        .await
}

/// The content a WriteFile step writes, by resource kind and path.
async fn write_file(
    context: &Context,
    change: &Change,
    host: &str,
    path: &str,
    mode: &str,
    owner: &str,
) -> Result<(), StepError> {
    let resource = context.configured(&change.address)?;
    let (user, group) = owner.split_once(':').unwrap_or((owner, owner));
    let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
    if path.starts_with("/etc/docker/certs.d/") {
        let contents: serde_json::Map<String, Value> = resource
            .payload("registry_cas")
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        for (address, content) in contents {
            let target = format!("/etc/docker/certs.d/{address}/ca.crt");
            let output = context
                .pool
                .upload(
                    host,
                    &target,
                    content.as_str().unwrap_or_default().as_bytes(),
                    0o644,
                    "root",
                    "root",
                )
                .await?;
            if !output.success() {
                return Err(StepError::Command {
                    host: host.to_owned(),
                    command: format!("upload {target}"),
                    status: output.exit_status,
                    stderr: context.scrub(output.stderr_text().trim()),
                    hint: None,
                });
            }
        }
        return Ok(());
    }
    let name = match (change.address.kind, path) {
        (Kind::Daemon, DAEMON_JSON_PATH) => "daemon_json",
        (Kind::Daemon, DROP_IN_PATH) => "systemd_drop_in",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/ca.pem") => "tls_ca",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/cert.pem") => "tls_cert",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/key.pem") => "tls_key",
        _ => "content",
    };
    let content = resource.payload(name).ok_or_else(|| {
        StepError::Refused(format!("`{}` has no content for {path}", change.address))
    })?;
    context.reporter.command(
        host,
        &format!(
            "upload {path} ({} bytes, mode {mode:o}, {user}:{group})",
            content.len()
        ),
    );
    let output = context
        .pool
        .upload(host, path, content, mode, user, group)
        .await?;
    if !output.success() {
        return Err(StepError::Command {
            host: host.to_owned(),
            command: format!("upload {path}"),
            status: output.exit_status,
            stderr: context.scrub(output.stderr_text().trim()),
            hint: Some("check that the SSH user may write there (set `[ssh] sudo = true` for a non-root user)".to_owned()),
        });
    }
    Ok(())
}

fn listen_port(context: &Context) -> String {
    context
        .resource(&Address::swarm())
        .and_then(|swarm| swarm.attributes.get("listen_addr"))
        .and_then(|attribute| attribute.value.as_str())
        .and_then(|listen| listen.rsplit_once(':').map(|(_, port)| port.to_owned()))
        .unwrap_or_else(|| "2377".to_owned())
}

fn node_setting(context: &Context, host: &str, name: &str) -> Option<String> {
    context
        .resource(&Address::new(Kind::Node, host))
        .and_then(|node| node.attributes.get(name))
        .and_then(|attribute| attribute.value.as_str())
        .map(str::to_owned)
}

/// `docker swarm init`; or adoption of the swarm an interrupted apply initialized, or of the
/// swarm `on` already manages when the config says `[swarm] adopt = true` (`adopt`: the cluster
/// the plan showed, which must still be the one). An adopted swarm gets the configured settings
/// with `docker swarm update`.
async fn swarm_init(
    context: &Context,
    change: &Change,
    on: &str,
    adopt: Option<&str>,
) -> Result<String, StepError> {
    // An init an interrupted run started may still be settling (`pending`): wait for it.
    let info = context
        .wait(&format!("the swarm on `{on}` to settle"), || async {
            let info = facts::swarm_info(context, on).await?;
            Ok(if info.local_node_state == "pending" {
                Err("pending".to_owned())
            } else {
                Ok(info)
            })
        })
        .await?;
    if info.local_node_state == "active" {
        let recorded = context
            .state
            .lock()
            .ok()
            .and_then(|state| state.resource(&Address::swarm()).map(|swarm| swarm.pending));
        if info.control_available && recorded == Some(true) {
            // The run that initialized it may have died (or stopped) before the key was kept
            // or shown.
            if attribute(change, "autolock").and_then(Value::as_bool) == Some(true) {
                keep_unlock_key(context, on, true).await?;
            }
            return Ok(info.cluster_id);
        }
        let planned = adopt.is_none_or(|cluster| cluster == info.cluster_id);
        if info.control_available && context.desired.adopt && planned {
            swarm_update(context, change).await?;
            return Ok(info.cluster_id);
        }
        if let Some(cluster) = adopt {
            return Err(StepError::Refused(format!(
                "`{on}` manages swarm {} now, not the swarm {cluster} this plan adopts; plan again",
                info.cluster_id
            )));
        }
        return Err(StepError::Refused(format!(
            "`{on}` is already part of a swarm (cluster {}) that this state did not create; leave it first (`docker swarm leave --force` on {on}), set `adopt = true` under `[swarm]` to take it over, or remove `{on}` from the config",
            info.cluster_id
        )));
    }
    if let Some(cluster) = adopt {
        return Err(StepError::Refused(format!(
            "`{on}` is no longer in the swarm {cluster} this plan adopts; plan again"
        )));
    }
    let advertise = node_setting(context, on, "advertise_addr").unwrap_or_default();
    let mut command = docker(&["swarm", "init", "--advertise-addr"]).arg(advertise);
    if let Some(listen) = text_attribute(change, "listen_addr") {
        command = command.arg("--listen-addr").arg(listen);
    }
    if let Some(data_path) = node_setting(context, on, "data_path_addr") {
        command = command.arg("--data-path-addr").arg(data_path);
    }
    if let Some(port) = attribute(change, "data_path_port").and_then(Value::as_u64) {
        command = command.arg("--data-path-port").arg(port.to_string());
    }
    let pools: Vec<String> = attribute(change, "default_addr_pool")
        .and_then(Value::as_array)
        .map(|pools| {
            pools
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !pools.is_empty() {
        for pool in &pools {
            command = command.arg("--default-addr-pool").arg(pool.clone());
        }
        if let Some(mask) =
            attribute(change, "default_addr_pool_mask_length").and_then(Value::as_u64)
        {
            command = command
                .arg("--default-addr-pool-mask-length")
                .arg(mask.to_string());
        }
    }
    if attribute(change, "autolock").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--autolock");
    }
    command = swarm_settings(command, change);
    context
        .check(on, &Script::new(command), Some("check the advertise address: it must be an address of this host that the other nodes reach"))
        .await?;
    let info = facts::swarm_info(context, on).await?;
    if attribute(change, "autolock").and_then(Value::as_bool) == Some(true) {
        keep_unlock_key(context, on, true).await?;
    }
    Ok(info.cluster_id)
}

fn swarm_settings(mut command: RemoteCommand, change: &Change) -> RemoteCommand {
    for (attribute_name, flag) in [
        ("cert_expiry", "--cert-expiry"),
        ("dispatcher_heartbeat", "--dispatcher-heartbeat"),
        ("max_snapshots", "--max-snapshots"),
        ("snapshot_interval", "--snapshot-interval"),
        ("task_history_limit", "--task-history-limit"),
    ] {
        if let Some(value) = attribute(change, attribute_name) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            command = command.arg(flag).arg(text);
        }
    }
    command
}

async fn swarm_update(context: &Context, change: &Change) -> Result<(), StepError> {
    let host = change.host.clone().unwrap_or_default();
    let mut command = docker(&["swarm", "update"]);
    if let Some(autolock) = attribute(change, "autolock").and_then(Value::as_bool) {
        command = command.arg(format!("--autolock={autolock}"));
    }
    command = swarm_settings(command, change);
    context.check(&host, &Script::new(command), None).await?;
    if attribute(change, "autolock").and_then(Value::as_bool) == Some(true) {
        let turned_on = change.before("autolock").and_then(Value::as_bool) != Some(true);
        keep_unlock_key(context, &host, turned_on).await?;
    }
    Ok(())
}

/// Whether the swarm `manager` belongs to locks its managers when they restart.
async fn autolocked(context: &Context, manager: &str) -> Result<bool, StepError> {
    let script = Script::new(docker(&[
        "info",
        "--format",
        "{{json .Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}",
    ]));
    let output = context.check(manager, &script, None).await?;
    Ok(output.stdout_text().trim() == "true")
}

/// The swarm's unlock key, read live from a manager once per run and scrubbed from all output.
async fn unlock_key(context: &Context, manager: &str) -> Result<String, StepError> {
    if let Some(key) = context.unlock_key.lock().ok().and_then(|key| key.clone()) {
        return Ok(key);
    }
    let script = Script::new(docker(&["swarm", "unlock-key", "-q"]));
    let output = context.check(manager, &script, None).await?;
    let key = output.stdout_text().trim().to_owned();
    if key.is_empty() {
        return Err(StepError::Unexpected {
            host: manager.to_owned(),
            command: script.display(),
            detail: "no unlock key".to_owned(),
        });
    }
    context.remember_secret(&key);
    if let Ok(mut cached) = context.unlock_key.lock() {
        *cached = Some(key.clone());
    }
    Ok(key)
}

/// The unlock key for a manager that is locked already (an earlier run was interrupted between
/// its restart and its unlock): the config's `unlock_key_file`, else another manager.
async fn unlock_key_elsewhere(context: &Context, locked: &str) -> Result<String, StepError> {
    if let Some(key) = context.unlock_key.lock().ok().and_then(|key| key.clone()) {
        return Ok(key);
    }
    let from_file = context
        .unlock_key_path()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .filter(|key| !key.is_empty());
    if let Some(key) = from_file {
        context.remember_secret(&key);
        return Ok(key);
    }
    match answering_manager(context, locked).await? {
        Some(manager) => unlock_key(context, &manager).await,
        None => Err(StepError::Refused(format!(
            "`{locked}` is locked and no other manager answers to read the unlock key from\nhint: run `docker swarm unlock` on {locked} with the key, or set `unlock_key_file` under `[swarm]`"
        ))),
    }
}

/// Writes the unlock key to the config's `unlock_key_file` (0600) when it names one and the
/// file does not hold it yet; `new` marks a key this run created, to be shown once.
async fn keep_unlock_key(context: &Context, manager: &str, new: bool) -> Result<(), StepError> {
    let key = unlock_key(context, manager).await?;
    let path = context.unlock_key_path();
    let mut written_to = None;
    if let Some(path) = &path {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current.trim() != key {
            if let Err(error) = crate::state::write_atomically(path, format!("{key}\n").as_bytes())
            {
                return Err(keep_unlock_key_elsewhere(
                    context, manager, key, path, &error,
                ));
            }
            written_to = Some(path.clone());
        }
    }
    if (new || written_to.is_some())
        && let Ok(mut shown) = context.new_unlock_key.lock()
    {
        *shown = Some(NewUnlockKey {
            key,
            written_to,
            not_written_to: None,
        });
    }
    Ok(())
}

/// Records the node id of a node change's host in the run's state, when it was not yet.
async fn remember_node_id(context: &Context, change: &Change) -> Result<(), StepError> {
    if context.recorded_id(&change.address).is_some() {
        return Ok(());
    }
    let id = node_id(context, change).await?;
    if let Ok(mut state) = context.state.lock()
        && let Some(resource) = state.resource_mut(&change.address)
    {
        resource.remote_id = Some(id);
    }
    Ok(())
}

/// `unlock_key_file` could not be written (its folder went away or became read-only after
/// `validate`): the key is kept where it cannot be lost, in the fallback file beside the state,
/// or shown on the terminal once the apply ends, and nothing more starts. Returns the step's
/// error, which says where the key is.
fn keep_unlock_key_elsewhere(
    context: &Context,
    manager: &str,
    key: String,
    path: &std::path::Path,
    error: &crate::state::StateError,
) -> StepError {
    context.halt();
    let cause = |error: &crate::state::StateError| {
        std::error::Error::source(error).map_or_else(|| error.to_string(), ToString::to_string)
    };
    let failed = format!(
        "the unlock key could not be written to `{}`: {}",
        path.display(),
        cause(error)
    );
    let kept = match &context.unlock_key_fallback {
        Some(fallback) => {
            match crate::state::write_atomically(fallback, format!("{key}\n").as_bytes()) {
                Ok(()) => Ok(Some(fallback.clone())),
                Err(fallback_error) => Err(format!(
                    "{failed}; nor to `{}`: {}; the apply stops here\nhint: read the key on a terminal with `swarmform exec --hosts {manager} -- docker swarm unlock-key -q` and keep it safe, make `{}` writable, then apply again",
                    fallback.display(),
                    cause(&fallback_error),
                    path.display()
                )),
            }
        }
        None => Ok(None),
    };
    let message = match &kept {
        Ok(Some(fallback)) => format!(
            "{failed}; it was written to `{}` (mode 0600) instead, and the apply stops here\nhint: move it to `{}` once that folder exists and is writable (or keep it safe elsewhere), then apply again",
            fallback.display(),
            path.display()
        ),
        Ok(None) => format!(
            "{failed}; it is shown below, once, and the apply stops here\nhint: keep it safe, make the folder of `{}` writable, then apply again",
            path.display()
        ),
        Err(message) => message.clone(),
    };
    if let (Ok(written_to), Ok(mut shown)) = (kept, context.new_unlock_key.lock()) {
        *shown = Some(NewUnlockKey {
            key,
            written_to,
            not_written_to: Some(path.to_owned()),
        });
    }
    StepError::Refused(message)
}

/// The node id of a node change's host: recorded, or asked of the host itself.
async fn node_id(context: &Context, change: &Change) -> Result<String, StepError> {
    if let Some(id) = context.recorded_id(&change.address) {
        return Ok(id);
    }
    let host = change
        .host
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    let info = facts::swarm_info(context, &host).await?;
    if info.node_id.is_empty() {
        return Err(StepError::Refused(format!(
            "`{host}` is not part of the swarm"
        )));
    }
    Ok(info.node_id)
}

/// `docker swarm join` with a token read live from a manager and never stored or printed.
async fn join(
    context: &Context,
    change: &Change,
    role: &str,
    via: &str,
) -> Result<String, StepError> {
    let host = change.host.clone().unwrap_or_default();
    let manager = manager_info(context, via).await?;
    let mine = facts::swarm_info(context, &host).await?;
    if mine.local_node_state == "active" {
        // A worker's `docker info` has no cluster id: ask the manager whether it knows the node.
        let same_swarm = if mine.cluster_id.is_empty() {
            let inspect = Script::new(
                docker(&["node", "inspect", "--format", "{{json .ID}}"]).arg(mine.node_id.clone()),
            );
            context.run(via, &inspect).await?.success()
        } else {
            mine.cluster_id == manager.cluster_id
        };
        if same_swarm {
            // Joined by an interrupted run: adopt, then fix the role below if needed.
            if (role == "manager") != mine.control_available {
                let verb = if role == "manager" {
                    "promote"
                } else {
                    "demote"
                };
                context
                    .check(
                        via,
                        &Script::new(docker(&["node", verb]).arg(mine.node_id.clone())),
                        None,
                    )
                    .await?;
            }
            return Ok(mine.node_id);
        }
        return Err(StepError::Refused(format!(
            "`{host}` is already part of another swarm{}; leave it first (`docker swarm leave --force` on {host})",
            if mine.cluster_id.is_empty() {
                String::new()
            } else {
                format!(" (cluster {})", mine.cluster_id)
            }
        )));
    }
    let token = join_token(context, via, role).await?;
    let manager_address = node_setting(context, via, "advertise_addr").unwrap_or_default();
    let manager_address = if manager_address.contains(':') {
        manager_address
    } else {
        format!("{manager_address}:{}", listen_port(context))
    };
    let mut command = docker(&["swarm", "join", "--token"]).secret_arg(token);
    if let Some(advertise) = node_setting(context, &host, "advertise_addr") {
        command = command.arg("--advertise-addr").arg(advertise);
    }
    if let Some(data_path) = node_setting(context, &host, "data_path_addr") {
        command = command.arg("--data-path-addr").arg(data_path);
    }
    command = command.arg(manager_address);
    context
        .check(&host, &Script::new(command), Some("the node must reach the manager on port 2377/tcp, and 7946/tcp+udp and 4789/udp between nodes"))
        .await?;
    let joined = facts::swarm_info(context, &host).await?;
    Ok(joined.node_id)
}

/// A manager's swarm facts, read once per run (every join asks the same manager).
async fn manager_info(context: &Context, via: &str) -> Result<SwarmInfo, StepError> {
    if let Some(info) = context
        .managers
        .lock()
        .ok()
        .and_then(|managers| managers.get(via).cloned())
    {
        return Ok(info);
    }
    let info = facts::swarm_info(context, via).await?;
    if let Ok(mut managers) = context.managers.lock() {
        managers.insert(via.to_owned(), info.clone());
    }
    Ok(info)
}

/// A join token, read live from a manager once per run and role; scrubbed from all output.
async fn join_token(context: &Context, via: &str, role: &str) -> Result<String, StepError> {
    let key = (via.to_owned(), role.to_owned());
    if let Some(token) = context
        .tokens
        .lock()
        .ok()
        .and_then(|tokens| tokens.get(&key).cloned())
    {
        return Ok(token);
    }
    let script = Script::new(docker(&["swarm", "join-token", "-q", role]));
    let output = context.check(via, &script, None).await?;
    let token = output.stdout_text().trim().to_owned();
    if token.is_empty() {
        return Err(StepError::Unexpected {
            host: via.to_owned(),
            command: script.display(),
            detail: "no token".to_owned(),
        });
    }
    context.remember_secret(&token);
    if let Ok(mut tokens) = context.tokens.lock() {
        tokens.insert(key, token.clone());
    }
    Ok(token)
}

/// Labels with replace semantics: keys not in the config are removed.
async fn set_labels(context: &Context, change: &Change, via: &str) -> Result<(), StepError> {
    let id = node_id(context, change).await?;
    let inspect = context
        .check(
            via,
            &Script::new(
                docker(&["node", "inspect", "--format", "{{json .Spec.Labels}}"]).arg(id.clone()),
            ),
            None,
        )
        .await?;
    let current: BTreeMap<String, String> =
        serde_json::from_str(inspect.stdout_text().trim()).unwrap_or_default();
    let mut wanted: BTreeMap<String, String> = attribute(change, "labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    // swarmform's own: which resource the node is, and which state records it.
    wanted.extend(ownership::labels(context, &change.address));
    if current == wanted {
        return Ok(());
    }
    let mut command = docker(&["node", "update"]);
    for key in current.keys().filter(|key| !wanted.contains_key(*key)) {
        command = command.arg("--label-rm").arg(key.clone());
    }
    for (key, value) in &wanted {
        if current.get(key) != Some(value) {
            command = command.arg("--label-add").arg(format!("{key}={value}"));
        }
    }
    context
        .check(via, &Script::new(command.arg(id)), None)
        .await?;
    Ok(())
}

/// Decommission: drain the node, wait until nothing runs on it any more, then until the
/// services that ran there have their replicas running elsewhere (or say why they cannot).
async fn drain(context: &Context, change: &Change, via: &str) -> Result<(), StepError> {
    let id = node_id(context, change).await?;
    let name = change.address.name.clone();
    let Some(moved) = drain_node(context, via, &id, &name).await? else {
        return Ok(());
    };
    if moved.is_empty() {
        return Ok(());
    }
    let services = Script::new(docker(&["service", "ls"]).args(json_format()));
    context
        .wait(
            &format!("the tasks that ran on `{name}` to run elsewhere"),
            || async {
                let output = context.check(via, &services, None).await?;
                let mut short = Vec::new();
                for service in json_lines(&output.stdout_text()) {
                    let service_name = service
                        .get("Name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let replicas = service
                        .get("Replicas")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if moved.contains(service_name)
                        && let Some((running, wanted)) = replicas.split_once('/')
                        && running != wanted.split_whitespace().next().unwrap_or(wanted)
                    {
                        short.push(format!("{service_name} {replicas}"));
                    }
                }
                if short.is_empty() {
                    return Ok(Ok(()));
                }
                Ok(Err(format!(
                    "{}{}",
                    short.join(", "),
                    task_errors(context, via, &moved).await?
                )))
            },
        )
        .await
}

/// `docker node update --availability drain`, then waits until no task still runs on the node.
/// Returns the services that had tasks running there, or `None` when the node is not in the
/// swarm (nothing to drain).
async fn drain_node(
    context: &Context,
    via: &str,
    id: &str,
    name: &str,
) -> Result<Option<std::collections::BTreeSet<String>>, StepError> {
    // Every task Docker lists for the node: those meant to run say which services must run
    // elsewhere, and a node with no live container needs no wait at all.
    let all = Script::new(
        docker(&["node", "ps"])
            .arg(id.to_owned())
            .args(json_format()),
    );
    let before = json_lines(&context.run(via, &all).await?.stdout_text());
    let services: std::collections::BTreeSet<String> = before
        .iter()
        .filter(|task| {
            matches!(
                task.get("DesiredState").and_then(Value::as_str),
                Some("Running" | "Ready")
            )
        })
        .filter_map(|task| task.get("Name").and_then(Value::as_str))
        .filter_map(|task| task.rsplit_once('.').map(|(service, _)| service.to_owned()))
        .collect();
    let live_before = live_tasks(&before);
    let update =
        Script::new(docker(&["node", "update", "--availability", "drain"]).arg(id.to_owned()));
    let output = context.run(via, &update).await?;
    if !output.success() {
        if is_not_found(&output.stderr_text()) {
            return Ok(None);
        }
        return Err(context.failure(via, &update, &output, None));
    }
    if live_before == 0 {
        // Nothing ran there, and a drained node is given nothing new.
        return Ok(Some(services));
    }
    // Desired state flips to shutdown at once; wait for the containers themselves to stop.
    context
        .wait(&format!("the tasks on `{name}` to stop"), || async {
            let output = context.check(via, &all, None).await?;
            let running = live_tasks(&json_lines(&output.stdout_text()));
            Ok(if running == 0 {
                Ok(())
            } else {
                Err(format!("{running} tasks still running"))
            })
        })
        .await?;
    Ok(Some(services))
}

/// How many of `docker node ps`'s tasks have a container that runs or is about to.
fn live_tasks(tasks: &[Value]) -> usize {
    tasks
        .iter()
        .filter(|task| {
            let state = task
                .get("CurrentState")
                .and_then(Value::as_str)
                .unwrap_or_default();
            ["Running", "Starting", "Preparing", "Assigned", "Accepted"]
                .iter()
                .any(|live| state.starts_with(live))
        })
        .count()
}

/// The errors of the tasks of `services` that are not running, for a message: `; web.2: no
/// suitable node (...)`.
async fn task_errors(
    context: &Context,
    via: &str,
    services: &std::collections::BTreeSet<String>,
) -> Result<String, StepError> {
    let mut out = String::new();
    for service in services {
        let script = Script::new(
            docker(&[
                "service",
                "ps",
                "--no-trunc",
                "--filter",
                "desired-state=running",
            ])
            .arg(service.clone())
            .args(json_format()),
        );
        let output = context.run(via, &script).await?;
        for task in json_lines(&output.stdout_text()) {
            let error = task
                .get("Error")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !error.is_empty() {
                let task_name = task.get("Name").and_then(Value::as_str).unwrap_or_default();
                out.push_str(&format!("; {task_name}: {error}"));
            }
        }
    }
    Ok(out)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Before a dockerd restart: a node in the swarm is drained (through itself when it is a
/// manager, else through a manager that answers) so its tasks stop cleanly instead of being
/// cut off and restarted with the daemon. Returns what `after_restart` needs to put it back.
async fn before_restart(
    context: &Context,
    host: &str,
) -> Result<Option<(String, String, String)>, StepError> {
    let address = Address::new(Kind::Node, host);
    let Some((id, role, availability)) = context.state.lock().ok().and_then(|state| {
        state.resource(&address).map(|node| {
            let text = |name: &str| {
                node.attributes
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (node.remote_id.clone(), text("role"), text("availability"))
        })
    }) else {
        return Ok(None);
    };
    if availability != "active" {
        return Ok(None);
    }
    // The bootstrap manager's node id is not recorded (it came with `swarm init`): ask it.
    let id = match id {
        Some(id) => id,
        None => facts::swarm_info(context, host).await?.node_id,
    };
    if id.is_empty() {
        return Ok(None);
    }
    let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
    let answers = role == "manager" && context.run(host, &nodes).await?.success();
    let via = if answers {
        host.to_owned()
    } else {
        match answering_manager(context, host).await? {
            Some(manager) => manager,
            None => return Ok(None),
        }
    };
    if drain_node(context, &via, &id, host).await?.is_none() {
        return Ok(None);
    }
    Ok(Some((via, id, availability)))
}

/// After a dockerd restart: once the node is ready again, its availability goes back.
async fn after_restart(
    context: &Context,
    host: &str,
    (via, id, availability): (String, String, String),
) -> Result<(), StepError> {
    let inspect = Script::new(
        docker(&["node", "inspect", "--format", "{{json .Status.State}}"]).arg(id.clone()),
    );
    context
        .wait(&format!("`{host}` to be ready"), || async {
            let output = context.run(&via, &inspect).await?;
            let state = output.stdout_text().trim().trim_matches('"').to_owned();
            Ok(if output.success() && state == "ready" {
                Ok(())
            } else {
                Err(format!("state {state}"))
            })
        })
        .await?;
    context
        .check(
            &via,
            &Script::new(
                docker(&["node", "update", "--availability"])
                    .arg(availability)
                    .arg(id),
            ),
            None,
        )
        .await?;
    Ok(())
}

/// A manager recorded in the state, other than `except`, whose swarm answers.
async fn answering_manager(context: &Context, except: &str) -> Result<Option<String>, StepError> {
    let managers: Vec<String> = context
        .state
        .lock()
        .map(|state| {
            state
                .resources
                .iter()
                .filter(|resource| resource.is_manager() && !resource.is_ghost())
                .map(|resource| resource.address.name.clone())
                .filter(|name| name != except)
                .collect()
        })
        .unwrap_or_default();
    let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
    for manager in managers {
        if let Ok(output) = context.run(&manager, &nodes).await
            && output.success()
        {
            return Ok(Some(manager));
        }
    }
    Ok(None)
}

async fn node_rm(
    context: &Context,
    change: &Change,
    via: &str,
    force: bool,
) -> Result<(), StepError> {
    let id = node_id(context, change).await?;
    let inspect = Script::new(
        docker(&["node", "inspect", "--format", "{{json .Status.State}}"]).arg(id.clone()),
    );
    if !force && has_left(context, change, &id).await {
        // Its host is out of the swarm (the Leave step before this one, or an earlier run):
        // the entry goes at once. Managers would show it Down only once they miss its
        // heartbeats (15 s with Docker's defaults), and `docker node rm` refuses it until then.
        return remove_node_entry(context, via, &id, true).await;
    }
    if !force {
        // A node that just left shows as down after a heartbeat or two.
        let gone = context
            .wait(
                &format!("`{}` to show as down", change.address.name),
                || async {
                    let output = context.run(via, &inspect).await?;
                    if !output.success() {
                        return Ok(Ok(false));
                    }
                    let state = output.stdout_text().trim().trim_matches('"').to_owned();
                    Ok(if state == "down" {
                        Ok(true)
                    } else {
                        Err(format!("state {state}"))
                    })
                },
            )
            .await?;
        if !gone {
            return Ok(());
        }
    }
    remove_node_entry(context, via, &id, force).await
}

/// `docker node rm [--force] ID`; a node already gone is fine.
async fn remove_node_entry(
    context: &Context,
    via: &str,
    id: &str,
    force: bool,
) -> Result<(), StepError> {
    let mut command = docker(&["node", "rm"]);
    if force {
        command = command.arg("--force");
    }
    let script = Script::new(command.arg(id.to_owned()));
    let output = context.run(via, &script).await?;
    if !output.success() && !is_not_found(&output.stderr_text()) {
        return Err(context.failure(via, &script, &output, None));
    }
    Ok(())
}

/// Whether the node change's host says it is no longer node `id` (out of any swarm, or in
/// again as another node). A host that does not answer has not been seen to leave.
async fn has_left(context: &Context, change: &Change, id: &str) -> bool {
    let host = change
        .host
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    facts::swarm_info(context, &host)
        .await
        .is_ok_and(|info| info.node_id != id)
}

async fn docker_create(
    context: &Context,
    change: &Change,
    object: &str,
    name: &str,
    via: &str,
) -> Result<String, StepError> {
    let labels: Vec<String> = attribute(change, "labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let labels: Vec<String> = labels
        .into_iter()
        .chain(ownership::label_words(context, &change.address))
        .collect();
    if object == "network" {
        let inspect = Script::new(
            docker(&["network", "inspect", "--format", "{{json .Id}}"]).arg(name.to_owned()),
        );
        let existing = context.run(via, &inspect).await?;
        if existing.success() {
            return Ok(existing.stdout_text().trim().trim_matches('"').to_owned());
        }
        let mut command = docker(&["network", "create", "--driver", "overlay"]);
        for (attribute_name, flag) in [
            ("subnet", "--subnet"),
            ("gateway", "--gateway"),
            ("ip_range", "--ip-range"),
        ] {
            if let Some(value) = text_attribute(change, attribute_name) {
                command = command.arg(flag).arg(value);
            }
        }
        if attribute(change, "attachable").and_then(Value::as_bool) == Some(true) {
            command = command.arg("--attachable");
        }
        if attribute(change, "encrypted").and_then(Value::as_bool) == Some(true) {
            command = command.args(["--opt", "encrypted"]);
        }
        for label in labels {
            command = command.arg("--label").arg(label);
        }
        let output = context
            .check(via, &Script::new(command.arg(name.to_owned())), None)
            .await?;
        return Ok(output.stdout_text().trim().to_owned());
    }
    let content = context
        .resource(&change.address)
        .and_then(|resource| resource.payload("content"))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| StepError::Refused(format!("`{}` has no content", change.address)))?;
    let mut command = docker(&[object, "create"]);
    for label in labels {
        command = command.arg("--label").arg(label);
    }
    let script = Script::new(command.arg(name.to_owned()).arg("-")).stdin(content);
    let output = context.run(via, &script).await?;
    if output.success() {
        return Ok(output.stdout_text().trim().to_owned());
    }
    if output.stderr_text().contains("already exists") {
        // The name carries the content hash: the existing object has this content.
        let inspect = context
            .check(
                via,
                &Script::new(
                    docker(&[object, "inspect", "--format", "{{json .ID}}"]).arg(name.to_owned()),
                ),
                None,
            )
            .await?;
        return Ok(inspect.stdout_text().trim().trim_matches('"').to_owned());
    }
    Err(context.failure(via, &script, &output, None))
}

/// The registry: its config and secrets as swarm objects (versioned by hash), then the
/// service, created or updated.
async fn registry_deploy(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<String, StepError> {
    let resource = context.configured(&change.address)?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    let node = text_attribute(change, "node").unwrap_or_default();
    let port = attribute(change, "port")
        .and_then(Value::as_u64)
        .unwrap_or(5000);
    let image = text_attribute(change, "image").unwrap_or_else(|| "registry:2".to_owned());
    let volume = text_attribute(change, "volume").unwrap_or_else(|| format!("{name}-data"));
    let mut mounts = Vec::new();
    let mut secrets = Vec::new();
    for (object, object_name, content, target) in ownership::registry_objects(resource, &name) {
        ensure_object(context, change, via, object, &object_name, content).await?;
        let mount = format!("source={object_name},target={target}");
        if object == "config" {
            mounts.push(mount);
        } else {
            secrets.push(mount);
        }
    }
    // A registry's config sits at a fixed path in the container, and Docker cannot swap a
    // config in place: an existing service is removed and created again (the volume stays).
    let service = Script::new(docker(&["service", "rm"]).arg(name.clone()));
    let removed = context.run(via, &service).await?;
    if !removed.success() && !is_not_found(&removed.stderr_text()) {
        return Err(context.failure(via, &service, &removed, None));
    }
    let mut command = docker(&["service", "create", "--detach=false", "--name"])
        .arg(name.clone())
        .arg("--constraint")
        .arg(format!(
            "node.hostname=={}",
            hostname_of(context, &node).await?
        ))
        .arg("--publish")
        .arg(format!("mode=host,target={port},published={port}"))
        .arg("--mount")
        .arg(format!(
            "type=volume,source={volume},target=/var/lib/registry"
        ));
    for label in ownership::label_words(context, &change.address) {
        command = command.arg("--label").arg(label);
    }
    for mount in &mounts {
        command = command.arg("--config").arg(mount.clone());
    }
    for secret in &secrets {
        command = command.arg("--secret").arg(secret.clone());
    }
    let command = command.arg(image);
    let output = context.check(via, &Script::new(command), Some("the registry image must be loadable on its node: `swarmform image load` it there first")).await?;
    let id = output
        .stdout_text()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(id)
}

/// The hostname Docker knows a host by (for placement constraints).
async fn hostname_of(context: &Context, host: &str) -> Result<String, StepError> {
    let output = context
        .check(
            host,
            &Script::new(docker(&["info", "--format", "{{json .Name}}"])),
            None,
        )
        .await?;
    Ok(output.stdout_text().trim().trim_matches('"').to_owned())
}

/// A registry's secret or config, labelled as the registry's.
async fn ensure_object(
    context: &Context,
    change: &Change,
    via: &str,
    object: &str,
    name: &str,
    content: Vec<u8>,
) -> Result<(), StepError> {
    let mut command = docker(&[object, "create"]);
    for label in ownership::label_words(context, &change.address) {
        command = command.arg("--label").arg(label);
    }
    let script = Script::new(command.arg(name.to_owned()).arg("-")).stdin(content);
    let output = context.run(via, &script).await?;
    if output.success() || output.stderr_text().contains("already exists") {
        Ok(())
    } else {
        Err(context.failure(via, &script, &output, None))
    }
}
