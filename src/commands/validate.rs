//! `swarmform validate`: the config evaluates, and its `depends_on` make no cycle.

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::address::{Address, Kind};
use crate::config::source::Diagnostic;
use crate::plan::graph::Graph;
use crate::plan::planner;

pub(super) fn run(workspace: &Workspace) -> Result<ExitStatus, Error> {
    let loaded = workspace.config()?;
    let (sources, desired) = (&loaded.sources, &loaded.desired);
    let printer = workspace.printer();
    // Cycles through `depends_on` show up once the graph exists: plan against an empty state.
    let empty = planner::plan(desired, None, &planner::Options::default())?;
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
        workspace.print_diagnostics(sources, &[diagnostic]);
        return Err(Error::Config { count: 1 });
    }
    workspace.print_diagnostics(sources, &desired.warnings);
    let hosts = desired
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Node)
        .count();
    let warnings = desired.warnings.len();
    printer.err_line(format_args!(
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
    ));
    Ok(ExitStatus::Success)
}
