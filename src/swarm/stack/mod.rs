//! Stacks: `docker stack deploy` of the rendered compose file and the wait until every service
//! has converged (`deploy`), the health check that follows (`health`), `docker stack rm`, and
//! the refresh of the services' live summaries (the summaries themselves are
//! [`crate::service`]'s).

mod deploy;
pub mod health;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::{Address, Kind};
use crate::change::Action;
use crate::service::{SENSITIVE, live_service, sensitive_keys, service_drift};
use crate::ssh::Script;
use crate::state::State;
use crate::swarm::Work;
use crate::swarm::refresh::{Refreshed, forget_missing, list_names};
use crate::swarm::{Context, StepError};

use super::{KindStep, Proposal, Step, docker, json_format};

/// The evaluation of a stack's `services` attribute still reaches the summaries by this path.
pub use crate::service::desired_services;
pub use deploy::DEFAULT_CONVERGE_TIMEOUT;
pub use health::health_step;

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
    work: &Work,
    via: &str,
) -> Result<(), StepError> {
    let name = work
        .recorded
        .as_ref()
        .and_then(|resource| resource.docker_name.clone())
        .unwrap_or_else(|| work.docker_name());
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

/// Every listed service's `docker service inspect --format '{{json .}}'`, in one command; a
/// service removed between the listing and now is simply not reported. Refresh reads the
/// stacks' summaries and the ownership labels and references from it.
/// `docker service inspect` of `services`, as the refresh and its read ahead send it.
pub(in crate::swarm) fn inspect_script(services: &BTreeSet<String>) -> Script {
    Script::new(
        docker(&["service", "inspect"])
            .args(json_format())
            .args(services.iter().cloned()),
    )
}

pub(super) async fn inspect_services(
    context: &Context,
    anchor: &str,
    services: &BTreeSet<String>,
) -> Result<Vec<Value>, StepError> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    let script = inspect_script(services);
    // The specs hold environment values, possibly a secret since rotated that no scrubbing
    // knows: `-v` shows the command, not its output.
    context.reporter.command(anchor, &script.display());
    let output = match context.take_read(anchor, &script) {
        Some(output) => output,
        None => context.pool.run(anchor, &script).await?,
    };
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
            .desired
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_config_writes_them() {
        // Error messages repeat the timeout the way a person wrote it.
        for (seconds, text) in [(300, "5m"), (90, "1m30s"), (2, "2s"), (3600, "1h")] {
            assert_eq!(duration_text(Duration::from_secs(seconds)), text);
        }
        assert_eq!(duration_text(Duration::from_millis(100)), "100ms");
    }
}

/// A stack's steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StackStep {
    /// `docker stack deploy`, then wait until every service has converged.
    StackDeploy {
        via: String,
    },
    StackRemove {
        via: String,
    },
}

impl KindStep for StackStep {
    const TAGS: &'static [&'static str] = &["stack_deploy", "stack_remove"];

    fn describe(&self) -> String {
        match self {
            StackStep::StackDeploy { via } => {
                format!("docker stack deploy and wait for its services to converge (on {via})")
            }
            StackStep::StackRemove { via } => {
                format!("docker stack rm and wait for its tasks to stop (on {via})")
            }
        }
    }

    fn destroys(&self) -> bool {
        matches!(self, StackStep::StackRemove { .. })
    }
}

impl StackStep {
    pub(in crate::swarm) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        match self {
            StackStep::StackDeploy { via } => {
                deploy::stack_deploy(context, work, via).await?;
                Ok(None)
            }
            StackStep::StackRemove { via } => {
                stack_remove(context, work, via).await?;
                Ok(None)
            }
        }
    }
}

/// What a stack change takes: `docker stack rm` of the old, `docker stack deploy` when
/// anything but the health check or the wait's length changed, then the health check.
pub fn steps(change: &Proposal) -> Vec<Step> {
    let via = change.anchor.to_owned();
    let mut steps: Vec<Step> = Vec::new();
    if change.deletes() {
        steps.push(StackStep::StackRemove { via: via.clone() }.into());
    }
    let deploy = change.creates()
        || change.action == Action::Update
            && change.attributes.iter().any(|attribute| {
                attribute.is_changed()
                    && !matches!(attribute.name.as_str(), "health" | "converge_timeout")
            });
    if deploy {
        steps.push(StackStep::StackDeploy { via }.into());
    }
    if (deploy || change.changed("health"))
        && let Some(step) = health::health_step(change)
    {
        steps.push(step.into());
    }
    steps
}

/// Refresh: the stacks and services the swarm runs; a recorded stack gone from the swarm is
/// forgotten and each service's live summary recorded (drift for what was changed by hand).
/// Returns the service names and what `docker service inspect` said, for the registries and
/// the ownership reconciliation.
pub(in crate::swarm) async fn refresh(
    context: &Context,
    anchor: &str,
    refreshed: &mut Refreshed,
) -> Result<(BTreeSet<String>, Vec<Value>), StepError> {
    let stacks = list_names(context, anchor, &["stack", "ls"], "Name").await?;
    forget_missing(refreshed, Kind::Stack, &stacks, "stack");
    let services = list_names(context, anchor, &["service", "ls"], "Name").await?;
    let inspected = inspect_services(context, anchor, &services).await?;
    refresh_services(
        context,
        &inspected,
        &mut refreshed.state,
        &mut refreshed.drift,
    );
    Ok((services, inspected))
}
