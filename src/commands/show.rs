//! `swarmform show`: a saved plan, or the state when no plan file is given.

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::cli::ShowArgs;
use crate::plan::saved::SavedPlan;

pub(super) fn run(workspace: &Workspace, args: &ShowArgs) -> Result<ExitStatus, Error> {
    let printer = workspace.printer();
    if let Some(path) = &args.plan_file {
        let saved = SavedPlan::read(path)?;
        let output = if args.json {
            crate::ui::plan_json(&saved.plan)
        } else {
            crate::ui::plan_text(&saved.plan, printer.color_stdout())
        };
        printer.out(output);
        return Ok(ExitStatus::Success);
    }
    let Some(state) = workspace.state().load()? else {
        printer.err_line(format_args!(
            "No state at `{}`: nothing has been applied yet.",
            workspace.state().path().display()
        ));
        return Ok(ExitStatus::Success);
    };
    if args.json {
        let mut text =
            serde_json::to_string_pretty(&crate::ui::state_json(&state)).unwrap_or_default();
        text.push('\n');
        printer.out(text);
    } else {
        for resource in &state.resources {
            printer.out(crate::ui::resource_text(resource));
        }
    }
    Ok(ExitStatus::Success)
}
