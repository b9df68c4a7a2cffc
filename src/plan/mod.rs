//! Plans as data, the planner that computes them, and the graph that orders them.

pub mod graph;
mod model;
pub mod planner;
mod preflight;
pub mod saved;
#[cfg(test)]
mod tests;

pub use model::{
    Action, AttributeChange, Change, HostAddress, HostFacts, ManagerCount, Mode, Plan, StateRef,
    Step, Stray, Summary, SwarmState, Unlabelled, Warning,
};
