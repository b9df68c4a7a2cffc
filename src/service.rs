//! Service summaries: one service as plans compare it, made from a compose file (the desired
//! side, at evaluation) or from `docker service inspect` (the live side, at refresh), in one
//! normalised shape. A leaf the config and the swarm code share.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::redact::redact;

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

/// What a redacted environment value reads as: `KEY=(sensitive)`.
pub const SENSITIVE: &str = "(sensitive)";

/// The keys of a summary's environment whose value is redacted.
pub fn sensitive_keys(summary: Option<&Value>, keys: &mut BTreeSet<String>) {
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

/// One sentence per service field that differs: `service web_web: replicas is 3 on the
/// cluster, 2 in the state`.
pub fn service_drift(recorded: &Value, live: &Value) -> Vec<String> {
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
}
