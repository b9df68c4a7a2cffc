//! The daemon kind: dockerd's configuration on a host. What a change takes (daemon.json, the
//! systemd drop-in, the TCP API's TLS files, registry CAs, then one restart), where each file's
//! content comes from, the restart itself (the node drained first and put back after, an
//! autolocked manager unlocked), and the refresh that reads daemon.json back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::address::Kind;
use crate::change::Action;
use crate::config::desired::DAEMON_JSON_PATH;
use crate::config::desired::{DROP_IN_PATH, TLS_DIR};
use crate::config::model::OnDestroy;
use crate::redact::redact;
use crate::ssh::{RemoteCommand, Script};
use crate::state::ResourceState;
use crate::state::State;
use crate::swarm::context::*;
use crate::swarm::refresh::{Refreshed, unreachable};
use crate::swarm::{Context, StepError};

use super::Work;
use super::engine::wait_for_docker;
use super::facts;
use super::node::{answering_manager, drain_node};
use super::unlock::{autolocked, unlock_key, unlock_key_elsewhere};
use super::{PrimitiveStep, Proposal, Step};

/// Before a dockerd restart: a node in the swarm is drained (through itself when it is a
/// manager, else through a manager that answers) so its tasks stop cleanly instead of being
/// cut off and restarted with the daemon. Returns what `after_restart` needs to put it back.
pub(super) async fn before_restart(
    context: &Context,
    host: &str,
    node: Option<&ResourceState>,
) -> Result<Option<(String, String, String)>, StepError> {
    let Some((id, role, availability)) = node.map(|node| {
        let text = |name: &str| {
            node.attributes
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        (node.remote_id.clone(), text("role"), text("availability"))
    }) else {
        return Ok(None);
    };
    if availability != "active" {
        return Ok(None);
    }
    // The bootstrap manager's node id is not recorded (it came with `swarm init`): ask it.
    let id = match id {
        Some(id) => id,
        None => facts::membership(context, host).await?.node_id,
    };
    if id.is_empty() {
        return Ok(None);
    }
    let nodes = Script::new(docker(&["node", "ls", "--format", "{{json .ID}}"]));
    let answers = role == "manager" && context.run(host, &nodes).await?.success();
    let via = if answers {
        host.to_owned()
    } else {
        match answering_manager(context, host).await? {
            Some(manager) => manager,
            None => return Ok(None),
        }
    };
    if drain_node(context, &via, &id, host).await?.is_none() {
        return Ok(None);
    }
    Ok(Some((via, id, availability)))
}

/// After a dockerd restart: once the node is ready again, its availability goes back.
pub(super) async fn after_restart(
    context: &Context,
    host: &str,
    (via, id, availability): (String, String, String),
) -> Result<(), StepError> {
    let inspect = Script::new(
        docker(&["node", "inspect", "--format", "{{json .Status.State}}"]).arg(id.clone()),
    );
    context
        .wait(&format!("`{host}` to be ready"), || async {
            let output = context.run(&via, &inspect).await?;
            let state = output.stdout_text().trim().trim_matches('"').to_owned();
            Ok(if output.success() && state == "ready" {
                Ok(())
            } else {
                Err(format!("state {state}"))
            })
        })
        .await?;
    context
        .check(
            &via,
            &Script::new(
                docker(&["node", "update", "--availability"])
                    .arg(availability)
                    .arg(id),
            ),
            None,
        )
        .await?;
    Ok(())
}

/// What a daemon change takes: the files whose content changed written (the TLS files
/// together), those no longer configured removed, then one dockerd restart; on destroy the
/// files go (or stay, `on_destroy = "keep"`).
pub fn steps(change: &Proposal) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let file = |path: String, mode: &str| -> Step {
        PrimitiveStep::WriteFile {
            path,
            mode: mode.to_owned(),
            owner: "root:root".to_owned(),
        }
        .into()
    };
    let remove = |path: String| -> Step { PrimitiveStep::RemoveFile { path }.into() };
    match change.action {
        Action::Create | Action::Update => {
            let touched = |name: &str| {
                crate::change::attribute(change.attributes, name).is_some_and(|attribute| {
                    attribute.after.is_some()
                        && (change.action == Action::Create || attribute.is_changed())
                })
            };
            let removed = |name: &str| {
                crate::change::attribute(change.attributes, name)
                    .is_some_and(|attribute| attribute.after.is_none())
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
                steps.push(remove(DAEMON_JSON_PATH.to_owned()));
            }
            if touched("systemd_drop_in") {
                steps.push(file(DROP_IN_PATH.to_owned(), "0644"));
            }
            if removed("systemd_drop_in") {
                steps.push(remove(DROP_IN_PATH.to_owned()));
            }
            if touched("registry_cas") {
                steps.push(file(REGISTRY_CAS_PATH.to_owned(), "0644"));
            }
            let restarts = change.attributes.iter().any(|attribute| {
                matches!(
                    attribute.name.as_str(),
                    "daemon_json" | "systemd_drop_in" | "tls_ca" | "tls_cert" | "tls_key"
                ) && (change.action == Action::Create && attribute.after.is_some()
                    || change.action == Action::Update && attribute.is_changed())
            });
            if restarts {
                steps.push(PrimitiveStep::RestartDocker.into());
            }
        }
        Action::Delete => match change.on_destroy {
            OnDestroy::Revert => {
                steps.push(remove(DAEMON_JSON_PATH.to_owned()));
                steps.push(remove(DROP_IN_PATH.to_owned()));
                if change.before("tls_ca").is_some() {
                    for file in ["ca.pem", "cert.pem", "key.pem"] {
                        steps.push(remove(format!("{TLS_DIR}/{file}")));
                    }
                }
                steps.push(PrimitiveStep::RestartDocker.into());
            }
            OnDestroy::Keep => steps.push(
                PrimitiveStep::Forget {
                    why: "daemon configuration is kept (`[daemon] on_destroy = \"keep\"`)"
                        .to_owned(),
                }
                .into(),
            ),
        },
        _ => {}
    }
    steps
}

/// The path a registry CA step shows: one `ca.crt` per registry address is written under it.
pub const REGISTRY_CAS_PATH: &str = "/etc/docker/certs.d/ADDRESS:PORT/ca.crt";

/// `systemctl daemon-reload` and `systemctl restart docker` on `host`: the node drained
/// first and put back after; a manager of an autolocked swarm unlocked with the key read from
/// it before; the next manager restarts only once this one is back in a swarm with a leader.
pub(super) async fn restart_docker(
    context: &Context,
    work: &Work,
) -> Result<Option<String>, StepError> {
    let host = work.host_name();
    let before = prepare_restart(context, work).await?;
    let script = restart_commands(None, &before);
    let output = context.run(&host, &script).await?;
    finish_restart(context, work, before, &output).await?;
    Ok(None)
}

/// What a restart needs from before dockerd goes down: the unlock key of an autolocked
/// manager, and the node's availability when it was drained for the restart.
pub(super) struct BeforeRestart {
    unlock_key: Option<String>,
    drained: Option<(String, String, String)>,
    /// This run knows the host is in no swarm: after the restart there is no lock to look
    /// for, and `systemctl restart` returns once dockerd answers (its unit is `Type=notify`).
    outside_swarm: bool,
}

/// Before the restart: the unlock key read from a manager of an autolocked swarm (it comes
/// back locked), the node drained. A host this run knows is in no swarm needs neither, and no
/// round trip.
pub(super) async fn prepare_restart(
    context: &Context,
    work: &Work,
) -> Result<BeforeRestart, StepError> {
    let host = work.host_name();
    let before = facts::membership(context, &host).await;
    let outside_swarm = before
        .as_ref()
        .is_ok_and(|info| info.local_node_state == "inactive");
    let unlock_key = match before {
        Ok(info) if info.control_available && autolocked(context, &host).await? => {
            Some(unlock_key(context, &host).await?)
        }
        _ => None,
    };
    let drained = before_restart(context, &host, work.node.as_ref()).await?;
    Ok(BeforeRestart {
        unlock_key,
        drained,
        outside_swarm,
    })
}

/// When the restart does not happen after all (its files could not be written): a node
/// drained for it is put back.
pub(super) async fn cancel_restart(
    context: &Context,
    work: &Work,
    before: BeforeRestart,
) -> Result<(), StepError> {
    match before.drained {
        Some(drained) => after_restart(context, &work.host_name(), drained).await,
        None => Ok(()),
    }
}

/// Printed once the restart has returned, before `docker info` says whether dockerd answers.
const RESTARTED: &str = "::swarmform::restarted::";

/// The restart's commands, after `files` (the files it applies, written in the same round
/// trip) when given: `systemctl daemon-reload && systemctl reset-failed docker.service &&
/// systemctl restart docker`, then a marker and,
/// for a host in a swarm, `docker info`'s swarm section, so one round trip says the restart
/// worked, that dockerd answers and whether the node came back locked.
pub(super) fn restart_commands(files: Option<Script>, before: &BeforeRestart) -> Script {
    let script = reload_and_restart(files).and(RemoteCommand::new("echo").arg(RESTARTED));
    if before.outside_swarm {
        script
    } else {
        script.and(docker(&["info", "--format", "{{json .Swarm}}"]))
    }
}

/// `systemctl daemon-reload`, `systemctl reset-failed docker.service` and `systemctl restart
/// docker`, after `before` when given. The reset clears systemd's start limit (Debian's unit allows 3 starts in 60 s):
/// applies that change daemon.json one after another restart a host more often than that,
/// and the fourth restart would leave dockerd stopped ("start of the service was attempted
/// too often", seen on the lab with Docker 28). A restart swarmform makes is asked for, not
/// a crash loop; a dockerd that fails to start still fails the step.
fn reload_and_restart(before: Option<Script>) -> Script {
    let reload = RemoteCommand::new("systemctl").arg("daemon-reload");
    match before {
        None => Script::new(reload),
        Some(before) => before.and(reload),
    }
    .and(RemoteCommand::new("systemctl").args(["reset-failed", "docker.service"]))
    .and(RemoteCommand::new("systemctl").args(["restart", "docker"]))
}

/// After the script of [`restart_commands`] ran: a failed restart is the step's error;
/// dockerd waited for unless it answered in the script; an autolocked manager unlocked; a
/// manager waited for until it is back in a swarm with a leader; a drained node put back.
pub(super) async fn finish_restart(
    context: &Context,
    work: &Work,
    before: BeforeRestart,
    output: &crate::ssh::Output,
) -> Result<(), StepError> {
    let host = work.host_name();
    let stdout = output.stdout_text();
    let Some((_, answer)) = stdout.split_once(RESTARTED) else {
        // What failed is the restart (the files were written, or the batch said otherwise).
        let restart = reload_and_restart(None);
        return Err(context.failure(&host, &restart, output, Some("dockerd did not restart: check `journalctl -u docker` on the host; a daemon.json key dockerd does not know stops it from starting")));
    };
    let answered = if before.outside_swarm && output.success() {
        Some(facts::SwarmInfo {
            local_node_state: "inactive".to_owned(),
            ..facts::SwarmInfo::default()
        })
    } else {
        output
            .success()
            .then(|| facts::SwarmInfo::parse(answer))
            .flatten()
    };
    let info = match answered {
        Some(info) => {
            context.remember_membership(&host, &info);
            info
        }
        None => {
            wait_for_docker(context, &host).await?;
            facts::swarm_info(context, &host).await?
        }
    };
    if info.local_node_state == "locked" {
        let key = match before.unlock_key {
            Some(key) => key,
            None => unlock_key_elsewhere(context, &host).await?,
        };
        let unlock =
            Script::new(docker(&["swarm", "unlock"])).stdin(format!("{key}\n").into_bytes());
        context.check(&host, &unlock, None).await?;
    }
    let manager = work.node.as_ref().is_some_and(ResourceState::is_manager);
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
    if let Some(drained) = before.drained {
        after_restart(context, &host, drained).await?;
    }
    Ok(())
}

/// The payload that holds the content of one of dockerd's files.
pub(super) fn daemon_payload(path: &str) -> Option<&'static str> {
    match path {
        DAEMON_JSON_PATH => Some("daemon_json"),
        DROP_IN_PATH => Some("systemd_drop_in"),
        tls if tls == format!("{TLS_DIR}/ca.pem") => Some("tls_ca"),
        tls if tls == format!("{TLS_DIR}/cert.pem") => Some("tls_cert"),
        tls if tls == format!("{TLS_DIR}/key.pem") => Some("tls_key"),
        _ => None,
    }
}

/// Each trusted registry's CA as `/etc/docker/certs.d/ADDRESS/ca.crt` (path and content),
/// from the daemon's `registry_cas` payload (address → PEM).
#[expect(
    clippy::result_large_err,
    reason = "the steps' own error type, which every step returns; only built on refusal"
)]
pub(super) fn registry_cas(work: &Work) -> Result<Vec<(String, Vec<u8>)>, StepError> {
    let resource = work.configured()?;
    let contents: serde_json::Map<String, Value> = resource
        .payload("registry_cas")
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (address, content) in contents {
        // The address is a host's (validated as an IP address or DNS name) and a port: one
        // folder under certs.d, never a path that climbs out of it.
        if address.is_empty() || address.contains('/') {
            return Err(StepError::Refused(format!(
                "`{}` cannot name a folder under /etc/docker/certs.d",
                crate::config::check::printable(&address)
            )));
        }
        let target = format!("/etc/docker/certs.d/{address}/ca.crt");
        super::primitive::host_path(&target).map_err(StepError::Refused)?;
        files.push((
            target,
            content.as_str().unwrap_or_default().as_bytes().to_vec(),
        ));
    }
    Ok(files)
}

/// Refresh: daemon.json read back from every host the state records a daemon configuration
/// for (with the host's facts, in the same round trip; else on its own, in parallel); a file
/// changed or removed by hand is planned back.
pub(super) async fn refresh(
    context: &Arc<Context>,
    state: &State,
    facts: &[facts::HostFacts],
    refreshed: &mut Refreshed,
) -> Result<(), StepError> {
    // daemon.json is read where the state records a daemon configuration.
    let hosts: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Daemon)
        .filter_map(|resource| resource.host.clone())
        .filter(|host| !refreshed.unreachable.contains(host))
        .collect();

    let mut daemon_json: BTreeMap<String, Option<String>> = BTreeMap::new();
    let read_with_facts: BTreeMap<&str, &Option<String>> = facts
        .iter()
        .filter_map(|facts| Some((facts.host.as_str(), facts.daemon_json.0.as_ref()?)))
        .collect();
    // Per host not read with its facts, in parallel: is it reachable, and what does its
    // daemon.json say?
    let mut tasks = tokio::task::JoinSet::new();
    for host in hosts {
        if let Some(text) = read_with_facts.get(host.as_str()) {
            daemon_json.insert(host, (*text).clone());
            continue;
        }
        let context = Arc::clone(context);
        tasks.spawn(async move {
            let script = Script::new(RemoteCommand::new("cat").arg(DAEMON_JSON_PATH));
            let result = context.pool.run(&host, &script).await;
            (host, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((host, result)) = joined else { continue };
        match result {
            Ok(output) if output.success() => {
                daemon_json.insert(host, Some(output.stdout_text()));
            }
            Ok(_) => {
                daemon_json.insert(host, None);
            }
            Err(error) if unreachable(&error) => {
                refreshed.unreachable.insert(host);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let sensitive = context
        .sensitive
        .lock()
        .map(|values| values.clone())
        .unwrap_or_default();
    for resource in refreshed
        .state
        .resources
        .iter_mut()
        .filter(|resource| resource.address.kind == Kind::Daemon)
    {
        let Some(host) = &resource.host else { continue };
        let Some(live) = daemon_json.get(host) else {
            continue;
        };
        let recorded = resource
            .attributes
            .get("daemon_json")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let live = live.as_ref().map(|text| redact(text, &sensitive));
        if recorded != live {
            refreshed.drift.push(format!(
                "`{}`: {DAEMON_JSON_PATH} was changed on the host",
                resource.address
            ));
            match live {
                Some(text) => {
                    resource
                        .attributes
                        .insert("daemon_json".to_owned(), Value::String(text));
                }
                None => {
                    resource.attributes.remove("daemon_json");
                }
            }
        }
    }
    Ok(())
}
