//! Stacks: `docker stack deploy` of the rendered compose file, the wait until every service
//! has converged, and `docker stack rm`.

use serde_json::Value;

use super::{Context, StepError, attribute, docker, json_format};
use crate::plan::Change;
use crate::ssh::Script;

pub(super) async fn stack_deploy(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<(), StepError> {
    let resource = context.resource(&change.address).ok_or_else(|| {
        StepError::Refused(format!(
            "`{}` is no longer in the config; plan again",
            change.address
        ))
    })?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    let compose = resource
        .payload("compose")
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let mut command = docker(&["stack", "deploy", "--compose-file", "-"]);
    if attribute(change, "prune").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--prune");
    }
    if attribute(change, "with_registry_auth").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--with-registry-auth");
    }
    let script = Script::new(command.arg(name.clone())).stdin(compose);
    context.check(via, &script, None).await?;
    let services = Script::new(
        docker(&["stack", "services"])
            .arg(name.clone())
            .args(json_format()),
    );
    context
        .wait(
            &format!("the services of stack `{name}` to converge"),
            || async {
                let output = context.check(via, &services, None).await?;
                let mut pending = Vec::new();
                let mut names = Vec::new();
                for line in output
                    .stdout_text()
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                {
                    let service: Value =
                        serde_json::from_str(line).map_err(|error| StepError::Unexpected {
                            host: via.to_owned(),
                            command: services.display(),
                            detail: error.to_string(),
                        })?;
                    let replicas = service
                        .get("Replicas")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if let Some(name) = service.get("Name").and_then(Value::as_str) {
                        names.push(name.to_owned());
                    }
                    if let Some((running, wanted)) = replicas.split_once('/') {
                        let wanted = wanted.split_whitespace().next().unwrap_or(wanted);
                        if running != wanted {
                            pending.push(format!(
                                "{} {replicas}",
                                service
                                    .get("Name")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                            ));
                        }
                    }
                }
                // Replicas read N/N during a rolling update too: wait until no update runs.
                if pending.is_empty() && !names.is_empty() {
                    let inspect = Script::new(docker(&["service", "inspect", "--format", "{{json .UpdateStatus}}"]).args(names.iter().cloned()));
                    let statuses = context.check(via, &inspect, None).await?;
                    for (name, line) in names.iter().zip(statuses.stdout_text().lines()) {
                        let status: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
                        let state = status.get("State").and_then(Value::as_str).unwrap_or_default();
                        let message = status.get("Message").and_then(Value::as_str).unwrap_or_default();
                        match state {
                            "updating" | "rollback_started" => pending.push(format!("{name} {state}")),
                            "paused" | "rollback_paused" | "rollback_completed" => {
                                return Err(StepError::Refused(format!(
                                    "the update of service `{name}` did not complete ({state}): {message}\nhint: `docker service ps {name} --no-trunc` on a manager shows the failing tasks' errors"
                                )));
                            }
                            _ => {}
                        }
                    }
                }
                Ok(if pending.is_empty() {
                    Ok(())
                } else {
                    Err(pending.join(", "))
                })
            },
        )
        .await
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
