//! Draining a node: `docker node update --availability drain`, then waiting until its tasks have
//! stopped there and run elsewhere (a decommission, a dockerd restart, `availability = "drain"`).

use serde_json::Value;

use crate::ssh::Script;
use crate::swarm::context::*;
use crate::swarm::{StepError, Work};

use super::node_id;

/// Decommission: drain the node, wait until nothing runs on it any more, then until the
/// services that ran there have their replicas running elsewhere (or say why they cannot).
pub(in crate::swarm) async fn drain(
    context: &Context,
    work: &Work,
    via: &str,
) -> Result<(), StepError> {
    let id = node_id(context, work).await?;
    let name = work.address.name.clone();
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
pub(in crate::swarm) async fn drain_node(
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
pub(in crate::swarm) fn live_tasks(tasks: &[Value]) -> usize {
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
pub(in crate::swarm) async fn task_errors(
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
