//! Preflight: what the hosts' facts say about the plan, before anything runs. Unreachable
//! hosts, differing Docker versions, a missing Docker that will not be installed, and managers
//! whose address may change are warnings; duplicate hostnames and hosts already in a swarm the
//! state does not record are errors. With `[swarm] adopt = true`, the swarm the bootstrap
//! manager already manages is taken over instead of initialized: the plan's steps say so.
//!
//! Pure, like the planner that calls it: the facts come in through `planner::Options`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::Value;

use super::model::{Action, Change, HostFacts, Mode, Step, SwarmState, Warning};
use crate::address::{Address, Kind};
use crate::config::desired::Desired;
use crate::config::model::{Availability, Role};
use crate::state::State;
use crate::swarm::{EngineStep, NodeStep, SwarmStep};

/// A problem that refuses the plan, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub hint: String,
}

/// Runs the checks, and rewrites the swarm's and nodes' steps when a swarm is adopted.
/// Returns the warnings, or the problems that refuse the plan.
pub fn check(
    desired: &Desired,
    state: &State,
    facts: &[HostFacts],
    changes: &mut [Change],
    mode: Mode,
) -> Result<Vec<Warning>, Vec<Problem>> {
    let mut warnings = Vec::new();
    unreachable(facts, &mut warnings);
    if mode == Mode::Destroy {
        return Ok(warnings);
    }
    let configured: BTreeSet<&str> = desired
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node)
        .map(|resource| resource.address.name.as_str())
        .collect();
    let hosts: Vec<&HostFacts> = facts
        .iter()
        .filter(|facts| configured.contains(facts.host.as_str()) && facts.unreachable.is_none())
        .collect();
    docker_versions(&hosts, &mut warnings);
    docker_missing(&hosts, changes, &mut warnings);
    compose_versions(desired, &hosts, changes, &mut warnings);
    dynamic_managers(desired, facts, &mut warnings);

    let mut problems = duplicate_hostnames(&hosts);
    let adopted = adopted_swarm(desired, state, &hosts);
    problems.extend(foreign_swarms(desired, state, &hosts, adopted.as_deref()));
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some(cluster) = adopted {
        adopt(desired, &hosts, &cluster, changes);
        warnings.push(Warning {
            summary: format!("the existing swarm {cluster} is adopted (`[swarm] adopt = true`)"),
            detail: format!(
                "`{}` already manages it, so it is not initialized: its settings that only `docker swarm init` sets (listen_addr, data_path_port, default_addr_pool) stay as they are, and the others are set with `docker swarm update`. Its services, networks, secrets and configs stay; swarmform manages only what the config declares.",
                desired.bootstrap
            ),
        });
    }
    Ok(warnings)
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn unreachable(facts: &[HostFacts], warnings: &mut Vec<Warning>) {
    let down: Vec<&HostFacts> = facts
        .iter()
        .filter(|facts| facts.unreachable.is_some())
        .collect();
    if down.is_empty() {
        return;
    }
    let names: Vec<&str> = down.iter().map(|facts| facts.host.as_str()).collect();
    let mut detail: Vec<String> = down
        .iter()
        .map(|facts| {
            format!(
                "{}: {}",
                facts.host,
                facts.unreachable.as_deref().unwrap_or_default()
            )
        })
        .collect();
    detail.push("Their facts were not read and nothing was checked on them; steps on them will fail until they answer over SSH.".to_owned());
    warnings.push(Warning {
        summary: format!(
            "{} host{} could not be reached: {}",
            down.len(),
            plural(down.len()),
            names.join(", ")
        ),
        detail: detail.join("\n"),
    });
}

fn docker_versions(hosts: &[&HostFacts], warnings: &mut Vec<Warning>) {
    let versions: Vec<(&str, &str)> = hosts
        .iter()
        .filter_map(|facts| {
            facts
                .docker_version
                .as_deref()
                .map(|version| (facts.host.as_str(), version))
        })
        .collect();
    let distinct: BTreeSet<&str> = versions.iter().map(|(_, version)| *version).collect();
    if distinct.len() < 2 {
        return;
    }
    let mut detail: Vec<String> = versions
        .iter()
        .map(|(host, version)| format!("{host} → {version}"))
        .collect();
    detail.push("Nodes of different versions can form one swarm while an upgrade rolls through, but features, defaults and fixes differ between them; upgrade every node to the same version.".to_owned());
    warnings.push(Warning {
        summary: format!(
            "Docker versions differ across the cluster: {}",
            distinct.into_iter().collect::<Vec<_>>().join(", ")
        ),
        detail: detail.join("\n"),
    });
}

/// A stack to deploy whose compose file has no `version`, when a manager runs a Docker that
/// reads such a file as version 1.0 and refuses it (20.10: `unsupported Compose file version:
/// 1.0`; from 23 it is the latest 3.x schema, docker/cli #3257). Only then: the file is fine
/// for every other Docker.
fn compose_versions(
    desired: &Desired,
    hosts: &[&HostFacts],
    changes: &[Change],
    warnings: &mut Vec<Warning>,
) {
    let old: Vec<String> = hosts
        .iter()
        .filter(|facts| desired.managers.contains(&facts.host))
        .filter_map(|facts| {
            facts.docker_major().filter(|major| *major < 23).map(|_| {
                format!(
                    "{} runs Docker {}",
                    facts.host,
                    facts.docker_version.as_deref().unwrap_or_default()
                )
            })
        })
        .collect();
    if old.is_empty() {
        return;
    }
    for change in changes {
        if change.address.kind != Kind::Stack
            || !matches!(
                change.action,
                Action::Create | Action::Update | Action::Replace
            )
        {
            continue;
        }
        let Some(compose) = desired
            .resource(&change.address)
            .and_then(|stack| stack.payload("compose"))
        else {
            continue;
        };
        let unversioned = serde_norway::from_slice::<serde_norway::Value>(compose)
            .is_ok_and(|compose| compose.get("version").is_none());
        if !unversioned {
            continue;
        }
        warnings.push(Warning {
            summary: format!(
                "the compose file of `{}` has no `version`, which Docker 20.10 refuses",
                change.address
            ),
            detail: format!(
                "{}: its `docker stack deploy` reads a compose file without `version` as version 1.0 and refuses it (`unsupported Compose file version: 1.0`); Docker 23 and later read it as the latest 3.x. Start the file with `version: \"3.8\"`, or upgrade the managers' Docker.",
                old.join(", ")
            ),
        });
    }
}

/// A host without Docker whose engine step only requires it: the apply would fail there.
fn docker_missing(hosts: &[&HostFacts], changes: &[Change], warnings: &mut Vec<Warning>) {
    let missing: Vec<&str> = hosts
        .iter()
        .filter(|facts| !facts.docker_installed)
        .filter(|facts| {
            changes.iter().any(|change| {
                change.address == Address::new(Kind::Engine, facts.host.clone())
                    && change
                        .steps
                        .contains(&Step::Engine(EngineStep::RequireEngine))
            })
        })
        .map(|facts| facts.host.as_str())
        .collect();
    if missing.is_empty() {
        return;
    }
    warnings.push(Warning {
        summary: format!(
            "Docker is not installed on {} and `[engine] install = \"require\"`",
            missing.join(", ")
        ),
        detail: "Applying this plan fails on those hosts. Install Docker there, or set `install = \"if-missing\"` under [engine] to let swarmform install the distribution's packages.".to_owned(),
    });
}

/// The address part of an advertise address: `10.0.0.1:2377` → `10.0.0.1`, `[fd00::1]:2377`
/// → `fd00::1`, `eth0` → `eth0`.
fn address_part(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if text.parse::<IpAddr>().is_ok() {
        return text;
    }
    match text.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => text,
    }
}

/// Managers whose advertise address is a DNS name or a DHCP lease: if it changes, the other
/// nodes cannot find them.
fn dynamic_managers(desired: &Desired, facts: &[HostFacts], warnings: &mut Vec<Warning>) {
    let mut found = Vec::new();
    for manager in &desired.managers {
        let Some(advertise) = desired
            .resource(&Address::new(Kind::Node, manager.clone()))
            .and_then(|node| node.attributes.get("advertise_addr"))
            .and_then(|attribute| attribute.value.as_str())
        else {
            continue;
        };
        let address = address_part(advertise);
        let host = facts.iter().find(|facts| &facts.host == manager);
        let addresses = host.map(|facts| facts.addresses.as_slice()).unwrap_or(&[]);
        if let Ok(ip) = address.parse::<IpAddr>() {
            if addresses.iter().any(|held| {
                held.dynamic && held.address.parse::<IpAddr>().is_ok_and(|held| held == ip)
            }) {
                found.push(format!("{manager} advertises {address}, a DHCP lease"));
            }
        } else if addresses.iter().any(|held| held.interface == address) {
            if let Some(held) = addresses
                .iter()
                .find(|held| held.interface == address && held.dynamic)
            {
                found.push(format!(
                    "{manager} advertises interface {address}, whose address {} is a DHCP lease",
                    held.address
                ));
            }
        } else if address.contains('.') || !addresses.is_empty() {
            // Not an IP, not one of the host's interfaces: a name to resolve.
            found.push(format!("{manager} advertises {address}, a DNS name"));
        }
    }
    if found.is_empty() {
        return;
    }
    let mut detail = found;
    detail.push("Every node reaches the managers at the address they advertise. A manager whose address changes (a new lease after a reboot, a DNS change) cannot be found by the others, and if every manager gets a new address the swarm hangs with no way to reach one. Give managers static IP addresses and advertise those (`advertise_addr` under [hosts.NAME] or [swarm]).".to_owned());
    warnings.push(Warning {
        summary: format!(
            "manager address{} that may change",
            if detail.len() == 2 { "" } else { "es" }
        ),
        detail: detail.join("\n"),
    });
}

fn duplicate_hostnames(hosts: &[&HostFacts]) -> Vec<Problem> {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for facts in hosts {
        if let Some(hostname) = &facts.hostname {
            by_name.entry(hostname).or_default().push(&facts.host);
        }
    }
    by_name
        .into_iter()
        .filter(|(_, hosts)| hosts.len() > 1)
        .map(|(hostname, hosts)| {
            let names: Vec<String> = hosts.iter().map(|host| format!("`{host}`")).collect();
            Problem {
                what: format!(
                    "{} have the same hostname `{hostname}`: placement by `node.hostname` (the registry's constraint) would be ambiguous",
                    names.join(" and ")
                ),
                hint: "give each host a unique hostname (`hostnamectl set-hostname NAME` on the host)"
                    .to_owned(),
            }
        })
        .collect()
}

/// The swarm `adopt = true` takes over: the one the bootstrap manager manages, when the state
/// has no swarm.
fn adopted_swarm(desired: &Desired, state: &State, hosts: &[&HostFacts]) -> Option<String> {
    if !desired.adopt || state.resource(&Address::swarm()).is_some() {
        return None;
    }
    hosts
        .iter()
        .find(|facts| facts.host == desired.bootstrap)
        .filter(|facts| facts.in_swarm() && facts.manager)
        .and_then(|facts| facts.cluster_id.clone())
}

/// The swarm the state records: its id, or, for an init an interrupted apply left pending, the
/// one the bootstrap manager manages.
fn recorded_swarm(desired: &Desired, state: &State, hosts: &[&HostFacts]) -> Option<String> {
    let swarm = state.resource(&Address::swarm())?;
    if swarm.pending {
        return hosts
            .iter()
            .find(|facts| facts.host == desired.bootstrap && facts.manager)
            .and_then(|facts| facts.cluster_id.clone());
    }
    swarm.remote_id.clone()
}

fn foreign_swarms(
    desired: &Desired,
    state: &State,
    hosts: &[&HostFacts],
    adopted: Option<&str>,
) -> Vec<Problem> {
    let ours = recorded_swarm(desired, state, hosts).or_else(|| adopted.map(str::to_owned));
    // The host that ran the init an interrupted apply left pending.
    let initializing = state
        .resource(&Address::swarm())
        .filter(|swarm| swarm.pending)
        .and_then(|swarm| swarm.host.as_deref());
    let mut problems = Vec::new();
    for facts in hosts.iter().filter(|facts| facts.in_swarm()) {
        // That init is still settling there (Docker says `pending`): the init step waits for it
        // and adopts it.
        if facts.swarm == Some(SwarmState::Pending) && initializing == Some(facts.host.as_str()) {
            continue;
        }
        let recorded = state.resource(&Address::new(Kind::Node, facts.host.clone()));
        if recorded.is_some_and(|node| node.remote_id.is_some() && node.remote_id == facts.node_id)
        {
            continue;
        }
        match (&facts.cluster_id, &ours) {
            (Some(cluster), Some(ours)) if cluster == ours => continue,
            // A worker whose managers were not read: the state knows it, so trust the state.
            (None, _) if recorded.is_some() => continue,
            _ => {}
        }
        let host = &facts.host;
        let role = if facts.manager { "manager" } else { "worker" };
        let swarm = match &facts.cluster_id {
            Some(cluster) => format!("swarm {cluster}"),
            None => format!(
                "a swarm ({}, as a {role} whose managers were not read)",
                facts.swarm.map_or("active", |state| state.as_str())
            ),
        };
        let what = match (adopted, &facts.cluster_id) {
            (Some(adopted), _) => {
                format!("`{host}` is already in {swarm}, not in the swarm {adopted} being adopted")
            }
            _ => format!("`{host}` is already in {swarm}, which the state does not record"),
        };
        let hint = if adopted.is_some() {
            format!(
                "leave it first (`docker swarm leave --force` on {host}); it then joins the adopted swarm"
            )
        } else {
            format!(
                "leave it first (`docker swarm leave --force` on {host}), or set `adopt = true` under `[swarm]` to take over the swarm the bootstrap manager `{}` manages",
                desired.bootstrap
            )
        };
        problems.push(Problem { what, hint });
    }
    problems
}

/// The swarm is adopted instead of initialized, and the hosts already in it are adopted
/// instead of joined. Their availability and labels are set as configured, whatever they were.
fn adopt(desired: &Desired, hosts: &[&HostFacts], cluster: &str, changes: &mut [Change]) {
    let members: BTreeMap<&str, &HostFacts> = hosts
        .iter()
        .filter(|facts| facts.cluster_id.as_deref() == Some(cluster))
        .map(|facts| (facts.host.as_str(), *facts))
        .collect();
    for change in changes.iter_mut() {
        if change.action != Action::Create {
            continue;
        }
        match change.address.kind {
            Kind::Swarm => {
                for step in &mut change.steps {
                    if let Step::Swarm(SwarmStep::SwarmInit { on }) = step {
                        *step = Step::Swarm(SwarmStep::AdoptSwarm {
                            on: on.clone(),
                            cluster_id: cluster.to_owned(),
                        });
                    }
                }
                change.reasons.push(format!(
                    "`[swarm] adopt = true`: `{}` already manages swarm {cluster}",
                    desired.bootstrap
                ));
            }
            Kind::Node => {
                let Some(facts) = members.get(change.address.name.as_str()) else {
                    continue;
                };
                let current = if facts.manager {
                    Role::Manager
                } else {
                    Role::Worker
                };
                let mut via = desired.bootstrap.clone();
                for step in &mut change.steps {
                    if let Step::Node(NodeStep::Join { role, via: from }) = step {
                        via = from.clone();
                        *step = Step::Node(NodeStep::AdoptNode {
                            role: *role,
                            current,
                            via: from.clone(),
                        });
                    }
                }
                if !change
                    .steps
                    .iter()
                    .any(|step| matches!(step, Step::Node(NodeStep::SetAvailability { .. })))
                {
                    let availability = change
                        .after("availability")
                        .and_then(Value::as_str)
                        .and_then(Availability::parse)
                        .unwrap_or(Availability::Active);
                    change.steps.push(Step::Node(NodeStep::SetAvailability {
                        availability,
                        via: via.clone(),
                    }));
                }
                if !change
                    .steps
                    .iter()
                    .any(|step| matches!(step, Step::Node(NodeStep::SetLabels { .. })))
                {
                    change.steps.push(Step::Node(NodeStep::SetLabels { via }));
                }
                change.reasons.push(format!(
                    "already a {} of the adopted swarm {cluster}",
                    current.as_str()
                ));
            }
            _ => {}
        }
    }
}

/// The problems as one error message: each problem on its line, then the hints.
pub fn message(problems: &[Problem]) -> String {
    let mut lines: Vec<String> = problems
        .iter()
        .map(|problem| problem.what.clone())
        .collect();
    let mut hints = BTreeSet::new();
    for problem in problems {
        if hints.insert(problem.hint.clone()) {
            lines.push(format!("hint: {}", problem.hint));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_desired;
    use crate::plan::planner::{Options, plan};
    use crate::plan::{HostAddress, SwarmState};
    use crate::state::ResourceState;

    const CONFIG: &str = r#"
[hosts.m1]
address = "192.0.2.1"
role = "manager"
advertise_addr = "eth1"

[hosts.m2]
address = "m2.example.com"
role = "manager"

[hosts.m3]
address = "192.0.2.3"
role = "manager"

[hosts.w1]
address = "192.0.2.11"
"#;

    fn facts(host: &str) -> HostFacts {
        HostFacts {
            host: host.to_owned(),
            hostname: Some(host.to_owned()),
            docker_installed: true,
            docker_version: Some("20.10.24+dfsg1".to_owned()),
            swarm: Some(SwarmState::Inactive),
            ..HostFacts::default()
        }
    }

    fn address(address: &str, interface: &str, dynamic: bool) -> HostAddress {
        HostAddress {
            address: address.to_owned(),
            prefix_length: 24,
            interface: interface.to_owned(),
            dynamic,
        }
    }

    fn all() -> Vec<HostFacts> {
        ["m1", "m2", "m3", "w1"].into_iter().map(facts).collect()
    }

    fn warnings_of(desired: &Desired, state: &State, facts: &[HostFacts]) -> Vec<Warning> {
        let options = Options {
            refreshed: true,
            facts: Some(facts.to_vec()),
            ..Options::default()
        };
        plan(desired, Some(state), &options)
            .expect("a plan")
            .warnings
    }

    // An interface advertised by name is checked through its addresses; a DNS name is a
    // warning even when nothing is known of the host; a static address and a worker's lease
    // are not.
    #[test]
    fn dynamic_and_dns_manager_addresses_warn() {
        let desired = test_desired(CONFIG, &[]);
        let mut facts = all();
        facts[0].addresses = vec![
            address("192.0.2.1", "eth0", false),
            address("10.1.0.5", "eth1", true),
        ];
        facts[1].unreachable = Some("connection refused".to_owned());
        facts[2].addresses = vec![address("192.0.2.3", "eth0", false)];
        facts[3].addresses = vec![address("192.0.2.11", "eth0", true)];
        let warnings = warnings_of(&desired, &State::new(), &facts);
        let warning = warnings
            .iter()
            .find(|warning| warning.summary == "manager addresses that may change")
            .expect("the warning");
        let lines: Vec<&str> = warning.detail.lines().collect();
        assert_eq!(
            lines[..2],
            [
                "m1 advertises interface eth1, whose address 10.1.0.5 is a DHCP lease",
                "m2 advertises m2.example.com, a DNS name",
            ]
        );
        assert!(lines[2].starts_with("Every node reaches the managers"));
    }

    // A compose file without `version` is a warning only where a manager runs Docker 20.10
    // (which refuses it), naming the manager and its version; on Docker 23 and later it is the
    // latest schema, and a file with a `version` never warns.
    #[test]
    fn an_unversioned_compose_file_warns_only_for_docker_20_managers() {
        let config = format!("{CONFIG}\n[stacks.web]\ncompose = \"web.yml\"\n");
        let unversioned = "services:\n  web:\n    image: busybox\n";
        let summary =
            "the compose file of `stack.web` has no `version`, which Docker 20.10 refuses";
        // The warning for `compose`, with the managers m1, m2, m3 on `versions`.
        let warned = |compose: &str, versions: [&str; 3]| {
            let desired = test_desired(&config, &[("web.yml", compose)]);
            let mut facts = all();
            for (manager, version) in facts.iter_mut().zip(versions) {
                manager.docker_version = Some(version.to_owned());
            }
            warnings_of(&desired, &State::new(), &facts)
                .into_iter()
                .find(|warning| warning.summary == summary)
        };
        let (old, new) = ("20.10.24+dfsg1", "28.5.2+dfsg4");
        let warning = warned(unversioned, [old; 3]).expect("a warning");
        assert!(
            warning.detail.starts_with(
                "m1 runs Docker 20.10.24+dfsg1, m2 runs Docker 20.10.24+dfsg1, m3 runs Docker 20.10.24+dfsg1: "
            ),
            "{}",
            warning.detail
        );
        let mixed = warned(unversioned, [old, new, new]).expect("m1 still runs 20.10");
        assert!(
            mixed.detail.starts_with("m1 runs Docker 20.10.24+dfsg1: "),
            "{}",
            mixed.detail
        );
        assert_eq!(warned(unversioned, [new; 3]), None);
        let versioned = format!("version: \"3.8\"\n{unversioned}");
        assert_eq!(warned(&versioned, [old; 3]), None);
    }

    // A worker whose node id the state records is ours even though its own facts carry no
    // cluster id; one the state does not know is in a foreign swarm.
    #[test]
    fn workers_are_recognized_by_their_recorded_node_id() {
        let desired = test_desired(CONFIG, &[]);
        let mut state = State::new();
        for resource in &desired.resources {
            state.upsert(ResourceState::from_resource(
                resource,
                Some("c1".to_owned()),
            ));
        }
        for resource in &mut state.resources {
            if resource.address == Address::new(Kind::Node, "w1") {
                resource.remote_id = Some("n-w1".to_owned());
            }
        }
        let mut facts = all();
        for manager in &mut facts[..3] {
            manager.swarm = Some(SwarmState::Active);
            manager.manager = true;
            manager.cluster_id = Some("c1".to_owned());
        }
        facts[3].swarm = Some(SwarmState::Active);
        facts[3].node_id = Some("n-w1".to_owned());
        let mut changes = Vec::new();
        assert!(check(&desired, &state, &facts, &mut changes, Mode::Normal).is_ok());

        facts[3].node_id = Some("n-other".to_owned());
        facts[3].cluster_id = Some("c9".to_owned());
        let problems =
            check(&desired, &state, &facts, &mut changes, Mode::Normal).expect_err("refused");
        assert_eq!(
            problems[0].what,
            "`w1` is already in swarm c9, which the state does not record"
        );
    }

    // The host that ran the init an interrupted apply left pending may still be settling into
    // that swarm (Docker's `pending`): not a foreign swarm. Any other pending host is one.
    #[test]
    fn a_settling_init_of_an_interrupted_apply_is_not_foreign() {
        let desired = test_desired(CONFIG, &[]);
        let mut state = State::new();
        let mut swarm = ResourceState::from_resource(
            desired.resource(&Address::swarm()).expect("the swarm"),
            None,
        );
        swarm.pending = true;
        state.upsert(swarm);
        let mut facts = all();
        facts[0].swarm = Some(SwarmState::Pending);
        let mut changes = Vec::new();
        assert!(check(&desired, &state, &facts, &mut changes, Mode::Normal).is_ok());

        facts[1].swarm = Some(SwarmState::Pending);
        let problems =
            check(&desired, &state, &facts, &mut changes, Mode::Normal).expect_err("refused");
        assert!(
            problems[0].what.starts_with("`m2` is already in"),
            "{problems:?}"
        );
    }

    // A destroy plan only warns about unreachable hosts: the cluster is being taken apart.
    #[test]
    fn destroy_plans_skip_the_refusals() {
        let desired = test_desired(CONFIG, &[]);
        let mut facts = all();
        facts[1].hostname = Some("m1".to_owned());
        facts[3].unreachable = Some("no route to host".to_owned());
        let mut changes = Vec::new();
        let warnings = check(&desired, &State::new(), &facts, &mut changes, Mode::Destroy)
            .expect("no refusal");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].summary, "1 host could not be reached: w1");
        assert!(check(&desired, &State::new(), &facts, &mut changes, Mode::Normal).is_err());
    }

    #[test]
    fn advertise_addresses_lose_their_port() {
        assert_eq!(address_part("10.0.0.1:2377"), "10.0.0.1");
        assert_eq!(address_part("[fd00::1]:2377"), "fd00::1");
        assert_eq!(address_part("fd00::1"), "fd00::1");
        assert_eq!(address_part("eth0"), "eth0");
        assert_eq!(address_part("eth0:2377"), "eth0");
    }
}
