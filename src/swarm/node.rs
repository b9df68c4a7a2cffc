//! Swarm nodes: joins (with tokens read live once per run), role and availability changes,
//! labels, drains and decommissions.

use std::collections::BTreeMap;

use serde_json::Value;

use super::context::*;
use super::{StepError, facts};
use super::{SwarmInfo, ownership};
use crate::plan::Change;
use crate::ssh::Script;

/// Records the node id of a node change's host in the run's state, when it was not yet.
pub(super) async fn remember_node_id(context: &Context, change: &Change) -> Result<(), StepError> {
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

/// The node id of a node change's host: recorded, or asked of the host itself.
pub(super) async fn node_id(context: &Context, change: &Change) -> Result<String, StepError> {
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
pub(super) async fn join(
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
pub(super) async fn manager_info(context: &Context, via: &str) -> Result<SwarmInfo, StepError> {
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
pub(super) async fn join_token(
    context: &Context,
    via: &str,
    role: &str,
) -> Result<String, StepError> {
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
pub(super) async fn set_labels(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<(), StepError> {
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
pub(super) async fn drain(context: &Context, change: &Change, via: &str) -> Result<(), StepError> {
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
pub(super) async fn drain_node(
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
pub(super) fn live_tasks(tasks: &[Value]) -> usize {
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
pub(super) async fn task_errors(
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

/// A manager recorded in the state, other than `except`, whose swarm answers.
pub(super) async fn answering_manager(
    context: &Context,
    except: &str,
) -> Result<Option<String>, StepError> {
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

pub(super) async fn node_rm(
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
pub(super) async fn has_left(context: &Context, change: &Change, id: &str) -> bool {
    let host = change
        .host
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    facts::swarm_info(context, &host)
        .await
        .is_ok_and(|info| info.node_id != id)
}
