//! The vocabulary shared by the planner, the providers and the executor: what happens to a
//! resource ([`Action`]), one attribute's before and after ([`AttributeChange`]), and the
//! graph's vertices ([`Vertex`], one per [`Phase`] of a change). A leaf: it imports only
//! [`crate::address`].

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;

/// Normal plans converge the cluster on the config; destroy plans take everything apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Normal,
    Destroy,
}

/// What happens to one resource. The symbols are Terraform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete then create, or create then delete when the resource is create-before-destroy.
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One attribute's before and after. `before` is `None` when the resource is created,
/// `after` is `None` when it is deleted. A value `"(known after apply)"` is never stored here:
/// see `unknown_after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The after value is known only once the change is applied (a node id, a network id).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown_after: bool,
    /// Values are hashes of secret content; renderers print `(sensitive)`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Multi-line text: renderers print a unified diff.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub text: bool,
    /// This attribute's change is why the resource is replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

impl AttributeChange {
    pub fn is_changed(&self) -> bool {
        self.unknown_after || self.before != self.after
    }
}

/// Which half of a change a vertex stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Create, update, or nothing (a no-op keeps the order it implies).
    Apply,
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vertex {
    pub address: Address,
    pub phase: Phase,
}

impl fmt::Display for Vertex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            Phase::Apply => write!(f, "{}", self.address),
            Phase::Destroy => write!(f, "{} (destroy)", self.address),
        }
    }
}

/// An attribute of a change by name.
pub fn attribute<'a>(attributes: &'a [AttributeChange], name: &str) -> Option<&'a AttributeChange> {
    attributes.iter().find(|attribute| attribute.name == name)
}

/// An attribute's value before the change.
pub fn before<'a>(attributes: &'a [AttributeChange], name: &str) -> Option<&'a Value> {
    attribute(attributes, name).and_then(|attribute| attribute.before.as_ref())
}

/// An attribute's value after the change.
pub fn after<'a>(attributes: &'a [AttributeChange], name: &str) -> Option<&'a Value> {
    attribute(attributes, name).and_then(|attribute| attribute.after.as_ref())
}
