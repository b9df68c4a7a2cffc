//! The planner: desired resources and the last state in, a [`Plan`] out. Pure: it reads no
//! file and talks to no host.

mod diff;
mod quorum;
mod steps;
mod strays;
mod targets;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{Action, Change, HostFacts, Mode, Plan, StateRef, Stray, Unlabelled, Warning};
use crate::address::{Address, Kind, Target};
use crate::config::desired::Desired;
use crate::state::{GHOST, State};

/// What the command line asks of the planner.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub destroy: bool,
    pub targets: Vec<Target>,
    /// `--allow-quorum-loss`: the operator accepts a plan that loses Raft quorum or removes the
    /// last manager.
    pub allow_quorum_loss: bool,
    /// Whether the live cluster was read first (the state then reflects it).
    pub refreshed: bool,
    /// Managers the refresh could not reach; empty for an offline plan.
    pub unreachable: BTreeSet<String>,
    /// What every host said about itself (config hosts, then hosts only the state has), for
    /// the preflight checks and the plan's Hosts section; `None` when the hosts were not read.
    pub facts: Option<Vec<HostFacts>>,
    /// Objects of this lineage the refresh found outside the state: removed by the plan.
    pub strays: Vec<Stray>,
    /// Services made before the ownership labels: labelled in place.
    pub unlabelled: Vec<Unlabelled>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "this plan would {what}\n\nRaft needs a majority of the managers to agree on every change; without it the swarm cannot be managed until it is rebuilt with `docker swarm init --force-new-cluster`.\nhint: keep or add managers first (add new managers, apply, then remove the old ones), or pass `--allow-quorum-loss` if you accept this"
    )]
    QuorumLoss { what: String },
    #[error(
        "no resource matches `--target {target}`\nhint: run `swarmform state list` or `swarmform plan` to see the addresses"
    )]
    UnknownTarget { target: String },
    /// The hosts' facts refuse the plan (duplicate hostnames, a host in a foreign swarm); the
    /// text holds each problem and its hint.
    #[error("{0}")]
    Preflight(String),
}

/// Computes the plan.
pub fn plan(
    desired: &Desired,
    state: Option<&State>,
    options: &Options,
) -> Result<Plan, PlanError> {
    let empty = State::new();
    let state_ref = state.map(|state| StateRef {
        lineage: state.lineage.clone(),
        serial: state.serial,
    });
    let state = state.unwrap_or(&empty);
    let mode = if options.destroy {
        Mode::Destroy
    } else {
        Mode::Normal
    };
    let mut warnings: Vec<Warning> = Vec::new();

    let mut addresses: BTreeSet<&Address> = state
        .resources
        .iter()
        .map(|resource| &resource.address)
        .collect();
    if mode == Mode::Normal {
        addresses.extend(desired.resources.iter().map(|resource| &resource.address));
    }
    let mut changes: Vec<Change> = Vec::new();
    for address in addresses {
        let wanted = if mode == Mode::Normal {
            desired.resource(address)
        } else {
            None
        };
        let current = state.resource(address);
        // A resource whose creation was interrupted may or may not exist: create it again
        // (creation adopts what is there).
        let interrupted = current.is_some_and(|resource| resource.pending) && wanted.is_some();
        let current = if interrupted { None } else { current };
        if let Some(mut change) = diff::diff(wanted, current, &mut warnings) {
            if interrupted {
                change
                    .reasons
                    .push("a previous apply was interrupted while applying it".to_owned());
            }
            changes.push(change);
        }
    }
    diff::propagate_replacements(&mut changes);
    diff::mark_first_daemon_configs(&mut changes, state);

    if !options.targets.is_empty() {
        changes = targets::restrict(changes, &options.targets)?;
    }

    let anchor = quorum::anchor_manager(desired, state, &changes, mode, &options.unreachable);
    for change in &mut changes {
        // The swarm is driven by whichever manager drives the plan, not by the host that ran
        // `docker swarm init` (which may be gone).
        if change.address.kind == Kind::Swarm && change.action != Action::Create {
            change.host = Some(anchor.clone());
        }
        let ghost = change.address.kind == Kind::Node && change.before(GHOST).is_some();
        let cut_off = change
            .host
            .as_ref()
            .is_some_and(|host| options.unreachable.contains(host))
            && matches!(change.action, Action::Delete | Action::Replace);
        change.steps = steps::steps(change, desired, state, &anchor, mode, cut_off || ghost);
        if ghost {
            let what = change
                .before(GHOST)
                .and_then(Value::as_str)
                .unwrap_or("a node entry no configured host answers for")
                .to_owned();
            change.reasons.push(format!(
                "{what}: {}removed with `docker node rm --force`",
                if role_of(change, true).as_deref() == Some("manager") {
                    "demoted, then "
                } else {
                    ""
                }
            ));
        }
        if cut_off && change.address.kind == Kind::Node {
            change.reasons.push(format!(
                "`{}` cannot be reached: removed with `docker node rm --force` without draining or leaving; its containers keep running on it until it is wiped",
                change.host.clone().unwrap_or_default()
            ));
        }
    }
    strays::remove_strays(&mut changes, options, &anchor);
    if let Some(facts) = &options.facts {
        let mut found = super::preflight::check(desired, state, facts, &mut changes, mode)
            .map_err(|problems| PlanError::Preflight(super::preflight::message(&problems)))?;
        found.append(&mut warnings);
        warnings = found;
    }
    steps::rotate_tokens_after_joins(desired, &mut changes, &anchor);
    quorum::check_quorum(&changes, state, options, &anchor, &mut warnings)?;
    let managers = quorum::manager_count(&changes, state);
    if mode == Mode::Destroy
        && changes
            .iter()
            .any(|change| change.address.kind == Kind::Swarm)
    {
        warnings.push(Warning {
            summary: "this plan destroys the swarm".to_owned(),
            detail: format!(
                "Every node leaves the swarm, and the last manager `{anchor}` leaves with `--force`, which erases the swarm's Raft state: services, secrets, configs and overlay networks are gone for good. Named volumes and images stay on the hosts."
            ),
        });
    }
    let restarts: Vec<&str> = changes
        .iter()
        .filter(|change| {
            change
                .reasons
                .iter()
                .any(|reason| reason.starts_with("restarts dockerd"))
        })
        .filter_map(|change| change.host.as_deref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !restarts.is_empty() {
        warnings.push(Warning {
            summary: format!("restarts dockerd on {} host{}: {}", restarts.len(), plural(restarts.len()), restarts.join(", ")),
            detail: "Each node is drained before its dockerd restarts (its tasks move to other nodes) and set back to active once it is Ready; managers restart one at a time, each waiting until the swarm has a leader again, then the workers, a third of them at a time.".to_owned(),
        });
    }

    Ok(Plan {
        mode,
        changes,
        warnings,
        state: state_ref,
        refreshed: options.refreshed,
        targets: options.targets.iter().map(targets::target_text).collect(),
        hosts: options.facts.clone().unwrap_or_default(),
        managers,
    })
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn role_of(change: &Change, before: bool) -> Option<String> {
    let value = if before {
        change.before("role")
    } else {
        change.after("role")
    };
    value.and_then(Value::as_str).map(str::to_owned)
}

/// Changes by address, for the graph builder and tests.
pub fn by_address(plan: &Plan) -> BTreeMap<&Address, &Change> {
    plan.changes
        .iter()
        .map(|change| (&change.address, change))
        .collect()
}
