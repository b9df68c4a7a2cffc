//! The integration suite: every test runs the real `swarmform` binary.

mod cluster;
mod test;

mod apply;
mod cli;
mod crash;
mod discovery;
mod examples;
mod facts;
mod image;
mod init;
mod ownership;
mod plan;
mod stacks;
mod state;
mod validate;
mod waits;
