//! What a command's run needs, made once: the paths and the printer at the start, the config,
//! the tokio runtime and the SSH pool when the command first asks for them (`init`, `show` and
//! `state` never load the config; only the commands that reach hosts start a runtime).

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::runtime::Runtime;

use super::error::{Error, OperateError};
use crate::address::Kind;
use crate::cli::{Cli, HostRole, VarArgs};
use crate::config::desired::{Desired, evaluate};
use crate::config::load::{Config, Options, load};
use crate::config::model::Role;
use crate::config::source::{Diagnostic, Sources, render_all};
use crate::ssh::{HostTarget, Pool};
use crate::state::{State, StateFile};
use crate::ui::Printer;

pub struct Workspace {
    config_path: PathBuf,
    state: StateFile,
    printer: Printer,
    verbose: u8,
    /// The command's `--var` and `--var-file`, for the config.
    vars: VarArgs,
    config: OnceCell<LoadedConfig>,
    /// Declared before the runtime, so it is dropped first: its connections belong to it.
    pool: OnceCell<Arc<Pool>>,
    runtime: OnceCell<Runtime>,
}

impl Workspace {
    pub fn new(cli: &Cli) -> Workspace {
        let state = cli.state.clone().unwrap_or_else(|| {
            cli.config
                .parent()
                .map(|dir| dir.join("swarmform.state.json"))
                .unwrap_or_else(|| PathBuf::from("swarmform.state.json"))
        });
        let color =
            !cli.no_color && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        Workspace {
            config_path: cli.config.clone(),
            state: StateFile::new(state),
            printer: Printer::new(color),
            verbose: cli.verbose,
            vars: cli.command.vars().cloned().unwrap_or_default(),
            config: OnceCell::new(),
            pool: OnceCell::new(),
            runtime: OnceCell::new(),
        }
    }

    /// The config file's path (`--config`).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The state file (`--state`, or `swarmform.state.json` beside the config).
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    pub fn printer(&self) -> Printer {
        self.printer
    }

    /// How many `-v`.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// The config, loaded and evaluated on first use; on errors, every diagnostic is printed and
    /// the command fails.
    pub fn config(&self) -> Result<&LoadedConfig, Error> {
        if let Some(loaded) = self.config.get() {
            return Ok(loaded);
        }
        let loaded = self.load()?;
        Ok(self.config.get_or_init(|| loaded))
    }

    fn load(&self) -> Result<LoadedConfig, Error> {
        load_config(&self.load_options()).map_err(|(sources, diagnostics)| {
            self.print_diagnostics(&sources, &diagnostics);
            Error::Config {
                count: diagnostics
                    .iter()
                    .filter(|diagnostic| diagnostic.is_error())
                    .count(),
            }
        })
    }

    /// Where and how the config is loaded: `--config`, `--var`, `--var-file` and the
    /// `SWARMFORM_VAR_*` environment.
    pub fn load_options(&self) -> Options {
        Options {
            path: self.config_path.clone(),
            vars: self.vars.vars.clone(),
            var_files: self.vars.var_files.clone(),
            env: std::env::vars()
                .filter(|(key, _)| key.starts_with("SWARMFORM_VAR_"))
                .collect(),
        }
    }

    /// Diagnostics (errors or warnings) with their snippets, each followed by a blank line.
    pub fn print_diagnostics(&self, sources: &Sources, diagnostics: &[Diagnostic]) {
        let _ = write!(
            self.printer.stderr(),
            "{}",
            render_all(sources, diagnostics, self.printer.color_stderr())
        );
    }

    /// The run's tokio runtime, started on first use.
    pub fn runtime(&self) -> Result<&Runtime, Error> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|error| Error::from(OperateError::Runtime(error)))?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// One SSH pool for the run, made on first use: the config's hosts plus any host only
    /// `state` remembers (a host removed from the config must still be reached to take it
    /// out). Every command passes the state it loaded, so later calls return the same pool.
    pub fn pool(&self, state: Option<&State>) -> Result<Arc<Pool>, Error> {
        if let Some(pool) = self.pool.get() {
            return Ok(Arc::clone(pool));
        }
        let pool = new_pool(self.config()?, state)?;
        Ok(Arc::clone(self.pool.get_or_init(|| pool)))
    }

    /// The pool, if the run has made it.
    pub fn opened_pool(&self) -> Option<&Arc<Pool>> {
        self.pool.get()
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

fn new_pool(loaded: &LoadedConfig, state: Option<&State>) -> Result<Arc<Pool>, Error> {
    let mut targets =
        crate::ssh::targets(&loaded.config, &home()).map_err(OperateError::Targets)?;
    // Hosts only the state remembers are reached with the config's SSH settings at the address
    // the state recorded for them.
    if let (Some(state), Some(template)) = (state, targets.first().cloned()) {
        for engine in state
            .resources
            .iter()
            .filter(|resource| resource.address.kind == Kind::Engine)
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
            targets.push(HostTarget {
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

/// The config loaded and evaluated; or every diagnostic that stopped it, with the files they
/// point into.
pub fn load_config(options: &Options) -> Result<LoadedConfig, (Sources, Vec<Diagnostic>)> {
    let mut sources = Sources::default();
    let result = load(options, &mut sources).and_then(|loaded| {
        evaluate(&loaded.config, &mut sources).map(|desired| (loaded.config, desired))
    });
    match result {
        Ok((config, desired)) => Ok(LoadedConfig {
            sources,
            config,
            desired: Arc::new(desired),
        }),
        Err(diagnostics) => Err((sources, diagnostics)),
    }
}

/// A loaded and evaluated config.
pub struct LoadedConfig {
    pub sources: Sources,
    pub config: Config,
    /// Shared with the apply's [`crate::swarm::Context`], not copied into it.
    pub desired: Arc<Desired>,
}

impl LoadedConfig {
    /// The config's hosts named in `names` (all when empty) with `role` (any when none), in
    /// config order.
    pub fn selected_hosts(&self, names: &[String], role: Option<HostRole>) -> Vec<String> {
        self.config
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

    /// The hosts whose facts include the swarm's node list: those that may be managers, by
    /// the config or by the state.
    pub fn fact_managers(&self, state: Option<&State>) -> BTreeSet<String> {
        let mut managers: BTreeSet<String> = self.desired.managers.iter().cloned().collect();
        for resource in state.iter().flat_map(|state| state.resources.iter()) {
            if resource.is_manager() {
                managers.insert(resource.address.name.clone());
            }
            if resource.address.kind == Kind::Swarm
                && let Some(host) = &resource.host
            {
                managers.insert(host.clone());
            }
        }
        managers
    }

    /// The host whose facts a plan reads before the others': the first manager the state
    /// records (the refresh reads the cluster through it), else the config's first manager
    /// (a first apply initializes the swarm there, and everything waits for that).
    pub fn first_fact_host(&self, state: Option<&State>) -> Option<String> {
        state
            .and_then(|state| state.manager_hosts().into_iter().next())
            .or_else(|| self.desired.managers.first().cloned())
    }

    /// The hosts whose facts a plan reads: the config's, in config order, then those only the
    /// state remembers.
    pub fn fact_hosts(&self, state: Option<&State>) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .config
            .hosts
            .iter()
            .map(|host| host.name.clone())
            .collect();
        // As in `Workspace::pool`: a host only the state remembers is reached at its engine's
        // address.
        let remembered: BTreeSet<String> = state
            .iter()
            .flat_map(|state| state.resources.iter())
            .filter(|resource| {
                resource.address.kind == Kind::Engine
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
}
