//! The plan as a dependency graph. An edge `a -> b` means "a happens before b". The graph is
//! built by a list of small steps, each adding one kind of edge, then checked for cycles before
//! anything walks it.
//!
//! A change is one vertex, except a replacement, which is two: its destroy and its create
//! (create first for create-before-destroy resources such as versioned secrets).

use std::collections::{BTreeMap, BTreeSet, HashSet};

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
    index: BTreeMap<Vertex, NodeIndex>,
    /// The edges added so far, so `edge` skips a duplicate in constant time (petgraph's
    /// `contains_edge` walks the vertex's edges: quadratic when one vertex, the swarm, precedes
    /// thousands).
    edges: HashSet<(NodeIndex, NodeIndex)>,
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
            index: BTreeMap::new(),
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
        self.index
            .get(&Vertex {
                address: address.clone(),
                phase,
            })
            .copied()
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
                let vertex = Vertex {
                    address: change.address.clone(),
                    phase: *phase,
                };
                let index = self.graph.add_node(vertex.clone());
                self.index.insert(vertex, index);
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
                if !changes.contains_key(dependency) {
                    continue;
                }
                self.edge(
                    self.vertex(dependency, Phase::Apply),
                    apply,
                    Edge::Dependency,
                );
                let dependency_destroy = self.vertex(dependency, Phase::Destroy);
                self.edge(destroy, dependency_destroy, Edge::Dependency);
                let dependency_is_cbd = changes
                    .get(dependency)
                    .is_some_and(|other| other.create_before_destroy);
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
    /// before the last manager's `swarm leave --force`.
    fn add_teardown_edges(&mut self, plan: &Plan) {
        let Some(swarm) = self.vertex(&Address::swarm(), Phase::Destroy) else {
            return;
        };
        let groups: Vec<Vec<NodeIndex>> = crate::swarm::TEARDOWN
            .iter()
            .map(|kinds| {
                plan.changes
                    .iter()
                    .filter(|change| kinds.contains(&change.address.kind))
                    .filter_map(|change| self.vertex(&change.address, Phase::Destroy))
                    .collect()
            })
            .collect();
        for (rank, group) in groups.iter().enumerate() {
            for earlier in group {
                for later in groups[rank + 1..].iter().flatten() {
                    self.edge(Some(*earlier), Some(*later), Edge::SwarmTeardown);
                }
            }
        }
        for last in groups.last().into_iter().flatten() {
            self.edge(Some(*last), Some(swarm), Edge::SwarmTeardown);
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
            out.push_str(&format!("  \"{vertex}\" [label = \"{label}\"];\n"));
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
