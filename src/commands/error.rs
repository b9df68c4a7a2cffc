//! The errors a command can end with. Each says what went wrong and what to do next; `run`
//! prints it once, with its causes ([`crate::ui::Printer::error`]), and maps it to the exit
//! status.

use std::path::PathBuf;

use super::ExitStatus;
use super::image::ImageError;
use crate::lab::LabError;
use crate::plan::graph::CycleError;
use crate::plan::planner::PlanError;
use crate::plan::saved::SavedPlanError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config has errors; they were already printed with their snippets.
    #[error("the config has {count} error{}; nothing was changed", if *count == 1 { "" } else { "s" })]
    Config { count: usize },

    #[error(transparent)]
    State(#[from] StateError),

    #[error(transparent)]
    Plan(#[from] PlanError),

    #[error(transparent)]
    Cycle(#[from] CycleError),

    #[error("cannot {operation} `{}`", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    SavedPlan(#[from] SavedPlanError),

    #[error("`{path}` already exists; nothing was written\nhint: pass `--force` to overwrite it", path = path.display())]
    ConfigExists { path: PathBuf },

    #[error(
        "no resource `{address}` in the state\nhint: `swarmform state list` shows the addresses"
    )]
    NotInState { address: String },

    /// Boxed: these carry SSH and step errors, and every `Result<_, Error>` stays small.
    #[error(transparent)]
    Operate(Box<OperateError>),

    /// Boxed like `Operate`.
    #[error(transparent)]
    Image(Box<ImageError>),

    #[error(transparent)]
    Lab(#[from] LabError),
}

/// Errors of the commands that reach hosts.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    #[error(
        "the saved plan was made against state serial {planned_serial} (lineage {planned_lineage}), but the state is now serial {serial} (lineage {lineage}): something was applied since\nhint: run `swarmform plan -out FILE` again and review the new plan"
    )]
    StalePlan {
        planned_serial: u64,
        planned_lineage: String,
        serial: u64,
        lineage: String,
    },

    #[error(
        "the config (or a file or variable it uses) changed since the plan was saved\nhint: run `swarmform plan -out FILE` again and review the new plan"
    )]
    ConfigChanged,

    #[error("cannot work out how to reach the hosts: {0}")]
    Targets(String),

    #[error(transparent)]
    Step(#[from] crate::swarm::StepError),

    #[error("nothing was applied: the answer was not `yes`")]
    Cancelled,

    #[error(
        "no host matches the selection\nhint: `--hosts` takes names from [hosts], `--role` takes manager or worker"
    )]
    NoHosts,

    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

impl From<OperateError> for Error {
    fn from(error: OperateError) -> Error {
        Error::Operate(Box::new(error))
    }
}

impl From<ImageError> for Error {
    fn from(error: ImageError) -> Error {
        Error::Image(Box::new(error))
    }
}

impl Error {
    /// Every error exits 1; `--detailed-exitcode` reserves 2 for "changes present".
    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }
}
