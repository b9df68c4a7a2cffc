//! Steps: each change's kind says what it takes (`swarm::steps`, pure), asked with what the
//! planner knows; then the rotation of the join tokens after the last join, which spans
//! changes.

use serde_json::Value;

use crate::address::{Address, Kind};
use crate::config::desired::Desired;
use crate::plan::model::{Change, Mode, Plan, Step};
use crate::state::State;
use crate::swarm::{self, NodeStep, Proposal, SwarmStep};

/// With `[swarm] rotate_join_tokens`, the node that joins last in the graph's order rotates both
/// join tokens once it has joined, and the graph orders every other join of the plan before it:
/// the tokens this apply read stop working as soon as nothing needs them any more.
pub(super) fn rotate_tokens_after_joins(desired: &Desired, changes: &mut [Change], anchor: &str) {
    let wanted = desired
        .resource(&Address::swarm())
        .and_then(|swarm| swarm.attributes.get("rotate_join_tokens"))
        .is_some_and(|attribute| attribute.value == Value::Bool(true));
    let joins = |change: &Change| {
        change.address.kind == Kind::Node
            && change
                .steps
                .iter()
                .any(|step| matches!(step, Step::Node(NodeStep::Join { .. })))
    };
    if !wanted || !changes.iter().any(joins) {
        return;
    }
    let probe = Plan {
        mode: Mode::Normal,
        changes: changes.to_vec(),
        warnings: Vec::new(),
        state: None,
        refreshed: false,
        targets: Vec::new(),
        hosts: Vec::new(),
        managers: None,
    };
    let Ok(graph) = crate::plan::graph::Graph::build(&probe) else {
        return;
    };
    let last = graph
        .order()
        .into_iter()
        .rev()
        .find(|vertex| {
            changes
                .iter()
                .any(|change| change.address == vertex.address && joins(change))
        })
        .map(|vertex| vertex.address.clone());
    if let Some(change) = changes
        .iter_mut()
        .find(|change| Some(&change.address) == last.as_ref())
    {
        change.steps.push(
            SwarmStep::RotateJoinTokens {
                via: anchor.to_owned(),
            }
            .into(),
        );
    }
}

/// The operations that carry out one change, from its kind; `cut_off`: the change removes what
/// a host that cannot be reached (or a ghost node entry) held.
pub(super) fn steps(
    change: &Change,
    desired: &Desired,
    state: &State,
    anchor: &str,
    mode: Mode,
    cut_off: bool,
) -> Vec<Step> {
    let recorded_name = state
        .resource(&change.address)
        .and_then(|resource| resource.docker_name.clone());
    let docker_name = desired
        .resource(&change.address)
        .and_then(|resource| resource.docker_name.clone())
        .or_else(|| recorded_name.clone())
        .unwrap_or_else(|| change.address.name.clone());
    let proposal = Proposal {
        address: &change.address,
        action: change.action,
        host: change.host.as_deref(),
        attributes: &change.attributes,
        reasons: &change.reasons,
        create_before_destroy: change.create_before_destroy,
        old_docker_name: recorded_name.unwrap_or_else(|| docker_name.clone()),
        docker_name,
        anchor,
        mode,
        bootstrap: &desired.bootstrap,
        swarm_recorded: state.resource(&Address::swarm()).is_some(),
        on_destroy: desired.on_destroy,
    };
    if cut_off {
        swarm::unreachable_steps(&proposal)
    } else {
        swarm::steps(&proposal)
    }
}
