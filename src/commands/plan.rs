//! `swarmform plan`: what apply would change, as text, JSON or markdown on stdout; `-out`
//! saves it for `apply`.

use std::sync::Arc;

use super::error::Error;
use super::planning::{PlanRequest, planned};
use super::{ExitStatus, Workspace};
use crate::apply::report::Silent;
use crate::cli::PlanArgs;
use crate::plan::saved::SavedPlan;

pub(super) fn run(workspace: &Workspace, args: &PlanArgs) -> Result<ExitStatus, Error> {
    let printer = workspace.printer();
    let guard = workspace.state().lock("plan", args.lock_timeout)?;
    let state = workspace.state().load()?;
    let loaded = workspace.config()?;
    // A runtime (and SSH) only when the hosts are read.
    if args.refresh {
        workspace.runtime()?;
    }
    let request = PlanRequest {
        destroy: args.destroy,
        targets: &args.target,
        refresh: args.refresh,
        allow_quorum_loss: args.allow_quorum_loss,
    };
    let planned = planned(workspace, state.as_ref(), &request, Arc::new(Silent))?;
    if let Some(pool) = workspace.opened_pool() {
        workspace.runtime()?.block_on(pool.close());
    }
    for line in &planned.drift {
        printer.err_line(format_args!("Drift: {line}"));
    }
    let plan = planned.plan;
    let output = if args.json {
        crate::ui::plan_json(&plan)
    } else if args.markdown {
        crate::ui::plan_markdown(&plan)
    } else {
        crate::ui::plan_text(&plan, printer.color_stdout())
    };
    printer.out(output);
    if let Some(path) = &args.out {
        SavedPlan::new(plan.clone(), &loaded.desired).write(path)?;
        printer.err_line(format_args!(
            "Saved the plan to `{}`. To apply exactly this plan: swarmform apply {}",
            path.display(),
            path.display()
        ));
    }
    drop(guard);
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
