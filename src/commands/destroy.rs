//! `swarmform destroy`: apply in the destroy mode, which takes everything in the state apart in
//! the decommission order.

use super::apply::Operation;
use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::cli::ApplyArgs;

pub(super) fn run(workspace: &Workspace, args: &ApplyArgs) -> Result<ExitStatus, Error> {
    super::apply::run(workspace, args, Operation::Destroy)
}
