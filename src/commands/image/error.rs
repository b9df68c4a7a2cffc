//! What `image load` and `image push` can fail with, besides the config and state errors every
//! command can.

use std::path::PathBuf;

use crate::ssh::{SshError, StreamError};

/// What `image load` and `image push` can fail with. Wording lives here; Docker's own message
/// is quoted as it came.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("unknown host{} {}\nhint: declared hosts: {declared}", if names.len() == 1 { "" } else { "s" }, quoted(names))]
    UnknownHosts {
        names: Vec<String>,
        declared: String,
    },

    #[error("cannot read `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the config declares no hosted registry\nhint: add a `[registries.NAME]` with `node = \"HOST\"`, apply it, then push; without a registry, `swarmform image load` puts a tarball on the hosts"
    )]
    NoRegistry,

    #[error(
        "the config declares several hosted registries: {}\nhint: choose one with `--registry NAME`",
        quoted(names)
    )]
    WhichRegistry { names: Vec<String> },

    #[error(
        "no hosted registry `{name}` in the config\nhint: hosted registries: {}",
        quoted(names)
    )]
    UnknownRegistry { name: String, names: Vec<String> },

    #[error(
        "`{address}` is not deployed yet (the state does not record it)\nhint: run `swarmform apply` first; it starts the registry on `{node}`"
    )]
    NotDeployed { address: String, node: String },

    #[error(
        "`{image}` names an image by digest; push takes a tag\nhint: tag it locally (`docker tag IMAGE NAME:TAG`) and push the tag"
    )]
    Digest { image: String },

    #[error(
        "cannot run the local `docker` client\nhint: install it, or pass the path of a `docker save` tarball instead of an image name"
    )]
    NoDocker(#[source] std::io::Error),

    #[error(
        "`{image}` is not a local image: {message}\nhint: build or pull it here first, or pass the path of a `docker save` tarball"
    )]
    NoLocalImage { image: String, message: String },

    #[error("`docker save {image}` failed: {message}")]
    Save { image: String, message: String },

    #[error(
        "the tarball holds no tagged image (`docker load` on `{host}` said: {said})\nhint: save a tag (`docker save -o FILE NAME:TAG`), not an image ID"
    )]
    Untagged { host: String, said: String },

    #[error("`docker load` of `{image}` did not report it on `{host}` (it said: {said})")]
    NotLoaded {
        image: String,
        host: String,
        said: String,
    },

    #[error("`{what}` failed on `{host}`: {message}{}", hint.as_ref().map(|hint| format!("\nhint: {hint}")).unwrap_or_default())]
    Remote {
        host: String,
        what: String,
        message: String,
        hint: Option<String>,
    },

    /// Boxed, like the other SSH-carrying variants: every `Result` stays small.
    #[error(transparent)]
    Ssh(Box<SshError>),

    #[error("sending the image to `{host}` failed")]
    Transfer {
        host: String,
        #[source]
        source: Box<StreamError>,
    },

    #[error("{}", if failed == total { format!("no host loaded `{tarball}`") } else { format!("{failed} of {total} hosts did not load `{tarball}`; the others did") })]
    LoadFailed {
        failed: usize,
        total: usize,
        tarball: String,
    },
}

impl From<SshError> for ImageError {
    fn from(error: SshError) -> ImageError {
        ImageError::Ssh(Box::new(error))
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
