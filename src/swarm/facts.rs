//! What a host says about itself: `docker info`'s swarm section for the steps, and the host
//! facts a refreshing plan shows and checks (OS, architecture, Docker, swarm membership,
//! addresses), read with one remote script per host.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::{Context, StepError, docker};
use crate::ssh::{Pool, RemoteCommand, Script};
use serde::{Deserialize, Serialize};

/// `docker info --format '{{json .Swarm}}'`, the fields swarmform reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwarmInfo {
    pub node_id: String,
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    pub local_node_state: String,
    /// True on managers.
    pub control_available: bool,
    pub cluster_id: String,
}

impl SwarmInfo {
    /// `None` unless the text is the JSON of a swarm section dockerd filled in: with dockerd
    /// down, Docker 23 and later format an empty one (`"LocalNodeState":""`), and Docker 26
    /// even exits 0.
    pub fn parse(text: &str) -> Option<SwarmInfo> {
        let value: Value = serde_json::from_str(text.trim()).ok()?;
        Some(SwarmInfo::from_value(&value)).filter(|info| !info.local_node_state.is_empty())
    }

    fn from_value(value: &Value) -> SwarmInfo {
        let text = |value: &Value, key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        SwarmInfo {
            node_id: text(value, "NodeID"),
            local_node_state: text(value, "LocalNodeState"),
            control_available: value
                .get("ControlAvailable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            cluster_id: value
                .get("Cluster")
                .map(|cluster| text(cluster, "ID"))
                .unwrap_or_default(),
        }
    }
}

/// What `host` says about its swarm now (`docker info`), read live; remembered for
/// [`membership`].
pub async fn swarm_info(context: &Context, host: &str) -> Result<SwarmInfo, StepError> {
    let script = Script::new(docker(&["info", "--format", "{{json .Swarm}}"]));
    let output = context.check(host, &script, None).await?;
    let info = SwarmInfo::parse(&output.stdout_text()).ok_or_else(|| StepError::Unexpected {
        host: host.to_owned(),
        command: script.display(),
        detail: match output.stderr_text().trim() {
            "" => format!(
                "not the JSON of `docker info`: {}",
                output.stdout_text().trim()
            ),
            // Docker 26 exits 0 when dockerd does not answer, and says why on stderr.
            stderr => format!("dockerd did not answer: {stderr}"),
        },
    })?;
    context.remember_membership(host, &info);
    Ok(info)
}

/// `info`, or, when it says `pending` (a join or an init that an interrupted run started is
/// still settling: dockerd goes on after its client died), what `host` says once it no
/// longer does. A run must not send a second join to a node on its way into the swarm:
/// Docker refuses it ("This node is already part of a swarm").
pub async fn settled(
    context: &Context,
    host: &str,
    info: SwarmInfo,
) -> Result<SwarmInfo, StepError> {
    if info.local_node_state != "pending" {
        return Ok(info);
    }
    context
        .wait(&format!("the swarm on `{host}` to settle"), || async {
            let info = swarm_info(context, host).await?;
            Ok(if info.local_node_state == "pending" {
                Err("pending".to_owned())
            } else {
                Ok(info)
            })
        })
        .await
}

/// `docker swarm init` and the host's `docker info` after it, in one round trip: what the
/// new manager says about its swarm (its cluster id), remembered for [`membership`]; the new
/// node's id is one this run made, with no labels yet. A failure names only `command`, with
/// `hint`.
pub async fn init_swarm(
    context: &Context,
    host: &str,
    command: RemoteCommand,
    hint: &str,
) -> Result<SwarmInfo, StepError> {
    let read = docker(&["info", "--format", "{{json .Swarm}}"]);
    let stdout = enter_swarm(context, host, command, read, hint).await?;
    let info = match stdout.lines().last().and_then(SwarmInfo::parse) {
        Some(info) => {
            context.remember_membership(host, &info);
            info
        }
        None => swarm_info(context, host).await?,
    };
    context.remember_joined(&info.node_id);
    Ok(info)
}

/// `docker swarm join` and the new node's id after it, in one round trip. `docker swarm join`
/// succeeds only once the node is in the swarm (a timeout is an error), and says whether it
/// joined as a manager or a worker; only the id is asked (`{{.Swarm.NodeID}}`). What the
/// node would say about its swarm is remembered for [`membership`]: active, a manager's
/// `cluster_id` (a worker's `docker info` shows none).
pub async fn join_swarm(
    context: &Context,
    host: &str,
    command: RemoteCommand,
    cluster_id: &str,
    hint: &str,
) -> Result<SwarmInfo, StepError> {
    let read = docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    let stdout = enter_swarm(context, host, command, read, hint).await?;
    let node_id = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or_default();
    let info = if !node_id.is_empty() && node_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        let control_available = stdout.contains("joined a swarm as a manager");
        let info = SwarmInfo {
            node_id: node_id.to_owned(),
            local_node_state: "active".to_owned(),
            control_available,
            cluster_id: if control_available {
                cluster_id.to_owned()
            } else {
                String::new()
            },
        };
        context.remember_membership(host, &info);
        info
    } else {
        swarm_info(context, host).await?
    };
    context.remember_joined(&info.node_id);
    Ok(info)
}

/// `command && read` on `host`: its standard output, or a failure that names only `command`.
async fn enter_swarm(
    context: &Context,
    host: &str,
    command: RemoteCommand,
    read: RemoteCommand,
    hint: &str,
) -> Result<String, StepError> {
    let script = Script::new(command.clone()).and(read);
    let output = context.run(host, &script).await?;
    if !output.success() {
        return Err(context.failure(host, &Script::new(command), &output, Some(hint)));
    }
    Ok(output.stdout_text())
}

/// What `host` last said about its swarm during this run (the plan's facts, or the last
/// [`swarm_info`] a step read) when no command that changes membership ran since; else read
/// live. For the checks before a restart or a join, which need not ask
/// again what the run read a moment ago.
pub async fn membership(context: &Context, host: &str) -> Result<SwarmInfo, StepError> {
    match context.known_membership(host) {
        Some(info) => Ok(info),
        None => swarm_info(context, host).await,
    }
}

/// Starts every section of the facts script's output; the section's name follows on the line.
const MARKER: &str = "::swarmform-facts::";

/// The last section: daemon.json as it is, to the end of the output (a file without a
/// final newline would run into a marker after it). When it cannot be read, the
/// `daemon-json-missing` marker follows instead.
const DAEMON_JSON: &str = "daemon-json";
const DAEMON_JSON_MISSING: &str = "daemon-json-missing";

/// The sections of the facts script, in order, with the command that fills each. The node
/// list is asked only of a host that may be a manager (`docker node ls` fails on a worker,
/// and costs a call there for nothing).
fn sections(manager: bool) -> Vec<(&'static str, RemoteCommand)> {
    let mut sections = vec![("docker-info", docker(&["info", "--format", "{{json .}}"]))];
    if manager {
        sections.push((
            "docker-nodes",
            docker(&["node", "ls", "--format", "{{json .ID}}"]),
        ));
    }
    sections.push((
        "addresses",
        RemoteCommand::new("ip").args(["-j", "addr", "show"]),
    ));
    sections
}

/// What `docker info` says when dockerd answers, read from the host itself when it does not:
/// run only when `docker info` fails.
fn fallback_sections() -> Vec<(&'static str, RemoteCommand)> {
    vec![
        (
            "os-release",
            RemoteCommand::new("cat").arg("/etc/os-release"),
        ),
        ("machine", RemoteCommand::new("uname").arg("-m")),
        ("hostname", RemoteCommand::new("hostname")),
    ]
}

/// `echo MARKER NAME && COMMAND || true` for each section, chained.
fn section_chain(
    sections: Vec<(&'static str, RemoteCommand)>,
    script: Option<Script>,
) -> Option<Script> {
    let mut script = script;
    for (name, command) in sections {
        let marker = RemoteCommand::new("echo").arg(format!("{MARKER}{name}"));
        script = Some(match script {
            None => Script::new(marker),
            Some(script) => script.and(marker),
        });
        script = script.map(|script| script.and(command).or(RemoteCommand::new("true")));
    }
    script
}

/// One script that reads everything, one round trip: each section is `echo MARKER NAME &&
/// COMMAND || true`, so a command that fails or does not exist (no iproute2) leaves its
/// section empty and the next one still runs. When `docker info` fails (no Docker, dockerd
/// down), `sh -c` runs the fallback sections (OS, architecture, hostname) in its place; when
/// it answers, they cost nothing. daemon.json comes last (see [`DAEMON_JSON`]). `manager`: the
/// host may be a manager, so its node list is read too.
pub fn facts_script(manager: bool) -> Script {
    let mut sections = sections(manager).into_iter();
    let (name, info) = sections.next().expect("the docker-info section");
    let fallbacks = section_chain(fallback_sections(), None)
        .map(|fallbacks| fallbacks.render(false))
        .unwrap_or_default();
    let script = Script::new(RemoteCommand::new("echo").arg(format!("{MARKER}{name}")))
        .and(info)
        .or(RemoteCommand::new("sh").arg("-c").arg(fallbacks));
    let script = section_chain(sections.collect(), Some(script)).expect("a script");
    script
        .and(RemoteCommand::new("echo").arg(format!("{MARKER}{DAEMON_JSON}")))
        .and(RemoteCommand::new("cat").arg(crate::config::desired::DAEMON_JSON_PATH))
        .or(RemoteCommand::new("echo").arg(format!("{MARKER}{DAEMON_JSON_MISSING}")))
}

/// A host's facts, and the node ids it lists when it is a manager.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub facts: HostFacts,
    pub swarm_nodes: BTreeSet<String>,
}

/// What a host's daemon.json holds, read with its facts: `None` when it is missing or cannot
/// be read. Never printed (it may hold values a refresh redacts before it records them).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DaemonJson(pub Option<Option<String>>);

impl std::fmt::Debug for DaemonJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("not read"),
            Some(None) => f.write_str("missing"),
            Some(Some(text)) => write!(f, "({} bytes)", text.len()),
        }
    }
}

/// The daemon.json section, verbatim: everything after its marker line, unless the
/// missing marker ends it.
fn daemon_json_section(stdout: &str) -> DaemonJson {
    let start = format!("{MARKER}{DAEMON_JSON}\n");
    let Some(at) = stdout.rfind(&start) else {
        return DaemonJson(None);
    };
    let text = &stdout[at + start.len()..];
    let missing = format!("{MARKER}{DAEMON_JSON_MISSING}");
    if text.trim_end() == missing || text.trim_end().ends_with(&format!("\n{missing}")) {
        return DaemonJson(Some(None));
    }
    DaemonJson(Some(Some(text.to_owned())))
}

/// Reads the output of [`facts_script`]. Sections may be missing or empty; a section's text is
/// whatever its command printed.
pub fn parse_facts(host: &str, stdout: &str) -> Parsed {
    let known: Vec<&str> = sections(true)
        .into_iter()
        .chain(fallback_sections())
        .map(|(name, _)| name)
        .collect();
    let mut texts: BTreeMap<&str, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix(MARKER) {
            if name.trim() == DAEMON_JSON {
                break;
            }
            let name = name.trim();
            current = known.iter().copied().find(|known| *known == name);
            if let Some(name) = current {
                texts.insert(name, String::new());
            }
            continue;
        }
        if let Some(name) = current
            && let Some(text) = texts.get_mut(name)
        {
            text.push_str(line);
            text.push('\n');
        }
    }
    let section = |name: &str| texts.get(name).map(|text| text.trim()).unwrap_or("");

    let mut facts = HostFacts {
        host: host.to_owned(),
        ..HostFacts::default()
    };
    let mut swarm_nodes = BTreeSet::new();
    let info: Option<Value> = serde_json::from_str(section("docker-info")).ok();
    if let Some(info) = &info {
        facts.docker_installed = true;
        let text = |key: &str| {
            info.get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        facts.docker_version = text("ServerVersion");
        if facts.docker_version.is_none() {
            let errors: Vec<&str> = info
                .get("ServerErrors")
                .and_then(Value::as_array)
                .map(|errors| errors.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            facts.docker_error = Some(if errors.is_empty() {
                "dockerd did not answer".to_owned()
            } else {
                errors.join("; ")
            });
        } else {
            facts.os = text("OperatingSystem");
            facts.arch = text("Architecture");
            facts.hostname = text("Name");
            if let Some(swarm) = info.get("Swarm") {
                let swarm = SwarmInfo::from_value(swarm);
                facts.swarm = SwarmState::parse(&swarm.local_node_state);
                facts.manager = swarm.control_available;
                facts.node_id = Some(swarm.node_id).filter(|id| !id.is_empty());
                facts.cluster_id = Some(swarm.cluster_id).filter(|id| !id.is_empty());
            }
        }
    } else if !section("docker-info").is_empty() {
        // Not JSON: a docker that prints something else is installed but unusable.
        facts.docker_installed = true;
        facts.docker_error = section("docker-info").lines().next().map(str::to_owned);
    }
    if facts.manager {
        swarm_nodes = section("docker-nodes")
            .lines()
            .filter_map(|line| serde_json::from_str::<String>(line.trim()).ok())
            .filter(|id| !id.is_empty())
            .collect();
    }
    if facts.os.is_none() {
        facts.os = os_release_name(section("os-release"));
    }
    if facts.arch.is_none() {
        facts.arch = Some(section("machine").to_owned()).filter(|text| !text.is_empty());
    }
    if facts.hostname.is_none() {
        facts.hostname = Some(section("hostname").to_owned()).filter(|text| !text.is_empty());
    }
    facts.addresses = addresses(section("addresses"));
    facts.daemon_json = daemon_json_section(stdout);
    Parsed { facts, swarm_nodes }
}

/// `PRETTY_NAME` of an os-release file, unquoted.
fn os_release_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("PRETTY_NAME="))
        .map(|value| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .or_else(|| {
                    value
                        .strip_prefix('\'')
                        .and_then(|value| value.strip_suffix('\''))
                })
                .unwrap_or(value);
            unquoted.replace("\\\"", "\"").replace("\\\\", "\\")
        })
        .filter(|name| !name.is_empty())
}

/// The addresses of `ip -j addr show`, loopback (scope `host`) left out.
fn addresses(text: &str) -> Vec<HostAddress> {
    let Ok(Value::Array(interfaces)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for interface in &interfaces {
        let name = interface
            .get("ifname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(infos) = interface.get("addr_info").and_then(Value::as_array) else {
            continue;
        };
        for info in infos {
            let Some(address) = info.get("local").and_then(Value::as_str) else {
                continue;
            };
            if info.get("scope").and_then(Value::as_str) == Some("host") {
                continue;
            }
            out.push(HostAddress {
                address: address.to_owned(),
                prefix_length: info
                    .get("prefixlen")
                    .and_then(Value::as_u64)
                    .and_then(|length| u8::try_from(length).ok())
                    .unwrap_or(0),
                interface: name.to_owned(),
                dynamic: info
                    .get("dynamic")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
    }
    out
}

/// Why a host could not be reached, in a few words (`connection refused`).
fn unreachable_reason(error: &crate::ssh::SshError) -> String {
    match error {
        crate::ssh::SshError::Connect { source, .. } => {
            let text = source.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => "cannot connect".to_owned(),
            }
        }
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Reads every host's facts in parallel, one script each, in the order of `hosts`. A host that
/// cannot be reached is a fact (`unreachable`); one that refuses us (host key, authentication,
/// sudo) is an error, as for refresh. A worker's cluster id is taken from a manager read here
/// that lists its node; `managers` are the hosts that may be one (configured or recorded so),
/// whose node lists are read.
///
/// `first`: the host whose read starts first and whose facts go to its sender the moment they
/// are in, while the others' are still coming: the refresh reads the cluster through it
/// meanwhile ([`super::refresh::read_ahead`]).
pub async fn gather(
    pool: &Arc<Pool>,
    hosts: &[String],
    managers: &BTreeSet<String>,
    first: Option<First>,
) -> Result<Vec<HostFacts>, StepError> {
    let read = |index: usize, host: &String| {
        let pool = Arc::clone(pool);
        let script = facts_script(managers.contains(host));
        let host = host.clone();
        async move {
            let result = pool.run(&host, &script).await;
            (index, host, result)
        }
    };
    let mut parsed: Vec<Option<Parsed>> = vec![None; hosts.len()];
    let first_index = first
        .as_ref()
        .and_then(|first| hosts.iter().position(|host| *host == first.host));
    let mut first = first.filter(|_| first_index.is_some());
    let mut tasks = tokio::task::JoinSet::new();
    // The first host's read starts first; the others do not wait for it.
    for index in first_index
        .into_iter()
        .chain((0..hosts.len()).filter(|index| Some(*index) != first_index))
    {
        tasks.spawn(read(index, &hosts[index]));
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, host, result)) = joined else {
            continue;
        };
        let entry = parsed_or_unreachable(host, result)?;
        if let Some(sender) = first
            .take_if(|first| first.host == entry.facts.host)
            .and_then(|first| first.facts)
        {
            // The receiver may be gone (nothing to read ahead): the facts stand on their own.
            let _ = sender.send(entry.clone());
        }
        parsed[index] = Some(entry);
    }
    let parsed: Vec<Parsed> = parsed.into_iter().flatten().collect();
    Ok(resolve_clusters(parsed))
}

/// The host [`gather`] starts with, and where its facts go the moment they are in.
pub struct First {
    pub host: String,
    pub facts: Option<tokio::sync::oneshot::Sender<Parsed>>,
}

#[expect(
    clippy::result_large_err,
    reason = "the error is the step's, returned as it is by gather"
)]
fn parsed_or_unreachable(
    host: String,
    result: Result<crate::ssh::Output, crate::ssh::SshError>,
) -> Result<Parsed, StepError> {
    match result {
        Ok(output) => Ok(parse_facts(&host, &output.stdout_text())),
        Err(error) if super::refresh::unreachable(&error) => Ok(Parsed {
            facts: HostFacts {
                host,
                unreachable: Some(unreachable_reason(&error)),
                ..HostFacts::default()
            },
            swarm_nodes: BTreeSet::new(),
        }),
        Err(error) => Err(error.into()),
    }
}

/// Gives workers the cluster id of a manager that lists their node.
pub fn resolve_clusters(parsed: Vec<Parsed>) -> Vec<HostFacts> {
    let mut members: BTreeMap<String, String> = BTreeMap::new();
    for entry in &parsed {
        if let Some(cluster) = &entry.facts.cluster_id {
            for node in &entry.swarm_nodes {
                members.insert(node.clone(), cluster.clone());
            }
        }
    }
    parsed
        .into_iter()
        .map(|mut entry| {
            if entry.facts.cluster_id.is_none()
                && let Some(node) = &entry.facts.node_id
            {
                entry.facts.cluster_id = members.get(node).cloned();
            }
            entry.facts.nodes = entry.swarm_nodes;
            entry.facts
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fields come from Docker's own JSON names.
    #[test]
    fn parses_docker_info_swarm_json() {
        let info = SwarmInfo::parse(
            r#"{"NodeID":"abc","NodeAddr":"10.0.0.1","LocalNodeState":"active","ControlAvailable":true,"Error":"","RemoteManagers":null,"Cluster":{"ID":"xyz"}}"#,
        )
        .expect("parses");
        assert_eq!(info.node_id, "abc");
        assert_eq!(info.cluster_id, "xyz");
        assert!(info.control_available);
        let inactive = SwarmInfo::parse(
            r#"{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false}"#,
        )
        .expect("parses");
        assert_eq!(inactive.local_node_state, "inactive");
        assert_eq!(inactive.cluster_id, "");
        // dockerd down: Docker 23 and later format an empty section (26 even exits 0), which
        // says nothing of the swarm.
        assert_eq!(
            SwarmInfo::parse(
                r#"{"NodeID":"","NodeAddr":"","LocalNodeState":"","ControlAvailable":false,"Error":"","RemoteManagers":null}"#
            ),
            None
        );
    }

    const IP_DYNAMIC: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"ifname":"enp1s0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"fq_codel","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"52:54:00:12:34:56","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"192.168.1.23","prefixlen":24,"broadcast":"192.168.1.255","scope":"global","dynamic":true,"noprefixroute":true,"label":"enp1s0","valid_life_time":85324,"preferred_life_time":85324},{"family":"inet6","local":"fe80::5054:ff:fe12:3456","prefixlen":64,"scope":"link","noprefixroute":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]"#;

    fn output(sections: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for (name, text) in sections {
            out.push_str(&format!("{MARKER}{name}\n{text}\n"));
        }
        out
    }

    // A host with Docker: OS, architecture, hostname, version and swarm come from `docker
    // info`; a DHCP address is marked dynamic and loopback is left out.
    #[test]
    fn parses_a_docker_host() {
        let info = r#"{"ServerVersion":"20.10.24+dfsg1","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","Architecture":"x86_64","Name":"web-1","Swarm":{"NodeID":"n1","LocalNodeState":"active","ControlAvailable":true,"Cluster":{"ID":"c1"}}}"#;
        let parsed = parse_facts(
            "node1",
            &output(&[
                ("docker-info", info),
                ("docker-nodes", "\"n1\"\n\"n2\""),
                ("os-release", "PRETTY_NAME=\"Something else\""),
                ("machine", "aarch64"),
                ("hostname", "other"),
                ("addresses", IP_DYNAMIC),
            ]),
        );
        let facts = &parsed.facts;
        assert_eq!(facts.docker_version.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(facts.os.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(facts.arch.as_deref(), Some("x86_64"));
        assert_eq!(facts.hostname.as_deref(), Some("web-1"));
        assert_eq!(facts.swarm, Some(SwarmState::Active));
        assert!(facts.manager);
        assert_eq!(facts.cluster_id.as_deref(), Some("c1"));
        assert_eq!(
            parsed.swarm_nodes,
            BTreeSet::from(["n1".to_owned(), "n2".to_owned()])
        );
        assert_eq!(
            facts.addresses,
            vec![
                HostAddress {
                    address: "192.168.1.23".to_owned(),
                    prefix_length: 24,
                    interface: "enp1s0".to_owned(),
                    dynamic: true,
                },
                HostAddress {
                    address: "fe80::5054:ff:fe12:3456".to_owned(),
                    prefix_length: 64,
                    interface: "enp1s0".to_owned(),
                    dynamic: false,
                },
            ]
        );
    }

    // Without Docker (the docker sections are empty: the shell printed `not found` on
    // stderr), the OS comes from os-release, the architecture from uname, the name from
    // hostname.
    #[test]
    fn parses_a_host_without_docker() {
        let parsed = parse_facts(
            "node5",
            &output(&[
                ("docker-info", ""),
                ("docker-nodes", ""),
                (
                    "os-release",
                    "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu",
                ),
                ("machine", "aarch64"),
                ("hostname", "pi5"),
                ("addresses", ""),
            ]),
        );
        let facts = parsed.facts;
        assert!(!facts.docker_installed);
        assert_eq!(facts.docker_version, None);
        assert_eq!(facts.swarm, None);
        assert_eq!(facts.os.as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(facts.arch.as_deref(), Some("aarch64"));
        assert_eq!(facts.hostname.as_deref(), Some("pi5"));
        assert!(facts.addresses.is_empty());
    }

    // Docker installed with dockerd down: `docker info` still prints JSON, with the server's
    // error instead of a version.
    #[test]
    fn parses_a_stopped_daemon() {
        let info = r#"{"ClientInfo":{"Debug":false},"ServerErrors":["Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"]}"#;
        let parsed = parse_facts(
            "node2",
            &output(&[("docker-info", info), ("hostname", "node2")]),
        );
        assert!(parsed.facts.docker_installed);
        assert_eq!(parsed.facts.docker_version, None);
        assert!(
            parsed
                .facts
                .docker_error
                .as_deref()
                .is_some_and(|error| error.starts_with("Cannot connect to the Docker daemon"))
        );
        assert_eq!(parsed.facts.hostname.as_deref(), Some("node2"));
    }

    // Garbage, missing sections and unknown section names leave the facts empty rather
    // than failing.
    #[test]
    fn tolerates_missing_and_unknown_sections() {
        let parsed = parse_facts(
            "node3",
            &format!("noise\n{MARKER}bogus\nx\n{MARKER}machine\nx86_64\n"),
        );
        assert_eq!(parsed.facts.arch.as_deref(), Some("x86_64"));
        assert_eq!(parsed.facts.os, None);
        assert!(!parsed.facts.docker_installed);
    }

    // A worker's cluster id comes from a manager that lists its node.
    #[test]
    fn workers_take_the_cluster_of_the_manager_listing_them() {
        let manager = Parsed {
            facts: HostFacts {
                host: "m".to_owned(),
                node_id: Some("n1".to_owned()),
                cluster_id: Some("c1".to_owned()),
                manager: true,
                ..HostFacts::default()
            },
            swarm_nodes: BTreeSet::from(["n1".to_owned(), "n2".to_owned()]),
        };
        let worker = |id: &str| Parsed {
            facts: HostFacts {
                host: id.to_owned(),
                node_id: Some(id.to_owned()),
                ..HostFacts::default()
            },
            swarm_nodes: BTreeSet::new(),
        };
        let facts = resolve_clusters(vec![manager, worker("n2"), worker("n9")]);
        assert_eq!(facts[1].cluster_id.as_deref(), Some("c1"));
        assert_eq!(facts[2].cluster_id, None);
    }

    // The script delimits every section and tolerates each command's failure; the OS,
    // architecture and hostname are read from the host only when `docker info` fails.
    #[test]
    fn the_script_delimits_and_tolerates() {
        let line = facts_script(true).render(false);
        assert!(
            line.starts_with("echo '::swarmform-facts::docker-info' && docker info --format '{{json .}}' || sh -c 'echo '\\''::swarmform-facts::os-release'\\'' && cat /etc/os-release || true && echo '\\''::swarmform-facts::machine'\\'' && uname -m || true && echo '\\''::swarmform-facts::hostname'\\'' && hostname || true' && echo '::swarmform-facts::docker-nodes'"),
            "{line}"
        );
        assert!(
            line.ends_with("&& ip -j addr show || true && echo '::swarmform-facts::daemon-json' && cat /etc/docker/daemon.json || echo '::swarmform-facts::daemon-json-missing'"),
            "{line}"
        );
        // A worker is not asked for the node list, which fails there.
        let worker = facts_script(false).render(false);
        assert!(!worker.contains("node ls"), "{worker}");
    }

    // daemon.json is taken verbatim, a missing final newline included; a missing file is
    // told apart from an empty one.
    #[test]
    fn daemon_json_is_read_verbatim() {
        let head = format!("{MARKER}docker-info\n{{}}\n{MARKER}hostname\nnode1\n");
        let read = |tail: &str| {
            parse_facts("node1", &format!("{head}{tail}"))
                .facts
                .daemon_json
        };
        assert_eq!(
            read(&format!("{MARKER}daemon-json\n{{\n  \"debug\": true\n}}")),
            DaemonJson(Some(Some("{\n  \"debug\": true\n}".to_owned())))
        );
        assert_eq!(
            read(&format!("{MARKER}daemon-json\n")),
            DaemonJson(Some(Some(String::new())))
        );
        assert_eq!(
            read(&format!(
                "{MARKER}daemon-json\n{MARKER}daemon-json-missing\n"
            )),
            DaemonJson(Some(None))
        );
        assert_eq!(read(""), DaemonJson(None));
        let parsed = parse_facts("node1", &format!("{head}{MARKER}daemon-json\n{{}}\n"));
        assert_eq!(parsed.facts.hostname.as_deref(), Some("node1"));
    }
}

/// One host's facts, read by one remote script when the plan refreshes: OS, architecture,
/// Docker, swarm membership and addresses. Plain data: the preflight checks read it and the
/// renderers show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The host's name in the config (or in the state, for a host only the state remembers).
    pub host: String,
    /// Why the host could not be reached over SSH; `None` when it answered. An unreachable
    /// host has no other facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    /// `PRETTY_NAME` of `/etc/os-release` (what Docker reports as `OperatingSystem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The machine architecture, `uname -m` (Docker's `Architecture`): `x86_64`, `aarch64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The host's own name: Docker's `Name`, else `hostname`. A swarm node carries it as
    /// `node.hostname`, which placement constraints use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Whether the `docker` command exists on the host.
    #[serde(default)]
    pub docker_installed: bool,
    /// dockerd's `ServerVersion`; `None` when Docker is not installed or dockerd did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Why an installed Docker gave no version (dockerd not running, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_error: Option<String>,
    /// Docker's `Swarm.LocalNodeState`; `None` when dockerd did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmState>,
    /// `Swarm.ControlAvailable`: the node is a manager (false for workers and outside a swarm).
    #[serde(default)]
    pub manager: bool,
    /// `Swarm.NodeID`, when the host is in a swarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// The swarm's cluster id: a manager's `Swarm.Cluster.ID`; for a worker (whose own `docker
    /// info` has none), the id of a manager read in the same plan that lists its node.
    /// `None` outside a swarm or when no such manager was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The host's addresses (`ip -j addr show`), loopback excluded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<HostAddress>,
    /// daemon.json, for the daemon's refresh (read in the same round trip); never in a plan.
    #[serde(skip)]
    pub daemon_json: DaemonJson,
    /// The node ids a manager listed in the same round trip (`docker node ls`), for the node
    /// refresh; empty for a worker. Never in a plan.
    #[serde(skip)]
    pub nodes: BTreeSet<String>,
}

impl HostFacts {
    /// The major version of the Docker the host reported (`20` of `20.10.24+dfsg1`).
    pub fn docker_major(&self) -> Option<u32> {
        self.docker_version
            .as_deref()?
            .split(['.', '+', '~', '-'])
            .next()?
            .parse()
            .ok()
    }

    /// In a swarm in any way (active, locked, joining or failing), as opposed to outside one.
    pub fn in_swarm(&self) -> bool {
        self.swarm
            .is_some_and(|state| state != SwarmState::Inactive)
    }
}

/// Docker's `LocalNodeState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwarmState {
    Inactive,
    Pending,
    Active,
    Error,
    Locked,
}

impl SwarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            SwarmState::Inactive => "inactive",
            SwarmState::Pending => "pending",
            SwarmState::Active => "active",
            SwarmState::Error => "error",
            SwarmState::Locked => "locked",
        }
    }

    /// Docker's word; `None` for anything else (an empty state means no daemon answered).
    pub fn parse(text: &str) -> Option<SwarmState> {
        Some(match text {
            "inactive" => SwarmState::Inactive,
            "pending" => SwarmState::Pending,
            "active" => SwarmState::Active,
            "error" => SwarmState::Error,
            "locked" => SwarmState::Locked,
            _ => return None,
        })
    }
}

/// One address of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAddress {
    /// The IP address, without its prefix length.
    pub address: String,
    pub prefix_length: u8,
    /// The interface that holds it (`eth0`).
    pub interface: String,
    /// A DHCP lease (iproute2's `"dynamic": true`): the address may change.
    #[serde(default)]
    pub dynamic: bool,
}
