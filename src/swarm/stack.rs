//! Stacks: `docker stack deploy` of the rendered compose file, the wait until every service
//! has converged, and `docker stack rm`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use super::{Context, StepError, attribute, docker, json_format};
use crate::address::{Address, Kind};
use crate::config::desired::redact;
use crate::plan::{Change, Step};
use crate::ssh::{RemoteCommand, Script};
use crate::state::State;

/// How long a deploy waits for its services when the stack sets no `converge_timeout`.
pub const DEFAULT_CONVERGE_TIMEOUT: Duration = Duration::from_secs(300);

/// `docker stack deploy`, then the wait until every service runs its replicas and no update is
/// in progress. A service Docker rolled back or paused, or one still short of replicas at
/// `converge_timeout`, fails the step with its tasks' own errors.
pub(super) async fn stack_deploy(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<(), StepError> {
    let resource = context.configured(&change.address)?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    let compose = resource
        .payload("compose")
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    // The ownership labels go into what is sent, never into the desired attributes: the
    // plan and the compose hash stay as the config makes them.
    let compose = super::ownership::label_compose(
        &compose,
        &change.address,
        &super::ownership::lineage(context),
    )
    .map_err(|error| {
        StepError::Refused(format!(
            "the compose file of `{}` could not be labelled: {error}",
            change.address
        ))
    })?;
    let timeout = attribute(change, "converge_timeout")
        .and_then(Value::as_str)
        .and_then(crate::config::check::parse_duration)
        .unwrap_or(DEFAULT_CONVERGE_TIMEOUT);
    let mut command = docker(&["stack", "deploy", "--compose-file", "-"]);
    if attribute(change, "prune").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--prune");
    }
    if attribute(change, "with_registry_auth").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--with-registry-auth");
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
                change.address.name
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
        let tasks = super::json_lines(&output.stdout_text());
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
    Ok(super::json_lines(
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

/// `300s` → `5m`, `90s` → `1m30s`, as the config writes durations.
fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if duration.subsec_millis() != 0 || seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 {
        text.push_str(&format!("{seconds}s"));
    }
    text
}

pub(super) async fn stack_remove(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<(), StepError> {
    let name = context
        .state
        .lock()
        .ok()
        .and_then(|state| {
            state
                .resource(&change.address)
                .and_then(|resource| resource.docker_name.clone())
        })
        .or_else(|| {
            context
                .resource(&change.address)
                .and_then(|resource| resource.docker_name.clone())
        })
        .unwrap_or_else(|| change.address.name.clone());
    context
        .check(
            via,
            &Script::new(docker(&["stack", "rm"]).arg(name.clone())),
            None,
        )
        .await?;
    let tasks = Script::new(
        docker(&["stack", "ps"])
            .arg(name.clone())
            .args(json_format()),
    );
    context
        .wait(&format!("the tasks of stack `{name}` to stop"), || async {
            let output = context.run(via, &tasks).await?;
            let remaining = if output.success() {
                output
                    .stdout_text()
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .count()
            } else {
                0
            };
            Ok(if remaining == 0 {
                Ok(())
            } else {
                Err(format!("{remaining} tasks"))
            })
        })
        .await
}

/// The label `docker stack deploy` puts on every object of a stack.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

/// One service as plans compare it: what `docker stack deploy` makes of the compose file, and
/// what `docker service inspect` says the cluster runs, in one normalised shape so a freshly
/// deployed stack compares equal and a change made by hand shows field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSummary {
    /// The image without the `@sha256:` digest Docker pins, with `:latest` when untagged.
    pub image: String,
    /// `None` for a global service.
    pub replicas: Option<u64>,
    /// `PUBLISHED:TARGET/PROTOCOL MODE` (or `TARGET/PROTOCOL MODE` when Docker picks the
    /// published port), sorted.
    pub ports: Vec<String>,
    /// `KEY=VALUE`, sorted, sensitive values redacted.
    pub environment: Vec<String>,
    /// Placement constraints, sorted.
    pub placement: Vec<String>,
}

impl ServiceSummary {
    pub fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("image".to_owned(), Value::from(self.image.clone()));
        object.insert(
            "replicas".to_owned(),
            self.replicas.map_or(Value::from("global"), Value::from),
        );
        for (name, values) in [
            ("ports", &self.ports),
            ("environment", &self.environment),
            ("placement", &self.placement),
        ] {
            if !values.is_empty() {
                object.insert(name.to_owned(), Value::from(values.clone()));
            }
        }
        Value::Object(object)
    }

    fn normalised(mut self, sensitive: &[String]) -> ServiceSummary {
        self.image = normalise_image(&self.image);
        self.environment = self
            .environment
            .iter()
            .map(|entry| redact_variable(entry, sensitive))
            .collect();
        for values in [&mut self.ports, &mut self.environment, &mut self.placement] {
            values.sort();
        }
        self
    }
}

/// An environment entry whose value holds a sensitive value is `KEY=(sensitive)` as a whole:
/// the cluster may hold an older secret swarmform no longer knows, and it must not show.
fn redact_variable(entry: &str, sensitive: &[String]) -> String {
    if redact(entry, sensitive) == entry {
        return entry.to_owned();
    }
    let key = entry.split_once('=').map_or(entry, |(key, _)| key);
    format!("{key}={SENSITIVE}")
}

const SENSITIVE: &str = "(sensitive)";

/// The keys of a summary's environment whose value is redacted.
fn sensitive_keys(summary: Option<&Value>, keys: &mut BTreeSet<String>) {
    let entries = summary
        .and_then(|summary| summary.get("environment"))
        .and_then(Value::as_array);
    for entry in entries.into_iter().flatten().filter_map(Value::as_str) {
        if let Some((key, value)) = entry.split_once('=')
            && value == SENSITIVE
        {
            keys.insert(key.to_owned());
        }
    }
}

/// `nginx` → `nginx:latest`; `nginx:1.27@sha256:…` → `nginx:1.27`.
fn normalise_image(image: &str) -> String {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.is_empty() || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

fn port_text(published: Option<u64>, target: u64, protocol: &str, mode: &str) -> String {
    match published.filter(|published| *published != 0) {
        Some(published) => format!("{published}:{target}/{protocol} {mode}"),
        None => format!("{target}/{protocol} {mode}"),
    }
}

fn yaml_text(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(text) => Some(text.clone()),
        serde_norway::Value::Number(number) => Some(number.to_string()),
        serde_norway::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn yaml_number(value: &serde_norway::Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| yaml_text(value).and_then(|text| text.trim().parse().ok()))
}

/// A compose port, short (`8080:80/udp`, `80`) or long (`{ target, published, protocol,
/// mode }`) syntax.
fn compose_port(value: &serde_norway::Value) -> Option<String> {
    if let Some(target) = value.get("target").and_then(yaml_number) {
        let published = value.get("published").and_then(yaml_number);
        let protocol = value
            .get("protocol")
            .and_then(yaml_text)
            .unwrap_or_else(|| "tcp".to_owned());
        let mode = value
            .get("mode")
            .and_then(yaml_text)
            .unwrap_or_else(|| "ingress".to_owned());
        return Some(port_text(published, target, &protocol, &mode));
    }
    let text = yaml_text(value)?;
    let (ports, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
    let parts: Vec<&str> = ports.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [target] => (None, *target),
        [published, target] | [_, published, target] => (Some(*published), *target),
        _ => return Some(text.clone()),
    };
    let Ok(target) = target.parse::<u64>() else {
        return Some(text.clone());
    };
    let published = published.and_then(|published| published.parse().ok());
    Some(port_text(published, target, protocol, "ingress"))
}

/// `environment` as a map (`KEY: value`, `KEY:` for a bare name) or a list (`KEY=value`).
fn compose_environment(value: Option<&serde_norway::Value>) -> Vec<String> {
    match value {
        Some(serde_norway::Value::Mapping(entries)) => entries
            .iter()
            .filter_map(|(key, value)| {
                let key = yaml_text(key)?;
                Some(match yaml_text(value) {
                    Some(value) => format!("{key}={value}"),
                    None => key,
                })
            })
            .collect(),
        Some(serde_norway::Value::Sequence(items)) => items.iter().filter_map(yaml_text).collect(),
        _ => Vec::new(),
    }
}

/// The desired summary of every service of a parsed compose file, keyed by Docker's service
/// name (`STACK_SERVICE`), with Docker's defaults (1 replica, ingress ports, tcp).
pub fn desired_services(compose: &serde_norway::Value, stack: &str, sensitive: &[String]) -> Value {
    let mut services = serde_json::Map::new();
    let Some(entries) = compose
        .get("services")
        .and_then(serde_norway::Value::as_mapping)
    else {
        return Value::Object(services);
    };
    for (key, service) in entries {
        let Some(key) = yaml_text(key) else { continue };
        let deploy = service.get("deploy");
        let global = deploy
            .and_then(|deploy| deploy.get("mode"))
            .and_then(yaml_text)
            .as_deref()
            == Some("global");
        let summary = ServiceSummary {
            image: service.get("image").and_then(yaml_text).unwrap_or_default(),
            replicas: (!global).then(|| {
                deploy
                    .and_then(|deploy| deploy.get("replicas"))
                    .and_then(yaml_number)
                    .unwrap_or(1)
            }),
            ports: service
                .get("ports")
                .and_then(serde_norway::Value::as_sequence)
                .map(|ports| ports.iter().filter_map(compose_port).collect())
                .unwrap_or_default(),
            environment: compose_environment(service.get("environment")),
            placement: deploy
                .and_then(|deploy| deploy.get("placement"))
                .and_then(|placement| placement.get("constraints"))
                .and_then(serde_norway::Value::as_sequence)
                .map(|constraints| constraints.iter().filter_map(yaml_text).collect())
                .unwrap_or_default(),
        };
        services.insert(
            format!("{stack}_{key}"),
            summary.normalised(sensitive).to_json(),
        );
    }
    Value::Object(services)
}

/// The summary of one service from `docker service inspect --format '{{json .}}'`, with the
/// stack it belongs to (its namespace label).
pub fn live_service(inspected: &Value, sensitive: &[String]) -> Option<(String, String, Value)> {
    let spec = inspected.get("Spec")?;
    let name = spec.get("Name")?.as_str()?.to_owned();
    let stack = spec
        .get("Labels")
        .and_then(|labels| labels.get(NAMESPACE_LABEL))
        .and_then(Value::as_str)?
        .to_owned();
    let template = spec.get("TaskTemplate");
    let container = template.and_then(|template| template.get("ContainerSpec"));
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mode = spec.get("Mode");
    let replicas = if mode.and_then(|mode| mode.get("Global")).is_some() {
        None
    } else {
        Some(
            mode.and_then(|mode| mode.get("Replicated"))
                .and_then(|replicated| replicated.get("Replicas"))
                .and_then(Value::as_u64)
                .unwrap_or(1),
        )
    };
    let ports = spec
        .get("EndpointSpec")
        .and_then(|endpoint| endpoint.get("Ports"))
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .map(|port| {
                    let text = |key: &str, default: &str| {
                        port.get(key)
                            .and_then(Value::as_str)
                            .unwrap_or(default)
                            .to_owned()
                    };
                    port_text(
                        port.get("PublishedPort").and_then(Value::as_u64),
                        port.get("TargetPort").and_then(Value::as_u64).unwrap_or(0),
                        &text("Protocol", "tcp"),
                        &text("PublishMode", "ingress"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let summary = ServiceSummary {
        image: container
            .and_then(|container| container.get("Image"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        replicas,
        ports,
        environment: strings(container.and_then(|container| container.get("Env"))),
        placement: strings(
            template
                .and_then(|template| template.get("Placement"))
                .and_then(|placement| placement.get("Constraints")),
        ),
    };
    Some((stack, name, summary.normalised(sensitive).to_json()))
}

/// Every listed service's `docker service inspect --format '{{json .}}'`, in one command; a
/// service removed between the listing and now is simply not reported. Refresh reads the
/// stacks' summaries and the ownership labels and references from it.
pub(super) async fn inspect_services(
    context: &Context,
    anchor: &str,
    services: &BTreeSet<String>,
) -> Result<Vec<Value>, StepError> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    let script = Script::new(
        docker(&["service", "inspect"])
            .args(json_format())
            .args(services.iter().cloned()),
    );
    // The specs hold environment values, possibly a secret since rotated that no scrubbing
    // knows: `-v` shows the command, not its output.
    context.reporter.command(anchor, &script.display());
    let output = context.pool.run(anchor, &script).await?;
    context.reporter.output(
        anchor,
        output.exit_status,
        "(service specs, not shown: they hold environment values)",
        &context.scrub(output.stderr_text().trim()),
    );
    Ok(output
        .stdout_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect())
}

/// Refresh: the live summary of every recorded stack's services, from the services' specs
/// (`inspect_services`), written into the state's `services`. A service scaled, re-imaged or
/// removed by hand then plans as a change back to the config. Labels are not part of a
/// summary, so the ownership labels never show as drift.
pub(super) fn refresh_services(
    context: &Context,
    inspected: &[Value],
    state: &mut State,
    drift: &mut Vec<String>,
) {
    let stacks: Vec<(Address, String)> = state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Stack)
        .map(|resource| (resource.address.clone(), resource.live_name().to_owned()))
        .collect();
    if stacks.is_empty() {
        return;
    }
    let mut live: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    let sensitive = context
        .sensitive
        .lock()
        .map(|values| values.clone())
        .unwrap_or_default();
    for inspected in inspected {
        if let Some((stack, name, summary)) = live_service(inspected, &sensitive) {
            live.entry(stack).or_default().insert(name, summary);
        }
    }
    for (address, name) in stacks {
        let mut now = live.remove(&name).unwrap_or_default();
        let Some(resource) = state
            .resources
            .iter_mut()
            .find(|resource| resource.address == address)
        else {
            continue;
        };
        // A variable sensitive in the config or the state is redacted whole, even when the
        // cluster holds a value this run does not know (a secret since rotated).
        let desired = context
            .resource(&address)
            .and_then(|resource| resource.attributes.get("services"))
            .map(|attribute| attribute.value.clone());
        for (service, summary) in &mut now {
            let mut keys = BTreeSet::new();
            sensitive_keys(
                desired.as_ref().and_then(|services| services.get(service)),
                &mut keys,
            );
            sensitive_keys(
                resource
                    .attributes
                    .get("services")
                    .and_then(|services| services.get(service)),
                &mut keys,
            );
            if let Some(entries) = summary.get_mut("environment").and_then(Value::as_array_mut) {
                for entry in entries.iter_mut() {
                    let key = entry
                        .as_str()
                        .and_then(|entry| entry.split_once('='))
                        .map(|(key, _)| key.to_owned());
                    if let Some(key) = key.filter(|key| keys.contains(key)) {
                        *entry = Value::from(format!("{key}={SENSITIVE}"));
                    }
                }
            }
        }
        let now = Value::Object(now);
        // A pending stack's record is what a failed deploy attempted, not what was seen: the
        // plan deploys it again, and what it left is no drift.
        if let Some(recorded) = resource
            .attributes
            .get("services")
            .filter(|_| !resource.pending)
        {
            for line in service_drift(recorded, &now) {
                drift.push(format!("`{address}`: {line}"));
            }
        }
        resource.attributes.insert("services".to_owned(), now);
    }
}

/// One sentence per service field that differs: `service web_web: replicas is 3 on the
/// cluster, 2 in the state`.
fn service_drift(recorded: &Value, live: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let recorded = recorded.as_object().unwrap_or(&empty);
    let live = live.as_object().unwrap_or(&empty);
    let names: BTreeSet<&String> = recorded.keys().chain(live.keys()).collect();
    let mut lines = Vec::new();
    for name in names {
        match (recorded.get(name), live.get(name)) {
            (Some(_), None) => lines.push(format!("service {name} was removed by hand")),
            (None, Some(_)) => lines.push(format!("service {name} was added by hand")),
            (Some(before), Some(after)) if before != after => {
                let fields: BTreeSet<&String> = before
                    .as_object()
                    .into_iter()
                    .chain(after.as_object())
                    .flat_map(serde_json::Map::keys)
                    .collect();
                for field in fields {
                    let (old, new) = (before.get(field), after.get(field));
                    if old != new {
                        let shown = |value: Option<&Value>| {
                            value.map_or_else(|| "nothing".to_owned(), Value::to_string)
                        };
                        lines.push(format!(
                            "service {name}: {field} is {} on the cluster, {} in the state",
                            shown(new),
                            shown(old)
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    lines
}

/// The plan's health check step of a stack change, from its `health` attribute.
pub fn health_step(change: &Change) -> Option<Step> {
    let health = change.after("health")?;
    let text = |key: &str| health.get(key).and_then(Value::as_str).map(str::to_owned);
    let check = match (
        text("http"),
        health.get("command").and_then(Value::as_array),
    ) {
        (Some(url), _) => url,
        (None, Some(words)) => {
            let words: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
            format!(
                "`{}` on {}",
                words.join(" "),
                text("host").unwrap_or_default()
            )
        }
        (None, None) => return None,
    };
    Some(Step::HealthCheck {
        check,
        tries: health
            .get("retries")
            .and_then(Value::as_u64)
            .and_then(|tries| u32::try_from(tries).ok())
            .unwrap_or(10),
        interval: text("interval").unwrap_or_else(|| "3s".to_owned()),
    })
}

/// One health check, HTTP or command, as the config's payload holds it (unredacted).
#[derive(Debug)]
struct Health {
    http: Option<String>,
    expect_status: Option<u16>,
    contains: Option<String>,
    command: Vec<String>,
    host: String,
    retries: u32,
    interval: Duration,
    timeout: Duration,
}

impl Health {
    fn from_json(value: &Value) -> Health {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let duration = |key: &str, default: u64| {
            text(key)
                .as_deref()
                .and_then(crate::config::check::parse_duration)
                .unwrap_or(Duration::from_secs(default))
        };
        Health {
            http: text("http"),
            expect_status: value
                .get("expect_status")
                .and_then(Value::as_u64)
                .and_then(|status| u16::try_from(status).ok()),
            contains: text("contains"),
            command: value
                .get("command")
                .and_then(Value::as_array)
                .map(|words| {
                    words
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            host: text("host").unwrap_or_default(),
            retries: value
                .get("retries")
                .and_then(Value::as_u64)
                .and_then(|tries| u32::try_from(tries).ok())
                .unwrap_or(10)
                .max(1),
            interval: duration("interval", 3),
            timeout: duration("timeout", 5),
        }
    }
}

/// Runs a stack's health check until it passes or its tries are used up; the failure names
/// the check and the last attempt's status or output.
pub(super) async fn health_check(context: &Context, change: &Change) -> Result<(), StepError> {
    let health = context
        .resource(&change.address)
        .and_then(|resource| resource.payload("health"))
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .map(|value| Health::from_json(&value))
        .ok_or_else(|| {
            StepError::Refused(format!(
                "`{}` has no health check in the config; plan again",
                change.address
            ))
        })?;
    let mut last = String::new();
    for attempt in 1..=health.retries {
        let result = match &health.http {
            Some(url) => http_attempt(context, &health, url).await,
            None => command_attempt(context, &health).await?,
        };
        match result {
            Ok(()) => return Ok(()),
            Err(why) => last = why,
        }
        if attempt < health.retries {
            tokio::time::sleep(health.interval).await;
        }
    }
    let check = match &health.http {
        Some(url) => format!("GET {url}"),
        None => format!("`{}` on {}", health.command.join(" "), health.host),
    };
    let tries = if health.retries == 1 {
        "1 try".to_owned()
    } else {
        format!(
            "{} tries, {} apart",
            health.retries,
            duration_text(health.interval)
        )
    };
    Err(StepError::Refused(context.scrub(&format!(
        "the health check of `{}` failed ({tries}): {check}\n  last attempt: {last}\nhint: the stack is deployed and its services converged, but the check does not pass: look at the services' logs (`docker service logs SERVICE` on a manager)",
        change.address
    ))))
}

/// One HTTP attempt from this machine: healthy on `expect_status` (default any 2xx) with
/// `contains` in the body.
async fn http_attempt(context: &Context, health: &Health, url: &str) -> Result<(), String> {
    context
        .reporter
        .command("localhost", &context.scrub(&format!("GET {url}")));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(health.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let request_url = url.to_owned();
    let answer = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
        let mut response = agent
            .get(&request_url)
            .call()
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .lossy_utf8(true)
            .read_to_string()
            .unwrap_or_default();
        Ok((status, body))
    })
    .await
    .map_err(|error| error.to_string())?;
    let (status, body) = answer?;
    let excerpt: String = body.trim().chars().take(200).collect();
    context
        .reporter
        .output("localhost", u32::from(status), &context.scrub(&excerpt), "");
    let status_ok = match health.expect_status {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    };
    if !status_ok {
        let wanted = health
            .expect_status
            .map_or("a 2xx status".to_owned(), |expected| expected.to_string());
        return Err(format!(
            "HTTP {status} (expected {wanted}){}",
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        ));
    }
    if let Some(text) = &health.contains
        && !body.contains(text.as_str())
    {
        return Err(format!(
            "HTTP {status}, but the body does not contain `{text}`: {excerpt}"
        ));
    }
    Ok(())
}

/// One command attempt on the check's host over SSH; healthy on exit 0. An SSH failure is an
/// error of the step, not a failed attempt.
async fn command_attempt(
    context: &Context,
    health: &Health,
) -> Result<Result<(), String>, StepError> {
    let Some((program, arguments)) = health.command.split_first() else {
        return Ok(Err("the command is empty".to_owned()));
    };
    let script = Script::new(RemoteCommand::new(program.clone()).args(arguments.iter().cloned()));
    let output = tokio::time::timeout(health.timeout, context.run(&health.host, &script)).await;
    let Ok(output) = output else {
        return Ok(Err(format!(
            "no answer within {}",
            duration_text(health.timeout)
        )));
    };
    let output = output?;
    if output.success() {
        return Ok(Ok(()));
    }
    let text = format!(
        "{}\n{}",
        output.stdout_text().trim(),
        output.stderr_text().trim()
    );
    let text: String = text.trim().chars().take(300).collect();
    Ok(Err(format!(
        "exit {}{}",
        output.exit_status,
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_compose_file_and_what_docker_made_of_it_summarise_alike() {
        // The desired summary applies Docker's defaults and the live one drops what Docker
        // adds (the pinned digest), so a fresh deploy compares equal.
        let compose: serde_norway::Value = serde_norway::from_str(
            "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\", \"53/udp\", {target: 443, published: 8443, mode: host}]\n    environment: {B: 2, A: \"x=y\", TOKEN: s3cr3t}\n    deploy:\n      placement:\n        constraints: [\"node.role == worker\", \"node.labels.zone == a\"]\n  agent:\n    image: agent:1\n    deploy: {mode: global}\n",
        )
        .expect("yaml");
        let sensitive = vec!["s3cr3t".to_owned()];
        let desired = desired_services(&compose, "app", &sensitive);
        let web = &desired["app_web"];
        assert_eq!(web["image"], "nginx:latest");
        assert_eq!(web["replicas"], 1);
        assert_eq!(
            web["ports"],
            json!(["53/udp ingress", "8080:80/tcp ingress", "8443:443/tcp host"])
        );
        assert_eq!(
            web["environment"],
            json!(["A=x=y", "B=2", "TOKEN=(sensitive)"])
        );
        assert_eq!(
            web["placement"],
            json!(["node.labels.zone == a", "node.role == worker"])
        );
        assert_eq!(
            desired["app_agent"],
            json!({"image": "agent:1", "replicas": "global"})
        );

        let inspected = json!({
            "Spec": {
                "Name": "app_web",
                "Labels": {"com.docker.stack.namespace": "app", "com.docker.stack.image": "nginx"},
                "TaskTemplate": {
                    "ContainerSpec": {
                        "Image": "nginx:latest@sha256:0123abcd",
                        "Env": ["TOKEN=s3cr3t", "A=x=y", "B=2"],
                    },
                    "Placement": {"Constraints": ["node.role == worker", "node.labels.zone == a"]},
                },
                "Mode": {"Replicated": {"Replicas": 1}},
                "EndpointSpec": {"Mode": "vip", "Ports": [
                    {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
                    {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 0, "PublishMode": "ingress"},
                    {"Protocol": "tcp", "TargetPort": 443, "PublishedPort": 8443, "PublishMode": "host"},
                ]},
            },
        });
        let (stack, name, live) = live_service(&inspected, &sensitive).expect("a stack service");
        assert_eq!((stack.as_str(), name.as_str()), ("app", "app_web"));
        assert_eq!(&live, web);
    }

    #[test]
    fn a_variable_holding_a_secret_is_redacted_whole() {
        // Part of a value is enough: the whole value is hidden, so an old secret still on the
        // cluster compares equal to the new one and shows nowhere.
        let sensitive = vec!["pw".to_owned()];
        assert_eq!(
            redact_variable("DB=postgres://u:pw@db", &sensitive),
            "DB=(sensitive)"
        );
        assert_eq!(redact_variable("MODE=prod", &sensitive), "MODE=prod");
    }

    #[test]
    fn images_lose_their_digest_and_gain_latest() {
        // Docker shows `name:tag`; the digest it pins is not part of what the config asks.
        for (image, expected) in [
            ("nginx", "nginx:latest"),
            ("nginx:1.27@sha256:abc", "nginx:1.27"),
            ("registry:5000/app", "registry:5000/app:latest"),
            ("registry:5000/app:2", "registry:5000/app:2"),
        ] {
            assert_eq!(normalise_image(image), expected);
        }
    }

    #[test]
    fn drift_is_told_per_service_and_field() {
        // A scaled service and a removed one each get a sentence.
        let recorded = json!({"a_web": {"image": "x:1", "replicas": 2}, "a_db": {"image": "db:1", "replicas": 1}});
        let live = json!({"a_web": {"image": "x:1", "replicas": 5}});
        assert_eq!(
            service_drift(&recorded, &live),
            [
                "service a_db was removed by hand",
                "service a_web: replicas is 5 on the cluster, 2 in the state",
            ]
        );
    }

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

    #[test]
    fn durations_read_as_the_config_writes_them() {
        // Error messages repeat the timeout the way a person wrote it.
        for (seconds, text) in [(300, "5m"), (90, "1m30s"), (2, "2s"), (3600, "1h")] {
            assert_eq!(duration_text(Duration::from_secs(seconds)), text);
        }
        assert_eq!(duration_text(Duration::from_millis(100)), "100ms");
    }
}
