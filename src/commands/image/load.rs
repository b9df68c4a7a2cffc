//! `swarmform image load TARBALL`: the tarball streamed into `docker load` on every chosen
//! host.

use std::io::Write;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::super::error::{Error, OperateError};
use super::super::workspace::LoadedConfig;
use super::{ImageError, Workspace, open_error, stream_load};
use crate::apply::report::TransferReporter;
use crate::cli::{ImageLoadArgs, Tarball};
use crate::ssh::Pool;

/// `swarmform image load TARBALL`: every chosen host in parallel, each reading the file itself
/// (or its own pipe fed from standard input).
pub(super) fn run(
    workspace: &Workspace,
    args: &ImageLoadArgs,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), Error> {
    let loaded = workspace.config()?;
    check_host_names(loaded, &args.hosts)?;
    let hosts = loaded.selected_hosts(&args.hosts, args.role);
    if hosts.is_empty() {
        return Err(OperateError::NoHosts.into());
    }
    let source = &args.tarball;
    let total = match source {
        Tarball::File(path) => Some(std::fs::metadata(path).map_err(open_error(path))?.len()),
        Tarball::Stdin => None,
    };
    if let Tarball::File(path) = source {
        // Fail once here rather than once per host.
        std::fs::File::open(path).map_err(open_error(path))?;
    }
    let state = workspace.state().load()?;
    let pool = workspace.pool(state.as_ref())?;
    let runtime = workspace.runtime()?;
    let what = match source {
        Tarball::File(path) => format!("`{}`", path.display()),
        Tarball::Stdin => "standard input".to_owned(),
    };
    let results = runtime.block_on(async {
        // Standard input can be read once: it is copied to one pipe per host, all at once.
        let (parallelism, mut pipes, feeder) = match source {
            Tarball::File(_) => (args.parallelism.max(1), Vec::new(), None),
            Tarball::Stdin => {
                let (readers, writers): (Vec<_>, Vec<_>) =
                    hosts.iter().map(|_| tokio::io::duplex(256 * 1024)).unzip();
                (
                    hosts.len(),
                    readers,
                    Some(tokio::spawn(feed_stdin(writers))),
                )
            }
        };
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism));
        let mut tasks = tokio::task::JoinSet::new();
        pipes.reverse();
        for host in &hosts {
            let pipe = pipes.pop();
            let path = match source {
                Tarball::File(path) => Some(path.clone()),
                Tarball::Stdin => None,
            };
            let pool = Arc::clone(&pool);
            let reporter = Arc::clone(&reporter);
            let semaphore = Arc::clone(&semaphore);
            let host = host.clone();
            let what = what.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await;
                reporter.started(&host, &what, total);
                let result = match (path, pipe) {
                    (Some(path), _) => match tokio::fs::File::open(&path).await {
                        Ok(file) => load_one(&pool, &host, file, reporter.as_ref()).await,
                        Err(source) => Err(ImageError::Open { path, source }),
                    },
                    (None, Some(pipe)) => load_one(&pool, &host, pipe, reporter.as_ref()).await,
                    (None, None) => Ok(()),
                };
                let message = result.as_ref().err().map(ToString::to_string);
                reporter.finished(&host, message.as_deref());
                (host, result)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(result) = joined {
                results.push(result);
            }
        }
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        pool.close().await;
        results
    });
    let failed: Vec<&(String, Result<(), ImageError>)> = results
        .iter()
        .filter(|(_, result)| result.is_err())
        .collect();
    let printer = workspace.printer();
    if failed.is_empty() {
        printer.err_line(format_args!(
            "\nLoaded {what} on {} host{}.",
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" }
        ));
        return Ok(());
    }
    let _ = writeln!(printer.stderr());
    for host in &hosts {
        if let Some((_, Err(error))) = results.iter().find(|(name, _)| name == host) {
            printer.error(error);
        }
    }
    Err(ImageError::LoadFailed {
        failed: failed.len(),
        total: hosts.len(),
        tarball: args.tarball.to_string(),
    }
    .into())
}

/// Copies standard input to every pipe; a pipe whose host stopped reading is dropped.
async fn feed_stdin(mut writers: Vec<tokio::io::DuplexStream>) {
    let mut stdin = tokio::io::stdin();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let count = match stdin.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let mut open = Vec::with_capacity(writers.len());
        for mut writer in writers {
            if writer.write_all(&buffer[..count]).await.is_ok() {
                open.push(writer);
            }
        }
        if open.is_empty() {
            return;
        }
        writers = open;
    }
    for mut writer in writers {
        let _ = writer.shutdown().await;
    }
}

fn check_host_names(loaded: &LoadedConfig, names: &[String]) -> Result<(), ImageError> {
    let unknown: Vec<String> = names
        .iter()
        .filter(|name| loaded.config.host(name).is_none())
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ImageError::UnknownHosts {
        names: unknown,
        declared: loaded.config.host_names(),
    })
}

/// Streams `input` into `docker load` on `host` and reports what it loaded.
async fn load_one<R>(
    pool: &Pool,
    host: &str,
    input: R,
    reporter: &dyn TransferReporter,
) -> Result<(), ImageError>
where
    R: AsyncRead + Unpin + Send,
{
    let output = stream_load(pool, host, input, reporter).await?;
    for line in output
        .stdout_text()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        reporter.message(host, line.trim());
    }
    Ok(())
}
