//! What every step runs with: the run's [`Context`] (the pool, the desired config, the state
//! being written, the reporter, the values scrubbed from output and what this run read once),
//! and the small helpers the kinds share (docker command lines, Docker's ways of refusing).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use crate::address::{Address, Kind};
use crate::config::desired::Desired;
use crate::report::Reporter;
use crate::resource::Resource;
use crate::ssh::{Output, Pool, RemoteCommand, Script};
use crate::state::State;

use super::{StepError, SwarmInfo};

/// How long cluster convergence may take before a step gives up.
pub(super) const CONVERGE_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a wait polls, unless the run says otherwise (the simulator's tests poll faster).
pub(super) const POLL: Duration = Duration::from_millis(500);

/// Everything a step needs. Shared by all running vertices.
pub struct Context {
    pub pool: Arc<Pool>,
    /// What the steps share of the config, read once.
    pub settings: Settings,
    pub desired: Arc<Desired>,
    pub state: Arc<Mutex<State>>,
    pub reporter: Arc<dyn Reporter>,
    /// The config's sensitive values and the join tokens and unlock keys read so far: what
    /// `daemon.json` read live is redacted with before it is compared and recorded (data);
    /// messages are scrubbed with the run-wide registry instead.
    pub sensitive: Mutex<Vec<String>>,
    /// How often to poll while waiting (shorter in tests against the simulator).
    pub poll: Duration,
    /// Join tokens read during this run, per (manager, role): read once, never stored.
    pub(super) tokens: ReadOnce<(String, String), String>,
    /// What managers said about their swarm during this run, for the joins through them.
    pub(super) managers: ReadOnce<String, SwarmInfo>,
    /// What each host last said about its swarm membership during this run (the facts the
    /// plan read, then every `docker info` a step read), forgotten by the steps that change
    /// it; see `facts::membership`.
    pub(super) membership: Mutex<BTreeMap<String, SwarmInfo>>,
    /// The node ids this run's `docker swarm join`s made: new nodes, with no labels yet.
    pub(super) joined: Mutex<std::collections::BTreeSet<String>>,
    /// The hosts whose dockerd answered the facts this run's plan read a moment ago (none for
    /// a saved plan, whose facts are older), so no step asks them again, each with the major
    /// version of the Docker it reported.
    pub(super) docker_answering: BTreeMap<String, Option<u32>>,
    /// The swarm's unlock key once read during this run; never stored in the state.
    pub(super) unlock_key: Mutex<Option<String>>,
    /// Set when this run locked the swarm (autolock turned on): the key, shown once.
    pub(super) new_unlock_key: Mutex<Option<NewUnlockKey>>,
    /// Where a new unlock key goes when `unlock_key_file` cannot be written and the key cannot
    /// be shown on a terminal (beside the state); `None` when it will be shown.
    pub(super) unlock_key_fallback: Option<std::path::PathBuf>,
    /// Set by a step after which nothing else may start (an unlock key kept elsewhere).
    halted: std::sync::atomic::AtomicBool,
    /// Reads made ahead of the steps that want them ([`Context::read_ahead`]), by host and
    /// command line: each answered once, then gone; all forgotten when the refresh ends.
    reads: Mutex<BTreeMap<(String, String), Output>>,
}

/// Values a run reads once per key however many steps want them at the same moment
/// (single-flight): the first caller reads, the others wait for its answer. A failed read is
/// not kept, so the next caller tries again.
pub(crate) struct ReadOnce<K, V> {
    cells: Mutex<BTreeMap<K, Arc<tokio::sync::OnceCell<V>>>>,
}

impl<K, V> Default for ReadOnce<K, V> {
    fn default() -> Self {
        ReadOnce {
            cells: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Ord + Clone, V: Clone> ReadOnce<K, V> {
    /// The value for `key`: read by `read` unless this run has it or is reading it.
    pub(crate) async fn get<E, F, Fut>(&self, key: &K, read: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut cells = self
                .cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(cells.entry(key.clone()).or_default())
        };
        cell.get_or_try_init(read).await.cloned()
    }

    /// Forgets every value (the join tokens once rotated).
    pub(crate) fn clear(&self) {
        self.cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
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
/// The run-wide settings the swarm's steps share, read once from the config when the run
/// starts: what a step needs of other resources (the manager a node joins through, the swarm's
/// port) without looking them up by address.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `[swarm] adopt`.
    pub adopt: bool,
    /// Where `[swarm] unlock_key_file` points on this machine, when the config names one.
    pub unlock_key_file: Option<std::path::PathBuf>,
    /// The swarm's management port (`listen_addr`'s, else Docker's 2377).
    pub listen_port: String,
    /// Each configured host's `advertise_addr` and `data_path_addr`.
    pub advertise: BTreeMap<String, String>,
    pub data_path: BTreeMap<String, String>,
}

impl Settings {
    fn of(desired: &Desired) -> Settings {
        let swarm = desired.resource(&Address::swarm());
        let text = |resource: &Resource, name: &str| {
            resource
                .attributes
                .get(name)
                .and_then(|attribute| attribute.value.as_str())
                .map(str::to_owned)
        };
        let nodes = || {
            desired
                .resources
                .iter()
                .filter(|resource| resource.address.kind == Kind::Node)
        };
        let per_node = |name: &str| {
            nodes()
                .filter_map(|node| Some((node.address.name.clone(), text(node, name)?)))
                .collect()
        };
        Settings {
            adopt: desired.adopt,
            unlock_key_file: swarm
                .and_then(|swarm| swarm.payload("unlock_key_file"))
                .map(|bytes| std::path::PathBuf::from(String::from_utf8_lossy(bytes).into_owned())),
            listen_port: swarm
                .and_then(|swarm| text(swarm, "listen_addr"))
                .and_then(|listen| listen.rsplit_once(':').map(|(_, port)| port.to_owned()))
                .unwrap_or_else(|| "2377".to_owned()),
            advertise: per_node("advertise_addr"),
            data_path: per_node("data_path_addr"),
        }
    }
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
            settings: Settings::of(&desired),
            pool,
            desired,
            state,
            reporter,
            sensitive: Mutex::new(sensitive),
            poll: POLL,
            tokens: ReadOnce::default(),
            managers: ReadOnce::default(),
            membership: Mutex::new(BTreeMap::new()),
            docker_answering: BTreeMap::new(),
            joined: Mutex::new(std::collections::BTreeSet::new()),
            unlock_key: Mutex::new(None),
            new_unlock_key: Mutex::new(None),
            unlock_key_fallback: None,
            halted: std::sync::atomic::AtomicBool::new(false),
            reads: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs several reads on `host` in one round trip, each between two marker lines, and
    /// keeps what each that succeeded printed for the step that runs the same command line
    /// ([`Context::run`] takes it instead of running it). What the reads printed, in their
    /// order; `None` for one that failed (it runs again, alone, when a step wants it, and
    /// fails there with its own message).
    pub(super) async fn read_ahead(
        &self,
        host: &str,
        reads: &[RemoteCommand],
    ) -> Result<Vec<Option<Output>>, StepError> {
        let marker = |index: usize, end: &str| format!("::swarmform-read-{index}::{end}");
        let echo = |index: usize, end: &str| RemoteCommand::new("echo").arg(marker(index, end));
        let mut sections: Option<Script> = None;
        for (index, read) in reads.iter().enumerate() {
            let started = match sections {
                None => Script::new(echo(index, "start")),
                Some(script) => script.and(echo(index, "start")),
            };
            sections = Some(
                started
                    .and(read.clone())
                    .and(echo(index, "ok"))
                    .or(echo(index, "failed")),
            );
        }
        let Some(script) = sections else {
            return Ok(Vec::new());
        };
        let output = self.pool.run(host, &script).await?;
        let stdout = output.stdout_text();
        let mut answers = Vec::with_capacity(reads.len());
        let mut reads_kept = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, read) in reads.iter().enumerate() {
            let start = format!("{}\n", marker(index, "start"));
            let ok = marker(index, "ok");
            let answer = stdout
                .find(&start)
                .map(|at| &stdout[at + start.len()..])
                .and_then(|text| text.find(&ok).map(|end| &text[..end]))
                .map(|text| Output {
                    exit_status: 0,
                    stdout: text.as_bytes().to_vec(),
                    stderr: Vec::new(),
                });
            if let Some(answer) = &answer {
                let line = Script::new(read.clone()).display();
                reads_kept.insert((host.to_owned(), line), answer.clone());
            }
            answers.push(answer);
        }
        Ok(answers)
    }

    /// What [`Context::read_ahead`] read of `script` on `host`, taken (once).
    pub(super) fn take_read(&self, host: &str, script: &Script) -> Option<Output> {
        if script.stdin_bytes().is_some() {
            return None;
        }
        self.reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(host.to_owned(), script.display()))
    }

    /// Forgets every read made ahead: what a step reads after the refresh is read then.
    pub fn forget_reads(&self) {
        self.reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
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

    pub(super) fn halt(&self) {
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

    /// `text` (what a command printed, an error) without the run's sensitive values (every one
    /// of `sensitive` is registered, see [`crate::redact`]) nor anything shaped like a join
    /// token or unlock key.
    pub(super) fn scrub(&self, text: &str) -> String {
        scrub_swarm_secrets(&crate::redact::scrub(text))
    }

    /// A secret read from the cluster (a join token, an unlock key): scrubbed from this
    /// context's messages and registered for every output of the run.
    pub(super) fn remember_secret(&self, value: &str) {
        crate::redact::register(value);
        if let Ok(mut values) = self.sensitive.lock() {
            values.push(value.to_owned());
        }
    }

    /// Remembers what `host` said about its swarm (see `facts::membership`).
    pub(super) fn remember_membership(&self, host: &str, info: &SwarmInfo) {
        if let Ok(mut known) = self.membership.lock() {
            known.insert(host.to_owned(), info.clone());
        }
    }

    /// A node id this run's `docker swarm init` or `join` made: it has no labels to read.
    pub(super) fn remember_joined(&self, node_id: &str) {
        if let Ok(mut joined) = self.joined.lock() {
            joined.insert(node_id.to_owned());
        }
    }

    pub(super) fn known_membership(&self, host: &str) -> Option<SwarmInfo> {
        self.membership
            .lock()
            .ok()
            .and_then(|known| known.get(host).cloned())
    }

    /// The plan's facts, read by this run a moment ago: whose dockerd answers, and each
    /// host's swarm membership, known until a step changes it. (Not for a saved plan's facts,
    /// read earlier.) A worker's cluster id is the one a manager listing it gave.
    pub fn with_facts(mut self, facts: &[super::facts::HostFacts]) -> Context {
        for facts in facts {
            if facts.docker_version.is_none() {
                continue;
            }
            self.docker_answering
                .insert(facts.host.clone(), facts.docker_major());
            let Some(state) = facts.swarm else {
                continue;
            };
            self.remember_membership(
                &facts.host,
                &SwarmInfo {
                    node_id: facts.node_id.clone().unwrap_or_default(),
                    local_node_state: state.as_str().to_owned(),
                    control_available: facts.manager,
                    cluster_id: facts.cluster_id.clone().unwrap_or_default(),
                },
            );
        }
        self
    }

    /// The major version of the Docker this run's facts found on `host` (`28` of
    /// `28.5.2+dfsg4`); `None` for a saved plan's run or a host whose dockerd did not answer.
    pub(super) fn docker_major(&self, host: &str) -> Option<u32> {
        self.docker_answering.get(host).copied().flatten()
    }

    /// Whether this run's facts found dockerd answering on `host`.
    pub(super) fn docker_answered(&self, host: &str) -> bool {
        self.docker_answering.contains_key(host)
    }

    /// Forgets what the run knew of memberships when `script` may change one: `docker swarm
    /// …` (init, join, leave, unlock, update) on `host`, or a `docker node` promotion,
    /// demotion, role change or removal of any node (made through a manager, it changes
    /// another host). Labels and availability are no membership.
    fn forget_membership(&self, host: &str, script: &Script) {
        let mut swarm = false;
        let mut node = false;
        for command in script.commands() {
            let words: Vec<&str> = command.words().collect();
            match words.as_slice() {
                ["docker", "swarm", verb, ..] => {
                    swarm |= !matches!(*verb, "join-token");
                }
                ["docker", "node", verb, rest @ ..] => {
                    node |= matches!(*verb, "promote" | "demote" | "rm")
                        || *verb == "update" && rest.contains(&"--role");
                }
                _ => {}
            }
        }
        if let Ok(mut known) = self.membership.lock() {
            if node {
                known.clear();
            } else if swarm {
                known.remove(host);
            }
        }
    }

    /// Runs a script; a non-zero exit is returned, not an error.
    ///
    /// Docker refuses a request it did not process: an update whose object changed meanwhile
    /// ("update out of sequence": a node re-registering after a dockerd restart does that), or
    /// any request while the managers elect a leader. Such a refusal had no effect, so the
    /// command is sent again, for up to about 20 seconds.
    pub async fn run(&self, host: &str, script: &Script) -> Result<Output, StepError> {
        if let Some(output) = self.take_read(host, script) {
            self.reporter
                .command(host, &format!("{} (read ahead)", script.display()));
            self.reporter
                .output(host, 0, &self.scrub(&output.stdout_text()), "");
            return Ok(output);
        }
        self.forget_membership(host, script);
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

    pub(super) fn failure(
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

    pub(super) async fn wait<T, F, Fut>(&self, what: &str, mut probe: F) -> Result<T, StepError>
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

pub(super) fn docker(args: &[&str]) -> RemoteCommand {
    RemoteCommand::new("docker").args(args.iter().copied())
}

/// Refusals that mean the request was not processed, so sending it again is safe: a stale
/// object version, or no Raft leader for the moment.
pub(super) fn unprocessed(stderr: &str) -> bool {
    stderr.contains("update out of sequence")
        || stderr.contains("node lost leader status")
        || stderr.contains("does not have a leader")
}

/// Docker's ways of saying an object does not exist: `Error: No such service: X`,
/// `no such service: X`, `... not found`.
pub(super) fn is_not_found(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    lower.contains("no such ") || lower.contains("not found")
}

pub(super) fn json_format() -> [&'static str; 2] {
    ["--format", "{{json .}}"]
}

pub(super) fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}
