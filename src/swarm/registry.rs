//! A hosted registry: its config and secrets as swarm objects, its service, and `docker login`
//! on the hosts that pull from it.

use serde_json::Value;

use super::StepError;
use super::context::*;
use super::ownership;
use crate::plan::Change;
use crate::ssh::Script;

/// The registry: its config and secrets as swarm objects (versioned by hash), then the
/// service, created or updated.
pub(super) async fn registry_deploy(
    context: &Context,
    change: &Change,
    via: &str,
) -> Result<String, StepError> {
    let resource = context.configured(&change.address)?;
    let name = resource
        .docker_name
        .clone()
        .unwrap_or_else(|| change.address.name.clone());
    let node = text_attribute(change, "node").unwrap_or_default();
    let port = attribute(change, "port")
        .and_then(Value::as_u64)
        .unwrap_or(5000);
    let image = text_attribute(change, "image").unwrap_or_else(|| "registry:2".to_owned());
    let volume = text_attribute(change, "volume").unwrap_or_else(|| format!("{name}-data"));
    let mut mounts = Vec::new();
    let mut secrets = Vec::new();
    for (object, object_name, content, target) in ownership::registry_objects(resource, &name) {
        ensure_object(context, change, via, object, &object_name, content).await?;
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
    for label in ownership::label_words(context, &change.address) {
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
    change: &Change,
    via: &str,
    object: &str,
    name: &str,
    content: Vec<u8>,
) -> Result<(), StepError> {
    let mut command = docker(&[object, "create"]);
    for label in ownership::label_words(context, &change.address) {
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
