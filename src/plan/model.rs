//! A plan is plain data: computed once by the planner, rendered by `ui`, saved with `-out`, and
//! applied verbatim. Nothing here talks to a host.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;
pub use crate::change::{Action, AttributeChange, Mode};
pub use crate::swarm::facts::{HostAddress, HostFacts, SwarmState};
pub use crate::swarm::ownership::{Stray, Unlabelled};

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub mode: Mode,
    /// One entry per resource in the config or the state, sorted by address. No-ops included,
    /// so the graph keeps the order they imply.
    pub changes: Vec<Change>,
    /// Things the operator must read before applying (Raft quorum, an unencrypted TCP API, ...).
    pub warnings: Vec<Warning>,
    /// The state the plan was made against; `None` when there was no state file.
    pub state: Option<StateRef>,
    /// Whether the live cluster was read before planning.
    pub refreshed: bool,
    /// The `--target` addresses, when the plan was restricted to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// What each host said about itself when the plan read it, in config order then the hosts
    /// only the state remembers. Empty when the hosts were not read (`--refresh=false`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostFacts>,
    /// How many managers the swarm has before and after the plan, when the plan changes that
    /// (ghost entries counted): what the plan says about fault tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managers: Option<ManagerCount>,
}

/// The swarm's managers before and after a plan that changes their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerCount {
    pub before: usize,
    pub after: usize,
}

impl ManagerCount {
    /// How many managers can fail while the rest keep Raft's majority.
    pub fn tolerates(managers: usize) -> usize {
        managers.saturating_sub(1) / 2
    }

    /// "3 managers → 5: the swarm tolerates 2 failures instead of 1".
    pub fn sentence(&self) -> String {
        let failures =
            |count: usize| format!("{count} failure{}", if count == 1 { "" } else { "s" });
        let (before, after) = (Self::tolerates(self.before), Self::tolerates(self.after));
        let tolerance = if self.after == 0 {
            "no manager is left".to_owned()
        } else if self.before == 0 {
            format!("the swarm tolerates {}", failures(after))
        } else if before == after {
            format!("the swarm still tolerates {}", failures(after))
        } else {
            format!(
                "the swarm tolerates {} instead of {before}",
                failures(after)
            )
        };
        format!(
            "{} manager{} → {}: {tolerance}",
            self.before,
            if self.before == 1 { "" } else { "s" },
            self.after
        )
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::NoOp => {}
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Replace => {
                    summary.add += 1;
                    summary.destroy += 1;
                }
                Action::Delete => summary.destroy += 1,
            }
        }
        summary
    }

    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|change| change.action != Action::NoOp)
    }

    pub fn change(&self, address: &Address) -> Option<&Change> {
        self.changes
            .iter()
            .find(|change| &change.address == address)
    }
}

/// Counts for the closing line, Terraform's way: a replacement counts once to add and once to
/// destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// The serial and lineage of the state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub lineage: String,
    pub serial: u64,
}

/// What happens to one resource, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    /// The host the change runs on, when it is host-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Sentences a reviewer needs: "forces replacement", "restarts dockerd on node1", ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Every attribute with its before and after values; unchanged ones included so a reviewer
    /// sees the whole object, and marked by `before == after`.
    pub attributes: Vec<AttributeChange>,
    /// The operations that carry the change out, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// What this resource depends on (from the config, or from the state for deletions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

impl Change {
    /// An attribute's value before the change.
    pub fn before(&self, name: &str) -> Option<&Value> {
        self.attribute(name)
            .and_then(|attribute| attribute.before.as_ref())
    }

    /// An attribute's value after the change.
    pub fn after(&self, name: &str) -> Option<&Value> {
        self.attribute(name)
            .and_then(|attribute| attribute.after.as_ref())
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeChange> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name == name)
    }

    /// The attributes whose value changes.
    pub fn changed_attributes(&self) -> impl Iterator<Item = &AttributeChange> {
        self.attributes
            .iter()
            .filter(|attribute| attribute.is_changed())
    }
}

/// A warning shown above the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One operation of a change. The executor maps each to remote commands; the plan prints them
/// in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Install the distribution's Docker packages, enable and start dockerd.
    InstallEngine {
        packages: Vec<String>,
    },
    /// Check that Docker is installed and answering; fail with a hint when it is not.
    RequireEngine,
    /// Write a file (atomically: temporary file, then rename).
    WriteFile {
        path: String,
        mode: String,
        owner: String,
    },
    /// Ensure one line is present in a file.
    EnsureLine {
        path: String,
    },
    RemoveFile {
        path: String,
    },
    /// `systemctl daemon-reload` then `systemctl restart docker`.
    RestartDocker,
    /// `docker swarm init` on the bootstrap manager.
    SwarmInit {
        on: String,
    },
    /// Take over the swarm `on` already manages (`[swarm] adopt = true`) instead of
    /// `docker swarm init`, then `docker swarm update` with the configured settings.
    AdoptSwarm {
        on: String,
        cluster_id: String,
    },
    /// `docker swarm update` with the changed settings.
    SwarmUpdate,
    /// `docker swarm join-token --rotate` for both roles, on a manager, once every other join of
    /// the plan is done (`[swarm] rotate_join_tokens`).
    RotateJoinTokens {
        via: String,
    },
    /// `docker swarm join` with a token read live from `via`.
    Join {
        role: String,
        via: String,
    },
    /// Take over a node already in the adopted swarm instead of joining it; `current` is its
    /// role there, changed to `role` from `via` when they differ.
    AdoptNode {
        role: String,
        current: String,
        via: String,
    },
    Promote {
        via: String,
    },
    Demote {
        via: String,
    },
    SetAvailability {
        availability: String,
        via: String,
    },
    SetLabels {
        via: String,
    },
    /// `docker node update --availability drain`, then wait until its tasks have moved.
    Drain {
        via: String,
    },
    /// `docker swarm leave`; `force` only for the last manager of a destroyed swarm.
    Leave {
        force: bool,
    },
    /// `docker node rm` from a surviving manager; `force` for a node that cannot leave itself.
    NodeRm {
        via: String,
        force: bool,
    },
    /// `docker <kind> create` for a network, secret or config, run on a manager.
    DockerCreate {
        object: String,
        name: String,
        via: String,
    },
    /// `docker <kind> rm`.
    DockerRemove {
        object: String,
        name: String,
        via: String,
    },
    /// The registry's swarm config and service.
    DeployRegistry {
        via: String,
    },
    RemoveRegistry {
        via: String,
    },
    /// `docker login` on each listed host.
    Login {
        hosts: Vec<String>,
    },
    Logout {
        hosts: Vec<String>,
    },
    /// `docker stack deploy`, then wait until every service has converged.
    StackDeploy {
        via: String,
    },
    StackRemove {
        via: String,
    },
    /// After a deploy: the stack's health check (an HTTP request from this machine, or a
    /// command on a host), tried up to `tries` times `interval` apart.
    HealthCheck {
        check: String,
        tries: u32,
        interval: String,
    },
    /// Drop the resource from the state without touching the host.
    Forget {
        why: String,
    },
    /// `docker service update --label-add` of the ownership labels, for a service made by an
    /// earlier swarmform that did not label what it created.
    LabelService {
        name: String,
        via: String,
    },
}

impl Step {
    /// The step in words, for plan text.
    pub fn describe(&self) -> String {
        match self {
            Step::InstallEngine { packages } => {
                format!(
                    "install {} from the distribution's packages, enable and start dockerd (a login user other than root joins the docker group)",
                    packages.join(", ")
                )
            }
            Step::RequireEngine => "check that dockerd is installed and answering".to_owned(),
            Step::WriteFile { path, mode, owner } => {
                format!("write {path} (mode {mode}, owner {owner})")
            }
            Step::EnsureLine { path } => format!("ensure the line is present in {path}"),
            Step::RemoveFile { path } => format!("remove {path}"),
            Step::RestartDocker => {
                "systemctl daemon-reload and restart dockerd (the node drained meanwhile)"
                    .to_owned()
            }
            Step::SwarmInit { on } => format!("docker swarm init on {on}"),
            Step::AdoptSwarm { on, cluster_id } => format!(
                "adopt the existing swarm {cluster_id} on {on} (instead of docker swarm init), then docker swarm update with the configured settings"
            ),
            Step::SwarmUpdate => "docker swarm update".to_owned(),
            Step::RotateJoinTokens { via } => format!(
                "rotate the worker and manager join tokens once every node of this apply has joined (on {via})"
            ),
            Step::Join { role, via } => format!("join as {role} with a token read from {via}"),
            Step::AdoptNode { role, current, via } if role == current => {
                format!("adopt the node, already a {current} of the swarm (checked from {via})")
            }
            Step::AdoptNode { role, current, via } => format!(
                "adopt the node, a {current} of the swarm, and {} it to {role} (from {via})",
                if role == "manager" {
                    "promote"
                } else {
                    "demote"
                }
            ),
            Step::Promote { via } => format!("promote to manager (from {via})"),
            Step::Demote { via } => format!("demote to worker (from {via})"),
            Step::SetAvailability { availability, via } if availability == "drain" => {
                format!(
                    "set availability to drain and wait until its tasks have moved (from {via})"
                )
            }
            Step::SetAvailability { availability, via } => {
                format!("set availability to {availability} (from {via})")
            }
            Step::SetLabels { via } => format!("set node labels (from {via})"),
            Step::Drain { via } => {
                format!("drain and wait until its tasks have moved (from {via})")
            }
            Step::Leave { force: false } => "docker swarm leave".to_owned(),
            Step::Leave { force: true } => "docker swarm leave --force".to_owned(),
            Step::NodeRm { via, force: false } => format!("docker node rm (from {via})"),
            Step::NodeRm { via, force: true } => format!("docker node rm --force (from {via})"),
            Step::DockerCreate { object, name, via } => {
                format!("docker {object} create {name} (on {via})")
            }
            Step::DockerRemove { object, name, via } => {
                format!("docker {object} rm {name} (on {via})")
            }
            Step::DeployRegistry { via } => {
                format!("deploy the registry service and its config (on {via})")
            }
            Step::RemoveRegistry { via } => {
                format!("remove the registry service and its config (on {via}); its volume is kept")
            }
            Step::Login { hosts } => format!("docker login on {}", hosts.join(", ")),
            Step::Logout { hosts } => format!("docker logout on {}", hosts.join(", ")),
            Step::StackDeploy { via } => {
                format!("docker stack deploy and wait for its services to converge (on {via})")
            }
            Step::StackRemove { via } => {
                format!("docker stack rm and wait for its tasks to stop (on {via})")
            }
            Step::HealthCheck {
                check,
                tries,
                interval,
            } => {
                let tries = if *tries == 1 {
                    "1 try".to_owned()
                } else {
                    format!("{tries} tries, {interval} apart")
                };
                format!("check {check} ({tries})")
            }
            Step::Forget { why } => format!("forget it in the state: {why}"),
            Step::LabelService { name, via } => {
                format!("add the ownership labels to service {name} (on {via})")
            }
        }
    }
}
