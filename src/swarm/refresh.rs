//! Refresh: read the live cluster and bring the state in line with it, so the next plan shows
//! what was changed by hand as a change back to the config.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::{Context, StepError, docker, facts};
use crate::address::{Address, Kind};
use crate::config::desired::{DAEMON_JSON_PATH, redact};
use crate::ssh::{RemoteCommand, Script};
use crate::state::State;

/// What refresh found.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub state: State,
    /// Hosts that did not answer over SSH.
    pub unreachable: BTreeSet<String>,
    /// One line per difference found, for the user.
    pub drift: Vec<String>,
}

/// A host that cannot be reached at all, as opposed to one that refused us.
pub(crate) fn unreachable(error: &crate::ssh::SshError) -> bool {
    matches!(error, crate::ssh::SshError::Connect { .. }) || error.is_retryable()
}

/// Reads the live cluster. `state` is not changed; the refreshed copy is returned.
pub async fn refresh(context: &Arc<Context>, state: &State) -> Result<Refreshed, StepError> {
    let mut refreshed = Refreshed {
        state: state.clone(),
        ..Refreshed::default()
    };
    let hosts: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|resource| resource.host.clone())
        .collect();

    // Per host, in parallel: is it reachable, and what does its daemon.json say?
    let mut tasks = tokio::task::JoinSet::new();
    for host in hosts {
        let context = Arc::clone(context);
        tasks.spawn(async move {
            let script = Script::new(RemoteCommand::new("cat").arg(DAEMON_JSON_PATH));
            let result = context.pool.run(&host, &script).await;
            (host, result)
        });
    }
    let mut daemon_json: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((host, result)) = joined else { continue };
        match result {
            Ok(output) if output.success() => {
                daemon_json.insert(host, Some(output.stdout_text()));
            }
            Ok(_) => {
                daemon_json.insert(host, None);
            }
            Err(error) if unreachable(&error) => {
                errors.insert(host.clone(), error.to_string());
                refreshed.unreachable.insert(host);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let sensitive = context
        .sensitive
        .lock()
        .map(|values| values.clone())
        .unwrap_or_default();
    for resource in refreshed
        .state
        .resources
        .iter_mut()
        .filter(|resource| resource.address.kind == Kind::Daemon)
    {
        let Some(host) = &resource.host else { continue };
        let Some(live) = daemon_json.get(host) else {
            continue;
        };
        let recorded = resource
            .attributes
            .get("daemon_json")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let live = live.as_ref().map(|text| redact(text, &sensitive));
        if recorded != live {
            refreshed.drift.push(format!(
                "`{}`: {DAEMON_JSON_PATH} was changed on the host",
                resource.address
            ));
            match live {
                Some(text) => {
                    resource
                        .attributes
                        .insert("daemon_json".to_owned(), Value::String(text));
                }
                None => {
                    resource.attributes.remove("daemon_json");
                }
            }
        }
    }

    if state.resource(&Address::swarm()).is_none() {
        return Ok(refreshed);
    }
    // A manager that answers drives the cluster-wide reads.
    let mut managers: Vec<String> = state
        .resources
        .iter()
        .filter(|resource| {
            resource.address.kind == Kind::Node
                && resource.attributes.get("role").and_then(Value::as_str) == Some("manager")
        })
        .map(|resource| resource.address.name.clone())
        .collect();
    let mut first_error = managers
        .iter()
        .find_map(|manager| errors.get(manager).cloned());
    managers.retain(|manager| !refreshed.unreachable.contains(manager));
    let mut anchor = None;
    let mut answered = false;
    for manager in &managers {
        match facts::swarm_info(context, manager).await {
            Ok(info) if info.control_available => {
                anchor = Some(manager.clone());
                break;
            }
            Ok(_) => answered = true,
            Err(StepError::Ssh(error)) if unreachable(&error) => {
                refreshed.unreachable.insert(manager.clone());
                first_error.get_or_insert_with(|| error.to_string());
            }
            Err(error) => return Err(error),
        }
    }
    let Some(anchor) = anchor else {
        if !answered {
            // Unreachable is not gone: never forget a swarm because the network is down.
            return Err(StepError::Refused(format!(
                "no manager recorded in the state could be reached ({}), so the live cluster cannot be read\nhint: bring a manager back, or plan from the state file alone with `--refresh=false`",
                first_error.unwrap_or_else(|| "the state records no manager".to_owned())
            )));
        }
        refreshed.drift.push(
            "no manager recorded in the state is a manager of a swarm any more: the swarm is gone"
                .to_owned(),
        );
        let gone: Vec<Address> = refreshed
            .state
            .resources
            .iter()
            .filter(|resource| {
                !matches!(
                    resource.address.kind,
                    Kind::Engine | Kind::Daemon | Kind::File
                )
            })
            .map(|resource| resource.address.clone())
            .collect();
        for address in gone {
            refreshed.state.remove(&address);
        }
        return Ok(refreshed);
    };

    refresh_nodes(context, &anchor, &mut refreshed).await?;
    for (kind, object) in [
        (Kind::Network, "network"),
        (Kind::Secret, "secret"),
        (Kind::Config, "config"),
    ] {
        let names = list_names(context, &anchor, &[object, "ls"], "Name").await?;
        forget_missing(&mut refreshed, kind, &names, object);
    }
    let stacks = list_names(context, &anchor, &["stack", "ls"], "Name").await?;
    forget_missing(&mut refreshed, Kind::Stack, &stacks, "stack");
    let services = list_names(context, &anchor, &["service", "ls"], "Name").await?;
    super::stack::refresh_services(
        context,
        &anchor,
        &services,
        &mut refreshed.state,
        &mut refreshed.drift,
    )
    .await?;
    let hosted_registries: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| {
            resource.address.kind == Kind::Registry && resource.attributes.contains_key("node")
        })
        .filter(|resource| {
            !services.contains(
                resource
                    .docker_name
                    .as_deref()
                    .unwrap_or(&resource.address.name),
            )
        })
        .map(|resource| resource.address.clone())
        .collect();
    for address in hosted_registries {
        refreshed
            .drift
            .push(format!("`{address}`: its service was removed by hand"));
        refreshed.state.remove(&address);
    }
    Ok(refreshed)
}

/// Role, availability and labels of every recorded node, from one `docker node inspect`.
async fn refresh_nodes(
    context: &Context,
    anchor: &str,
    refreshed: &mut Refreshed,
) -> Result<(), StepError> {
    let ids: Vec<(Address, String)> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node)
        .filter_map(|resource| {
            resource
                .remote_id
                .clone()
                .map(|id| (resource.address.clone(), id))
        })
        .collect();
    let listing = context
        .check(
            anchor,
            &Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"])),
            None,
        )
        .await?;
    let live_ids: BTreeSet<String> = listing
        .stdout_text()
        .lines()
        .map(|line| line.trim().trim_matches('"').to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    let present: Vec<&(Address, String)> =
        ids.iter().filter(|(_, id)| live_ids.contains(id)).collect();
    for (address, _) in ids.iter().filter(|(_, id)| !live_ids.contains(id)) {
        refreshed
            .drift
            .push(format!("`{address}`: the node is no longer in the swarm"));
        refreshed.state.remove(address);
    }
    if present.is_empty() {
        return Ok(());
    }
    let inspect = docker(&["node", "inspect", "--format", "{{json .}}"])
        .args(present.iter().map(|(_, id)| id.clone()));
    let output = context.check(anchor, &Script::new(inspect), None).await?;
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for line in output
        .stdout_text()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        if let Ok(node) = serde_json::from_str::<Value>(line)
            && let Some(id) = node.get("ID").and_then(Value::as_str)
        {
            by_id.insert(id.to_owned(), node);
        }
    }
    for (address, id) in present {
        let Some(node) = by_id.get(id) else { continue };
        let spec = node.get("Spec").cloned().unwrap_or(Value::Null);
        let live = [
            ("role", spec.get("Role").cloned()),
            ("availability", spec.get("Availability").cloned()),
            (
                "labels",
                Some(
                    spec.get("Labels")
                        .filter(|labels| labels.is_object())
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Default::default())),
                ),
            ),
        ];
        let Some(entry) = refreshed
            .state
            .resources
            .iter_mut()
            .find(|resource| &resource.address == address)
        else {
            continue;
        };
        for (name, value) in live {
            let Some(value) = value else { continue };
            if entry.attributes.get(name) != Some(&value) {
                refreshed.drift.push(format!(
                    "`{address}`: {name} is {} on the cluster, {} in the state",
                    value,
                    entry
                        .attributes
                        .get(name)
                        .map_or("nothing".to_owned(), Value::to_string)
                ));
                entry.attributes.insert(name.to_owned(), value);
            }
        }
    }
    Ok(())
}

async fn list_names(
    context: &Context,
    anchor: &str,
    command: &[&str],
    field: &str,
) -> Result<BTreeSet<String>, StepError> {
    let script = Script::new(docker(command).args(["--format", "{{json .}}"]));
    let output = context.check(anchor, &script, None).await?;
    Ok(output
        .stdout_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|value| value.get(field).and_then(Value::as_str).map(str::to_owned))
        .collect())
}

fn forget_missing(refreshed: &mut Refreshed, kind: Kind, live: &BTreeSet<String>, what: &str) {
    let gone: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == kind)
        .filter(|resource| {
            !live.contains(
                resource
                    .docker_name
                    .as_deref()
                    .unwrap_or(&resource.address.name),
            )
        })
        .map(|resource| resource.address.clone())
        .collect();
    for address in gone {
        // A pending entry records an attempt (a failed or killed create), not an object seen
        // on the cluster: it goes quietly, and the plan creates the resource.
        let attempted = refreshed
            .state
            .resource(&address)
            .is_some_and(|resource| resource.pending);
        if !attempted {
            refreshed
                .drift
                .push(format!("`{address}`: the {what} was removed by hand"));
        }
        refreshed.state.remove(&address);
    }
}
