//! Why a step failed, with the host, the command (secrets redacted) and Docker's own message.

use crate::ssh::SshError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Ssh(#[from] SshError),

    /// A command exited non-zero. `stderr` is already scrubbed of sensitive values.
    #[error("`{command}` failed on `{host}` (exit {status}): {stderr}{}", hint.as_ref().map(|hint| format!("\nhint: {hint}")).unwrap_or_default())]
    Command {
        host: String,
        command: String,
        status: u32,
        stderr: String,
        hint: Option<String>,
    },

    /// Output that could not be understood (Docker answered something unexpected).
    #[error("unexpected answer from `{host}` to `{command}`: {detail}")]
    Unexpected {
        host: String,
        command: String,
        detail: String,
    },

    /// Waited too long for the cluster to reach a state.
    #[error("timed out after {seconds} s waiting for {what}{}", last.as_ref().map(|last| format!("; last seen: {last}")).unwrap_or_default())]
    Timeout {
        what: String,
        seconds: u64,
        last: Option<String>,
    },

    /// A precondition the plan relied on does not hold.
    #[error("{0}")]
    Refused(String),

    /// Stopped by Ctrl-C before it started.
    #[error("interrupted")]
    Interrupted,
}
