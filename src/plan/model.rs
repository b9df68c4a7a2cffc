//! A plan is plain data: computed once by the planner, rendered by `ui`, saved with `-out`, and
//! applied verbatim. Nothing here talks to a host.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;
pub use crate::change::{Action, AttributeChange, Mode};
pub use crate::swarm::Step;
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
        crate::change::before(&self.attributes, name)
    }

    /// An attribute's value after the change.
    pub fn after(&self, name: &str) -> Option<&Value> {
        crate::change::after(&self.attributes, name)
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeChange> {
        crate::change::attribute(&self.attributes, name)
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
