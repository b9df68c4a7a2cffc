//! Variables and interpolation: module inputs rendered against the root, `vars`, templates
//! rendered, the host context templates see, and rendered text shown with sensitive values
//! scrubbed.

use serde_json::{Map, Value, json};
use toml::Spanned;

use super::Evaluation;
use crate::config::load::{Host, Scope, collect_strings, render_strings};
use crate::config::model::Name;
use crate::config::template;
use crate::resource::{Attribute, OnChange, Resource};

impl Evaluation<'_> {
    /// A module call's inputs rendered against the root's context (variables and the root's
    /// objects), so a call can pass `"{{secrets.tls}}"`.
    pub(super) fn module_inputs(&mut self, scope: &Scope, root_context: &Value) -> Option<Value> {
        let mut inputs = Map::new();
        for input in &scope.inputs {
            match render_strings(
                &input.value,
                root_context,
                self.sources,
                self.config.root,
                input.span.clone(),
            ) {
                Ok(rendered) => {
                    if input.sensitive {
                        collect_strings(&rendered, &mut self.sensitive_values);
                    }
                    inputs.insert(input.name.clone(), rendered);
                }
                Err(error) => {
                    self.errors.push(error);
                    return None;
                }
            }
        }
        Some(Value::Object(inputs))
    }

    pub(super) fn vars(
        &mut self,
        vars: &indexmap::IndexMap<String, toml::Value>,
        scope: &Scope,
        name: &Name,
    ) -> Option<Value> {
        let mut map = Map::new();
        for (key, value) in vars {
            match render_strings(value, &scope.context, self.sources, scope.file, name.span()) {
                Ok(rendered) => {
                    map.insert(key.clone(), rendered);
                }
                Err(error) => {
                    self.errors.push(error);
                    return None;
                }
            }
        }
        Some(Value::Object(map))
    }

    pub(super) fn render(
        &mut self,
        scope: &Scope,
        path: &Spanned<String>,
        context: &Value,
    ) -> Option<String> {
        let id = scope
            .read(self.sources, path)
            .map_err(|error| self.errors.push(error))
            .ok()?;
        template::render(self.sources, id, context)
            .map_err(|error| self.errors.push(error))
            .ok()
    }

    /// A rendered text attribute, shown with sensitive values scrubbed. When scrubbing hid
    /// something, `NAME_sha256` of the full text rides along, so a changed secret value is still
    /// a change.
    pub(super) fn text_attributes(
        &self,
        mut resource: Resource,
        name: &str,
        text: &str,
        on_change: OnChange,
    ) -> Resource {
        let shown = self.redact(text);
        if shown != text {
            resource = resource.attribute(
                &format!("{name}_sha256"),
                with_on_change(Attribute::hashed(text.as_bytes()), on_change),
            );
        }
        resource.attribute(
            name,
            with_on_change(Attribute::new(shown).text().with_payload(text), on_change),
        )
    }

    /// Text with every sensitive value replaced by `(sensitive)`.
    pub(super) fn redact(&self, text: &str) -> String {
        crate::redact::redact(text, &self.sensitive_values)
    }
}

pub(super) fn with_on_change(mut attribute: Attribute, on_change: OnChange) -> Attribute {
    attribute.on_change = on_change;
    attribute
}

pub(super) fn insert(context: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = context {
        map.insert(key.to_owned(), value);
    }
}

pub(super) fn host_context(host: &Host) -> Value {
    json!({
        "name": host.name,
        "address": host.config.address.get_ref(),
        "role": host.config.role.as_str(),
        "labels": host.config.labels.iter().map(|(key, value)| (key.get_ref().clone(), Value::String(value.clone()))).collect::<Map<_, _>>(),
    })
}
