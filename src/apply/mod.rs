//! The executor: walks the plan's graph with bounded concurrency and at most one mutating step
//! per host at a time. A failure skips only what depends on it; the state is written after
//! every vertex (vertices that finish together share one write, and creations are marked
//! pending on disk before they start); Ctrl-C stops scheduling, lets running vertices finish
//! and saves.

pub use crate::report;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::address::{Address, Kind};
use crate::plan::graph::{Graph, Phase, Vertex};
use crate::plan::{Action, Change, Plan};
use crate::state::{ResourceState, State, StateError};
use crate::swarm::{Context, Outcome, Work, carry_out, phase_steps};

/// What an apply did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Vertices carried out (no-ops not counted).
    pub applied: Vec<Vertex>,
    /// Each failure once, with its message: the root causes.
    pub failed: Vec<(Vertex, String)>,
    /// Not run because what they depend on failed: (vertex, the failure it traces back to).
    pub skipped: Vec<(Vertex, Vertex)>,
    /// Not started because of Ctrl-C.
    pub not_started: Vec<Vertex>,
    pub interrupted: bool,
}

impl Summary {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.interrupted
    }
}

/// Saves the state; called after every batch of finished vertices and before creations.
pub trait Persist: Send {
    fn save(&mut self, state: &mut State) -> Result<(), StateError>;
}

/// The one value a vertex's kind works from: its change, the steps of its phase, the desired
/// resource with its payloads, and what the run's state records for it and for its host's node,
/// as the vertex starts.
fn work(context: &Context, change: &Change, phase: Phase) -> Work {
    let (recorded, node) = context
        .state
        .lock()
        .map(|state| {
            (
                state.resource(&change.address).cloned(),
                change.host.as_ref().and_then(|host| {
                    state
                        .resource(&Address::new(Kind::Node, host.clone()))
                        .cloned()
                }),
            )
        })
        .unwrap_or_default();
    Work::new(
        change.address.clone(),
        change.action,
        phase,
        change.host.clone(),
        change.attributes.clone(),
        change.create_before_destroy,
        phase_steps(change.action, &change.steps, phase),
        context.desired.resource(&change.address).cloned(),
        recorded,
        node,
    )
}

enum Status {
    Done,
    Failed(Vertex),
}

/// Runs the plan. `cancel` turns true on Ctrl-C.
pub async fn execute(
    plan: &Plan,
    graph: &Graph,
    context: Arc<Context>,
    persist: &mut dyn Persist,
    parallelism: usize,
    mut cancel: watch::Receiver<bool>,
) -> Result<Summary, StateError> {
    let changes: BTreeMap<_, _> = plan
        .changes
        .iter()
        .map(|change| (change.address.clone(), Arc::new(change.clone())))
        .collect();
    let graph_ref = &graph.graph;
    let mut waiting: BTreeMap<NodeIndex, usize> = graph_ref
        .node_indices()
        .map(|index| {
            (
                index,
                graph_ref.edges_directed(index, Direction::Incoming).count(),
            )
        })
        .collect();
    let mut status: BTreeMap<NodeIndex, Status> = BTreeMap::new();
    // Ready vertices start longest chain first: with one vertex per host at a time, the
    // bootstrap manager's restart goes before its unrelated file uploads, since the init and
    // every join wait for it.
    let chain = chain_lengths(graph_ref);
    let mut ready: BTreeSet<(Reverse<usize>, Vertex, NodeIndex)> = BTreeSet::new();
    let mut queue: Vec<NodeIndex> = waiting
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(index, _)| *index)
        .collect();
    for index in &queue {
        waiting.remove(index);
    }
    let mut busy_hosts: BTreeSet<String> = BTreeSet::new();
    let mut running: JoinSet<(NodeIndex, Result<Outcome, String>)> = JoinSet::new();
    let mut summary = Summary::default();

    loop {
        // Settle everything that needs no work: skips and no-ops, which may free more.
        while let Some(index) = queue.pop() {
            let vertex = graph_ref[index].clone();
            let cause = graph_ref
                .neighbors_directed(index, Direction::Incoming)
                .find_map(|before| match status.get(&before) {
                    Some(Status::Failed(cause)) => Some(cause.clone()),
                    _ => None,
                });
            let no_op = changes
                .get(&vertex.address)
                .is_none_or(|change| change.action == Action::NoOp);
            if let Some(cause) = cause {
                // A no-op between a failure and what follows it only passes the failure on.
                if !no_op {
                    context.reporter.skipped(&vertex, &cause);
                    summary.skipped.push((vertex.clone(), cause.clone()));
                }
                status.insert(index, Status::Failed(cause));
                release(graph_ref, index, &mut waiting, &mut queue);
            } else if no_op {
                status.insert(index, Status::Done);
                release(graph_ref, index, &mut waiting, &mut queue);
            } else {
                ready.insert((Reverse(chain[index.index()]), vertex, index));
            }
        }
        // Start what may start. Pending marks for everything starting now go to disk in one
        // save, before any of it runs. A halting step (an unlock key kept elsewhere) stops
        // this like Ctrl-C does.
        if !summary.interrupted && !context.halted() {
            let mut starting = Vec::new();
            let startable: Vec<(Reverse<usize>, Vertex, NodeIndex)> =
                ready.iter().cloned().collect();
            for (rank, vertex, index) in startable {
                if running.len() + starting.len() >= parallelism.max(1) {
                    break;
                }
                let Some(change) = changes.get(&vertex.address).cloned() else {
                    continue;
                };
                if let Some(host) = &change.host {
                    if busy_hosts.contains(host) {
                        continue;
                    }
                    busy_hosts.insert(host.clone());
                }
                ready.remove(&(rank, vertex.clone(), index));
                starting.push((vertex, index, change));
            }
            let marked = starting
                .iter()
                .filter(|(vertex, _, change)| creates(change, vertex.phase))
                .fold(false, |marked, (_, _, change)| {
                    mark_pending(&context, change) || marked
                });
            if marked {
                persist.save(&mut lock(&context))?;
            }
            for (vertex, index, change) in starting {
                let work = work(&context, &change, vertex.phase);
                let description = work
                    .steps
                    .first()
                    .map_or_else(|| "record the change".to_owned(), |step| step.describe());
                context.reporter.started(&vertex, &description);
                let task_context = Arc::clone(&context);
                running.spawn(async move {
                    let result = carry_out(&task_context, &vertex, &work)
                        .await
                        .map_err(|error| error.to_string());
                    (index, result)
                });
            }
        }
        if running.is_empty() {
            break;
        }
        let finished = tokio::select! {
            finished = running.join_next() => finished,
            changed = cancel.changed(), if !summary.interrupted => {
                if changed.is_ok() && *cancel.borrow() {
                    summary.interrupted = true;
                }
                continue;
            }
        };
        let Some(finished) = finished else { break };
        // Everything else that finished meanwhile is recorded with it, in one save.
        let mut batch = vec![finished];
        while let Some(more) = running.try_join_next() {
            batch.push(more);
        }
        let mut recorded = false;
        for finished in batch {
            let (index, result) = match finished {
                Ok(done) => done,
                Err(join_error) => {
                    // A panicking step: report it like a failure of an unknown vertex.
                    summary.failed.push((
                        Vertex {
                            address: crate::address::Address::swarm(),
                            phase: Phase::Apply,
                        },
                        format!("internal error: {join_error}"),
                    ));
                    continue;
                }
            };
            let vertex = graph_ref[index].clone();
            let change = changes.get(&vertex.address).cloned();
            if let Some(host) = change.as_ref().and_then(|change| change.host.clone()) {
                busy_hosts.remove(&host);
            }
            match result {
                Ok(outcome) => {
                    if let Some(change) = &change {
                        recorded |= record(&context, change, outcome);
                    }
                    context.reporter.succeeded(&vertex);
                    summary.applied.push(vertex);
                    status.insert(index, Status::Done);
                }
                Err(message) => {
                    context.reporter.failed(&vertex, &message);
                    summary.failed.push((vertex.clone(), message));
                    status.insert(index, Status::Failed(vertex));
                }
            }
            release(graph_ref, index, &mut waiting, &mut queue);
        }
        if recorded {
            persist.save(&mut lock(&context))?;
        }
    }
    summary.not_started = ready.into_iter().map(|(_, vertex, _)| vertex).collect();
    summary.not_started.extend(
        waiting
            .keys()
            .map(|index| graph_ref[*index].clone())
            .filter(|vertex| {
                changes
                    .get(&vertex.address)
                    .is_some_and(|change| change.action != Action::NoOp)
            }),
    );
    // Host keys learned under accept-new belong in the state too.
    let learned = context.pool.learned_host_keys();
    if !learned.is_empty() {
        let mut state = lock(&context);
        for (host, key) in learned {
            let keys = state.host_keys.entry(host).or_default();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        persist.save(&mut state)?;
    }
    Ok(summary)
}

fn lock(context: &Context) -> std::sync::MutexGuard<'_, State> {
    context
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// For each vertex (by index), the number of vertices on the longest chain that starts at it
/// and follows the edges to what depends on it: 1 for a vertex nothing depends on.
fn chain_lengths(graph: &petgraph::graph::DiGraph<Vertex, crate::plan::graph::Edge>) -> Vec<usize> {
    let mut chain = vec![1; graph.node_count()];
    // The plan's graph has no cycle (the planner refuses one); if it had, all rank alike.
    let Ok(order) = petgraph::algo::toposort(graph, None) else {
        return chain;
    };
    for index in order.into_iter().rev() {
        let longest = graph
            .neighbors_directed(index, Direction::Outgoing)
            .map(|after| chain[after.index()])
            .max()
            .unwrap_or(0);
        chain[index.index()] = longest + 1;
    }
    chain
}

/// One vertex finished: its dependents may now be ready.
fn release(
    graph: &petgraph::graph::DiGraph<Vertex, crate::plan::graph::Edge>,
    index: NodeIndex,
    waiting: &mut BTreeMap<NodeIndex, usize>,
    queue: &mut Vec<NodeIndex>,
) {
    for after in graph.neighbors_directed(index, Direction::Outgoing) {
        if let Some(count) = waiting.get_mut(&after) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&after);
                queue.push(after);
            }
        }
    }
}

/// Whether this vertex creates or changes the resource (so an interrupted run must leave a
/// mark).
fn creates(change: &Change, phase: Phase) -> bool {
    phase == Phase::Apply
        && matches!(
            change.action,
            Action::Create | Action::Replace | Action::Update
        )
}

/// Before creating, record the intent: a run killed mid-creation leaves a pending entry that
/// the next plan creates again and the executor adopts. Returns whether the state changed.
fn mark_pending(context: &Context, change: &Change) -> bool {
    let Some(resource) = context.desired.resource(&change.address) else {
        return false;
    };
    let mut state = lock(context);
    let already = state.resource(&change.address).cloned();
    // A create-before-destroy replacement keeps the old entry until the new object exists: the
    // old object must still be found and removed.
    if change.action == Action::Replace && change.create_before_destroy && already.is_some() {
        return false;
    }
    // An update keeps what was applied; the mark makes the next plan redo it whole (a daemon
    // written but never restarted gets its restart).
    let mut entry = match (&already, change.action) {
        (Some(old), Action::Update) => old.clone(),
        _ => ResourceState::from_resource(resource, already.and_then(|old| old.remote_id)),
    };
    entry.pending = true;
    state.upsert(entry);
    true
}

/// Records a finished vertex in the state (in memory). Returns whether the state changed.
fn record(context: &Context, change: &Change, outcome: Outcome) -> bool {
    let mut state = lock(context);
    match outcome {
        Outcome::Created { remote_id } => match context.desired.resource(&change.address) {
            Some(resource) => state.upsert(ResourceState::from_resource(resource, remote_id)),
            None => return false,
        },
        Outcome::Removed => {
            state.remove(&change.address);
        }
        Outcome::Unchanged => return false,
    }
    true
}
