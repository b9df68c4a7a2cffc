//! The network, secret and config kinds: created with swarmform's labels, removed by name; the
//! refresh lists them with their labels and forgets what the swarm no longer holds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Kind;
use crate::ssh::Script;
use crate::swarm::context::*;
use crate::swarm::refresh::{Refreshed, forget_missing};
use crate::swarm::{Context, StepError, ownership};

use super::Work;
use super::{KindStep, Proposal, Step};

/// `docker OBJECT rm NAME` (a network, secret or config); one already gone is fine.
pub(super) async fn docker_rm(
    context: &Context,
    via: &str,
    object: &str,
    name: &str,
) -> Result<(), StepError> {
    let script = Script::new(docker(&[object, "rm"]).arg(name.to_owned()));
    let output = context.run(via, &script).await?;
    if !output.success() && !is_not_found(&output.stderr_text()) {
        return Err(context.failure(
            via,
            &script,
            &output,
            Some("something still uses it: remove what uses it first"),
        ));
    }
    Ok(())
}

pub(super) async fn docker_create(
    context: &Context,
    work: &Work,
    object: &str,
    name: &str,
    via: &str,
) -> Result<String, StepError> {
    let labels: Vec<String> = work
        .value("labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let labels: Vec<String> = labels
        .into_iter()
        .chain(ownership::label_words(context, &work.address))
        .collect();
    if object == "network" {
        // One round trip: the network an interrupted run made is adopted (its id printed by
        // the inspect), else it is created (the create prints the id).
        let mut command = docker(&["network", "create", "--driver", "overlay"]);
        for (attribute_name, flag) in [
            ("subnet", "--subnet"),
            ("gateway", "--gateway"),
            ("ip_range", "--ip-range"),
        ] {
            if let Some(value) = work.text(attribute_name) {
                command = command.arg(flag).arg(value);
            }
        }
        if work.value("attachable").and_then(Value::as_bool) == Some(true) {
            command = command.arg("--attachable");
        }
        if work.value("encrypted").and_then(Value::as_bool) == Some(true) {
            command = command.args(["--opt", "encrypted"]);
        }
        for label in labels {
            command = command.arg("--label").arg(label);
        }
        let script = Script::new(
            docker(&["network", "inspect", "--format", "{{json .Id}}"]).arg(name.to_owned()),
        )
        .or(command.arg(name.to_owned()));
        let output = context.check(via, &script, None).await?;
        return Ok(output
            .stdout_text()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .to_owned());
    }
    let content = work
        .payload("content")
        .map(<[u8]>::to_vec)
        .ok_or_else(|| StepError::Refused(format!("`{}` has no content", work.address)))?;
    let mut command = docker(&[object, "create"]);
    for label in labels {
        command = command.arg("--label").arg(label);
    }
    let script = Script::new(command.arg(name.to_owned()).arg("-")).stdin(content);
    let output = context.run(via, &script).await?;
    if output.success() {
        return Ok(output.stdout_text().trim().to_owned());
    }
    if output.stderr_text().contains("already exists") {
        // The name carries the content hash: the existing object has this content.
        let inspect = context
            .check(
                via,
                &Script::new(
                    docker(&[object, "inspect", "--format", "{{json .ID}}"]).arg(name.to_owned()),
                ),
                None,
            )
            .await?;
        return Ok(inspect.stdout_text().trim().trim_matches('"').to_owned());
    }
    Err(context.failure(via, &script, &output, None))
}

/// Which swarm object a step creates or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Network,
    Secret,
    Config,
}

impl ObjectKind {
    /// Docker's word: `docker network`, `docker secret`, `docker config`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Network => "network",
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }

    /// Docker's word back as the type.
    pub fn parse(word: &str) -> Option<ObjectKind> {
        match word {
            "network" => Some(ObjectKind::Network),
            "secret" => Some(ObjectKind::Secret),
            "config" => Some(ObjectKind::Config),
            _ => None,
        }
    }

    /// The object kind a resource kind stands for.
    pub fn of(kind: Kind) -> Option<ObjectKind> {
        match kind {
            Kind::Network => Some(ObjectKind::Network),
            Kind::Secret => Some(ObjectKind::Secret),
            Kind::Config => Some(ObjectKind::Config),
            _ => None,
        }
    }
}

/// Networks', secrets' and configs' steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ObjectStep {
    /// `docker <kind> create` for a network, secret or config, run on a manager.
    DockerCreate {
        object: ObjectKind,
        name: String,
        via: String,
    },
    /// `docker <kind> rm`.
    DockerRemove {
        object: ObjectKind,
        name: String,
        via: String,
    },
}

impl KindStep for ObjectStep {
    const TAGS: &'static [&'static str] = &["docker_create", "docker_remove"];

    fn describe(&self) -> String {
        match self {
            ObjectStep::DockerCreate { object, name, via } => {
                format!("docker {} create {name} (on {via})", object.as_str())
            }
            ObjectStep::DockerRemove { object, name, via } => {
                format!("docker {} rm {name} (on {via})", object.as_str())
            }
        }
    }

    fn destroys(&self) -> bool {
        matches!(self, ObjectStep::DockerRemove { .. })
    }
}

impl ObjectStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        match self {
            ObjectStep::DockerCreate { object, name, via } => {
                docker_create(context, work, object.as_str(), name, via)
                    .await
                    .map(Some)
            }
            ObjectStep::DockerRemove { object, name, via } => {
                docker_rm(context, via, object.as_str(), name).await?;
                Ok(None)
            }
        }
    }
}

/// What a network's, secret's or config's change takes: `docker create` and `docker rm`, the
/// new version first when it is created before the old one goes (a versioned secret).
pub fn steps(change: &Proposal) -> Vec<Step> {
    let Some(object) = ObjectKind::of(change.address.kind) else {
        return Vec::new();
    };
    let via = change.anchor.to_owned();
    let create = || -> Step {
        ObjectStep::DockerCreate {
            object,
            name: change.docker_name.clone(),
            via: via.clone(),
        }
        .into()
    };
    let mut steps = Vec::new();
    if change.creates() && change.create_before_destroy {
        steps.push(create());
    }
    if change.deletes() {
        steps.push(
            ObjectStep::DockerRemove {
                object,
                name: change.old_docker_name.clone(),
                via: via.clone(),
            }
            .into(),
        );
    }
    if change.creates() && !change.create_before_destroy {
        steps.push(create());
    }
    steps
}

/// Refresh: the networks, secrets and configs the swarm holds (with their ownership labels);
/// a recorded object gone from the swarm is forgotten. Returns the listings, for the ownership
/// reconciliation.
pub(super) async fn refresh(
    context: &Context,
    anchor: &str,
    refreshed: &mut Refreshed,
) -> Result<Vec<(Kind, &'static str, Vec<ownership::Listed>)>, StepError> {
    let mut listed = Vec::new();
    for (kind, object) in [
        (Kind::Network, "network"),
        (Kind::Secret, "secret"),
        (Kind::Config, "config"),
    ] {
        let objects = super::ownership::list(context, anchor, object).await?;
        let names = objects.iter().map(|live| live.name.clone()).collect();
        forget_missing(refreshed, kind, &names, object);
        listed.push((kind, object, objects));
    }
    Ok(listed)
}
