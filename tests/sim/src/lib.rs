//! A simulated Docker host fleet behind real in-process SSH servers, for integration tests and
//! benchmarks.
//!
//! Every simulated host listens on its own loopback address (`127.0.1.1`, `127.0.1.2`, ...) and
//! runs a russh server that accepts one client key for `root`. The command line a client sends
//! is interpreted like a POSIX shell would (quotes, `&&`, `||`, `;`, `|`, redirections,
//! `sudo -n sh -c`), and `docker` behaves like Debian's `docker.io` 20.10: the same output,
//! error messages and exit statuses, against one shared in-memory model of the hosts and their
//! swarms. Hosts are cheap: one accept task per host, one task per connection and per channel,
//! and all state behind one mutex.

mod docker;
mod exec;
mod fs;
mod hash;
mod keys;
mod programs;
mod server;
mod shell;
mod snapshot;
pub mod test_server;
mod world;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use snapshot::{
    ClusterSnapshot, FileSnapshot, HostSnapshot, NetworkSnapshot, NodeSnapshot, ObjectSnapshot,
    ServiceSnapshot, StackSnapshot, SwarmSnapshot, TaskSnapshot,
};

use server::Shared;
use world::{FailRule, Host, World};

/// The default `/etc/os-release` of a simulated host: Debian 12.
pub const DEBIAN_12_OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL=\"https://www.debian.org/\"
SUPPORT_URL=\"https://www.debian.org/support\"
BUG_REPORT_URL=\"https://bugs.debian.org/\"
";

/// How long the simulated Docker takes (see [`Sim::docker_timing`]).
#[derive(Debug, Clone, Copy)]
pub struct SimTiming {
    /// A container told to stop stops after this (Docker waits `stop_grace_period` for a
    /// process that ignores SIGTERM, 10 s by default).
    pub stop: Duration,
    /// A new task is Starting this long before it is Running.
    pub start: Duration,
    /// A node that stopped answering stays Ready this long (swarmkit: 3 heartbeats of 5 s).
    pub heartbeat: Duration,
}

/// What to simulate.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    pub hosts: Vec<SimHostSpec>,
}

impl SimOptions {
    /// `count` default hosts named `node1`, `node2`, ...
    pub fn with_hosts(count: usize) -> SimOptions {
        SimOptions {
            hosts: (1..=count)
                .map(|index| SimHostSpec::new(format!("node{index}")))
                .collect(),
        }
    }
}

/// One simulated host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHostSpec {
    /// The host name (`docker info` Name, the swarm node's hostname).
    pub name: String,
    /// Whether `docker.io` is installed (and dockerd running) from the start.
    pub docker_installed: bool,
    /// `uname -m`: `x86_64` or `aarch64`.
    pub arch: String,
    /// The text of `/etc/os-release`.
    pub os_release: String,
    /// The host's own name (`hostname`, `docker info` Name, the swarm node's hostname); the
    /// simulator's name for the host by default.
    pub hostname: String,
    /// What `docker version` and `docker info` report (Debian 12's docker.io by default).
    pub docker_version: String,
    /// Whether the host's address is a DHCP lease (`"dynamic": true` in `ip -j addr show`).
    pub dynamic_address: bool,
    /// A swarm the host is already in when the simulation starts: hosts with the same label
    /// form one swarm, initialized by the first manager among them, the others joining it.
    pub swarm: Option<(String, SimRole)>,
}

/// A role in a pre-existing swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimRole {
    Manager,
    Worker,
}

impl Default for SimHostSpec {
    /// `node1`: Debian 12 on x86_64 with docker.io installed and running.
    fn default() -> SimHostSpec {
        SimHostSpec::new("node1")
    }
}

impl SimHostSpec {
    pub fn new(name: impl Into<String>) -> SimHostSpec {
        let name = name.into();
        SimHostSpec {
            hostname: name.clone(),
            name,
            docker_installed: true,
            arch: "x86_64".to_owned(),
            os_release: DEBIAN_12_OS_RELEASE.to_owned(),
            docker_version: docker::swarm::ENGINE_VERSION.to_owned(),
            dynamic_address: false,
            swarm: None,
        }
    }

    pub fn without_docker(mut self) -> SimHostSpec {
        self.docker_installed = false;
        self
    }

    /// The host calls itself `hostname` (two hosts may share one).
    pub fn hostname(mut self, hostname: impl Into<String>) -> SimHostSpec {
        self.hostname = hostname.into();
        self
    }

    /// dockerd reports `version` (`24.0.5`).
    pub fn docker_version(mut self, version: impl Into<String>) -> SimHostSpec {
        self.docker_version = version.into();
        self
    }

    /// The host's address is a DHCP lease.
    pub fn dynamic_address(mut self) -> SimHostSpec {
        self.dynamic_address = true;
        self
    }

    /// The host is already in the swarm labelled `label` (see [`SimHostSpec::swarm`]).
    pub fn in_swarm(mut self, label: impl Into<String>, role: SimRole) -> SimHostSpec {
        self.swarm = Some((label.into(), role));
        self
    }
}

/// When [`Sim::kill_at`] kills, relative to the command it counts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMoment {
    /// As the command arrives: it never runs (the client died sending it).
    BeforeEffect,
    /// Once the command has taken effect, before its answer is sent.
    AfterEffect,
}

/// How to reach a simulated host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHostInfo {
    pub name: String,
    pub address: IpAddr,
    pub port: u16,
    /// The current host key's fingerprint, `SHA256:...` (changes with
    /// [`Sim::change_host_key`]).
    pub host_key_fingerprint: String,
}

/// A running simulation. Cloning is cheap and every clone drives the same hosts.
#[derive(Clone)]
pub struct Sim {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("dir", &self.shared.dir)
            .field("hosts", &self.hosts().len())
            .finish()
    }
}

/// The loopback address of the host at `index`: 127.0.1.1, 127.0.1.2, ...
fn host_address(index: usize) -> Ipv4Addr {
    let number = 257 + index;
    Ipv4Addr::new(127, 0, ((number >> 8) & 0xff) as u8, (number & 0xff) as u8)
}

impl Sim {
    /// Starts every host and writes `id_ed25519`, `id_ed25519.pub` and `known_hosts` into `dir`.
    pub async fn start(options: SimOptions, dir: &Path) -> io::Result<Sim> {
        let mut names = std::collections::HashSet::new();
        for spec in &options.hosts {
            if !names.insert(spec.name.as_str()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("duplicate simulated host name `{}`", spec.name),
                ));
            }
        }
        std::fs::create_dir_all(dir)?;
        let mut rng = keys::Rng::new();
        let client_key = keys::ed25519_key(&mut rng, "swarmform-sim-client");
        keys::write_client_key(&client_key, dir)?;

        let mut listeners = Vec::with_capacity(options.hosts.len());
        let mut shared_port = None;
        for index in 0..options.hosts.len() {
            let address = host_address(index);
            let listener = bind(address, shared_port.unwrap_or(0)).or_else(|error| {
                if shared_port.is_some() {
                    bind(address, 0)
                } else {
                    Err(error)
                }
            })?;
            if shared_port.is_none() {
                shared_port = Some(listener.local_addr()?.port());
            }
            listeners.push(listener);
        }

        let swarms: Vec<Option<(String, SimRole)>> = options
            .hosts
            .iter()
            .map(|spec| spec.swarm.clone())
            .collect();
        let mut hosts = Vec::with_capacity(options.hosts.len());
        for (spec, listener) in options.hosts.into_iter().zip(&listeners) {
            let address = listener.local_addr()?;
            let host_key = keys::ed25519_key(&mut rng, &spec.name);
            hosts.push(Host::new(
                spec,
                address.ip(),
                address.port(),
                host_key,
                &mut rng,
            ));
        }
        keys::write_known_hosts(&hosts, dir)?;

        let mut world = World::new(rng, hosts);
        prejoin(&mut world, &swarms)?;
        let shared = Arc::new(Shared::new(
            world,
            client_key.public_key().clone(),
            dir.to_path_buf(),
        ));
        server::spawn_listeners(&shared, listeners);
        Ok(Sim { shared })
    }

    pub fn hosts(&self) -> Vec<SimHostInfo> {
        let world = self.shared.world();
        world
            .hosts
            .iter()
            .map(|host| SimHostInfo {
                name: host.name.clone(),
                address: host.address,
                port: host.port,
                host_key_fingerprint: keys::fingerprint(&host.host_key),
            })
            .collect()
    }

    /// The directory the key and known_hosts were written to.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn identity_file(&self) -> PathBuf {
        self.shared.dir.join("id_ed25519")
    }

    pub fn known_hosts_file(&self) -> PathBuf {
        self.shared.dir.join("known_hosts")
    }

    /// `[hosts.NAME]` tables (the first `managers` hosts are managers) and an `[ssh]` table with
    /// the key, known_hosts and port, to paste into a test's `swarmform.toml`.
    pub fn config_hosts_toml(&self, managers: usize) -> String {
        let hosts = self.hosts();
        let mut out = String::new();
        out.push_str("[ssh]\n");
        out.push_str("user = \"root\"\n");
        if let Some(first) = hosts.first() {
            out.push_str(&format!("port = {}\n", first.port));
        }
        out.push_str(&format!(
            "identity_file = {}\n",
            toml_string(&self.identity_file().display().to_string())
        ));
        out.push_str(&format!(
            "known_hosts = {}\n",
            toml_string(&self.known_hosts_file().display().to_string())
        ));
        out.push_str("host_key_policy = \"strict\"\n");
        let shared_port = hosts.first().map(|host| host.port);
        for (index, host) in hosts.iter().enumerate() {
            out.push('\n');
            out.push_str(&format!("[hosts.{}]\n", host.name));
            out.push_str(&format!("address = \"{}\"\n", host.address));
            let role = if index < managers {
                "manager"
            } else {
                "worker"
            };
            out.push_str(&format!("role = \"{role}\"\n"));
            if Some(host.port) != shared_port {
                out.push_str(&format!("ssh = {{ port = {} }}\n", host.port));
            }
        }
        out
    }

    /// A consistent copy of every host and swarm.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let mut world = self.shared.world();
        if world.timing.is_some() {
            docker::swarm::refresh(&mut world);
        }
        snapshot::take(&world)
    }

    /// Every command line `host` received, as received.
    pub fn commands(&self, host: &str) -> Vec<String> {
        let world = self.shared.world();
        world
            .host_index(host)
            .map(|index| world.hosts[index].commands.clone())
            .unwrap_or_default()
    }

    /// How many command lines every host together has received so far.
    pub fn command_count(&self) -> usize {
        self.shared.world().total_commands
    }

    /// SIGKILLs process `pid` at the `command`th command line (1 for the next) any host
    /// receives from now on, at `moment`: a deterministic crash point for a client whose
    /// commands arrive in a known order. Replaces an earlier hook.
    pub fn kill_at(&self, pid: u32, command: usize, moment: KillMoment) {
        self.shared.world().kill = Some(world::KillHook {
            pid,
            remaining: command,
            moment,
            fired: None,
        });
    }

    /// Removes the hook of [`Sim::kill_at`]; the host and command line it killed at, if it
    /// did.
    pub fn disarm_kill(&self) -> Option<(String, String)> {
        self.shared.world().kill.take().and_then(|hook| hook.fired)
    }

    /// Refuses (or accepts again) the client key on `host`.
    pub fn refuse_auth(&self, host: &str, refuse: bool) {
        self.with_host(host, |host| host.faults.refuse_auth = refuse);
    }

    /// Gives `host` a new host key from now on and drops its open connections; known_hosts is
    /// not rewritten, so clients see a changed key.
    pub async fn change_host_key(&self, host: &str) {
        let handles = {
            let mut world = self.shared.world();
            let Some(index) = world.host_index(host) else {
                return;
            };
            let key = keys::ed25519_key(&mut world.rng, host);
            let host = &mut world.hosts[index];
            host.set_host_key(key);
            host.connections
                .drain()
                .map(|(_, handle)| handle)
                .collect::<Vec<_>>()
        };
        for handle in handles {
            server::disconnect(&handle).await;
        }
    }

    /// Every command on `host` answers only after `delay` (its effect is applied first).
    pub fn delay(&self, host: &str, delay: Duration) {
        self.with_host(host, |host| host.faults.delay = delay);
    }

    /// Commands on `host` whose line contains `pattern` fail with `exit_status` and `stderr`,
    /// without any effect, until [`Sim::clear_faults`].
    pub fn fail(&self, host: &str, pattern: &str, exit_status: u32, stderr: &str) {
        self.with_host(host, |host| {
            host.faults.fail.push(FailRule {
                pattern: pattern.to_owned(),
                exit_status,
                stderr: stderr.to_owned(),
            })
        });
    }

    /// The next command on `host` containing `pattern` takes effect, then its connection is
    /// closed without an exit status.
    pub fn drop_connection(&self, host: &str, pattern: &str) {
        self.with_host(host, |host| host.faults.drop.push(pattern.to_owned()));
    }

    /// Makes `image` (`name:tag`) unavailable everywhere, as an image neither loaded on the
    /// nodes nor served by a registry: deploys cannot pin its digest, and its tasks are
    /// rejected with Docker's `No such image: IMAGE`.
    pub fn missing_image(&self, image: &str) {
        let mut world = self.shared.world();
        world.missing_images.insert(image.to_owned());
    }

    /// Makes Docker take time, as a real one does: a task told to stop keeps running for
    /// `timing.stop`, a new task is Starting for `timing.start`, and a node that left or whose
    /// dockerd stopped stays Ready until `timing.heartbeat` has passed without a heartbeat.
    pub fn docker_timing(&self, timing: SimTiming) {
        let mut world = self.shared.world();
        world.timing = Some(timing);
    }

    /// A `docker swarm join` on `host` takes `takes`: the node says `pending` meanwhile, and
    /// the command answers at the end, as a real join does while the node gets its
    /// certificate (and, as a manager, the Raft log). A client killed meanwhile does not stop it.
    pub fn join_takes(&self, host: &str, takes: Duration) {
        self.with_host(host, |host| host.join_takes = takes);
    }

    /// Removes every fault of `host` (refused auth, delay, failures, drops).
    pub fn clear_faults(&self, host: &str) {
        self.with_host(host, |host| host.faults = Default::default());
    }

    /// Whether `host` receives a command line containing `pattern` (including the ones already
    /// received) within `timeout`.
    pub async fn wait_for_command(&self, host: &str, pattern: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.commands_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let world = self.shared.world();
                let Some(index) = world.host_index(host) else {
                    return false;
                };
                if world.hosts[index]
                    .commands
                    .iter()
                    .any(|line| line.contains(pattern))
                {
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Stops every listener and drops every connection.
    pub async fn stop(self) {
        server::stop(&self.shared).await;
    }

    fn with_host(&self, host: &str, change: impl FnOnce(&mut Host)) {
        let mut world = self.shared.world();
        if let Some(index) = world.host_index(host) {
            change(&mut world.hosts[index]);
        }
    }
}

/// Builds the swarms hosts start in, through the simulated docker CLI itself: `swarm init` on
/// each label's first manager, `swarm join` with its token on the others.
fn prejoin(world: &mut World, swarms: &[Option<(String, SimRole)>]) -> io::Result<()> {
    let failed = |what: &str, output: exec::Output| {
        io::Error::other(format!(
            "simulated {what} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    };
    let mut labels: Vec<&str> = Vec::new();
    for (label, _) in swarms.iter().flatten() {
        if !labels.contains(&label.as_str()) {
            labels.push(label);
        }
    }
    for label in labels {
        let members: Vec<(usize, SimRole)> = swarms
            .iter()
            .enumerate()
            .filter_map(|(index, swarm)| match swarm {
                Some((name, role)) if name == label => Some((index, *role)),
                _ => None,
            })
            .collect();
        let Some(&(first, _)) = members.iter().find(|(_, role)| *role == SimRole::Manager) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("simulated swarm `{label}` has no manager"),
            ));
        };
        let address = world.hosts[first].address.to_string();
        let output = docker::run(
            world,
            first,
            &["swarm", "init", "--advertise-addr", &address],
            Vec::new(),
        );
        if output.status != 0 {
            return Err(failed("swarm init", output));
        }
        for (index, role) in members {
            if index == first {
                continue;
            }
            let role = match role {
                SimRole::Manager => "manager",
                SimRole::Worker => "worker",
            };
            let token = docker::run(
                world,
                first,
                &["swarm", "join-token", "-q", role],
                Vec::new(),
            );
            if token.status != 0 {
                return Err(failed("swarm join-token", token));
            }
            let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
            let advertise = world.hosts[index].address.to_string();
            let output = docker::run(
                world,
                index,
                &[
                    "swarm",
                    "join",
                    "--token",
                    &token,
                    "--advertise-addr",
                    &advertise,
                    &format!("{address}:2377"),
                ],
                Vec::new(),
            );
            if output.status != 0 {
                return Err(failed("swarm join", output));
            }
        }
    }
    Ok(())
}

fn bind(address: Ipv4Addr, port: u16) -> io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind((address, port).into())?;
    socket.listen(1024)
}

fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
