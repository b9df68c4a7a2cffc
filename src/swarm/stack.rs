//! Stacks: `docker stack deploy` of the rendered compose file, the wait until every service
//! has converged, and `docker stack rm`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Context, StepError, attribute, docker, json_format};
use crate::address::{Address, Kind};
use crate::config::desired::redact;
use crate::plan::Change;
use crate::ssh::Script;
use crate::state::State;

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
            .map(|entry| redact(entry, sensitive))
            .collect();
        for values in [&mut self.ports, &mut self.environment, &mut self.placement] {
            values.sort();
        }
        self
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

/// Refresh: the live summary of every recorded stack's services, from one `docker service
/// inspect` of the services `docker service ls` listed, written into the state's `services`.
/// A service scaled, re-imaged or removed by hand then plans as a change back to the config.
pub(super) async fn refresh_services(
    context: &Context,
    anchor: &str,
    services: &BTreeSet<String>,
    state: &mut State,
    drift: &mut Vec<String>,
) -> Result<(), StepError> {
    let stacks: Vec<(Address, String)> = state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Stack)
        .map(|resource| {
            (
                resource.address.clone(),
                resource
                    .docker_name
                    .clone()
                    .unwrap_or_else(|| resource.address.name.clone()),
            )
        })
        .collect();
    if stacks.is_empty() {
        return Ok(());
    }
    let mut live: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    if !services.is_empty() {
        let script = Script::new(
            docker(&["service", "inspect"])
                .args(json_format())
                .args(services.iter().cloned()),
        );
        // A service removed between the listing and now is simply not reported.
        let output = context.run(anchor, &script).await?;
        let sensitive = context
            .sensitive
            .lock()
            .map(|values| values.clone())
            .unwrap_or_default();
        for line in output.stdout_text().lines() {
            let Ok(inspected) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some((stack, name, summary)) = live_service(&inspected, &sensitive) {
                live.entry(stack).or_default().insert(name, summary);
            }
        }
    }
    for (address, name) in stacks {
        let now = Value::Object(live.remove(&name).unwrap_or_default());
        let Some(resource) = state
            .resources
            .iter_mut()
            .find(|resource| resource.address == address)
        else {
            continue;
        };
        if let Some(recorded) = resource.attributes.get("services") {
            for line in service_drift(recorded, &now) {
                drift.push(format!("`{address}`: {line}"));
            }
        }
        resource.attributes.insert("services".to_owned(), now);
    }
    Ok(())
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
