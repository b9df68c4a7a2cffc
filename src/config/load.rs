//! Reading `swarmform.toml`: the root file, its includes, its modules and its variables, into a
//! [`Config`] whose every part still knows the file and span it came from.

use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;
use toml::Spanned;

use super::model::{
    ConfigFile, ContentConfig, DaemonSettings, EngineSettings, FileConfig, HostConfig, Name,
    NetworkConfig, RegistryConfig, SshSettings, StackConfig, SwarmSettings, Table, VariableDecl,
};
use super::source::{Diagnostic, FileId, Location, Sources};
use super::template;
use crate::address::is_name;

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
    /// Reads a file named relative to this scope into `sources`; errors point at the path.
    pub fn read(
        &self,
        sources: &mut Sources,
        path: &Spanned<String>,
    ) -> Result<FileId, Diagnostic> {
        let here = Location::new(self.file, path.span());
        match &self.base {
            Base::Dir(dir) => read_relative(sources, dir, path.get_ref()).map_err(|error| {
                Diagnostic::error(format!("cannot read `{}`: {error}", path.get_ref()))
                    .at(here, "this file")
                    .help(format!("paths are relative to `{}`", dir.display()))
            }),
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
}

fn read_relative(sources: &mut Sources, dir: &Path, path: &str) -> std::io::Result<FileId> {
    let full = dir.join(path);
    let text = std::fs::read_to_string(&full)?;
    Ok(sources.add(display_path(&full), text))
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
    let text = std::fs::read_to_string(&options.path).map_err(|error| {
        vec![
            Diagnostic::error(format!(
                "cannot read the config `{}`: {error}",
                options.path.display()
            ))
            .help("run `swarmform init` to write a starter config, or pass `--config FILE`"),
        ]
    })?;
    let dir = folder_of(&options.path);
    let root = sources.add(display_path(&options.path), text);
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
        match read_relative(sources, &dir, path.get_ref()) {
            Ok(included) => match parse(sources, included) {
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
                Err(error) => errors.push(error),
            },
            Err(error) => errors.push(
                Diagnostic::error(format!(
                    "cannot read the included file `{}`: {error}",
                    path.get_ref()
                ))
                .at(Location::new(root, path.span()), "included here"),
            ),
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

/// Precedence, lowest first: default, `SWARMFORM_VAR_NAME`, `--var-file`, `--var`.
fn resolve_variables(
    options: &Options,
    sources: &mut Sources,
    root: FileId,
    declared: &Table<VariableDecl>,
    errors: &mut Vec<Diagnostic>,
) -> (IndexMap<String, Variable>, Vec<String>) {
    let mut values: IndexMap<String, Option<Value>> = IndexMap::new();
    for (name, declaration) in declared {
        if !is_name(name.get_ref()) {
            errors.push(name_error("variable", name, root));
            continue;
        }
        values.insert(
            name.get_ref().clone(),
            declaration.default.as_ref().map(toml_to_json),
        );
    }
    let find = |name: &str| declared.iter().find(|(key, _)| key.get_ref() == name);
    for (key, text) in &options.env {
        if let Some(name) = key.strip_prefix("SWARMFORM_VAR_")
            && let Some((_, declaration)) = find(name)
        {
            values.insert(name.to_owned(), Some(typed(declaration, text)));
        }
    }
    for path in &options.var_files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                errors.push(Diagnostic::error(format!(
                    "cannot read the variable file `{}`: {error}",
                    path.display()
                )));
                continue;
            }
        };
        let file = sources.add(display_path(path), text);
        match toml::from_str::<IndexMap<Name, toml::Value>>(sources.text(file)) {
            Ok(table) => {
                for (name, value) in table {
                    if find(name.get_ref()).is_none() {
                        errors.push(
                            undeclared(name.get_ref())
                                .at(Location::new(file, name.span()), "not declared"),
                        );
                    } else {
                        values.insert(name.into_inner(), Some(toml_to_json(&value)));
                    }
                }
            }
            Err(error) => errors.push(toml_error(file, &error)),
        }
    }
    for assignment in &options.vars {
        let Some((name, text)) = assignment.split_once('=') else {
            errors.push(
                Diagnostic::error(format!("`--var {assignment}` is not NAME=VALUE"))
                    .help("write `--var name=value`"),
            );
            continue;
        };
        match find(name) {
            Some((_, declaration)) => {
                values.insert(name.to_owned(), Some(typed(declaration, text)));
            }
            None => errors.push(undeclared(name)),
        }
    }
    let mut variables = IndexMap::new();
    let mut sensitive_values = Vec::new();
    for (name, declaration) in declared {
        let Some(value) = values.get(name.get_ref()) else {
            continue;
        };
        match value {
            Some(value) => {
                if declaration.sensitive {
                    collect_strings(value, &mut sensitive_values);
                }
                variables.insert(
                    name.get_ref().clone(),
                    Variable { value: value.clone(), sensitive: declaration.sensitive },
                );
            }
            None => errors.push(
                Diagnostic::error(format!("variable `{}` has no value", name.get_ref()))
                    .at(Location::new(root, name.span()), "declared here without a default")
                    .help(format!(
                        "pass `--var {0}=VALUE`, set `SWARMFORM_VAR_{0}`, put it in a `--var-file`, or give it a `default`",
                        name.get_ref()
                    )),
            ),
        }
    }
    (variables, sensitive_values)
}

fn undeclared(name: &str) -> Diagnostic {
    Diagnostic::error(format!("variable `{name}` is not declared"))
        .help(format!("declare it in the config as `[variables.{name}]`"))
}

/// A value from the command line or environment takes the type of the declared default.
fn typed(declaration: &VariableDecl, text: &str) -> Value {
    let parsed = match &declaration.default {
        Some(toml::Value::Integer(_)) => text.parse::<i64>().ok().map(Value::from),
        Some(toml::Value::Float(_)) => text.parse::<f64>().ok().map(Value::from),
        Some(toml::Value::Boolean(_)) => text.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

pub fn collect_strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) if !text.is_empty() => into.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
        Value::Object(map) => map.values().for_each(|item| collect_strings(item, into)),
        Value::Number(number) => into.push(number.to_string()),
        _ => {}
    }
}

pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Float(number) => Value::from(*number),
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), toml_to_json(value)))
                .collect(),
        ),
    }
}

/// Renders every string inside `value` as a template against `context` (so module inputs and
/// stack vars can say `"{{var.tag}}"`).
pub fn render_strings(
    value: &toml::Value,
    context: &Value,
    sources: &mut Sources,
    file: FileId,
    span: Range<usize>,
) -> Result<Value, Diagnostic> {
    let json = toml_to_json(value);
    render_json_strings(json, context, sources, file, &span)
}

fn render_json_strings(
    value: Value,
    context: &Value,
    sources: &mut Sources,
    file: FileId,
    span: &Range<usize>,
) -> Result<Value, Diagnostic> {
    Ok(match value {
        Value::String(text) if text.contains("{{") => {
            let snippet = sources.add(sources.path(file).to_path_buf(), text);
            let rendered = template::render(sources, snippet, context).map_err(|mut error| {
                error.location = Some(Location::new(file, span.clone()));
                error
            })?;
            Value::String(rendered)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| render_json_strings(item, context, sources, file, span))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| {
                    Ok((
                        key,
                        render_json_strings(item, context, sources, file, span)?,
                    ))
                })
                .collect::<Result<_, Diagnostic>>()?,
        ),
        other => other,
    })
}

fn load_module(
    sources: &mut Sources,
    dir: &Path,
    root: FileId,
    name: &Name,
    call: super::model::ModuleCall,
) -> Result<Scope, Vec<Diagnostic>> {
    let source = call.source.get_ref();
    let at_source = Location::new(root, call.source.span());
    let is_path = source.starts_with("./") || source.starts_with("../") || source.starts_with('/');
    let local = dir.join(if is_path {
        PathBuf::from(source)
    } else {
        Path::new("modules").join(source)
    });
    let (file, base) = if local.join("module.toml").is_file() {
        match read_relative(sources, &local, "module.toml") {
            Ok(file) => (file, Base::Dir(local)),
            Err(error) => {
                return Err(vec![
                    Diagnostic::error(format!(
                        "cannot read `{}`: {error}",
                        display_path(&local.join("module.toml")).display()
                    ))
                    .at(at_source, "this module"),
                ]);
            }
        }
    } else if let Some((builtin, text)) =
        (!is_path).then(|| crate::builtin::module(source)).flatten()
    {
        let file = sources.add(
            PathBuf::from(format!("<builtin>/modules/{builtin}/module.toml")),
            text.to_owned(),
        );
        (file, Base::Builtin(builtin))
    } else {
        return Err(vec![
            Diagnostic::error(format!("module source `{source}` not found"))
                .at(at_source, "no module here")
                .help(format!(
                    "looked for `{}`{}; the modules shipped with swarmform are: {}",
                    display_path(&local.join("module.toml")).display(),
                    if is_path {
                        ""
                    } else {
                        " and a built-in module of that name"
                    },
                    crate::builtin::module_names().join(", ")
                )),
        ]);
    };
    let module = parse(sources, file).map_err(|error| vec![error])?;
    let mut errors = Vec::new();
    let forbidden = [
        module.ssh.as_ref().map(Spanned::span),
        module.engine.as_ref().map(Spanned::span),
        module.daemon.as_ref().map(Spanned::span),
        module.swarm.as_ref().map(Spanned::span),
        module.include.first().map(Spanned::span),
        module.hosts.keys().next().map(Spanned::span),
        module.variables.keys().next().map(Spanned::span),
        module.modules.keys().next().map(Spanned::span),
    ];
    if let Some(span) = forbidden.into_iter().flatten().next() {
        errors.push(
            Diagnostic::error("a module may only declare `[inputs]`, networks, secrets, configs, registries, files and stacks")
                .at(Location::new(file, span), "not allowed in a module")
                .help("hosts, daemon, swarm and SSH settings belong in the root config; modules do not call modules"),
        );
    }
    let mut inputs = Vec::new();
    for (input, value) in &call.inputs {
        let Some((_, declaration)) = module
            .inputs
            .iter()
            .find(|(key, _)| key.get_ref() == input.get_ref())
        else {
            errors.push(
                Diagnostic::error(format!(
                    "module `{}` has no input `{}`",
                    name.get_ref(),
                    input.get_ref()
                ))
                .at(Location::new(root, input.span()), "unknown input")
                .help(format!(
                    "its inputs are: {}",
                    module
                        .inputs
                        .keys()
                        .map(|key| key.get_ref().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            continue;
        };
        inputs.push(Input {
            name: input.get_ref().clone(),
            value: value.clone(),
            span: input.span(),
            sensitive: declaration.sensitive,
        });
    }
    for (input, declaration) in &module.inputs {
        if inputs.iter().any(|given| &given.name == input.get_ref()) {
            continue;
        }
        match &declaration.default {
            Some(default) => inputs.push(Input {
                name: input.get_ref().clone(),
                value: default.clone(),
                span: name.span(),
                sensitive: declaration.sensitive,
            }),
            None => errors.push(
                Diagnostic::error(format!(
                    "module `{}` needs the input `{}`",
                    name.get_ref(),
                    input.get_ref()
                ))
                .at(Location::new(root, name.span()), "called here without it")
                .help(format!(
                    "add `{} = ...` under `[modules.{}.inputs]`{}",
                    input.get_ref(),
                    name.get_ref(),
                    declaration
                        .description
                        .as_ref()
                        .map(|text| format!(" ({text})"))
                        .unwrap_or_default()
                )),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Scope {
        module: Some(name.get_ref().clone()),
        file,
        base,
        context: serde_json::json!({ "module": { "name": name.get_ref() } }),
        inputs,
        networks: module.networks,
        secrets: module.secrets,
        configs: module.configs,
        registries: module.registries,
        files: module.files,
        stacks: module.stacks,
    })
}
