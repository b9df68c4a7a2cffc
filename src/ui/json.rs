//! The plan as JSON for machines: a schema of its own, documented in `docs/plan-json.md` and
//! kept stable on purpose. It is built field by field here rather than derived from `Plan`,
//! whose serde form is the saved-plan format and free to change with it.

use serde_json::{Value, json};

use super::attributes::SENSITIVE;
use super::diff::attribute_diff;
use crate::plan::{Action, AttributeChange, Change, HostFacts, Mode, Plan, Step, SwarmState};

/// The version of the schema below; bumped only for changes a consumer could trip over.
const FORMAT_VERSION: &str = "1";

/// The plan as pretty-printed JSON with a trailing newline; see `docs/plan-json.md`.
pub fn plan_json(plan: &Plan) -> String {
    let summary = plan.summary();
    let managers = plan.managers.map_or(Value::Null, |managers| {
        json!({
            "before": managers.before,
            "after": managers.after,
            "tolerates_before": crate::plan::ManagerCount::tolerates(managers.before),
            "tolerates_after": crate::plan::ManagerCount::tolerates(managers.after),
            "sentence": managers.sentence(),
        })
    });
    let document = json!({
        "format_version": FORMAT_VERSION,
        "mode": mode(plan.mode),
        "refreshed": plan.refreshed,
        "state": plan.state.as_ref().map(|state| json!({
            "lineage": state.lineage,
            "serial": state.serial,
        })),
        "targets": plan.targets,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
        },
        "warnings": plan.warnings.iter().map(|warning| json!({
            "summary": warning.summary,
            "detail": warning.detail,
        })).collect::<Vec<_>>(),
        "hosts": plan.hosts.iter().map(host).collect::<Vec<_>>(),
        "managers": managers,
        "changes": plan.changes.iter().map(change).collect::<Vec<_>>(),
    });
    // `{:#}` is `serde_json::to_string_pretty` for a `Value`, which cannot fail.
    format!("{document:#}\n")
}

fn mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Normal => "normal",
        Mode::Destroy => "destroy",
    }
}

fn action(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no_op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
    }
}

fn change(change: &Change) -> Value {
    json!({
        "address": change.address.to_string(),
        "action": action(change.action),
        "host": change.host,
        "reasons": change.reasons,
        "depends_on": change.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "create_before_destroy": change.create_before_destroy,
        "steps": change.steps.iter().map(step).collect::<Vec<_>>(),
        "attributes": change.attributes.iter().map(attribute).collect::<Vec<_>>(),
    })
}

fn host(facts: &HostFacts) -> Value {
    let in_swarm = facts.in_swarm();
    json!({
        "host": facts.host,
        "reachable": facts.unreachable.is_none(),
        "error": facts.unreachable,
        "os": facts.os,
        "arch": facts.arch,
        "hostname": facts.hostname,
        "docker_installed": facts.docker_installed,
        "docker_version": facts.docker_version,
        "docker_error": facts.docker_error,
        "swarm": facts.swarm.map(SwarmState::as_str),
        "role": in_swarm.then_some(if facts.manager { "manager" } else { "worker" }),
        "node_id": facts.node_id,
        "cluster_id": facts.cluster_id,
        "addresses": facts.addresses.iter().map(|address| json!({
            "address": address.address,
            "prefix_length": address.prefix_length,
            "interface": address.interface,
            "dynamic": address.dynamic,
        })).collect::<Vec<_>>(),
    })
}

fn attribute(attribute: &AttributeChange) -> Value {
    let shown = |value: &Option<Value>| match value {
        Some(_) if attribute.sensitive => Value::from(SENSITIVE),
        Some(value) => value.clone(),
        None => Value::Null,
    };
    json!({
        "name": attribute.name,
        "before": shown(&attribute.before),
        "after": shown(&attribute.after),
        "unknown_after": attribute.unknown_after,
        "sensitive": attribute.sensitive,
        "text": attribute.text,
        "forces_replacement": attribute.forces_replacement,
        "changed": attribute.is_changed(),
        "diff": attribute_diff(attribute),
    })
}

/// A step as `{"step": KIND, ...its fields, "description": ...}`: the fields as the kind's step
/// type serializes them (the saved plan's own form, which the format snapshots pin), then the
/// step in words.
fn step(step: &Step) -> Value {
    let mut object = match serde_json::to_value(step) {
        Ok(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    object.insert("description".to_owned(), Value::from(step.describe()));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixture;

    fn parsed(plan: &Plan) -> Value {
        let text = plan_json(plan);
        assert!(text.ends_with("}\n"), "{text}");
        serde_json::from_str(&text).expect("plan JSON parses")
    }

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn the_document_has_the_documented_fields_in_order() {
        // The top level, each change and each attribute carry exactly the documented keys.
        let document = parsed(&fixture::plan());
        assert_eq!(
            keys(&document),
            [
                "format_version",
                "mode",
                "refreshed",
                "state",
                "targets",
                "summary",
                "warnings",
                "hosts",
                "managers",
                "changes"
            ]
        );
        assert_eq!(document["format_version"], "1");
        assert_eq!(document["mode"], "normal");
        assert_eq!(document["refreshed"], true);
        assert_eq!(
            document["state"],
            json!({"lineage": "5f0c6a8e-3d2b-4c1a-9e7f-2b8d4a6c1e90", "serial": 7})
        );
        assert_eq!(document["targets"], json!([]));
        assert_eq!(
            document["warnings"][0],
            json!({
                "summary": "the swarm has 2 managers",
                "detail": "Raft needs a majority: with 2 managers, losing either stops the swarm.\nUse 1, 3 or 5 managers.",
            })
        );
        let change = &document["changes"][1];
        assert_eq!(
            keys(change),
            [
                "address",
                "action",
                "host",
                "reasons",
                "depends_on",
                "create_before_destroy",
                "steps",
                "attributes"
            ]
        );
        assert_eq!(
            keys(&change["attributes"][0]),
            [
                "name",
                "before",
                "after",
                "unknown_after",
                "sensitive",
                "text",
                "forces_replacement",
                "changed",
                "diff"
            ]
        );
    }

    #[test]
    fn the_summary_counts_a_replacement_as_an_add_and_a_destroy() {
        // The summary object matches the `Plan:` line: 2 to add, 1 to change, 2 to destroy.
        let document = parsed(&fixture::plan());
        assert_eq!(
            document["summary"],
            json!({"add": 2, "change": 1, "destroy": 2})
        );
    }

    #[test]
    fn no_op_changes_are_included() {
        // Consumers see the whole configuration, unchanged resources too.
        let document = parsed(&fixture::plan());
        let actions: Vec<(&str, &str)> = document["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|change| {
                (
                    change["address"].as_str().expect("address"),
                    change["action"].as_str().expect("action"),
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("engine.node1", "no_op"),
                ("daemon.node1", "update"),
                ("node.node3", "delete"),
                ("network.maiev", "create"),
                ("secret.db", "replace"),
            ]
        );
    }

    #[test]
    fn a_changed_text_attribute_carries_its_unified_diff() {
        // `diff` is the unified diff for a changed text attribute and null for everything else.
        let document = parsed(&fixture::plan());
        let daemon = &document["changes"][1];
        assert_eq!(daemon["host"], "node1");
        assert_eq!(daemon["reasons"], json!(["restarts dockerd on node1"]));
        assert_eq!(daemon["depends_on"], json!(["engine.node1"]));
        assert_eq!(
            daemon["attributes"][0],
            json!({
                "name": "daemon_json",
                "before": fixture::DAEMON_JSON_BEFORE,
                "after": fixture::DAEMON_JSON_AFTER,
                "unknown_after": false,
                "sensitive": false,
                "text": true,
                "forces_replacement": false,
                "changed": true,
                "diff": "--- daemon_json (before)\n+++ daemon_json (after)\n@@ -1,4 +1,4 @@\n {\n   \"log-driver\": \"json-file\",\n-  \"log-level\": \"info\"\n+  \"log-level\": \"debug\"\n }\n",
            })
        );
        assert_eq!(daemon["attributes"][2]["changed"], false);
        assert_eq!(daemon["attributes"][2]["diff"], Value::Null);
    }

    #[test]
    fn sensitive_values_are_masked() {
        // A sensitive attribute's before and after read "(sensitive)"; the hashes never appear.
        let text = plan_json(&fixture::plan());
        assert!(!text.contains(fixture::SECRET_HASH_BEFORE), "{text}");
        assert!(!text.contains(fixture::SECRET_HASH_AFTER), "{text}");
        let document: Value = serde_json::from_str(&text).expect("plan JSON parses");
        let secret = &document["changes"][4];
        assert_eq!(secret["create_before_destroy"], true);
        assert_eq!(
            secret["attributes"][0],
            json!({
                "name": "content_hash",
                "before": "(sensitive)",
                "after": "(sensitive)",
                "unknown_after": false,
                "sensitive": true,
                "text": false,
                "forces_replacement": true,
                "changed": true,
                "diff": null,
            })
        );
    }

    #[test]
    fn steps_carry_their_kind_fields_and_description() {
        // Each step is tagged by kind, keeps its fields and says in words what it does.
        let document = parsed(&fixture::plan());
        assert_eq!(
            document["changes"][2]["steps"],
            json!([
                {"step": "drain", "via": "node1", "description": "drain and wait until its tasks have moved (from node1)"},
                {"step": "leave", "force": false, "description": "docker swarm leave"},
                {"step": "node_rm", "via": "node1", "force": false, "description": "docker node rm (from node1)"},
            ])
        );
        let created = &document["changes"][3];
        assert_eq!(created["host"], Value::Null);
        assert_eq!(created["attributes"][2]["unknown_after"], true);
        assert_eq!(created["attributes"][2]["after"], Value::Null);
        assert_eq!(created["attributes"][0]["before"], Value::Null);
    }

    #[test]
    fn an_absent_state_and_targets_are_shown_as_such() {
        // No state file gives `"state": null`; `--target` addresses are listed verbatim.
        let mut plan = fixture::plan();
        plan.state = None;
        plan.mode = Mode::Destroy;
        plan.targets = vec!["module.edge".to_owned()];
        let document = parsed(&plan);
        assert_eq!(document["state"], Value::Null);
        assert_eq!(document["mode"], "destroy");
        assert_eq!(document["targets"], json!(["module.edge"]));
    }

    // Each host is one object with the documented keys; an unreachable host has only its
    // error.
    #[test]
    fn hosts_are_listed_with_their_facts() {
        use crate::plan::{HostAddress, HostFacts, SwarmState};
        let mut plan = fixture::plan();
        plan.hosts = vec![
            HostFacts {
                host: "node1".to_owned(),
                os: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
                arch: Some("x86_64".to_owned()),
                hostname: Some("node1".to_owned()),
                docker_installed: true,
                docker_version: Some("20.10.24+dfsg1".to_owned()),
                swarm: Some(SwarmState::Active),
                manager: true,
                node_id: Some("n1".to_owned()),
                cluster_id: Some("c1".to_owned()),
                addresses: vec![HostAddress {
                    address: "192.0.2.11".to_owned(),
                    prefix_length: 24,
                    interface: "eth0".to_owned(),
                    dynamic: true,
                }],
                ..HostFacts::default()
            },
            HostFacts {
                host: "node2".to_owned(),
                unreachable: Some("connection refused".to_owned()),
                ..HostFacts::default()
            },
        ];
        let document = parsed(&plan);
        assert_eq!(
            document["hosts"][0],
            json!({
                "host": "node1",
                "reachable": true,
                "error": null,
                "os": "Debian GNU/Linux 12 (bookworm)",
                "arch": "x86_64",
                "hostname": "node1",
                "docker_installed": true,
                "docker_version": "20.10.24+dfsg1",
                "docker_error": null,
                "swarm": "active",
                "role": "manager",
                "node_id": "n1",
                "cluster_id": "c1",
                "addresses": [{"address": "192.0.2.11", "prefix_length": 24, "interface": "eth0", "dynamic": true}],
            })
        );
        assert_eq!(document["hosts"][1]["reachable"], false);
        assert_eq!(document["hosts"][1]["error"], "connection refused");
        assert_eq!(document["hosts"][1]["role"], Value::Null);
    }
}
