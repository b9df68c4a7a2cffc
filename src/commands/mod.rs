//! The commands, one file each, and the dispatch. A command gets the [`Workspace`] (paths,
//! printer, and the config, runtime and SSH pool made on first use), writes through its
//! printer, and ends with an [`ExitStatus`] or an [`Error`] that `run` prints once.
//!
//! `planning` holds what `plan`, `apply`, `destroy` and `graph` share: refresh, plan, and the
//! graph, built once.

mod apply;
mod destroy;
pub mod error;
mod exec;
mod force_unlock;
mod graph;
mod image;
mod init;
mod lab;
mod plan;
mod planning;
mod refresh;
mod show;
mod state;
mod status;
pub mod validate;
mod workspace;

pub use error::{Error, OperateError};
pub use image::ImageError;
pub use status::ExitStatus;
pub use workspace::{LoadedConfig, Workspace};

use crate::cli::Command;

pub fn execute(command: &Command, workspace: &Workspace) -> Result<ExitStatus, Error> {
    match command {
        Command::Init(args) => init::run(workspace, args),
        Command::Validate(_) => validate::run(workspace),
        Command::Plan(args) => plan::run(workspace, args),
        Command::Apply(args) => apply::run(workspace, args, apply::Operation::Apply),
        Command::Destroy(args) => destroy::run(workspace, args),
        Command::Refresh(args) => refresh::run(workspace, args),
        Command::Exec(args) => exec::run(workspace, args),
        Command::Graph(args) => graph::run(workspace, args),
        Command::Show(args) => show::run(workspace, args),
        Command::State(command) => state::run(workspace, command),
        Command::ForceUnlock(args) => force_unlock::run(workspace, args),
        Command::Lab(command) => lab::run(workspace, command),
        Command::Image(command) => image::run(workspace, command),
    }
}
