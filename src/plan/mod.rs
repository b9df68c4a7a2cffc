//! Plans as data, the planner that computes them, and the graph that orders them.

mod model;
pub mod planner;

pub use model::{Action, AttributeChange, Change, Mode, Plan, StateRef, Step, Summary, Warning};
