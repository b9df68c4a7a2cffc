//! `-target`: a plan restricted to some addresses, what they need and what needs them.

use std::collections::{BTreeMap, BTreeSet};

use super::PlanError;
use crate::address::{Address, Target};
use crate::plan::model::{Action, Change};

pub(super) fn target_text(target: &Target) -> String {
    let mut text = String::new();
    if let Some(module) = &target.module {
        text.push_str(&format!("module.{module}"));
    }
    if let Some((kind, name, host)) = &target.resource {
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(kind.keyword());
        if !name.is_empty() {
            text.push_str(&format!(".{name}"));
        }
        if let Some(host) = host {
            text.push_str(&format!("[{host}]"));
        }
    }
    text
}

/// Keeps the targeted changes, what they depend on (for creates and updates) and what depends
/// on them (for deletions), as Terraform does.
pub(super) fn restrict(changes: Vec<Change>, targets: &[Target]) -> Result<Vec<Change>, PlanError> {
    for target in targets {
        if !changes
            .iter()
            .any(|change| change.address.is_within(target))
        {
            return Err(PlanError::UnknownTarget {
                target: target_text(target),
            });
        }
    }
    let mut keep: BTreeSet<Address> = changes
        .iter()
        .filter(|change| {
            targets
                .iter()
                .any(|target| change.address.is_within(target))
        })
        .map(|change| change.address.clone())
        .collect();
    // A group dependency (`node.*`) stands for each of its members, found once per group.
    let mut members: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for group in changes
        .iter()
        .flat_map(|change| &change.depends_on)
        .filter(|dependency| dependency.is_group())
    {
        members.entry(group).or_insert_with(|| {
            changes
                .iter()
                .filter(|other| group.covers(&other.address))
                .map(|other| &other.address)
                .collect()
        });
    }
    let depends_on: Vec<BTreeSet<&Address>> = changes
        .iter()
        .map(|change| {
            let mut depends_on = BTreeSet::new();
            for dependency in &change.depends_on {
                match members.get(dependency) {
                    Some(members) => depends_on.extend(members.iter().copied()),
                    None => {
                        depends_on.insert(dependency);
                    }
                }
            }
            depends_on
        })
        .collect();
    loop {
        let before = keep.len();
        for (change, depends_on) in changes.iter().zip(&depends_on) {
            if keep.contains(&change.address) && change.action != Action::Delete {
                keep.extend(depends_on.iter().map(|&dependency| dependency.clone()));
            }
            if depends_on
                .iter()
                .any(|dependency| keep.contains(*dependency))
                && changes.iter().any(|other| {
                    keep.contains(&other.address)
                        && other.action == Action::Delete
                        && depends_on.contains(&other.address)
                })
            {
                keep.insert(change.address.clone());
            }
        }
        if keep.len() == before {
            break;
        }
    }
    Ok(changes
        .into_iter()
        .filter(|change| keep.contains(&change.address))
        .collect())
}
