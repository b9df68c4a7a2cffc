//! The crash loop (issue 10): the real binary SIGKILLed at seeded points of a first apply, of a
//! change touching every kind and of a destroy, against 5 simulated hosts (3 managers). After
//! each kill the same command runs again to its end, `plan --detailed-exitcode` must find
//! nothing to do, and the simulated cluster is compared with the config and the state object
//! by object. Every mismatch is a leak, named with the seed and the kill point; the loop runs
//! every iteration and fails at the end with all of them.
//!
//! `SWARMFORM_CRASH_SEED` (default 1) and `SWARMFORM_CRASH_ITERATIONS` pick the iterations:
//! iteration `i` uses seed `SEED + i`, so `SWARMFORM_CRASH_SEED=S SWARMFORM_CRASH_ITERATIONS=1`
//! replays the kill points a report names. A seed fixes the kill point (the Nth command line
//! the hosts receive, counted by the simulator, and before or after its effect); which command
//! that is can differ between runs, since swarmform runs steps and host reads in parallel, so
//! every report line names the command the kill came at. `benches/crash_loop.sh` runs the
//! long loop.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use swarmform::address::Kind;
use swarmform::config::desired::{Desired, evaluate};
use swarmform::config::load::{Options, load};
use swarmform::config::source::Sources;
use swarmform_sim::{ClusterSnapshot, KillMoment};

use crate::support::{Run, Test};

const HOSTS: usize = 5;
const MANAGERS: usize = 3;

/// The iterations `cargo test` runs: four kills each (one per phase).
const ITERATIONS: u64 = 8;
/// The iterations of the long run (`crash_loop_long`, `benches/crash_loop.sh`).
const LONG_ITERATIONS: u64 = 200;

/// How long one swarmform run may take before it counts as hung. An uninterrupted apply of
/// this config takes a few seconds against the simulator; a step waiting for something that
/// never comes waits 300 s.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// The stack: a network, a secret and a config from the config file, and replicas.
const APP: &str = "version: \"3.8\"
services:
  app:
    image: local/busybox:1
    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]
    deploy:
      replicas: {{vars.replicas}}
    networks: [app]
    secrets: [db]
    configs: [app]
networks:
  app:
    external: true
    name: {{networks.app}}
secrets:
  db:
    external: true
    name: {{secrets.db}}
configs:
  app:
    external: true
    name: {{configs.app}}
";

/// What the config says in each version: the first apply's, then the change's.
struct Version {
    log_level: &'static str,
    motd: &'static str,
    subnet: &'static str,
    replicas: u64,
    secret: &'static str,
    config: &'static str,
}

const FIRST: Version = Version {
    log_level: "info",
    motd: "managed by swarmform\n",
    subnet: "10.0.9.0/24",
    replicas: 2,
    secret: "s3cr3t-crash-loop-1\n",
    config: "listen 8080\n",
};

/// Every kind changes: daemon.json (dockerd restarts), the file, the network's subnet (a
/// replacement), the secret's and the config's content (new versions), the replicas.
const CHANGE: Version = Version {
    log_level: "warn",
    motd: "managed by swarmform, changed\n",
    subnet: "10.0.10.0/24",
    replicas: 4,
    secret: "s3cr3t-crash-loop-2\n",
    config: "listen 8081\n",
};

impl Version {
    fn workloads(&self) -> String {
        format!(
            r#"
[daemon]
on_destroy = "revert"

[daemon.json]
log-level = "{log_level}"

[files.motd]
path = "/etc/motd"
content = {motd:?}

[networks.app]
subnet = "{subnet}"
attachable = true

[secrets.db]
file = "db.txt"

[configs.app]
file = "app.conf"

[registries.hub]
node = "node1"

[stacks.app]
template = "app.yml.hbs"
vars = {{ replicas = {replicas} }}
"#,
            log_level = self.log_level,
            motd = self.motd,
            subnet = self.subnet,
            replicas = self.replicas,
        )
    }

    /// Writes the config and the files it reads.
    fn write(&self, cluster: &Test) {
        cluster.write_workloads(&self.workloads());
        cluster.write("db.txt", self.secret);
        cluster.write("app.conf", self.config);
        cluster.write("app.yml.hbs", APP);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A first apply, killed, applied again.
    First,
    /// An apply of the change, killed, applied again.
    Change,
    /// A destroy, killed, then an apply: the cluster built again from what the kill left.
    Rebuild,
    /// A destroy, killed, destroyed again.
    Destroy,
}

impl Phase {
    /// In the order one cluster goes through them: each starts where the one before ends.
    const ALL: [Phase; 4] = [Phase::First, Phase::Change, Phase::Rebuild, Phase::Destroy];

    fn name(self) -> &'static str {
        match self {
            Phase::First => "first apply",
            Phase::Change => "change",
            Phase::Rebuild => "destroy then apply",
            Phase::Destroy => "destroy",
        }
    }

    /// The command that is killed.
    fn killed(self) -> [&'static str; 2] {
        match self {
            Phase::First | Phase::Change => APPLY,
            Phase::Rebuild | Phase::Destroy => DESTROY,
        }
    }

    /// The command run to its end after the kill.
    fn rerun(self) -> [&'static str; 2] {
        match self {
            Phase::First | Phase::Change | Phase::Rebuild => APPLY,
            Phase::Destroy => DESTROY,
        }
    }

    /// Whether the phase ends with nothing deployed.
    fn destroys(self) -> bool {
        self == Phase::Destroy
    }

    /// The config this phase runs with (after the change, the changed config stays).
    fn version(self) -> &'static Version {
        match self {
            Phase::First => &FIRST,
            Phase::Change | Phase::Rebuild | Phase::Destroy => &CHANGE,
        }
    }

    /// The uninterrupted runs that bring a fresh cluster to this phase's start.
    fn before(self) -> &'static [Phase] {
        match self {
            Phase::First => &[],
            Phase::Change => &[Phase::First],
            Phase::Rebuild | Phase::Destroy => &[Phase::First, Phase::Change],
        }
    }
}

const APPLY: [&str; 2] = ["apply", "--auto-approve"];
const DESTROY: [&str; 2] = ["destroy", "--auto-approve"];

/// A tiny xorshift64*: the kill points of a seed, with no crate for it.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // SplitMix64 of the seed, so neighbouring seeds start far apart (and never at 0).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `1..=count`.
    fn point(&mut self, count: usize) -> usize {
        1 + (self.next() % count.max(1) as u64) as usize
    }
}

/// Where one run was killed.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    seed: u64,
    phase: Phase,
    /// The command line (counted over every host from the run's start) the kill came at.
    command: usize,
    /// Commands of an uninterrupted run of the phase.
    of: usize,
    moment: KillMoment,
}

impl fmt::Display for KillPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let moment = match self.moment {
            KillMoment::BeforeEffect => "before",
            KillMoment::AfterEffect => "after",
        };
        write!(
            f,
            "seed {} {}: killed {moment} command {} of {}",
            self.seed,
            self.phase.name(),
            self.command,
            self.of
        )
    }
}

/// What one killed run led to.
struct Iteration {
    point: KillPoint,
    /// The host and command line the simulator killed the run at (none when the run was
    /// shorter than the measured one and ended first).
    killed: Option<(String, String)>,
    leaks: Vec<String>,
}

// A run SIGKILLed at any command of a first apply, of a change touching every kind or of a
// destroy leaves a cluster the same command converges from: the plan after it is empty, and
// the cluster holds exactly what the config wants and the state records.
#[test]
fn crash_loop() {
    crash_loop_of(ITERATIONS);
}

// The long run of the crash loop (`benches/crash_loop.sh`): the same loop, 200 iterations
// unless `SWARMFORM_CRASH_ITERATIONS` says otherwise.
#[test]
#[ignore = "the long crash loop: benches/crash_loop.sh"]
fn crash_loop_long() {
    crash_loop_of(LONG_ITERATIONS);
}

fn crash_loop_of(default_iterations: u64) {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or(default)
    };
    let base_seed = number("SWARMFORM_CRASH_SEED", 1);
    let iterations = number("SWARMFORM_CRASH_ITERATIONS", default_iterations);
    let started = Instant::now();

    let (lengths, mut leaks) = measure();
    eprintln!(
        "crash loop: uninterrupted, {} ({:.1}s)",
        Phase::ALL
            .iter()
            .zip(lengths)
            .map(|(phase, length)| format!("{} takes {length} commands", phase.name()))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );

    let mut results = Vec::new();
    for iteration in 0..iterations {
        let seed = base_seed + iteration;
        let mut rng = Rng::new(seed);
        // One cluster goes through the phases while each converges; a phase after one that did
        // not starts from a fresh cluster brought there without kills.
        let mut cluster: Option<Test> = None;
        for (index, phase) in Phase::ALL.into_iter().enumerate() {
            let point = KillPoint {
                seed,
                phase,
                command: rng.point(lengths[index]),
                of: lengths[index],
                moment: if rng.next().is_multiple_of(2) {
                    KillMoment::BeforeEffect
                } else {
                    KillMoment::AfterEffect
                },
            };
            let ready = match cluster.take() {
                Some(cluster) => Ok(cluster),
                None => prepared(phase),
            };
            let current = match ready {
                Ok(current) => current,
                Err(problem) => {
                    results.push(Iteration {
                        point,
                        killed: None,
                        leaks: vec![format!("setting up without kills failed: {problem}")],
                    });
                    continue;
                }
            };
            let began = Instant::now();
            let result = crash(&current, point);
            let converged = result.leaks.is_empty();
            eprintln!(
                "crash loop: {point} ({}): {} ({:.1}s)",
                match &result.killed {
                    Some((host, line)) => format!("`{}` on {host}", shortened(line)),
                    None => "the run ended before it".to_owned(),
                },
                if converged { "converged" } else { "LEAKED" },
                began.elapsed().as_secs_f64()
            );
            for leak in &result.leaks {
                eprintln!("    {leak}");
            }
            results.push(result);
            if converged {
                cluster = Some(current);
            }
        }
    }

    let total = results.len();
    let converged = results
        .iter()
        .filter(|result| result.leaks.is_empty())
        .count();
    for result in &results {
        for leak in &result.leaks {
            let at = match &result.killed {
                Some((host, line)) => format!(" (`{}` on {host})", shortened(line)),
                None => String::new(),
            };
            leaks.push(format!("{}{at}: {leak}", result.point));
        }
    }
    let report = format!(
        "crash loop: {converged} of {total} converged ({:.0}s)\n{}",
        started.elapsed().as_secs_f64(),
        leaks
            .iter()
            .map(|leak| format!("leak: {leak}\n"))
            .collect::<String>()
    );
    eprintln!("{report}");
    assert!(leaks.is_empty(), "{report}");
}

/// The commands an uninterrupted run of each phase's killed command sends, from one cluster
/// going through all of them; anything those runs leave wrong is a leak too.
fn measure() -> ([usize; 4], Vec<String>) {
    let cluster = Test::with_hosts(HOSTS, MANAGERS);
    let mut lengths = [1; 4];
    let mut leaks = Vec::new();
    for (index, phase) in Phase::ALL.into_iter().enumerate() {
        let mut found = Vec::new();
        match complete(&cluster, phase) {
            Ok(length) => lengths[index] = length.max(1),
            Err(problem) => found.push(problem),
        }
        found.extend(check(&cluster, phase));
        leaks.extend(
            found
                .into_iter()
                .map(|leak| format!("{} without a kill: {leak}", phase.name())),
        );
    }
    (lengths, leaks)
}

/// Runs `phase` without a kill: its killed command, then its re-run when that differs. The
/// commands the first sent.
fn complete(cluster: &Test, phase: Phase) -> Result<usize, String> {
    phase.version().write(cluster);
    let before = cluster.sim().command_count();
    let mut length = 0;
    let mut runs = vec![phase.killed()];
    if phase.rerun() != phase.killed() {
        runs.push(phase.rerun());
    }
    for (index, args) in runs.iter().enumerate() {
        match cluster.run_within(args, RUN_TIMEOUT) {
            Ok(ran) if ran.code() == Some(0) => {}
            Ok(ran) => return Err(failed(&args.join(" "), &ran)),
            Err(ran) => return Err(hung(&args.join(" "), &ran)),
        }
        if index == 0 {
            length = cluster.sim().command_count() - before;
        }
    }
    Ok(length)
}

/// A fresh cluster at the start of `phase`, brought there by uninterrupted runs.
fn prepared(phase: Phase) -> Result<Test, String> {
    let cluster = Test::with_hosts(HOSTS, MANAGERS);
    for earlier in phase.before() {
        complete(&cluster, *earlier).map_err(|problem| format!("{}: {problem}", earlier.name()))?;
    }
    Ok(cluster)
}

/// Kills the phase's run at `point`, runs the phase's re-run to its end and checks what is
/// left.
fn crash(cluster: &Test, point: KillPoint) -> Iteration {
    let phase = point.phase;
    phase.version().write(cluster);
    let mut leaks = Vec::new();
    let killed_args = phase.killed();
    let (killed, first) =
        cluster.run_killed_at(&killed_args, point.command, point.moment, RUN_TIMEOUT);
    if let Err(ran) = &first {
        leaks.push(hung(&format!("the killed {}", killed_args.join(" ")), ran));
    }
    let rerun = phase.rerun().join(" ");
    match cluster.run_within(&phase.rerun(), RUN_TIMEOUT) {
        Ok(ran) if ran.code() == Some(0) => {}
        Ok(ran) => leaks.push(failed(&format!("the re-run {rerun}"), &ran)),
        Err(ran) => leaks.push(hung(&format!("the re-run {rerun}"), &ran)),
    }
    let plan: &[&str] = if phase.destroys() {
        &["plan", "--destroy", "--detailed-exitcode"]
    } else {
        &["plan", "--detailed-exitcode"]
    };
    match cluster.run_within(plan, RUN_TIMEOUT) {
        Ok(ran) if ran.code() == Some(0) => {}
        Ok(ran) if ran.code() == Some(2) => leaks.push(format!(
            "`{}` still plans changes: {}",
            plan.join(" "),
            changes(&ran.stdout())
        )),
        Ok(ran) => leaks.push(failed(&plan.join(" "), &ran)),
        Err(ran) => leaks.push(hung(&plan.join(" "), &ran)),
    }
    leaks.extend(check(cluster, phase));
    Iteration {
        point,
        killed,
        leaks,
    }
}

/// A command line cut to what a report line can hold, with join tokens and unlock keys
/// scrubbed: the simulator's are not real, but a log should not teach otherwise.
fn shortened(line: &str) -> String {
    let line = swarmform::swarm::scrub_swarm_secrets(line);
    match line.char_indices().nth(90) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line,
    }
}

/// A run that exited non-zero: its exit code and its `error:` lines.
fn failed(what: &str, ran: &Run) -> String {
    let stderr = ran.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:") || line.trim_start().starts_with("Caused by"))
        .collect();
    let shown = if errors.is_empty() {
        stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
    } else {
        errors.join(" | ")
    };
    format!("`{what}` exited {:?}: {shown}", ran.code())
}

/// A run that did not end in time: its last lines.
fn hung(what: &str, ran: &Run) -> String {
    let stderr = ran.stderr();
    let last: Vec<&str> = stderr.lines().rev().take(2).collect();
    format!(
        "`{what}` did not end within {}s; last: {}",
        RUN_TIMEOUT.as_secs(),
        last.into_iter().rev().collect::<Vec<_>>().join(" | ")
    )
}

/// The change lines of a plan (`+ network.app`, `~ node.node2`, ...).
fn changes(plan: &str) -> String {
    let lines: Vec<&str> = plan
        .lines()
        .map(str::trim)
        .filter(|line| {
            ["+ ", "- ", "~ ", "-/+ ", "+/- "]
                .iter()
                .any(|prefix| line.starts_with(prefix))
                && !line.contains(" = ")
        })
        .collect();
    if lines.is_empty() {
        plan.lines().take(3).collect::<Vec<_>>().join(" | ")
    } else {
        lines.join(", ")
    }
}

/// What the config of a version wants, read through swarmform's own evaluation (Docker names
/// of versioned secrets and configs included).
fn desired(cluster: &Test) -> Desired {
    let options = Options {
        path: cluster.path("swarmform.toml"),
        ..Options::default()
    };
    let mut sources = Sources::default();
    let desired =
        load(&options, &mut sources).and_then(|loaded| evaluate(&loaded.config, &mut sources));
    match desired {
        Ok(desired) => desired,
        Err(diagnostics) => {
            let rendered: Vec<String> = diagnostics
                .iter()
                .map(|diagnostic| diagnostic.render(&sources, false))
                .collect();
            panic!("the config does not evaluate:\n{}", rendered.join("\n"));
        }
    }
}

/// Every difference between the simulated cluster, the config and the state after `phase`
/// converged.
fn check(cluster: &Test, phase: Phase) -> Vec<String> {
    let snapshot = cluster.snapshot();
    let state: Value = match serde_json::from_str(&cluster.state_text()) {
        Ok(state) => state,
        Err(error) => return vec![format!("the state does not parse: {error}")],
    };
    let recorded: Vec<&Value> = state["resources"]
        .as_array()
        .map(|resources| resources.iter().collect())
        .unwrap_or_default();
    if phase.destroys() {
        check_destroyed(&snapshot, &recorded)
    } else {
        check_applied(&snapshot, &desired(cluster), &recorded)
    }
}

fn names<'a>(names: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    names.cloned().collect()
}

/// Names in `live` the config does not want, and names it wants that `live` lacks.
fn compare_set(what: &str, wanted: &BTreeSet<String>, live: &BTreeSet<String>) -> Vec<String> {
    let mut leaks = Vec::new();
    for extra in live.difference(wanted) {
        leaks.push(format!(
            "{what} `{extra}` exists but the config does not want it"
        ));
    }
    for missing in wanted.difference(live) {
        leaks.push(format!("{what} `{missing}` is missing"));
    }
    leaks
}

fn check_applied(
    snapshot: &ClusterSnapshot,
    desired: &Desired,
    recorded: &[&Value],
) -> Vec<String> {
    let mut leaks = Vec::new();
    let Some(swarm) = snapshot.swarm() else {
        return vec![format!(
            "{} swarms instead of one: {:?}",
            snapshot.swarms.len(),
            snapshot
                .swarms
                .iter()
                .map(|swarm| &swarm.id)
                .collect::<Vec<_>>()
        )];
    };
    let of_kind = |kind: Kind| {
        desired
            .resources
            .iter()
            .filter(move |resource| resource.address.kind == kind)
    };
    let attribute = |resource: &swarmform::resource::Resource, name: &str| {
        resource
            .attributes
            .get(name)
            .map(|attribute| attribute.value.clone())
            .unwrap_or(Value::Null)
    };

    // Nodes: every configured host with its role, and nothing else.
    let wanted_nodes: BTreeMap<String, String> = of_kind(Kind::Node)
        .map(|node| {
            (
                node.address.name.clone(),
                attribute(node, "role")
                    .as_str()
                    .unwrap_or("worker")
                    .to_owned(),
            )
        })
        .collect();
    let managers = wanted_nodes
        .values()
        .filter(|role| *role == "manager")
        .count();
    if swarm.nodes.len() != wanted_nodes.len() || swarm.managers.len() != managers {
        leaks.push(format!(
            "the swarm lists {} nodes ({} managers), the config has {} ({managers}): {}",
            swarm.nodes.len(),
            swarm.managers.len(),
            wanted_nodes.len(),
            swarm
                .nodes
                .iter()
                .map(|node| format!("{} {} {}", node.hostname, node.role, node.state))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (host, role) in &wanted_nodes {
        match swarm.node(host) {
            None => leaks.push(format!("node `{host}` is not in the swarm")),
            Some(node) => {
                if &node.role != role {
                    leaks.push(format!(
                        "node `{host}` is a {} instead of a {role}",
                        node.role
                    ));
                }
                if node.state != "ready" || node.availability != "active" {
                    leaks.push(format!(
                        "node `{host}` is {} and {}",
                        node.state, node.availability
                    ));
                }
            }
        }
        let member = snapshot.host(host).and_then(|host| host.swarm_id.as_ref());
        if member != Some(&swarm.id) {
            leaks.push(format!(
                "host `{host}` is not a member of the swarm ({member:?})"
            ));
        }
    }
    if swarm.leader.is_none() {
        leaks.push("the swarm has no leader".to_owned());
    }

    // Swarm objects: exactly what the config wants.
    let docker_names = |kind: Kind| -> BTreeSet<String> {
        of_kind(kind)
            .filter_map(|resource| resource.docker_name.clone())
            .collect()
    };
    let live_networks = names(
        swarm
            .networks
            .iter()
            .filter(|network| !network.ingress)
            .map(|network| &network.name),
    );
    leaks.extend(compare_set(
        "network",
        &docker_names(Kind::Network),
        &live_networks,
    ));
    for network in of_kind(Kind::Network) {
        if let (Some(name), Some(live)) = (
            &network.docker_name,
            network
                .docker_name
                .as_deref()
                .and_then(|name| swarm.network(name)),
        ) {
            let subnet = attribute(network, "subnet");
            if subnet.as_str() != Some(live.subnet.as_str()) {
                leaks.push(format!(
                    "network `{name}` has subnet {} instead of {subnet}",
                    live.subnet
                ));
            }
        }
    }
    leaks.extend(compare_set(
        "secret",
        &docker_names(Kind::Secret),
        &names(swarm.secrets.iter().map(|secret| &secret.name)),
    ));
    // A hosted registry owns a config of its own: `NAME-config-` and its content's hash.
    let mut wanted_configs = docker_names(Kind::Config);
    for registry in of_kind(Kind::Registry) {
        if let (Some(name), Some(config)) = (&registry.docker_name, registry.payload("config")) {
            wanted_configs.insert(format!(
                "{name}-config-{}",
                &swarmform::hash::sha256_hex(config)[..8]
            ));
        }
    }
    leaks.extend(compare_set(
        "config",
        &wanted_configs,
        &names(swarm.configs.iter().map(|config| &config.name)),
    ));
    leaks.extend(compare_set(
        "stack",
        &docker_names(Kind::Stack),
        &names(swarm.stacks.iter().map(|stack| &stack.name)),
    ));
    let mut wanted_services: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for stack in of_kind(Kind::Stack) {
        if let Value::Object(services) = attribute(stack, "services") {
            for (name, summary) in services {
                wanted_services.insert(name, summary["replicas"].as_u64());
            }
        }
    }
    for registry in of_kind(Kind::Registry) {
        if let Some(name) = &registry.docker_name {
            wanted_services.insert(name.clone(), Some(1));
        }
    }
    leaks.extend(compare_set(
        "service",
        &wanted_services.keys().cloned().collect(),
        &names(swarm.services.iter().map(|service| &service.name)),
    ));
    for (name, replicas) in &wanted_services {
        let Some(service) = swarm.service(name) else {
            continue;
        };
        if let Some(replicas) = replicas
            && (service.replicas != *replicas || service.running != *replicas)
        {
            leaks.push(format!(
                "service `{name}` runs {} of {} replicas, the config wants {replicas}",
                service.running, service.replicas
            ));
        }
    }

    // Hosts: daemon.json and files as configured.
    for daemon in of_kind(Kind::Daemon) {
        let host = &daemon.address.name;
        let Some(live) = snapshot.host(host) else {
            continue;
        };
        let wanted: Option<Value> = attribute(daemon, "daemon_json")
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok());
        let loaded: Option<Value> = serde_json::from_str(&live.daemon_config).ok();
        if let Some(wanted) = wanted
            && loaded.as_ref() != Some(&wanted)
        {
            leaks.push(format!(
                "dockerd on `{host}` runs with {} instead of {wanted}",
                live.daemon_config
            ));
        }
    }
    for file in of_kind(Kind::File) {
        let (Some(host), Some(path)) = (
            &file.host,
            attribute(file, "path").as_str().map(str::to_owned),
        ) else {
            continue;
        };
        let content = attribute(file, "content");
        let live = snapshot
            .host(host)
            .and_then(|live| live.file(&path))
            .map(|file| file.text());
        if live.as_deref() != content.as_str() {
            leaks.push(format!(
                "`{path}` on `{host}` holds {live:?} instead of {content}"
            ));
        }
    }

    // The state: exactly the config's addresses, none pending, Docker ids as they are live.
    let wanted_addresses: BTreeSet<String> = desired
        .resources
        .iter()
        .map(|resource| resource.address.to_string())
        .collect();
    let recorded_addresses: BTreeSet<String> = recorded
        .iter()
        .filter_map(|resource| resource["address"].as_str().map(str::to_owned))
        .collect();
    for extra in recorded_addresses.difference(&wanted_addresses) {
        leaks.push(format!(
            "the state records `{extra}`, which the config does not have"
        ));
    }
    for missing in wanted_addresses.difference(&recorded_addresses) {
        leaks.push(format!("the state does not record `{missing}`"));
    }
    for resource in recorded {
        let address = resource["address"].as_str().unwrap_or("?");
        if resource["pending"] == Value::Bool(true) {
            leaks.push(format!("the state still records `{address}` as pending"));
        }
        let docker_name = resource["docker_name"].as_str();
        let remote_id = resource["remote_id"].as_str();
        let kind = address.split('.').next().unwrap_or_default();
        let live_id = match kind {
            "network" => docker_name
                .and_then(|name| swarm.network(name))
                .map(|network| network.id.clone()),
            "secret" => docker_name
                .and_then(|name| swarm.secret(name))
                .map(|secret| secret.id.clone()),
            "config" => docker_name
                .and_then(|name| swarm.configs.iter().find(|config| config.name == name))
                .map(|config| config.id.clone()),
            "node" => swarm
                .node(address.trim_start_matches("node."))
                .map(|node| node.id.clone()),
            _ => continue,
        };
        match (remote_id, live_id) {
            (_, None) => leaks.push(format!(
                "the state records `{address}` ({}), which does not exist",
                docker_name.unwrap_or("no Docker name")
            )),
            (Some(recorded), Some(live)) if recorded != live => leaks.push(format!(
                "the state records `{address}` with id {recorded}, the cluster has {live}"
            )),
            _ => {}
        }
    }
    leaks
}

fn check_destroyed(snapshot: &ClusterSnapshot, recorded: &[&Value]) -> Vec<String> {
    let mut leaks = Vec::new();
    for swarm in &snapshot.swarms {
        leaks.push(format!(
            "a swarm is left: {} nodes ({}), {} networks, {} secrets, {} configs, {} services",
            swarm.nodes.len(),
            swarm
                .nodes
                .iter()
                .map(|node| format!("{} {} {}", node.hostname, node.role, node.state))
                .collect::<Vec<_>>()
                .join(", "),
            swarm
                .networks
                .iter()
                .filter(|network| !network.ingress)
                .count(),
            swarm.secrets.len(),
            swarm.configs.len(),
            swarm.services.len()
        ));
    }
    for (name, host) in &snapshot.hosts {
        if host.swarm_id.is_some() {
            leaks.push(format!("host `{name}` is still in a swarm"));
        }
        if host.daemon_config != "{}" || host.file("/etc/docker/daemon.json").is_some() {
            leaks.push(format!(
                "`{name}` keeps its daemon configuration: {}",
                host.daemon_config
            ));
        }
        if host.file("/etc/motd").is_some() {
            leaks.push(format!("`/etc/motd` is left on `{name}`"));
        }
    }
    let addresses: Vec<&str> = recorded
        .iter()
        .filter_map(|resource| resource["address"].as_str())
        .collect();
    if !addresses.is_empty() {
        leaks.push(format!("the state still records {}", addresses.join(", ")));
    }
    leaks
}
