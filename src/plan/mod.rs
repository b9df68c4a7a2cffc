//! Plans as data, the planner that computes them, and the graph that orders them.

pub mod graph;
mod model;
pub mod planner;
pub mod saved;
#[cfg(test)]
mod tests;

pub use model::{Action, AttributeChange, Change, Mode, Plan, StateRef, Step, Summary, Warning};
