//! dockerd's configuration: a restart drains the node first and puts it back after.

use serde_json::Value;

use super::context::*;
use super::node::{answering_manager, drain_node};
use super::{StepError, facts};
use crate::address::{Address, Kind};
use crate::ssh::Script;

/// Before a dockerd restart: a node in the swarm is drained (through itself when it is a
/// manager, else through a manager that answers) so its tasks stop cleanly instead of being
/// cut off and restarted with the daemon. Returns what `after_restart` needs to put it back.
pub(super) async fn before_restart(
    context: &Context,
    host: &str,
) -> Result<Option<(String, String, String)>, StepError> {
    let address = Address::new(Kind::Node, host);
    let Some((id, role, availability)) = context.state.lock().ok().and_then(|state| {
        state.resource(&address).map(|node| {
            let text = |name: &str| {
                node.attributes
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (node.remote_id.clone(), text("role"), text("availability"))
        })
    }) else {
        return Ok(None);
    };
    if availability != "active" {
        return Ok(None);
    }
    // The bootstrap manager's node id is not recorded (it came with `swarm init`): ask it.
    let id = match id {
        Some(id) => id,
        None => facts::swarm_info(context, host).await?.node_id,
    };
    if id.is_empty() {
        return Ok(None);
    }
    let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
    let answers = role == "manager" && context.run(host, &nodes).await?.success();
    let via = if answers {
        host.to_owned()
    } else {
        match answering_manager(context, host).await? {
            Some(manager) => manager,
            None => return Ok(None),
        }
    };
    if drain_node(context, &via, &id, host).await?.is_none() {
        return Ok(None);
    }
    Ok(Some((via, id, availability)))
}

/// After a dockerd restart: once the node is ready again, its availability goes back.
pub(super) async fn after_restart(
    context: &Context,
    host: &str,
    (via, id, availability): (String, String, String),
) -> Result<(), StepError> {
    let inspect = Script::new(
        docker(&["node", "inspect", "--format", "{{json .Status.State}}"]).arg(id.clone()),
    );
    context
        .wait(&format!("`{host}` to be ready"), || async {
            let output = context.run(&via, &inspect).await?;
            let state = output.stdout_text().trim().trim_matches('"').to_owned();
            Ok(if output.success() && state == "ready" {
                Ok(())
            } else {
                Err(format!("state {state}"))
            })
        })
        .await?;
    context
        .check(
            &via,
            &Script::new(
                docker(&["node", "update", "--availability"])
                    .arg(availability)
                    .arg(id),
            ),
            None,
        )
        .await?;
    Ok(())
}
