//! Plans as data, the planner that computes them, and the graph that orders them.

mod model;
pub mod graph;
pub mod planner;
pub mod saved;

pub use model::{Action, AttributeChange, Change, Mode, Plan, StateRef, Step, Summary, Warning};
