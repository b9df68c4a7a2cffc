//! How a run ends, and the one place that becomes the process's exit code.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (with `--detailed-exitcode`: and the plan has no changes).
    Success,
    /// An error, a step that failed, a host whose command failed, a usage error.
    Failure,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes,
    /// Interrupted (Ctrl-C): the running steps finished and the state was saved.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The exit codes scripts rely on: 0 done, 1 failed, 2 changes (`--detailed-exitcode`), 130
    // interrupted.
    #[test]
    fn exit_codes() {
        let codes = [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Changes,
            ExitStatus::Interrupted,
        ]
        .map(ExitStatus::code);
        assert_eq!(codes, [0, 1, 2, 130]);
    }
}
