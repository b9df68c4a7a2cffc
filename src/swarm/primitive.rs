//! Steps several kinds emit: writing a file on a host (atomically, by upload).

use serde_json::Value;

use super::StepError;
use super::context::*;
use crate::address::Kind;
use crate::config::desired::{DAEMON_JSON_PATH, DROP_IN_PATH, TLS_DIR};
use crate::plan::Change;

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
