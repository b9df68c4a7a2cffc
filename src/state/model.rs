//! The state file's content: what swarmform last applied, per resource.
//!
//! Versioned JSON. Resources are sorted by address so the file diffs cleanly. Sensitive
//! attributes hold `sha256:<hex>` hashes only; the file never contains a secret.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;
use crate::resource::Resource;

/// The state format this build reads and writes. A file with a higher number is refused.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Always [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Incremented on every write. A saved plan records it and is refused once it moved.
    pub serial: u64,
    /// A UUID fixed when the state is first created; it identifies one cluster's history, so a
    /// plan made against another state file is refused even when serials happen to match.
    pub lineage: String,
    /// The swarmform version that last wrote the file.
    pub swarmform_version: String,
    /// Sorted by address, no duplicates.
    pub resources: Vec<ResourceState>,
    /// Host keys seen per host name (recorded under `accept-new`, checked under `strict`).
    #[serde(default)]
    pub host_keys: BTreeMap<String, Vec<HostKey>>,
}

impl State {
    /// The hosts of the managers this state records, ghost entries left out: who may drive the
    /// swarm or tell about it.
    pub fn manager_hosts(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter(|resource| resource.is_manager() && !resource.is_ghost())
            .map(|resource| resource.address.name.clone())
            .collect()
    }

    /// An empty state with a fresh lineage, serial 0.
    pub fn new() -> State {
        State {
            format_version: FORMAT_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            swarmform_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: Vec::new(),
            host_keys: BTreeMap::new(),
        }
    }

    pub fn resource(&self, address: &Address) -> Option<&ResourceState> {
        self.resources
            .binary_search_by(|resource| resource.address.cmp(address))
            .ok()
            .map(|index| &self.resources[index])
    }

    pub fn resource_mut(&mut self, address: &Address) -> Option<&mut ResourceState> {
        self.resources
            .binary_search_by(|resource| resource.address.cmp(address))
            .ok()
            .map(|index| &mut self.resources[index])
    }

    /// Inserts or replaces the resource at its address, keeping the list sorted.
    pub fn upsert(&mut self, resource: ResourceState) {
        match self
            .resources
            .binary_search_by(|existing| existing.address.cmp(&resource.address))
        {
            Ok(index) => self.resources[index] = resource,
            Err(index) => self.resources.insert(index, resource),
        }
    }

    /// Removes the resource at `address`, returning it.
    pub fn remove(&mut self, address: &Address) -> Option<ResourceState> {
        self.resources
            .binary_search_by(|resource| resource.address.cmp(address))
            .ok()
            .map(|index| self.resources.remove(index))
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

/// One resource as last applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_name: Option<String>,
    /// The Docker id of the object (node id, network id, secret id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// Attribute values as applied; sensitive ones are `sha256:<hex>`.
    pub attributes: BTreeMap<String, Value>,
    /// Names of the attributes that are sensitive (shown as `(sensitive)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// What it depended on when applied: destroy order comes from here once the config no
    /// longer mentions the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// Written just before the resource is created: if the run dies before it is recorded as
    /// created, the next plan creates it again and the executor adopts what already exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// The attribute that marks a ghost node entry: an entry of the swarm's node list that no
/// configured host answers for, recorded by the refresh so the plan removes it. Its value says
/// whose entry it was.
pub const GHOST: &str = "ghost_of";

/// The labels swarmform puts on what it creates: the resource's address, and the lineage of
/// the state that records it. Keys with this prefix are swarmform's.
pub const LABEL_PREFIX: &str = "swarmform.";
pub const ADDRESS_LABEL: &str = "swarmform.address";
pub const LINEAGE_LABEL: &str = "swarmform.lineage";

impl ResourceState {
    /// The name Docker knows the object by: its recorded Docker name, else its address's name.
    pub fn live_name(&self) -> &str {
        self.docker_name.as_deref().unwrap_or(&self.address.name)
    }

    /// Whether this records a node whose role is manager (ghost entries included).
    pub fn is_manager(&self) -> bool {
        self.address.kind == crate::address::Kind::Node
            && self.attributes.get("role").and_then(Value::as_str) == Some("manager")
    }

    /// Whether this is a ghost node entry (see [`GHOST`]).
    pub fn is_ghost(&self) -> bool {
        self.address.kind == crate::address::Kind::Node && self.attributes.contains_key(GHOST)
    }

    /// The state entry recording `resource` as applied.
    pub fn from_resource(resource: &Resource, remote_id: Option<String>) -> ResourceState {
        ResourceState {
            address: resource.address.clone(),
            host: resource.host.clone(),
            docker_name: resource.docker_name.clone(),
            remote_id,
            attributes: resource
                .attributes
                .iter()
                .map(|(name, attribute)| (name.clone(), attribute.value.clone()))
                .collect(),
            sensitive: resource
                .attributes
                .iter()
                .filter(|(_, attribute)| attribute.sensitive)
                .map(|(name, _)| name.clone())
                .collect(),
            depends_on: resource.depends_on.iter().cloned().collect(),
            pending: false,
        }
    }
}

/// A host key, as known_hosts would record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...
    pub algorithm: String,
    /// `SHA256:<base64>`, as OpenSSH prints it.
    pub fingerprint: String,
}
