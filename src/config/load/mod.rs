//! Reading `swarmform.toml`: the root file, its includes, its modules and its variables, into a
//! [`Config`] whose every part still knows the file and span it came from. This file reads the
//! root file and its includes; module calls and variables load in files of their own.

mod module;
mod variables;

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;
use toml::Spanned;

use super::model::{
    ConfigFile, ContentConfig, DaemonSettings, EngineSettings, FileConfig, HostConfig, Name,
    NetworkConfig, RegistryConfig, SshSettings, StackConfig, SwarmSettings, Table,
};
use super::read::{self, Quote, ReadError};
use super::source::{Diagnostic, FileId, Location, Sources};
use crate::address::is_name;
use module::load_module;
use variables::resolve_variables;

pub use variables::{collect_strings, render_strings, toml_to_json};

/// What the command line adds to the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub path: PathBuf,
    /// `--var NAME=VALUE`, in order; later ones win.
    pub vars: Vec<String>,
    /// `--var-file FILE`, in order.
    pub var_files: Vec<PathBuf>,
    /// The process environment (`SWARMFORM_VAR_NAME`), passed in so tests control it.
    pub env: Vec<(String, String)>,
}

/// The config, merged across files, with variables and module inputs resolved.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub root: FileId,
    pub ssh: SshSettings,
    pub engine: EngineSettings,
    pub daemon: DaemonSettings,
    pub daemon_location: Option<Location>,
    pub swarm: SwarmSettings,
    pub swarm_location: Option<Location>,
    pub hosts: Vec<Host>,
    pub variables: IndexMap<String, Variable>,
    /// The root's workloads first, then one scope per module call.
    pub scopes: Vec<Scope>,
    /// Every sensitive value (variables, inputs): output is scrubbed of them.
    pub sensitive_values: Vec<String>,
}

impl Config {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|host| host.name == name)
    }

    pub fn host_names(&self) -> String {
        self.hosts
            .iter()
            .map(|host| host.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug)]
pub struct Host {
    pub name: String,
    /// Where the host's table key is.
    pub location: Location,
    /// Relative paths in the host's table are relative to this folder.
    pub dir: PathBuf,
    pub config: HostConfig,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub value: Value,
    pub sensitive: bool,
}

/// Where a scope's relative paths point.
#[derive(Debug, Clone)]
pub enum Base {
    Dir(PathBuf),
    /// A module shipped inside the binary, by name.
    Builtin(&'static str),
}

/// One input of a module call.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub value: toml::Value,
    /// In the root file: the input's key, or the module call's name for a default.
    pub span: Range<usize>,
    pub sensitive: bool,
}

/// The workloads of the root file or of one module call.
#[derive(Debug, Clone)]
pub struct Scope {
    pub module: Option<String>,
    /// The file that declares the workloads (the root file or `module.toml`).
    pub file: FileId,
    pub base: Base,
    /// `{"var": {...}}` at the root, `{"module": {"name": ...}}` in a module, to which
    /// evaluation adds the rendered `inputs`.
    pub context: Value,
    /// A module call's paths must stay inside its folder (see [`Scope::resolve`]).
    pub confined: bool,
    /// A module call's inputs, defaults filled in, not yet rendered: their strings may name the
    /// root's objects (`"{{secrets.tls}}"`), known only once the root is evaluated.
    pub inputs: Vec<Input>,
    pub networks: Table<NetworkConfig>,
    pub secrets: Table<ContentConfig>,
    pub configs: Table<ContentConfig>,
    pub registries: Table<RegistryConfig>,
    pub files: Table<FileConfig>,
    pub stacks: Table<StackConfig>,
}

impl Scope {
    /// Reads a text file named relative to this scope (a template, a compose file) into
    /// `sources`; errors point at the path.
    pub fn read(
        &self,
        sources: &mut Sources,
        path: &Spanned<String>,
    ) -> Result<FileId, Diagnostic> {
        let here = Location::new(self.file, path.span());
        match &self.base {
            Base::Dir(dir) => {
                let full = self.resolve(dir, path)?;
                read::source(sources, &full, display_path(&full)).map_err(|error| {
                    error.diagnostic(
                        sources,
                        &format!("`{}`", path.get_ref()),
                        Some(here),
                        "this file",
                        Quote::Yes,
                        Some(dir),
                    )
                })
            }
            Base::Builtin(module) => match crate::builtin::module_file(module, path.get_ref()) {
                Some(text) => Ok(sources.add(
                    PathBuf::from(format!("<builtin>/modules/{module}/{}", path.get_ref())),
                    text.to_owned(),
                )),
                None => Err(Diagnostic::error(format!(
                    "the built-in module `{module}` has no file `{}`",
                    path.get_ref()
                ))
                .at(here, "this file")),
            },
        }
    }

    /// The file a path of this scope names, for a scope read from the folder `dir`. A module's paths
    /// stay inside its folder (no absolute path, no `..` or symbolic link out of it) unless its
    /// call allows paths outside; the root's may name any file.
    pub fn resolve(&self, dir: &Path, path: &Spanned<String>) -> Result<PathBuf, Diagnostic> {
        let full = dir.join(path.get_ref());
        let Some(module) = self.module.as_deref().filter(|_| self.confined) else {
            return Ok(full);
        };
        let written = Path::new(path.get_ref());
        let escapes = if written.is_absolute() {
            Some("it is an absolute path")
        } else if climbs(written) {
            Some("`..` leads out of it")
        } else {
            // A symbolic link out of the folder; a missing file is the reader's to report.
            match (dir.canonicalize(), full.canonicalize()) {
                (Ok(inside), Ok(target)) if !target.starts_with(&inside) => {
                    Some("a symbolic link leads out of it")
                }
                _ => None,
            }
        };
        match escapes {
            None => Ok(full),
            Some(how) => Err(Diagnostic::error(format!(
                "`{}` is outside the folder of the module `{module}`: {how}",
                path.get_ref()
            ))
            .at(Location::new(self.file, path.span()), "outside the module's folder")
            .help(format!(
                "a module's files stay inside its folder `{}`; move the file there, or, if you trust this module with the files outside it, set `allow_paths_outside = true` under `[modules.{module}]` in the root config",
                display_path(dir).display(),
            ))),
        }
    }
}

/// Whether a relative path climbs above its starting folder (`../x`, `a/../../x`).
fn climbs(path: &Path) -> bool {
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return true,
            },
            Component::Normal(_) => depth += 1,
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    false
}

/// Reads the config text file `path`, relative to `dir`, into `sources`.
fn read_relative(sources: &mut Sources, dir: &Path, path: &str) -> Result<FileId, ReadError> {
    let full = dir.join(path);
    read::source(sources, &full, display_path(&full))
}

/// The folder a file is in; `.` for a bare file name, so messages never say "relative to ``".
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Paths in messages: relative to the working directory when below it.
fn display_path(path: &Path) -> PathBuf {
    let path = path.strip_prefix(".").unwrap_or(path);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// The outcome of loading: a config, or the errors that stopped it. Warnings ride along.
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Loads and merges the config. Collects as many errors as it can before giving up.
pub fn load(options: &Options, sources: &mut Sources) -> Result<Loaded, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let root =
        read::source(sources, &options.path, display_path(&options.path)).map_err(|error| {
            let what = format!("the config `{}`", options.path.display());
            let diagnostic = error.diagnostic(sources, &what, None, "", Quote::Yes, None);
            vec![match error {
                ReadError::Io(_) => diagnostic.help(
                    "run `swarmform init` to write a starter config, or pass `--config FILE`",
                ),
                _ => diagnostic,
            }]
        })?;
    let dir = folder_of(&options.path);
    let file = parse(sources, root).map_err(|error| vec![error])?;
    let ConfigFile {
        include,
        ssh,
        engine,
        daemon,
        swarm,
        hosts,
        variables,
        inputs,
        networks,
        secrets,
        configs,
        registries,
        files,
        stacks,
        modules,
    } = file;
    if let Some((name, _)) = inputs.first() {
        errors.push(
            Diagnostic::error("`[inputs]` belongs in a module's module.toml")
                .at(
                    Location::new(root, name.span()),
                    "declared in the root config",
                )
                .help("use `[variables.NAME]` in the root config"),
        );
    }

    let mut all_hosts = Vec::new();
    collect_hosts(sources, root, &dir, hosts, &mut all_hosts, &mut errors);
    let mut merged_ssh = ssh.map(Spanned::into_inner).unwrap_or_default();
    for path in &include {
        let at_include = Location::new(root, path.span());
        let what = format!("the included file `{}`", path.get_ref());
        match read_relative(sources, &dir, path.get_ref()) {
            Ok(included) => match toml::from_str::<ConfigFile>(sources.text(included)) {
                Ok(included_file) => {
                    let include_dir = folder_of(&dir.join(path.get_ref()));
                    merge_include(
                        sources,
                        included,
                        &include_dir,
                        included_file,
                        &mut merged_ssh,
                        &mut all_hosts,
                        &mut errors,
                    );
                }
                Err(error) => errors.push(unquoted_toml_error(
                    sources,
                    included,
                    &error,
                    &what,
                    Some(at_include),
                    "included here",
                    "an included file holds `[ssh]` and `[hosts.NAME]` tables in TOML; it is not quoted, in case it is a file not meant to be shown: open it at that position, or include the right file",
                )),
            },
            Err(error) => errors.push(error.diagnostic(
                sources,
                &what,
                Some(at_include),
                "included here",
                Quote::No,
                Some(&dir),
            )),
        }
    }

    let (variables, sensitive_values) =
        resolve_variables(options, sources, root, &variables, &mut errors);
    // Templates that use a variable without a value would each fail again: stop here.
    if !errors.is_empty() {
        return Err(errors);
    }
    let root_context = serde_json::json!({
        "var": variables.iter().map(|(name, variable)| (name.clone(), variable.value.clone())).collect::<serde_json::Map<_, _>>(),
    });

    let mut scopes = vec![Scope {
        module: None,
        file: root,
        base: Base::Dir(dir.clone()),
        context: root_context,
        confined: false,
        inputs: Vec::new(),
        networks,
        secrets,
        configs,
        registries,
        files,
        stacks,
    }];
    for (name, call) in modules {
        if !is_name(name.get_ref()) {
            errors.push(name_error("module", &name, root));
            continue;
        }
        match load_module(sources, &dir, root, &name, call) {
            Ok(scope) => scopes.push(scope),
            Err(mut module_errors) => errors.append(&mut module_errors),
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Loaded {
        config: Config {
            path: options.path.clone(),
            root,
            ssh: merged_ssh,
            engine: engine
                .as_ref()
                .map(|engine| engine.get_ref().clone())
                .unwrap_or_default(),
            daemon_location: daemon
                .as_ref()
                .map(|daemon| Location::new(root, daemon.span())),
            daemon: daemon.map(Spanned::into_inner).unwrap_or_default(),
            swarm_location: swarm
                .as_ref()
                .map(|swarm| Location::new(root, swarm.span())),
            swarm: swarm.map(Spanned::into_inner).unwrap_or_default(),
            hosts: all_hosts,
            variables,
            scopes,
            sensitive_values,
        },
        warnings: Vec::new(),
    })
}

/// Parses one TOML file of the config; a syntax or shape error points into it.
fn parse(sources: &Sources, file: FileId) -> Result<ConfigFile, Diagnostic> {
    toml::from_str(sources.text(file)).map_err(|error| toml_error(file, &error))
}

/// A TOML error in a file that may not be config at all (an include naming `/etc/passwd`, a
/// variable file of passwords): it names the position in the file and points at `named`, where
/// the file is named (none: on the command line). It never quotes the file, nor the parser's
/// message, which may quote a value.
fn unquoted_toml_error(
    sources: &Sources,
    file: FileId,
    error: &toml::de::Error,
    what: &str,
    named: Option<Location>,
    label: &str,
    help: &str,
) -> Diagnostic {
    let message = match error.span() {
        Some(span) => format!(
            "{what} is not a valid config: the error is at {}",
            Location::new(file, span).position(sources)
        ),
        None => format!("{what} is not a valid config"),
    };
    Diagnostic::error(message)
        .at_optional(named, label)
        .help(help)
}

pub fn toml_error(file: FileId, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim().to_owned();
    let help = if message.starts_with("unknown field") {
        "see the config reference in README.md for the keys each table accepts"
    } else {
        "fix the TOML at this position"
    };
    Diagnostic::error(message)
        .at_optional(error.span().map(|span| Location::new(file, span)), "here")
        .help(help)
}

fn name_error(what: &str, name: &Name, file: FileId) -> Diagnostic {
    Diagnostic::error(format!("`{}` is not a valid {what} name", name.get_ref()))
        .at(Location::new(file, name.span()), "this name")
        .help("names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)")
}

fn collect_hosts(
    sources: &Sources,
    file: FileId,
    dir: &Path,
    hosts: Table<HostConfig>,
    all: &mut Vec<Host>,
    errors: &mut Vec<Diagnostic>,
) {
    for (name, config) in hosts {
        if !is_name(name.get_ref()) {
            errors.push(name_error("host", &name, file));
            continue;
        }
        if let Some(existing) = all.iter().find(|host| &host.name == name.get_ref()) {
            errors.push(
                Diagnostic::error(format!("host `{}` is declared twice", name.get_ref()))
                    .at(Location::new(file, name.span()), "declared again here")
                    .help(format!(
                        "it is first declared at {}; remove one of them",
                        existing.location.position(sources)
                    )),
            );
            continue;
        }
        all.push(Host {
            name: name.get_ref().clone(),
            location: Location::new(file, name.span()),
            dir: dir.to_path_buf(),
            config,
        });
    }
}

/// An included file may only bring `[ssh]` and `[hosts]`; the root's `[ssh]` keys win.
fn merge_include(
    sources: &Sources,
    file: FileId,
    dir: &Path,
    included: ConfigFile,
    ssh: &mut SshSettings,
    hosts: &mut Vec<Host>,
    errors: &mut Vec<Diagnostic>,
) {
    let mut forbidden: Vec<Option<Range<usize>>> = vec![
        included.include.first().map(Spanned::span),
        included.engine.as_ref().map(Spanned::span),
        included.daemon.as_ref().map(Spanned::span),
        included.swarm.as_ref().map(Spanned::span),
    ];
    forbidden.extend(
        [
            included.variables.keys().next(),
            included.inputs.keys().next(),
            included.networks.keys().next(),
            included.secrets.keys().next(),
            included.configs.keys().next(),
            included.registries.keys().next(),
            included.files.keys().next(),
            included.stacks.keys().next(),
            included.modules.keys().next(),
        ]
        .into_iter()
        .map(|name| name.map(Spanned::span)),
    );
    if let Some(span) = forbidden.into_iter().flatten().next() {
        errors.push(
            Diagnostic::error("an included file may only declare `[ssh]` and `[hosts]`")
                .at(Location::new(file, span), "not allowed in an included file")
                .help("move this to the root config"),
        );
    }
    if let Some(included_ssh) = included.ssh {
        let included_ssh = included_ssh.into_inner();
        *ssh = merge_ssh(&included_ssh, ssh);
    }
    collect_hosts(sources, file, dir, included.hosts, hosts, errors);
}

/// `over`'s fields win over `base`'s.
pub fn merge_ssh(base: &SshSettings, over: &SshSettings) -> SshSettings {
    SshSettings {
        user: over.user.clone().or_else(|| base.user.clone()),
        port: over.port.or(base.port),
        identity_file: over
            .identity_file
            .clone()
            .or_else(|| base.identity_file.clone()),
        host_key_policy: over.host_key_policy.or(base.host_key_policy),
        known_hosts: over
            .known_hosts
            .clone()
            .or_else(|| base.known_hosts.clone()),
        jump_host: over.jump_host.clone().or_else(|| base.jump_host.clone()),
        sudo: over.sudo.or(base.sudo),
        connect_timeout: over
            .connect_timeout
            .clone()
            .or_else(|| base.connect_timeout.clone()),
        command_timeout: over
            .command_timeout
            .clone()
            .or_else(|| base.command_timeout.clone()),
        key_exchange: over
            .key_exchange
            .clone()
            .or_else(|| base.key_exchange.clone()),
    }
}
