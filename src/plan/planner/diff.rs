//! Diffing: each address's desired resource against what the state recorded, then what a
//! change takes along (a replaced network its stacks, a first daemon configuration a restart).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::address::{Address, Kind};
use crate::plan::model::{Action, AttributeChange, Change, Warning};
use crate::resource::{OnChange, Resource};
use crate::state::{ResourceState, State};

/// The change for one address.
pub(super) fn diff(
    wanted: Option<&Resource>,
    current: Option<&ResourceState>,
    warnings: &mut Vec<Warning>,
) -> Option<Change> {
    match (wanted, current) {
        (None, None) => None,
        (Some(resource), None) => Some(Change {
            address: resource.address.clone(),
            action: Action::Create,
            host: resource.host.clone(),
            reasons: Vec::new(),
            attributes: resource
                .attributes
                .iter()
                .map(|(name, attribute)| AttributeChange {
                    name: name.clone(),
                    before: None,
                    after: Some(attribute.value.clone()),
                    unknown_after: false,
                    sensitive: attribute.sensitive,
                    text: attribute.text,
                    forces_replacement: false,
                })
                .chain(remote_id_unknown(resource.address.kind))
                .collect(),
            steps: Vec::new(),
            depends_on: resource.depends_on.iter().cloned().collect(),
            create_before_destroy: resource.create_before_destroy,
        }),
        (None, Some(state)) => Some(Change {
            address: state.address.clone(),
            action: Action::Delete,
            host: state.host.clone(),
            reasons: Vec::new(),
            attributes: state
                .attributes
                .iter()
                .map(|(name, value)| AttributeChange {
                    name: name.clone(),
                    before: Some(value.clone()),
                    after: None,
                    unknown_after: false,
                    sensitive: state.sensitive.contains(name),
                    text: value.as_str().is_some_and(|text| text.contains('\n')),
                    forces_replacement: false,
                })
                .collect(),
            steps: Vec::new(),
            depends_on: state.depends_on.clone(),
            create_before_destroy: false,
        }),
        (Some(resource), Some(state)) => {
            let mut attributes = Vec::new();
            let mut replace = false;
            let mut restarts = false;
            let mut changed = false;
            for (name, attribute) in &resource.attributes {
                let before = state.attributes.get(name).cloned();
                let after = Some(attribute.value.clone());
                let differs = before != after;
                if differs && attribute.on_change == OnChange::CreateOnly {
                    warnings.push(Warning {
                        summary: format!("`{}.{name}` can only be set when it is created; the change is ignored", resource.address),
                        detail: format!(
                            "{} was created with {}; Docker cannot change it afterwards. Destroy and re-create `{}` to apply the new value.",
                            resource.address,
                            before.as_ref().map_or("no value".to_owned(), Value::to_string),
                            resource.address
                        ),
                    });
                    attributes.push(AttributeChange {
                        name: name.clone(),
                        before: before.clone(),
                        after: before,
                        unknown_after: false,
                        sensitive: attribute.sensitive,
                        text: attribute.text,
                        forces_replacement: false,
                    });
                    continue;
                }
                if differs {
                    changed = true;
                    replace |= attribute.on_change == OnChange::Replace;
                    restarts |= attribute.on_change == OnChange::RestartsDocker;
                }
                attributes.push(AttributeChange {
                    name: name.clone(),
                    before,
                    after,
                    unknown_after: false,
                    sensitive: attribute.sensitive,
                    text: attribute.text,
                    forces_replacement: differs && attribute.on_change == OnChange::Replace,
                });
            }
            for (name, value) in &state.attributes {
                if !resource.attributes.contains_key(name) {
                    changed = true;
                    attributes.push(AttributeChange {
                        name: name.clone(),
                        before: Some(value.clone()),
                        after: None,
                        unknown_after: false,
                        sensitive: state.sensitive.contains(name),
                        text: value.as_str().is_some_and(|text| text.contains('\n')),
                        forces_replacement: false,
                    });
                }
            }
            let action = if replace {
                Action::Replace
            } else if changed {
                Action::Update
            } else {
                Action::NoOp
            };
            let mut reasons = Vec::new();
            if replace {
                let forcing: Vec<&str> = attributes
                    .iter()
                    .filter(|attribute| attribute.forces_replacement)
                    .map(|attribute| attribute.name.as_str())
                    .collect();
                let verb = if forcing.len() == 1 {
                    "forces"
                } else {
                    "force"
                };
                reasons.push(format!("{} {verb} replacement", forcing.join(", ")));
            }
            if restarts && let Some(host) = &resource.host {
                reasons.push(format!("restarts dockerd on {host}"));
            }
            Some(Change {
                address: resource.address.clone(),
                action,
                host: resource.host.clone(),
                reasons,
                attributes,
                steps: Vec::new(),
                depends_on: resource.depends_on.iter().cloned().collect(),
                create_before_destroy: resource.create_before_destroy,
            })
        }
    }
}

/// The Docker id of a new object is known only once it exists.
fn remote_id_unknown(kind: Kind) -> Option<AttributeChange> {
    matches!(
        kind,
        Kind::Node | Kind::Network | Kind::Secret | Kind::Config | Kind::Swarm
    )
    .then(|| AttributeChange {
        name: "id".to_owned(),
        before: None,
        after: None,
        unknown_after: true,
        sensitive: false,
        text: false,
        forces_replacement: false,
    })
}

/// A daemon configuration written for the first time on a host that is already a node
/// restarts a running dockerd too: it gets the same reason, so it is ordered like an update.
pub(super) fn mark_first_daemon_configs(changes: &mut [Change], state: &State) {
    for change in changes.iter_mut() {
        if change.address.kind == Kind::Daemon
            && change.action == Action::Create
            && let Some(host) = change.host.clone()
            && state
                .resource(&Address::new(Kind::Node, host.clone()))
                .is_some_and(|node| !node.pending)
        {
            change.reasons.push(format!("restarts dockerd on {host}"));
        }
    }
}

/// A resource that is deleted and re-created takes down what uses it: a replaced network
/// forces its stacks to be removed first and deployed again.
pub(super) fn propagate_replacements(changes: &mut [Change]) {
    loop {
        let replaced: BTreeSet<Address> = changes
            .iter()
            .filter(|change| change.action == Action::Replace && !change.create_before_destroy)
            .map(|change| change.address.clone())
            .collect();
        let mut progressed = false;
        let mut taken_down: Vec<(Address, Address)> = Vec::new();
        for change in changes.iter_mut() {
            if !matches!(change.action, Action::NoOp | Action::Update) {
                continue;
            }
            let causes: Vec<&Address> = change
                .depends_on
                .iter()
                .filter(|dependency| {
                    replaced.contains(*dependency)
                        || dependency.is_group()
                            && replaced.iter().any(|address| dependency.covers(address))
                })
                .collect();
            if causes.is_empty() || change.address.kind != Kind::Stack {
                continue;
            }
            change.action = Action::Replace;
            change.reasons.push(format!(
                "{} is replaced, so this stack is removed first and deployed again",
                causes
                    .iter()
                    .map(|cause| format!("`{cause}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
            taken_down.extend(
                causes
                    .into_iter()
                    .map(|cause| (cause.clone(), change.address.clone())),
            );
            progressed = true;
        }
        // The replaced resource names the stacks it takes down with it.
        for (cause, stack) in taken_down {
            if let Some(change) = changes.iter_mut().find(|change| change.address == cause) {
                change.reasons.push(format!(
                    "`{stack}` is removed and deployed again because `{cause}` is replaced"
                ));
            }
        }
        if !progressed {
            break;
        }
    }
}
