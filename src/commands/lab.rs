//! `swarmform lab up|status|load|down`: the local lab cluster (its work is in `crate::lab`).

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::cli::LabCommand;

pub(super) fn run(workspace: &Workspace, command: &LabCommand) -> Result<ExitStatus, Error> {
    crate::lab::run(command, workspace.printer())?;
    Ok(ExitStatus::Success)
}
