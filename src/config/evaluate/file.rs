//! `[files.NAME]`: a file written on each host it targets, from content, a source file, a
//! template rendered per host, or one line.

use std::collections::BTreeSet;

use serde_json::Value;
use toml::Spanned;

use super::Evaluation;
use super::interpolate::{host_context, insert, with_on_change};
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::{Host, Scope};
use crate::config::source::Diagnostic;
use crate::hash::sha256_tagged;
use crate::resource::{Attribute, OnChange, Resource};

impl Evaluation<'_> {
    pub(super) fn files(&mut self, scope: &Scope, context: &Value) {
        let file = scope.file;
        for (name, spec) in &scope.files {
            if !self.check_name("file", name, file) {
                continue;
            }
            let path = spec.path.get_ref();
            if let Some(message) = check::unusable_host_path(path) {
                self.errors.push(
                    Diagnostic::error(message)
                    .at(
                        self.at(file, spec.path.span()),
                        "expected a path such as `/etc/docker/certs.d/registry:5000/ca.crt`",
                    )
                    .help("a file's path on its hosts starts at `/`, names a file, is one line, and has no `..` component"),
                );
                continue;
            }
            let mode = spec
                .mode
                .as_ref()
                .map_or("0644".to_owned(), |mode| mode.get_ref().clone());
            if check::parse_mode(&mode).is_none() {
                let span = spec.mode.as_ref().map_or(name.span(), Spanned::span);
                self.errors.push(
                    Diagnostic::error(format!("`{mode}` is not a file mode"))
                        .at(self.at(file, span), "expected octal such as \"0644\""),
                );
            }
            let owner = spec
                .owner
                .as_ref()
                .map_or("root".to_owned(), |owner| owner.get_ref().clone());
            let group = spec
                .group
                .as_ref()
                .map_or("root".to_owned(), |group| group.get_ref().clone());
            for (value, field) in [(&spec.owner, "owner"), (&spec.group, "group")] {
                if let Some(value) = value
                    && !check::is_account_name(value.get_ref())
                {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "`{}` is not a valid {field} name",
                            value.get_ref()
                        ))
                        .at(self.at(file, value.span()), "this name"),
                    );
                }
            }
            let sources_given = [
                spec.content.is_some(),
                spec.source.is_some(),
                spec.template.is_some(),
                spec.line.is_some(),
            ];
            if sources_given.iter().filter(|given| **given).count() != 1 {
                self.errors.push(
                    Diagnostic::error(format!(
                        "file `{}` needs exactly one of `content`, `source`, `template` and `line`",
                        name.get_ref()
                    ))
                    .at(self.at(file, name.span()), "this file"),
                );
                continue;
            }
            if let Some(line) = &spec.line
                && let Some(character) = check::line_breaking(line.get_ref())
            {
                self.errors.push(
                    Diagnostic::error("`line` must be a single line")
                        .at(
                            self.at(file, line.span()),
                            format!("contains {}", check::describe_character(character)),
                        )
                        .help("`line` ensures one line of printable text in the file; declare one file per line, or own the whole file with `content`, `source` or `template`"),
                );
                continue;
            }
            let targets: Vec<&Host> = match (&spec.hosts, &spec.roles) {
                (Some(names), _) => names
                    .iter()
                    .filter_map(|host| {
                        let found = self.config.host(host.get_ref());
                        if found.is_none() {
                            self.errors.push(self.unknown_host(host, file));
                        }
                        found
                    })
                    .collect(),
                (None, Some(roles)) => self
                    .config
                    .hosts
                    .iter()
                    .filter(|host| roles.contains(&host.config.role))
                    .collect(),
                (None, None) => self.config.hosts.iter().collect(),
            };
            let static_content = match (&spec.content, &spec.source) {
                (Some(content), _) => Some(content.get_ref().as_bytes().to_vec()),
                (_, Some(source)) => match self.read_bytes(scope, source, "this file") {
                    Some(bytes) => Some(bytes),
                    None => continue,
                },
                _ => None,
            };
            let vars = if spec.template.is_some() {
                match self.vars(&spec.vars, scope, name) {
                    Some(vars) => vars,
                    None => continue,
                }
            } else {
                Value::Null
            };
            for host in targets {
                let (content_key, content) = if let Some(line) = &spec.line {
                    ("line", line.get_ref().as_bytes().to_vec())
                } else if let Some(template) = &spec.template {
                    let mut host_context_value = context.clone();
                    insert(&mut host_context_value, "vars", vars.clone());
                    insert(&mut host_context_value, "host", host_context(host));
                    match self.render(scope, template, &host_context_value) {
                        Some(text) => ("content", text.into_bytes()),
                        None => break,
                    }
                } else {
                    ("content", static_content.clone().unwrap_or_default())
                };
                let on_change = if spec.restarts_docker {
                    OnChange::RestartsDocker
                } else {
                    OnChange::InPlace
                };
                let address = Address::new(Kind::File, name.get_ref())
                    .in_module(scope.module.as_deref())
                    .on_host(host.name.clone());
                let mut resource = Resource {
                    host: Some(host.name.clone()),
                    depends_on: BTreeSet::from([Address::new(Kind::Engine, host.name.clone())]),
                    ..Resource::new(address)
                }
                .attribute("path", Attribute::new(path.clone()).replace())
                .attribute("mode", Attribute::new(mode.clone()))
                .attribute("owner", Attribute::new(owner.clone()))
                .attribute("group", Attribute::new(group.clone()))
                .attribute("restarts_docker", Attribute::new(spec.restarts_docker));
                resource = match (spec.sensitive, String::from_utf8(content.clone())) {
                    (true, _) => resource.attribute(
                        content_key,
                        with_on_change(Attribute::sensitive(&content), on_change),
                    ),
                    (false, Ok(text)) => {
                        self.text_attributes(resource, content_key, &text, on_change)
                    }
                    (false, Err(_)) => resource.attribute(
                        content_key,
                        with_on_change(
                            Attribute::new(sha256_tagged(&content)).with_payload(content.clone()),
                            on_change,
                        ),
                    ),
                };
                self.add(resource, self.at(file, name.span()));
            }
        }
    }
}
