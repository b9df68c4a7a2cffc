//! The TOML model of `swarmform.toml`, as written. Every table refuses unknown keys, and every
//! value a later check may complain about is `Spanned`, so errors point at it.
//!
//! The same [`ConfigFile`] shape is read from the root file, from included files (which may
//! only declare `[ssh]` and `[hosts]`) and from a module's `module.toml` (which may only declare
//! `[inputs]` and workloads); `load` enforces which sections each may use.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

pub type Name = Spanned<String>;
pub type Table<T> = IndexMap<Name, T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Other files whose `[ssh]` and `[hosts]` are merged in (a lab's `lab.toml`).
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    pub ssh: Option<Spanned<SshSettings>>,
    pub engine: Option<Spanned<EngineSettings>>,
    pub daemon: Option<Spanned<DaemonSettings>>,
    pub swarm: Option<Spanned<SwarmSettings>>,
    #[serde(default)]
    pub hosts: Table<HostConfig>,
    /// Root file only: the variables templates may use.
    #[serde(default)]
    pub variables: Table<VariableDecl>,
    /// Module files only: what a module call passes in.
    #[serde(default)]
    pub inputs: Table<VariableDecl>,
    #[serde(default)]
    pub networks: Table<NetworkConfig>,
    #[serde(default)]
    pub secrets: Table<ContentConfig>,
    #[serde(default)]
    pub configs: Table<ContentConfig>,
    #[serde(default)]
    pub registries: Table<RegistryConfig>,
    #[serde(default)]
    pub files: Table<FileConfig>,
    #[serde(default)]
    pub stacks: Table<StackConfig>,
    #[serde(default)]
    pub modules: Table<ModuleCall>,
}

/// SSH settings. Every field is optional so host-level and included settings merge field by
/// field: host over root over included file over built-in default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<Spanned<String>>,
    pub host_key_policy: Option<HostKeyPolicy>,
    pub known_hosts: Option<Spanned<String>>,
    /// `[user@]host[:port]` of a jump host (like OpenSSH's ProxyJump).
    pub jump_host: Option<Spanned<String>>,
    /// Run remote commands through `sudo -n` (for a non-root user).
    pub sudo: Option<bool>,
    /// Go-style durations, e.g. `"10s"`.
    pub connect_timeout: Option<Spanned<String>>,
    pub command_timeout: Option<Spanned<String>>,
    /// Key exchange algorithms in order of preference (russh names, e.g. `curve25519-sha256`).
    pub key_exchange: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Unknown and changed keys are refused.
    Strict,
    /// Unknown keys are recorded (known_hosts and the state); changed keys are refused.
    AcceptNew,
}

impl HostKeyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub install: Option<InstallPolicy>,
    /// The packages to install; default `["docker.io"]` (Debian, Raspberry Pi OS, Ubuntu).
    pub packages: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallPolicy {
    /// Docker must already be installed; a host without it fails preflight.
    Require,
    /// Install the distribution's Docker packages on hosts that lack them.
    IfMissing,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSettings {
    /// daemon.json keys, merged key by key (host over root).
    pub json: Option<Table<toml::Value>>,
    pub tcp: Option<Spanned<TcpApi>>,
    pub systemd: Option<SystemdDropIn>,
    /// Root only: what `destroy` does with daemon configuration.
    pub on_destroy: Option<OnDestroy>,
}

/// The Docker API over TCP, which swarmform adds as `-H tcp://ADDRESS` in a systemd drop-in
/// (Debian's unit already passes `-H fd://`, so `hosts` may not appear in daemon.json).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpApi {
    /// `IP:PORT` to listen on; default `0.0.0.0:2376` with TLS, `0.0.0.0:2375` without.
    pub address: Option<Spanned<String>>,
    pub tls: Option<TlsFiles>,
    /// Acknowledges an API without TLS: anyone who reaches the port is root on the host.
    #[serde(default)]
    pub insecure: bool,
}

/// The API's TLS material: files on the machine running swarmform (`ca`, `cert`, `key`), or
/// `generate = true` for a CA and per-host certificates swarmform makes and keeps in `dir`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub ca: Option<Spanned<String>>,
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub generate: Option<Spanned<bool>>,
    /// Where generated material is kept; default `.swarmform/tls` next to the config.
    pub dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdDropIn {
    /// `Environment=` lines for dockerd (HTTP_PROXY and the like); spanned, so a name or value
    /// systemd cannot hold is an error at its place.
    #[serde(default)]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDestroy {
    /// Leave daemon.json and the drop-in as they are.
    Keep,
    /// Remove what swarmform wrote and restart dockerd.
    Revert,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSettings {
    /// The manager that runs `docker swarm init`; default the first manager declared.
    pub bootstrap: Option<Name>,
    /// `--listen-addr`; default `0.0.0.0:2377`.
    pub listen_addr: Option<Spanned<String>>,
    /// `--advertise-addr` for every host (an IP or an interface name); default each host's
    /// address. Hosts may override it.
    pub advertise_addr: Option<Spanned<String>>,
    pub data_path_addr: Option<Spanned<String>>,
    pub data_path_port: Option<u16>,
    #[serde(default)]
    pub default_addr_pool: Vec<Spanned<String>>,
    pub default_addr_pool_mask_length: Option<Spanned<u8>>,
    #[serde(default)]
    pub autolock: bool,
    /// Where to keep the unlock key of an autolocked swarm, on the machine running swarmform
    /// (written with mode 0600; relative to the config's folder). Without it the key is shown
    /// once on the terminal and stored nowhere.
    pub unlock_key_file: Option<Spanned<String>>,
    /// Rotate both join tokens after an apply that joined nodes.
    #[serde(default)]
    pub rotate_join_tokens: bool,
    /// Take over a swarm the bootstrap manager already manages (and its nodes that the config
    /// names) instead of refusing hosts that are already in a swarm.
    #[serde(default)]
    pub adopt: bool,
    pub cert_expiry: Option<Spanned<String>>,
    pub dispatcher_heartbeat: Option<Spanned<String>>,
    pub max_snapshots: Option<u64>,
    pub snapshot_interval: Option<u64>,
    pub task_history_limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Manager,
    #[default]
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        }
    }

    /// Docker's word back as the type.
    pub fn parse(word: &str) -> Option<Role> {
        match word {
            "manager" => Some(Role::Manager),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    #[default]
    Active,
    Pause,
    Drain,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Active => "active",
            Availability::Pause => "pause",
            Availability::Drain => "drain",
        }
    }

    /// Docker's word back as the type.
    pub fn parse(word: &str) -> Option<Availability> {
        match word {
            "active" => Some(Availability::Active),
            "pause" => Some(Availability::Pause),
            "drain" => Some(Availability::Drain),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// The IP address or DNS name swarmform connects to.
    pub address: Spanned<String>,
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub availability: Availability,
    #[serde(default)]
    pub labels: BTreeMap<Spanned<String>, String>,
    pub ssh: Option<SshSettings>,
    /// Per-host daemon settings, merged over `[daemon]`.
    pub daemon: Option<DaemonSettings>,
    pub advertise_addr: Option<Spanned<String>>,
    pub data_path_addr: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<toml::Value>,
    pub description: Option<String>,
    /// The value is a secret: redacted from plans, logs and errors, never stored.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub driver: Option<Spanned<String>>,
    pub subnet: Option<Spanned<String>>,
    pub gateway: Option<Spanned<String>>,
    pub ip_range: Option<Spanned<String>>,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub labels: BTreeMap<Spanned<String>, String>,
}

/// A secret's or a config's content: a file, or a template rendered with `vars`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentConfig {
    pub file: Option<Spanned<String>>,
    pub template: Option<Spanned<String>>,
    #[serde(default)]
    pub vars: IndexMap<String, toml::Value>,
    #[serde(default)]
    pub labels: BTreeMap<Spanned<String>, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    // A registry swarmform runs as a service:
    /// The host the registry runs on (its volume lives there).
    pub node: Option<Name>,
    pub port: Option<Spanned<u16>>,
    pub volume: Option<Spanned<String>>,
    /// Default `registry:2`; it must be loadable on the node (see `swarmform image load`).
    pub image: Option<Spanned<String>>,
    pub tls: Option<RegistryTls>,
    /// An htpasswd file (bcrypt) enabling basic auth.
    pub htpasswd: Option<Spanned<String>>,
    #[serde(default)]
    pub notifications: Vec<Spanned<Notification>>,
    /// Hosts whose daemons trust it: `"all"` (default) or a list of host names.
    pub trusted_by: Option<Spanned<TrustedBy>>,
    // A registry elsewhere, logged in to:
    pub url: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    /// Never allowed: present only so the error can say what to use instead.
    pub password: Option<Spanned<toml::Value>>,
    pub password_env: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
    /// The CA daemons install under /etc/docker/certs.d/ADDRESS:PORT/ca.crt.
    pub ca: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TrustedBy {
    All(String),
    // Plain strings: `Spanned` cannot sit inside an untagged enum; errors point at the list.
    Hosts(Vec<String>),
}

/// One of the registry's `notifications.endpoints`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub name: String,
    pub url: String,
    pub timeout: Option<String>,
    pub threshold: Option<u32>,
    pub backoff: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Absolute path on the host.
    pub path: Spanned<String>,
    pub content: Option<Spanned<String>>,
    pub source: Option<Spanned<String>>,
    pub template: Option<Spanned<String>>,
    /// Ensure this one line is present instead of owning the whole file.
    pub line: Option<Spanned<String>>,
    #[serde(default)]
    pub vars: IndexMap<String, toml::Value>,
    pub mode: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    /// Host names; default every host (or every host of `roles`).
    pub hosts: Option<Vec<Name>>,
    pub roles: Option<Vec<Role>>,
    /// A change restarts dockerd on the host (one manager at a time).
    #[serde(default)]
    pub restarts_docker: bool,
    /// The content is secret (a TLS key): only its hash is shown and stored.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// A compose file used as written.
    pub compose: Option<Spanned<String>>,
    /// A handlebars template rendered into the compose file.
    pub template: Option<Spanned<String>>,
    #[serde(default)]
    pub vars: IndexMap<String, toml::Value>,
    /// Addresses this stack waits for: `network.X`, `secret.X`, `config.X`, `registry.X`,
    /// `stack.X`, `module.M.KIND.X`.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub with_registry_auth: bool,
    /// How long a deploy waits for every service to converge (default `5m`).
    pub converge_timeout: Option<Spanned<String>>,
    /// A check run after every deploy of the stack.
    pub health: Option<Spanned<HealthConfig>>,
}

/// `[stacks.NAME.health]`: an HTTP check from the machine running swarmform, or a command run
/// on a host over SSH.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// `http://host:port/path`: healthy on a 2xx answer (or `expect_status`).
    pub http: Option<Spanned<String>>,
    pub expect_status: Option<Spanned<u16>>,
    /// Text the answer's body must contain.
    pub contains: Option<Spanned<String>>,
    /// A command (words) run on `host`; healthy when it exits 0.
    pub command: Option<Spanned<Vec<String>>>,
    pub host: Option<Name>,
    /// Attempts before the check fails (default 10).
    pub retries: Option<Spanned<u32>>,
    /// Time between attempts (default `3s`).
    pub interval: Option<Spanned<String>>,
    /// Time one attempt may take (default `5s`).
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleCall {
    /// A module name (a folder under `modules/` beside the config, or a module shipped with
    /// swarmform) or a path starting with `./`, `../` or `/`.
    pub source: Spanned<String>,
    #[serde(default)]
    pub inputs: IndexMap<Name, toml::Value>,
    /// Lets the module's files name paths outside its folder (`..`, absolute paths, symbolic
    /// links out of it), which are refused otherwise.
    #[serde(default)]
    pub allow_paths_outside: bool,
}
