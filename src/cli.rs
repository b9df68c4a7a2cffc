//! The command line. Doc comments here are the `--help` text. Values are parsed into their
//! types here (durations, addresses, roles, tarball sources); a value clap refuses with one of
//! our own errors ([`DurationError`], [`crate::address::AddressError`]) is reported in our words
//! by the command layer.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::address::{Address, Target};

/// swarmform builds, changes and tears down Docker Swarm clusters over SSH, from one TOML file.
///
/// `validate` checks the config; `plan` shows, for review, what would change on the cluster and
/// in which order.
#[derive(Debug, Parser)]
#[command(name = "swarmform", version, max_term_width = 100)]
pub struct Cli {
    /// The config file.
    #[arg(
        short,
        long,
        global = true,
        env = "SWARMFORM_CONFIG",
        default_value = "swarmform.toml"
    )]
    pub config: PathBuf,

    /// The state file [default: swarmform.state.json beside the config].
    #[arg(long, global = true, env = "SWARMFORM_STATE")]
    pub state: Option<PathBuf>,

    /// Never colour output (NO_COLOR is obeyed too).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config.
    Init(InitArgs),
    /// Check the config: syntax, references, names, templates, compose files.
    Validate(VarArgs),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Apply the plan (or a saved plan) to the cluster over SSH.
    Apply(ApplyArgs),
    /// Take everything in the state apart, in the decommission order.
    Destroy(ApplyArgs),
    /// Read the live cluster and update the state to match it.
    Refresh(RefreshArgs),
    /// Run a command on selected hosts in parallel; output grouped per host.
    Exec(ExecArgs),
    /// Print the plan's dependency graph in Graphviz DOT.
    Graph(GraphArgs),
    /// Show a saved plan, or the state when no plan file is given.
    Show(ShowArgs),
    /// Inspect or edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Release a state lock left by a process that is gone; a holder still running on this
    /// host is refused unless `--force`.
    ForceUnlock(ForceUnlockArgs),
    /// A local lab cluster: containers that behave like hosts (systemd, sshd, dockerd).
    #[command(subcommand)]
    Lab(LabCommand),
    /// Images: push one to the cluster's registry, or load a tarball onto hosts over SSH.
    #[command(subcommand)]
    Image(ImageCommand),
}

impl Command {
    /// The variables the command evaluates the config with, for those that read it.
    pub fn vars(&self) -> Option<&VarArgs> {
        match self {
            Command::Validate(vars) => Some(vars),
            Command::Plan(args) => Some(&args.vars),
            Command::Apply(args) | Command::Destroy(args) => Some(&args.vars),
            Command::Refresh(args) => Some(&args.vars),
            Command::Exec(args) => Some(&args.vars),
            Command::Graph(args) => Some(&args.vars),
            Command::Image(ImageCommand::Load(args)) => Some(&args.vars),
            Command::Image(ImageCommand::Push(args)) => Some(&args.vars),
            Command::Init(_)
            | Command::Show(_)
            | Command::State(_)
            | Command::ForceUnlock(_)
            | Command::Lab(_) => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing config.
    #[arg(long)]
    pub force: bool,
}

/// Where variable values come from, lowest precedence first: defaults,
/// `SWARMFORM_VAR_NAME` environment variables, `--var-file`, `--var`.
#[derive(Debug, Args, Default, Clone)]
pub struct VarArgs {
    /// Set a variable: `--var tag=1.2`. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a TOML file of `name = value` lines. Repeatable.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// Read the live cluster before planning. `--refresh=false` plans from the state file alone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,

    /// Print the plan as JSON (schema: docs/plan-json.md).
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,

    /// Print the plan as markdown, for a pull-request comment.
    #[arg(long)]
    pub markdown: bool,

    /// Save the plan for `apply`; refused later if the state changed meanwhile. Also `-out`.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Plan the destruction of everything in the state.
    #[arg(long)]
    pub destroy: bool,

    /// Plan only this address and what it needs (`stack.web`, `module.edge`, `file.ca[node1]`).
    /// Repeatable.
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<Target>,

    /// Accept a plan that loses Raft quorum or removes the last manager.
    #[arg(long)]
    pub allow_quorum_loss: bool,

    /// How long to wait for the state lock (`0s`: fail at once).
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan -out FILE`: applied exactly, without asking, or refused if the
    /// state or the config changed since it was made.
    pub plan_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub vars: VarArgs,

    /// Do not ask for `yes` before applying.
    #[arg(long)]
    pub auto_approve: bool,

    /// How many steps run at once (at most one mutating step per host at a time).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,

    /// Read the live cluster before planning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,

    /// Apply only this address and what it needs. Repeatable.
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<Target>,

    /// Accept a plan that loses Raft quorum or removes the last manager.
    #[arg(long)]
    pub allow_quorum_loss: bool,

    /// How long to wait for the state lock.
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// How long to wait for the state lock.
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// Only these hosts (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub hosts: Vec<String>,

    /// Only hosts of this role.
    #[arg(long, value_enum)]
    pub role: Option<HostRole>,

    /// How many hosts at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,

    /// The command and its arguments, each passed as one word: `-- docker ps`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Load a `docker save` tarball onto hosts: streamed over SSH into `docker load` on each,
    /// for clusters without a registry. Progress per host on stderr.
    Load(ImageLoadArgs),
    /// Push a local image to the cluster's hosted registry: `docker save` here, `docker load`,
    /// `docker tag` and `docker push` on the registry's node (whose dockerd trusts it). Prints
    /// the pushed reference on stdout.
    Push(ImagePushArgs),
}

#[derive(Debug, Args)]
pub struct ImageLoadArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// The tarball (`docker save -o FILE IMAGE`), or `-` for standard input.
    #[arg(value_name = "TARBALL")]
    pub tarball: Tarball,

    /// Only these hosts (comma-separated names) [default: every host].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub hosts: Vec<String>,

    /// Only hosts of this role.
    #[arg(long, value_enum)]
    pub role: Option<HostRole>,

    /// How many hosts at once (with `-`, every chosen host at once).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

#[derive(Debug, Args)]
pub struct ImagePushArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// A local image (`local/app:1`; `:latest` when untagged), or the path of a `docker save`
    /// tarball (then every tag it holds is pushed and no local docker is needed).
    #[arg(value_name = "IMAGE|TARBALL")]
    pub image: String,

    /// The `[registries.NAME]` to push to (one with `node`); optional when there is only one.
    #[arg(long, value_name = "NAME")]
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub vars: VarArgs,

    /// The graph of a destroy plan.
    #[arg(long)]
    pub destroy: bool,

    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<Target>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `plan -out FILE`.
    pub plan_file: Option<PathBuf>,

    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in the state.
    List,
    /// Show one resource's recorded attributes.
    Show { address: Address },
    /// Forget resources without touching any host (they are no longer managed).
    Rm {
        #[arg(required = true)]
        addresses: Vec<Address>,
        /// How long to wait for the state lock.
        #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
        lock_timeout: Duration,
    },
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id, as the lock error printed it.
    pub id: String,
    /// Release the lock even though the process holding it still runs on this host.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Bring the lab up, or back to the asked shape: node image, SSH key, network, nodes, and
    /// the hosts file `DIR/lab.toml` for a config to include.
    Up(LabUpArgs),
    /// List the lab's nodes: address, role, container, systemd and Docker state.
    Status(LabDirArgs),
    /// Load local images or image tarballs into every lab node that runs Docker.
    Load(LabLoadArgs),
    /// Remove the lab's containers, their volumes, its network and its folder.
    Down(LabDownArgs),
}

#[derive(Debug, Args, Clone)]
pub struct LabDirArgs {
    /// The lab's folder: its SSH key, known_hosts and lab.toml.
    #[arg(long, default_value = ".swarmform-lab", value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// How many manager nodes (`lab-manager1`, … from address .11).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub managers: usize,

    /// How many worker nodes (`lab-worker1`, … after the managers).
    #[arg(long, default_value_t = 2, value_name = "M")]
    pub workers: usize,

    /// Nodes without Docker, so swarmform installs it (`[engine] install = "if-missing"`).
    #[arg(long, conflicts_with = "docker")]
    pub bare: bool,

    /// The Docker the nodes run: `20` (Debian 12's docker.io 20.10, the default), `26`
    /// (Debian 13's 26.1) or `28` (Debian 13 with sid's docker.io 28.5); `NODE=VERSION` for
    /// one node (repeat it), so a cluster can mix versions: `--docker 28 --docker
    /// lab-worker2=20`.
    #[arg(long, value_name = "VERSION|NODE=VERSION")]
    pub docker: Vec<String>,

    /// The lab network's subnet; nodes get .11, .12, …
    #[arg(long, default_value = "172.30.0.0/24", value_name = "CIDR")]
    pub subnet: String,
}

#[derive(Debug, Args)]
pub struct LabLoadArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// Local images, like `local/busybox:1`, or image tarballs (`docker save` output).
    #[arg(required = true, value_name = "IMAGE|TARBALL")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LabDownArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// Remove the images the lab built too (the node images, `local/busybox:1` and
    /// `local/registry:2`).
    #[arg(long)]
    pub images: bool,
}

/// Terraform spells it `-out FILE` and `-out=FILE`; clap reads single-dash long flags as
/// bundles of short ones, so those spellings are rewritten to `--out`.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|arg| match arg.to_str() {
            Some("-out") => "--out".into(),
            Some(text) if text.starts_with("-out=") => format!("-{text}").into(),
            _ => arg,
        })
        .collect()
}

/// `--lock-timeout`: `30s`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    crate::config::check::parse_duration(text).ok_or_else(|| DurationError {
        text: text.to_owned(),
    })
}

/// A command-line duration that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration\nhint: write durations like `30s`, `2m` or `1h`")]
pub struct DurationError {
    pub text: String,
}

/// `--role`: which hosts a command selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostRole {
    Manager,
    Worker,
}

/// Where `image load` reads the tarball: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tarball {
    File(PathBuf),
    Stdin,
}

impl FromStr for Tarball {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Tarball, Self::Err> {
        Ok(if text == "-" {
            Tarball::Stdin
        } else {
            Tarball::File(PathBuf::from(text))
        })
    }
}

/// As it was given on the command line.
impl fmt::Display for Tarball {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tarball::File(path) => write!(f, "{}", path.display()),
            Tarball::Stdin => f.write_str("-"),
        }
    }
}
