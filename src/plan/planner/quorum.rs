//! The managers: the anchor that drives the cluster, Raft's quorum through the plan, and how
//! many managers the plan leaves.

use std::collections::BTreeSet;

use super::{Options, PlanError, role_of};
use crate::address::Kind;
use crate::config::desired::Desired;
use crate::plan::model::{Action, Change, ManagerCount, Mode, Warning};
use crate::state::State;

/// The manager that drives cluster operations (reads join tokens, runs `node rm`, deploys
/// stacks): one that exists before the plan runs and survives it. For a new swarm, the
/// bootstrap manager; in destroy mode, the manager that leaves last.
pub(super) fn anchor_manager(
    desired: &Desired,
    state: &State,
    changes: &[Change],
    mode: Mode,
    unreachable: &BTreeSet<String>,
) -> String {
    let state_managers: Vec<String> = state
        .resources
        .iter()
        .filter(|resource| {
            resource.is_manager()
                && !resource.is_ghost()
                && !unreachable.contains(&resource.address.name)
        })
        .map(|resource| resource.address.name.clone())
        .collect();
    let surviving = |name: &String| {
        mode == Mode::Normal
            && changes.iter().any(|change| {
                change.address.kind == Kind::Node
                    && &change.address.name == name
                    && matches!(change.action, Action::NoOp | Action::Update)
                    && role_of(change, false).as_deref() == Some("manager")
            })
    };
    if state_managers.contains(&desired.bootstrap)
        && (mode == Mode::Destroy || surviving(&desired.bootstrap))
    {
        return desired.bootstrap.clone();
    }
    if let Some(manager) = state_managers.iter().find(|name| surviving(name)) {
        return manager.clone();
    }
    if (mode == Mode::Destroy || desired.bootstrap.is_empty())
        && let Some(manager) = state_managers.first()
    {
        return manager.clone();
    }
    desired.bootstrap.clone()
}

/// Walks the membership changes in the order the graph runs them (joins and promotions
/// first, then demotions and removals one at a time) and refuses a plan that, at any step,
/// would leave fewer reachable managers than Raft's majority, or no manager at all.
pub(super) fn check_quorum(
    changes: &[Change],
    state: &State,
    options: &Options,
    anchor: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), PlanError> {
    let mut managers: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.is_manager())
        .map(|resource| resource.address.name.clone())
        .collect();
    let ghosts: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.is_ghost())
        .map(|resource| resource.address.name.clone())
        .collect();
    let destroying_swarm = destroys_swarm(changes);
    for change in changes
        .iter()
        .filter(|change| change.address.kind == Kind::Node)
    {
        let becomes_manager = matches!(
            change.action,
            Action::Create | Action::Update | Action::Replace
        ) && role_of(change, false).as_deref() == Some("manager");
        if becomes_manager {
            managers.insert(change.address.name.clone());
        }
    }
    let mut problems = Vec::new();
    for change in changes
        .iter()
        .filter(|change| change.address.kind == Kind::Node)
    {
        let name = &change.address.name;
        let leaves = match change.action {
            Action::Delete | Action::Replace => role_of(change, true).as_deref() == Some("manager"),
            Action::Update => {
                role_of(change, true).as_deref() == Some("manager")
                    && role_of(change, false).as_deref() == Some("worker")
            }
            _ => false,
        };
        if !leaves || !managers.contains(name) {
            continue;
        }
        if destroying_swarm && name == anchor {
            continue;
        }
        let reachable = |managers: &BTreeSet<String>| {
            managers
                .iter()
                .filter(|manager| {
                    !options.unreachable.contains(*manager) && !ghosts.contains(*manager)
                })
                .count()
        };
        let quorum = |managers: &BTreeSet<String>| managers.len() / 2 + 1;
        let mut after = managers.clone();
        after.remove(name);
        if after.is_empty() {
            problems.push(format!("remove `{name}`, the last manager of the swarm"));
        } else if reachable(&managers) < quorum(&managers) || reachable(&after) < quorum(&after) {
            problems.push(format!(
                "demote or remove `{name}` while only {} of {} managers are reachable (a majority is {}), losing Raft quorum",
                reachable(&managers),
                managers.len(),
                quorum(&managers)
            ));
        }
        managers = after;
    }
    if problems.is_empty() {
        return Ok(());
    }
    let what = problems.join("; and ");
    if options.allow_quorum_loss {
        warnings.push(Warning {
            summary: "--allow-quorum-loss: this plan loses Raft quorum".to_owned(),
            detail: format!("It will {what}. You asked for this with `--allow-quorum-loss`; the swarm may have to be rebuilt with `docker swarm init --force-new-cluster`."),
        });
        Ok(())
    } else {
        Err(PlanError::QuorumLoss { what })
    }
}

/// Whether the plan deletes the swarm itself (the last manager's `swarm leave --force`).
pub(super) fn destroys_swarm(changes: &[Change]) -> bool {
    changes
        .iter()
        .any(|change| change.address.kind == Kind::Swarm && change.action == Action::Delete)
}

/// The managers before and after the plan, ghost entries counted, when the plan changes their
/// number.
pub(super) fn manager_count(changes: &[Change], state: &State) -> Option<ManagerCount> {
    let before = state
        .resources
        .iter()
        .filter(|resource| resource.is_manager())
        .count();
    let after = if destroys_swarm(changes) {
        0
    } else {
        changes
            .iter()
            .filter(|change| change.address.kind == Kind::Node)
            .filter(|change| change.action != Action::Delete)
            .filter(|change| {
                role_of(change, false)
                    .or_else(|| role_of(change, true))
                    .as_deref()
                    == Some("manager")
            })
            .count()
    };
    (before != after).then_some(ManagerCount { before, after })
}
