//! Refresh of the nodes: every node's id read live from its host, ghost entries for ids no
//! configured host answers for, nodes gone from the swarm forgotten, labels and roles read back.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::address::{Address, Kind};
use crate::ssh::Script;
use crate::state::{GHOST, LABEL_PREFIX};
use crate::swarm::context::*;
use crate::swarm::facts::{HostFacts, SwarmState};
use crate::swarm::refresh::Refreshed;
use crate::swarm::{Context, StepError};

/// The nodes, read live. Every host whose facts were read says which node it is (its own
/// `Swarm.NodeID`): the state records that id, the bootstrap manager's included; a host that
/// answers outside the swarm is no longer a node; a host that does not answer keeps its
/// recorded id. An entry of the swarm's node list that no host accounts for and that is Down or
/// an unreachable manager is a ghost (a host that left and joined again, a manager that left by
/// force or vanished): the state records it as `node.ghost-ID` so the plan removes it and the
/// quorum check counts it. Then role, availability and labels of every node, from one
/// `docker node inspect`.
pub(in crate::swarm) async fn refresh(
    context: &Context,
    anchor: &str,
    facts: &[HostFacts],
    refreshed: &mut Refreshed,
) -> Result<(), StepError> {
    // The swarm's node ids as the anchor listed them with its facts (else listed now), then
    // every node inspected at once: the inspection says all `docker node ls` would.
    let mut ids = facts
        .iter()
        .find(|facts| facts.host == anchor)
        .map(|facts| facts.nodes.clone())
        .unwrap_or_default();
    if ids.is_empty() {
        let listing = context
            .check(
                anchor,
                &Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"])),
                None,
            )
            .await?;
        ids = listing
            .stdout_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<String>(line.trim()).ok())
            .filter(|id| !id.is_empty())
            .collect();
    }
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    if !ids.is_empty() {
        let output = context.check(anchor, &inspect_script(&ids), None).await?;
        for node in super::super::json_lines(&output.stdout_text()) {
            if let Some(id) = node.get("ID").and_then(Value::as_str) {
                by_id.insert(id.to_owned(), node);
            }
        }
    }
    let live_ids: BTreeSet<String> = by_id.keys().cloned().collect();
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
    for (id, node) in &by_id {
        if accounted.contains(id) {
            continue;
        }
        let text = |pointer: &str| {
            node.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let hostname = text("/Description/Hostname");
        let down = !text("/Status/State").eq_ignore_ascii_case("ready");
        let manager = node.get("ManagerStatus").is_some();
        let lost_manager = text("/ManagerStatus/Reachability").eq_ignore_ascii_case("unreachable");
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
        let role = if manager { "manager" } else { "worker" };
        let id = id.clone();
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
    for (address, id) in &present {
        let Some(node) = by_id.get(id) else { continue };
        let spec = node.get("Spec").cloned().unwrap_or(Value::Null);
        let mut labels = spec
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // `swarmform.*` labels are not the config's: versions before 2026-12-04 put ownership
        // labels on nodes. They are never drift and never removed.
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

/// `docker node inspect` of the swarm's nodes, as the refresh and its read ahead send it.
pub(in crate::swarm) fn inspect_script(ids: &BTreeSet<String>) -> Script {
    Script::new(docker(&["node", "inspect", "--format", "{{json .}}"]).args(ids.iter().cloned()))
}
