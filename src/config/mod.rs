//! `swarmform.toml`: the model, loading with spans, modules, templates and validation.
