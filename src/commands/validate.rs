//! `swarmform validate`: the config evaluates, and its `depends_on` make no cycle.
//!
//! [`check`] is the whole offline path as data: the TOML, its includes, modules, templates and
//! compose files loaded and evaluated, a plan made against an empty state and its graph built.
//! `run` prints what it found; the fuzz target (`fuzz/`) drives the same [`check`].

use super::error::Error;
use super::workspace::load_config;
use super::{ExitStatus, Workspace};
use crate::address::{Address, Kind};
use crate::config::load::Options;
use crate::config::source::{Diagnostic, Sources, render_all};
use crate::plan::Plan;
use crate::plan::graph::Graph;
use crate::plan::planner::{self, PlanError};

pub(super) fn run(workspace: &Workspace) -> Result<ExitStatus, Error> {
    let validation = check(&workspace.load_options())?;
    workspace.print_diagnostics(&validation.sources, &validation.diagnostics);
    match validation.summary() {
        Some(summary) => {
            workspace.printer().err_line(summary);
            Ok(ExitStatus::Success)
        }
        None => Err(Error::Config {
            count: validation.errors(),
        }),
    }
}

/// What `validate` found.
pub struct Validation {
    /// Every file read, for the diagnostics to quote.
    pub sources: Sources,
    /// The errors that make the config invalid; or, when it is valid, its warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// A valid config's plan against an empty state, and its graph.
    pub valid: Option<Valid>,
}

/// A valid config, planned.
pub struct Valid {
    pub plan: Plan,
    pub graph: Graph,
    /// How many hosts the config declares, and how many resources it makes.
    pub hosts: usize,
    pub resources: usize,
}

impl Validation {
    /// How many of the diagnostics are errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .count()
    }

    /// `The config is valid: …`, for a valid config.
    pub fn summary(&self) -> Option<String> {
        let valid = self.valid.as_ref()?;
        let warnings = self.diagnostics.len();
        Some(format!(
            "The config is valid: {} host{}, {} resources{}.",
            valid.hosts,
            if valid.hosts == 1 { "" } else { "s" },
            valid.resources,
            if warnings == 0 {
                String::new()
            } else {
                format!(
                    ", {warnings} warning{}",
                    if warnings == 1 { "" } else { "s" }
                )
            }
        ))
    }

    /// What `validate` prints on stderr before its exit: every diagnostic with its snippet,
    /// then the summary of a valid config.
    pub fn report(&self, color: bool) -> String {
        let mut text = render_all(&self.sources, &self.diagnostics, color);
        if let Some(summary) = self.summary() {
            text.push_str(&summary);
            text.push('\n');
        }
        text
    }
}

/// Loads and evaluates the config as `validate` does, plans it against an empty state and
/// builds the plan's graph (a `depends_on` cycle is a diagnostic). Reads only the config's own
/// files; reaches no host.
pub fn check(options: &Options) -> Result<Validation, PlanError> {
    let loaded = match load_config(options) {
        Ok(loaded) => loaded,
        Err((sources, diagnostics)) => {
            return Ok(Validation {
                sources,
                diagnostics,
                valid: None,
            });
        }
    };
    let (sources, desired) = (loaded.sources, loaded.desired);
    // Cycles through `depends_on` show up once the graph exists: plan against an empty state.
    let plan = planner::plan(&desired, None, &planner::Options::default())?;
    let graph = match Graph::build(&plan) {
        Ok(graph) => graph,
        Err(cycle) => {
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
            return Ok(Validation {
                sources,
                diagnostics: vec![diagnostic],
                valid: None,
            });
        }
    };
    let hosts = desired
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node)
        .count();
    Ok(Validation {
        sources,
        valid: Some(Valid {
            plan,
            graph,
            hosts,
            resources: desired.resources.len(),
        }),
        diagnostics: desired.warnings.clone(),
    })
}
