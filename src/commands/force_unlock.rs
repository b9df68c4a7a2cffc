//! `swarmform force-unlock ID`: releases a state lock whose holder is gone.

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::cli::ForceUnlockArgs;

pub(super) fn run(workspace: &Workspace, args: &ForceUnlockArgs) -> Result<ExitStatus, Error> {
    let state = workspace.state();
    let info = state.force_unlock(&args.id, args.force)?;
    workspace.printer().err_line(format_args!(
        "Released the lock `{}` on `{}` (held by {}, operation `{}`, pid {}).",
        info.id,
        state.path().display(),
        info.who,
        info.operation,
        info.pid
    ));
    Ok(ExitStatus::Success)
}
