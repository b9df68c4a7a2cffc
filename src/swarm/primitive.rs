//! Steps several kinds emit: writing a file on a host (atomically, by upload), ensuring a line
//! in one, removing one, restarting dockerd, or only forgetting a resource.

use serde::{Deserialize, Serialize};

use crate::address::Kind;
use crate::ssh::{RemoteCommand, Script};

use super::Work;
use super::context::*;
use super::daemon::{REGISTRY_CAS_PATH, daemon_payload, restart_docker, write_registry_cas};
use super::{KindStep, StepError};

/// The content a WriteFile step writes, by resource kind and path.
pub(super) async fn write_file(
    context: &Context,
    work: &Work,
    host: &str,
    path: &str,
    mode: &str,
    owner: &str,
) -> Result<(), StepError> {
    let resource = work.configured()?;
    host_path(path).map_err(StepError::Refused)?;
    let (user, group) = owner.split_once(':').unwrap_or((owner, owner));
    let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
    if work.address.kind == Kind::Daemon && path == REGISTRY_CAS_PATH {
        return write_registry_cas(context, work, host).await;
    }
    // A daemon's files each have their own payload; any other kind's file is its content.
    let name = match work.address.kind {
        Kind::Daemon => daemon_payload(path).unwrap_or("content"),
        _ => "content",
    };
    let content = resource.payload(name).ok_or_else(|| {
        StepError::Refused(format!("`{}` has no content for {path}", work.address))
    })?;
    context.reporter.command(
        host,
        &format!(
            "upload {path} ({} bytes, mode {mode:o}, {user}:{group})",
            content.len()
        ),
    );
    let output = context
        .pool
        .upload(host, path, content, mode, user, group)
        .await?;
    if !output.success() {
        return Err(StepError::Command {
            host: host.to_owned(),
            command: format!("upload {path}"),
            status: output.exit_status,
            stderr: context.scrub(output.stderr_text().trim()),
            hint: Some("check that the SSH user may write there (set `[ssh] sudo = true` for a non-root user)".to_owned()),
        });
    }
    Ok(())
}

/// The validation's rule for a path on a host (absolute, one line, no `..`), checked again
/// where a step writes or removes it: a saved plan is data read back from a file. The error
/// is the refusal's message.
pub(super) fn host_path(path: &str) -> Result<(), String> {
    crate::config::check::unusable_host_path(path).map_or(Ok(()), Err)
}

/// Steps several kinds emit: files on a host and dockerd's restart, or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PrimitiveStep {
    /// Write a file (atomically: temporary file, then rename).
    WriteFile {
        path: String,
        mode: String,
        owner: String,
    },
    /// Ensure one line is present in a file.
    EnsureLine {
        path: String,
    },
    RemoveFile {
        path: String,
    },
    /// `systemctl daemon-reload` then `systemctl restart docker`.
    RestartDocker,
    /// Drop the resource from the state without touching the host.
    Forget {
        why: String,
    },
}

impl KindStep for PrimitiveStep {
    const TAGS: &'static [&'static str] = &[
        "write_file",
        "ensure_line",
        "remove_file",
        "restart_docker",
        "forget",
    ];

    fn describe(&self) -> String {
        match self {
            PrimitiveStep::WriteFile { path, mode, owner } => {
                format!("write {path} (mode {mode}, owner {owner})")
            }
            PrimitiveStep::EnsureLine { path } => format!("ensure the line is present in {path}"),
            PrimitiveStep::RemoveFile { path } => format!("remove {path}"),
            PrimitiveStep::RestartDocker => {
                "systemctl daemon-reload and restart dockerd (the node drained meanwhile)"
                    .to_owned()
            }
            PrimitiveStep::Forget { why } => format!("forget it in the state: {why}"),
        }
    }

    fn destroys(&self) -> bool {
        matches!(self, PrimitiveStep::RemoveFile { .. })
    }
}

impl PrimitiveStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        let host = work.host.clone().unwrap_or_default();
        match self {
            PrimitiveStep::WriteFile { path, mode, owner } => {
                write_file(context, work, &host, path, mode, owner).await?;
                Ok(None)
            }
            PrimitiveStep::EnsureLine { path } => {
                host_path(path).map_err(StepError::Refused)?;
                let line = work
                    .payload("line")
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                    .unwrap_or_default();
                // The validation's rule again: one line, or `printf` would add several.
                if let Some(character) = crate::config::check::line_breaking(&line) {
                    return Err(StepError::Refused(format!(
                        "the line for {path} contains {}",
                        crate::config::check::describe_character(character)
                    )));
                }
                let script = Script::new(RemoteCommand::new("touch").arg(path.clone()))
                    .and(
                        RemoteCommand::new("grep")
                            .args(["-qxF", "--"])
                            .arg(line.clone())
                            .arg(path.clone()),
                    )
                    .or(RemoteCommand::new("printf")
                        .args(["%s\\n"])
                        .arg(line)
                        .append_to(path.clone()));
                context.check(&host, &script, None).await?;
                Ok(None)
            }
            PrimitiveStep::RemoveFile { path } => {
                host_path(path).map_err(StepError::Refused)?;
                context
                    .check(
                        &host,
                        &Script::new(RemoteCommand::new("rm").args(["-f"]).arg(path.clone())),
                        None,
                    )
                    .await?;
                Ok(None)
            }
            PrimitiveStep::RestartDocker => restart_docker(context, work).await,
            PrimitiveStep::Forget { .. } => Ok(None),
        }
    }
}
