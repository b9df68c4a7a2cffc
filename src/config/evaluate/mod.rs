//! Evaluating a loaded [`Config`] into desired resources: every check that needs the whole
//! config (references, manager count, names, addresses), templates rendered, compose files
//! parsed, and the implicit dependencies they reveal.
//!
//! This file is the entry: [`evaluate`] runs the kinds in order, over the shared
//! `Evaluation` context (the errors and warnings so far, the resources made, the Docker names
//! and registry trust later kinds look up). Each kind evaluates in a file of its own, as an
//! `impl Evaluation` block: objects per scope (networks, secrets and configs, registries),
//! then files and stacks per scope, then engine, daemon and node per host, and the swarm. A
//! new kind is one file here and one line in [`evaluate`] (or in `objects` for a scope's
//! object).

mod content;
mod daemon;
mod engine;
mod file;
mod health;
mod hosts;
mod interpolate;
mod network;
mod node;
mod registry;
mod stack;
mod swarm;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use toml::Spanned;

use super::check;
use super::load::{Base, Config, Scope};
use super::model::{Name, OnDestroy};
use super::read::{self, Purpose, Quote};
use super::source::{Diagnostic, FileId, Location, Sources};
use crate::address::{Address, Kind};
use crate::resource::Resource;
use interpolate::{host_context, insert};

pub use daemon::{DAEMON_JSON_PATH, DROP_IN_PATH, TLS_DIR};

/// Everything the planner needs from the config.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Sorted by address.
    pub resources: Vec<Resource>,
    pub warnings: Vec<Diagnostic>,
    /// Strings scrubbed from all output (sensitive variables and inputs).
    pub sensitive_values: Vec<String>,
    /// Where each resource is declared.
    pub locations: BTreeMap<Address, Location>,
    pub bootstrap: String,
    /// Manager host names in config order.
    pub managers: Vec<String>,
    pub on_destroy: OnDestroy,
    /// `[swarm] adopt`: take over the swarm the bootstrap manager is already in.
    pub adopt: bool,
}

impl Desired {
    pub fn resource(&self, address: &Address) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|resource| &resource.address == address)
    }
}

/// What the kinds share while the config evaluates: the findings so far, the resources made,
/// and what later kinds look up (Docker names for stacks, registry trust for daemons).
struct Evaluation<'a> {
    config: &'a Config,
    sources: &'a mut Sources,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    resources: Vec<Resource>,
    locations: BTreeMap<Address, Location>,
    sensitive_values: Vec<String>,
    /// Docker names of managed objects, to find what compose files refer to.
    network_names: BTreeMap<String, Address>,
    secret_names: BTreeMap<String, Address>,
    config_names: BTreeMap<String, Address>,
    registry_addresses: BTreeMap<String, Address>,
    /// Hosted registries' trust, per host: insecure registries and CA hashes by address.
    insecure_registries: BTreeMap<String, Vec<String>>,
    /// Per host: registry address -> (CA hash, CA content).
    registry_cas: BTreeMap<String, BTreeMap<String, (String, Vec<u8>)>>,
}

/// Evaluates the config. Errors are collected across the whole config before returning.
pub fn evaluate(config: &Config, sources: &mut Sources) -> Result<Desired, Vec<Diagnostic>> {
    let mut evaluation = Evaluation {
        config,
        sources,
        errors: Vec::new(),
        warnings: Vec::new(),
        resources: Vec::new(),
        locations: BTreeMap::new(),
        sensitive_values: config.sensitive_values.clone(),
        network_names: BTreeMap::new(),
        secret_names: BTreeMap::new(),
        config_names: BTreeMap::new(),
        registry_addresses: BTreeMap::new(),
        insecure_registries: BTreeMap::new(),
        registry_cas: BTreeMap::new(),
    };
    let (bootstrap, managers) = evaluation.check_hosts();
    // Objects first, scope by scope: a module's inputs may name the root's objects.
    let mut scopes = Vec::new();
    let mut contexts: Vec<Value> = Vec::new();
    for scope in &config.scopes {
        let mut scope = scope.clone();
        if let Some(root_context) = contexts.first()
            && scope.module.is_some()
        {
            let Some(inputs) = evaluation.module_inputs(&scope, root_context) else {
                continue;
            };
            insert(&mut scope.context, "inputs", inputs);
        }
        contexts.push(evaluation.objects(&scope));
        scopes.push(scope);
    }
    // Stacks find the objects their compose files name; daemons, the registries they trust
    // and the files that restart them.
    for (scope, context) in scopes.iter().zip(&contexts) {
        evaluation.files(scope, context);
        evaluation.stacks(scope, context);
    }
    if let Some(bootstrap) = &bootstrap {
        for host in &config.hosts {
            evaluation.engine(host);
            evaluation.daemon(host);
            evaluation.node(host);
        }
        evaluation.swarm(bootstrap);
    }
    evaluation.check_duplicates();
    let Evaluation {
        errors,
        warnings,
        mut resources,
        locations,
        sensitive_values,
        ..
    } = evaluation;
    // Root settings are checked once per host; report each mistake once.
    let errors = dedup(errors);
    let warnings = dedup(warnings);
    if !errors.is_empty() {
        return Err(errors);
    }
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Desired {
        resources,
        warnings,
        sensitive_values,
        locations,
        bootstrap: bootstrap.unwrap_or_default(),
        managers,
        on_destroy: config.daemon.on_destroy.unwrap_or(OnDestroy::Keep),
        adopt: config.swarm.adopt,
    })
}

/// The diagnostics without repeats, in their first order (a set, so 10,000 errors are not
/// compared pairwise).
fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diagnostics
        .into_iter()
        .filter(|diagnostic| seen.insert(diagnostic.clone()))
        .collect()
}

fn docker_name(scope: &Scope, name: &str) -> String {
    match &scope.module {
        Some(module) => format!("{module}-{name}"),
        None => name.to_owned(),
    }
}

fn labels_value(
    labels: &BTreeMap<Spanned<String>, String>,
    file: FileId,
    errors: &mut Vec<Diagnostic>,
) -> Value {
    let mut map = Map::new();
    for (key, value) in labels {
        if !check::is_label_key(key.get_ref()) {
            errors.push(
                Diagnostic::error(format!(
                    "`{}` is not a valid label key",
                    check::printable(key.get_ref())
                ))
                .at(Location::new(file, key.span()), "this key")
                .help(
                    "label keys may not be empty or contain whitespace, control characters or `=`",
                ),
            );
        } else if key.get_ref().starts_with(crate::state::LABEL_PREFIX) {
            errors.push(
                Diagnostic::error(format!("`{}` is a reserved label key", key.get_ref()))
                    .at(Location::new(file, key.span()), "this key")
                    .help("label keys starting with `swarmform.` are swarmform's own: it marks what it creates with `swarmform.address` and `swarmform.lineage`; rename this label"),
            );
        } else if value.contains('\0') {
            // Labels travel as quoted words of a command line, which SSH cannot carry a NUL in.
            errors.push(
                Diagnostic::error(format!("the value of label `{}` contains a NUL byte", key.get_ref()))
                    .at(Location::new(file, key.span()), "this label")
                    .help("label values travel on a command line, which cannot hold a NUL byte; remove it"),
            );
        }
        map.insert(key.get_ref().clone(), Value::String(value.clone()));
    }
    Value::Object(map)
}

impl Evaluation<'_> {
    fn at(&self, file: FileId, span: std::ops::Range<usize>) -> Location {
        Location::new(file, span)
    }

    fn add(&mut self, resource: Resource, location: Location) {
        self.locations.insert(resource.address.clone(), location);
        self.resources.push(resource);
    }

    /// Networks, secrets, configs and registries of one scope; returns the template context
    /// naming them.
    fn objects(&mut self, scope: &Scope) -> Value {
        let networks = self.networks(scope);
        let secrets = self.contents(scope, Kind::Secret);
        let configs = self.contents(scope, Kind::Config);
        let registries = self.registries(scope);
        let hosts: Map<String, Value> = self
            .config
            .hosts
            .iter()
            .map(|host| (host.name.clone(), host_context(host)))
            .collect();
        let mut context = scope.context.clone();
        if let Value::Object(map) = &mut context {
            map.insert("networks".into(), Value::Object(networks));
            map.insert("secrets".into(), Value::Object(secrets));
            map.insert("configs".into(), Value::Object(configs));
            map.insert("registries".into(), Value::Object(registries));
            map.insert("hosts".into(), Value::Object(hosts));
        }
        context
    }

    /// The span of `needle` inside `within` (a list's span), or `within` itself.
    fn find_in(
        &self,
        file: FileId,
        within: &std::ops::Range<usize>,
        needle: &str,
    ) -> std::ops::Range<usize> {
        let text = self.sources.text(file);
        text.get(within.clone())
            .and_then(|slice| slice.find(needle))
            .map_or_else(
                || within.clone(),
                |offset| within.start + offset..within.start + offset + needle.len(),
            )
    }

    fn check_name(&mut self, what: &str, name: &Name, file: FileId) -> bool {
        let valid = crate::address::is_name(name.get_ref());
        if !valid {
            self.errors.push(
                Diagnostic::error(format!("`{}` is not a valid {what} name", name.get_ref()))
                    .at(self.at(file, name.span()), "this name")
                    .help("names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)"),
            );
        }
        valid
    }

    /// A file named relative to `scope`, sent to hosts as a file; a read error points at the
    /// path with `label`.
    fn read_bytes(
        &mut self,
        scope: &Scope,
        path: &Spanned<String>,
        label: &str,
    ) -> Option<Vec<u8>> {
        self.read_limited(scope, path, label, Purpose::HostFile)
    }

    /// A file named relative to `scope`, read for `purpose` (see [`crate::config::read`]): a
    /// module's path that leaves its folder, a file that is not regular or larger than the
    /// purpose's limit are errors at the path, with `label`.
    fn read_limited(
        &mut self,
        scope: &Scope,
        path: &Spanned<String>,
        label: &str,
        purpose: Purpose,
    ) -> Option<Vec<u8>> {
        match &scope.base {
            Base::Dir(dir) => match scope.resolve(dir, path) {
                Ok(full) => self.read_file(&full, dir, scope.file, path, label, purpose),
                Err(error) => {
                    self.errors.push(error);
                    None
                }
            },
            Base::Builtin(_) => scope
                .read(self.sources, path)
                .map(|id| self.sources.text(id).as_bytes().to_vec())
                .map_err(|error| self.errors.push(error))
                .ok(),
        }
    }

    /// The file `full`, named by `path` in `file` relative to `dir`, read for `purpose`; a
    /// read error points at the path with `label`.
    fn read_file(
        &mut self,
        full: &Path,
        dir: &Path,
        file: FileId,
        path: &Spanned<String>,
        label: &str,
        purpose: Purpose,
    ) -> Option<Vec<u8>> {
        read::bytes(full, purpose)
            .map_err(|error| {
                let diagnostic = error.diagnostic(
                    self.sources,
                    &format!("`{}`", path.get_ref()),
                    Some(self.at(file, path.span())),
                    label,
                    Quote::No,
                    Some(dir),
                );
                self.errors.push(diagnostic);
            })
            .ok()
    }

    /// Two resources with one Docker name (a module's network named like the root's).
    fn check_duplicates(&mut self) {
        let mut seen: BTreeMap<(Kind, String), Address> = BTreeMap::new();
        for resource in &self.resources {
            let Some(docker) = &resource.docker_name else {
                continue;
            };
            let kind = match resource.address.kind {
                Kind::Registry => Kind::Stack,
                kind => kind,
            };
            if let Some(other) = seen.insert((kind, docker.clone()), resource.address.clone()) {
                let location = self.locations.get(&resource.address).cloned();
                self.errors.push(
                    Diagnostic::error(format!(
                        "`{other}` and `{}` would both be the Docker object `{docker}`",
                        resource.address
                    ))
                    .at_optional(location, "second declaration")
                    .help("rename one of them"),
                );
            }
        }
    }
}

fn duration_error(duration: &Spanned<String>, file: FileId) -> Diagnostic {
    Diagnostic::error(format!("`{}` is not a duration", duration.get_ref())).at(
        Location::new(file, duration.span()),
        "expected a duration such as `10s`, `5m` or `2160h`",
    )
}
