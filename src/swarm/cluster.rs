//! The swarm kind: `docker swarm init` (or adoption of an existing swarm) and `docker swarm
//! update` with the configured settings; for the refresh, the manager that drives the reads
//! (found through the hosts' facts) and whether a swarm no host answers for may still live.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::change::Action;
use crate::ssh::{RemoteCommand, Script};
use crate::state::State;
use crate::swarm::context::*;
use crate::swarm::facts::{HostFacts, SwarmState};
use crate::swarm::{Context, StepError};

use super::Work;
use super::facts;
use super::unlock::keep_unlock_key;
use super::{KindStep, NodeStep, Proposal, Step};

/// `docker swarm init`; or adoption of the swarm an interrupted apply initialized, or of the
/// swarm `on` already manages when the config says `[swarm] adopt = true` (`adopt`: the cluster
/// the plan showed, which must still be the one). An adopted swarm gets the configured settings
/// with `docker swarm update`.
pub(super) async fn swarm_init(
    context: &Context,
    work: &Work,
    on: &str,
    adopt: Option<&str>,
) -> Result<String, StepError> {
    // What the host said last in this run (its dockerd's restart answered with it), else
    // asked now. An init an interrupted run started may still be settling (`pending`): wait
    // for it (`facts::settled`).
    let info = facts::membership(context, on).await?;
    let info = facts::settled(context, on, info).await?;
    if info.local_node_state == "active" {
        let recorded = work.recorded.as_ref().map(|swarm| swarm.pending);
        if info.control_available && recorded == Some(true) {
            // The run that initialized it may have died (or stopped) before the key was kept
            // or shown.
            if work.value("autolock").and_then(Value::as_bool) == Some(true) {
                keep_unlock_key(context, on, true).await?;
            }
            return Ok(info.cluster_id);
        }
        let planned = adopt.is_none_or(|cluster| cluster == info.cluster_id);
        if info.control_available && context.settings.adopt && planned {
            swarm_update(context, work).await?;
            return Ok(info.cluster_id);
        }
        if let Some(cluster) = adopt {
            return Err(StepError::Refused(format!(
                "`{on}` manages swarm {} now, not the swarm {cluster} this plan adopts; plan again",
                info.cluster_id
            )));
        }
        return Err(StepError::Refused(format!(
            "`{on}` is already part of a swarm (cluster {}) that this state did not create; leave it first (`docker swarm leave --force` on {on}), set `adopt = true` under `[swarm]` to take it over, or remove `{on}` from the config",
            info.cluster_id
        )));
    }
    if let Some(cluster) = adopt {
        return Err(StepError::Refused(format!(
            "`{on}` is no longer in the swarm {cluster} this plan adopts; plan again"
        )));
    }
    let advertise = context
        .settings
        .advertise
        .get(on)
        .cloned()
        .unwrap_or_default();
    let mut command = docker(&["swarm", "init", "--advertise-addr"]).arg(advertise);
    if let Some(listen) = work.text("listen_addr") {
        command = command.arg("--listen-addr").arg(listen);
    }
    if let Some(data_path) = context.settings.data_path.get(on).cloned() {
        command = command.arg("--data-path-addr").arg(data_path);
    }
    if let Some(port) = work.value("data_path_port").and_then(Value::as_u64) {
        command = command.arg("--data-path-port").arg(port.to_string());
    }
    let pools: Vec<String> = work
        .value("default_addr_pool")
        .and_then(Value::as_array)
        .map(|pools| {
            pools
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !pools.is_empty() {
        for pool in &pools {
            command = command.arg("--default-addr-pool").arg(pool.clone());
        }
        if let Some(mask) = work
            .value("default_addr_pool_mask_length")
            .and_then(Value::as_u64)
        {
            command = command
                .arg("--default-addr-pool-mask-length")
                .arg(mask.to_string());
        }
    }
    if work.value("autolock").and_then(Value::as_bool) == Some(true) {
        command = command.arg("--autolock");
    }
    command = swarm_settings(command, work);
    // The init and the manager's answer after it (the cluster id), in one round trip.
    let info = facts::init_swarm(context, on, command, "check the advertise address: it must be an address of this host that the other nodes reach").await?;
    if work.value("autolock").and_then(Value::as_bool) == Some(true) {
        keep_unlock_key(context, on, true).await?;
    }
    Ok(info.cluster_id)
}

pub(super) fn swarm_settings(mut command: RemoteCommand, work: &Work) -> RemoteCommand {
    for (attribute_name, flag) in [
        ("cert_expiry", "--cert-expiry"),
        ("dispatcher_heartbeat", "--dispatcher-heartbeat"),
        ("max_snapshots", "--max-snapshots"),
        ("snapshot_interval", "--snapshot-interval"),
        ("task_history_limit", "--task-history-limit"),
    ] {
        if let Some(value) = work.value(attribute_name) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            command = command.arg(flag).arg(text);
        }
    }
    command
}

pub(super) async fn swarm_update(context: &Context, work: &Work) -> Result<(), StepError> {
    let host = work.host.clone().unwrap_or_default();
    let mut command = docker(&["swarm", "update"]);
    if let Some(autolock) = work.value("autolock").and_then(Value::as_bool) {
        command = command.arg(format!("--autolock={autolock}"));
    }
    command = swarm_settings(command, work);
    context.check(&host, &Script::new(command), None).await?;
    if work.value("autolock").and_then(Value::as_bool) == Some(true) {
        let turned_on = work.before("autolock").and_then(Value::as_bool) != Some(true);
        keep_unlock_key(context, &host, turned_on).await?;
    }
    Ok(())
}

/// The swarm's own steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SwarmStep {
    /// `docker swarm init` on the bootstrap manager.
    SwarmInit { on: String },
    /// Take over the swarm `on` already manages (`[swarm] adopt = true`) instead of
    /// `docker swarm init`, then `docker swarm update` with the configured settings.
    AdoptSwarm { on: String, cluster_id: String },
    /// `docker swarm update` with the changed settings.
    SwarmUpdate,
    /// `docker swarm join-token --rotate` for both roles, on a manager, once every other join of
    /// the plan is done (`[swarm] rotate_join_tokens`).
    RotateJoinTokens { via: String },
}

impl KindStep for SwarmStep {
    const TAGS: &'static [&'static str] = &[
        "swarm_init",
        "adopt_swarm",
        "swarm_update",
        "rotate_join_tokens",
    ];

    fn describe(&self) -> String {
        match self {
            SwarmStep::SwarmInit { on } => format!("docker swarm init on {on}"),
            SwarmStep::AdoptSwarm { on, cluster_id } => format!(
                "adopt the existing swarm {cluster_id} on {on} (instead of docker swarm init), then docker swarm update with the configured settings"
            ),
            SwarmStep::SwarmUpdate => "docker swarm update".to_owned(),
            SwarmStep::RotateJoinTokens { via } => format!(
                "rotate the worker and manager join tokens once every node of this apply has joined (on {via})"
            ),
        }
    }
}

impl SwarmStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        match self {
            SwarmStep::SwarmInit { on } => swarm_init(context, work, on, None).await.map(Some),
            SwarmStep::AdoptSwarm { on, cluster_id } => {
                swarm_init(context, work, on, Some(cluster_id))
                    .await
                    .map(Some)
            }
            SwarmStep::SwarmUpdate => {
                swarm_update(context, work).await?;
                Ok(None)
            }
            SwarmStep::RotateJoinTokens { via } => {
                for role in ["worker", "manager"] {
                    context
                        .check(
                            via,
                            &Script::new(docker(&["swarm", "join-token", "--rotate", "-q", role])),
                            None,
                        )
                        .await?;
                }
                context.tokens.clear();
                Ok(None)
            }
        }
    }
}

/// What a change of the swarm takes: `docker swarm init` on the bootstrap manager, `docker
/// swarm update` for settings, and the last manager's `docker swarm leave --force` when the
/// swarm goes.
pub fn steps(change: &Proposal) -> Vec<Step> {
    match change.action {
        Action::Create => vec![
            SwarmStep::SwarmInit {
                on: change.host.unwrap_or_default().to_owned(),
            }
            .into(),
        ],
        Action::Update => vec![SwarmStep::SwarmUpdate.into()],
        Action::Delete | Action::Replace => vec![NodeStep::Leave { force: true }.into()],
        Action::NoOp => Vec::new(),
    }
}

/// The host that drives the cluster-wide reads: one that manages the swarm the state records
/// (its cluster id; for an init an interrupted apply left pending, the host that ran it),
/// found among every host whose facts were read, the recorded managers first.
pub(super) fn find_anchor(
    state: &State,
    swarm: &crate::state::ResourceState,
    facts: &[HostFacts],
    unreachable: &BTreeSet<String>,
) -> Option<String> {
    let recorded_cluster = swarm.remote_id.clone().filter(|_| !swarm.pending);
    let ours = |facts: &HostFacts| {
        facts.manager
            && facts.swarm == Some(SwarmState::Active)
            && !unreachable.contains(&facts.host)
            && match &recorded_cluster {
                Some(cluster) => facts.cluster_id.as_ref() == Some(cluster),
                None => Some(&facts.host) == swarm.host.as_ref(),
            }
    };
    let recorded = state.manager_hosts();
    recorded
        .iter()
        .filter_map(|manager| facts.iter().find(|facts| &facts.host == manager))
        .chain(facts.iter())
        .find(|facts| ours(facts))
        .map(|facts| facts.host.clone())
}

/// Why the swarm the state records may still exist although no host answered as its manager:
/// a recorded manager (or, with none recorded, the host that ran the init) did not answer, is
/// locked, or is in a swarm whose id was not read. `None` when every one of them answered
/// outside that swarm, so the swarm is gone.
pub(super) fn swarm_may_live(
    state: &State,
    swarm: &crate::state::ResourceState,
    facts: &[HostFacts],
) -> Option<String> {
    let mut candidates = state.manager_hosts();
    if let Some(host) = &swarm.host
        && !candidates.contains(host)
    {
        candidates.push(host.clone());
    }
    if candidates.is_empty() {
        return Some("the state records no manager".to_owned());
    }
    let recorded_cluster = swarm.remote_id.as_deref();
    for candidate in &candidates {
        let Some(facts) = facts.iter().find(|facts| &facts.host == candidate) else {
            return Some(format!("`{candidate}` was not read"));
        };
        if let Some(why) = &facts.unreachable {
            return Some(format!("`{candidate}`: {why}"));
        }
        match facts.swarm {
            None => {
                return Some(format!(
                    "dockerd on `{candidate}` did not answer{}",
                    facts
                        .docker_error
                        .as_ref()
                        .map_or(String::new(), |error| format!(": {error}"))
                ));
            }
            Some(SwarmState::Inactive) => {}
            Some(SwarmState::Locked) => {
                return Some(format!(
                    "`{candidate}` is locked: unlock it with `docker swarm unlock` and the unlock key"
                ));
            }
            Some(other) => {
                let elsewhere = facts.manager
                    && facts.cluster_id.is_some()
                    && facts.cluster_id.as_deref() != recorded_cluster;
                if !elsewhere {
                    return Some(format!("`{candidate}` is {} in a swarm", other.as_str()));
                }
            }
        }
    }
    None
}
