//! The simulated world: every host and every swarm, behind one mutex.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::{Config, Handle};

use super::SimHostSpec;
use super::docker::swarm::Cluster;
use super::fs::Fs;
use super::keys::Rng;

pub(crate) struct World {
    pub rng: Rng,
    pub hosts: Vec<Host>,
    by_name: HashMap<String, usize>,
    /// Swarms by cluster ID. A swarm lives as long as a host is a member of it.
    pub clusters: BTreeMap<String, Cluster>,
    /// What simulated registries hold, by the address pushes name (`HOST:PORT`): `repo:tag` to
    /// the manifest digest.
    pub registries: BTreeMap<String, BTreeMap<String, String>>,
    /// Images (`name:tag`) no node has and no registry serves: their digest cannot be pinned
    /// and their tasks are rejected with `No such image: NAME`.
    pub missing_images: BTreeSet<String>,
    /// Every command line any host received, in order of arrival.
    pub total_commands: usize,
    /// [`super::Sim::kill_at`]: the process to SIGKILL at a command still to come.
    pub kill: Option<KillHook>,
    /// How long Docker takes to stop and start containers and to notice a node is gone; `None`
    /// (the default) makes every change take effect at once.
    pub timing: Option<super::SimTiming>,
    /// When a task that is stopping or starting gets there, by task ID, and since when a node
    /// no longer answers, by node ID (only with `timing`).
    pub timers: Timers,
}

/// The clocks of [`World::timing`].
#[derive(Debug, Default)]
pub(crate) struct Timers {
    pub tasks: HashMap<String, std::time::SystemTime>,
    pub nodes_down: HashMap<String, std::time::SystemTime>,
}

impl World {
    pub fn new(rng: Rng, hosts: Vec<Host>) -> World {
        let by_name = hosts
            .iter()
            .enumerate()
            .map(|(index, host)| (host.name.clone(), index))
            .collect();
        World {
            rng,
            hosts,
            by_name,
            clusters: BTreeMap::new(),
            registries: BTreeMap::new(),
            missing_images: BTreeSet::new(),
            total_commands: 0,
            kill: None,
            timing: None,
            timers: Timers::default(),
        }
    }

    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

/// A process to SIGKILL when the `remaining`th command from now arrives, on any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KillHook {
    pub pid: u32,
    pub remaining: usize,
    pub moment: super::KillMoment,
    /// The host and command line the kill came at, once it came.
    pub fired: Option<(String, String)>,
}

impl KillHook {
    /// Counts one command arriving at `host`; the moment to kill at when it is the one.
    pub fn tick(&mut self, host: &str, line: &str) -> Option<(u32, super::KillMoment)> {
        if self.fired.is_some() || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        if self.remaining > 0 {
            return None;
        }
        self.fired = Some((host.to_owned(), line.to_owned()));
        Some((self.pid, self.moment))
    }
}

/// A host's membership in a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub cluster: String,
    pub node: String,
    /// A manager of an autolocked swarm whose dockerd restarted, until `docker swarm unlock`.
    pub locked: bool,
    /// A join still on its way (see [`Host::join_takes`]): `docker info` says `pending` until
    /// then.
    pub settles_at: Option<std::time::Instant>,
}

/// A local (not swarm-scoped) network on one host.
#[derive(Debug, Clone)]
pub(crate) struct LocalNetwork {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub created: std::time::SystemTime,
}

/// An image in a host's local store (`docker load`, `docker tag`).
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// `sha256:` and the digest of the image's config.
    pub id: String,
    /// `repo:tag` references, in the order they were given.
    pub repo_tags: Vec<String>,
    /// `repo@sha256:...` for every push.
    pub repo_digests: Vec<String>,
    /// The layers' digests (`sha256:...`), bottom first.
    pub layers: Vec<String>,
    pub size: u64,
    pub created: std::time::SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct FailRule {
    pub pattern: String,
    pub exit_status: u32,
    pub stderr: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    pub refuse_auth: bool,
    pub delay: Duration,
    pub fail: Vec<FailRule>,
    /// Patterns whose next command drops the connection (each used once).
    pub drop: Vec<String>,
}

pub(crate) struct Host {
    pub name: String,
    /// What the host calls itself (`hostname`, `docker info` Name).
    pub hostname: String,
    /// What dockerd reports as its version.
    pub docker_version: String,
    /// The address is a DHCP lease (`ip -j addr show` says `"dynamic": true`).
    pub dynamic_address: bool,
    pub address: IpAddr,
    pub port: u16,
    pub arch: String,
    pub docker_installed: bool,
    pub dockerd_running: bool,
    /// When systemd last started docker.service, for its start limit (Debian's unit:
    /// `StartLimitBurst=3` in `StartLimitIntervalSec=60`); `systemctl reset-failed` clears
    /// it. The boot's start is not counted.
    pub docker_starts: Vec<std::time::Instant>,
    /// How long a `docker swarm join` on this host takes: the node is `pending` meanwhile and
    /// the command answers at the end (dockerd goes on if its client dies). Zero: at once.
    pub join_takes: std::time::Duration,
    /// `/etc/docker/daemon.json` as dockerd read it when it last started.
    pub daemon_config: serde_json::Value,
    /// The docker.service drop-ins systemd loaded at the last `daemon-reload`.
    pub systemd_loaded: BTreeMap<String, Vec<u8>>,
    pub fs: Fs,
    pub swarm: Option<Membership>,
    pub local_networks: Vec<LocalNetwork>,
    pub images: Vec<Image>,
    pub commands: Vec<String>,
    pub faults: Faults,
    pub host_key: PrivateKey,
    pub server_config: Arc<Config>,
    pub connections: HashMap<u64, Handle>,
    /// Members of the `docker` group (`usermod -aG docker USER`).
    pub docker_group: BTreeSet<String>,
}

impl Host {
    pub fn new(
        spec: SimHostSpec,
        address: IpAddr,
        port: u16,
        host_key: PrivateKey,
        rng: &mut Rng,
    ) -> Host {
        let mut fs = Fs::new();
        let _ = fs.write("/etc/os-release", spec.os_release.as_bytes(), false);
        let hosts = format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{}\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
            spec.hostname
        );
        let _ = fs.write("/etc/hosts", hosts.as_bytes(), false);
        let _ = fs.write(
            "/etc/hostname",
            format!("{}\n", spec.hostname).as_bytes(),
            false,
        );
        let server_config = super::server::server_config(&host_key);
        let mut host = Host {
            name: spec.name,
            hostname: spec.hostname,
            docker_version: spec.docker_version,
            dynamic_address: spec.dynamic_address,
            address,
            port,
            arch: spec.arch,
            docker_installed: false,
            dockerd_running: false,
            docker_starts: Vec::new(),
            join_takes: std::time::Duration::ZERO,
            daemon_config: serde_json::Value::Object(Default::default()),
            systemd_loaded: BTreeMap::new(),
            fs,
            swarm: None,
            local_networks: Vec::new(),
            images: Vec::new(),
            commands: Vec::new(),
            faults: Faults::default(),
            host_key,
            server_config,
            connections: HashMap::new(),
            docker_group: BTreeSet::new(),
        };
        if spec.docker_installed {
            host.install_docker_files(rng);
            host.docker_installed = true;
            host.dockerd_running = true;
        }
        host
    }

    pub fn set_host_key(&mut self, key: PrivateKey) {
        self.server_config = super::server::server_config(&key);
        self.host_key = key;
    }

    /// The files Debian's docker.io package installs.
    pub fn install_docker_files(&mut self, rng: &mut Rng) {
        let fs = &mut self.fs;
        let _ = fs.mkdir_p("/etc/docker");
        let _ = fs.mkdir_p("/var/lib/docker");
        let _ = fs.write("/usr/bin/docker", b"\x7fELF docker\n", false);
        let _ = fs.write("/usr/sbin/dockerd", b"\x7fELF dockerd\n", false);
        let _ = fs.write(
            "/lib/systemd/system/docker.service",
            b"[Unit]\nDescription=Docker Application Container Engine\nDocumentation=https://docs.docker.com\nAfter=network-online.target docker.socket firewalld.service containerd.service time-set.target\nWants=network-online.target containerd.service\nRequires=docker.socket\n\n[Service]\nType=notify\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\nExecReload=/bin/kill -s HUP $MAINPID\nTimeoutStartSec=0\nRestartSec=2\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n",
            false,
        );
        for path in ["/usr/bin/docker", "/usr/sbin/dockerd"] {
            if let Some((mode, _, _)) = fs.metadata_mut(path) {
                *mode = 0o755;
            }
        }
        if self.local_networks.is_empty() {
            self.local_networks = ["bridge", "host", "none"]
                .into_iter()
                .map(|name| LocalNetwork {
                    id: rng.hex(64),
                    name: name.to_owned(),
                    driver: if name == "none" { "null" } else { name }.to_owned(),
                    created: std::time::SystemTime::now(),
                })
                .collect();
        }
    }

    /// The docker.service drop-ins currently on disk.
    pub fn systemd_drop_ins(&self) -> BTreeMap<String, Vec<u8>> {
        self.fs
            .files_in("/etc/systemd/system/docker.service.d")
            .into_iter()
            .filter(|(path, _)| path.ends_with(".conf"))
            .map(|(path, file)| (path.to_owned(), file.content.clone()))
            .collect()
    }

    /// Whether a command line on this host matches a failure rule.
    pub fn failure_for(&self, line: &str) -> Option<FailRule> {
        self.faults
            .fail
            .iter()
            .find(|rule| line.contains(&rule.pattern))
            .cloned()
    }

    /// Takes the drop rule matching `line`, if any.
    pub fn take_drop(&mut self, line: &str) -> bool {
        if let Some(index) = self
            .faults
            .drop
            .iter()
            .position(|pattern| line.contains(pattern.as_str()))
        {
            self.faults.drop.remove(index);
            true
        } else {
            false
        }
    }
}
