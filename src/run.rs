//! Parses the command line, runs the command, prints the error once and maps it to an exit
//! code. stdout carries only data (plans, JSON, DOT, state); everything else goes to stderr.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::address::{Address, AddressError};
use crate::cli::{
    Cli, Command, DurationError, GraphArgs, InitArgs, PlanArgs, ShowArgs, StateCommand, VarArgs,
    normalize_args,
};
use crate::config::desired::{Desired, evaluate};
use crate::config::load::{Options, load};
use crate::config::source::{Diagnostic, Sources};
use crate::error::{Error, render};
use crate::plan::Warning;
use crate::plan::graph::Graph;
use crate::plan::planner;
use crate::plan::saved::SavedPlan;
use crate::state::StateFile;

/// The starter config `swarmform init` writes.
const STARTER_CONFIG: &str = include_str!("../templates/swarmform.toml");

pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    init_tracing(cli.verbose);
    let workspace = Workspace::new(&cli);
    match execute(&cli, &workspace) {
        Ok(code) => code,
        Err(error) => {
            eprint!("{}", render(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

/// clap's message for a bad command line, or ours for a value one of our parsers refused
/// (a duration, an address), in the form of every other error.
fn usage_error(error: &clap::Error) -> ExitCode {
    if error.kind() == ErrorKind::ValueValidation
        && let Some(source) = std::error::Error::source(error)
        && (source.is::<DurationError>() || source.is::<AddressError>())
    {
        eprint!("{}", render(source));
        return ExitCode::from(1);
    }
    let _ = error.print();
    // Usage errors exit 1, so `--detailed-exitcode`'s 2 always means "changes".
    ExitCode::from(if error.use_stderr() { 1 } else { 0 })
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Paths and output settings every command shares.
pub(crate) struct Workspace {
    pub(crate) config: PathBuf,
    pub(crate) state: StateFile,
    pub(crate) color_stdout: bool,
    pub(crate) color_stderr: bool,
}

impl Workspace {
    fn new(cli: &Cli) -> Workspace {
        let state = cli.state.clone().unwrap_or_else(|| {
            cli.config
                .parent()
                .map(|dir| dir.join("swarmform.state.json"))
                .unwrap_or_else(|| PathBuf::from("swarmform.state.json"))
        });
        let color =
            !cli.no_color && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        Workspace {
            config: cli.config.clone(),
            state: StateFile::new(state),
            color_stdout: color && std::io::stdout().is_terminal(),
            color_stderr: color && std::io::stderr().is_terminal(),
        }
    }

    /// Loads and evaluates the config; on errors, prints every diagnostic and fails.
    fn desired(&self, vars: &VarArgs) -> Result<(Sources, Desired), Error> {
        self.load(vars)
            .map(|loaded| (loaded.sources, loaded.desired))
    }

    pub(crate) fn load(&self, vars: &VarArgs) -> Result<LoadedConfig, Error> {
        let options = Options {
            path: self.config.clone(),
            vars: vars.vars.clone(),
            var_files: vars.var_files.clone(),
            env: std::env::vars()
                .filter(|(key, _)| key.starts_with("SWARMFORM_VAR_"))
                .collect(),
        };
        let mut sources = Sources::default();
        let result = load(&options, &mut sources).and_then(|loaded| {
            evaluate(&loaded.config, &mut sources).map(|desired| (loaded.config, desired))
        });
        match result {
            Ok((config, desired)) => Ok(LoadedConfig {
                sources,
                config,
                desired,
            }),
            Err(diagnostics) => {
                let mut stderr = std::io::stderr().lock();
                for diagnostic in &diagnostics {
                    let _ = writeln!(
                        stderr,
                        "{}\n",
                        diagnostic.render(&sources, self.color_stderr)
                    );
                }
                Err(Error::Config {
                    count: diagnostics
                        .iter()
                        .filter(|diagnostic| diagnostic.is_error())
                        .count(),
                })
            }
        }
    }

    fn print_warnings(&self, sources: &Sources, warnings: &[Diagnostic]) {
        let mut stderr = std::io::stderr().lock();
        for warning in warnings {
            let _ = writeln!(stderr, "{}\n", warning.render(sources, self.color_stderr));
        }
    }
}

/// A loaded and evaluated config.
pub(crate) struct LoadedConfig {
    pub(crate) sources: Sources,
    pub(crate) config: crate::config::load::Config,
    pub(crate) desired: Desired,
}

fn execute(cli: &Cli, workspace: &Workspace) -> Result<ExitCode, Error> {
    match &cli.command {
        Command::Apply(args) => crate::operate::apply(workspace, args, false, cli.verbose),
        Command::Destroy(args) => crate::operate::apply(workspace, args, true, cli.verbose),
        Command::Refresh(args) => crate::operate::refresh(workspace, args),
        Command::Exec(args) => crate::operate::exec(workspace, args),
        Command::Init(args) => init(workspace, args),
        Command::Validate(vars) => validate(workspace, vars),
        Command::Plan(args) => plan(workspace, args),
        Command::Graph(args) => graph(workspace, args),
        Command::Show(args) => show(workspace, args),
        Command::State(command) => state(workspace, command),
        Command::Lab(command) => crate::lab::run(command),
        Command::Image(command) => crate::image::run(workspace, command),
        Command::ForceUnlock(args) => {
            let info = workspace.state.force_unlock(&args.id, args.force)?;
            eprintln!(
                "Released the lock `{}` on `{}` (held by {}, operation `{}`, pid {}).",
                info.id,
                workspace.state.path().display(),
                info.who,
                info.operation,
                info.pid
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(workspace: &Workspace, args: &InitArgs) -> Result<ExitCode, Error> {
    let path = &workspace.config;
    if path.exists() && !args.force {
        return Err(Error::ConfigExists { path: path.clone() });
    }
    std::fs::write(path, STARTER_CONFIG).map_err(|source| Error::Io {
        path: path.clone(),
        operation: "write",
        source,
    })?;
    eprintln!(
        "Wrote `{}`. Edit the hosts, then run `swarmform validate` and `swarmform plan`.",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(workspace: &Workspace, vars: &VarArgs) -> Result<ExitCode, Error> {
    let (sources, desired) = workspace.desired(vars)?;
    // Cycles through `depends_on` show up once the graph exists: plan against an empty state.
    let empty = planner::plan(&desired, None, &planner::Options::default())?;
    if let Err(cycle) = Graph::build(&empty) {
        let first: Option<Address> = cycle
            .cycle
            .first()
            .and_then(|vertex| vertex.split(' ').next())
            .and_then(|text| text.parse().ok());
        let location = first.and_then(|address| desired.locations.get(&address).cloned());
        let diagnostic =
            Diagnostic::error(format!("dependency cycle: {}", cycle.cycle.join(" -> ")))
                .at_optional(location, "this resource is part of the cycle")
                .help("remove one of these `depends_on` entries");
        eprintln!("{}\n", diagnostic.render(&sources, workspace.color_stderr));
        return Err(Error::Config { count: 1 });
    }
    workspace.print_warnings(&sources, &desired.warnings);
    let hosts = desired
        .resources
        .iter()
        .filter(|resource| resource.address.kind == crate::address::Kind::Node)
        .count();
    let warnings = desired.warnings.len();
    eprintln!(
        "The config is valid: {hosts} host{}, {} resources{}.",
        if hosts == 1 { "" } else { "s" },
        desired.resources.len(),
        if warnings == 0 {
            String::new()
        } else {
            format!(
                ", {warnings} warning{}",
                if warnings == 1 { "" } else { "s" }
            )
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Config warnings become plan warnings, so a reviewer of the plan reads them too.
pub(crate) fn config_warnings(sources: &Sources, desired: &Desired) -> Vec<Warning> {
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

fn plan(workspace: &Workspace, args: &PlanArgs) -> Result<ExitCode, Error> {
    let guard = workspace.state.lock("plan", args.lock_timeout)?;
    let state = workspace.state.load()?;
    let loaded = workspace.load(&args.vars)?;
    // A runtime (and SSH) only when the hosts are read.
    let runtime = if args.refresh {
        Some(crate::operate::runtime()?)
    } else {
        None
    };
    let request = crate::operate::PlanRequest {
        destroy: args.destroy,
        targets: &args.target,
        refresh: args.refresh,
        allow_quorum_loss: args.allow_quorum_loss,
    };
    let planned = crate::operate::planned(
        runtime.as_ref(),
        &loaded,
        state.as_ref(),
        &request,
        std::sync::Arc::new(crate::apply::report::Silent),
    )?;
    if let (Some(runtime), Some(pool)) = (&runtime, &planned.pool) {
        runtime.block_on(pool.close());
    }
    for line in &planned.drift {
        eprintln!("Drift: {line}");
    }
    let plan = planned.plan;
    let output = if args.json {
        crate::ui::plan_json(&plan)
    } else if args.markdown {
        crate::ui::plan_markdown(&plan)
    } else {
        crate::ui::plan_text(&plan, workspace.color_stdout)
    };
    print!("{output}");
    if let Some(path) = &args.out {
        SavedPlan::new(plan.clone(), &loaded.desired).write(path)?;
        eprintln!(
            "Saved the plan to `{}`. To apply exactly this plan: swarmform apply {}",
            path.display(),
            path.display()
        );
    }
    drop(guard);
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn graph(workspace: &Workspace, args: &GraphArgs) -> Result<ExitCode, Error> {
    let state = workspace.state.load()?;
    let loaded = workspace.load(&args.vars)?;
    let request = crate::operate::PlanRequest {
        destroy: args.destroy,
        targets: &args.target,
        refresh: false,
        allow_quorum_loss: true,
    };
    let planned = crate::operate::planned(
        None,
        &loaded,
        state.as_ref(),
        &request,
        std::sync::Arc::new(crate::apply::report::Silent),
    )?;
    let graph = Graph::build(&planned.plan)?;
    print!("{}", graph.dot(&planned.plan));
    Ok(ExitCode::SUCCESS)
}

fn show(workspace: &Workspace, args: &ShowArgs) -> Result<ExitCode, Error> {
    if let Some(path) = &args.plan_file {
        let saved = SavedPlan::read(path)?;
        let output = if args.json {
            crate::ui::plan_json(&saved.plan)
        } else {
            crate::ui::plan_text(&saved.plan, workspace.color_stdout)
        };
        print!("{output}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(state) = workspace.state.load()? else {
        eprintln!(
            "No state at `{}`: nothing has been applied yet.",
            workspace.state.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    if args.json {
        let mut text =
            serde_json::to_string_pretty(&crate::ui::state_json(&state)).unwrap_or_default();
        text.push('\n');
        print!("{text}");
    } else {
        for resource in &state.resources {
            print!("{}", crate::ui::resource_text(resource));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn state(workspace: &Workspace, command: &StateCommand) -> Result<ExitCode, Error> {
    match command {
        StateCommand::List => {
            if let Some(state) = workspace.state.load()? {
                for resource in &state.resources {
                    println!("{}", resource.address);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { address } => {
            let state = workspace.state.load()?.unwrap_or_default();
            let resource = state.resource(address).ok_or_else(|| Error::NotInState {
                address: address.to_string(),
            })?;
            print!("{}", crate::ui::resource_text(resource));
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Rm {
            addresses,
            lock_timeout,
        } => {
            let guard = workspace.state.lock("state rm", *lock_timeout)?;
            let mut state = workspace.state.load()?.unwrap_or_default();
            for address in addresses {
                if state.resource(address).is_none() {
                    return Err(Error::NotInState {
                        address: address.to_string(),
                    });
                }
            }
            for address in addresses {
                state.remove(address);
            }
            workspace.state.save(&mut state, &guard)?;
            for address in addresses {
                eprintln!("Removed `{address}` from the state; nothing on the hosts was changed.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
