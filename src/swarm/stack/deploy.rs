//! `docker stack deploy` of the rendered compose file, and the wait until every service has
//! converged, failing fast on tasks Docker rejected for good.

use crate::swarm::Work;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use super::duration_text;
use crate::ssh::Script;
use crate::swarm::{Context, StepError, docker, json_format, json_lines};

/// How long a deploy waits for its services when the stack sets no `converge_timeout`.
pub const DEFAULT_CONVERGE_TIMEOUT: Duration = Duration::from_secs(300);

/// `docker stack deploy`, then the wait until every service runs its replicas and no update is
/// in progress. A service Docker rolled back or paused, or one still short of replicas at
/// `converge_timeout`, fails the step with its tasks' own errors.
pub(in crate::swarm) async fn stack_deploy(
    context: &Context,
    work: &Work,
    via: &str,
) -> Result<(), StepError> {
    let resource = work.configured()?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| work.address.name.clone());
    let compose = resource
        .payload("compose")
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    // The ownership labels go into what is sent, never into the desired attributes: the
    // plan and the compose hash stay as the config makes them.
    let compose = crate::swarm::ownership::label_compose(
        &compose,
        &work.address,
        &crate::swarm::ownership::lineage(context),
    )
    .map_err(|error| {
        StepError::Refused(format!(
            "the compose file of `{}` could not be labelled: {error}",
            work.address
        ))
    })?;
    let timeout = work
        .value("converge_timeout")
        .and_then(Value::as_str)
        .and_then(crate::config::check::parse_duration)
        .unwrap_or(DEFAULT_CONVERGE_TIMEOUT);
    let mut command = docker(&["stack", "deploy", "--compose-file", "-"]);
    if work.value("prune").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--prune");
    }
    if work.value("with_registry_auth").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--with-registry-auth");
    }
    // Docker 26 added `--detach` (20.10 refuses it) and warns when it is not given; swarmform
    // waits for the services itself, within `converge_timeout`, so it asks for what 20.10
    // did: return once the services are created. (`--detach=false` would wait in the CLI
    // without a bound: seen on the lab with a task that cannot start.) Unknown version (a
    // saved plan): no flag, which every version takes.
    if context.docker_major(via).is_some_and(|major| major >= 26) {
        command = command.arg("--detach=true");
    }
    let script = Script::new(command.arg(name.clone())).stdin(compose);
    context.check(via, &script, None).await?;
    let started = std::time::Instant::now();
    loop {
        let problems = convergence(context, via, &name).await?;
        if problems.is_empty() {
            return Ok(());
        }
        let timed_out = started.elapsed() >= timeout;
        let mut problems = problems;
        if !timed_out && problems.iter().all(|problem| !problem.failed) {
            rejected_for_good(context, via, &mut problems).await?;
        }
        let failed: Vec<&Problem> = problems.iter().filter(|problem| problem.failed).collect();
        if failed.is_empty() && !timed_out {
            tokio::time::sleep(context.poll).await;
            continue;
        }
        let shown: Vec<&Problem> = if failed.is_empty() {
            problems.iter().collect()
        } else {
            failed
        };
        let headline = if timed_out && shown.iter().all(|problem| !problem.failed) {
            format!(
                "the services of stack `{name}` did not converge within {}",
                duration_text(timeout)
            )
        } else {
            format!("the deploy of stack `{name}` failed")
        };
        let mut message = headline;
        let services: Vec<String> = shown
            .iter()
            .map(|problem| problem.service.clone())
            .collect();
        let errors = task_errors(context, via, &services).await?;
        for problem in &shown {
            message.push_str(&format!(
                "\n  service `{}`: {}",
                problem.service, problem.what
            ));
            match errors.get(&problem.service) {
                Some(lines) if !lines.is_empty() => {
                    message.push_str("; its tasks failed:");
                    for line in lines {
                        message.push_str(&format!("\n    {line}"));
                    }
                }
                _ => {}
            }
        }
        let hint = if shown.iter().any(|problem| problem.failed) {
            format!(
                "fix what the task errors say and apply again; `docker service ps {} --no-trunc` on {via} shows every task",
                services.join(" ")
            )
        } else {
            format!(
                "fix what the task errors say, or raise `converge_timeout` in `[stacks.{}]` if the services only need longer",
                work.address.name
            )
        };
        message.push_str(&format!("\nhint: {hint}"));
        return Err(StepError::Refused(context.scrub(&message)));
    }
}

/// A service of a deploy that is not (yet) as it should be.
#[derive(Debug)]
struct Problem {
    service: String,
    what: String,
    /// Docker gave up on it (rolled back, paused), or every task was rejected for a reason
    /// that does not heal: waiting longer changes nothing.
    failed: bool,
    /// Short of replicas (no update in progress).
    short: bool,
}

/// Marks as failed the services short of replicas whose every task Docker rejected for a
/// reason waiting cannot heal (see [`permanent_rejection`]).
async fn rejected_for_good(
    context: &Context,
    via: &str,
    problems: &mut [Problem],
) -> Result<(), StepError> {
    let mut eligible: Option<Vec<Value>> = None;
    for problem in problems.iter_mut().filter(|problem| problem.short) {
        let script = Script::new(
            docker(&["service", "ps", "--no-trunc"])
                .args(json_format())
                .arg(problem.service.clone()),
        );
        let output = context.run(via, &script).await?;
        let tasks = json_lines(&output.stdout_text());
        if newest_rejections(&tasks).is_none() {
            continue;
        }
        // The nodes are read only once the tasks look rejected for good.
        let error = match permanent_rejection(&tasks, None) {
            Some(error) => Some(error),
            None => {
                let nodes = match &eligible {
                    Some(nodes) => nodes.clone(),
                    None => {
                        let nodes = node_descriptions(context, via).await?;
                        eligible = Some(nodes.clone());
                        nodes
                    }
                };
                let hostnames = may_run_on(context, via, &problem.service, &nodes).await?;
                permanent_rejection(&tasks, Some(&hostnames))
            }
        };
        if let Some(error) = error {
            problem.what = format!(
                "{}; Docker rejected every task, on every node that may run it: {error}",
                problem.what
            );
            problem.failed = true;
        }
    }
    Ok(())
}

/// The hostnames of `nodes` where Docker may place a task of `service`.
async fn may_run_on(
    context: &Context,
    via: &str,
    service: &str,
    nodes: &[Value],
) -> Result<BTreeSet<String>, StepError> {
    let constraints = Script::new(
        docker(&[
            "service",
            "inspect",
            "--format",
            "{{json .Spec.TaskTemplate.Placement.Constraints}}",
        ])
        .arg(service.to_owned()),
    );
    let constraints: Vec<String> =
        serde_json::from_str(context.run(via, &constraints).await?.stdout_text().trim())
            .unwrap_or_default();
    Ok(nodes
        .iter()
        .filter(|node| may_run(node, &constraints))
        .filter_map(|node| node["Description"]["Hostname"].as_str())
        .map(str::to_owned)
        .collect())
}

/// `docker node inspect` of every node, from a manager.
async fn node_descriptions(context: &Context, via: &str) -> Result<Vec<Value>, StepError> {
    let list = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
    let ids: Vec<String> = context
        .check(via, &list, None)
        .await?
        .stdout_text()
        .lines()
        .map(|line| line.trim().trim_matches('"').to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let inspect = Script::new(docker(&["node", "inspect"]).args(json_format()).args(ids));
    Ok(json_lines(
        &context.check(via, &inspect, None).await?.stdout_text(),
    ))
}

/// Whether Docker may place a task of a service with `constraints` on `node` (a `docker node
/// inspect`): Ready, active, and every constraint it can tell holds. A constraint on
/// something else counts as holding, so such a node is still waited for.
fn may_run(node: &Value, constraints: &[String]) -> bool {
    if node["Status"]["State"].as_str() != Some("ready")
        || node["Spec"]["Availability"].as_str() != Some("active")
    {
        return false;
    }
    constraints.iter().all(|constraint| {
        let (key, equal, value) = match (constraint.split_once("=="), constraint.split_once("!=")) {
            (Some((key, value)), _) => (key, true, value),
            (None, Some((key, value))) => (key, false, value),
            (None, None) => return true,
        };
        let (key, value) = (key.trim(), value.trim());
        let actual = match key {
            "node.id" => node["ID"].as_str(),
            "node.hostname" => node["Description"]["Hostname"].as_str(),
            "node.role" => node["Spec"]["Role"].as_str(),
            "node.platform.os" => node["Description"]["Platform"]["OS"].as_str(),
            _ => match key.strip_prefix("node.labels.") {
                Some(label) => node["Spec"]["Labels"][label].as_str(),
                None => return true,
            },
        };
        actual.is_some_and(|actual| actual.eq_ignore_ascii_case(value)) == equal
    })
}

/// Task errors no wait heals. Some hold for every node (a secret, config or network the
/// service names does not exist); the others may be one node's (an image or a bind mount's
/// source missing there), so they count only once every node that may run the task said so.
const CLUSTER_WIDE_ERRORS: [&str; 3] = ["secret not found", "config not found", "network"];
const NODE_ERRORS: [&str; 6] = [
    "no such image",
    "pull access denied",
    "manifest unknown",
    "bind source path does not exist",
    "invalid mount config",
    "executable file not found",
];

/// A task error without the quotes the CLI puts around it.
fn task_error(task: &Value) -> String {
    let error = task
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim();
    error
        .strip_prefix('"')
        .and_then(|error| error.strip_suffix('"'))
        .unwrap_or(error)
        .to_owned()
}

fn is_cluster_wide(error: &str) -> bool {
    let lower = error.to_ascii_lowercase();
    CLUSTER_WIDE_ERRORS[..2]
        .iter()
        .any(|pattern| lower.contains(pattern))
        || (lower.contains(CLUSTER_WIDE_ERRORS[2]) && lower.contains("not found"))
}

fn is_lasting(error: &str) -> bool {
    let lower = error.to_ascii_lowercase();
    is_cluster_wide(error) || NODE_ERRORS.iter().any(|pattern| lower.contains(pattern))
}

/// From `docker service ps` (slot by slot, newest first): the newest task of each slot, when
/// every one was rejected (or failed) for a lasting reason and no task of the service runs
/// or is on its way; `None` otherwise.
fn newest_rejections(tasks: &[Value]) -> Option<Vec<&Value>> {
    let state = |task: &Value| {
        task.get("CurrentState")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let live = tasks.iter().any(|task| {
        matches!(
            state(task).as_str(),
            "New"
                | "Pending"
                | "Assigned"
                | "Accepted"
                | "Preparing"
                | "Ready"
                | "Starting"
                | "Running"
        )
    });
    if live || tasks.is_empty() {
        return None;
    }
    let mut seen = BTreeSet::new();
    let newest: Vec<&Value> = tasks
        .iter()
        .filter(|task| {
            let name = task.get("Name").and_then(Value::as_str).unwrap_or_default();
            seen.insert(name.trim_start_matches(" \\_ ").trim().to_owned())
        })
        .collect();
    newest
        .iter()
        .all(|task| {
            matches!(state(task).as_str(), "Rejected" | "Failed") && is_lasting(&task_error(task))
        })
        .then_some(newest)
}

/// The error to quote when a service's tasks were rejected for good: every slot's newest task
/// rejected for a lasting reason, none running or on its way, and, for an error a single node
/// may cause (an image missing there), every node in `eligible` (the hostnames that may run
/// the service; `None` while unknown) has rejected one.
fn permanent_rejection(tasks: &[Value], eligible: Option<&BTreeSet<String>>) -> Option<String> {
    let newest = newest_rejections(tasks)?;
    if let Some(task) = newest
        .iter()
        .find(|task| is_cluster_wide(&task_error(task)))
    {
        return Some(task_error(task));
    }
    let eligible = eligible?;
    let rejected_on: BTreeSet<String> = tasks
        .iter()
        .filter(|task| is_lasting(&task_error(task)))
        .filter_map(|task| task.get("Node").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    (!eligible.is_empty() && eligible.is_subset(&rejected_on))
        .then(|| newest.first().map(|task| task_error(task)))
        .flatten()
}

/// The stack's services that are short of replicas or whose update did not complete.
async fn convergence(context: &Context, via: &str, stack: &str) -> Result<Vec<Problem>, StepError> {
    let services = Script::new(
        docker(&["stack", "services"])
            .arg(stack.to_owned())
            .args(json_format()),
    );
    let output = context.check(via, &services, None).await?;
    let mut problems = Vec::new();
    let mut names = Vec::new();
    for line in output
        .stdout_text()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        let service: Value = serde_json::from_str(line).map_err(|error| StepError::Unexpected {
            host: via.to_owned(),
            command: services.display(),
            detail: error.to_string(),
        })?;
        let Some(name) = service.get("Name").and_then(Value::as_str) else {
            continue;
        };
        names.push(name.to_owned());
        let replicas = service
            .get("Replicas")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some((running, wanted)) = replicas.split_once('/') {
            let wanted = wanted.split_whitespace().next().unwrap_or(wanted);
            if running != wanted {
                problems.push(Problem {
                    service: name.to_owned(),
                    what: format!("{running} of {wanted} replicas running"),
                    failed: false,
                    short: true,
                });
            }
        }
    }
    if names.is_empty() {
        return Ok(problems);
    }
    // Replicas read N/N during a rolling update, and after a rollback: the update status says.
    let inspect = Script::new(
        docker(&["service", "inspect", "--format", "{{json .UpdateStatus}}"])
            .args(names.iter().cloned()),
    );
    let statuses = context.check(via, &inspect, None).await?;
    for (name, line) in names.iter().zip(statuses.stdout_text().lines()) {
        let status: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
        let state = status
            .get("State")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let message = status
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (what, failed) = match state {
            "updating" => (format!("update in progress ({message})"), false),
            "rollback_started" => (
                format!("its update failed and Docker is rolling it back ({message})"),
                false,
            ),
            "rollback_completed" => (
                format!(
                    "its update failed and Docker rolled it back ({message}); the previous version is running"
                ),
                true,
            ),
            "paused" => (
                format!("its update failed and Docker paused it ({message})"),
                true,
            ),
            "rollback_paused" => (
                format!(
                    "its update failed and so did the rollback, which Docker paused ({message})"
                ),
                true,
            ),
            _ => continue,
        };
        problems.retain(|problem| &problem.service != name);
        problems.push(Problem {
            service: name.clone(),
            what,
            failed,
            short: false,
        });
    }
    Ok(problems)
}

/// The failed and rejected tasks of each service, newest first, one line each:
/// `web_web.1 on node2: Rejected: No such image: x:1`, from `docker service ps --no-trunc`.
async fn task_errors(
    context: &Context,
    via: &str,
    services: &[String],
) -> Result<BTreeMap<String, Vec<String>>, StepError> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for service in services {
        let script = Script::new(
            docker(&["service", "ps", "--no-trunc"])
                .args(json_format())
                .arg(service.clone()),
        );
        let output = context.run(via, &script).await?;
        let mut seen = BTreeSet::new();
        let lines = errors.entry(service.clone()).or_default();
        for line in output.stdout_text().lines() {
            let Ok(task) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let text = |key: &str| {
                task.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            // The CLI quotes the error: `"No such image: x:1"`.
            let error = text("Error");
            let error = error
                .strip_prefix('"')
                .and_then(|error| error.strip_suffix('"'))
                .map_or(error.clone(), str::to_owned);
            let state = text("CurrentState");
            let state = state.split_whitespace().next().unwrap_or_default();
            if error.is_empty() && !matches!(state, "Failed" | "Rejected") {
                continue;
            }
            let name = text("Name");
            let name = name.trim_start_matches(" \\_ ").trim();
            if !seen.insert((name.to_owned(), error.clone())) || lines.len() >= 5 {
                continue;
            }
            let node = text("Node");
            let on = if node.is_empty() {
                String::new()
            } else {
                format!(" on {node}")
            };
            lines.push(format!("{name}{on}: {state}: {error}"));
        }
    }
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(name: &str, node: &str, state: &str, error: &str) -> Value {
        json!({"Name": name, "Node": node, "CurrentState": format!("{state} 2 seconds ago"), "DesiredState": "Ready", "Error": if error.is_empty() { String::new() } else { format!("{error:?}") }})
    }

    #[test]
    fn a_deploy_fails_fast_only_once_every_node_rejected_for_good() {
        // "No such image" may be one node's: it counts once every node that may run the
        // service said so, and never while a task runs, starts or a slot's newest attempt
        // did not fail. A missing secret fails at once.
        let image = "No such image: x:1";
        let eligible: BTreeSet<String> = ["node2", "node3"].map(str::to_owned).into();
        let one_node = [
            task("a_web.1", "node2", "Rejected", image),
            task("a_web.2", "node2", "Rejected", image),
        ];
        assert_eq!(permanent_rejection(&one_node, Some(&eligible)), None);
        assert_eq!(permanent_rejection(&one_node, None), None);
        let every_node = [
            task("a_web.1", "node2", "Rejected", image),
            task("a_web.1", "node3", "Rejected", image),
            task("a_web.2", "node3", "Rejected", image),
        ];
        assert_eq!(
            permanent_rejection(&every_node, Some(&eligible)).as_deref(),
            Some(image)
        );
        let healed = [
            task("a_web.1", "node3", "Running", ""),
            task("a_web.1", "node2", "Rejected", image),
            task("a_web.2", "node3", "Rejected", image),
            task("a_web.2", "node2", "Rejected", image),
        ];
        assert_eq!(permanent_rejection(&healed, Some(&eligible)), None);
        let passing = [
            task("a_web.1", "node2", "Rejected", "task: non-zero exit (1)"),
            task("a_web.1", "node3", "Rejected", image),
        ];
        assert_eq!(permanent_rejection(&passing, Some(&eligible)), None);
        let secret = [task(
            "a_web.1",
            "node2",
            "Rejected",
            "secret not found: db-1",
        )];
        assert_eq!(
            permanent_rejection(&secret, None).as_deref(),
            Some("secret not found: db-1")
        );
    }

    #[test]
    fn placement_decides_which_nodes_are_waited_for() {
        // Only Ready, active nodes that satisfy the constraints may run a task; a constraint
        // that cannot be read holds, so that node is still waited for.
        let node = |hostname: &str, role: &str, availability: &str| json!({"ID": format!("id-{hostname}"), "Spec": {"Role": role, "Availability": availability, "Labels": {"zone": "a"}}, "Description": {"Hostname": hostname, "Platform": {"OS": "linux"}}, "Status": {"State": "ready"}});
        let worker = ["node.role == worker".to_owned()];
        assert!(may_run(&node("n2", "worker", "active"), &worker));
        assert!(!may_run(&node("n1", "manager", "active"), &worker));
        assert!(!may_run(&node("n3", "worker", "drain"), &worker));
        assert!(may_run(
            &node("n2", "worker", "active"),
            &[
                "node.labels.zone == a".to_owned(),
                "engine.labels.x == y".to_owned()
            ]
        ));
        assert!(!may_run(
            &node("n2", "worker", "active"),
            &["node.labels.zone != a".to_owned()]
        ));
    }
}
