//! A plain-data copy of the simulated world, for assertions.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::docker::swarm::{Cluster, Mode, Node, PublishMode, Role};
use super::world::World;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// By host name.
    pub hosts: BTreeMap<String, HostSnapshot>,
    /// Every swarm some host belongs to.
    pub swarms: Vec<SwarmSnapshot>,
}

impl ClusterSnapshot {
    /// The swarm, when there is exactly one.
    pub fn swarm(&self) -> Option<&SwarmSnapshot> {
        match self.swarms.as_slice() {
            [swarm] => Some(swarm),
            _ => None,
        }
    }

    pub fn host(&self, name: &str) -> Option<&HostSnapshot> {
        self.hosts.get(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    pub docker_installed: bool,
    pub dockerd_running: bool,
    /// `/etc/docker/daemon.json` as dockerd last loaded it.
    pub daemon_config: String,
    pub files: BTreeMap<String, FileSnapshot>,
    pub directories: Vec<String>,
    /// The swarm and node this host is a member of.
    pub swarm_id: Option<String>,
    pub node_id: Option<String>,
    /// This host's node (role, availability, labels, state) while it is a member.
    pub node: Option<NodeSnapshot>,
    /// Registries logged in to, with the user name.
    pub logins: BTreeMap<String, String>,
    /// Members of the `docker` group.
    pub docker_group: Vec<String>,
}

impl HostSnapshot {
    pub fn file(&self, path: &str) -> Option<&FileSnapshot> {
        self.files.get(path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSnapshot {
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

impl FileSnapshot {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmSnapshot {
    pub id: String,
    pub nodes: Vec<NodeSnapshot>,
    /// Host names of the managers (reachable or not).
    pub managers: Vec<String>,
    /// The leader's host name, if the swarm has quorum.
    pub leader: Option<String>,
    pub worker_token: String,
    pub manager_token: String,
    pub autolock: bool,
    pub unlock_key: Option<String>,
    pub cert_expiry: String,
    pub dispatcher_heartbeat: String,
    pub max_snapshots: u64,
    pub snapshot_interval: u64,
    pub task_history_limit: i64,
    pub default_addr_pool: Vec<String>,
    pub subnet_size: u8,
    pub data_path_port: u16,
    pub networks: Vec<NetworkSnapshot>,
    pub secrets: Vec<ObjectSnapshot>,
    pub configs: Vec<ObjectSnapshot>,
    pub services: Vec<ServiceSnapshot>,
    pub stacks: Vec<StackSnapshot>,
}

impl SwarmSnapshot {
    pub fn node(&self, hostname: &str) -> Option<&NodeSnapshot> {
        self.nodes
            .iter()
            .rev()
            .find(|node| node.hostname == hostname)
    }

    pub fn network(&self, name: &str) -> Option<&NetworkSnapshot> {
        self.networks.iter().find(|network| network.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&ServiceSnapshot> {
        self.services.iter().find(|service| service.name == name)
    }

    pub fn secret(&self, name: &str) -> Option<&ObjectSnapshot> {
        self.secrets.iter().find(|secret| secret.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSnapshot {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    pub labels: BTreeMap<String, String>,
    /// `ready` or `down`.
    pub state: String,
    /// `Leader`, `Reachable`, `Unreachable` or empty for workers.
    pub manager_status: String,
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSnapshot {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: Option<String>,
    pub attachable: bool,
    pub encrypted: bool,
    pub ingress: bool,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// A secret or config: its content only as a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSnapshot {
    pub id: String,
    pub name: String,
    /// Lowercase hexadecimal SHA-256 of the content.
    pub content_sha256: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSnapshot {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `replicated` or `global`.
    pub mode: String,
    /// Desired replicas (for global services, the tasks wanted).
    pub replicas: u64,
    /// Running tasks.
    pub running: u64,
    pub stack: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub constraints: Vec<String>,
    /// Secret and config names.
    pub secrets: Vec<String>,
    pub configs: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// `*:8080->80/tcp (host)` style.
    pub ports: Vec<String>,
    pub tasks: Vec<TaskSnapshot>,
}

impl ServiceSnapshot {
    /// Host names of the nodes running a task of this service, one entry per task.
    pub fn running_on(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|task| task.desired_state == "running" && task.state == "running")
            .filter_map(|task| task.node.clone())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub id: String,
    pub slot: u64,
    /// The node's host name; `None` while pending.
    pub node: Option<String>,
    /// `running` or `shutdown`.
    pub desired_state: String,
    /// `pending`, `running` or `shutdown`.
    pub state: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSnapshot {
    pub name: String,
    pub services: Vec<String>,
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub(crate) fn take(world: &World) -> ClusterSnapshot {
    let hosts = world
        .hosts
        .iter()
        .map(|host| {
            let snapshot = HostSnapshot {
                docker_installed: host.docker_installed,
                dockerd_running: host.dockerd_running,
                daemon_config: host.daemon_config.to_string(),
                files: host
                    .fs
                    .files
                    .iter()
                    .map(|(path, file)| {
                        (
                            path.clone(),
                            FileSnapshot {
                                content: file.content.clone(),
                                mode: file.mode,
                                owner: file.owner.clone(),
                                group: file.group.clone(),
                            },
                        )
                    })
                    .collect(),
                directories: host.fs.dirs.keys().cloned().collect(),
                swarm_id: host.swarm.as_ref().map(|member| member.cluster.clone()),
                node_id: host.swarm.as_ref().map(|member| member.node.clone()),
                node: host.swarm.as_ref().and_then(|member| {
                    let cluster = world.clusters.get(&member.cluster)?;
                    cluster
                        .node(&member.node)
                        .map(|node| node_snapshot(cluster, node))
                }),
                logins: super::docker::logins(&host.fs).into_iter().collect(),
                docker_group: host.docker_group.iter().cloned().collect(),
            };
            (host.name.clone(), snapshot)
        })
        .collect();
    let swarms = world.clusters.values().map(swarm).collect();
    ClusterSnapshot { hosts, swarms }
}

fn node_snapshot(cluster: &Cluster, node: &Node) -> NodeSnapshot {
    NodeSnapshot {
        id: node.id.clone(),
        hostname: node.hostname.clone(),
        role: node.role.as_str().to_owned(),
        availability: node.availability.as_str().to_owned(),
        labels: node.labels.clone(),
        state: if node.ready { "ready" } else { "down" }.to_owned(),
        manager_status: cluster.manager_status(node).to_owned(),
        addr: node.addr.clone(),
    }
}

fn swarm(cluster: &Cluster) -> SwarmSnapshot {
    let hostname = |id: &str| cluster.node(id).map(|node| node.hostname.clone());
    let network_name = |id: &String| {
        cluster
            .networks
            .iter()
            .find(|network| &network.id == id)
            .map(|network| network.name.clone())
            .unwrap_or_else(|| id.clone())
    };
    let services: Vec<ServiceSnapshot> = cluster
        .services
        .iter()
        .map(|service| {
            let tasks: Vec<TaskSnapshot> = cluster
                .tasks
                .iter()
                .filter(|task| task.service == service.id)
                .map(|task| TaskSnapshot {
                    id: task.id.clone(),
                    slot: task.slot,
                    node: task.node.as_deref().and_then(hostname),
                    desired_state: if task.desired_running {
                        "running"
                    } else {
                        "shutdown"
                    }
                    .to_owned(),
                    state: task.state.title().to_lowercase(),
                    error: task.error.clone(),
                })
                .collect();
            let running = tasks
                .iter()
                .filter(|task| task.desired_state == "running" && task.state == "running")
                .count() as u64;
            let (mode, replicas) = match service.spec.mode {
                Mode::Replicated(replicas) => ("replicated", replicas),
                Mode::Global => (
                    "global",
                    tasks
                        .iter()
                        .filter(|task| task.desired_state == "running")
                        .count() as u64,
                ),
            };
            ServiceSnapshot {
                id: service.id.clone(),
                name: service.spec.name.clone(),
                image: service.spec.image.clone(),
                mode: mode.to_owned(),
                replicas,
                running,
                stack: service.spec.stack().map(str::to_owned),
                labels: service.spec.labels.clone(),
                constraints: service.spec.constraints.clone(),
                secrets: service
                    .spec
                    .secrets
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
                configs: service
                    .spec
                    .configs
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
                networks: service.spec.networks.iter().map(network_name).collect(),
                ports: service
                    .spec
                    .ports
                    .iter()
                    .map(|port| {
                        format!(
                            "{} ({})",
                            port.display(),
                            match port.mode {
                                PublishMode::Host => "host",
                                PublishMode::Ingress => "ingress",
                            }
                        )
                    })
                    .collect(),
                tasks,
            }
        })
        .collect();
    let stacks = cluster
        .stack_names()
        .into_iter()
        .map(|name| StackSnapshot {
            services: services
                .iter()
                .filter(|service| service.stack.as_deref() == Some(name.as_str()))
                .map(|service| service.name.clone())
                .collect(),
            name,
        })
        .collect();
    let objects = |store: &Vec<super::docker::swarm::StoredObject>| {
        store
            .iter()
            .map(|object| ObjectSnapshot {
                id: object.id.clone(),
                name: object.name.clone(),
                content_sha256: sha256_hex(&object.data),
                labels: object.labels.clone(),
            })
            .collect()
    };
    SwarmSnapshot {
        id: cluster.id.clone(),
        nodes: cluster
            .nodes
            .iter()
            .map(|node| node_snapshot(cluster, node))
            .collect(),
        managers: cluster
            .nodes
            .iter()
            .filter(|node| node.role == Role::Manager)
            .map(|node| node.hostname.clone())
            .collect(),
        leader: cluster.leader.as_deref().and_then(hostname),
        worker_token: cluster.worker_token(),
        manager_token: cluster.manager_token(),
        autolock: cluster.settings.autolock,
        unlock_key: cluster.unlock_key.clone(),
        cert_expiry: super::docker::swarm::go_duration_string(cluster.settings.cert_expiry),
        dispatcher_heartbeat: super::docker::swarm::go_duration_string(
            cluster.settings.dispatcher_heartbeat,
        ),
        max_snapshots: cluster.settings.max_snapshots,
        snapshot_interval: cluster.settings.snapshot_interval,
        task_history_limit: cluster.settings.task_history_limit,
        default_addr_pool: cluster.settings.default_addr_pool.clone(),
        subnet_size: cluster.settings.subnet_size,
        data_path_port: cluster.settings.data_path_port,
        networks: cluster
            .networks
            .iter()
            .map(|network| NetworkSnapshot {
                id: network.id.clone(),
                name: network.name.clone(),
                driver: network.driver.clone(),
                subnet: network.subnet.clone(),
                gateway: network.gateway.clone(),
                ip_range: network.ip_range.clone(),
                attachable: network.attachable,
                encrypted: network.options.contains_key("encrypted"),
                ingress: network.ingress,
                internal: network.internal,
                labels: network.labels.clone(),
                options: network.options.clone(),
            })
            .collect(),
        secrets: objects(&cluster.secrets),
        configs: objects(&cluster.configs),
        services,
        stacks,
    }
}
