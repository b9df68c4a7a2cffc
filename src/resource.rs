//! The desired form of one resource, as the config evaluates it: attributes with their change
//! semantics and the resources it depends on. The planner compares these with the state.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::address::Address;

/// What changing an attribute in place costs, which decides the action the planner picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Docker updates it in place.
    InPlace,
    /// Docker cannot update it: the resource is replaced.
    Replace,
    /// Written in place, then dockerd is restarted on the resource's host.
    RestartsDocker,
    /// Recorded when the resource is created and never compared afterwards (for example
    /// `swarm.bootstrap`: which manager ran `docker swarm init` does not matter once it ran).
    CreateOnly,
}

/// One attribute of a desired resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The value. For a sensitive attribute this is `"sha256:<hex>"` of the secret content,
    /// never the content itself: desired resources carry no secrets.
    pub value: Value,
    pub sensitive: bool,
    pub on_change: OnChange,
    /// A multi-line text (a rendered file): plans show a unified diff.
    pub text: bool,
    /// The full content the value stands for (a secret, a file, the unredacted rendered text),
    /// for the executor. Held in memory only: never serialized, never printed.
    pub payload: Option<Payload>,
}

/// Content carried from the config to the executor. Its `Debug` shows only the size.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(std::sync::Arc<Vec<u8>>);

impl Payload {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Payload {
        Payload(std::sync::Arc::new(bytes.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

impl Attribute {
    pub fn new(value: impl Into<Value>) -> Attribute {
        Attribute {
            value: value.into(),
            sensitive: false,
            on_change: OnChange::InPlace,
            text: false,
            payload: None,
        }
    }

    /// Carries `bytes` to the executor beside the displayed value.
    pub fn with_payload(mut self, bytes: impl Into<Vec<u8>>) -> Attribute {
        self.payload = Some(Payload::new(bytes));
        self
    }

    pub fn replace(mut self) -> Attribute {
        self.on_change = OnChange::Replace;
        self
    }

    pub fn restarts_docker(mut self) -> Attribute {
        self.on_change = OnChange::RestartsDocker;
        self
    }

    pub fn create_only(mut self) -> Attribute {
        self.on_change = OnChange::CreateOnly;
        self
    }

    pub fn text(mut self) -> Attribute {
        self.text = true;
        self
    }

    /// A sensitive attribute from its secret content: only the hash is kept, and the content is
    /// registered with the run's redaction registry so no output shows it.
    pub fn sensitive(content: &[u8]) -> Attribute {
        crate::redact::register_bytes(content);
        Attribute::hashed(content)
    }

    /// A sensitive attribute whose content is not itself a secret but holds some (a rendered
    /// text that used a sensitive value): only the hash is kept, and the content is *not*
    /// registered, because its secret parts already are and the rest (a compose file's
    /// `image:` lines) must stay readable in messages.
    pub fn hashed(content: &[u8]) -> Attribute {
        Attribute {
            value: Value::String(crate::hash::sha256_tagged(content)),
            sensitive: true,
            on_change: OnChange::InPlace,
            text: false,
            payload: Some(Payload::new(content)),
        }
    }
}

/// A resource as the config wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub address: Address,
    /// The host whose machine this resource changes (engine, file, daemon, node); the executor
    /// runs at most one mutating step per host at a time. `None` for cluster-wide resources,
    /// which run on a manager.
    pub host: Option<String>,
    /// The object's name in Docker (a versioned secret name, a stack namespace), when it has one.
    pub docker_name: Option<String>,
    pub attributes: BTreeMap<String, Attribute>,
    /// Resources that must exist (and be up to date) before this one is created or updated,
    /// and that this one must be deleted before. Explicit `depends_on` and implicit references.
    pub depends_on: BTreeSet<Address>,
    /// Replacement creates the new object before deleting the old one (versioned secrets and
    /// configs: the old version is removed once nothing uses it).
    pub create_before_destroy: bool,
}

impl Resource {
    /// The name Docker knows the object by: its Docker name, else its address's name.
    pub fn live_name(&self) -> &str {
        self.docker_name.as_deref().unwrap_or(&self.address.name)
    }

    pub fn new(address: Address) -> Resource {
        Resource {
            address,
            host: None,
            docker_name: None,
            attributes: BTreeMap::new(),
            depends_on: BTreeSet::new(),
            create_before_destroy: false,
        }
    }

    /// Adds an attribute; a null value (an optional setting left out) is not recorded, so
    /// plans and state show only what was set.
    /// The content behind an attribute, for the executor.
    pub fn payload(&self, name: &str) -> Option<&[u8]> {
        self.attributes
            .get(name)
            .and_then(|attribute| attribute.payload.as_ref())
            .map(Payload::bytes)
    }

    pub fn attribute(mut self, name: &str, attribute: Attribute) -> Resource {
        if !attribute.value.is_null() {
            self.attributes.insert(name.to_owned(), attribute);
        }
        self
    }
}
