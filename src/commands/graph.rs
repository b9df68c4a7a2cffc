//! `swarmform graph`: the plan's dependency graph in Graphviz DOT, planned from the state file
//! alone.

use std::sync::Arc;

use super::error::Error;
use super::planning::{PlanRequest, planned};
use super::{ExitStatus, Workspace};
use crate::apply::report::Silent;
use crate::cli::GraphArgs;

pub(super) fn run(workspace: &Workspace, args: &GraphArgs) -> Result<ExitStatus, Error> {
    let state = workspace.state().load()?;
    workspace.config()?;
    let request = PlanRequest {
        destroy: args.destroy,
        targets: &args.target,
        refresh: false,
        allow_quorum_loss: true,
    };
    let planned = planned(workspace, state.as_ref(), &request, Arc::new(Silent))?;
    workspace.printer().out(planned.graph.dot(&planned.plan));
    Ok(ExitStatus::Success)
}
