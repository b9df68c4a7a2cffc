//! Rendering: plans as text, JSON and markdown. Renderers return strings; the commands print
//! them through the [`Printer`], which also renders errors.

mod attributes;
mod color;
mod diff;
#[cfg(test)]
mod fixture;
mod json;
mod markdown;
mod printer;
mod text;

pub use json::plan_json;
pub use markdown::plan_markdown;
pub use printer::{Printer, render};
pub use text::plan_text;
mod state;

pub use state::{resource_text, state_json};
pub mod progress;
