//! `swarmform image load` and `swarmform image push`: images reach the hosts as `docker save`
//! tarballs streamed over SSH into `docker load` (never read whole into memory), either on the
//! chosen hosts, or on a hosted registry's node, which then tags and pushes them: that node's
//! dockerd trusts the registry through the daemon settings swarmform wrote, where the local
//! machine's does not.

mod error;
mod load;
mod push;

use std::path::Path;
use std::sync::Arc;

use tokio::io::AsyncRead;

pub use error::ImageError;

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::apply::report::TransferReporter;
use crate::cli::ImageCommand;
use crate::ssh::{Output, Pool, RemoteCommand, Script};
use crate::ui::Printer;

/// Runs an `image` command; its errors go back to `run`, printed once like every command's.
pub(super) fn run(workspace: &Workspace, command: &ImageCommand) -> Result<ExitStatus, Error> {
    let reporter = reporter(workspace.printer());
    match command {
        ImageCommand::Load(args) => load::run(workspace, args, reporter)?,
        ImageCommand::Push(args) => push::run(workspace, args, reporter)?,
    }
    Ok(ExitStatus::Success)
}

fn reporter(printer: Printer) -> Arc<dyn TransferReporter> {
    if printer.color_stderr() {
        Arc::new(crate::ui::progress::TransferLive::new())
    } else {
        Arc::new(crate::ui::progress::TransferLines::new(printer))
    }
}

pub(super) fn docker(words: &[&str]) -> RemoteCommand {
    RemoteCommand::new("docker").args(words.iter().copied())
}

/// Docker's message: its stderr, else its stdout, trimmed.
pub(super) fn said(output: &Output) -> String {
    let stderr = output.stderr_text();
    let text = if stderr.trim().is_empty() {
        output.stdout_text()
    } else {
        stderr
    };
    text.trim().to_owned()
}

/// The references a `docker load` reported (`Loaded image: NAME:TAG`).
pub(super) fn loaded_references(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Loaded image: "))
        .map(|reference| reference.trim().to_owned())
        .collect()
}

pub(super) fn open_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Open {
        path: path.to_path_buf(),
        source,
    }
}

/// `docker load` on `host` with `input` streamed in; Docker's refusal becomes the error.
pub(super) async fn stream_load<R>(
    pool: &Pool,
    host: &str,
    input: R,
    reporter: &dyn TransferReporter,
) -> Result<Output, ImageError>
where
    R: AsyncRead + Unpin + Send,
{
    let sent = |bytes: u64| reporter.sent(host, bytes);
    let script = Script::new(docker(&["load"]));
    let output = pool
        .run_streaming(host, &script, input, &sent)
        .await
        .map_err(|source| ImageError::Transfer {
            host: host.to_owned(),
            source: Box::new(source),
        })?;
    if !output.success() {
        return Err(ImageError::Remote {
            host: host.to_owned(),
            what: "docker load".to_owned(),
            message: said(&output),
            hint: Some("is the file a `docker save` tarball, and whole?".to_owned()),
        });
    }
    Ok(output)
}
