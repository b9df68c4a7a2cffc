//! Refresh: read the live cluster and bring the state in line with it, so the next plan shows
//! what was changed by hand as a change back to the config.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::{Context, StepError, docker};
use crate::address::{Address, Kind};
use crate::config::desired::DAEMON_JSON_PATH;
use crate::plan::{HostFacts, SwarmState};
use crate::redact::redact;
use crate::ssh::{RemoteCommand, Script};
use crate::state::{ADDRESS_LABEL, GHOST, LABEL_PREFIX, State, UNLABELLED};

/// What refresh found.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub state: State,
    /// Hosts that did not answer over SSH.
    pub unreachable: BTreeSet<String>,
    /// One line per difference found, for the user.
    pub drift: Vec<String>,
    /// Objects of this lineage the state does not record, for the planner to remove.
    pub strays: Vec<crate::plan::Stray>,
    /// Services made before the ownership labels, for the planner to label.
    pub unlabelled: Vec<crate::plan::Unlabelled>,
}

/// A host that cannot be reached at all, as opposed to one that refused us.
pub(crate) fn unreachable(error: &crate::ssh::SshError) -> bool {
    matches!(error, crate::ssh::SshError::Connect { .. }) || error.is_retryable()
}

/// Reads the live cluster. `state` is not changed; the refreshed copy is returned.
///
/// `facts` are the hosts' facts read for this plan (every configured host and every host only
/// the state remembers): the swarm is found through any of them that manages it, not only
/// through the managers the state records, and every node's id is read live from its host.
pub async fn refresh(
    context: &Arc<Context>,
    state: &State,
    facts: &[HostFacts],
) -> Result<Refreshed, StepError> {
    let mut refreshed = Refreshed {
        state: state.clone(),
        ..Refreshed::default()
    };
    // A host the facts found unreachable is not tried again.
    for facts in facts.iter().filter(|facts| facts.unreachable.is_some()) {
        refreshed.unreachable.insert(facts.host.clone());
    }
    // daemon.json is read where the state records a daemon configuration.
    let hosts: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Daemon)
        .filter_map(|resource| resource.host.clone())
        .filter(|host| !refreshed.unreachable.contains(host))
        .collect();

    // Per host, in parallel: is it reachable, and what does its daemon.json say?
    let mut tasks = tokio::task::JoinSet::new();
    for host in hosts {
        let context = Arc::clone(context);
        tasks.spawn(async move {
            let script = Script::new(RemoteCommand::new("cat").arg(DAEMON_JSON_PATH));
            let result = context.pool.run(&host, &script).await;
            (host, result)
        });
    }
    let mut daemon_json: BTreeMap<String, Option<String>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((host, result)) = joined else { continue };
        match result {
            Ok(output) if output.success() => {
                daemon_json.insert(host, Some(output.stdout_text()));
            }
            Ok(_) => {
                daemon_json.insert(host, None);
            }
            Err(error) if unreachable(&error) => {
                refreshed.unreachable.insert(host);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let sensitive = context
        .sensitive
        .lock()
        .map(|values| values.clone())
        .unwrap_or_default();
    for resource in refreshed
        .state
        .resources
        .iter_mut()
        .filter(|resource| resource.address.kind == Kind::Daemon)
    {
        let Some(host) = &resource.host else { continue };
        let Some(live) = daemon_json.get(host) else {
            continue;
        };
        let recorded = resource
            .attributes
            .get("daemon_json")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let live = live.as_ref().map(|text| redact(text, &sensitive));
        if recorded != live {
            refreshed.drift.push(format!(
                "`{}`: {DAEMON_JSON_PATH} was changed on the host",
                resource.address
            ));
            match live {
                Some(text) => {
                    resource
                        .attributes
                        .insert("daemon_json".to_owned(), Value::String(text));
                }
                None => {
                    resource.attributes.remove("daemon_json");
                }
            }
        }
    }

    refresh_files(context, &mut refreshed).await?;

    let Some(swarm) = state.resource(&Address::swarm()) else {
        return Ok(refreshed);
    };
    let Some(anchor) = find_anchor(state, swarm, facts, &refreshed.unreachable) else {
        if swarm.pending {
            // An init an interrupted apply may or may not have made: the plan initializes it
            // again, and the init adopts what it finds.
            return Ok(refreshed);
        }
        if let Some(why) = swarm_may_live(state, swarm, facts) {
            // Unreachable is not gone: never forget a swarm because the network is down.
            return Err(StepError::Refused(format!(
                "no manager of the swarm could be reached ({why}), so the live cluster cannot be read\nhint: bring a manager back, or plan from the state file alone with `--refresh=false`"
            )));
        }
        refreshed.drift.push(
            "no configured host is a manager of the swarm the state records any more: the swarm is gone"
                .to_owned(),
        );
        let gone: Vec<Address> = refreshed
            .state
            .resources
            .iter()
            .filter(|resource| {
                !matches!(
                    resource.address.kind,
                    Kind::Engine | Kind::Daemon | Kind::File
                )
            })
            .map(|resource| resource.address.clone())
            .collect();
        for address in gone {
            refreshed.state.remove(&address);
        }
        return Ok(refreshed);
    };

    if !swarm.pending
        && swarm.host.as_ref() != Some(&anchor)
        && let Some(recorded) = refreshed.state.resource_mut(&Address::swarm())
    {
        // The swarm is recorded with the manager that drives it now, not pinned to the host
        // that ran `docker swarm init`.
        recorded.host = Some(anchor.clone());
    }
    refresh_nodes(context, &anchor, facts, &mut refreshed).await?;
    let mut listed = Vec::new();
    for (kind, object) in [
        (Kind::Network, "network"),
        (Kind::Secret, "secret"),
        (Kind::Config, "config"),
    ] {
        let objects = super::ownership::list(context, &anchor, object).await?;
        let names = objects.iter().map(|live| live.name.clone()).collect();
        forget_missing(&mut refreshed, kind, &names, object);
        listed.push((kind, object, objects));
    }
    let stacks = list_names(context, &anchor, &["stack", "ls"], "Name").await?;
    forget_missing(&mut refreshed, Kind::Stack, &stacks, "stack");
    let services = list_names(context, &anchor, &["service", "ls"], "Name").await?;
    let inspected = super::stack::inspect_services(context, &anchor, &services).await?;
    super::stack::refresh_services(
        context,
        &inspected,
        &mut refreshed.state,
        &mut refreshed.drift,
    );
    super::ownership::reconcile(context, &mut refreshed, &listed, &inspected);
    let hosted_registries: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| {
            resource.address.kind == Kind::Registry && resource.attributes.contains_key("node")
        })
        .filter(|resource| !services.contains(resource.live_name()))
        .map(|resource| resource.address.clone())
        .collect();
    for address in hosted_registries {
        refreshed
            .drift
            .push(format!("`{address}`: its service was removed by hand"));
        refreshed.state.remove(&address);
    }
    Ok(refreshed)
}

/// Whole files swarmform wrote, read back with one `sha256sum` per host: a file gone from its
/// host is no longer recorded (the plan writes it again), and one whose content differs from
/// what the state recorded (plain text only; sensitive and redacted contents are recorded as
/// hashes of what was sent) is planned back. Lines kept in a file are not read back.
async fn refresh_files(context: &Context, refreshed: &mut Refreshed) -> Result<(), StepError> {
    let mut by_host: BTreeMap<String, Vec<(Address, String)>> = BTreeMap::new();
    for resource in &refreshed.state.resources {
        if resource.address.kind != Kind::File
            || resource.pending
            || resource.attributes.contains_key("line")
        {
            continue;
        }
        let (Some(host), Some(path)) = (
            &resource.host,
            resource.attributes.get("path").and_then(Value::as_str),
        ) else {
            continue;
        };
        if refreshed.unreachable.contains(host) {
            continue;
        }
        by_host
            .entry(host.clone())
            .or_default()
            .push((resource.address.clone(), path.to_owned()));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (host, files) in by_host {
        let pool = Arc::clone(&context.pool);
        tasks.spawn(async move {
            let script = Script::new(
                RemoteCommand::new("sha256sum")
                    .arg("--")
                    .args(files.iter().map(|(_, path)| path.clone())),
            );
            (host.clone(), files, pool.run(&host, &script).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((host, files, result)) = joined else {
            continue;
        };
        let output = match result {
            Ok(output) => output,
            Err(error) if unreachable(&error) => {
                refreshed.unreachable.insert(host);
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        // `HASH  PATH` per file that exists; the others only on stderr.
        let live: BTreeMap<String, String> = output
            .stdout_text()
            .lines()
            .filter_map(|line| line.split_once("  "))
            .map(|(hash, path)| (path.to_owned(), hash.to_owned()))
            .collect();
        for (address, path) in files {
            let Some(hash) = live.get(&path) else {
                refreshed
                    .drift
                    .push(format!("`{address}`: {path} is gone from `{host}`"));
                refreshed.state.remove(&address);
                continue;
            };
            let Some(entry) = refreshed.state.resource_mut(&address) else {
                continue;
            };
            let plain = !entry
                .sensitive
                .iter()
                .any(|name| name.starts_with("content"))
                && !entry.attributes.contains_key("content_sha256");
            let recorded = entry
                .attributes
                .get("content")
                .and_then(Value::as_str)
                .filter(|_| plain)
                .map(|text| crate::hash::sha256_hex(text.as_bytes()));
            if recorded.is_some_and(|recorded| &recorded != hash) {
                refreshed
                    .drift
                    .push(format!("`{address}`: {path} was changed on `{host}`"));
                entry.attributes.insert(
                    "content".to_owned(),
                    Value::from(format!("(changed on the host: sha256 {hash})")),
                );
            }
        }
    }
    Ok(())
}

/// The node addresses the state records as managers (ghost entries excluded).
fn managers_in(state: &State) -> Vec<String> {
    state.manager_hosts()
}

/// The host that drives the cluster-wide reads: one that manages the swarm the state records
/// (its cluster id; for an init an interrupted apply left pending, the host that ran it),
/// found among every host whose facts were read, the recorded managers first.
fn find_anchor(
    state: &State,
    swarm: &crate::state::ResourceState,
    facts: &[HostFacts],
    unreachable: &BTreeSet<String>,
) -> Option<String> {
    let recorded_cluster = swarm.remote_id.clone().filter(|_| !swarm.pending);
    let ours = |facts: &HostFacts| {
        facts.manager
            && facts.swarm == Some(SwarmState::Active)
            && !unreachable.contains(&facts.host)
            && match &recorded_cluster {
                Some(cluster) => facts.cluster_id.as_ref() == Some(cluster),
                None => Some(&facts.host) == swarm.host.as_ref(),
            }
    };
    let recorded = managers_in(state);
    recorded
        .iter()
        .filter_map(|manager| facts.iter().find(|facts| &facts.host == manager))
        .chain(facts.iter())
        .find(|facts| ours(facts))
        .map(|facts| facts.host.clone())
}

/// Why the swarm the state records may still exist although no host answered as its manager:
/// a recorded manager (or, with none recorded, the host that ran the init) did not answer, is
/// locked, or is in a swarm whose id was not read. `None` when every one of them answered
/// outside that swarm, so the swarm is gone.
fn swarm_may_live(
    state: &State,
    swarm: &crate::state::ResourceState,
    facts: &[HostFacts],
) -> Option<String> {
    let mut candidates = managers_in(state);
    if let Some(host) = &swarm.host
        && !candidates.contains(host)
    {
        candidates.push(host.clone());
    }
    if candidates.is_empty() {
        return Some("the state records no manager".to_owned());
    }
    let recorded_cluster = swarm.remote_id.as_deref();
    for candidate in &candidates {
        let Some(facts) = facts.iter().find(|facts| &facts.host == candidate) else {
            return Some(format!("`{candidate}` was not read"));
        };
        if let Some(why) = &facts.unreachable {
            return Some(format!("`{candidate}`: {why}"));
        }
        match facts.swarm {
            None => {
                return Some(format!(
                    "dockerd on `{candidate}` did not answer{}",
                    facts
                        .docker_error
                        .as_ref()
                        .map_or(String::new(), |error| format!(": {error}"))
                ));
            }
            Some(SwarmState::Inactive) => {}
            Some(SwarmState::Locked) => {
                return Some(format!(
                    "`{candidate}` is locked: unlock it with `docker swarm unlock` and the unlock key"
                ));
            }
            Some(other) => {
                let elsewhere = facts.manager
                    && facts.cluster_id.is_some()
                    && facts.cluster_id.as_deref() != recorded_cluster;
                if !elsewhere {
                    return Some(format!("`{candidate}` is {} in a swarm", other.as_str()));
                }
            }
        }
    }
    None
}

/// The nodes, read live. Every host whose facts were read says which node it is (its own
/// `Swarm.NodeID`): the state records that id, the bootstrap manager's included; a host that
/// answers outside the swarm is no longer a node; a host that does not answer keeps its
/// recorded id. An entry of the swarm's node list that no host accounts for and that is Down or
/// an unreachable manager is a ghost (a host that left and joined again, a manager that left by
/// force or vanished): the state records it as `node.ghost-ID` so the plan removes it and the
/// quorum check counts it. Then role, availability and labels of every node, from one
/// `docker node inspect`.
async fn refresh_nodes(
    context: &Context,
    anchor: &str,
    facts: &[HostFacts],
    refreshed: &mut Refreshed,
) -> Result<(), StepError> {
    let listing = context
        .check(
            anchor,
            &Script::new(docker(&["node", "ls", "--format", "{{json .}}"])),
            None,
        )
        .await?;
    let entries: Vec<Value> = listing
        .stdout_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    let field = |entry: &Value, name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let live_ids: BTreeSet<String> = entries
        .iter()
        .map(|entry| field(entry, "ID"))
        .filter(|id| !id.is_empty())
        .collect();
    let mut accounted: BTreeSet<String> = BTreeSet::new();
    let nodes: Vec<(Address, Option<String>, Option<String>)> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node && !resource.is_ghost())
        .map(|resource| {
            (
                resource.address.clone(),
                resource.host.clone(),
                resource.remote_id.clone(),
            )
        })
        .collect();
    for facts in facts.iter().filter(|facts| facts.unreachable.is_none()) {
        if let Some(id) = facts.node_id.as_ref().filter(|id| live_ids.contains(*id)) {
            accounted.insert(id.clone());
        }
    }
    for (address, host, recorded) in nodes {
        let host = host.unwrap_or_else(|| address.name.clone());
        let read = facts
            .iter()
            .find(|facts| facts.host == host && facts.unreachable.is_none());
        match read {
            Some(read) => match read.node_id.as_ref().filter(|id| live_ids.contains(*id)) {
                Some(live) => {
                    if recorded.as_ref() != Some(live) {
                        if recorded.is_some() {
                            refreshed.drift.push(format!(
                                "`{address}`: `{host}` is in the swarm as another node ({live}): it left and joined again"
                            ));
                        }
                        if let Some(entry) = refreshed.state.resource_mut(&address) {
                            entry.remote_id = Some(live.clone());
                        }
                    }
                }
                None if matches!(read.swarm, Some(SwarmState::Inactive | SwarmState::Active)) => {
                    refreshed.drift.push(format!(
                        "`{address}`: `{host}` is not a node of the swarm any more"
                    ));
                    refreshed.state.remove(&address);
                }
                // dockerd did not answer: what the state records stands.
                None => {
                    if let Some(id) = recorded {
                        accounted.insert(id);
                    }
                }
            },
            None => match recorded {
                Some(id) if live_ids.contains(&id) => {
                    accounted.insert(id);
                }
                Some(_) => {
                    refreshed
                        .drift
                        .push(format!("`{address}`: the node is no longer in the swarm"));
                    refreshed.state.remove(&address);
                }
                None => {}
            },
        }
    }
    // Ghosts: recorded ones that are gone, then new ones.
    let recorded_ghosts: Vec<(Address, Option<String>)> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.is_ghost())
        .map(|resource| (resource.address.clone(), resource.remote_id.clone()))
        .collect();
    for (address, id) in recorded_ghosts {
        match id {
            Some(id) if live_ids.contains(&id) && !accounted.contains(&id) => {}
            _ => {
                refreshed.state.remove(&address);
            }
        }
    }
    for entry in &entries {
        let id = field(entry, "ID");
        if id.is_empty() || accounted.contains(&id) {
            continue;
        }
        let hostname = field(entry, "Hostname");
        let status = field(entry, "Status");
        let manager_status = field(entry, "ManagerStatus");
        let down = !status.eq_ignore_ascii_case("ready");
        let lost_manager = manager_status.eq_ignore_ascii_case("unreachable");
        if !down && !lost_manager {
            refreshed.drift.push(format!(
                "node `{hostname}` ({id}) is in the swarm but no configured host is it; swarmform leaves it alone (remove it with `docker node rm`, or add its host to the config)"
            ));
            continue;
        }
        let address = Address::new(Kind::Node, format!("ghost-{}", id.to_ascii_lowercase()));
        if refreshed.state.resource(&address).is_some() {
            continue;
        }
        let role = if manager_status.is_empty() {
            "worker"
        } else {
            "manager"
        };
        let what = format!(
            "the {} {role} entry `{hostname}` ({id}) that no configured host answers for",
            if down { "Down" } else { "unreachable" }
        );
        refreshed
            .drift
            .push(format!("`{address}`: the swarm lists {what}"));
        refreshed.state.upsert(crate::state::ResourceState {
            address,
            host: None,
            docker_name: None,
            remote_id: Some(id),
            attributes: BTreeMap::from([
                ("role".to_owned(), Value::from(role)),
                ("hostname".to_owned(), Value::from(hostname)),
                (GHOST.to_owned(), Value::from(what)),
            ]),
            sensitive: Vec::new(),
            depends_on: vec![Address::swarm()],
            pending: false,
        });
    }

    let present: Vec<(Address, String)> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node && !resource.is_ghost())
        .filter_map(|resource| {
            resource
                .remote_id
                .clone()
                .filter(|id| live_ids.contains(id))
                .map(|id| (resource.address.clone(), id))
        })
        .collect();
    let present: Vec<&(Address, String)> = present.iter().collect();
    if present.is_empty() {
        return Ok(());
    }
    let inspect = docker(&["node", "inspect", "--format", "{{json .}}"])
        .args(present.iter().map(|(_, id)| id.clone()));
    let output = context.check(anchor, &Script::new(inspect), None).await?;
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for line in output
        .stdout_text()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        if let Ok(node) = serde_json::from_str::<Value>(line)
            && let Some(id) = node.get("ID").and_then(Value::as_str)
        {
            by_id.insert(id.to_owned(), node);
        }
    }
    for (address, id) in present {
        let Some(node) = by_id.get(id) else { continue };
        let spec = node.get("Spec").cloned().unwrap_or(Value::Null);
        let mut labels = spec
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let labelled =
            labels.get(ADDRESS_LABEL).and_then(Value::as_str) == Some(address.to_string().as_str());
        labels.retain(|key, _| !key.starts_with(LABEL_PREFIX));
        let live = [
            ("role", spec.get("Role").cloned()),
            ("availability", spec.get("Availability").cloned()),
            ("labels", Some(Value::Object(labels))),
        ];
        let Some(entry) = refreshed
            .state
            .resources
            .iter_mut()
            .find(|resource| &resource.address == address)
        else {
            continue;
        };
        if labelled {
            entry.attributes.remove(UNLABELLED);
        } else {
            entry
                .attributes
                .insert(UNLABELLED.to_owned(), Value::from("missing"));
        }
        for (name, value) in live {
            let Some(value) = value else { continue };
            if entry.attributes.get(name) != Some(&value) {
                refreshed.drift.push(format!(
                    "`{address}`: {name} is {} on the cluster, {} in the state",
                    value,
                    entry
                        .attributes
                        .get(name)
                        .map_or("nothing".to_owned(), Value::to_string)
                ));
                entry.attributes.insert(name.to_owned(), value);
            }
        }
    }
    Ok(())
}

async fn list_names(
    context: &Context,
    anchor: &str,
    command: &[&str],
    field: &str,
) -> Result<BTreeSet<String>, StepError> {
    let script = Script::new(docker(command).args(["--format", "{{json .}}"]));
    let output = context.check(anchor, &script, None).await?;
    Ok(output
        .stdout_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|value| value.get(field).and_then(Value::as_str).map(str::to_owned))
        .collect())
}

fn forget_missing(refreshed: &mut Refreshed, kind: Kind, live: &BTreeSet<String>, what: &str) {
    let gone: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == kind)
        .filter(|resource| !live.contains(resource.live_name()))
        .map(|resource| resource.address.clone())
        .collect();
    for address in gone {
        // A pending entry records an attempt (a failed or killed create), not an object seen
        // on the cluster: it goes quietly, and the plan creates the resource.
        let attempted = refreshed
            .state
            .resource(&address)
            .is_some_and(|resource| resource.pending);
        if !attempted {
            refreshed
                .drift
                .push(format!("`{address}`: the {what} was removed by hand"));
        }
        refreshed.state.remove(&address);
    }
}
