//! What `swarmform lab` can fail with. Each error names the command that failed and says what to
//! do next; all the wording lives here.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "the Docker engine does not answer: `docker info` failed: {stderr}\nhint: run `.ci/lab-setup` (as root): it installs Debian's docker.io, mmdebstrap and iptables and starts dockerd"
    )]
    EngineDown { stderr: String },

    #[error("cannot run `{command}`{}", if source.kind() == std::io::ErrorKind::NotFound { "\nhint: it is not installed; `.ci/lab-setup` installs what the lab needs" } else { "" })]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}){}{}", detail(stderr), hint.as_ref().map(|hint| format!("\nhint: {hint}")).unwrap_or_default())]
    Failed {
        command: String,
        status: String,
        stderr: String,
        hint: Option<String>,
    },

    #[error("cannot {operation} `{}`", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the node image `{image}` cannot be built: {}\nhint: run `.ci/lab-setup`, or `apt-get install mmdebstrap`",
        if *suite == "bookworm" { "neither mmdebstrap nor debootstrap is installed, and `debian:bookworm` is not a local image" } else { "a Debian trixie image is built with mmdebstrap, which is not installed" }
    )]
    NoBootstrapTool { image: String, suite: &'static str },

    #[error(
        "`--docker {text}`: {reason}\nhint: `--docker 20` (Debian 12's docker.io 20.10), `--docker 26` (Debian 13's 26.1) or `--docker 28` (Debian 13 with sid's docker.io 28.5) for every node, or `--docker NODE=VERSION` for one (repeat it); nodes: {nodes}"
    )]
    DockerVersion {
        text: String,
        reason: String,
        nodes: String,
    },

    #[error("`{text}` is not an IPv4 subnet (like `172.30.0.0/24`)")]
    Subnet { text: String },

    #[error(
        "{count} nodes do not fit in `{subnet}`: node addresses start at .11\nhint: ask for fewer nodes, or a larger `--subnet`"
    )]
    TooManyNodes { count: usize, subnet: String },

    #[error("a lab needs at least one manager\nhint: `--managers 1` (the default)")]
    NoManager,

    #[error(
        "`{node}` did not become ready within {}s: {last}\nhint: `docker logs {node}` shows its boot; `docker exec {node} systemctl --failed` its failed units",
        waited.as_secs()
    )]
    NotReady {
        node: String,
        waited: Duration,
        last: String,
    },

    #[error("`{node}` has no SSH host key: `{command}` printed `{output}`")]
    HostKey {
        node: String,
        command: String,
        output: String,
    },

    #[error("no lab node is running\nhint: `swarmform lab up` starts one")]
    NoLab,

    #[error(
        "no lab node runs Docker, so nothing was loaded\nhint: bare nodes get Docker from `swarmform apply` (`[engine] install = \"if-missing\"`); load the images after that"
    )]
    NoDockerNode,
}

impl LabError {
    /// A failed command's error with what to do next; other errors are returned as they are.
    pub(crate) fn with_hint(self, text: &str) -> LabError {
        match self {
            LabError::Failed {
                command,
                status,
                stderr,
                hint: _,
            } => LabError::Failed {
                command,
                status,
                stderr,
                hint: Some(text.to_owned()),
            },
            other => other,
        }
    }
}

/// The last lines of a failed command's stderr, indented under the message.
fn detail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim().lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(15);
    let mut text = String::from(":");
    for line in &lines[start..] {
        text.push_str("\n    ");
        text.push_str(line);
    }
    text
}
