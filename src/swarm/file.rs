//! Files on hosts (`[[file]]`): written whole, or one line ensured in them; what they take is
//! made of the primitive steps.

use super::{PrimitiveStep, Proposal, Step};
use crate::change::Action;

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
