//! `swarmform apply` (and `destroy`, which is apply in the destroy mode): plan, or read a saved
//! plan, ask, walk the graph on the cluster, and save the state after each change.

use std::io::{BufRead, Write};
use std::sync::Arc;

use tokio::sync::watch;

use super::error::{Error, OperateError};
use super::planning::{PlanRequest, context, planned};
use super::workspace::LoadedConfig;
use super::{ExitStatus, Workspace};
use crate::apply::report::{Reporter, Silent};
use crate::apply::{Persist, Summary, execute};
use crate::cli::ApplyArgs;
use crate::plan::graph::{Graph, Vertex};
use crate::plan::saved::{SavedPlan, desired_digest};
use crate::plan::{Mode, Plan};
use crate::state::{LockGuard, State, StateError, StateFile};
use crate::ui::Printer;

/// What the run does with the state's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Apply,
    Destroy,
}

impl Operation {
    /// The name the state lock records.
    fn name(self) -> &'static str {
        match self {
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
        }
    }
}

pub(super) fn run(
    workspace: &Workspace,
    args: &ApplyArgs,
    operation: Operation,
) -> Result<ExitStatus, Error> {
    let printer = workspace.printer();
    let runtime = workspace.runtime()?;
    let guard = workspace
        .state()
        .lock(operation.name(), args.lock_timeout)?;
    let recorded = workspace.state().load()?;
    let loaded = workspace.config()?;
    let reporter = reporter(workspace);

    let (plan, graph, state, pool) = match &args.plan_file {
        Some(path) => {
            let saved = SavedPlan::read(path)?;
            check_saved(&saved, recorded.as_ref(), loaded)?;
            let pool = workspace.pool(recorded.as_ref())?;
            let graph = Graph::build(&saved.plan)?;
            (
                saved.plan,
                graph,
                recorded.clone().unwrap_or_default(),
                pool,
            )
        }
        None => {
            let request = PlanRequest {
                destroy: operation == Operation::Destroy,
                targets: &args.target,
                refresh: args.refresh,
                allow_quorum_loss: args.allow_quorum_loss,
            };
            let planned = planned(workspace, recorded.as_ref(), &request, Arc::new(Silent))?;
            for line in &planned.drift {
                printer.err_line(format_args!("Drift: {line}"));
            }
            printer.out(crate::ui::plan_text(&planned.plan, printer.color_stdout()));
            if !planned.plan.has_changes() {
                // Objects the refresh adopted (created by a killed run, never recorded) are
                // recorded now, even with nothing else to do.
                if adopted(recorded.as_ref(), &planned.state) {
                    let mut state = planned.state;
                    workspace.state().save(&mut state, &guard)?;
                }
                return Ok(ExitStatus::Success);
            }
            if !args.auto_approve {
                let question = match operation {
                    Operation::Destroy => {
                        "Do you really want to destroy every resource in the state?\n  swarmform will take the cluster apart as shown above. There is no undo."
                    }
                    Operation::Apply => {
                        "Do you want to perform these actions?\n  swarmform will perform the actions described above."
                    }
                };
                if !confirm(printer, question) {
                    return Err(OperateError::Cancelled.into());
                }
            }
            // The pool the refresh opened, or a new one.
            let pool = workspace.pool(recorded.as_ref())?;
            (planned.plan, planned.graph, planned.state, pool)
        }
    };
    // A new unlock key that `unlock_key_file` cannot take is shown on a terminal, or else kept
    // beside the state.
    let fallback =
        (!printer.stderr_is_terminal()).then(|| workspace.state().unlock_key_fallback_path());
    let mut context = context(&pool, loaded, &state, reporter).with_unlock_key_fallback(fallback);
    if args.plan_file.is_none() {
        // The facts this run's plan read a moment ago; a saved plan's are older.
        context = context.with_facts(&plan.hosts);
    }
    let context = Arc::new(context);
    let (cancel_sender, cancel) = watch::channel(false);
    let mut persist = FilePersist {
        file: workspace.state(),
        guard: &guard,
    };
    let summary = runtime.block_on(async {
        let signal = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                printer.err_line("\nInterrupted: no new steps start; waiting for the running ones, then saving the state.");
                let _ = cancel_sender.send(true);
            }
        });
        let summary = execute(&plan, &graph, Arc::clone(&context), &mut persist, args.parallelism, cancel).await;
        signal.abort();
        pool.close().await;
        summary
    })?;
    if let Some(key) = context.take_new_unlock_key() {
        show_unlock_key(printer, &key, &plan);
    }
    Ok(report(printer, &plan, &summary))
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

fn reporter(workspace: &Workspace) -> Arc<dyn Reporter> {
    let verbose = workspace.verbose() > 0;
    if workspace.printer().color_stderr() {
        Arc::new(crate::ui::progress::Live::new(verbose))
    } else {
        Arc::new(crate::ui::progress::Lines::new(
            workspace.printer(),
            verbose,
        ))
    }
}

/// Asks for `yes` on the terminal (or reads it from standard input).
fn confirm(printer: Printer, question: &str) -> bool {
    printer.err(format_args!(
        "{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let _ = printer.stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    printer.err_line("");
    read.is_ok() && answer.trim() == "yes"
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
fn show_unlock_key(printer: Printer, key: &crate::swarm::NewUnlockKey, plan: &Plan) {
    let consequence = "a manager whose dockerd restarts stays locked until `docker swarm unlock` is given this key";
    if let (Some(path), Some(wanted)) = (&key.written_to, &key.not_written_to) {
        printer.err_line(format_args!(
            "\nThe swarm is autolocked. Its unlock key could not be written to `{}`, so it was written to `{}` (mode 0600) instead: move it to `{}` and keep it safe; {consequence}.",
            wanted.display(),
            path.display(),
            wanted.display()
        ));
    } else if let Some(path) = &key.written_to {
        printer.err_line(format_args!(
            "\nThe swarm is autolocked. Its unlock key was written to `{}` (mode 0600): keep it safe; {consequence}.",
            path.display()
        ));
    } else if printer.stderr_is_terminal() {
        let lead = match &key.not_written_to {
            Some(wanted) => format!(
                "Its unlock key could not be written to `{}`; here it is, shown this once and stored nowhere",
                wanted.display()
            ),
            None => "Its unlock key, shown this once and stored nowhere by swarmform".to_owned(),
        };
        // The one unscrubbed line of a run: the key was registered as sensitive when read,
        // and the person at this terminal must see it once to keep it.
        printer.err_line_unredacted(format_args!(
            "\nThe swarm is autolocked. {lead}:\n\n    {}\n\nKeep it in a password manager: {consequence}.",
            key.key
        ));
    } else {
        let manager = plan
            .change(&crate::address::Address::swarm())
            .and_then(|change| change.host.clone())
            .unwrap_or_else(|| "MANAGER".to_owned());
        printer.err_line(format_args!(
            "\nThe swarm is autolocked. Its unlock key is not printed because stderr is not a terminal (it would end up in a log).\nhint: read it on a terminal with `swarmform exec --hosts {manager} -- docker swarm unlock-key -q`, or set `unlock_key_file` under `[swarm]`; {consequence}."
        ));
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

/// A vertex that failed, rendered like any error.
#[derive(Debug, thiserror::Error)]
#[error("{vertex}: {message}")]
struct StepFailed {
    vertex: Vertex,
    message: String,
}

/// The closing summary, and how the run ends: done, failures, or interrupted.
fn report(printer: Printer, plan: &Plan, summary: &Summary) -> ExitStatus {
    let counts = plan.summary();
    if summary.succeeded() {
        let verb = if plan.mode == Mode::Destroy {
            "Destroy"
        } else {
            "Apply"
        };
        printer.err_line(format_args!(
            "\n{verb} complete! Resources: {} added, {} changed, {} destroyed.",
            counts.add, counts.change, counts.destroy
        ));
        return ExitStatus::Success;
    }
    printer.err_line(format_args!(
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
    ));
    for (vertex, message) in &summary.failed {
        printer.error(&StepFailed {
            vertex: vertex.clone(),
            message: message.clone(),
        });
    }
    if !summary.skipped.is_empty() {
        printer.err_line(format_args!(
            "Skipped because of the failures above: {}",
            summary
                .skipped
                .iter()
                .map(|(vertex, _)| vertex.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    printer.err_line("The state records what was done; run `swarmform apply` again to finish.");
    if summary.interrupted {
        ExitStatus::Interrupted
    } else {
        ExitStatus::Failure
    }
}
