//! `swarmform.toml`: the model, loading with spans, modules, templates and validation.

pub mod check;
pub mod desired;
pub mod load;
pub mod model;
pub mod source;
pub mod template;
