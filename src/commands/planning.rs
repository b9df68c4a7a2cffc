//! What `plan`, `apply`, `destroy` and `graph` share: read the cluster (when asked), plan,
//! and build the plan's graph once, for the command to print, check or walk.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::error::{Error, OperateError};
use super::workspace::{LoadedConfig, Workspace};
use crate::address::Target;
use crate::apply::report::Reporter;
use crate::config::desired::Desired;
use crate::config::source::Sources;
use crate::plan::graph::Graph;
use crate::plan::{Plan, Warning, planner};
use crate::ssh::Pool;
use crate::state::State;
use crate::swarm::facts::HostFacts;
use crate::swarm::refresh::Refreshed;
use crate::swarm::refresh::refresh as refresh_cluster;
use crate::swarm::{Context, StepError};

/// A plan, its graph, and what was read to make it.
pub(super) struct Planned {
    pub plan: Plan,
    /// Built once, after the plan is complete: a cycle fails the command before anything runs.
    pub graph: Graph,
    /// The state the plan is against: refreshed when the cluster was read.
    pub state: State,
    pub drift: Vec<String>,
}

pub(super) struct PlanRequest<'a> {
    pub destroy: bool,
    pub targets: &'a [Target],
    /// Read the cluster first (over the workspace's runtime and pool).
    pub refresh: bool,
    pub allow_quorum_loss: bool,
}

/// Refreshes (when asked and there is something to read), then plans and builds the graph.
pub(super) fn planned(
    workspace: &Workspace,
    state: Option<&State>,
    request: &PlanRequest<'_>,
    reporter: Arc<dyn Reporter>,
) -> Result<Planned, Error> {
    let loaded = workspace.config()?;
    let mut current = state.cloned();
    let mut unreachable = BTreeSet::new();
    let mut drift = Vec::new();
    let mut strays = Vec::new();
    let mut unlabelled = Vec::new();
    let mut facts = None;
    if request.refresh {
        let runtime = workspace.runtime()?;
        // The hosts' facts and the refresh are read at the same time, over the same
        // connections.
        let pool = workspace.pool(state)?;
        let hosts = loaded.fact_hosts(state);
        let managers = loaded.fact_managers(state);
        let recorded = state.filter(|recorded| !recorded.resources.is_empty());
        // The hosts' facts come first: the refresh finds the swarm and the nodes' ids through
        // them.
        let context = recorded.map(|recorded| Arc::new(context(&pool, loaded, recorded, reporter)));
        let (gathered, refreshed) = runtime.block_on(read_and_refresh(
            &pool,
            &hosts,
            &managers,
            loaded.first_fact_host(recorded),
            context.as_ref().zip(recorded),
        ));
        if let Some(refreshed) = refreshed {
            let refreshed = refreshed.map_err(OperateError::from)?;
            unreachable = refreshed.unreachable;
            drift = refreshed.drift;
            strays = refreshed.strays;
            unlabelled = refreshed.unlabelled;
            current = Some(refreshed.state);
        }
        let gathered = gathered.map_err(OperateError::from)?;
        unreachable.extend(
            gathered
                .iter()
                .filter(|facts| facts.unreachable.is_some())
                .map(|facts| facts.host.clone()),
        );
        facts = Some(gathered);
    }
    let options = planner::Options {
        destroy: request.destroy,
        targets: request.targets.to_vec(),
        allow_quorum_loss: request.allow_quorum_loss,
        refreshed: request.refresh,
        unreachable,
        facts,
        strays,
        unlabelled,
    };
    let mut plan = planner::plan(&loaded.desired, current.as_ref(), &options)?;
    let mut warnings = config_warnings(&loaded.sources, &loaded.desired);
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    // The plan is made against the recorded state, so a saved plan is refused once the state
    // file moves on, refreshed or not.
    plan.state = state.map(|state| crate::plan::StateRef {
        lineage: state.lineage.clone(),
        serial: state.serial,
    });
    let graph = Graph::build(&plan)?;
    Ok(Planned {
        plan,
        graph,
        state: current.unwrap_or_default(),
        drift,
    })
}

/// Config warnings become plan warnings, so a reviewer of the plan reads them too.
fn config_warnings(sources: &Sources, desired: &Desired) -> Vec<Warning> {
    desired
        .warnings
        .iter()
        .map(|diagnostic| {
            let position = diagnostic.position(sources);
            let mut detail = diagnostic.help.clone().unwrap_or_default();
            if !position.is_empty() {
                detail = if detail.is_empty() {
                    format!("At {position}.")
                } else {
                    format!("{detail} (at {position})")
                };
            }
            Warning {
                summary: diagnostic.message.clone(),
                detail,
            }
        })
        .collect()
}

/// The hosts' facts, `first`'s read started before the others', then (with a recorded state)
/// the refresh: the cluster is read ahead through `first` while the other hosts' facts come in
/// ([`crate::swarm::refresh::read_ahead`]); what the refresh did not take of it is forgotten
/// however the refresh ends.
pub(super) async fn read_and_refresh(
    pool: &Arc<Pool>,
    hosts: &[String],
    managers: &BTreeSet<String>,
    first: Option<String>,
    refresh: Option<(&Arc<Context>, &State)>,
) -> (
    Result<Vec<HostFacts>, StepError>,
    Option<Result<Refreshed, StepError>>,
) {
    let (sender, ahead) = match (&first, refresh) {
        (Some(host), Some((context, _))) => {
            let (sender, ahead) = crate::swarm::refresh::read_ahead(context, host);
            (Some(sender), Some(ahead))
        }
        _ => (None, None),
    };
    let first = first.map(|host| crate::swarm::facts::First {
        host,
        facts: sender,
    });
    let (gathered, ()) = tokio::join!(
        crate::swarm::facts::gather(pool, hosts, managers, first),
        async {
            if let Some(ahead) = ahead {
                ahead.await;
            }
        }
    );
    let refreshed = match (&gathered, refresh) {
        (Ok(facts), Some((context, recorded))) => {
            let refreshed = refresh_cluster(context, recorded, facts).await;
            context.forget_reads();
            Some(refreshed)
        }
        _ => None,
    };
    (gathered, refreshed)
}

/// What the refresh and the executor reach the cluster through.
pub(super) fn context(
    pool: &Arc<Pool>,
    loaded: &LoadedConfig,
    state: &State,
    reporter: Arc<dyn Reporter>,
) -> Context {
    Context::new(
        Arc::clone(pool),
        Arc::clone(&loaded.desired),
        Arc::new(Mutex::new(state.clone())),
        reporter,
    )
}
