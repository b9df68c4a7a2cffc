//! `swarmform refresh`: reads the live cluster and records what differs in the state.

use std::sync::Arc;

use super::error::{Error, OperateError};
use super::planning::{context, read_and_refresh};
use super::{ExitStatus, Workspace};
use crate::apply::report::Silent;
use crate::cli::RefreshArgs;

pub(super) fn run(workspace: &Workspace, args: &RefreshArgs) -> Result<ExitStatus, Error> {
    let printer = workspace.printer();
    let runtime = workspace.runtime()?;
    let guard = workspace.state().lock("refresh", args.lock_timeout)?;
    let Some(mut state) = workspace.state().load()? else {
        printer.err_line(format_args!(
            "No state at `{}`: nothing to refresh.",
            workspace.state().path().display()
        ));
        return Ok(ExitStatus::Success);
    };
    let loaded = workspace.config()?;
    let pool = workspace.pool(Some(&state))?;
    let context = Arc::new(context(&pool, loaded, &state, Arc::new(Silent)));
    let hosts = loaded.fact_hosts(Some(&state));
    let managers = loaded.fact_managers(Some(&state));
    let refreshed = runtime.block_on(async {
        let refreshed = match read_and_refresh(
            &pool,
            &hosts,
            &managers,
            loaded.first_fact_host(Some(&state)),
            Some((&context, &state)),
        )
        .await
        {
            (_, Some(refreshed)) => refreshed,
            (Err(error), None) => Err(error),
            // Not made: read_and_refresh refreshes whenever the facts were read.
            (Ok(_), None) => Ok(crate::swarm::refresh::Refreshed {
                state: state.clone(),
                ..Default::default()
            }),
        };
        pool.close().await;
        refreshed
    });
    let refreshed = refreshed.map_err(OperateError::from)?;
    for host in &refreshed.unreachable {
        printer.err_line(format_args!(
            "Unreachable: `{host}` did not answer over SSH; what it holds was not read."
        ));
    }
    if refreshed.drift.is_empty() {
        printer.err_line("The state matches the cluster.");
        return Ok(ExitStatus::Success);
    }
    for line in &refreshed.drift {
        printer.err_line(format_args!("Drift: {line}"));
    }
    let serial = state.serial;
    state = refreshed.state;
    state.serial = serial;
    workspace.state().save(&mut state, &guard)?;
    printer.err_line(format_args!(
        "Updated the state with {} difference{}; `swarmform plan` shows how to bring the cluster back to the config.",
        refreshed.drift.len(),
        if refreshed.drift.len() == 1 { "" } else { "s" }
    ));
    Ok(ExitStatus::Success)
}
