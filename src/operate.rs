//! The commands that reach hosts: `plan`'s refresh, `apply`, `destroy`, `refresh`, `exec`.
//! They share one tokio runtime and one SSH connection per host.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::address::Target;
use crate::apply::report::{Reporter, Silent};
use crate::apply::{Persist, Summary, execute};
use crate::cli::HostRole;
use crate::cli::{ApplyArgs, ExecArgs, RefreshArgs};
use crate::config::model::Role;
use crate::error::{Error, OperateError};
use crate::plan::graph::Graph;
use crate::plan::planner;
use crate::plan::saved::{SavedPlan, desired_digest};
use crate::plan::{Mode, Plan};
use crate::run::{LoadedConfig, Workspace, config_warnings};
use crate::ssh::{Pool, RemoteCommand, Script};
use crate::state::{LockGuard, State, StateError, StateFile};
use crate::swarm::Context;
use crate::swarm::refresh::refresh as refresh_cluster;

pub(crate) fn runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::from(OperateError::Runtime(error)))
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// One SSH pool for the run: the config's hosts plus any host only the state remembers (a
/// host removed from the config must still be reached to take it out).
pub(crate) fn pool(loaded: &LoadedConfig, state: Option<&State>) -> Result<Arc<Pool>, Error> {
    let mut targets =
        crate::ssh::targets(&loaded.config, &home()).map_err(OperateError::Targets)?;
    // Hosts only the state remembers are reached with the config's SSH settings at the address
    // the state recorded for them.
    if let (Some(state), Some(template)) = (state, targets.first().cloned()) {
        for engine in state
            .resources
            .iter()
            .filter(|resource| resource.address.kind == crate::address::Kind::Engine)
        {
            let name = &engine.address.name;
            if targets.iter().any(|target| &target.name == name) {
                continue;
            }
            let Some(address) = engine
                .attributes
                .get("address")
                .and_then(|value| value.as_str())
            else {
                continue;
            };
            let port = engine
                .attributes
                .get("ssh_port")
                .and_then(serde_json::Value::as_u64)
                .and_then(|port| u16::try_from(port).ok())
                .unwrap_or(template.port);
            targets.push(crate::ssh::HostTarget {
                name: name.clone(),
                address: address.to_owned(),
                port,
                ..template.clone()
            });
        }
    }
    let known = state
        .map(|state| state.host_keys.clone())
        .unwrap_or_default();
    Ok(Arc::new(Pool::new(targets, known)))
}

/// A plan, and what was read to make it.
pub(crate) struct Planned {
    pub plan: Plan,
    /// The state the plan is against: refreshed when the cluster was read.
    pub state: State,
    pub pool: Option<Arc<Pool>>,
    pub drift: Vec<String>,
}

pub(crate) struct PlanRequest<'a> {
    pub destroy: bool,
    pub targets: &'a [Target],
    pub refresh: bool,
    pub allow_quorum_loss: bool,
}

/// Refreshes (when asked and there is something to read), then plans and checks the graph.
pub(crate) fn planned(
    runtime: Option<&Runtime>,
    loaded: &LoadedConfig,
    state: Option<&State>,
    request: &PlanRequest<'_>,
    reporter: Arc<dyn Reporter>,
) -> Result<Planned, Error> {
    let mut current = state.cloned();
    let mut unreachable = BTreeSet::new();
    let mut drift = Vec::new();
    let mut strays = Vec::new();
    let mut unlabelled = Vec::new();
    let mut pool_used = None;
    let mut facts = None;
    if request.refresh
        && let Some(runtime) = runtime
    {
        // The hosts' facts and the refresh are read at the same time, over the same
        // connections.
        let pool = pool(loaded, state)?;
        let hosts = fact_hosts(loaded, state);
        let recorded = state.filter(|recorded| !recorded.resources.is_empty());
        // The hosts' facts come first: the refresh finds the swarm and the nodes' ids through
        // them.
        let (gathered, refreshed) = runtime.block_on(async {
            let gathered = crate::swarm::facts::gather(&pool, &hosts).await;
            let refreshed = match (&gathered, recorded) {
                (Ok(facts), Some(recorded)) => {
                    let context = Arc::new(context(&pool, loaded, recorded, reporter));
                    Some(refresh_cluster(&context, recorded, facts).await)
                }
                _ => None,
            };
            (gathered, refreshed)
        });
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
        pool_used = Some(pool);
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
    Graph::build(&plan)?;
    Ok(Planned {
        plan,
        state: current.unwrap_or_default(),
        pool: pool_used,
        drift,
    })
}

/// The hosts whose facts a plan reads: the config's, in config order, then those only the
/// state remembers.
fn fact_hosts(loaded: &LoadedConfig, state: Option<&State>) -> Vec<String> {
    let mut hosts: Vec<String> = loaded
        .config
        .hosts
        .iter()
        .map(|host| host.name.clone())
        .collect();
    // As in `pool`: a host only the state remembers is reached at its engine's address.
    let remembered: BTreeSet<String> = state
        .iter()
        .flat_map(|state| state.resources.iter())
        .filter(|resource| {
            resource.address.kind == crate::address::Kind::Engine
                && resource
                    .attributes
                    .get("address")
                    .is_some_and(|address| address.is_string())
        })
        .map(|resource| resource.address.name.clone())
        .filter(|host| !hosts.contains(host))
        .collect();
    hosts.extend(remembered);
    hosts
}

fn context(
    pool: &Arc<Pool>,
    loaded: &LoadedConfig,
    state: &State,
    reporter: Arc<dyn Reporter>,
) -> Context {
    Context::new(
        Arc::clone(pool),
        Arc::new(loaded.desired.clone()),
        Arc::new(Mutex::new(state.clone())),
        reporter,
    )
}

struct FilePersist<'a> {
    file: &'a StateFile,
    guard: &'a LockGuard,
}

impl Persist for FilePersist<'_> {
    fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        self.file.save(state, self.guard)
    }
}

fn reporter(workspace: &Workspace, verbose: u8) -> Arc<dyn Reporter> {
    if workspace.color_stderr {
        Arc::new(crate::ui::progress::Live::new(verbose > 0))
    } else {
        Arc::new(crate::ui::progress::Lines::new(verbose > 0))
    }
}

/// Asks for `yes` on the terminal (or reads it from standard input).
fn confirm(question: &str) -> bool {
    eprint!("{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    eprintln!();
    read.is_ok() && answer.trim() == "yes"
}

/// `apply` and `destroy`.
pub(crate) fn apply(
    workspace: &Workspace,
    args: &ApplyArgs,
    destroy: bool,
    verbose: u8,
) -> Result<ExitCode, Error> {
    let runtime = runtime()?;
    let operation = if destroy { "destroy" } else { "apply" };
    let guard = workspace.state.lock(operation, args.lock_timeout)?;
    let recorded = workspace.state.load()?;
    let loaded = workspace.load(&args.vars)?;
    let reporter = reporter(workspace, verbose);

    let (plan, state, pool) = match &args.plan_file {
        Some(path) => {
            let saved = SavedPlan::read(path)?;
            check_saved(&saved, recorded.as_ref(), &loaded)?;
            let pool = pool(&loaded, recorded.as_ref())?;
            (saved.plan, recorded.clone().unwrap_or_default(), pool)
        }
        None => {
            let request = PlanRequest {
                destroy,
                targets: &args.target,
                refresh: args.refresh,
                allow_quorum_loss: args.allow_quorum_loss,
            };
            let planned = planned(
                Some(&runtime),
                &loaded,
                recorded.as_ref(),
                &request,
                Arc::new(Silent),
            )?;
            for line in &planned.drift {
                eprintln!("Drift: {line}");
            }
            print!(
                "{}",
                crate::ui::plan_text(&planned.plan, workspace.color_stdout)
            );
            if !planned.plan.has_changes() {
                // Objects the refresh adopted (created by a killed run, never recorded) are
                // recorded now, even with nothing else to do.
                if adopted(recorded.as_ref(), &planned.state) {
                    let mut state = planned.state;
                    workspace.state.save(&mut state, &guard)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            if !args.auto_approve {
                let question = if destroy {
                    "Do you really want to destroy every resource in the state?\n  swarmform will take the cluster apart as shown above. There is no undo."
                } else {
                    "Do you want to perform these actions?\n  swarmform will perform the actions described above."
                };
                if !confirm(question) {
                    return Err(OperateError::Cancelled.into());
                }
            }
            let pool = match planned.pool {
                Some(pool) => pool,
                None => pool(&loaded, recorded.as_ref())?,
            };
            (planned.plan, planned.state, pool)
        }
    };
    let graph = Graph::build(&plan)?;
    // A new unlock key that `unlock_key_file` cannot take is shown on a terminal, or else kept
    // beside the state.
    let fallback =
        (!std::io::stderr().is_terminal()).then(|| workspace.state.unlock_key_fallback_path());
    let context =
        Arc::new(context(&pool, &loaded, &state, reporter).with_unlock_key_fallback(fallback));
    let (cancel_sender, cancel) = watch::channel(false);
    let mut persist = FilePersist {
        file: &workspace.state,
        guard: &guard,
    };
    let summary = runtime.block_on(async {
        let signal = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nInterrupted: no new steps start; waiting for the running ones, then saving the state.");
                let _ = cancel_sender.send(true);
            }
        });
        let summary = execute(&plan, &graph, Arc::clone(&context), &mut persist, args.parallelism, cancel).await;
        signal.abort();
        pool.close().await;
        summary
    })?;
    if let Some(key) = context.take_new_unlock_key() {
        show_unlock_key(&key, &plan);
    }
    Ok(report(&plan, &summary))
}

/// Whether the refreshed state records as created something the recorded one had pending or
/// did not have (an object the refresh adopted through its ownership labels).
fn adopted(recorded: Option<&State>, refreshed: &State) -> bool {
    refreshed
        .resources
        .iter()
        .filter(|resource| !resource.pending)
        .any(|resource| {
            recorded
                .and_then(|recorded| recorded.resource(&resource.address))
                .is_none_or(|before| before.pending)
        })
}

/// The unlock key of a swarm this run autolocked: written where the config asks, or shown this
/// once on a terminal. Never printed into a log (stderr that is not a terminal).
fn show_unlock_key(key: &crate::swarm::NewUnlockKey, plan: &Plan) {
    let consequence = "a manager whose dockerd restarts stays locked until `docker swarm unlock` is given this key";
    if let (Some(path), Some(wanted)) = (&key.written_to, &key.not_written_to) {
        eprintln!(
            "\nThe swarm is autolocked. Its unlock key could not be written to `{}`, so it was written to `{}` (mode 0600) instead: move it to `{}` and keep it safe; {consequence}.",
            wanted.display(),
            path.display(),
            wanted.display()
        );
    } else if let Some(path) = &key.written_to {
        eprintln!(
            "\nThe swarm is autolocked. Its unlock key was written to `{}` (mode 0600): keep it safe; {consequence}.",
            path.display()
        );
    } else if std::io::stderr().is_terminal() {
        let lead = match &key.not_written_to {
            Some(wanted) => format!(
                "Its unlock key could not be written to `{}`; here it is, shown this once and stored nowhere",
                wanted.display()
            ),
            None => "Its unlock key, shown this once and stored nowhere by swarmform".to_owned(),
        };
        eprintln!(
            "\nThe swarm is autolocked. {lead}:\n\n    {}\n\nKeep it in a password manager: {consequence}.",
            key.key
        );
    } else {
        let manager = plan
            .change(&crate::address::Address::swarm())
            .and_then(|change| change.host.clone())
            .unwrap_or_else(|| "MANAGER".to_owned());
        eprintln!(
            "\nThe swarm is autolocked. Its unlock key is not printed because stderr is not a terminal (it would end up in a log).\nhint: read it on a terminal with `swarmform exec --hosts {manager} -- docker swarm unlock-key -q`, or set `unlock_key_file` under `[swarm]`; {consequence}."
        );
    }
}

/// A saved plan applies only to the state and config it was made from.
fn check_saved(
    saved: &SavedPlan,
    state: Option<&State>,
    loaded: &LoadedConfig,
) -> Result<(), Error> {
    let (serial, lineage) = state.map_or((0, String::new()), |state| {
        (state.serial, state.lineage.clone())
    });
    let (planned_serial, planned_lineage) = saved
        .plan
        .state
        .as_ref()
        .map_or((0, String::new()), |state| {
            (state.serial, state.lineage.clone())
        });
    if serial != planned_serial || lineage != planned_lineage {
        return Err(OperateError::StalePlan {
            planned_serial,
            planned_lineage,
            serial,
            lineage,
        }
        .into());
    }
    if saved.desired_digest != desired_digest(&loaded.desired) {
        return Err(OperateError::ConfigChanged.into());
    }
    Ok(())
}

/// The closing summary; the exit code: 0 done, 1 failures, 130 interrupted.
fn report(plan: &Plan, summary: &Summary) -> ExitCode {
    let counts = plan.summary();
    if summary.succeeded() {
        let verb = if plan.mode == Mode::Destroy {
            "Destroy"
        } else {
            "Apply"
        };
        eprintln!(
            "\n{verb} complete! Resources: {} added, {} changed, {} destroyed.",
            counts.add, counts.change, counts.destroy
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "\n{} step{} applied, {} failed, {} skipped{}.",
        summary.applied.len(),
        if summary.applied.len() == 1 { "" } else { "s" },
        summary.failed.len(),
        summary.skipped.len(),
        if summary.not_started.is_empty() {
            String::new()
        } else {
            format!(", {} not started", summary.not_started.len())
        }
    );
    for (vertex, message) in &summary.failed {
        eprint!(
            "{}",
            crate::error::render_message(&format!("{vertex}: {message}"))
        );
    }
    if !summary.skipped.is_empty() {
        eprintln!(
            "Skipped because of the failures above: {}",
            summary
                .skipped
                .iter()
                .map(|(vertex, _)| vertex.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    eprintln!("The state records what was done; run `swarmform apply` again to finish.");
    if summary.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::from(1)
    }
}

pub(crate) fn refresh(workspace: &Workspace, args: &RefreshArgs) -> Result<ExitCode, Error> {
    let runtime = runtime()?;
    let guard = workspace.state.lock("refresh", args.lock_timeout)?;
    let Some(mut state) = workspace.state.load()? else {
        eprintln!(
            "No state at `{}`: nothing to refresh.",
            workspace.state.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let loaded = workspace.load(&args.vars)?;
    let pool = pool(&loaded, Some(&state))?;
    let context = Arc::new(context(&pool, &loaded, &state, Arc::new(Silent)));
    let hosts = fact_hosts(&loaded, Some(&state));
    let refreshed = runtime.block_on(async {
        let refreshed = match crate::swarm::facts::gather(&pool, &hosts).await {
            Ok(facts) => refresh_cluster(&context, &state, &facts).await,
            Err(error) => Err(error),
        };
        pool.close().await;
        refreshed
    });
    let refreshed = refreshed.map_err(OperateError::from)?;
    for host in &refreshed.unreachable {
        eprintln!("Unreachable: `{host}` did not answer over SSH; what it holds was not read.");
    }
    if refreshed.drift.is_empty() {
        eprintln!("The state matches the cluster.");
        return Ok(ExitCode::SUCCESS);
    }
    for line in &refreshed.drift {
        eprintln!("Drift: {line}");
    }
    let serial = state.serial;
    state = refreshed.state;
    state.serial = serial;
    workspace.state.save(&mut state, &guard)?;
    eprintln!(
        "Updated the state with {} difference{}; `swarmform plan` shows how to bring the cluster back to the config.",
        refreshed.drift.len(),
        if refreshed.drift.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The config's hosts named in `names` (all when empty) with `role` (any when none), in config
/// order.
pub(crate) fn selected_hosts(
    loaded: &LoadedConfig,
    names: &[String],
    role: Option<HostRole>,
) -> Vec<String> {
    loaded
        .config
        .hosts
        .iter()
        .filter(|host| names.is_empty() || names.contains(&host.name))
        .filter(|host| match role {
            Some(HostRole::Manager) => host.config.role == Role::Manager,
            Some(HostRole::Worker) => host.config.role == Role::Worker,
            None => true,
        })
        .map(|host| host.name.clone())
        .collect()
}

pub(crate) fn exec(workspace: &Workspace, args: &ExecArgs) -> Result<ExitCode, Error> {
    let runtime = runtime()?;
    let loaded = workspace.load(&args.vars)?;
    let state = workspace.state.load()?;
    let hosts = selected_hosts(&loaded, &args.hosts, args.role);
    if hosts.is_empty() {
        return Err(OperateError::NoHosts.into());
    }
    let pool = pool(&loaded, state.as_ref())?;
    let mut words = args.command.iter();
    let program = words.next().cloned().unwrap_or_default();
    let script = Script::new(RemoteCommand::new(program).args(words.cloned()));
    let results = runtime.block_on(async {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(args.parallelism.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for host in hosts {
            let pool = Arc::clone(&pool);
            let script = script.clone();
            let semaphore = Arc::clone(&semaphore);
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await;
                let result = pool.run(&host, &script).await;
                (host, result)
            });
        }
        let mut results = Vec::new();
        while let Some(Ok(result)) = tasks.join_next().await {
            results.push(result);
        }
        pool.close().await;
        results
    });
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let sensitive = &loaded.desired.sensitive_values;
    let mut failures = 0;
    let mut stdout = std::io::stdout().lock();
    for (host, result) in results {
        match result {
            Ok(output) => {
                if !output.success() {
                    failures += 1;
                }
                let _ = writeln!(stdout, "== {host} (exit {})", output.exit_status);
                let _ = write!(
                    stdout,
                    "{}",
                    crate::redact::redact(&output.stdout_text(), sensitive)
                );
                let stderr = output.stderr_text();
                if !stderr.is_empty() {
                    let _ = write!(stdout, "{}", crate::redact::redact(&stderr, sensitive));
                }
            }
            Err(error) => {
                failures += 1;
                let _ = writeln!(stdout, "== {host} (unreachable)\n{error}");
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
