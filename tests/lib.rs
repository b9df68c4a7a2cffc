//! The integration suite: every test runs the real `swarmform` binary.

mod test;

mod validate;
mod scratch;
