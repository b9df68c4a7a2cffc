//! Steps: the operations that carry out each change, the removal of what an unreachable host
//! held, and the rotation of the join tokens after the last join.

use serde_json::Value;

use super::role_of;
use crate::address::{Address, Kind};
use crate::config::desired::{DAEMON_JSON_PATH, DROP_IN_PATH, Desired, TLS_DIR};
use crate::config::model::OnDestroy;
use crate::plan::model::{Action, Change, Mode, Plan, Step};
use crate::state::{State, UNLABELLED};

/// With `[swarm] rotate_join_tokens`, the node that joins last in the graph's order rotates both
/// join tokens once it has joined, and the graph orders every other join of the plan before it:
/// the tokens this apply read stop working as soon as nothing needs them any more.
pub(super) fn rotate_tokens_after_joins(desired: &Desired, changes: &mut [Change], anchor: &str) {
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
    let Ok(graph) = crate::plan::graph::Graph::build(&probe) else {
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
pub(super) fn unreachable_steps(change: &Change, anchor: &str) -> Vec<Step> {
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

/// The operations that carry out one change.
pub(super) fn steps(
    change: &Change,
    desired: &Desired,
    state: &State,
    anchor: &str,
    mode: Mode,
) -> Vec<Step> {
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
