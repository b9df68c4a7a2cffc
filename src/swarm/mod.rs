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
mod file;
mod node;
mod object;
pub mod ownership;
mod primitive;
mod proposal;
pub mod refresh;
mod registry;
pub mod stack;
mod unlock;
mod work;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use context::{Context, NewUnlockKey, Outcome, scrub_swarm_secrets};
pub use error::StepError;
pub use facts::SwarmInfo;
pub use proposal::Proposal;
pub use work::Work;

use context::*;
use node::*;

use crate::address::Kind;
use crate::change::Action;
use crate::change::{Phase, Vertex};

pub use cluster::SwarmStep;
pub use engine::EngineStep;
pub use node::NodeStep;
pub use object::{ObjectKind, ObjectStep};
pub use primitive::PrimitiveStep;
pub use registry::RegistryStep;
pub use stack::StackStep;
pub use stack::health::HealthStep;

/// What every kind's step type says about itself; the table below dispatches to it.
pub trait KindStep: Serialize + DeserializeOwned + Into<Step> {
    /// The `"step"` tags of its variants, as the plan JSON and saved plans spell them.
    const TAGS: &'static [&'static str];
    /// The step in words, for plan text and progress.
    fn describe(&self) -> String;
    /// Whether the step belongs to the destroy half of a replacement (`Phase::Destroy`).
    fn destroys(&self) -> bool {
        false
    }
}

/// The table of kinds: one line per provider and its step type. It generates [`Step`] (one
/// operation of a change, serialized as the kind's own `{"step": TAG, ...}`), its dispatch to
/// the kind's `describe`, phase and `run`, and its conversions.
macro_rules! kinds {
    ($($variant:ident($($path:ident)::+)),* $(,)?) => {
        /// One operation of a change, owned by the kind that emits it. The executor runs it
        /// through its kind; the plan prints it in words.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        pub enum Step {
            $($variant($($path)::+),)*
        }

        $(impl From<$($path)::+> for Step {
            fn from(step: $($path)::+) -> Step {
                Step::$variant(step)
            }
        })*

        impl Step {
            /// The step in words, for plan text.
            pub fn describe(&self) -> String {
                match self {
                    $(Step::$variant(step) => step.describe(),)*
                }
            }

            /// The half of a replacement the step belongs to.
            pub fn phase(&self) -> Phase {
                let destroys = match self {
                    $(Step::$variant(step) => step.destroys(),)*
                };
                if destroys { Phase::Destroy } else { Phase::Apply }
            }

            /// Runs the step through its kind; returns a Docker id when it created an object.
            async fn run(&self, context: &Context, work: &Work) -> Result<Option<String>, StepError> {
                match self {
                    $(Step::$variant(step) => step.run(context, work).await,)*
                }
            }
        }

        impl<'de> Deserialize<'de> for Step {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Step, D::Error> {
                use serde::de::Error;
                let value = Value::deserialize(deserializer)?;
                let tag = value
                    .get("step")
                    .and_then(Value::as_str)
                    .ok_or_else(|| D::Error::missing_field("step"))?
                    .to_owned();
                $(if <$($path)::+ as KindStep>::TAGS.contains(&tag.as_str()) {
                    return <$($path)::+>::deserialize(value).map(Step::$variant).map_err(D::Error::custom);
                })*
                Err(D::Error::custom(format!("unknown step `{tag}`")))
            }
        }
    };
}

kinds! {
    Primitive(primitive::PrimitiveStep),
    Engine(engine::EngineStep),
    Swarm(cluster::SwarmStep),
    Node(node::NodeStep),
    Object(object::ObjectStep),
    Registry(registry::RegistryStep),
    Stack(stack::StackStep),
    Health(stack::health::HealthStep),
}

/// The order in which the kinds go when the swarm itself is destroyed: each group before the
/// next, the last (the nodes) before the last manager's `swarm leave --force`.
pub const TEARDOWN: &[&[Kind]] = &[
    &[Kind::Stack],
    &[Kind::Registry],
    &[Kind::Network, Kind::Secret, Kind::Config],
    &[Kind::Node],
];

/// What a change takes, asked of its kind (pure: the planner calls it).
pub fn steps(change: &Proposal) -> Vec<Step> {
    match change.address.kind {
        Kind::Engine => engine::steps(change),
        Kind::File => file::steps(change),
        Kind::Daemon => daemon::steps(change),
        Kind::Swarm => cluster::steps(change),
        Kind::Node => node::steps(change),
        Kind::Network | Kind::Secret | Kind::Config => object::steps(change),
        Kind::Registry => registry::steps(change),
        Kind::Stack => stack::steps(change),
    }
}

/// What removing a resource of a host that cannot be reached takes: a node is removed from a
/// surviving manager; anything else is only forgotten.
pub fn unreachable_steps(change: &Proposal) -> Vec<Step> {
    match change.address.kind {
        Kind::Node => node::unreachable_steps(change),
        _ => vec![
            PrimitiveStep::Forget {
                why: format!("`{}` cannot be reached", change.host.unwrap_or_default()),
            }
            .into(),
        ],
    }
}

/// Carries out one vertex: its work's steps, each through its kind.
pub async fn carry_out(
    context: &Context,
    vertex: &Vertex,
    work: &Work,
) -> Result<Outcome, StepError> {
    let steps = &work.steps;
    let mut remote_id = None;
    if work.address.kind == Kind::Node
        && steps.iter().any(|step| {
            matches!(
                step,
                Step::Node(
                    NodeStep::Drain { .. } | NodeStep::Demote { .. } | NodeStep::NodeRm { .. }
                )
            )
        })
    {
        // The node's id, read while its host is still in the swarm: `node rm` runs after it
        // left, when the host can no longer say which node it was.
        remember_node_id(context, work).await?;
    }
    let mut index = 0;
    while index < steps.len() {
        // Files written in a row, and the restart after them, take one round trip.
        let batch = primitive::batch_len(&steps[index..]);
        if batch > 0 {
            for step in &steps[index..index + batch] {
                context.reporter.step(vertex, &step.describe());
            }
            primitive::write_files(context, work, &steps[index..index + batch]).await?;
            index += batch;
            continue;
        }
        let step = &steps[index];
        context.reporter.step(vertex, &step.describe());
        if let Some(id) = step.run(context, work).await? {
            remote_id = Some(id);
        }
        index += 1;
    }
    if work.address.kind == Kind::Node
        && remote_id.is_none()
        && work.remote_id().is_none()
        && matches!(work.action, Action::Create | Action::Replace)
        && vertex.phase != Phase::Destroy
        && let Some(host) = &work.host
    {
        // The bootstrap manager has no join to tell its id: the host's own (its init's answer).
        let info = facts::membership(context, host).await?;
        if !info.node_id.is_empty() {
            remote_id = Some(info.node_id);
        }
    }
    Ok(match (work.action, vertex.phase) {
        (Action::Delete, _) => Outcome::Removed,
        (Action::Replace, Phase::Destroy) if work.create_before_destroy => Outcome::Unchanged,
        (Action::Replace, Phase::Destroy) => Outcome::Removed,
        _ => Outcome::Created {
            remote_id: remote_id.or_else(|| work.remote_id()),
        },
    })
}

/// The steps of a change that belong to `phase`: a replacement's split into its destroy half
/// and its create half, every other change's all.
pub fn phase_steps(action: Action, steps: &[Step], phase: Phase) -> Vec<Step> {
    if action != Action::Replace {
        return steps.to_vec();
    }
    steps
        .iter()
        .filter(|step| step.phase() == phase)
        .cloned()
        .collect()
}
