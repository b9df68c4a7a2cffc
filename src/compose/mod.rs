//! Compose files as `docker stack deploy` reads them, resolved on this machine before anything
//! is sent: variables interpolated with Docker's rules (`interpolate`), several files for one
//! stack merged with the compose override rules (`merge`).

pub mod interpolate;
pub mod merge;
