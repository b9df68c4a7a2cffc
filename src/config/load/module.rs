//! Module calls: the module found (a folder, or one shipped in the binary), its `module.toml`
//! read, and the call's inputs matched to the module's, defaults filled in.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{Base, Input, Scope, display_path, parse, read_relative};
use crate::config::model::{ModuleCall, Name};
use crate::config::read::Quote;
use crate::config::source::{Diagnostic, FileId, Location, Sources};

/// The scope of one module call, or the errors that stop it.
pub(super) fn load_module(
    sources: &mut Sources,
    dir: &Path,
    root: FileId,
    name: &Name,
    call: ModuleCall,
) -> Result<Scope, Vec<Diagnostic>> {
    let source = call.source.get_ref();
    let at_source = Location::new(root, call.source.span());
    let is_path = source.starts_with("./") || source.starts_with("../") || source.starts_with('/');
    let local = dir.join(if is_path {
        PathBuf::from(source)
    } else {
        Path::new("modules").join(source)
    });
    // Anything there is read, so a FIFO or a folder named `module.toml` is refused as such.
    let (file, base) = if local.join("module.toml").exists() {
        match read_relative(sources, &local, "module.toml") {
            Ok(file) => (file, Base::Dir(local)),
            Err(error) => {
                return Err(vec![error.diagnostic(
                    sources,
                    &format!("`{}`", display_path(&local.join("module.toml")).display()),
                    Some(at_source),
                    "this module",
                    Quote::Yes,
                    None,
                )]);
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
        confined: !call.allow_paths_outside,
        inputs,
        networks: module.networks,
        secrets: module.secrets,
        configs: module.configs,
        registries: module.registries,
        files: module.files,
        stacks: module.stacks,
    })
}
