//! Secrets and configs: their content read or rendered, and Docker names that carry a hash of
//! it, so a new content is a new object and a rotation an ordinary replacement.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::interpolate::{host_context, insert};
use super::{Evaluation, docker_name, labels_value};
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::Scope;
use crate::config::model::{ContentConfig, Name};
use crate::config::read::{DOCKER_CONTENT_LIMIT, Purpose};
use crate::config::source::Diagnostic;
use crate::hash::{sha256_hex, sha256_tagged};
use crate::resource::{Attribute, OnChange, Resource};

impl Evaluation<'_> {
    /// Secrets or configs of one scope. Their Docker names carry a content hash, so a new
    /// content is a new object and a rotation is an ordinary replacement.
    pub(super) fn contents(&mut self, scope: &Scope, kind: Kind) -> Map<String, Value> {
        let table = match kind {
            Kind::Secret => &scope.secrets,
            _ => &scope.configs,
        };
        let file = scope.file;
        let what = kind.keyword();
        let mut names = Map::new();
        for (name, content) in table {
            if !self.check_name(what, name, file) {
                continue;
            }
            let Some(bytes) = self.content(scope, name, content, what) else {
                continue;
            };
            let digest = sha256_hex(&bytes);
            let docker = format!("{}-{}", docker_name(scope, name.get_ref()), &digest[..8]);
            if !check::is_docker_name(&docker, 64) {
                self.errors.push(
                    Diagnostic::error(format!(
                        "the {what} name `{docker}` is longer than Docker's 64 characters"
                    ))
                    .at(self.at(file, name.span()), "shorten this name")
                    .help("swarmform appends `-` and 8 characters of the content hash to the name"),
                );
                continue;
            }
            let address = Address::new(kind, name.get_ref()).in_module(scope.module.as_deref());
            let labels = labels_value(&content.labels, file, &mut self.errors);
            let mut resource = Resource {
                docker_name: Some(docker.clone()),
                depends_on: BTreeSet::from([Address::swarm()]),
                create_before_destroy: true,
                ..Resource::new(address.clone())
            }
            .attribute("name", Attribute::new(docker.clone()).replace())
            .attribute("labels", Attribute::new(labels).replace());
            resource = match (kind, String::from_utf8(bytes.clone())) {
                (Kind::Secret, _) => {
                    resource.attribute("content", Attribute::sensitive(&bytes).replace())
                }
                (_, Ok(text)) => {
                    self.text_attributes(resource, "content", &text, OnChange::Replace)
                }
                (_, Err(_)) => resource.attribute(
                    "content",
                    Attribute::new(sha256_tagged(&bytes))
                        .with_payload(bytes.clone())
                        .replace(),
                ),
            };
            if kind == Kind::Secret {
                self.secret_names.insert(docker.clone(), address);
            } else {
                self.config_names.insert(docker.clone(), address);
            }
            names.insert(name.get_ref().clone(), Value::String(docker));
            self.add(resource, self.at(file, name.span()));
        }
        names
    }

    fn content(
        &mut self,
        scope: &Scope,
        name: &Name,
        content: &ContentConfig,
        what: &str,
    ) -> Option<Vec<u8>> {
        let file = scope.file;
        let (bytes, path) = match (&content.file, &content.template) {
            (Some(path), None) => {
                let label = format!("the {what}'s content");
                (
                    self.read_limited(scope, path, &label, Purpose::Content)?,
                    path,
                )
            }
            (None, Some(path)) => {
                let vars = self.vars(&content.vars, scope, name)?;
                let mut context = scope.context.clone();
                insert(&mut context, "vars", vars);
                insert(
                    &mut context,
                    "hosts",
                    Value::Object(
                        self.config
                            .hosts
                            .iter()
                            .map(|host| (host.name.clone(), host_context(host)))
                            .collect(),
                    ),
                );
                (self.render(scope, path, &context)?.into_bytes(), path)
            }
            _ => {
                self.errors.push(
                    Diagnostic::error(format!(
                        "{what} `{}` needs exactly one of `file` and `template`",
                        name.get_ref()
                    ))
                    .at(self.at(file, name.span()), "this one")
                    .help(format!(
                        "write `file = \"{what}s/{}.txt\"`, or `template = \"...hbs\"` with `vars`",
                        name.get_ref()
                    )),
                );
                return None;
            }
        };
        let rendered = content.template.is_some();
        let problem = if bytes.is_empty() {
            Some((
                format!("{what} `{}` is empty", name.get_ref()),
                if rendered {
                    "renders to nothing"
                } else {
                    "an empty file"
                },
                format!("Docker refuses an empty {what} at apply; give it content"),
            ))
        } else if bytes.len() as u64 > DOCKER_CONTENT_LIMIT {
            Some((
                format!(
                    "{what} `{}` is {} bytes, more than Docker takes",
                    name.get_ref(),
                    bytes.len()
                ),
                "renders too much",
                format!(
                    "Docker refuses a {what} of 512000 bytes (500 KiB) or more at apply; ship larger data in an image or a volume"
                ),
            ))
        } else {
            None
        };
        if let Some((message, label, help)) = problem {
            self.errors.push(
                Diagnostic::error(message)
                    .at(self.at(file, path.span()), label)
                    .help(help),
            );
            return None;
        }
        Some(bytes)
    }
}
