//! What each step does on a host: the docker CLI commands (always `--format '{{json .}}'`,
//! never screen text), their order, what counts as already done, and what is recorded.
//!
//! Every step is idempotent: a step that finds its work already done (after an interrupted
//! apply) succeeds without doing it again.

mod cluster;
mod context;
mod daemon;
mod engine;
mod error;
pub mod facts;
mod node;
mod object;
pub mod ownership;
mod primitive;
pub mod refresh;
mod registry;
pub mod stack;
mod unlock;

use serde_json::Value;

pub use context::{Context, NewUnlockKey, Outcome, scrub_swarm_secrets};
pub use error::StepError;
pub use facts::SwarmInfo;

use cluster::*;
use context::*;
use daemon::*;
use engine::*;
use node::*;
use object::*;
use primitive::*;
use registry::*;
use unlock::*;

use crate::address::{Address, Kind};
use crate::plan::graph::{Phase, Vertex};
use crate::plan::{Action, Change, Step};
use crate::ssh::{RemoteCommand, Script};

/// Carries out one vertex: the steps of its change that belong to `phase`.
pub async fn carry_out(
    context: &Context,
    vertex: &Vertex,
    change: &Change,
) -> Result<Outcome, StepError> {
    let steps = phase_steps(change, vertex.phase);
    let mut remote_id = None;
    if change.address.kind == Kind::Node
        && steps.iter().any(|step| {
            matches!(
                step,
                Step::Drain { .. } | Step::Demote { .. } | Step::NodeRm { .. }
            )
        })
    {
        // The node's id, read while its host is still in the swarm: `node rm` runs after it
        // left, when the host can no longer say which node it was.
        remember_node_id(context, change).await?;
    }
    for step in &steps {
        context.reporter.step(vertex, &step.describe());
        if let Some(id) = run_step(context, change, step).await? {
            remote_id = Some(id);
        }
    }
    if change.address.kind == Kind::Node
        && remote_id.is_none()
        && context.recorded_id(&change.address).is_none()
        && matches!(change.action, Action::Create | Action::Replace)
        && vertex.phase != Phase::Destroy
        && let Some(host) = &change.host
    {
        // The bootstrap manager has no join to tell its id: ask the host itself.
        let info = facts::swarm_info(context, host).await?;
        if !info.node_id.is_empty() {
            remote_id = Some(info.node_id);
        }
    }
    Ok(match (change.action, vertex.phase) {
        (Action::Delete, _) => Outcome::Removed,
        (Action::Replace, Phase::Destroy) if change.create_before_destroy => Outcome::Unchanged,
        (Action::Replace, Phase::Destroy) => Outcome::Removed,
        _ => Outcome::Created {
            remote_id: remote_id.or_else(|| context.recorded_id(&change.address)),
        },
    })
}

/// A replacement's steps split into the destroy half and the create half.
pub fn phase_steps(change: &Change, phase: Phase) -> Vec<Step> {
    if change.action != Action::Replace {
        return change.steps.clone();
    }
    let is_destroy = |step: &Step| {
        matches!(
            step,
            Step::Drain { .. }
                | Step::Leave { .. }
                | Step::NodeRm { .. }
                | Step::RemoveFile { .. }
                | Step::DockerRemove { .. }
                | Step::RemoveRegistry { .. }
                | Step::Logout { .. }
                | Step::StackRemove { .. }
        ) || (matches!(step, Step::Demote { .. }) && change.address.kind == Kind::Node)
    };
    change
        .steps
        .iter()
        .filter(|step| is_destroy(step) == (phase == Phase::Destroy))
        .cloned()
        .collect()
}

/// Runs one step; returns a Docker id when the step created an object.
async fn run_step(
    context: &Context,
    change: &Change,
    step: &Step,
) -> Result<Option<String>, StepError> {
    let host = change.host.clone().unwrap_or_default();
    match step {
        Step::RequireEngine => {
            let script = Script::new(docker(&["version", "--format", "{{json .Server.Version}}"]));
            context
                .check(&host, &script, Some("install Docker on the host, or set `[engine] install = \"if-missing\"` to let swarmform install the distribution's packages"))
                .await?;
            Ok(None)
        }
        Step::InstallEngine { packages } => {
            let present = context
                .run(
                    &host,
                    &Script::new(RemoteCommand::new("command").args(["-v", "docker"])),
                )
                .await?;
            if !present.success() {
                let install = Script::new(RemoteCommand::new("apt-get").args(["update", "-q"]))
                    .and(
                        RemoteCommand::new("env")
                            .args([
                                "DEBIAN_FRONTEND=noninteractive",
                                "apt-get",
                                "install",
                                "-y",
                                "-q",
                                "--no-install-recommends",
                            ])
                            .args(packages.iter().cloned()),
                    )
                    .and(RemoteCommand::new("systemctl").args(["enable", "--now", "docker"]));
                context
                    .check(&host, &install, Some("the host needs apt and its package mirror; install Docker by hand and use `[engine] install = \"require\"` otherwise"))
                    .await?;
            }
            wait_for_docker(context, &host).await?;
            // A login user other than root may then run `docker` by hand (from its next login).
            if let Some(user) = context.pool.user(&host).filter(|user| *user != "root") {
                let group = Script::new(
                    RemoteCommand::new("usermod")
                        .args(["-aG", "docker"])
                        .arg(user.to_owned()),
                );
                context.check(&host, &group, None).await?;
            }
            Ok(None)
        }
        Step::WriteFile { path, mode, owner } => {
            write_file(context, change, &host, path, mode, owner).await?;
            Ok(None)
        }
        Step::EnsureLine { path } => {
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
        Step::RemoveFile { path } => {
            context
                .check(
                    &host,
                    &Script::new(RemoteCommand::new("rm").args(["-f"]).arg(path.clone())),
                    None,
                )
                .await?;
            Ok(None)
        }
        Step::RestartDocker => {
            // A manager of an autolocked swarm comes back locked: read the key from it first.
            let before = facts::swarm_info(context, &host).await;
            let unlock_key = match before {
                Ok(info) if info.control_available && autolocked(context, &host).await? => {
                    Some(unlock_key(context, &host).await?)
                }
                _ => None,
            };
            let drained = before_restart(context, &host).await?;
            let script = Script::new(RemoteCommand::new("systemctl").arg("daemon-reload"))
                .and(RemoteCommand::new("systemctl").args(["restart", "docker"]));
            context
                .check(&host, &script, Some("dockerd did not restart: check `journalctl -u docker` on the host; a daemon.json key dockerd does not know stops it from starting"))
                .await?;
            wait_for_docker(context, &host).await?;
            if facts::swarm_info(context, &host).await?.local_node_state == "locked" {
                let key = match unlock_key {
                    Some(key) => key,
                    None => unlock_key_elsewhere(context, &host).await?,
                };
                let unlock = Script::new(docker(&["swarm", "unlock"]))
                    .stdin(format!("{key}\n").into_bytes());
                context.check(&host, &unlock, None).await?;
            }
            let manager = context
                .state
                .lock()
                .ok()
                .and_then(|state| {
                    state
                        .resource(&Address::new(Kind::Node, host.clone()))
                        .map(crate::state::ResourceState::is_manager)
                })
                .unwrap_or(false);
            if manager {
                // The next manager restarts only once this one is back in a swarm with a leader.
                let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
                context
                    .wait(
                        &format!("`{host}` to rejoin a swarm with a leader"),
                        || async {
                            let output = context.pool.run(&host, &nodes).await?;
                            Ok(if output.success() {
                                Ok(())
                            } else {
                                Err(output.stderr_text().trim().to_owned())
                            })
                        },
                    )
                    .await?;
            }
            if let Some(drained) = drained {
                after_restart(context, &host, drained).await?;
            }
            Ok(None)
        }
        Step::SwarmInit { on } => swarm_init(context, change, on, None).await.map(Some),
        Step::AdoptSwarm { on, cluster_id } => swarm_init(context, change, on, Some(cluster_id))
            .await
            .map(Some),
        Step::SwarmUpdate => {
            swarm_update(context, change).await?;
            Ok(None)
        }
        Step::RotateJoinTokens { via } => {
            for role in ["worker", "manager"] {
                context
                    .check(
                        via,
                        &Script::new(docker(&["swarm", "join-token", "--rotate", "-q", role])),
                        None,
                    )
                    .await?;
            }
            if let Ok(mut tokens) = context.tokens.lock() {
                tokens.clear();
            }
            Ok(None)
        }
        Step::Join { role, via } | Step::AdoptNode { role, via, .. } => {
            join(context, change, role, via).await.map(Some)
        }
        Step::Promote { via } => {
            let id = node_id(context, change).await?;
            context
                .check(
                    via,
                    &Script::new(docker(&["node", "promote"]).arg(id.clone())),
                    None,
                )
                .await?;
            // `promote` returns before the node takes part in Raft: a demotion planned after
            // it must not start until the new manager is Ready and reachable, or quorum rests
            // on a manager that is not there yet.
            let inspect =
                Script::new(docker(&["node", "inspect", "--format", "{{json .}}"]).arg(id.clone()));
            let name = change.address.name.clone();
            context
                .wait(&format!("`{name}` to be a reachable manager"), || async {
                    let output = context.check(via, &inspect, None).await?;
                    let node: Value =
                        serde_json::from_str(output.stdout_text().trim()).unwrap_or(Value::Null);
                    let state = node["Status"]["State"].as_str().unwrap_or_default();
                    let reachability = node["ManagerStatus"]["Reachability"]
                        .as_str()
                        .unwrap_or_default();
                    Ok(if state == "ready" && reachability == "reachable" {
                        Ok(())
                    } else {
                        Err(format!(
                            "state {state}, manager reachability {reachability:?}"
                        ))
                    })
                })
                .await?;
            Ok(None)
        }
        Step::Demote { via } => {
            let id = node_id(context, change).await?;
            let info = facts::swarm_info(context, via).await?;
            if info.node_id == id {
                return Err(StepError::Refused(format!(
                    "`{via}` cannot demote itself in this plan; plan again so another manager drives the change"
                )));
            }
            context
                .check(via, &Script::new(docker(&["node", "demote"]).arg(id)), None)
                .await?;
            Ok(None)
        }
        Step::SetAvailability { availability, via } if availability == "drain" => {
            // Docker only flips the desired state: wait, as a decommission does, until the
            // tasks have stopped there and run elsewhere.
            drain(context, change, via).await?;
            Ok(None)
        }
        Step::SetAvailability { availability, via } => {
            let id = node_id(context, change).await?;
            context
                .check(
                    via,
                    &Script::new(
                        docker(&["node", "update", "--availability"])
                            .arg(availability.clone())
                            .arg(id),
                    ),
                    None,
                )
                .await?;
            Ok(None)
        }
        Step::SetLabels { via } => {
            set_labels(context, change, via).await?;
            Ok(None)
        }
        Step::Drain { via } => {
            drain(context, change, via).await?;
            Ok(None)
        }
        Step::Leave { force } => {
            let target = if change.address.kind == Kind::Swarm {
                change.host.clone().unwrap_or_default()
            } else {
                host.clone()
            };
            if !*force
                && change.address.kind == Kind::Node
                && change.before("role").and_then(Value::as_str) == Some("manager")
            {
                // The demotion was made through another manager: this node learns of it a
                // moment later, and leaving before then is refused as a manager's leave.
                context
                    .wait(&format!("`{target}` to see its demotion"), || async {
                        let info = facts::swarm_info(context, &target).await?;
                        Ok(if info.control_available {
                            Err("still a manager".to_owned())
                        } else {
                            Ok(())
                        })
                    })
                    .await?;
            }
            let mut command = docker(&["swarm", "leave"]);
            if *force {
                command = command.arg("--force");
            }
            let script = Script::new(command);
            let output = context.run(&target, &script).await?;
            if !output.success() && !output.stderr_text().contains("not part of a swarm") {
                return Err(context.failure(&target, &script, &output, None));
            }
            Ok(None)
        }
        Step::NodeRm { via, force } => {
            node_rm(context, change, via, *force).await?;
            Ok(None)
        }
        Step::DockerCreate { object, name, via } => {
            docker_create(context, change, object, name, via)
                .await
                .map(Some)
        }
        Step::DockerRemove { object, name, via } => {
            docker_rm(context, via, object, name).await?;
            Ok(None)
        }
        Step::DeployRegistry { via } => registry_deploy(context, change, via).await.map(Some),
        Step::RemoveRegistry { via } => {
            let name = change.address.name.clone();
            let docker_name = context
                .resource(&change.address)
                .and_then(|resource| resource.docker_name.clone())
                .unwrap_or(name);
            let script = Script::new(docker(&["service", "rm"]).arg(docker_name));
            let output = context.run(via, &script).await?;
            if !output.success() && !is_not_found(&output.stderr_text()) {
                return Err(context.failure(via, &script, &output, None));
            }
            // Its config and secrets, found by their labels: their names hash contents that
            // the config no longer holds.
            for object in ["config", "secret"] {
                let mut list = docker(&[object, "ls", "--format", "{{.Name}}"]);
                for label in ownership::label_words(context, &change.address) {
                    list = list.arg("--filter").arg(format!("label={label}"));
                }
                let listed = context.check(via, &Script::new(list), None).await?;
                for name in listed.stdout_text().lines().filter(|name| !name.is_empty()) {
                    docker_rm(context, via, object, name).await?;
                }
            }
            Ok(None)
        }
        Step::Login { hosts } => {
            let resource = context.resource(&change.address);
            let url = text_attribute(change, "url").unwrap_or_default();
            if let (Some(username), Some(password)) = (
                text_attribute(change, "username"),
                resource
                    .and_then(|resource| resource.payload("password"))
                    .map(<[u8]>::to_vec),
            ) {
                for target in hosts {
                    let script = Script::new(
                        docker(&["login", "--username"])
                            .arg(username.clone())
                            .arg("--password-stdin")
                            .arg(url.clone()),
                    )
                    .stdin(password.clone());
                    context
                        .check(
                            target,
                            &script,
                            Some("check the registry's username and password"),
                        )
                        .await?;
                }
            }
            Ok(None)
        }
        Step::Logout { hosts } => {
            let url = text_attribute(change, "url").unwrap_or_default();
            for target in hosts {
                context
                    .run(target, &Script::new(docker(&["logout"]).arg(url.clone())))
                    .await?;
            }
            Ok(None)
        }
        Step::StackDeploy { via } => {
            stack::stack_deploy(context, change, via).await?;
            Ok(None)
        }
        Step::StackRemove { via } => {
            stack::stack_remove(context, change, via).await?;
            Ok(None)
        }
        Step::HealthCheck { .. } => {
            stack::health_check(context, change).await?;
            Ok(None)
        }
        Step::Forget { .. } => Ok(None),
        Step::LabelService { name, via } => {
            let mut command = docker(&["service", "update", "--detach"]);
            for label in ownership::label_words(context, &change.address) {
                command = command.arg("--label-add").arg(label);
            }
            context
                .check(via, &Script::new(command.arg(name.clone())), None)
                .await?;
            Ok(None)
        }
    }
}
