//! The swarm model (nodes, raft quorum and leader, networks, secrets, configs, services and
//! their tasks), the scheduler, and `docker swarm`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::SystemTime;

use ipnet::Ipv4Net;

use super::flags::{Flags, usage_error};
use super::{Ctx, NO_LEADER, NOT_IN_SWARM, NOT_MANAGER_INACTIVE, daemon_error};
use crate::exec::Output;
use crate::keys::Rng;
use crate::world::{Host, LocalNetwork, Membership, Timers, World};

pub(crate) const ENGINE_VERSION: &str = "20.10.24+dfsg1";
pub(crate) const SWARM_PORT: u16 = 2377;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Manager,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Availability {
    Active,
    Pause,
    Drain,
}

impl Availability {
    pub fn parse(text: &str) -> Option<Availability> {
        match text.to_ascii_lowercase().as_str() {
            "active" => Some(Availability::Active),
            "pause" => Some(Availability::Pause),
            "drain" => Some(Availability::Drain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Active => "active",
            Availability::Pause => "pause",
            Availability::Drain => "drain",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Availability::Active => "Active",
            Availability::Pause => "Pause",
            Availability::Drain => "Drain",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub id: String,
    pub host: usize,
    pub hostname: String,
    pub role: Role,
    pub availability: Availability,
    pub labels: BTreeMap<String, String>,
    /// The address other nodes see (the advertise address without port).
    pub addr: String,
    /// The swarm port managers listen on.
    pub manager_port: u16,
    pub arch: String,
    /// The Docker its host ran when it joined (`docker node ls`'s `EngineVersion`).
    pub engine_version: String,
    /// The host is a member, running dockerd.
    pub ready: bool,
    /// The host left the swarm (the node stays listed as Down until `docker node rm`).
    pub left: bool,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub version: u64,
}

impl Node {
    pub fn status(&self) -> &'static str {
        if self.ready { "Ready" } else { "Down" }
    }

    pub fn manager_addr(&self) -> String {
        format!("{}:{}", self.addr, self.manager_port)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub autolock: bool,
    pub cert_expiry: u64,
    pub dispatcher_heartbeat: u64,
    pub max_snapshots: u64,
    pub snapshot_interval: u64,
    pub task_history_limit: i64,
    pub default_addr_pool: Vec<String>,
    pub subnet_size: u8,
    pub data_path_port: u16,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            autolock: false,
            cert_expiry: 90 * 24 * 3600 * 1_000_000_000,
            dispatcher_heartbeat: 5_000_000_000,
            max_snapshots: 0,
            snapshot_interval: 10_000,
            task_history_limit: 5,
            default_addr_pool: vec!["10.0.0.0/8".to_owned()],
            subnet_size: 24,
            data_path_port: 4789,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub attachable: bool,
    pub ingress: bool,
    pub internal: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: Option<String>,
    pub created: SystemTime,
}

/// A secret or a config.
#[derive(Debug, Clone)]
pub(crate) struct StoredObject {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: Vec<u8>,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublishMode {
    Ingress,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortConfig {
    pub target: u16,
    pub published: Option<u16>,
    pub protocol: String,
    pub mode: PublishMode,
    /// The published port was picked by the swarm (the spec asked for none): `Spec` shows 0,
    /// `Endpoint` the port.
    pub auto: bool,
}

impl PortConfig {
    /// `*:8080->80/tcp`
    pub fn display(&self) -> String {
        format!(
            "*:{}->{}/{}",
            self.published.unwrap_or(0),
            self.target,
            self.protocol
        )
    }
}

/// A secret or config a service uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectRef {
    pub id: String,
    pub name: String,
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Replicated(u64),
    Global,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub container_labels: BTreeMap<String, String>,
    pub mode: Mode,
    pub constraints: Vec<String>,
    pub max_replicas: u64,
    pub ports: Vec<PortConfig>,
    pub mounts: Vec<String>,
    pub secrets: Vec<ObjectRef>,
    pub configs: Vec<ObjectRef>,
    /// Network IDs.
    pub networks: Vec<String>,
    pub force_update: u64,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `UpdateConfig.FailureAction`: `pause` (Docker's default), `continue` or `rollback`.
    pub update_failure_action: String,
}

impl ServiceSpec {
    pub fn new(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: name.to_owned(),
            image: image.to_owned(),
            command: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            labels: BTreeMap::new(),
            container_labels: BTreeMap::new(),
            mode: Mode::Replicated(1),
            constraints: Vec::new(),
            max_replicas: 0,
            ports: Vec::new(),
            mounts: Vec::new(),
            secrets: Vec::new(),
            configs: Vec::new(),
            networks: Vec::new(),
            force_update: 0,
            hostname: None,
            user: None,
            workdir: None,
            update_failure_action: "pause".to_owned(),
        }
    }

    /// Whether two specs run the same tasks (everything but the mode, replicas and service
    /// labels): a difference replaces every task.
    pub fn same_tasks(&self, other: &ServiceSpec) -> bool {
        self.image == other.image
            && self.command == other.command
            && self.args == other.args
            && self.env == other.env
            && self.container_labels == other.container_labels
            && self.constraints == other.constraints
            && self.max_replicas == other.max_replicas
            && self.ports == other.ports
            && self.mounts == other.mounts
            && self.secrets == other.secrets
            && self.configs == other.configs
            && self.networks == other.networks
            && self.force_update == other.force_update
            && self.hostname == other.hostname
            && self.user == other.user
            && self.workdir == other.workdir
    }

    pub fn stack(&self) -> Option<&str> {
        self.labels
            .get("com.docker.stack.namespace")
            .map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub id: String,
    pub spec: ServiceSpec,
    pub previous_spec: Option<ServiceSpec>,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub version: u64,
    /// Bumped whenever the tasks must be replaced.
    pub template: u64,
    /// The last rolling update's outcome; `None` until the tasks were first replaced.
    pub update_status: Option<UpdateStatus>,
}

/// swarmkit's `UpdateStatus`.
#[derive(Debug, Clone)]
pub(crate) struct UpdateStatus {
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`,
    /// `rollback_completed`.
    pub state: &'static str,
    pub message: String,
    pub started: SystemTime,
    pub completed: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    Pending,
    /// Placed, its container not running yet (only with `Sim::docker_timing`).
    Starting,
    Running,
    /// The node could not start it (its image is nowhere to be found).
    Rejected,
    Shutdown,
}

impl TaskState {
    pub fn title(self) -> &'static str {
        match self {
            TaskState::Pending => "Pending",
            TaskState::Starting => "Starting",
            TaskState::Running => "Running",
            TaskState::Rejected => "Rejected",
            TaskState::Shutdown => "Shutdown",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub service: String,
    /// 1-based for replicated services, 0 for global ones.
    pub slot: u64,
    /// The node it runs on; `None` while pending.
    pub node: Option<String>,
    pub desired_running: bool,
    pub state: TaskState,
    pub since: SystemTime,
    pub error: String,
    pub template: u64,
    pub image: String,
    pub created: SystemTime,
}

impl Task {
    /// Desired state shutdown; with `timing`, a running container takes `timing.stop` to stop.
    fn stop(&mut self, now: SystemTime, timing: Option<&crate::SimTiming>, timers: &mut Timers) {
        match timing {
            Some(timing) if matches!(self.state, TaskState::Running | TaskState::Starting) => {
                self.desired_running = false;
                timers.tasks.insert(self.id.clone(), now + timing.stop);
            }
            _ => self.shut_down(now),
        }
    }

    /// Its container starts: at once, or Starting for `timing.start` with `timing`.
    fn start(&mut self, now: SystemTime, timing: Option<&crate::SimTiming>, timers: &mut Timers) {
        match timing {
            Some(timing) => {
                self.state = TaskState::Starting;
                timers.tasks.insert(self.id.clone(), now + timing.start);
            }
            None => self.state = TaskState::Running,
        }
    }

    fn shut_down(&mut self, now: SystemTime) {
        self.desired_running = false;
        if self.state != TaskState::Shutdown {
            self.state = TaskState::Shutdown;
            self.since = now;
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub id: String,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub version: u64,
    pub ca_digest: String,
    pub worker_secret: String,
    pub manager_secret: String,
    pub unlock_key: Option<String>,
    pub settings: Settings,
    pub leader: Option<String>,
    pub nodes: Vec<Node>,
    pub networks: Vec<Network>,
    pub secrets: Vec<StoredObject>,
    pub configs: Vec<StoredObject>,
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    next_vxlan: u32,
    next_ingress_port: u16,
}

/// A node, service or network lookup that found nothing or too much.
pub(crate) enum LookupError {
    NotFound,
    Ambiguous(usize),
}

impl Cluster {
    pub fn worker_token(&self) -> String {
        format!("SWMTKN-1-{}-{}", self.ca_digest, self.worker_secret)
    }

    pub fn manager_token(&self) -> String {
        format!("SWMTKN-1-{}-{}", self.ca_digest, self.manager_secret)
    }

    pub fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.id == id)
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|node| node.id == id)
    }

    /// Like the daemon's getNode: full ID, then hostname, then ID prefix.
    pub fn find_node(&self, reference: &str) -> Result<usize, LookupError> {
        find(
            &self.nodes,
            reference,
            |node| &node.id,
            |node| node.hostname.eq_ignore_ascii_case(reference),
        )
    }

    pub fn find_service(&self, reference: &str) -> Result<usize, LookupError> {
        find(
            &self.services,
            reference,
            |service| &service.id,
            |service| service.spec.name == reference,
        )
    }

    pub fn find_network(&self, reference: &str) -> Result<usize, LookupError> {
        find(
            &self.networks,
            reference,
            |network| &network.id,
            |network| network.name == reference,
        )
    }

    pub fn managers(&self) -> (usize, usize) {
        let managers = self.nodes.iter().filter(|node| node.role == Role::Manager);
        let total = managers.clone().count();
        let reachable = managers.filter(|node| node.ready).count();
        (reachable, total)
    }

    pub fn manager_status(&self, node: &Node) -> &'static str {
        match node.role {
            Role::Worker => "",
            Role::Manager if self.leader.as_deref() == Some(&node.id) => "Leader",
            Role::Manager if node.ready => "Reachable",
            Role::Manager => "Unreachable",
        }
    }

    /// Keeps the leader while it is a reachable manager and quorum holds, else elects the
    /// first reachable manager, or none without quorum.
    fn elect(&mut self) {
        let (reachable, total) = self.managers();
        if reachable * 2 <= total {
            self.leader = None;
            return;
        }
        if let Some(leader) = &self.leader
            && self
                .node(leader)
                .is_some_and(|node| node.role == Role::Manager && node.ready)
        {
            return;
        }
        self.leader = self
            .nodes
            .iter()
            .find(|node| node.role == Role::Manager && node.ready)
            .map(|node| node.id.clone());
    }

    /// The next free subnet of the default address pools.
    pub fn allocate_subnet(&self) -> Option<Ipv4Net> {
        let used: Vec<Ipv4Net> = self
            .networks
            .iter()
            .filter_map(|network| network.subnet.parse().ok())
            .collect();
        for pool in &self.settings.default_addr_pool {
            let Ok(pool) = pool.parse::<Ipv4Net>() else {
                continue;
            };
            let Ok(subnets) = pool.subnets(self.settings.subnet_size.max(pool.prefix_len())) else {
                continue;
            };
            for subnet in subnets {
                if !used
                    .iter()
                    .any(|other| other.contains(&subnet) || subnet.contains(other))
                {
                    return Some(subnet);
                }
            }
        }
        None
    }

    pub fn next_vxlan(&mut self) -> u32 {
        self.next_vxlan += 1;
        self.next_vxlan
    }

    /// A published port for an ingress port given without one (30000 and up).
    pub fn next_ingress_port(&mut self) -> u16 {
        loop {
            let port = self.next_ingress_port;
            self.next_ingress_port += 1;
            let taken = self.services.iter().any(|service| {
                service
                    .spec
                    .ports
                    .iter()
                    .any(|p| p.mode == PublishMode::Ingress && p.published == Some(port))
            });
            if !taken {
                return port;
            }
        }
    }

    /// The services that use a secret (or config) ID.
    pub fn services_using(&self, id: &str, configs: bool) -> Vec<String> {
        self.services
            .iter()
            .filter(|service| {
                let refs = if configs {
                    &service.spec.configs
                } else {
                    &service.spec.secrets
                };
                refs.iter().any(|reference| reference.id == id)
            })
            .map(|service| service.spec.name.clone())
            .collect()
    }

    pub fn stack_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .services
            .iter()
            .filter_map(|service| service.spec.stack().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Brings tasks in line with services and nodes: replaces outdated tasks, moves tasks off
    /// drained, down and no longer matching nodes, scales, and places pending tasks by spread
    /// (fewest tasks of the service, then fewest tasks). Only a swarm with a leader schedules.
    fn reconcile(
        &mut self,
        rng: &mut Rng,
        missing_images: &BTreeSet<String>,
        timing: Option<&crate::SimTiming>,
        timers: &mut Timers,
    ) {
        if self.leader.is_none() {
            return;
        }
        let now = SystemTime::now();
        let Cluster {
            nodes,
            services,
            tasks,
            settings,
            ..
        } = self;
        let node_index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.id.as_str(), index))
            .collect();
        let service_index: HashMap<&str, usize> = services
            .iter()
            .enumerate()
            .map(|(index, service)| (service.id.as_str(), index))
            .collect();

        tasks.retain(|task| {
            service_index.contains_key(task.service.as_str())
                && task
                    .node
                    .as_deref()
                    .is_none_or(|node| node_index.contains_key(node))
        });

        for task in tasks.iter_mut().filter(|task| task.desired_running) {
            let service = &services[service_index[task.service.as_str()]];
            if task.template != service.template {
                task.stop(now, timing, timers);
                continue;
            }
            let Some(node) = task.node.as_deref().map(|id| &nodes[node_index[id]]) else {
                continue;
            };
            if !node.ready {
                // The node is unreachable: the task is given up as it was last seen.
                task.desired_running = false;
            } else if node.availability == Availability::Drain
                || !constraints_match(&service.spec.constraints, node)
            {
                task.stop(now, timing, timers);
            }
        }

        // Create the missing tasks.
        let mut slots: HashSet<(usize, u64)> = HashSet::new();
        let mut global: HashSet<(usize, usize)> = HashSet::new();
        for task in tasks.iter().filter(|task| task.desired_running) {
            let service = service_index[task.service.as_str()];
            slots.insert((service, task.slot));
            if let Some(node) = task.node.as_deref() {
                global.insert((service, node_index[node]));
            }
        }
        let mut load = Load::new(nodes, tasks, services, &node_index, &service_index);
        for (service_position, service) in services.iter().enumerate() {
            match service.spec.mode {
                Mode::Replicated(replicas) => {
                    tasks.retain(|task| task.service != service.id || task.slot <= replicas);
                    for slot in 1..=replicas {
                        if !slots.contains(&(service_position, slot)) {
                            tasks.push(new_task(rng, service, slot, None, now));
                        }
                    }
                }
                Mode::Global => {
                    for (position, node) in nodes.iter().enumerate() {
                        if global.contains(&(service_position, position)) {
                            continue;
                        }
                        if node.ready
                            && node.availability == Availability::Active
                            && constraints_match(&service.spec.constraints, node)
                            && !load.port_conflict(position, &service.spec)
                        {
                            let mut task = new_task(rng, service, 0, Some(node.id.clone()), now);
                            task.start(now, timing, timers);
                            if let Some(error) = image_error(&service.spec.image, missing_images) {
                                task.state = TaskState::Rejected;
                                task.error = error;
                            }
                            load.add(position, service_position, &service.spec);
                            tasks.push(task);
                        }
                    }
                }
            }
        }

        // Place pending tasks.
        for task in tasks.iter_mut() {
            if !task.desired_running || task.node.is_some() {
                continue;
            }
            let service_position = service_index[task.service.as_str()];
            let service = &services[service_position];
            match load.place(nodes, service_position, service) {
                Ok(position) => {
                    task.node = Some(nodes[position].id.clone());
                    task.since = now;
                    match image_error(&service.spec.image, missing_images) {
                        Some(error) => {
                            task.state = TaskState::Rejected;
                            task.error = error;
                            // swarmkit tries a node where the service just failed last.
                            load.add(position, service_position, &service.spec);
                        }
                        None => {
                            task.start(now, timing, timers);
                            task.error.clear();
                            load.add(position, service_position, &service.spec);
                        }
                    }
                }
                Err(reason) => {
                    task.state = TaskState::Pending;
                    task.error = reason;
                }
            }
        }

        // Keep a bounded history per slot (or per node for global services).
        let limit = settings.task_history_limit.max(0) as usize;
        let mut history: HashMap<(String, u64, String), Vec<(SystemTime, String)>> = HashMap::new();
        for task in tasks.iter().filter(|task| !task.desired_running) {
            history
                .entry((
                    task.service.clone(),
                    task.slot,
                    if task.slot == 0 {
                        task.node.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                ))
                .or_default()
                .push((task.created, task.id.clone()));
        }
        let mut drop: HashSet<String> = HashSet::new();
        for mut entries in history.into_values() {
            if entries.len() > limit {
                entries.sort();
                let excess = entries.len() - limit;
                drop.extend(entries.into_iter().take(excess).map(|(_, id)| id));
            }
        }
        if !drop.is_empty() {
            tasks.retain(|task| !drop.contains(&task.id));
        }
    }
}

/// The error of a task whose image no node has and no registry serves.
fn image_error(image: &str, missing_images: &BTreeSet<String>) -> Option<String> {
    let image = strip_digest(image);
    missing_images
        .contains(image)
        .then(|| format!("No such image: {image}"))
}

/// `nginx:1.27@sha256:…` → `nginx:1.27`, as the CLI shows images.
pub(crate) fn strip_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

impl Cluster {
    /// A rolling update of `services[index]` from `old`, carried to its end at once: when the
    /// new image cannot start, the first new task is rejected and the service's
    /// `update_config.failure_action` decides, as swarmkit's updater does (`rollback`: the
    /// previous spec is restored; `pause`: the update stops there, the old tasks keep
    /// running; `continue`: every task is replaced and fails).
    pub fn roll_out(
        &mut self,
        index: usize,
        old: ServiceSpec,
        missing_images: &BTreeSet<String>,
        rng: &mut Rng,
    ) {
        let now = SystemTime::now();
        let service = &mut self.services[index];
        let Some(error) = image_error(&service.spec.image, missing_images) else {
            service.update_status = Some(UpdateStatus {
                state: "completed",
                message: "update completed".to_owned(),
                started: now,
                completed: Some(now),
            });
            return;
        };
        let failed = rng.base36(25);
        let slot = match service.spec.mode {
            Mode::Replicated(_) => 1,
            Mode::Global => 0,
        };
        let node = self
            .tasks
            .iter()
            .find(|task| task.service == service.id && task.desired_running && task.slot == slot)
            .and_then(|task| task.node.clone());
        self.tasks.push(Task {
            id: failed.clone(),
            service: service.id.clone(),
            slot,
            node,
            desired_running: false,
            state: TaskState::Rejected,
            since: now,
            error,
            template: service.template,
            image: service.spec.image.clone(),
            created: now,
        });
        let (state, message, completed) = match service.spec.update_failure_action.as_str() {
            "rollback" => {
                service.spec = old;
                service.previous_spec = None;
                service.template -= 1;
                (
                    "rollback_completed",
                    "rollback completed".to_owned(),
                    Some(now),
                )
            }
            "continue" => ("completed", "update completed".to_owned(), Some(now)),
            _ => {
                service.template -= 1;
                (
                    "paused",
                    format!("update paused due to failure or early termination of task {failed}"),
                    None,
                )
            }
        };
        service.update_status = Some(UpdateStatus {
            state,
            message,
            started: now,
            completed,
        });
    }
}

fn new_task(
    rng: &mut Rng,
    service: &Service,
    slot: u64,
    node: Option<String>,
    now: SystemTime,
) -> Task {
    Task {
        id: rng.base36(25),
        service: service.id.clone(),
        slot,
        node,
        desired_running: true,
        state: TaskState::Pending,
        since: now,
        error: String::new(),
        template: service.template,
        image: service.spec.image.clone(),
        created: now,
    }
}

/// Running tasks per node, per service and node, and the host ports they hold.
struct Load {
    total: Vec<usize>,
    per_service: HashMap<(usize, usize), usize>,
    host_ports: Vec<HashSet<(u16, String)>>,
}

impl Load {
    fn new(
        nodes: &[Node],
        tasks: &[Task],
        services: &[Service],
        node_index: &HashMap<&str, usize>,
        service_index: &HashMap<&str, usize>,
    ) -> Load {
        let mut load = Load {
            total: vec![0; nodes.len()],
            per_service: HashMap::new(),
            host_ports: vec![HashSet::new(); nodes.len()],
        };
        for task in tasks.iter().filter(|task| task.desired_running) {
            if let Some(node) = task.node.as_deref() {
                let service = service_index[task.service.as_str()];
                load.add(node_index[node], service, &services[service].spec);
            }
        }
        load
    }

    fn add(&mut self, node: usize, service: usize, spec: &ServiceSpec) {
        self.total[node] += 1;
        *self.per_service.entry((service, node)).or_default() += 1;
        for port in spec
            .ports
            .iter()
            .filter(|port| port.mode == PublishMode::Host)
        {
            if let Some(published) = port.published {
                self.host_ports[node].insert((published, port.protocol.clone()));
            }
        }
    }

    fn port_conflict(&self, node: usize, spec: &ServiceSpec) -> bool {
        spec.ports.iter().any(|port| {
            port.mode == PublishMode::Host
                && port.published.is_some_and(|published| {
                    self.host_ports[node].contains(&(published, port.protocol.clone()))
                })
        })
    }

    fn place(
        &self,
        nodes: &[Node],
        service_position: usize,
        service: &Service,
    ) -> Result<usize, String> {
        let mut unavailable = 0;
        let mut constraints = 0;
        let mut ports = 0;
        let mut max_replicas = 0;
        let mut best: Option<(usize, usize, usize)> = None;
        for (position, node) in nodes.iter().enumerate() {
            if !node.ready || node.availability != Availability::Active {
                unavailable += 1;
                continue;
            }
            if !constraints_match(&service.spec.constraints, node) {
                constraints += 1;
                continue;
            }
            if self.port_conflict(position, &service.spec) {
                ports += 1;
                continue;
            }
            let same = self
                .per_service
                .get(&(service_position, position))
                .copied()
                .unwrap_or(0);
            if service.spec.max_replicas > 0 && same as u64 >= service.spec.max_replicas {
                max_replicas += 1;
                continue;
            }
            let key = (same, self.total[position], position);
            if best.is_none_or(|current| key < current) {
                best = Some(key);
            }
        }
        if let Some((_, _, position)) = best {
            return Ok(position);
        }
        let count = |n: usize, what: &str| {
            if n == 1 {
                format!("{what} on 1 node")
            } else {
                format!("{what} on {n} nodes")
            }
        };
        let mut reasons = Vec::new();
        if unavailable > 0 {
            reasons.push(if unavailable == 1 {
                "1 node not available for new tasks".to_owned()
            } else {
                format!("{unavailable} nodes not available for new tasks")
            });
        }
        if constraints > 0 {
            reasons.push(count(constraints, "scheduling constraints not satisfied"));
        }
        if ports > 0 {
            reasons.push(count(ports, "host-mode port already in use"));
        }
        if max_replicas > 0 {
            reasons.push("max replicas per node limit exceed".to_owned());
        }
        if reasons.is_empty() {
            Err("no suitable node".to_owned())
        } else {
            Err(format!("no suitable node ({})", reasons.join("; ")))
        }
    }
}

/// Whether a placement constraint (`node.role == manager`, `node.labels.k != v`, ...) holds.
pub(crate) fn constraints_match(constraints: &[String], node: &Node) -> bool {
    constraints.iter().all(|constraint| {
        let Some((key, equal, value)) = parse_constraint(constraint) else {
            return false;
        };
        let actual: Option<String> = match key.as_str() {
            "node.id" => Some(node.id.clone()),
            "node.hostname" => Some(node.hostname.clone()),
            "node.role" => Some(node.role.as_str().to_owned()),
            "node.platform.os" => Some("linux".to_owned()),
            "node.platform.arch" => Some(node.arch.clone()),
            "node.ip" => Some(node.addr.clone()),
            key => key
                .strip_prefix("node.labels.")
                .and_then(|label| node.labels.get(label).cloned()),
        };
        let same = actual.is_some_and(|actual| actual.eq_ignore_ascii_case(&value));
        same == equal
    })
}

/// `KEY == VALUE` or `KEY != VALUE`.
pub(crate) fn parse_constraint(constraint: &str) -> Option<(String, bool, String)> {
    let (index, equal) = match (constraint.find("=="), constraint.find("!=")) {
        (Some(eq), Some(ne)) => {
            if eq < ne {
                (eq, true)
            } else {
                (ne, false)
            }
        }
        (Some(eq), None) => (eq, true),
        (None, Some(ne)) => (ne, false),
        (None, None) => return None,
    };
    let key = constraint[..index].trim();
    let value = constraint[index + 2..].trim();
    if key.is_empty() || value.is_empty() {
        return None;
    }
    Some((key.to_owned(), equal, value.to_owned()))
}

fn find<T>(
    items: &[T],
    reference: &str,
    id: impl Fn(&T) -> &String,
    name_matches: impl Fn(&T) -> bool,
) -> Result<usize, LookupError> {
    if let Some(index) = items.iter().position(|item| id(item) == reference) {
        return Ok(index);
    }
    let by_name: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| name_matches(item))
        .map(|(index, _)| index)
        .collect();
    let matches = if by_name.is_empty() && !reference.is_empty() {
        items
            .iter()
            .enumerate()
            .filter(|(_, item)| id(item).starts_with(reference))
            .map(|(index, _)| index)
            .collect()
    } else {
        by_name
    };
    match matches.as_slice() {
        [] => Err(LookupError::NotFound),
        [index] => Ok(*index),
        many => Err(LookupError::Ambiguous(many.len())),
    }
}

/// Whether managers see a node as Ready: at once when it answers, and with `timing` until a
/// heartbeat period has passed since it stopped answering (a node that left included).
fn heartbeat(
    up: bool,
    node: &str,
    now: SystemTime,
    timing: Option<&crate::SimTiming>,
    timers: &mut Timers,
) -> bool {
    let Some(timing) = timing else {
        return up;
    };
    if up {
        timers.nodes_down.remove(node);
        return true;
    }
    let since = *timers.nodes_down.entry(node.to_owned()).or_insert(now);
    now.duration_since(since)
        .is_ok_and(|elapsed| elapsed < timing.heartbeat)
}

impl Cluster {
    /// With `Sim::docker_timing`: tasks whose desired state changed get there once their time
    /// has come. A task told to stop keeps running for `timing.stop`; a task placed on a node
    /// is Starting for `timing.start`.
    fn advance(&mut self, now: SystemTime, timing: &crate::SimTiming, timers: &mut Timers) {
        for task in &mut self.tasks {
            let (wait, next) = match (task.desired_running, task.state) {
                (false, TaskState::Running | TaskState::Starting) => {
                    (timing.stop, TaskState::Shutdown)
                }
                (true, TaskState::Starting) => (timing.start, TaskState::Running),
                _ => continue,
            };
            let at = *timers.tasks.entry(task.id.clone()).or_insert(now + wait);
            if at <= now {
                task.state = next;
                task.since = at;
                timers.tasks.remove(&task.id);
            }
        }
        let live: HashSet<&str> = self.tasks.iter().map(|task| task.id.as_str()).collect();
        timers.tasks.retain(|id, _| live.contains(id.as_str()));
    }
}

/// Recomputes node readiness from the hosts, elects leaders, reschedules tasks, and forgets
/// swarms no host belongs to any more.
pub(crate) fn refresh(world: &mut World) {
    let World {
        hosts,
        clusters,
        rng,
        missing_images,
        timing,
        timers,
        ..
    } = world;
    let now = SystemTime::now();
    for cluster in clusters.values_mut() {
        for node in &mut cluster.nodes {
            let host = &hosts[node.host];
            let up = !node.left
                && host.dockerd_running
                && host.swarm.as_ref().is_some_and(|member| {
                    member.cluster == cluster.id && member.node == node.id && !member.locked
                });
            node.ready = heartbeat(up, &node.id, now, timing.as_ref(), timers);
        }
        cluster.elect();
        if let Some(timing) = timing {
            cluster.advance(now, timing, timers);
        }
        cluster.reconcile(rng, missing_images, timing.as_ref(), timers);
    }
    clusters.retain(|id, _| {
        hosts.iter().any(|host| {
            host.swarm
                .as_ref()
                .is_some_and(|member| &member.cluster == id)
        })
    });
}

/// Go's `time.ParseDuration` (`90s`, `1h30m`, `2160h0m0s`) in nanoseconds.
pub(crate) fn parse_go_duration(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_end == 0 {
            return None;
        }
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Some(total as u64)
}

/// Go's `time.Duration.String()`: `2160h0m0s`, `5s`, `1m30s`, `500ms`.
pub(crate) fn go_duration_string(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        if nanos.is_multiple_of(1_000_000) {
            return format!("{}ms", nanos / 1_000_000);
        }
        if nanos.is_multiple_of(1_000) {
            return format!("{}µs", nanos / 1_000);
        }
        return format!("{nanos}ns");
    }
    let seconds_total = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let hours = seconds_total / 3600;
    let minutes = (seconds_total % 3600) / 60;
    let seconds = seconds_total % 60;
    let seconds_text = if fraction == 0 {
        format!("{seconds}s")
    } else {
        let digits = format!("{fraction:09}");
        format!("{seconds}.{}s", digits.trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds_text}")
    } else if minutes > 0 {
        format!("{minutes}m{seconds_text}")
    } else {
        seconds_text
    }
}

fn unlock_key(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let key: String = (0..43)
        .map(|_| ALPHABET[rng.below(64) as usize] as char)
        .collect();
    format!("SWMKEY-1-{key}")
}

pub(crate) fn unlock_text(key: &str) -> String {
    format!(
        "To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n    {key}\n\nPlease remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n"
    )
}

fn join_text(role: &str, token: &str, address: &str) -> String {
    format!(
        "To add a {role} to this swarm, run the following command:\n\n    docker swarm join --token {token} {address}\n\n"
    )
}

/// An address flag: an IP or an interface name (the host's one address), with an optional
/// port.
fn resolve_address(text: &str, host: &Host, listen: bool) -> Result<(String, Option<u16>), Output> {
    let (address, port) = match text.rsplit_once(':') {
        Some((address, port)) if !address.contains(':') => match port.parse::<u16>() {
            Ok(port) => (address, Some(port)),
            Err(_) => {
                return Err(daemon_error(&format!("invalid port number {port}")));
            }
        },
        _ => (text, None),
    };
    if let Ok(ip) = address.parse::<Ipv4Addr>() {
        if ip.is_unspecified() && !listen {
            return Err(daemon_error(
                "advertise address must be a non-zero IP address or network interface (with optional port number)",
            ));
        }
        return Ok((ip.to_string(), port));
    }
    if address.parse::<std::net::IpAddr>().is_ok() {
        return Ok((address.to_owned(), port));
    }
    if matches!(
        address,
        "eth0" | "ens3" | "ens4" | "ens18" | "enp0s3" | "eno1"
    ) {
        return Ok((host.address.to_string(), port));
    }
    Err(daemon_error(&format!(
        "interface {address} has no usable IPv4 or IPv6 address"
    )))
}

fn parse_duration_flag(path: &str, flag: &str, value: Option<&str>) -> Result<Option<u64>, Output> {
    match value {
        None => Ok(None),
        Some(text) => parse_go_duration(text).map(Some).ok_or_else(|| {
            usage_error(
                path,
                &format!("invalid argument \"{text}\" for \"--{flag}\" flag: time: invalid duration \"{text}\""),
            )
        }),
    }
}

fn parse_number_flag<T: std::str::FromStr>(
    path: &str,
    flag: &str,
    value: Option<&str>,
    parser: &str,
) -> Result<Option<T>, Output> {
    match value {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            usage_error(
                path,
                &format!("invalid argument \"{text}\" for \"--{flag}\" flag: {parser}: parsing \"{text}\": invalid syntax"),
            )
        }),
    }
}

/// Applies the settings flags shared by `swarm init` and `swarm update`.
fn apply_settings(path: &str, flags: &Flags, settings: &mut Settings) -> Result<(), Output> {
    if let Some(expiry) = parse_duration_flag(path, "cert-expiry", flags.value("cert-expiry"))? {
        if expiry < 3600 * 1_000_000_000 {
            return Err(daemon_error(
                "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s",
            ));
        }
        settings.cert_expiry = expiry;
    }
    if let Some(heartbeat) = parse_duration_flag(
        path,
        "dispatcher-heartbeat",
        flags.value("dispatcher-heartbeat"),
    )? {
        settings.dispatcher_heartbeat = heartbeat;
    }
    if let Some(value) = parse_number_flag(
        path,
        "max-snapshots",
        flags.value("max-snapshots"),
        "strconv.ParseUint",
    )? {
        settings.max_snapshots = value;
    }
    if let Some(value) = parse_number_flag(
        path,
        "snapshot-interval",
        flags.value("snapshot-interval"),
        "strconv.ParseUint",
    )? {
        settings.snapshot_interval = value;
    }
    if let Some(value) = parse_number_flag(
        path,
        "task-history-limit",
        flags.value("task-history-limit"),
        "strconv.ParseInt",
    )? {
        settings.task_history_limit = value;
    }
    Ok(())
}

pub(crate) fn command(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker swarm COMMAND\n\nManage Swarm\n\nCommands:\n  ca          Display and rotate the root CA\n  init        Initialize a swarm\n  join        Join a swarm as a node and/or manager\n  join-token  Manage join tokens\n  leave       Leave the swarm\n  unlock      Unlock swarm\n  unlock-key  Manage the unlock key\n  update      Update the swarm\n\nRun 'docker swarm COMMAND --help' for more information on a command.\n",
        );
    };
    let result = match sub {
        "init" => init(ctx, rest),
        "join" => join(ctx, rest),
        "join-token" => join_token(ctx, rest),
        "leave" => leave(ctx, rest),
        "update" => update(ctx, rest),
        "unlock-key" => unlock_key_command(ctx, rest),
        "unlock" => unlock(ctx),
        other => Err(Output::error(
            format!("docker: 'swarm {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

fn init(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm init";
    let flags = Flags::parse(
        path,
        &[
            "advertise-addr=",
            "listen-addr=",
            "data-path-addr=",
            "data-path-port=",
            "default-addr-pool=*",
            "default-addr-pool-mask-length=",
            "autolock",
            "cert-expiry=",
            "dispatcher-heartbeat=",
            "max-snapshots=",
            "snapshot-interval=",
            "task-history-limit=",
            "availability=",
            "force-new-cluster",
            "external-ca=*",
        ],
        args,
        true,
    )?;
    if !flags.args.is_empty() {
        return Err(Output::error(
            "\"docker swarm init\" accepts no arguments.\nSee 'docker swarm init --help'.\n\nUsage:  docker swarm init [OPTIONS]\n\nInitialize a swarm",
            1,
        ));
    }
    ctx.require_daemon()?;
    let mut settings = Settings::default();
    apply_settings(path, &flags, &mut settings)?;
    for pool in flags.values("default-addr-pool") {
        if pool.parse::<Ipv4Net>().is_err() {
            return Err(usage_error(
                path,
                &format!(
                    "invalid argument \"{pool}\" for \"--default-addr-pool\" flag: invalid CIDR address: {pool}"
                ),
            ));
        }
    }
    if !flags.values("default-addr-pool").is_empty() {
        settings.default_addr_pool = flags.values("default-addr-pool").to_vec();
    }
    if let Some(mask) = parse_number_flag::<u8>(
        path,
        "default-addr-pool-mask-length",
        flags.value("default-addr-pool-mask-length"),
        "strconv.ParseUint",
    )? {
        settings.subnet_size = mask;
    }
    if let Some(port) = parse_number_flag::<u16>(
        path,
        "data-path-port",
        flags.value("data-path-port"),
        "strconv.ParseUint",
    )? {
        if !(1024..=49151).contains(&port) {
            return Err(daemon_error(&format!(
                "data path port {port} is not in the allowed range 1024-49151"
            )));
        }
        settings.data_path_port = port;
    }
    let availability = match flags.value("availability") {
        None => Availability::Active,
        Some(text) => Availability::parse(text).ok_or_else(|| {
            Output::error(
                format!(
                    "invalid availability \"{text}\", only active, pause and drain are supported"
                ),
                1,
            )
        })?,
    };
    settings.autolock = flags.bool("autolock");

    let World {
        rng,
        hosts,
        clusters,
        ..
    } = &mut *ctx.world;
    let host = &mut hosts[ctx.host];
    if let Some(member) = host.swarm.clone()
        && flags.bool("force-new-cluster")
        && let Some(cluster) = clusters.get_mut(&member.cluster)
        && cluster
            .node(&member.node)
            .is_some_and(|node| node.role == Role::Manager)
    {
        // The raft cluster restarts with this manager alone; the other managers leave it (the
        // simulator records them as workers) and the swarm's state is kept.
        for node in &mut cluster.nodes {
            if node.id != member.node && node.role == Role::Manager {
                node.role = Role::Worker;
            }
        }
        cluster.leader = Some(member.node.clone());
        cluster.bump();
        let manager_address = cluster
            .node(&member.node)
            .map(Node::manager_addr)
            .unwrap_or_default();
        let worker_token = cluster.worker_token();
        refresh(ctx.world);
        let mut out = format!(
            "Swarm initialized: current node ({}) is now a manager.\n\n",
            member.node
        );
        out.push_str(&join_text("worker", &worker_token, &manager_address));
        out.push_str(
            "To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n",
        );
        return Ok(Output::ok(out));
    }
    if host.swarm.is_some() {
        return Err(daemon_error(
            "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.",
        ));
    }
    let listen_port = match flags.value("listen-addr") {
        Some(listen) => resolve_address(listen, host, true)?.1.unwrap_or(SWARM_PORT),
        None => SWARM_PORT,
    };
    let (addr, advertise_port) = match flags.value("advertise-addr") {
        Some(text) => resolve_address(text, host, false)?,
        None => (host.address.to_string(), None),
    };
    if let Some(data_path) = flags.value("data-path-addr") {
        resolve_address(data_path, host, false)?;
    }
    let now = SystemTime::now();
    let node_id = rng.base36(25);
    let cluster_id = rng.base36(25);
    let mut cluster = Cluster {
        id: cluster_id.clone(),
        created: now,
        updated: now,
        version: 10,
        ca_digest: rng.base36(50),
        worker_secret: rng.base36(25),
        manager_secret: rng.base36(25),
        unlock_key: settings.autolock.then(|| unlock_key(rng)),
        settings,
        leader: Some(node_id.clone()),
        nodes: vec![Node {
            id: node_id.clone(),
            host: ctx.host,
            hostname: host.hostname.clone(),
            role: Role::Manager,
            availability,
            labels: BTreeMap::new(),
            addr: addr.clone(),
            manager_port: advertise_port.unwrap_or(listen_port),
            arch: host.arch.clone(),
            engine_version: host.docker_version.clone(),
            ready: true,
            left: false,
            created: now,
            updated: now,
            version: 9,
        }],
        networks: Vec::new(),
        secrets: Vec::new(),
        configs: Vec::new(),
        services: Vec::new(),
        tasks: Vec::new(),
        next_vxlan: 4095,
        next_ingress_port: 30000,
    };
    let subnet = cluster
        .allocate_subnet()
        .unwrap_or_else(|| Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 24).unwrap_or_default());
    let vxlan = cluster.next_vxlan();
    cluster.networks.push(Network {
        id: rng.base36(25),
        name: "ingress".to_owned(),
        driver: "overlay".to_owned(),
        attachable: false,
        ingress: true,
        internal: false,
        ipv6: false,
        labels: BTreeMap::new(),
        options: BTreeMap::from([(
            "com.docker.network.driver.overlay.vxlanid_list".to_owned(),
            vxlan.to_string(),
        )]),
        subnet: subnet.to_string(),
        gateway: gateway_of(&subnet),
        ip_range: None,
        created: now,
    });
    let manager_address = cluster.nodes[0].manager_addr();
    let worker_token = cluster.worker_token();
    let unlock = cluster.unlock_key.clone();
    clusters.insert(cluster_id.clone(), cluster);
    host.swarm = Some(Membership {
        cluster: cluster_id,
        node: node_id.clone(),
        locked: false,
        settles_at: None,
    });
    add_gateway_bridge(host, rng);
    refresh(ctx.world);

    let mut out = format!("Swarm initialized: current node ({node_id}) is now a manager.\n\n");
    out.push_str(&join_text("worker", &worker_token, &manager_address));
    out.push_str(
        "To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n",
    );
    if let Some(key) = unlock {
        out.push_str(&unlock_text(&key));
    }
    Ok(Output::ok(out))
}

pub(crate) fn gateway_of(subnet: &Ipv4Net) -> String {
    let network = u32::from(subnet.network());
    Ipv4Addr::from(network.saturating_add(1)).to_string()
}

fn add_gateway_bridge(host: &mut Host, rng: &mut Rng) {
    if !host
        .local_networks
        .iter()
        .any(|network| network.name == "docker_gwbridge")
    {
        host.local_networks.push(LocalNetwork {
            id: rng.hex(64),
            name: "docker_gwbridge".to_owned(),
            driver: "bridge".to_owned(),
            created: SystemTime::now(),
        });
    }
}

fn join(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm join";
    let flags = Flags::parse(
        path,
        &[
            "token=",
            "advertise-addr=",
            "listen-addr=",
            "data-path-addr=",
            "availability=",
        ],
        args,
        true,
    )?;
    super::flags::require_exact(
        path,
        "[OPTIONS] HOST:PORT",
        "Join a swarm as a node and/or manager",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let target = flags.args[0].clone();
    let availability = match flags.value("availability") {
        None => Availability::Active,
        Some(text) => Availability::parse(text).ok_or_else(|| {
            Output::error(
                format!(
                    "invalid availability \"{text}\", only active, pause and drain are supported"
                ),
                1,
            )
        })?,
    };
    let World {
        rng,
        hosts,
        clusters,
        ..
    } = &mut *ctx.world;
    if hosts[ctx.host].swarm.is_some() {
        return Err(daemon_error(
            "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.",
        ));
    }
    let (remote_address, remote_port) = match target.rsplit_once(':') {
        Some((address, port)) if !address.contains(':') => {
            (address.to_owned(), port.parse::<u16>().unwrap_or(0))
        }
        _ => (target.clone(), SWARM_PORT),
    };
    let host = &hosts[ctx.host];
    let (addr, advertise_port) = match flags.value("advertise-addr") {
        Some(text) => resolve_address(text, host, false)?,
        None => (host.address.to_string(), None),
    };
    let listen_port = match flags.value("listen-addr") {
        Some(listen) => resolve_address(listen, host, true)?.1.unwrap_or(SWARM_PORT),
        None => SWARM_PORT,
    };
    let Some(cluster) = clusters.values_mut().find(|cluster| {
        cluster.nodes.iter().any(|node| {
            node.role == Role::Manager
                && node.ready
                && node.addr == remote_address
                && node.manager_port == remote_port
        })
    }) else {
        return Err(daemon_error(&format!(
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing dial tcp {remote_address}:{remote_port}: connect: connection refused\""
        )));
    };
    let token = flags.value("token").unwrap_or("");
    let role = if token == cluster.worker_token() {
        Role::Worker
    } else if token == cluster.manager_token() {
        Role::Manager
    } else if !token.is_empty() && !well_formed_token(token) {
        return Err(daemon_error("invalid join token"));
    } else {
        return Err(daemon_error(
            "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster",
        ));
    };
    if cluster.leader.is_none() {
        return Err(Output::error(NO_LEADER, 1));
    }
    let now = SystemTime::now();
    let node_id = rng.base36(25);
    let version = cluster.bump();
    cluster.nodes.push(Node {
        id: node_id.clone(),
        host: ctx.host,
        hostname: host.hostname.clone(),
        role,
        availability,
        labels: BTreeMap::new(),
        addr,
        manager_port: advertise_port.unwrap_or(listen_port),
        arch: host.arch.clone(),
        engine_version: host.docker_version.clone(),
        ready: true,
        left: false,
        created: now,
        updated: now,
        version,
    });
    let cluster_id = cluster.id.clone();
    let host = &mut hosts[ctx.host];
    host.swarm = Some(Membership {
        cluster: cluster_id,
        node: node_id,
        locked: false,
        settles_at: (!host.join_takes.is_zero())
            .then(|| std::time::Instant::now() + host.join_takes),
    });
    add_gateway_bridge(host, rng);
    refresh(ctx.world);
    Ok(Output::ok(format!(
        "This node joined a swarm as a {}.\n",
        role.as_str()
    )))
}

fn well_formed_token(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    parts.len() == 4
        && parts[0] == "SWMTKN"
        && parts[1] == "1"
        && parts[2].len() == 50
        && parts[3].len() == 25
}

fn join_token(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm join-token";
    let flags = Flags::parse(path, &["quiet,q", "rotate"], args, true)?;
    super::flags::require_exact(
        path,
        "[OPTIONS] (worker|manager)",
        "Manage join tokens",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let role = flags.args[0].clone();
    if role != "worker" && role != "manager" {
        return Err(Output::error(format!("unknown role {role}"), 1));
    }
    let (cluster_id, node_id) = ctx.require_manager()?;
    let World { rng, clusters, .. } = &mut *ctx.world;
    let cluster = clusters
        .get_mut(&cluster_id)
        .ok_or_else(|| Output::error(NOT_MANAGER_INACTIVE, 1))?;
    let mut out = String::new();
    if flags.bool("rotate") {
        if role == "worker" {
            cluster.worker_secret = rng.base36(25);
        } else {
            cluster.manager_secret = rng.base36(25);
        }
        cluster.bump();
        if !flags.bool("quiet") {
            out.push_str(&format!("Successfully rotated {role} join token.\n\n"));
        }
    }
    let token = if role == "worker" {
        cluster.worker_token()
    } else {
        cluster.manager_token()
    };
    if flags.bool("quiet") {
        out.push_str(&token);
        out.push('\n');
        return Ok(Output::ok(out));
    }
    let address = cluster
        .node(&node_id)
        .map(Node::manager_addr)
        .unwrap_or_default();
    out.push_str(&join_text(&role, &token, &address));
    Ok(Output::ok(out))
}

fn leave(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm leave";
    let flags = Flags::parse(path, &["force,f"], args, true)?;
    if !flags.args.is_empty() {
        return Err(Output::error(
            "\"docker swarm leave\" accepts no arguments.\nSee 'docker swarm leave --help'.\n\nUsage:  docker swarm leave [OPTIONS]\n\nLeave the swarm",
            1,
        ));
    }
    ctx.require_daemon()?;
    let World {
        hosts, clusters, ..
    } = &mut *ctx.world;
    let Some(member) = hosts[ctx.host].swarm.clone() else {
        return Err(Output::error(NOT_IN_SWARM, 1));
    };
    let cluster = clusters
        .get_mut(&member.cluster)
        .ok_or_else(|| Output::error(NOT_IN_SWARM, 1))?;
    let is_manager = cluster
        .node(&member.node)
        .is_some_and(|node| node.role == Role::Manager);
    if is_manager && !flags.bool("force") {
        let mut message = String::from(
            "You are attempting to leave the swarm on a node that is participating as a manager. ",
        );
        if cluster.leader.is_some() {
            let reachable = cluster
                .nodes
                .iter()
                .filter(|node| node.role == Role::Manager && node.ready)
                .count();
            let unreachable = cluster
                .nodes
                .iter()
                .filter(|node| node.role == Role::Manager && !node.ready)
                .count();
            if reachable.saturating_sub(2) <= unreachable && reachable >= 1 {
                if reachable == 1 && unreachable == 0 {
                    message.push_str(
                        "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ",
                    );
                    return Err(daemon_error(&message));
                }
                if reachable as i64 - 2 <= unreachable as i64 {
                    message.push_str(&format!(
                        "Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm will be inaccessible. ",
                        reachable - 1,
                        reachable + unreachable
                    ));
                }
            }
        }
        message.push_str(
            "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.",
        );
        return Err(daemon_error(&message));
    }
    if let Some(node) = cluster.node_mut(&member.node) {
        node.left = true;
        node.ready = false;
    }
    let host = &mut hosts[ctx.host];
    host.swarm = None;
    host.local_networks
        .retain(|network| network.name != "docker_gwbridge");
    refresh(ctx.world);
    Ok(Output::ok("Node left the swarm.\n"))
}

fn update(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm update";
    let flags = Flags::parse(
        path,
        &[
            "autolock",
            "cert-expiry=",
            "dispatcher-heartbeat=",
            "max-snapshots=",
            "snapshot-interval=",
            "task-history-limit=",
            "external-ca=*",
        ],
        args,
        true,
    )?;
    if !flags.args.is_empty() {
        return Err(Output::error(
            "\"docker swarm update\" accepts no arguments.\nSee 'docker swarm update --help'.\n\nUsage:  docker swarm update [OPTIONS]\n\nUpdate the swarm",
            1,
        ));
    }
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let World { rng, clusters, .. } = &mut *ctx.world;
    let cluster = clusters
        .get_mut(&cluster_id)
        .ok_or_else(|| Output::error(NOT_MANAGER_INACTIVE, 1))?;
    let mut settings = cluster.settings.clone();
    apply_settings(path, &flags, &mut settings)?;
    let previous_autolock = settings.autolock;
    if let Some(autolock) = flags.bool_given("autolock") {
        settings.autolock = autolock;
    }
    let enabled = settings.autolock && !previous_autolock;
    if settings.autolock && cluster.unlock_key.is_none() {
        cluster.unlock_key = Some(unlock_key(rng));
    }
    if !settings.autolock {
        cluster.unlock_key = None;
    }
    cluster.settings = settings;
    cluster.updated = SystemTime::now();
    cluster.bump();
    let mut out = String::from("Swarm updated.\n");
    if enabled && let Some(key) = &cluster.unlock_key {
        out.push_str(&unlock_text(key));
    }
    Ok(Output::ok(out))
}

fn unlock_key_command(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker swarm unlock-key";
    let flags = Flags::parse(path, &["quiet,q", "rotate"], args, true)?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let World { rng, clusters, .. } = &mut *ctx.world;
    let cluster = clusters
        .get_mut(&cluster_id)
        .ok_or_else(|| Output::error(NOT_MANAGER_INACTIVE, 1))?;
    let mut out = String::new();
    if flags.bool("rotate") {
        if !cluster.settings.autolock {
            return Err(Output::error(
                "cannot rotate because autolock is not turned on",
                1,
            ));
        }
        cluster.unlock_key = Some(unlock_key(rng));
        if !flags.bool("quiet") {
            out.push_str("Successfully rotated manager unlock key.\n\n");
        }
    }
    let Some(key) = cluster.unlock_key.clone() else {
        return Err(Output::error("no unlock key is set", 1));
    };
    if flags.bool("quiet") {
        out.push_str(&key);
        out.push('\n');
    } else {
        out.push_str(&unlock_text(&key));
    }
    Ok(Output::ok(out))
}

/// `docker swarm unlock`: the key is read from standard input (the CLI prompts on a terminal).
fn unlock(ctx: &mut Ctx<'_>) -> Result<Output, Output> {
    ctx.require_daemon()?;
    let Some(member) = ctx.world.hosts[ctx.host].swarm.clone() else {
        return Err(Output::error(NOT_MANAGER_INACTIVE, 1));
    };
    if !member.locked {
        return Err(daemon_error("swarm is not locked"));
    }
    let given = String::from_utf8_lossy(&ctx.stdin).trim().to_owned();
    let key = ctx
        .world
        .clusters
        .get(&member.cluster)
        .and_then(|cluster| cluster.unlock_key.clone());
    if key.as_deref() != Some(given.as_str()) {
        return Err(daemon_error(
            "swarm could not be unlocked: invalid key provided",
        ));
    }
    if let Some(member) = ctx.world.hosts[ctx.host].swarm.as_mut() {
        member.locked = false;
    }
    refresh(ctx.world);
    Ok(Output::default())
}

/// A manager of an autolocked swarm comes back from a dockerd restart locked.
pub(crate) fn lock_after_restart(world: &mut World, index: usize) {
    let Some(member) = world.hosts[index].swarm.as_ref() else {
        return;
    };
    let locks = world.clusters.get(&member.cluster).is_some_and(|cluster| {
        cluster.unlock_key.is_some()
            && cluster
                .node(&member.node)
                .is_some_and(|node| node.role == Role::Manager)
    });
    if locks && let Some(member) = world.hosts[index].swarm.as_mut() {
        member.locked = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go durations parse and print the way swarm settings show them.
    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("2160h"),
            Some(2160 * 3600 * 1_000_000_000)
        );
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse_go_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_go_duration("nope"), None);
        assert_eq!(go_duration_string(2160 * 3600 * 1_000_000_000), "2160h0m0s");
        assert_eq!(go_duration_string(5_000_000_000), "5s");
        assert_eq!(go_duration_string(90_000_000_000), "1m30s");
    }

    // Constraints compare case-insensitively and a missing label only satisfies `!=`.
    #[test]
    fn constraints() {
        let node = Node {
            id: "abc".to_owned(),
            host: 0,
            hostname: "Node1".to_owned(),
            role: Role::Manager,
            availability: Availability::Active,
            labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
            addr: "10.0.0.1".to_owned(),
            manager_port: 2377,
            arch: "x86_64".to_owned(),
            engine_version: ENGINE_VERSION.to_owned(),
            ready: true,
            left: false,
            created: SystemTime::now(),
            updated: SystemTime::now(),
            version: 1,
        };
        let check = |c: &str| constraints_match(&[c.to_owned()], &node);
        assert!(check("node.role == manager"));
        assert!(check("node.hostname==node1"));
        assert!(check("node.labels.zone == a"));
        assert!(!check("node.labels.disk == ssd"));
        assert!(check("node.labels.disk != ssd"));
        assert!(!check("node.role"));
    }
}
