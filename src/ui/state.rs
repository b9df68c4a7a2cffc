//! The state, for `show` and `state show`: each resource's recorded attributes, sensitive ones
//! as `(sensitive)`.

use serde_json::Value;

use crate::state::{ResourceState, State};

/// One resource, Terraform's `state show` way.
pub fn resource_text(resource: &ResourceState) -> String {
    let width = resource
        .attributes
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    let mut out = format!("# {}:\n{} {{\n", resource.address, resource.address);
    if let Some(id) = &resource.remote_id {
        out.push_str(&format!(
            "    {:width$} = {}\n",
            "id",
            Value::String(id.clone())
        ));
    }
    for (name, value) in &resource.attributes {
        let shown = if resource.sensitive.contains(name) {
            "(sensitive)".to_owned()
        } else {
            match value {
                Value::String(text) if text.contains('\n') => {
                    let body: String = text
                        .lines()
                        .map(|line| format!("        {line}\n"))
                        .collect();
                    format!("<<EOT\n{body}    EOT")
                }
                other => other.to_string(),
            }
        };
        out.push_str(&format!("    {name:width$} = {shown}\n"));
    }
    out.push_str("}\n\n");
    out
}

/// The state as JSON with sensitive attributes replaced by `"(sensitive)"`.
pub fn state_json(state: &State) -> Value {
    let mut value = serde_json::to_value(state).unwrap_or(Value::Null);
    if let Some(resources) = value.get_mut("resources").and_then(Value::as_array_mut) {
        for (resource, recorded) in resources.iter_mut().zip(&state.resources) {
            if let Some(attributes) = resource
                .get_mut("attributes")
                .and_then(Value::as_object_mut)
            {
                for name in &recorded.sensitive {
                    if let Some(attribute) = attributes.get_mut(name) {
                        *attribute = Value::String("(sensitive)".to_owned());
                    }
                }
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::address::{Address, Kind};

    fn secret() -> ResourceState {
        ResourceState {
            address: Address::new(Kind::Secret, "db"),
            host: None,
            docker_name: Some("db-12345678".to_owned()),
            remote_id: Some("abc".to_owned()),
            attributes: BTreeMap::from([
                ("content".to_owned(), json!("sha256:ffff")),
                ("name".to_owned(), json!("db-12345678")),
            ]),
            sensitive: vec!["content".to_owned()],
            depends_on: Vec::new(),
            pending: false,
        }
    }

    // A sensitive attribute shows as (sensitive), never as its hash.
    #[test]
    fn resource_text_hides_sensitive_values() {
        let text = resource_text(&secret());
        assert_eq!(
            text,
            "# secret.db:\nsecret.db {\n    id      = \"abc\"\n    content = (sensitive)\n    name    = \"db-12345678\"\n}\n\n"
        );
    }

    // The JSON form hides the same values.
    #[test]
    fn state_json_hides_sensitive_values() {
        let mut state = State::new();
        state.upsert(secret());
        let text = state_json(&state).to_string();
        assert!(!text.contains("sha256:ffff"), "{text}");
        assert!(text.contains("(sensitive)"), "{text}");
    }
}
