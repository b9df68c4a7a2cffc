//! Swarm nodes: joins (with tokens read live once per run), role and availability changes,
//! labels, drains and decommissions.

mod drain;
mod refresh;

pub(in crate::swarm) use drain::{drain, drain_node};
pub(in crate::swarm) use refresh::{inspect_script, refresh};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Kind;
use crate::change::{Action, Mode};
use crate::config::model::{Availability, Role};
use crate::ssh::Script;
use crate::state::LABEL_PREFIX;

use super::SwarmInfo;
use super::Work;
use super::context::*;
use super::{KindStep, PrimitiveStep, Proposal, Step};
use super::{StepError, facts};

/// Records the node id of a node change's host in the run's state, when it was not yet.
pub(super) async fn remember_node_id(context: &Context, work: &Work) -> Result<(), StepError> {
    if work.remote_id().is_some() {
        return Ok(());
    }
    let id = node_id(context, work).await?;
    work.keep_remote_id(&id);
    if let Ok(mut state) = context.state.lock()
        && let Some(resource) = state.resource_mut(&work.address)
    {
        resource.remote_id = Some(id);
    }
    Ok(())
}

/// The node id of a node change's host: recorded, or asked of the host itself.
pub(super) async fn node_id(context: &Context, work: &Work) -> Result<String, StepError> {
    if let Some(id) = work.remote_id() {
        return Ok(id);
    }
    let host = work
        .host
        .clone()
        .unwrap_or_else(|| work.address.name.clone());
    // What the host said last in this run (a join's own answer, say), else asked now.
    let info = facts::membership(context, &host).await?;
    if info.node_id.is_empty() {
        return Err(StepError::Refused(format!(
            "`{host}` is not part of the swarm"
        )));
    }
    Ok(info.node_id)
}

/// `docker swarm join` with a token read live from a manager and never stored or printed.
pub(super) async fn join(
    context: &Context,
    work: &Work,
    role: Role,
    via: &str,
) -> Result<String, StepError> {
    let host = work.host.clone().unwrap_or_default();
    let manager = manager_info(context, via).await?;
    // A join an interrupted run sent may still be settling: wait for it, then adopt the node
    // it made or join again if it failed.
    let mine = facts::membership(context, &host).await?;
    let mine = facts::settled(context, &host, mine).await?;
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
            if (role == Role::Manager) != mine.control_available {
                let verb = if role == Role::Manager {
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
    if mine.local_node_state != "inactive" {
        // `error` (a join that failed on the node's side) or `locked`: a second join would be
        // refused; what to do is the operator's call.
        return Err(StepError::Refused(format!(
            "`{host}` says its swarm state is `{}`, so it cannot join; look at `docker info` on {host}, and if it is in no swarm you keep, leave it (`docker swarm leave --force` on {host}) and apply again",
            mine.local_node_state
        )));
    }
    let token = join_token(context, via, role.as_str()).await?;
    let manager_address = context
        .settings
        .advertise
        .get(via)
        .cloned()
        .unwrap_or_default();
    let manager_address = if manager_address.contains(':') {
        manager_address
    } else {
        format!("{manager_address}:{}", context.settings.listen_port)
    };
    let mut command = docker(&["swarm", "join", "--token"]).secret_arg(token);
    if let Some(advertise) = context.settings.advertise.get(&host).cloned() {
        command = command.arg("--advertise-addr").arg(advertise);
    }
    if let Some(data_path) = context.settings.data_path.get(&host).cloned() {
        command = command.arg("--data-path-addr").arg(data_path);
    }
    command = command.arg(manager_address);
    // The join and the node's own answer after it (its node id), in one round trip.
    let joined = facts::join_swarm(context, &host, command, &manager.cluster_id, "the node must reach the manager on port 2377/tcp, and 7946/tcp+udp and 4789/udp between nodes").await?;
    Ok(joined.node_id)
}

/// A manager's swarm facts, read once per run however many joins ask at the same moment.
pub(super) async fn manager_info(context: &Context, via: &str) -> Result<SwarmInfo, StepError> {
    context
        .managers
        .get(&via.to_owned(), || facts::membership(context, via))
        .await
}

/// A join token, read live from a manager once per run and role; scrubbed from all output.
pub(super) async fn join_token(
    context: &Context,
    via: &str,
    role: &str,
) -> Result<String, StepError> {
    let key = (via.to_owned(), role.to_owned());
    context
        .tokens
        .get(&key, || async {
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
            Ok(token)
        })
        .await
}

/// The config's labels with replace semantics: keys not in the config are removed, except
/// `swarmform.*` ones (ownership labels versions before 2026-12-04 put on nodes). A node is
/// swarmform's because its host is in the config and its id is what that host's dockerd
/// reports; it carries no ownership label, which would cost a `docker node update` per node
/// on a manager, one after another.
pub(super) async fn set_labels(context: &Context, work: &Work, via: &str) -> Result<(), StepError> {
    let wanted: BTreeMap<String, String> = work
        .value("labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let id = node_id(context, work).await?;
    // A node this run's `docker swarm join` made has no labels yet: nothing to read.
    let joined_now = context
        .joined
        .lock()
        .is_ok_and(|joined| joined.contains(&id));
    let mut current: BTreeMap<String, String> = if joined_now {
        BTreeMap::new()
    } else {
        let inspect = context
            .check(
                via,
                &Script::new(
                    docker(&["node", "inspect", "--format", "{{json .Spec.Labels}}"])
                        .arg(id.clone()),
                ),
                None,
            )
            .await?;
        serde_json::from_str(inspect.stdout_text().trim()).unwrap_or_default()
    };
    current.retain(|key, _| !key.starts_with(LABEL_PREFIX));
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

/// A manager recorded in the state, other than `except`, whose swarm answers.
pub(super) async fn answering_manager(
    context: &Context,
    except: &str,
) -> Result<Option<String>, StepError> {
    let managers: Vec<String> = context
        .state
        .lock()
        .map(|state| state.manager_hosts())
        .unwrap_or_default()
        .into_iter()
        .filter(|name| name != except)
        .collect();
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

pub(super) async fn node_rm(
    context: &Context,
    work: &Work,
    via: &str,
    force: bool,
) -> Result<(), StepError> {
    let id = node_id(context, work).await?;
    let inspect = Script::new(
        docker(&["node", "inspect", "--format", "{{json .Status.State}}"]).arg(id.clone()),
    );
    if !force && has_left(context, work, &id).await {
        // Its host is out of the swarm (the Leave step before this one, or an earlier run):
        // the entry goes at once. Managers would show it Down only once they miss its
        // heartbeats (15 s with Docker's defaults), and `docker node rm` refuses it until then.
        return remove_node_entry(context, via, &id, true).await;
    }
    if !force {
        // A node that just left shows as down after a heartbeat or two.
        let gone = context
            .wait(
                &format!("`{}` to show as down", work.address.name),
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
pub(super) async fn remove_node_entry(
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
pub(super) async fn has_left(context: &Context, work: &Work, id: &str) -> bool {
    let host = work
        .host
        .clone()
        .unwrap_or_else(|| work.address.name.clone());
    facts::swarm_info(context, &host)
        .await
        .is_ok_and(|info| info.node_id != id)
}

/// A node's steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum NodeStep {
    /// `docker swarm join` with a token read live from `via`.
    Join {
        role: Role,
        via: String,
    },
    /// Take over a node already in the adopted swarm instead of joining it; `current` is its
    /// role there, changed to `role` from `via` when they differ.
    AdoptNode {
        role: Role,
        current: Role,
        via: String,
    },
    Promote {
        via: String,
    },
    Demote {
        via: String,
    },
    SetAvailability {
        availability: Availability,
        via: String,
    },
    SetLabels {
        via: String,
    },
    /// `docker node update --availability drain`, then wait until its tasks have moved.
    Drain {
        via: String,
    },
    /// `docker swarm leave`; `force` only for the last manager of a destroyed swarm.
    Leave {
        force: bool,
    },
    /// `docker node rm` from a surviving manager; `force` for a node that cannot leave itself.
    NodeRm {
        via: String,
        force: bool,
    },
}

impl KindStep for NodeStep {
    const TAGS: &'static [&'static str] = &[
        "join",
        "adopt_node",
        "promote",
        "demote",
        "set_availability",
        "set_labels",
        "drain",
        "leave",
        "node_rm",
    ];

    fn describe(&self) -> String {
        match self {
            NodeStep::Join { role, via } => {
                format!("join as {} with a token read from {via}", role.as_str())
            }
            NodeStep::AdoptNode { role, current, via } if role == current => format!(
                "adopt the node, already a {} of the swarm (checked from {via})",
                current.as_str()
            ),
            NodeStep::AdoptNode { role, current, via } => format!(
                "adopt the node, a {} of the swarm, and {} it to {} (from {via})",
                current.as_str(),
                if *role == Role::Manager {
                    "promote"
                } else {
                    "demote"
                },
                role.as_str()
            ),
            NodeStep::Promote { via } => format!("promote to manager (from {via})"),
            NodeStep::Demote { via } => format!("demote to worker (from {via})"),
            NodeStep::SetAvailability {
                availability: Availability::Drain,
                via,
            } => format!(
                "set availability to drain and wait until its tasks have moved (from {via})"
            ),
            NodeStep::SetAvailability { availability, via } => {
                format!("set availability to {} (from {via})", availability.as_str())
            }
            NodeStep::SetLabels { via } => format!("set node labels (from {via})"),
            NodeStep::Drain { via } => {
                format!("drain and wait until its tasks have moved (from {via})")
            }
            NodeStep::Leave { force: false } => "docker swarm leave".to_owned(),
            NodeStep::Leave { force: true } => "docker swarm leave --force".to_owned(),
            NodeStep::NodeRm { via, force: false } => format!("docker node rm (from {via})"),
            NodeStep::NodeRm { via, force: true } => {
                format!("docker node rm --force (from {via})")
            }
        }
    }

    fn destroys(&self) -> bool {
        matches!(
            self,
            NodeStep::Drain { .. }
                | NodeStep::Demote { .. }
                | NodeStep::Leave { .. }
                | NodeStep::NodeRm { .. }
        )
    }
}

impl NodeStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        let host = work.host.clone().unwrap_or_default();
        match self {
            NodeStep::Join { role, via } | NodeStep::AdoptNode { role, via, .. } => {
                join(context, work, *role, via).await.map(Some)
            }
            NodeStep::Promote { via } => {
                let id = node_id(context, work).await?;
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
                let inspect = Script::new(
                    docker(&["node", "inspect", "--format", "{{json .}}"]).arg(id.clone()),
                );
                let name = work.address.name.clone();
                context
                    .wait(&format!("`{name}` to be a reachable manager"), || async {
                        let output = context.check(via, &inspect, None).await?;
                        let node: Value = serde_json::from_str(output.stdout_text().trim())
                            .unwrap_or(Value::Null);
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
            NodeStep::Demote { via } => {
                let id = node_id(context, work).await?;
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
            NodeStep::SetAvailability {
                availability: Availability::Drain,
                via,
            } => {
                // Docker only flips the desired state: wait, as a decommission does, until the
                // tasks have stopped there and run elsewhere.
                drain(context, work, via).await?;
                Ok(None)
            }
            NodeStep::SetAvailability { availability, via } => {
                let id = node_id(context, work).await?;
                context
                    .check(
                        via,
                        &Script::new(
                            docker(&["node", "update", "--availability"])
                                .arg(availability.as_str())
                                .arg(id),
                        ),
                        None,
                    )
                    .await?;
                Ok(None)
            }
            NodeStep::SetLabels { via } => {
                set_labels(context, work, via).await?;
                Ok(None)
            }
            NodeStep::Drain { via } => {
                drain(context, work, via).await?;
                Ok(None)
            }
            NodeStep::Leave { force } => {
                let target = if work.address.kind == Kind::Swarm {
                    work.host.clone().unwrap_or_default()
                } else {
                    host.clone()
                };
                if !*force
                    && work.address.kind == Kind::Node
                    && work.before("role").and_then(Value::as_str) == Some("manager")
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
            NodeStep::NodeRm { via, force } => {
                node_rm(context, work, via, *force).await?;
                Ok(None)
            }
        }
    }
}

/// What a node change takes. A node that goes is drained, demoted (a manager), leaves, and its
/// entry is removed from a surviving manager; the last manager of a destroyed swarm leaves with
/// the swarm instead. A new node joins (the bootstrap manager has run `swarm init`), gets its
/// availability and its labels (the config's; an adopted node's others are removed).
pub fn steps(change: &Proposal) -> Vec<Step> {
    let via = change.anchor.to_owned();
    let name = &change.address.name;
    let mut steps: Vec<Step> = Vec::new();
    if change.deletes() {
        if change.mode == Mode::Destroy && name == change.anchor {
            steps.push(
                PrimitiveStep::Forget {
                    why: "the last manager leaves when `swarm` is destroyed".to_owned(),
                }
                .into(),
            );
        } else {
            steps.push(NodeStep::Drain { via: via.clone() }.into());
            if change.role(true) == Some(Role::Manager) {
                steps.push(NodeStep::Demote { via: via.clone() }.into());
            }
            steps.push(NodeStep::Leave { force: false }.into());
            steps.push(
                NodeStep::NodeRm {
                    via: via.clone(),
                    force: false,
                }
                .into(),
            );
        }
    }
    let availability = change
        .after("availability")
        .and_then(Value::as_str)
        .and_then(Availability::parse);
    if change.creates() {
        if name != change.bootstrap || change.swarm_recorded {
            steps.push(
                NodeStep::Join {
                    role: change.role(false).unwrap_or(Role::Worker),
                    via: via.clone(),
                }
                .into(),
            );
        }
        if let Some(availability) = availability.filter(|value| *value != Availability::Active) {
            steps.push(
                NodeStep::SetAvailability {
                    availability,
                    via: via.clone(),
                }
                .into(),
            );
        }
        steps.push(NodeStep::SetLabels { via: via.clone() }.into());
    }
    if change.action == Action::Update {
        if change.changed("role") {
            steps.push(if change.role(false) == Some(Role::Manager) {
                NodeStep::Promote { via: via.clone() }.into()
            } else {
                NodeStep::Demote { via: via.clone() }.into()
            });
        }
        if change.changed("availability")
            && let Some(availability) = availability
        {
            steps.push(
                NodeStep::SetAvailability {
                    availability,
                    via: via.clone(),
                }
                .into(),
            );
        }
        if change.changed("labels") {
            steps.push(NodeStep::SetLabels { via }.into());
        }
    }
    steps
}

/// Removing a node whose host cannot be reached (or a ghost entry): demoted when it was a
/// manager, then removed by force from the plan's manager.
pub fn unreachable_steps(change: &Proposal) -> Vec<Step> {
    let via = change.anchor.to_owned();
    let mut steps: Vec<Step> = Vec::new();
    if change.role(true) == Some(Role::Manager) {
        steps.push(NodeStep::Demote { via: via.clone() }.into());
    }
    steps.push(NodeStep::NodeRm { via, force: true }.into());
    steps
}
