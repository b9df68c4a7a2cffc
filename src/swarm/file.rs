//! The file kind (`[[file]]`): written whole, or one line ensured in a file; what a change takes
//! is made of the primitive steps; the refresh reads whole files back (one `sha256sum` per host).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::address::{Address, Kind};
use crate::change::Action;
use crate::ssh::{RemoteCommand, Script};
use crate::swarm::refresh::{Refreshed, unreachable};
use crate::swarm::{Context, StepError};

use super::{PrimitiveStep, Proposal, Step};

/// What a file change takes: the old file removed (a line is left where it is), the new one
/// written, and dockerd restarted when the file is one of its own.
pub fn steps(change: &Proposal) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let path = change
        .after_str("path")
        .or_else(|| change.before_str("path"))
        .unwrap_or_default();
    if change.deletes() {
        let old_path = change.before_str("path").unwrap_or_else(|| path.clone());
        steps.push(if change.has("line") {
            PrimitiveStep::Forget {
                why: format!("the line is left in {old_path}"),
            }
            .into()
        } else {
            PrimitiveStep::RemoveFile { path: old_path }.into()
        });
    }
    if change.creates() || change.action == Action::Update {
        steps.push(if change.after("line").is_some() {
            PrimitiveStep::EnsureLine { path }.into()
        } else {
            PrimitiveStep::WriteFile {
                path,
                mode: change.after_str("mode").unwrap_or_default(),
                owner: format!(
                    "{}:{}",
                    change.after_str("owner").unwrap_or_default(),
                    change.after_str("group").unwrap_or_default()
                ),
            }
            .into()
        });
        if change
            .reasons
            .iter()
            .any(|reason| reason.starts_with("restarts dockerd"))
        {
            steps.push(PrimitiveStep::RestartDocker.into());
        }
    }
    steps
}

/// Whole files swarmform wrote, read back with one `sha256sum` per host: a file gone from its
/// host is no longer recorded (the plan writes it again), and one whose content differs from
/// what the state recorded (plain text only; sensitive and redacted contents are recorded as
/// hashes of what was sent) is planned back. Lines kept in a file are not read back.
pub(super) async fn refresh(context: &Context, refreshed: &mut Refreshed) -> Result<(), StepError> {
    let mut by_host: BTreeMap<String, Vec<(Address, String)>> = BTreeMap::new();
    for resource in &refreshed.state.resources {
        if resource.address.kind != Kind::File
            || resource.pending
            || resource.attributes.contains_key("line")
        {
            continue;
        }
        let (Some(host), Some(path)) = (
            &resource.host,
            resource.attributes.get("path").and_then(Value::as_str),
        ) else {
            continue;
        };
        if refreshed.unreachable.contains(host) {
            continue;
        }
        by_host
            .entry(host.clone())
            .or_default()
            .push((resource.address.clone(), path.to_owned()));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (host, files) in by_host {
        let pool = Arc::clone(&context.pool);
        tasks.spawn(async move {
            let script = Script::new(
                RemoteCommand::new("sha256sum")
                    .arg("--")
                    .args(files.iter().map(|(_, path)| path.clone())),
            );
            (host.clone(), files, pool.run(&host, &script).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((host, files, result)) = joined else {
            continue;
        };
        let output = match result {
            Ok(output) => output,
            Err(error) if unreachable(&error) => {
                refreshed.unreachable.insert(host);
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        // `HASH  PATH` per file that exists; the others only on stderr.
        let live: BTreeMap<String, String> = output
            .stdout_text()
            .lines()
            .filter_map(|line| line.split_once("  "))
            .map(|(hash, path)| (path.to_owned(), hash.to_owned()))
            .collect();
        for (address, path) in files {
            let Some(hash) = live.get(&path) else {
                refreshed
                    .drift
                    .push(format!("`{address}`: {path} is gone from `{host}`"));
                refreshed.state.remove(&address);
                continue;
            };
            let Some(entry) = refreshed.state.resource_mut(&address) else {
                continue;
            };
            let plain = !entry
                .sensitive
                .iter()
                .any(|name| name.starts_with("content"))
                && !entry.attributes.contains_key("content_sha256");
            let recorded = entry
                .attributes
                .get("content")
                .and_then(Value::as_str)
                .filter(|_| plain)
                .map(|text| crate::hash::sha256_hex(text.as_bytes()));
            if recorded.is_some_and(|recorded| &recorded != hash) {
                refreshed
                    .drift
                    .push(format!("`{address}`: {path} was changed on `{host}`"));
                entry.attributes.insert(
                    "content".to_owned(),
                    Value::from(format!("(changed on the host: sha256 {hash})")),
                );
            }
        }
    }
    Ok(())
}
