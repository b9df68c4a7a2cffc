//! `swarmform exec -- COMMAND`: runs a command on the selected hosts in parallel; the output
//! on stdout, grouped per host, with the config's sensitive values redacted.

use std::io::Write;
use std::sync::Arc;

use super::error::{Error, OperateError};
use super::{ExitStatus, Workspace};
use crate::cli::ExecArgs;
use crate::ssh::{RemoteCommand, Script};

pub(super) fn run(workspace: &Workspace, args: &ExecArgs) -> Result<ExitStatus, Error> {
    let runtime = workspace.runtime()?;
    let loaded = workspace.config()?;
    let state = workspace.state().load()?;
    let hosts = loaded.selected_hosts(&args.hosts, args.role);
    if hosts.is_empty() {
        return Err(OperateError::NoHosts.into());
    }
    let pool = workspace.pool(state.as_ref())?;
    let mut words = args.command.iter();
    let program = words.next().cloned().unwrap_or_default();
    let script = Script::new(RemoteCommand::new(program).args(words.cloned()));
    let mut results = runtime.block_on(async {
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
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = 0;
    // Scrubbed line by line of the run's sensitive values (registered by the config load).
    let mut stdout = workspace.printer().stdout();
    for (host, result) in results {
        match result {
            Ok(output) => {
                if !output.success() {
                    failures += 1;
                }
                let _ = writeln!(stdout, "== {host} (exit {})", output.exit_status);
                let _ = write!(stdout, "{}", output.stdout_text());
                let stderr = output.stderr_text();
                if !stderr.is_empty() {
                    let _ = write!(stdout, "{stderr}");
                }
            }
            Err(error) => {
                failures += 1;
                let _ = writeln!(stdout, "== {host} (unreachable)\n{error}");
            }
        }
    }
    Ok(if failures == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
