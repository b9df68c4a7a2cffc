//! The integration suite: every test runs the real `swarmform` binary, except `ssh`, which drives
//! the transport through the library against an in-process SSH server.

mod support;

mod anchors;
mod apply;
mod architecture;
mod budget;
mod cli;
mod crash;
mod discovery;
mod examples;
mod facts;
mod formats;
mod fuzz;
mod hostile;
mod image;
mod init;
mod injection;
mod inputs;
mod ownership;
mod plan;
mod redaction;
mod ssh;
mod stacks;
mod state;
mod validate;
mod waits;
