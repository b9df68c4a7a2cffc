//! Steps several kinds emit: writing a file on a host (atomically, by upload), ensuring a line
//! in one, removing one, restarting dockerd, or only forgetting a resource.

use serde::{Deserialize, Serialize};

use crate::address::Kind;
use crate::ssh::{RemoteCommand, Script};

use super::Work;
use super::context::*;
use super::daemon::{
    REGISTRY_CAS_PATH, cancel_restart, daemon_payload, finish_restart, prepare_restart,
    registry_cas, restart_commands, restart_docker,
};
use super::{KindStep, StepError};
use crate::ssh::{Upload, uploads_script};

/// The files a WriteFile step writes, path and content: its resource's payload for the path
/// (a daemon's files each have their own), or for the registry CAs one file per registry.
#[expect(
    clippy::result_large_err,
    reason = "the steps' own error type, which every step returns; only built on refusal"
)]
fn contents(work: &Work, path: &str) -> Result<Vec<(String, Vec<u8>)>, StepError> {
    let resource = work.configured()?;
    host_path(path).map_err(StepError::Refused)?;
    if work.address.kind == Kind::Daemon && path == REGISTRY_CAS_PATH {
        return registry_cas(work);
    }
    let name = match work.address.kind {
        Kind::Daemon => daemon_payload(path).unwrap_or("content"),
        _ => "content",
    };
    let content = resource.payload(name).ok_or_else(|| {
        StepError::Refused(format!("`{}` has no content for {path}", work.address))
    })?;
    Ok(vec![(path.to_owned(), content.to_vec())])
}

/// How many of `steps`, from the first, run as one script: the WriteFile steps in a row,
/// with the RestartDocker right after them (0 when the first step is no WriteFile).
pub(super) fn batch_len(steps: &[super::Step]) -> usize {
    let writes = steps
        .iter()
        .take_while(|step| {
            matches!(
                step,
                super::Step::Primitive(PrimitiveStep::WriteFile { .. })
            )
        })
        .count();
    let restart = writes > 0
        && matches!(
            steps.get(writes),
            Some(super::Step::Primitive(PrimitiveStep::RestartDocker))
        );
    writes + usize::from(restart)
}

/// Printed once every file of a batch is in place.
const WRITTEN: &str = "::swarmform::written::";

/// A batch of [`batch_len`] steps in one round trip: every file written (each atomically:
/// temporary file, then rename), then, when the batch ends with RestartDocker, dockerd
/// restarted by the same script (what the restart needs before, a drain or an unlock key,
/// comes first; see `daemon::prepare_restart`).
pub(super) async fn write_files(
    context: &Context,
    work: &Work,
    steps: &[super::Step],
) -> Result<(), StepError> {
    let host = work.host_name();
    let mut files: Vec<(String, Vec<u8>, u32, String, String)> = Vec::new();
    let mut restart = false;
    for step in steps {
        match step {
            super::Step::Primitive(PrimitiveStep::WriteFile { path, mode, owner }) => {
                let (user, group) = owner.split_once(':').unwrap_or((owner, owner));
                let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
                for (path, content) in contents(work, path)? {
                    files.push((path, content, mode, user.to_owned(), group.to_owned()));
                }
            }
            super::Step::Primitive(PrimitiveStep::RestartDocker) => restart = true,
            _ => {}
        }
    }
    let uploads: Vec<Upload<'_>> = files
        .iter()
        .map(|(path, content, mode, owner, group)| Upload {
            path,
            content,
            mode: *mode,
            owner,
            group,
        })
        .collect();
    for upload in &uploads {
        context.reporter.command(
            &host,
            &format!(
                "upload {} ({} bytes, mode {:o}, {}:{})",
                upload.path,
                upload.content.len(),
                upload.mode,
                upload.owner,
                upload.group
            ),
        );
    }
    let paths = || {
        uploads
            .iter()
            .map(|upload| upload.path)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let written = match uploads_script(&uploads) {
        Some(script) => script.and(RemoteCommand::new("echo").arg(WRITTEN)),
        // No file: a registry CA list that is empty.
        None if uploads.is_empty() => Script::new(RemoteCommand::new("echo").arg(WRITTEN)),
        None => {
            return Err(StepError::Refused(format!(
                "cannot write {} on `{host}`",
                paths()
            )));
        }
    };
    let (script, before) = if restart {
        let before = prepare_restart(context, work).await?;
        (restart_commands(Some(written), &before), Some(before))
    } else {
        (written, None)
    };
    let output = if restart {
        context.run(&host, &script).await?
    } else {
        // The upload lines above say what runs; the script itself is only their commands.
        context.pool.run(&host, &script).await?
    };
    if !output.stdout_text().contains(WRITTEN) {
        if let Some(before) = before {
            cancel_restart(context, work, before).await?;
        }
        return Err(StepError::Command {
            host: host.clone(),
            command: format!("upload {}", paths()),
            status: output.exit_status,
            stderr: context.scrub(output.stderr_text().trim()),
            hint: Some("check that the SSH user may write there (set `[ssh] sudo = true` for a non-root user)".to_owned()),
        });
    }
    if let Some(before) = before {
        finish_restart(context, work, before, &output).await?;
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
            PrimitiveStep::WriteFile { .. } => {
                write_files(context, work, &[self.clone().into()]).await?;
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
