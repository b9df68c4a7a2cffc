//! Strays: objects of ours the state does not record, and services made before the ownership
//! labels, handled on the changes that own them.

use super::Options;
use crate::address::Address;
use crate::plan::model::{Action, Change, Step};

/// The objects of ours the state does not record (`Options::strays`) are removed, each by a
/// `docker KIND rm` on the change that owns it, which says so: after the deploy of the one
/// stack or registry that still uses it, else on its own resource's change (a no-op becomes
/// an update), else, for a resource neither configured nor recorded, on a deletion of its own.
/// A service made before the labels (`Options::unlabelled`) gets them in place when its
/// change does not deploy it anyway.
pub(super) fn remove_strays(changes: &mut Vec<Change>, options: &Options, anchor: &str) {
    for stray in &options.strays {
        let remove = Step::DockerRemove {
            object: stray.object.clone(),
            name: stray.name.clone(),
            via: anchor.to_owned(),
        };
        if let [user] = stray.used_by.as_slice() {
            let Some(change) = changes.iter_mut().find(|change| &change.address == user) else {
                continue;
            };
            let Some(deploy) = change.steps.iter().position(|step| {
                matches!(step, Step::StackDeploy { .. } | Step::DeployRegistry { .. })
            }) else {
                continue;
            };
            change.steps.insert(deploy + 1, remove);
            change.reasons.push(format!(
                "`{}`: {} is a superseded version that only `{user}` still uses; removed once it is deployed",
                stray.address, stray.name
            ));
            continue;
        }
        if !stray.used_by.is_empty() {
            continue;
        }
        let reason = format!(
            "`{}`: {} is a superseded version that nothing uses; removed",
            stray.address, stray.name
        );
        match changes
            .iter_mut()
            .find(|change| change.address == stray.address)
        {
            Some(change) => {
                if change.action == Action::NoOp {
                    change.action = Action::Update;
                }
                change.steps.push(remove);
                change.reasons.push(reason);
            }
            // Restricted by `--target`, a resource left out stays as it is.
            None if !options.targets.is_empty() => {}
            None => {
                let change = Change {
                    address: stray.address.clone(),
                    action: Action::Delete,
                    host: None,
                    reasons: vec![format!(
                        "`{}`: {} {} is swarmform's, but neither the config nor the state has it; removed",
                        stray.address, stray.object, stray.name
                    )],
                    attributes: Vec::new(),
                    steps: vec![remove],
                    depends_on: vec![Address::swarm()],
                    create_before_destroy: false,
                };
                let at = changes.partition_point(|existing| existing.address < change.address);
                changes.insert(at, change);
            }
        }
    }
    for unlabelled in &options.unlabelled {
        let Some(change) = changes
            .iter_mut()
            .find(|change| change.address == unlabelled.address)
        else {
            continue;
        };
        if change.steps.iter().any(|step| {
            matches!(
                step,
                Step::DeployRegistry { .. } | Step::RemoveRegistry { .. }
            )
        }) {
            continue;
        }
        if change.action == Action::NoOp {
            change.action = Action::Update;
        }
        change.steps.push(Step::LabelService {
            name: unlabelled.name.clone(),
            via: anchor.to_owned(),
        });
        change.reasons.push(
            "its service was made by an earlier swarmform without the ownership labels: they are added in place"
                .to_owned(),
        );
    }
}
