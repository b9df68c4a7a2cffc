//! What the planner asks a kind for: the change worked out so far (its action and attributes,
//! no steps yet) and what else decides the steps. Plain data; the kinds' `steps` functions are
//! pure.

use serde_json::Value;

use crate::address::Address;
use crate::change::{self, Action, AttributeChange, Mode};
use crate::config::model::{OnDestroy, Role};

/// One change as a kind's `steps` sees it.
#[derive(Debug, Clone)]
pub struct Proposal<'a> {
    pub address: &'a Address,
    pub action: Action,
    /// The host the change runs on, when it is host-scoped.
    pub host: Option<&'a str>,
    pub attributes: &'a [AttributeChange],
    pub reasons: &'a [String],
    pub create_before_destroy: bool,
    /// Docker's name for the object: the config's, else the state's, else the address name.
    pub docker_name: String,
    /// Docker's name as the state recorded it (what a deletion removes).
    pub old_docker_name: String,
    /// The manager that drives swarm-wide steps in this plan.
    pub anchor: &'a str,
    pub mode: Mode,
    /// The host the config names to run `docker swarm init`.
    pub bootstrap: &'a str,
    /// Whether the state records a swarm (a bootstrap host added later joins it).
    pub swarm_recorded: bool,
    /// `[daemon] on_destroy`.
    pub on_destroy: OnDestroy,
}

impl Proposal<'_> {
    pub fn before(&self, name: &str) -> Option<&Value> {
        change::before(self.attributes, name)
    }

    pub fn after(&self, name: &str) -> Option<&Value> {
        change::after(self.attributes, name)
    }

    pub fn before_str(&self, name: &str) -> Option<String> {
        self.before(name).and_then(Value::as_str).map(str::to_owned)
    }

    pub fn after_str(&self, name: &str) -> Option<String> {
        self.after(name).and_then(Value::as_str).map(str::to_owned)
    }

    /// Whether the change has the attribute at all (before or after).
    pub fn has(&self, name: &str) -> bool {
        change::attribute(self.attributes, name).is_some()
    }

    /// Whether the attribute's value changes.
    pub fn changed(&self, name: &str) -> bool {
        change::attribute(self.attributes, name).is_some_and(AttributeChange::is_changed)
    }

    /// The node's role before or after the change, when it is a node.
    pub fn role(&self, before: bool) -> Option<Role> {
        let value = if before {
            self.before("role")
        } else {
            self.after("role")
        };
        value.and_then(Value::as_str).and_then(Role::parse)
    }

    /// Create or replace: the resource exists afterwards as a new one.
    pub fn creates(&self) -> bool {
        matches!(self.action, Action::Create | Action::Replace)
    }

    /// Delete or replace: the resource as recorded goes.
    pub fn deletes(&self) -> bool {
        matches!(self.action, Action::Delete | Action::Replace)
    }

    /// A string list attribute (`packages`, `login_on`), before or after.
    pub fn list(&self, name: &str, before: bool) -> Vec<String> {
        let value = if before {
            self.before(name)
        } else {
            self.after(name)
        };
        value
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}
