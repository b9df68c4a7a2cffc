//! One vertex's work, handed to its kind by the executor: the change, the steps of this phase,
//! the desired resource with its payloads and what the state recorded. A step works from this
//! value alone; it never looks a resource up by address in the config or the state.

use std::sync::Mutex;

use serde_json::Value;

use crate::address::Address;
use crate::change::{self, Action, AttributeChange, Phase};
use crate::resource::Resource;
use crate::state::ResourceState;

use super::{Step, StepError};

#[derive(Debug)]
pub struct Work {
    pub address: Address,
    pub action: Action,
    /// Which half of the change this vertex carries out.
    pub phase: Phase,
    /// The host the change runs on, when it is host-scoped.
    pub host: Option<String>,
    pub attributes: Vec<AttributeChange>,
    pub create_before_destroy: bool,
    /// The steps of this phase, in order.
    pub steps: Vec<Step>,
    /// The resource as the config wants it, with its payloads (file contents, secret contents,
    /// the unredacted rendered texts); `None` when the config no longer holds it.
    pub desired: Option<Resource>,
    /// What the state recorded for the resource when the vertex started.
    pub recorded: Option<ResourceState>,
    /// The state's record of the node on the change's host: a dockerd restart drains that node
    /// and, for a manager, waits for its swarm.
    pub node: Option<ResourceState>,
    /// The resource's Docker id once known: recorded, or read during this vertex (a node's id
    /// read before `swarm leave`, for the `node rm` after it, when the host can no longer tell).
    remote_id: Mutex<Option<String>>,
}

impl Work {
    #[expect(
        clippy::too_many_arguments,
        reason = "the executor's one constructor, naming every part of the vertex"
    )]
    pub fn new(
        address: Address,
        action: Action,
        phase: Phase,
        host: Option<String>,
        attributes: Vec<AttributeChange>,
        create_before_destroy: bool,
        steps: Vec<Step>,
        desired: Option<Resource>,
        recorded: Option<ResourceState>,
        node: Option<ResourceState>,
    ) -> Work {
        let remote_id = recorded
            .as_ref()
            .and_then(|record| record.remote_id.clone());
        Work {
            address,
            action,
            phase,
            host,
            attributes,
            create_before_destroy,
            steps,
            desired,
            recorded,
            node,
            remote_id: Mutex::new(remote_id),
        }
    }

    /// An attribute's value before the change.
    pub fn before(&self, name: &str) -> Option<&Value> {
        change::before(&self.attributes, name)
    }

    /// An attribute's value after the change.
    pub fn after(&self, name: &str) -> Option<&Value> {
        change::after(&self.attributes, name)
    }

    /// The value a step works with: the new one, or the recorded one for a deletion.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.after(name).or_else(|| self.before(name))
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.value(name).and_then(Value::as_str).map(str::to_owned)
    }

    /// The host the change runs on (empty for a change that is not host-scoped).
    pub fn host_name(&self) -> String {
        self.host.clone().unwrap_or_default()
    }

    /// The desired resource a step works from; gone from the config since the plan was made,
    /// the step is refused.
    #[expect(
        clippy::result_large_err,
        reason = "the steps' own error type, which every step returns; only built on refusal"
    )]
    pub fn configured(&self) -> Result<&Resource, StepError> {
        self.desired.as_ref().ok_or_else(|| {
            StepError::Refused(format!(
                "`{}` is no longer in the config; plan again",
                self.address
            ))
        })
    }

    /// A payload of the desired resource (a file's content, a secret, the unredacted compose).
    pub fn payload(&self, name: &str) -> Option<&[u8]> {
        self.desired
            .as_ref()
            .and_then(|resource| resource.payload(name))
    }

    /// Docker's name for the object: the config's, else the address name.
    pub fn docker_name(&self) -> String {
        self.desired
            .as_ref()
            .and_then(|resource| resource.docker_name.clone())
            .unwrap_or_else(|| self.address.name.clone())
    }

    /// The Docker id known so far (recorded, or read during this vertex).
    pub fn remote_id(&self) -> Option<String> {
        self.remote_id.lock().ok().and_then(|id| id.clone())
    }

    /// Keeps an id read during the vertex for the rest of it.
    pub fn keep_remote_id(&self, id: &str) {
        if let Ok(mut known) = self.remote_id.lock() {
            *known = Some(id.to_owned());
        }
    }
}
