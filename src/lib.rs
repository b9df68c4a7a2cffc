//! swarmform: a Terraform-style provisioner for Docker Swarm clusters over SSH.
//!
//! The stages, in order: `config` loads and validates `swarmform.toml` into desired
//! [`resource::Resource`]s; `state` holds what was last applied; `plan` compares the two into a
//! [`plan::Plan`] and orders it as a graph; `ui` renders plans; `run` wires the commands.

pub mod address;
pub mod apply;
pub mod builtin;
pub mod change;
pub mod cli;
pub mod config;
pub mod error;
pub mod hash;
pub mod image;
pub mod lab;
pub mod operate;
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

pub use run::run;
