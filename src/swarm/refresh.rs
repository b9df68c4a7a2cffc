//! Refresh: read the live cluster and bring the state in line with it, so the next plan shows
//! what was changed by hand as a change back to the config.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::facts::HostFacts;
use super::{
    Context, StepError, cluster, daemon, docker, facts, file, node, object, registry, stack,
};
use crate::address::{Address, Kind};
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
    /// Objects of this lineage the state does not record, for the planner to remove.
    pub strays: Vec<super::ownership::Stray>,
    /// Services made before the ownership labels, for the planner to label.
    pub unlabelled: Vec<super::ownership::Unlabelled>,
}

/// A host that cannot be reached at all, as opposed to one that refused us.
pub(crate) fn unreachable(error: &crate::ssh::SshError) -> bool {
    matches!(error, crate::ssh::SshError::Connect { .. }) || error.is_retryable()
}

/// Reads the live cluster. `state` is not changed; the refreshed copy is returned.
///
/// `facts` are the hosts' facts read for this plan (every configured host and every host only
/// the state remembers): the swarm is found through any of them that manages it, not only
/// through the managers the state records, and every node's id is read live from its host.
pub async fn refresh(
    context: &Arc<Context>,
    state: &State,
    facts: &[HostFacts],
) -> Result<Refreshed, StepError> {
    let mut refreshed = Refreshed {
        state: state.clone(),
        ..Refreshed::default()
    };
    // A host the facts found unreachable is not tried again.
    for facts in facts.iter().filter(|facts| facts.unreachable.is_some()) {
        refreshed.unreachable.insert(facts.host.clone());
    }
    daemon::refresh(context, state, facts, &mut refreshed).await?;
    file::refresh(context, &mut refreshed).await?;

    let Some(swarm) = state.resource(&Address::swarm()) else {
        return Ok(refreshed);
    };
    let Some(anchor) = cluster::find_anchor(state, swarm, facts, &refreshed.unreachable) else {
        if swarm.pending {
            // An init an interrupted apply may or may not have made: the plan initializes it
            // again, and the init adopts what it finds.
            return Ok(refreshed);
        }
        if let Some(why) = cluster::swarm_may_live(state, swarm, facts) {
            // Unreachable is not gone: never forget a swarm because the network is down.
            return Err(StepError::Refused(format!(
                "no manager of the swarm could be reached ({why}), so the live cluster cannot be read\nhint: bring a manager back, or plan from the state file alone with `--refresh=false`"
            )));
        }
        refreshed.drift.push(
            "no configured host is a manager of the swarm the state records any more: the swarm is gone"
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

    if !swarm.pending
        && swarm.host.as_ref() != Some(&anchor)
        && let Some(recorded) = refreshed.state.resource_mut(&Address::swarm())
    {
        // The swarm is recorded with the manager that drives it now, not pinned to the host
        // that ran `docker swarm init`.
        recorded.host = Some(anchor.clone());
    }
    node::refresh(context, &anchor, facts, &mut refreshed).await?;
    let listed = object::refresh(context, &anchor, &mut refreshed).await?;
    let (services, inspected) = stack::refresh(context, &anchor, &mut refreshed).await?;
    super::ownership::reconcile(context, &mut refreshed, &listed, &inspected);
    registry::refresh(&mut refreshed, &services);
    Ok(refreshed)
}

pub(super) async fn list_names(
    context: &Context,
    anchor: &str,
    command: &[&str],
    field: &str,
) -> Result<BTreeSet<String>, StepError> {
    let output = context
        .check(anchor, &Script::new(list_command(command)), None)
        .await?;
    Ok(names(&output.stdout_text(), field))
}

/// `docker … ls --format '{{json .}}'`, as [`list_names`] and the read ahead send it.
fn list_command(command: &[&str]) -> RemoteCommand {
    docker(command).args(["--format", "{{json .}}"])
}

/// `field` of each JSON line.
fn names(text: &str, field: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|value| value.get(field).and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The cluster reads of a refresh, made through `anchor` (the first manager the state records,
/// which the refresh reads the cluster through when it answers as a manager) while the other
/// hosts' facts are still being read: its facts are read first ([`facts::gather`]'s `first`,
/// which sends them here), then, if it manages a swarm, every node inspected and the
/// networks, secrets, configs, stacks and services listed in one round trip, and the services
/// inspected in a second. The refresh's own reads then take these answers
/// ([`Context::read_ahead`]); what it did not take is forgotten when it ends
/// (`commands::planning::read_and_refresh`).
pub fn read_ahead(
    context: &Arc<Context>,
    anchor: &str,
) -> (
    tokio::sync::oneshot::Sender<facts::Parsed>,
    impl std::future::Future<Output = ()> + use<>,
) {
    let (sender, receiver) = tokio::sync::oneshot::channel::<facts::Parsed>();
    let context = Arc::clone(context);
    let anchor = anchor.to_owned();
    let read = async move {
        let Ok(parsed) = receiver.await else { return };
        let facts = &parsed.facts;
        if !facts.manager || facts.swarm != Some(facts::SwarmState::Active) {
            return;
        }
        let mut reads = Vec::new();
        if !parsed.swarm_nodes.is_empty() {
            reads.extend(
                node::inspect_script(&parsed.swarm_nodes)
                    .commands()
                    .cloned(),
            );
        }
        reads.extend(["network", "secret", "config"].map(super::ownership::list_command));
        reads.push(list_command(&["stack", "ls"]));
        reads.push(list_command(&["service", "ls"]));
        // A read that fails here is made again by the refresh, which says why.
        let Ok(answers) = context.read_ahead(&anchor, &reads).await else {
            return;
        };
        if let Some(Some(services)) = answers.last() {
            let services = names(&services.stdout_text(), "Name");
            if !services.is_empty() {
                let inspect = stack::inspect_script(&services);
                let _ = context
                    .read_ahead(&anchor, &inspect.commands().cloned().collect::<Vec<_>>())
                    .await;
            }
        }
    };
    (sender, read)
}

pub(super) fn forget_missing(
    refreshed: &mut Refreshed,
    kind: Kind,
    live: &BTreeSet<String>,
    what: &str,
) {
    let gone: Vec<Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == kind)
        .filter(|resource| !live.contains(resource.live_name()))
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
