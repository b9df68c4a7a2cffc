//! The plan as a dependency graph. An edge `a -> b` means "a happens before b". The graph is
//! built by a list of small steps, each adding one kind of edge, then checked for cycles before
//! anything walks it.
//!
//! A change is one vertex, except a replacement, which is two: its destroy and its create
//! (create first for create-before-destroy resources such as versioned secrets).
//!
//! A dependency on a group (`node.*`: a stack waits for every node) goes through two barrier
//! vertices that belong to no change, `node.*` after every node's apply and `node.* (destroy)`
//! before every node's destroy; the executor settles them like no-ops. The swarm's teardown
//! order goes through the same destroy barriers. So the graph grows with hosts + stacks, not
//! hosts × stacks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::model::{Action, Change, Plan, Step};
use crate::address::{Address, Kind};
pub use crate::change::{Phase, Vertex};
use crate::swarm::{NodeStep, PrimitiveStep, SwarmStep};

/// Why an edge exists; shown by `swarmform graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Dependency,
    Replacement,
    ManagersOneAtATime,
    WorkersBeforeManagers,
    RestartsOneAtATime,
    RestartsInBatches,
    JoinsBeforeRotation,
    SwarmTeardown,
}

#[derive(Debug)]
pub struct Graph {
    pub graph: DiGraph<Vertex, Edge>,
    /// Each address's vertex per phase, looked up without building a `Vertex`.
    apply: HashMap<Address, NodeIndex>,
    destroy: HashMap<Address, NodeIndex>,
    /// The barriers made so far, by group: apply and destroy vertex, and whether a member is
    /// create-before-destroy.
    groups: HashMap<Address, Barrier>,
    /// The edges added so far, so `edge` skips a duplicate in constant time (petgraph's
    /// `contains_edge` walks the vertex's edges: quadratic when one vertex, the swarm, precedes
    /// thousands).
    edges: HashSet<(NodeIndex, NodeIndex)>,
}

/// A group's barrier vertices (see the module's doc).
#[derive(Debug, Clone, Copy)]
struct Barrier {
    apply: Option<NodeIndex>,
    destroy: Option<NodeIndex>,
    create_before_destroy: bool,
}

/// The plan's graph contains a cycle; names the vertices in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {}\nhint: remove one of these `depends_on` entries", cycle.join(" -> "))]
pub struct CycleError {
    pub cycle: Vec<String>,
}

impl Graph {
    pub fn build(plan: &Plan) -> Result<Graph, CycleError> {
        let mut graph = Graph {
            graph: DiGraph::new(),
            apply: HashMap::new(),
            destroy: HashMap::new(),
            groups: HashMap::new(),
            edges: HashSet::new(),
        };
        let changes: BTreeMap<&Address, &Change> = plan
            .changes
            .iter()
            .map(|change| (&change.address, change))
            .collect();
        graph.add_vertices(plan);
        graph.add_replacement_edges(plan);
        graph.add_dependency_edges(plan, &changes);
        graph.add_manager_edges(plan);
        graph.add_restart_edges(plan);
        graph.add_rotation_edges(plan);
        graph.add_teardown_edges(plan);
        graph.check_cycles()?;
        Ok(graph)
    }

    pub fn vertex(&self, address: &Address, phase: Phase) -> Option<NodeIndex> {
        match phase {
            Phase::Apply => self.apply.get(address),
            Phase::Destroy => self.destroy.get(address),
        }
        .copied()
    }

    fn add_vertex(&mut self, vertex: Vertex) -> NodeIndex {
        let phase = vertex.phase;
        let address = vertex.address.clone();
        let index = self.graph.add_node(vertex);
        match phase {
            Phase::Apply => self.apply.insert(address, index),
            Phase::Destroy => self.destroy.insert(address, index),
        };
        index
    }

    /// The barrier vertices of a group (`node.*`), made the first time it is asked for: the
    /// group's apply after each member's apply, its destroy before each member's destroy.
    /// `None` when the plan has no member.
    fn barrier(&mut self, plan: &Plan, group: &Address) -> Option<Barrier> {
        if let Some(barrier) = self.groups.get(group) {
            return Some(*barrier);
        }
        let members: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|change| group.covers(&change.address) && !change.address.is_group())
            .collect();
        if members.is_empty() {
            return None;
        }
        let mut barrier = Barrier {
            apply: None,
            destroy: None,
            create_before_destroy: members.iter().any(|member| member.create_before_destroy),
        };
        // A barrier vertex is made once a member has a vertex of that phase.
        let made = |graph: &mut Graph, slot: &mut Option<NodeIndex>, phase| {
            *slot.get_or_insert_with(|| {
                graph.add_vertex(Vertex {
                    address: group.clone(),
                    phase,
                })
            })
        };
        for member in members {
            if let Some(apply) = self.vertex(&member.address, Phase::Apply) {
                let after = made(self, &mut barrier.apply, Phase::Apply);
                self.edge(Some(apply), Some(after), Edge::Dependency);
            }
            if let Some(destroy) = self.vertex(&member.address, Phase::Destroy) {
                let before = made(self, &mut barrier.destroy, Phase::Destroy);
                self.edge(Some(before), Some(destroy), Edge::Dependency);
            }
        }
        self.groups.insert(group.clone(), barrier);
        Some(barrier)
    }

    fn edge(&mut self, from: Option<NodeIndex>, to: Option<NodeIndex>, edge: Edge) {
        if let (Some(from), Some(to)) = (from, to)
            && from != to
            && self.edges.insert((from, to))
        {
            self.graph.add_edge(from, to, edge);
        }
    }

    fn add_vertices(&mut self, plan: &Plan) {
        for change in &plan.changes {
            let phases: &[Phase] = match change.action {
                Action::NoOp | Action::Create | Action::Update => &[Phase::Apply],
                Action::Delete => &[Phase::Destroy],
                Action::Replace => &[Phase::Destroy, Phase::Apply],
            };
            for phase in phases {
                self.add_vertex(Vertex {
                    address: change.address.clone(),
                    phase: *phase,
                });
            }
        }
    }

    fn add_replacement_edges(&mut self, plan: &Plan) {
        for change in plan
            .changes
            .iter()
            .filter(|change| change.action == Action::Replace)
        {
            let destroy = self.vertex(&change.address, Phase::Destroy);
            let apply = self.vertex(&change.address, Phase::Apply);
            if change.create_before_destroy {
                self.edge(apply, destroy, Edge::Replacement);
            } else {
                self.edge(destroy, apply, Edge::Replacement);
            }
        }
    }

    /// Creates and updates run after what they depend on; destroys run after whatever
    /// depended on the destroyed resource has been destroyed or updated away from it.
    fn add_dependency_edges(&mut self, plan: &Plan, changes: &BTreeMap<&Address, &Change>) {
        for change in &plan.changes {
            let apply = self.vertex(&change.address, Phase::Apply);
            let destroy = self.vertex(&change.address, Phase::Destroy);
            for dependency in &change.depends_on {
                let (dependency_apply, dependency_destroy, dependency_is_cbd) =
                    if dependency.is_group() {
                        let Some(barrier) = self.barrier(plan, dependency) else {
                            continue;
                        };
                        (
                            barrier.apply,
                            barrier.destroy,
                            barrier.create_before_destroy,
                        )
                    } else {
                        let Some(other) = changes.get(dependency) else {
                            continue;
                        };
                        (
                            self.vertex(dependency, Phase::Apply),
                            self.vertex(dependency, Phase::Destroy),
                            other.create_before_destroy,
                        )
                    };
                self.edge(dependency_apply, apply, Edge::Dependency);
                self.edge(destroy, dependency_destroy, Edge::Dependency);
                // A resource created by this plan never used the old version (a stack whose
                // removal an interrupted run already made), so it does not wait for it to go:
                // that would be a cycle with the dependency's own destroy -> create.
                let used_the_old = change.action != Action::Create;
                if dependency_is_cbd || destroy.is_none() && used_the_old {
                    // The old version goes once its users have moved to the new one.
                    self.edge(apply, dependency_destroy, Edge::Dependency);
                }
            }
        }
    }

    /// Managers join or are promoted one at a time, in config order; demotions and removals
    /// come after every promotion, also one at a time, so quorum never drops. Worker removals
    /// come before manager removals.
    fn add_manager_edges(&mut self, plan: &Plan) {
        let role = |change: &Change, before: bool| {
            let value = if before {
                change.before("role")
            } else {
                change.after("role")
            };
            value.and_then(serde_json::Value::as_str).map(str::to_owned)
        };
        let nodes: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|change| change.address.kind == Kind::Node)
            .collect();
        let mut gains = Vec::new();
        let mut losses = Vec::new();
        let mut last_manager = None;
        let mut worker_removals = Vec::new();
        for change in &nodes {
            let before = role(change, true);
            let after = role(change, false);
            let manager_before = before.as_deref() == Some("manager");
            let manager_after = after.as_deref() == Some("manager");
            match change.action {
                Action::Create if manager_after => {
                    gains.push(self.vertex(&change.address, Phase::Apply))
                }
                Action::Update if manager_after && !manager_before => {
                    gains.push(self.vertex(&change.address, Phase::Apply))
                }
                Action::Update if manager_before && !manager_after => {
                    losses.push(self.vertex(&change.address, Phase::Apply))
                }
                Action::Delete if manager_before => {
                    // The manager that leaves with the swarm (its only step is to be forgotten)
                    // drives the others' removal: it goes last.
                    if matches!(
                        change.steps.as_slice(),
                        [Step::Primitive(PrimitiveStep::Forget { .. })]
                    ) {
                        last_manager = self.vertex(&change.address, Phase::Destroy);
                    } else {
                        losses.push(self.vertex(&change.address, Phase::Destroy));
                    }
                }
                Action::Delete => {
                    worker_removals.push(self.vertex(&change.address, Phase::Destroy))
                }
                Action::Replace => {
                    if manager_before {
                        losses.push(self.vertex(&change.address, Phase::Destroy));
                    } else {
                        worker_removals.push(self.vertex(&change.address, Phase::Destroy));
                    }
                    if manager_after {
                        gains.push(self.vertex(&change.address, Phase::Apply));
                    }
                }
                _ => {}
            }
        }
        if last_manager.is_some() {
            losses.push(last_manager);
        }
        let chain: Vec<Option<NodeIndex>> = gains.iter().chain(&losses).copied().collect();
        for pair in chain.windows(2) {
            self.edge(pair[0], pair[1], Edge::ManagersOneAtATime);
        }
        if let Some(first_loss) = losses.first() {
            for removal in &worker_removals {
                self.edge(*removal, *first_loss, Edge::WorkersBeforeManagers);
            }
        }
    }

    /// dockerd restarts: managers one at a time, then the other hosts in batches of a third
    /// (at least one), so two thirds of the workers keep running tasks while the rest restart.
    fn add_restart_edges(&mut self, plan: &Plan) {
        let managers: BTreeSet<&str> = plan
            .changes
            .iter()
            .filter(|change| change.address.kind == Kind::Node)
            .filter(|change| {
                change.attributes.iter().any(|attribute| {
                    attribute.name == "role"
                        && (attribute.after.as_ref().or(attribute.before.as_ref()))
                            .and_then(serde_json::Value::as_str)
                            == Some("manager")
                })
            })
            .map(|change| change.address.name.as_str())
            .collect();
        // Every change that restarts dockerd (daemon configuration, files marked
        // `restarts_docker`), grouped by host: a host's restarts happen together, hosts in turn.
        let mut by_host: BTreeMap<&str, Vec<Option<NodeIndex>>> = BTreeMap::new();
        for change in plan.changes.iter().filter(|change| {
            matches!(change.address.kind, Kind::Daemon | Kind::File)
                && matches!(change.action, Action::Create | Action::Update)
                && change
                    .reasons
                    .iter()
                    .any(|reason| reason.starts_with("restarts dockerd"))
        }) {
            if let Some(host) = change.host.as_deref() {
                by_host
                    .entry(host)
                    .or_default()
                    .push(self.vertex(&change.address, Phase::Apply));
            }
        }
        let (manager_hosts, other_hosts): (Vec<_>, Vec<_>) = by_host
            .into_iter()
            .partition(|(host, _)| managers.contains(host));
        // Managers one at a time, then the others a third at a time.
        let mut groups: Vec<Vec<Option<NodeIndex>>> = manager_hosts
            .into_iter()
            .map(|(_, vertices)| vertices)
            .collect();
        let manager_groups = groups.len();
        let batch = other_hosts.len().div_ceil(3).max(1);
        for chunk in other_hosts.chunks(batch) {
            groups.push(
                chunk
                    .iter()
                    .flat_map(|(_, vertices)| vertices.clone())
                    .collect(),
            );
        }
        for (index, pair) in groups.windows(2).enumerate() {
            let edge = if index + 1 < manager_groups {
                Edge::RestartsOneAtATime
            } else {
                Edge::RestartsInBatches
            };
            for before in &pair[0] {
                for after in &pair[1] {
                    self.edge(*before, *after, edge);
                }
            }
        }
    }

    /// Every join of the plan before the node that rotates the join tokens after its own join.
    fn add_rotation_edges(&mut self, plan: &Plan) {
        let Some(rotator) = plan.changes.iter().find(|change| {
            change
                .steps
                .iter()
                .any(|step| matches!(step, Step::Swarm(SwarmStep::RotateJoinTokens { .. })))
        }) else {
            return;
        };
        let last = self.vertex(&rotator.address, Phase::Apply);
        let joins: Vec<Option<NodeIndex>> = plan
            .changes
            .iter()
            .filter(|change| change.address != rotator.address)
            .filter(|change| {
                change
                    .steps
                    .iter()
                    .any(|step| matches!(step, Step::Node(NodeStep::Join { .. })))
            })
            .map(|change| self.vertex(&change.address, Phase::Apply))
            .collect();
        for join in joins {
            self.edge(join, last, Edge::JoinsBeforeRotation);
        }
    }

    /// When the swarm itself is destroyed, the kinds go in the order of `swarm::TEARDOWN`
    /// (stacks, then registries, then networks, secrets and configs, then nodes), every node
    /// before the last manager's `swarm leave --force`. Each rank's destroys precede the next
    /// rank's destroy barriers (`registry.* (destroy)`, one per kind and module), not each of
    /// its destroys.
    fn add_teardown_edges(&mut self, plan: &Plan) {
        let Some(swarm) = self.vertex(&Address::swarm(), Phase::Destroy) else {
            return;
        };
        // What the next rank waits for: the last rank that destroys anything.
        let mut frontier: Vec<NodeIndex> = Vec::new();
        for kinds in crate::swarm::TEARDOWN {
            let ranked: Vec<&Change> = plan
                .changes
                .iter()
                .filter(|change| kinds.contains(&change.address.kind))
                .filter(|change| self.vertex(&change.address, Phase::Destroy).is_some())
                .collect();
            if ranked.is_empty() {
                continue;
            }
            if !frontier.is_empty() {
                let groups: BTreeSet<Address> = ranked
                    .iter()
                    .map(|change| {
                        Address::every(change.address.kind)
                            .in_module(change.address.module.as_deref())
                    })
                    .collect();
                for group in groups {
                    let before = self
                        .barrier(plan, &group)
                        .and_then(|barrier| barrier.destroy);
                    for earlier in &frontier {
                        self.edge(Some(*earlier), before, Edge::SwarmTeardown);
                    }
                }
            }
            frontier = ranked
                .iter()
                .filter_map(|change| self.vertex(&change.address, Phase::Destroy))
                .collect();
        }
        for last in frontier {
            self.edge(Some(last), Some(swarm), Edge::SwarmTeardown);
        }
    }

    fn check_cycles(&self) -> Result<(), CycleError> {
        if toposort(&self.graph, None).is_ok() {
            return Ok(());
        }
        let component = tarjan_scc(&self.graph)
            .into_iter()
            .find(|component| component.len() > 1)
            .unwrap_or_default();
        let mut cycle: Vec<String> = component
            .iter()
            .rev()
            .map(|index| self.graph[*index].to_string())
            .collect();
        if let Some(first) = cycle.first().cloned() {
            cycle.push(first);
        }
        Err(CycleError { cycle })
    }

    /// Vertices in an order that respects every edge (ties broken by address).
    pub fn order(&self) -> Vec<&Vertex> {
        let mut remaining: BTreeMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|index| {
                (
                    index,
                    self.graph
                        .edges_directed(index, petgraph::Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        let mut ready: BTreeSet<(&Vertex, NodeIndex)> = remaining
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(index, _)| (&self.graph[*index], *index))
            .collect();
        let mut order = Vec::new();
        while let Some((vertex, index)) = ready.pop_first() {
            order.push(vertex);
            remaining.remove(&index);
            for edge in self
                .graph
                .edges_directed(index, petgraph::Direction::Outgoing)
            {
                if let Some(count) = remaining.get_mut(&edge.target()) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert((&self.graph[edge.target()], edge.target()));
                    }
                }
            }
        }
        order
    }

    /// The graph in Graphviz DOT, vertices labelled with their action symbol.
    pub fn dot(&self, plan: &Plan) -> String {
        let actions: BTreeMap<&Address, Action> = plan
            .changes
            .iter()
            .map(|change| (&change.address, change.action))
            .collect();
        let mut out =
            String::from("digraph swarmform {\n  rankdir = \"LR\";\n  node [shape = \"box\"];\n");
        for vertex in self.order() {
            let action = actions
                .get(&vertex.address)
                .copied()
                .unwrap_or(Action::NoOp);
            let symbol = match (action, vertex.phase) {
                (Action::Replace, Phase::Destroy) => "-",
                (Action::Replace, Phase::Apply) => "+",
                (action, _) => action.symbol().trim(),
            };
            let label = if symbol.is_empty() {
                vertex.to_string()
            } else {
                format!("{symbol} {vertex}")
            };
            // A barrier (`node.*`) runs nothing: drawn apart from the changes.
            let shape = if vertex.address.is_group() {
                ", shape = \"ellipse\""
            } else {
                ""
            };
            out.push_str(&format!("  \"{vertex}\" [label = \"{label}\"{shape}];\n"));
        }
        let mut edges: Vec<(String, String, Edge)> = self
            .graph
            .edge_references()
            .map(|edge| {
                (
                    self.graph[edge.source()].to_string(),
                    self.graph[edge.target()].to_string(),
                    *edge.weight(),
                )
            })
            .collect();
        edges.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for (from, to, edge) in edges {
            let style = match edge {
                Edge::Dependency => String::new(),
                other => format!(" [label = \"{}\", style = \"dashed\"]", edge_label(other)),
            };
            out.push_str(&format!("  \"{from}\" -> \"{to}\"{style};\n"));
        }
        out.push_str("}\n");
        out
    }
}

fn edge_label(edge: Edge) -> &'static str {
    match edge {
        Edge::Dependency => "depends on",
        Edge::Replacement => "replacement",
        Edge::ManagersOneAtATime => "one manager at a time",
        Edge::WorkersBeforeManagers => "workers first",
        Edge::RestartsOneAtATime => "one restart at a time",
        Edge::RestartsInBatches => "workers restart in batches, after the managers",
        Edge::JoinsBeforeRotation => "every join before the token rotation",
        Edge::SwarmTeardown => "teardown order",
    }
}
