//! Steps several kinds emit: writing a file on a host (atomically, by upload).

use serde_json::Value;

use super::context::*;
use super::daemon::restart_docker;
use super::{KindStep, StepError};
use crate::address::Kind;
use crate::config::desired::{DAEMON_JSON_PATH, DROP_IN_PATH, TLS_DIR};
use crate::plan::Change;
use crate::ssh::{RemoteCommand, Script};
use serde::{Deserialize, Serialize};

/// The content a WriteFile step writes, by resource kind and path.
pub(super) async fn write_file(
    context: &Context,
    change: &Change,
    host: &str,
    path: &str,
    mode: &str,
    owner: &str,
) -> Result<(), StepError> {
    let resource = context.configured(&change.address)?;
    let (user, group) = owner.split_once(':').unwrap_or((owner, owner));
    let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
    if path.starts_with("/etc/docker/certs.d/") {
        let contents: serde_json::Map<String, Value> = resource
            .payload("registry_cas")
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        for (address, content) in contents {
            let target = format!("/etc/docker/certs.d/{address}/ca.crt");
            let output = context
                .pool
                .upload(
                    host,
                    &target,
                    content.as_str().unwrap_or_default().as_bytes(),
                    0o644,
                    "root",
                    "root",
                )
                .await?;
            if !output.success() {
                return Err(StepError::Command {
                    host: host.to_owned(),
                    command: format!("upload {target}"),
                    status: output.exit_status,
                    stderr: context.scrub(output.stderr_text().trim()),
                    hint: None,
                });
            }
        }
        return Ok(());
    }
    let name = match (change.address.kind, path) {
        (Kind::Daemon, DAEMON_JSON_PATH) => "daemon_json",
        (Kind::Daemon, DROP_IN_PATH) => "systemd_drop_in",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/ca.pem") => "tls_ca",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/cert.pem") => "tls_cert",
        (Kind::Daemon, tls) if tls == format!("{TLS_DIR}/key.pem") => "tls_key",
        _ => "content",
    };
    let content = resource.payload(name).ok_or_else(|| {
        StepError::Refused(format!("`{}` has no content for {path}", change.address))
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
        change: &Change,
    ) -> Result<Option<String>, StepError> {
        let host = change.host.clone().unwrap_or_default();
        match self {
            PrimitiveStep::WriteFile { path, mode, owner } => {
                write_file(context, change, &host, path, mode, owner).await?;
                Ok(None)
            }
            PrimitiveStep::EnsureLine { path } => {
                let resource = context.resource(&change.address);
                let line = resource
                    .and_then(|resource| resource.payload("line"))
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                    .unwrap_or_default();
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
                context
                    .check(
                        &host,
                        &Script::new(RemoteCommand::new("rm").args(["-f"]).arg(path.clone())),
                        None,
                    )
                    .await?;
                Ok(None)
            }
            PrimitiveStep::RestartDocker => restart_docker(context, &host).await,
            PrimitiveStep::Forget { .. } => Ok(None),
        }
    }
}
