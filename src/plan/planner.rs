//! The planner: desired resources and the last state in, a [`Plan`] out. Pure: it reads no
//! file and talks to no host.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{
    Action, AttributeChange, Change, HostFacts, ManagerCount, Mode, Plan, StateRef, Step, Stray,
    Unlabelled, Warning,
};
use crate::address::{Address, Kind, Target};
use crate::config::desired::{DAEMON_JSON_PATH, DROP_IN_PATH, Desired, TLS_DIR};
use crate::config::model::OnDestroy;
use crate::resource::{OnChange, Resource};
use crate::state::{ADDRESS_LABEL, GHOST, LINEAGE_LABEL, ResourceState, State, UNLABELLED};

/// What the command line asks of the planner.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub destroy: bool,
    pub targets: Vec<Target>,
    /// `--allow-quorum-loss`: the operator accepts a plan that loses Raft quorum or removes the
    /// last manager.
    pub allow_quorum_loss: bool,
    /// Whether the live cluster was read first (the state then reflects it).
    pub refreshed: bool,
    /// Managers the refresh could not reach; empty for an offline plan.
    pub unreachable: BTreeSet<String>,
    /// What every host said about itself (config hosts, then hosts only the state has), for
    /// the preflight checks and the plan's Hosts section; `None` when the hosts were not read.
    pub facts: Option<Vec<HostFacts>>,
    /// Objects of this lineage the refresh found outside the state: removed by the plan.
    pub strays: Vec<Stray>,
    /// Services made before the ownership labels: labelled in place.
    pub unlabelled: Vec<Unlabelled>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "this plan would {what}\n\nRaft needs a majority of the managers to agree on every change; without it the swarm cannot be managed until it is rebuilt with `docker swarm init --force-new-cluster`.\nhint: keep or add managers first (add new managers, apply, then remove the old ones), or pass `--allow-quorum-loss` if you accept this"
    )]
    QuorumLoss { what: String },
    #[error(
        "no resource matches `--target {target}`\nhint: run `swarmform state list` or `swarmform plan` to see the addresses"
    )]
    UnknownTarget { target: String },
    /// The hosts' facts refuse the plan (duplicate hostnames, a host in a foreign swarm); the
    /// text holds each problem and its hint.
    #[error("{0}")]
    Preflight(String),
}

/// Computes the plan.
pub fn plan(
    desired: &Desired,
    state: Option<&State>,
    options: &Options,
) -> Result<Plan, PlanError> {
    let empty = State::new();
    let state_ref = state.map(|state| StateRef {
        lineage: state.lineage.clone(),
        serial: state.serial,
    });
    let state = state.unwrap_or(&empty);
    let mode = if options.destroy {
        Mode::Destroy
    } else {
        Mode::Normal
    };
    let mut warnings: Vec<Warning> = Vec::new();

    let mut addresses: BTreeSet<&Address> = state
        .resources
        .iter()
        .map(|resource| &resource.address)
        .collect();
    if mode == Mode::Normal {
        addresses.extend(desired.resources.iter().map(|resource| &resource.address));
    }
    let mut changes: Vec<Change> = Vec::new();
    for address in addresses {
        let wanted = if mode == Mode::Normal {
            desired.resource(address)
        } else {
            None
        };
        let current = state.resource(address);
        // A resource whose creation was interrupted may or may not exist: create it again
        // (creation adopts what is there).
        let interrupted = current.is_some_and(|resource| resource.pending) && wanted.is_some();
        let current = if interrupted { None } else { current };
        if let Some(mut change) = diff(wanted, current, &mut warnings) {
            if interrupted {
                change
                    .reasons
                    .push("a previous apply was interrupted while applying it".to_owned());
            }
            changes.push(change);
        }
    }
    propagate_replacements(&mut changes);
    mark_first_daemon_configs(&mut changes, state);

    if !options.targets.is_empty() {
        changes = restrict(changes, &options.targets)?;
    }

    let anchor = anchor_manager(desired, state, &changes, mode, &options.unreachable);
    for change in &mut changes {
        // The swarm is driven by whichever manager drives the plan, not by the host that ran
        // `docker swarm init` (which may be gone).
        if change.address.kind == Kind::Swarm && change.action != Action::Create {
            change.host = Some(anchor.clone());
        }
        let ghost = change.address.kind == Kind::Node && change.before(GHOST).is_some();
        let cut_off = change
            .host
            .as_ref()
            .is_some_and(|host| options.unreachable.contains(host))
            && matches!(change.action, Action::Delete | Action::Replace);
        change.steps = if cut_off || ghost {
            unreachable_steps(change, &anchor)
        } else {
            steps(change, desired, state, &anchor, mode)
        };
        if ghost {
            let what = change
                .before(GHOST)
                .and_then(Value::as_str)
                .unwrap_or("a node entry no configured host answers for")
                .to_owned();
            change.reasons.push(format!(
                "{what}: {}removed with `docker node rm --force`",
                if role_of(change, true).as_deref() == Some("manager") {
                    "demoted, then "
                } else {
                    ""
                }
            ));
        }
        if change.address.kind == Kind::Node
            && change.action == Action::Update
            && change.before(UNLABELLED).is_some()
        {
            change.reasons.push(format!(
                "labels the node as swarmform's (`{ADDRESS_LABEL}`, `{LINEAGE_LABEL}`): it was made before swarmform labelled its nodes"
            ));
        }
        if cut_off && change.address.kind == Kind::Node {
            change.reasons.push(format!(
                "`{}` cannot be reached: removed with `docker node rm --force` without draining or leaving; its containers keep running on it until it is wiped",
                change.host.clone().unwrap_or_default()
            ));
        }
    }
    remove_strays(&mut changes, options, &anchor);
    if let Some(facts) = &options.facts {
        let mut found = super::preflight::check(desired, state, facts, &mut changes, mode)
            .map_err(|problems| PlanError::Preflight(super::preflight::message(&problems)))?;
        found.append(&mut warnings);
        warnings = found;
    }
    rotate_tokens_after_joins(desired, &mut changes, &anchor);
    check_quorum(&changes, state, options, &anchor, &mut warnings)?;
    let managers = manager_count(&changes, state);
    if mode == Mode::Destroy
        && changes
            .iter()
            .any(|change| change.address.kind == Kind::Swarm)
    {
        warnings.push(Warning {
            summary: "this plan destroys the swarm".to_owned(),
            detail: format!(
                "Every node leaves the swarm, and the last manager `{anchor}` leaves with `--force`, which erases the swarm's Raft state: services, secrets, configs and overlay networks are gone for good. Named volumes and images stay on the hosts."
            ),
        });
    }
    let restarts: Vec<&str> = changes
        .iter()
        .filter(|change| {
            change
                .reasons
                .iter()
                .any(|reason| reason.starts_with("restarts dockerd"))
        })
        .filter_map(|change| change.host.as_deref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !restarts.is_empty() {
        warnings.push(Warning {
            summary: format!("restarts dockerd on {} host{}: {}", restarts.len(), plural(restarts.len()), restarts.join(", ")),
            detail: "Each node is drained before its dockerd restarts (its tasks move to other nodes) and set back to active once it is Ready; managers restart one at a time, each waiting until the swarm has a leader again, then the workers, a third of them at a time.".to_owned(),
        });
    }

    Ok(Plan {
        mode,
        changes,
        warnings,
        state: state_ref,
        refreshed: options.refreshed,
        targets: options.targets.iter().map(target_text).collect(),
        hosts: options.facts.clone().unwrap_or_default(),
        managers,
    })
}

/// The objects of ours the state does not record (`Options::strays`) are removed, each by a
/// `docker KIND rm` on the change that owns it, which says so: after the deploy of the one
/// stack or registry that still uses it, else on its own resource's change (a no-op becomes
/// an update), else, for a resource neither configured nor recorded, on a deletion of its own.
/// A service made before the labels (`Options::unlabelled`) gets them in place when its
/// change does not deploy it anyway.
fn remove_strays(changes: &mut Vec<Change>, options: &Options, anchor: &str) {
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

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn target_text(target: &Target) -> String {
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

/// The change for one address.
fn diff(
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

/// A resource that is deleted and re-created takes down what uses it: a replaced network
/// forces its stacks to be removed first and deployed again.
/// A daemon configuration written for the first time on a host that is already a node
/// restarts a running dockerd too: it gets the same reason, so it is ordered like an update.
fn mark_first_daemon_configs(changes: &mut [Change], state: &State) {
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

fn propagate_replacements(changes: &mut [Change]) {
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
                .filter(|dependency| replaced.contains(dependency))
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

/// Keeps the targeted changes, what they depend on (for creates and updates) and what depends
/// on them (for deletions), as Terraform does.
fn restrict(changes: Vec<Change>, targets: &[Target]) -> Result<Vec<Change>, PlanError> {
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
    loop {
        let before = keep.len();
        for change in &changes {
            if keep.contains(&change.address) && change.action != Action::Delete {
                keep.extend(change.depends_on.iter().cloned());
            }
            if change
                .depends_on
                .iter()
                .any(|dependency| keep.contains(dependency))
                && changes.iter().any(|other| {
                    keep.contains(&other.address)
                        && other.action == Action::Delete
                        && change.depends_on.contains(&other.address)
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

fn role_of(change: &Change, before: bool) -> Option<String> {
    let value = if before {
        change.before("role")
    } else {
        change.after("role")
    };
    value.and_then(Value::as_str).map(str::to_owned)
}

/// The manager that drives cluster operations (reads join tokens, runs `node rm`, deploys
/// stacks): one that exists before the plan runs and survives it. For a new swarm, the
/// bootstrap manager; in destroy mode, the manager that leaves last.
fn anchor_manager(
    desired: &Desired,
    state: &State,
    changes: &[Change],
    mode: Mode,
    unreachable: &BTreeSet<String>,
) -> String {
    let state_managers: Vec<String> = state
        .resources
        .iter()
        .filter(|resource| {
            resource.is_manager()
                && !resource.is_ghost()
                && !unreachable.contains(&resource.address.name)
        })
        .map(|resource| resource.address.name.clone())
        .collect();
    let surviving = |name: &String| {
        mode == Mode::Normal
            && changes.iter().any(|change| {
                change.address.kind == Kind::Node
                    && &change.address.name == name
                    && matches!(change.action, Action::NoOp | Action::Update)
                    && role_of(change, false).as_deref() == Some("manager")
            })
    };
    if state_managers.contains(&desired.bootstrap)
        && (mode == Mode::Destroy || surviving(&desired.bootstrap))
    {
        return desired.bootstrap.clone();
    }
    if let Some(manager) = state_managers.iter().find(|name| surviving(name)) {
        return manager.clone();
    }
    if (mode == Mode::Destroy || desired.bootstrap.is_empty())
        && let Some(manager) = state_managers.first()
    {
        return manager.clone();
    }
    desired.bootstrap.clone()
}

fn changed(change: &Change, name: &str) -> bool {
    change
        .attributes
        .iter()
        .any(|attribute| attribute.name == name && attribute.is_changed())
}

fn after_str(change: &Change, name: &str) -> Option<String> {
    change
        .after(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The operations that carry out one change.
/// With `[swarm] rotate_join_tokens`, the node that joins last in the graph's order rotates both
/// join tokens once it has joined, and the graph orders every other join of the plan before it:
/// the tokens this apply read stop working as soon as nothing needs them any more.
fn rotate_tokens_after_joins(desired: &Desired, changes: &mut [Change], anchor: &str) {
    let wanted = desired
        .resource(&Address::swarm())
        .and_then(|swarm| swarm.attributes.get("rotate_join_tokens"))
        .is_some_and(|attribute| attribute.value == Value::Bool(true));
    let joins = |change: &Change| {
        change.address.kind == Kind::Node
            && change
                .steps
                .iter()
                .any(|step| matches!(step, Step::Join { .. }))
    };
    if !wanted || !changes.iter().any(joins) {
        return;
    }
    let probe = Plan {
        mode: Mode::Normal,
        changes: changes.to_vec(),
        warnings: Vec::new(),
        state: None,
        refreshed: false,
        targets: Vec::new(),
        hosts: Vec::new(),
        managers: None,
    };
    let Ok(graph) = super::graph::Graph::build(&probe) else {
        return;
    };
    let last = graph
        .order()
        .into_iter()
        .rev()
        .find(|vertex| {
            changes
                .iter()
                .any(|change| change.address == vertex.address && joins(change))
        })
        .map(|vertex| vertex.address.clone());
    if let Some(change) = changes
        .iter_mut()
        .find(|change| Some(&change.address) == last.as_ref())
    {
        change.steps.push(Step::RotateJoinTokens {
            via: anchor.to_owned(),
        });
    }
}

/// Removing what lives on a host that cannot be reached: its node is demoted (a manager) and
/// removed by force from a surviving manager; everything else is only forgotten.
fn unreachable_steps(change: &Change, anchor: &str) -> Vec<Step> {
    let host = change.host.clone().unwrap_or_default();
    match change.address.kind {
        Kind::Node => {
            let mut steps = Vec::new();
            if role_of(change, true).as_deref() == Some("manager") {
                steps.push(Step::Demote {
                    via: anchor.to_owned(),
                });
            }
            steps.push(Step::NodeRm {
                via: anchor.to_owned(),
                force: true,
            });
            steps
        }
        _ => vec![Step::Forget {
            why: format!("`{host}` cannot be reached"),
        }],
    }
}

fn steps(change: &Change, desired: &Desired, state: &State, anchor: &str, mode: Mode) -> Vec<Step> {
    let via = anchor.to_owned();
    let name = change.address.name.clone();
    let docker_name = desired
        .resource(&change.address)
        .and_then(|resource| resource.docker_name.clone())
        .or_else(|| {
            state
                .resource(&change.address)
                .and_then(|resource| resource.docker_name.clone())
        })
        .unwrap_or_else(|| name.clone());
    let old_docker_name = state
        .resource(&change.address)
        .and_then(|resource| resource.docker_name.clone())
        .unwrap_or_else(|| docker_name.clone());
    let create = matches!(change.action, Action::Create | Action::Replace);
    let delete = matches!(change.action, Action::Delete | Action::Replace);
    let mut steps = Vec::new();
    match change.address.kind {
        Kind::Engine => match change.action {
            Action::Create => {
                let install = change
                    .attributes
                    .iter()
                    .find(|attribute| attribute.name == "install")
                    .and_then(|attribute| attribute.after.as_ref())
                    .and_then(Value::as_str);
                if install == Some("if-missing") {
                    let packages = change
                        .attributes
                        .iter()
                        .find(|attribute| attribute.name == "packages")
                        .and_then(|attribute| attribute.after.as_ref())
                        .and_then(Value::as_array)
                        .map(|packages| {
                            packages
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    steps.push(Step::InstallEngine { packages });
                } else {
                    steps.push(Step::RequireEngine);
                }
            }
            Action::Delete => steps.push(Step::Forget {
                why: "the Docker engine stays installed".to_owned(),
            }),
            _ => {}
        },
        Kind::File => {
            let path = after_str(change, "path")
                .or_else(|| before_str(change, "path"))
                .unwrap_or_default();
            if delete {
                let old_path = before_str(change, "path").unwrap_or_else(|| path.clone());
                if change
                    .attributes
                    .iter()
                    .any(|attribute| attribute.name == "line")
                {
                    steps.push(Step::Forget {
                        why: format!("the line is left in {old_path}"),
                    });
                } else {
                    steps.push(Step::RemoveFile { path: old_path });
                }
            }
            if create || change.action == Action::Update {
                if change
                    .attributes
                    .iter()
                    .any(|attribute| attribute.name == "line" && attribute.after.is_some())
                {
                    steps.push(Step::EnsureLine { path });
                } else {
                    steps.push(Step::WriteFile {
                        path,
                        mode: after_str(change, "mode").unwrap_or_default(),
                        owner: format!(
                            "{}:{}",
                            after_str(change, "owner").unwrap_or_default(),
                            after_str(change, "group").unwrap_or_default()
                        ),
                    });
                }
                if change
                    .reasons
                    .iter()
                    .any(|reason| reason.starts_with("restarts dockerd"))
                {
                    steps.push(Step::RestartDocker);
                }
            }
        }
        Kind::Daemon => match change.action {
            Action::Create | Action::Update => {
                let touched = |name: &str| {
                    change.attributes.iter().any(|attribute| {
                        attribute.name == name
                            && attribute.after.is_some()
                            && (change.action == Action::Create || attribute.is_changed())
                    })
                };
                let removed = |name: &str| {
                    change
                        .attributes
                        .iter()
                        .any(|attribute| attribute.name == name && attribute.after.is_none())
                };
                let file = |path: String, mode: &str| Step::WriteFile {
                    path,
                    mode: mode.to_owned(),
                    owner: "root:root".to_owned(),
                };
                if touched("tls_ca") || touched("tls_cert") || touched("tls_key") {
                    steps.push(file(format!("{TLS_DIR}/ca.pem"), "0644"));
                    steps.push(file(format!("{TLS_DIR}/cert.pem"), "0644"));
                    steps.push(file(format!("{TLS_DIR}/key.pem"), "0600"));
                }
                if touched("daemon_json") {
                    steps.push(file(DAEMON_JSON_PATH.to_owned(), "0644"));
                }
                if removed("daemon_json") {
                    steps.push(Step::RemoveFile {
                        path: DAEMON_JSON_PATH.to_owned(),
                    });
                }
                if touched("systemd_drop_in") {
                    steps.push(file(DROP_IN_PATH.to_owned(), "0644"));
                }
                if removed("systemd_drop_in") {
                    steps.push(Step::RemoveFile {
                        path: DROP_IN_PATH.to_owned(),
                    });
                }
                if touched("registry_cas") {
                    steps.push(file(
                        "/etc/docker/certs.d/ADDRESS:PORT/ca.crt".to_owned(),
                        "0644",
                    ));
                }
                let restarts = change.attributes.iter().any(|attribute| {
                    matches!(
                        attribute.name.as_str(),
                        "daemon_json" | "systemd_drop_in" | "tls_ca" | "tls_cert" | "tls_key"
                    ) && (change.action == Action::Create && attribute.after.is_some()
                        || change.action == Action::Update && attribute.is_changed())
                });
                if restarts {
                    steps.push(Step::RestartDocker);
                }
            }
            Action::Delete => match desired.on_destroy {
                OnDestroy::Revert => {
                    steps.push(Step::RemoveFile {
                        path: DAEMON_JSON_PATH.to_owned(),
                    });
                    steps.push(Step::RemoveFile {
                        path: DROP_IN_PATH.to_owned(),
                    });
                    if change.before("tls_ca").is_some() {
                        for file in ["ca.pem", "cert.pem", "key.pem"] {
                            steps.push(Step::RemoveFile {
                                path: format!("{TLS_DIR}/{file}"),
                            });
                        }
                    }
                    steps.push(Step::RestartDocker);
                }
                OnDestroy::Keep => steps.push(Step::Forget {
                    why: "daemon configuration is kept (`[daemon] on_destroy = \"keep\"`)"
                        .to_owned(),
                }),
            },
            _ => {}
        },
        Kind::Swarm => match change.action {
            Action::Create => {
                steps.push(Step::SwarmInit {
                    on: change.host.clone().unwrap_or_default(),
                });
            }
            Action::Update => {
                steps.push(Step::SwarmUpdate);
            }
            Action::Delete | Action::Replace => steps.push(Step::Leave { force: true }),
            Action::NoOp => {}
        },
        Kind::Node => {
            let was_manager = role_of(change, true).as_deref() == Some("manager");
            let last = mode == Mode::Destroy && name == anchor;
            if delete {
                if last {
                    steps.push(Step::Forget {
                        why: "the last manager leaves when `swarm` is destroyed".to_owned(),
                    });
                } else {
                    steps.push(Step::Drain { via: via.clone() });
                    if was_manager {
                        steps.push(Step::Demote { via: via.clone() });
                    }
                    steps.push(Step::Leave { force: false });
                    steps.push(Step::NodeRm {
                        via: via.clone(),
                        force: false,
                    });
                }
            }
            if create {
                let role = role_of(change, false).unwrap_or_else(|| "worker".to_owned());
                if name != desired.bootstrap || state.resource(&Address::swarm()).is_some() {
                    steps.push(Step::Join {
                        role,
                        via: via.clone(),
                    });
                }
                if after_str(change, "availability").as_deref() != Some("active") {
                    steps.push(Step::SetAvailability {
                        availability: after_str(change, "availability").unwrap_or_default(),
                        via: via.clone(),
                    });
                }
                // Every node carries swarmform's ownership labels, set with its own.
                steps.push(Step::SetLabels { via: via.clone() });
            }
            if change.action == Action::Update {
                if changed(change, "role") {
                    if role_of(change, false).as_deref() == Some("manager") {
                        steps.push(Step::Promote { via: via.clone() });
                    } else {
                        steps.push(Step::Demote { via: via.clone() });
                    }
                }
                if changed(change, "availability") {
                    steps.push(Step::SetAvailability {
                        availability: after_str(change, "availability").unwrap_or_default(),
                        via: via.clone(),
                    });
                }
                if changed(change, "labels") || change.before(UNLABELLED).is_some() {
                    steps.push(Step::SetLabels { via: via.clone() });
                }
            }
        }
        Kind::Network | Kind::Secret | Kind::Config => {
            let object = change.address.kind.keyword().to_owned();
            if create && change.create_before_destroy {
                steps.push(Step::DockerCreate {
                    object: object.clone(),
                    name: docker_name.clone(),
                    via: via.clone(),
                });
            }
            if delete {
                steps.push(Step::DockerRemove {
                    object: object.clone(),
                    name: old_docker_name,
                    via: via.clone(),
                });
            }
            if create && !change.create_before_destroy {
                steps.push(Step::DockerCreate {
                    object,
                    name: docker_name,
                    via: via.clone(),
                });
            }
        }
        Kind::Registry => {
            let hosted = change
                .attributes
                .iter()
                .any(|attribute| attribute.name == "node");
            let login_on = |before: bool| -> Vec<String> {
                let value = if before {
                    change.before("login_on")
                } else {
                    change.after("login_on")
                };
                value
                    .and_then(Value::as_array)
                    .map(|hosts| {
                        hosts
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            if delete {
                steps.push(if hosted {
                    Step::RemoveRegistry { via: via.clone() }
                } else {
                    Step::Logout {
                        hosts: login_on(true),
                    }
                });
            }
            if create || change.action == Action::Update {
                steps.push(if hosted {
                    Step::DeployRegistry { via: via.clone() }
                } else {
                    Step::Login {
                        hosts: login_on(false),
                    }
                });
            }
        }
        Kind::Stack => {
            if delete {
                steps.push(Step::StackRemove { via: via.clone() });
            }
            // The health check and the wait's length change nothing on the cluster.
            let deploy = create
                || change.action == Action::Update
                    && change.changed_attributes().any(|attribute| {
                        !matches!(attribute.name.as_str(), "health" | "converge_timeout")
                    });
            if deploy {
                steps.push(Step::StackDeploy { via: via.clone() });
            }
            if (deploy || changed(change, "health"))
                && let Some(step) = crate::swarm::stack::health_step(change)
            {
                steps.push(step);
            }
        }
    }
    steps
}

fn before_str(change: &Change, name: &str) -> Option<String> {
    change
        .before(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Walks the membership changes in the order the graph runs them (joins and promotions
/// first, then demotions and removals one at a time) and refuses a plan that, at any step,
/// would leave fewer reachable managers than Raft's majority, or no manager at all.
fn check_quorum(
    changes: &[Change],
    state: &State,
    options: &Options,
    anchor: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), PlanError> {
    let mut managers: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.is_manager())
        .map(|resource| resource.address.name.clone())
        .collect();
    let ghosts: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.is_ghost())
        .map(|resource| resource.address.name.clone())
        .collect();
    let destroying_swarm = destroys_swarm(changes);
    for change in changes
        .iter()
        .filter(|change| change.address.kind == Kind::Node)
    {
        let becomes_manager = matches!(
            change.action,
            Action::Create | Action::Update | Action::Replace
        ) && role_of(change, false).as_deref() == Some("manager");
        if becomes_manager {
            managers.insert(change.address.name.clone());
        }
    }
    let mut problems = Vec::new();
    for change in changes
        .iter()
        .filter(|change| change.address.kind == Kind::Node)
    {
        let name = &change.address.name;
        let leaves = match change.action {
            Action::Delete | Action::Replace => role_of(change, true).as_deref() == Some("manager"),
            Action::Update => {
                role_of(change, true).as_deref() == Some("manager")
                    && role_of(change, false).as_deref() == Some("worker")
            }
            _ => false,
        };
        if !leaves || !managers.contains(name) {
            continue;
        }
        if destroying_swarm && name == anchor {
            continue;
        }
        let reachable = |managers: &BTreeSet<String>| {
            managers
                .iter()
                .filter(|manager| {
                    !options.unreachable.contains(*manager) && !ghosts.contains(*manager)
                })
                .count()
        };
        let quorum = |managers: &BTreeSet<String>| managers.len() / 2 + 1;
        let mut after = managers.clone();
        after.remove(name);
        if after.is_empty() {
            problems.push(format!("remove `{name}`, the last manager of the swarm"));
        } else if reachable(&managers) < quorum(&managers) || reachable(&after) < quorum(&after) {
            problems.push(format!(
                "demote or remove `{name}` while only {} of {} managers are reachable (a majority is {}), losing Raft quorum",
                reachable(&managers),
                managers.len(),
                quorum(&managers)
            ));
        }
        managers = after;
    }
    if problems.is_empty() {
        return Ok(());
    }
    let what = problems.join("; and ");
    if options.allow_quorum_loss {
        warnings.push(Warning {
            summary: "--allow-quorum-loss: this plan loses Raft quorum".to_owned(),
            detail: format!("It will {what}. You asked for this with `--allow-quorum-loss`; the swarm may have to be rebuilt with `docker swarm init --force-new-cluster`."),
        });
        Ok(())
    } else {
        Err(PlanError::QuorumLoss { what })
    }
}

/// Whether the plan deletes the swarm itself (the last manager's `swarm leave --force`).
fn destroys_swarm(changes: &[Change]) -> bool {
    changes
        .iter()
        .any(|change| change.address.kind == Kind::Swarm && change.action == Action::Delete)
}

/// The managers before and after the plan, ghost entries counted, when the plan changes their
/// number.
fn manager_count(changes: &[Change], state: &State) -> Option<ManagerCount> {
    let before = state
        .resources
        .iter()
        .filter(|resource| resource.is_manager())
        .count();
    let after = if destroys_swarm(changes) {
        0
    } else {
        changes
            .iter()
            .filter(|change| change.address.kind == Kind::Node)
            .filter(|change| change.action != Action::Delete)
            .filter(|change| {
                role_of(change, false)
                    .or_else(|| role_of(change, true))
                    .as_deref()
                    == Some("manager")
            })
            .count()
    };
    (before != after).then_some(ManagerCount { before, after })
}

/// Changes by address, for the graph builder and tests.
pub fn by_address(plan: &Plan) -> BTreeMap<&Address, &Change> {
    plan.changes
        .iter()
        .map(|change| (&change.address, change))
        .collect()
}
