//! `swarmform init`: writes the commented starter config.

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::cli::InitArgs;

/// The starter config `swarmform init` writes.
const STARTER_CONFIG: &str = include_str!("../../templates/swarmform.toml");

pub(super) fn run(workspace: &Workspace, args: &InitArgs) -> Result<ExitStatus, Error> {
    let path = workspace.config_path();
    if path.exists() && !args.force {
        return Err(Error::ConfigExists {
            path: path.to_owned(),
        });
    }
    std::fs::write(path, STARTER_CONFIG).map_err(|source| Error::Io {
        path: path.to_owned(),
        operation: "write",
        source,
    })?;
    workspace.printer().err_line(format_args!(
        "Wrote `{}`. Edit the hosts, then run `swarmform validate` and `swarmform plan`.",
        path.display()
    ));
    Ok(ExitStatus::Success)
}
