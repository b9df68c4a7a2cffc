//! Stacks: the compose file read or rendered, its services summarised, and the dependencies
//! it names (external networks, secrets and configs, images from a declared registry) or
//! `depends_on` does.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::interpolate::insert;
use super::{Evaluation, docker_name, duration_error};
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::Scope;
use crate::config::source::Diagnostic;
use crate::resource::{Attribute, OnChange, Resource};

impl Evaluation<'_> {
    pub(super) fn stacks(&mut self, scope: &Scope, context: &Value) {
        let file = scope.file;
        for (name, stack) in &scope.stacks {
            if !self.check_name("stack", name, file) {
                continue;
            }
            let address =
                Address::new(Kind::Stack, name.get_ref()).in_module(scope.module.as_deref());
            let docker = docker_name(scope, name.get_ref());
            let Some(vars) = self.vars(&stack.vars, scope, name) else {
                continue;
            };
            let (text, compose_file) = match (&stack.compose, &stack.template) {
                (Some(path), None) => match scope.read(self.sources, path) {
                    Ok(id) => (self.sources.text(id).to_owned(), id),
                    Err(error) => {
                        self.errors.push(error);
                        continue;
                    }
                },
                (None, Some(path)) => {
                    let mut stack_context = context.clone();
                    insert(&mut stack_context, "vars", vars);
                    insert(&mut stack_context, "stack", json!({ "name": docker }));
                    let Some(text) = self.render(scope, path, &stack_context) else {
                        continue;
                    };
                    let rendered_path =
                        std::path::PathBuf::from(format!("{} (rendered)", path.get_ref()));
                    // Diagnostics quote this text: keep sensitive values out of it.
                    let id = self.sources.add(rendered_path, self.redact(&text));
                    (text, id)
                }
                _ => {
                    self.errors.push(
                        Diagnostic::error(format!("stack `{}` needs exactly one of `compose` and `template`", name.get_ref()))
                            .at(self.at(file, name.span()), "this stack")
                            .help("`compose = \"web.yml\"` deploys the file as written; `template = \"web.yml.hbs\"` renders it first"),
                    );
                    continue;
                }
            };
            // Every node joined (and labelled) first: one group, not one entry per host, so
            // the graph has hosts + stacks edges, not hosts × stacks.
            let mut depends_on = BTreeSet::from([Address::swarm(), Address::every(Kind::Node)]);
            if let Some(offset) = deep_flow_nesting(&text) {
                let span = self.sources.char_at(compose_file, offset);
                self.errors.push(
                    Diagnostic::error(format!(
                        "the compose file of stack `{}` nests `[` and `{{` more than {MAX_FLOW_DEPTH} levels deep",
                        name.get_ref()
                    ))
                    .at(self.at(compose_file, span), "too deep from here")
                    .help("a compose file needs a few levels; fix the YAML"),
                );
                continue;
            }
            let services = match serde_norway::from_str::<serde_norway::Value>(&text) {
                Ok(compose) => {
                    // A missing `version` matters only to Docker 20.10's managers: the plan,
                    // which knows their versions, says so (`plan::preflight`).
                    self.compose_references(&compose, &docker, &mut depends_on);
                    crate::service::desired_services(&compose, &docker, &self.sensitive_values)
                }
                Err(error) => {
                    let span = error.location().map_or(0..0, |location| {
                        let start =
                            self.sources
                                .offset(compose_file, location.line(), location.column());
                        self.sources.char_at(compose_file, start)
                    });
                    self.errors.push(
                        Diagnostic::error(self.redact(&format!(
                            "the compose file of stack `{}` is not valid YAML: {error}",
                            name.get_ref()
                        )))
                        .at(self.at(compose_file, span), "here")
                        .help("`docker stack deploy` would refuse it too; fix the YAML"),
                    );
                    continue;
                }
            };
            for dependency in &stack.depends_on {
                match self.resolve_reference(dependency.get_ref(), scope) {
                    Ok(target) => {
                        depends_on.insert(target);
                    }
                    Err(message) => self.errors.push(
                        Diagnostic::error(message)
                            .at(self.at(file, dependency.span()), "in depends_on")
                            .help("depends_on takes addresses such as `network.NAME`, `secret.NAME`, `registry.NAME`, `stack.NAME` or `module.M.stack.NAME`"),
                    ),
                }
            }
            let resource = Resource {
                docker_name: Some(docker),
                depends_on,
                ..Resource::new(address)
            }
            .attribute("prune", Attribute::new(stack.prune))
            .attribute(
                "with_registry_auth",
                Attribute::new(stack.with_registry_auth),
            );
            let mut resource = self.text_attributes(resource, "compose", &text, OnChange::InPlace);
            resource = resource.attribute("services", Attribute::new(services));
            if let Some(timeout) = &stack.converge_timeout {
                if check::is_duration(timeout.get_ref()) {
                    resource = resource.attribute(
                        "converge_timeout",
                        Attribute::new(timeout.get_ref().clone()),
                    );
                } else {
                    self.errors.push(duration_error(timeout, file));
                }
            }
            if let Some(health) = &stack.health {
                let mut stack_context = context.clone();
                insert(
                    &mut stack_context,
                    "stack",
                    json!({ "name": resource.docker_name }),
                );
                if let Some(health) = self.stack_health(health, &stack_context, file) {
                    // Plans and the state show the check with sensitive values redacted; the
                    // executor reads the real one from the payload.
                    let redact_text = |value: &Value| match value {
                        Value::String(text) => Value::from(self.redact(text)),
                        other => other.clone(),
                    };
                    let shown: Map<String, Value> = health
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(key, value)| {
                            let value = match value {
                                Value::Array(items) => {
                                    Value::Array(items.iter().map(redact_text).collect())
                                }
                                other => redact_text(other),
                            };
                            (key.clone(), value)
                        })
                        .collect();
                    let shown = Value::Object(shown);
                    resource = resource.attribute(
                        "health",
                        Attribute::new(shown).with_payload(health.to_string()),
                    );
                }
            }
            self.add(resource, self.at(file, name.span()));
        }
    }

    /// A `depends_on` entry: relative to the scope (`network.x` in a module is the module's).
    fn resolve_reference(&self, text: &str, scope: &Scope) -> Result<Address, String> {
        let mut address: Address = text
            .parse()
            .map_err(|error: crate::address::AddressError| error.to_string())?;
        if address.module.is_none() {
            address.module = scope.module.clone();
        }
        if !matches!(
            address.kind,
            Kind::Network | Kind::Secret | Kind::Config | Kind::Registry | Kind::Stack
        ) {
            return Err(format!(
                "a stack cannot depend on `{text}`; stacks already wait for the swarm and every node"
            ));
        }
        let exists = self.locations.contains_key(&address)
            || self.config.scopes.iter().any(|other| {
                other.module == address.module
                    && match address.kind {
                        Kind::Stack => other
                            .stacks
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Network => other
                            .networks
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Secret => other
                            .secrets
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Config => other
                            .configs
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Registry => other
                            .registries
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        _ => false,
                    }
            });
        if exists {
            Ok(address)
        } else {
            Err(format!("`{address}` is not declared"))
        }
    }

    /// External networks, secrets and configs a compose file names, and images pulled from a
    /// registry the config declares: each is a dependency.
    fn compose_references(
        &mut self,
        compose: &serde_norway::Value,
        stack: &str,
        depends_on: &mut BTreeSet<Address>,
    ) {
        for (section, names) in [
            ("networks", &self.network_names),
            ("secrets", &self.secret_names),
            ("configs", &self.config_names),
        ] {
            let Some(entries) = compose
                .get(section)
                .and_then(serde_norway::Value::as_mapping)
            else {
                continue;
            };
            for (key, entry) in entries {
                let Some(key) = key.as_str() else { continue };
                let external = entry
                    .get("external")
                    .and_then(serde_norway::Value::as_bool)
                    .unwrap_or(false);
                if !external {
                    continue;
                }
                let docker = entry
                    .get("name")
                    .and_then(serde_norway::Value::as_str)
                    .unwrap_or(key);
                match names.get(docker) {
                    Some(address) => {
                        depends_on.insert(address.clone());
                    }
                    None => self.warnings.push(Diagnostic::warning(format!(
                        "stack `{stack}` uses the external {} `{docker}`, which the config does not declare; `docker stack deploy` fails unless it exists",
                        &section[..section.len() - 1]
                    ))),
                }
            }
        }
        if let Some(services) = compose
            .get("services")
            .and_then(serde_norway::Value::as_mapping)
        {
            for service in services.values() {
                let Some(image) = service.get("image").and_then(serde_norway::Value::as_str) else {
                    continue;
                };
                for (registry, address) in &self.registry_addresses {
                    if image.starts_with(&format!("{registry}/")) {
                        depends_on.insert(address.clone());
                    }
                }
            }
        }
    }
}

/// How deep a compose file may nest flow collections (`[...]`, `{...}`). The YAML parser's
/// work grows with the square of the depth (30,000 levels took seconds before it gave up at
/// its recursion limit of 128), so deeper text is refused before it is parsed. Far above that
/// limit, so no file the parser would accept is refused.
const MAX_FLOW_DEPTH: usize = 1000;

/// The byte offset of the bracket that opens level `MAX_FLOW_DEPTH + 1`, if any. Brackets in
/// quoted strings and comments do not count; one in a plain scalar does, which can only
/// overcount, and never past the limit in a real compose file.
fn deep_flow_nesting(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    let mut comment = false;
    let mut previous = b'\n';
    for (offset, byte) in text.bytes().enumerate() {
        if comment {
            comment = byte != b'\n';
        } else if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if open == b'"' && byte == b'\\' {
                escaped = true;
            } else if byte == open {
                quote = None;
            }
        } else {
            match byte {
                b'#' if previous.is_ascii_whitespace() => comment = true,
                b'"' | b'\''
                    if matches!(previous, b' ' | b'\t' | b'\n' | b'[' | b'{' | b',' | b':') =>
                {
                    quote = Some(byte);
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(offset);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = byte;
    }
    None
}
