//! The registry kind: a hosted registry's config and secrets as swarm objects, its service, and
//! `docker login` on the hosts that pull from a remote one; the refresh notices a hosted
//! registry's service removed by hand.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::{Address, Kind};
use crate::change::Action;
use crate::ssh::Script;
use crate::swarm::context::*;
use crate::swarm::refresh::Refreshed;
use crate::swarm::{Context, StepError, ownership};

use super::Work;
use super::object::docker_rm;
use super::{KindStep, Proposal, Step};

/// The registry: its config and secrets as swarm objects (versioned by hash), then the
/// service, created or updated.
pub(super) async fn registry_deploy(
    context: &Context,
    work: &Work,
    via: &str,
) -> Result<String, StepError> {
    let resource = work.configured()?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| work.address.name.clone());
    let node = work.text("node").unwrap_or_default();
    let port = work.value("port").and_then(Value::as_u64).unwrap_or(5000);
    let image = work
        .text("image")
        .unwrap_or_else(|| "registry:2".to_owned());
    let volume = work
        .text("volume")
        .unwrap_or_else(|| format!("{name}-data"));
    let mut mounts = Vec::new();
    let mut secrets = Vec::new();
    for (object, object_name, content, target) in ownership::registry_objects(resource, &name) {
        ensure_object(context, work, via, object, &object_name, content).await?;
        let mount = format!("source={object_name},target={target}");
        if object == "config" {
            mounts.push(mount);
        } else {
            secrets.push(mount);
        }
    }
    // A registry's config sits at a fixed path in the container, and Docker cannot swap a
    // config in place: an existing service is removed and created again (the volume stays).
    let service = Script::new(docker(&["service", "rm"]).arg(name.clone()));
    let removed = context.run(via, &service).await?;
    if !removed.success() && !is_not_found(&removed.stderr_text()) {
        return Err(context.failure(via, &service, &removed, None));
    }
    let mut command = docker(&["service", "create", "--detach=false", "--name"])
        .arg(name.clone())
        .arg("--constraint")
        .arg(format!(
            "node.hostname=={}",
            hostname_of(context, &node).await?
        ))
        .arg("--publish")
        .arg(format!("mode=host,target={port},published={port}"))
        .arg("--mount")
        .arg(format!(
            "type=volume,source={volume},target=/var/lib/registry"
        ));
    for label in ownership::label_words(context, &work.address) {
        command = command.arg("--label").arg(label);
    }
    for mount in &mounts {
        command = command.arg("--config").arg(mount.clone());
    }
    for secret in &secrets {
        command = command.arg("--secret").arg(secret.clone());
    }
    let command = command.arg(image);
    let output = context.check(via, &Script::new(command), Some("the registry image must be loadable on its node: `swarmform image load` it there first")).await?;
    let id = output
        .stdout_text()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(id)
}

/// The hostname Docker knows a host by (for placement constraints).
pub(super) async fn hostname_of(context: &Context, host: &str) -> Result<String, StepError> {
    let output = context
        .check(
            host,
            &Script::new(docker(&["info", "--format", "{{json .Name}}"])),
            None,
        )
        .await?;
    Ok(output.stdout_text().trim().trim_matches('"').to_owned())
}

/// A registry's secret or config, labelled as the registry's.
pub(super) async fn ensure_object(
    context: &Context,
    work: &Work,
    via: &str,
    object: &str,
    name: &str,
    content: Vec<u8>,
) -> Result<(), StepError> {
    let mut command = docker(&[object, "create"]);
    for label in ownership::label_words(context, &work.address) {
        command = command.arg("--label").arg(label);
    }
    let script = Script::new(command.arg(name.to_owned()).arg("-")).stdin(content);
    let output = context.run(via, &script).await?;
    if output.success() || output.stderr_text().contains("already exists") {
        Ok(())
    } else {
        Err(context.failure(via, &script, &output, None))
    }
}

/// A registry's steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RegistryStep {
    /// The registry's swarm config and service.
    DeployRegistry {
        via: String,
    },
    RemoveRegistry {
        via: String,
    },
    /// `docker login` on each listed host.
    Login {
        hosts: Vec<String>,
    },
    Logout {
        hosts: Vec<String>,
    },
    /// `docker service update --label-add` of the ownership labels, for a service made by an
    /// earlier swarmform that did not label what it created.
    LabelService {
        name: String,
        via: String,
    },
}

impl KindStep for RegistryStep {
    const TAGS: &'static [&'static str] = &[
        "deploy_registry",
        "remove_registry",
        "login",
        "logout",
        "label_service",
    ];

    fn describe(&self) -> String {
        match self {
            RegistryStep::DeployRegistry { via } => {
                format!("deploy the registry service and its config (on {via})")
            }
            RegistryStep::RemoveRegistry { via } => {
                format!("remove the registry service and its config (on {via}); its volume is kept")
            }
            RegistryStep::Login { hosts } => format!("docker login on {}", hosts.join(", ")),
            RegistryStep::Logout { hosts } => format!("docker logout on {}", hosts.join(", ")),
            RegistryStep::LabelService { name, via } => {
                format!("add the ownership labels to service {name} (on {via})")
            }
        }
    }

    fn destroys(&self) -> bool {
        matches!(
            self,
            RegistryStep::RemoveRegistry { .. } | RegistryStep::Logout { .. }
        )
    }
}

impl RegistryStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        match self {
            RegistryStep::DeployRegistry { via } => {
                registry_deploy(context, work, via).await.map(Some)
            }
            RegistryStep::RemoveRegistry { via } => {
                let docker_name = work.docker_name();
                let script = Script::new(docker(&["service", "rm"]).arg(docker_name));
                let output = context.run(via, &script).await?;
                if !output.success() && !is_not_found(&output.stderr_text()) {
                    return Err(context.failure(via, &script, &output, None));
                }
                // Its config and secrets, found by their labels: their names hash contents that
                // the config no longer holds.
                for object in ["config", "secret"] {
                    let mut list = docker(&[object, "ls", "--format", "{{.Name}}"]);
                    for label in ownership::label_words(context, &work.address) {
                        list = list.arg("--filter").arg(format!("label={label}"));
                    }
                    let listed = context.check(via, &Script::new(list), None).await?;
                    for name in listed.stdout_text().lines().filter(|name| !name.is_empty()) {
                        docker_rm(context, via, object, name).await?;
                    }
                }
                Ok(None)
            }
            RegistryStep::Login { hosts } => {
                let url = work.text("url").unwrap_or_default();
                if let (Some(username), Some(password)) = (
                    work.text("username"),
                    work.payload("password").map(<[u8]>::to_vec),
                ) {
                    for target in hosts {
                        let script = Script::new(
                            docker(&["login", "--username"])
                                .arg(username.clone())
                                .arg("--password-stdin")
                                .arg(url.clone()),
                        )
                        .stdin(password.clone());
                        context
                            .check(
                                target,
                                &script,
                                Some("check the registry's username and password"),
                            )
                            .await?;
                    }
                }
                Ok(None)
            }
            RegistryStep::Logout { hosts } => {
                let url = work.text("url").unwrap_or_default();
                for target in hosts {
                    context
                        .run(target, &Script::new(docker(&["logout"]).arg(url.clone())))
                        .await?;
                }
                Ok(None)
            }
            RegistryStep::LabelService { name, via } => {
                let mut command = docker(&["service", "update", "--detach"]);
                for label in ownership::label_words(context, &work.address) {
                    command = command.arg("--label-add").arg(label);
                }
                context
                    .check(via, &Script::new(command.arg(name.clone())), None)
                    .await?;
                Ok(None)
            }
        }
    }
}

/// What a registry change takes: a hosted registry's service deployed or removed; a remote
/// one's `docker login` or `docker logout` on the hosts that pull from it.
pub fn steps(change: &Proposal) -> Vec<Step> {
    let via = change.anchor.to_owned();
    let hosted = change.has("node");
    let mut steps: Vec<Step> = Vec::new();
    if change.deletes() {
        steps.push(if hosted {
            RegistryStep::RemoveRegistry { via: via.clone() }.into()
        } else {
            RegistryStep::Logout {
                hosts: change.list("login_on", true),
            }
            .into()
        });
    }
    if change.creates() || change.action == Action::Update {
        steps.push(if hosted {
            RegistryStep::DeployRegistry { via }.into()
        } else {
            RegistryStep::Login {
                hosts: change.list("login_on", false),
            }
            .into()
        });
    }
    steps
}

/// Refresh: a hosted registry whose service is gone from the swarm was removed by hand.
pub(super) fn refresh(refreshed: &mut Refreshed, services: &BTreeSet<String>) {
    let hosted_registries: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| {
            resource.address.kind == Kind::Registry && resource.attributes.contains_key("node")
        })
        .filter(|resource| !services.contains(resource.live_name()))
        .map(|resource| resource.address.clone())
        .collect();
    for address in hosted_registries {
        refreshed
            .drift
            .push(format!("`{address}`: its service was removed by hand"));
        refreshed.state.remove(&address);
    }
}
