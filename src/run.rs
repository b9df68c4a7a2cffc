//! Parses the command line, runs the command, prints the error once and maps the end of the
//! run to the exit code. stdout carries only data (plans, JSON, DOT, state); everything else
//! goes to stderr.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::address::AddressError;
use crate::cli::{Cli, DurationError, normalize_args};
use crate::commands::{ExitStatus, Workspace, execute};
use crate::ui::Printer;

pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error).into(),
    };
    init_tracing(cli.verbose);
    let workspace = Workspace::new(&cli);
    let printer = workspace.printer();
    let result = execute(&cli.command, &workspace);
    // The runtime and the SSH pool end with the command, before its error is printed.
    drop(workspace);
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            printer.error(&error);
            error.exit_status().into()
        }
    }
}

/// clap's message for a bad command line, or ours for a value one of our parsers refused
/// (a duration, an address), in the form of every other error.
fn usage_error(error: &clap::Error) -> ExitStatus {
    if error.kind() == ErrorKind::ValueValidation
        && let Some(source) = std::error::Error::source(error)
        && (source.is::<DurationError>() || source.is::<AddressError>())
    {
        Printer::new(false).error(source);
        return ExitStatus::Failure;
    }
    let _ = error.print();
    // Usage errors exit 1, so `--detailed-exitcode`'s 2 always means "changes".
    if error.use_stderr() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every event is scrubbed of the run's sensitive values (a command's fields, errors).
        .with_writer(|| crate::redact::Scrubbed::new(std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}
