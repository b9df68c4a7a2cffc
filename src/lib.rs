//! swarmform: a Terraform-style provisioner for Docker Swarm clusters over SSH.
//!
//! The stages, in order: `config` loads and validates `swarmform.toml` into desired
//! [`resource::Resource`]s; `state` holds what was last applied; `plan` compares the two into a
//! [`plan::Plan`] and orders it as a graph; `ui` renders plans and prints; `commands` holds one
//! file per command, and `run` parses the command line, dispatches and prints the error once.

pub mod address;
pub mod apply;
pub mod builtin;
pub mod change;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod config;
pub mod hash;
pub mod lab;
pub mod plan;
pub mod redact;
pub mod report;
pub mod resource;
pub mod run;
pub mod service;
pub mod ssh;
pub mod state;
pub mod swarm;
pub mod tls;
pub mod ui;
pub mod yaml;

pub use run::run;
