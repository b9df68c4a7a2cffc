//! A small hand-built plan that exercises every action, shared by the renderers' tests.

use serde_json::{Value, json};

use crate::address::{Address, Kind};
use crate::plan::{Action, AttributeChange, Change, Mode, Plan, StateRef, Step, Warning};
use crate::swarm::{NodeStep, ObjectKind, ObjectStep, PrimitiveStep};

/// The hashes of the secret's old and new content: no renderer may print either.
pub const SECRET_HASH_BEFORE: &str =
    "sha256:1b4f0e9851971998e732078544c96b36c3d01cedf7caa332359d6f1d83567014";
pub const SECRET_HASH_AFTER: &str =
    "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

pub const DAEMON_JSON_BEFORE: &str =
    "{\n  \"log-driver\": \"json-file\",\n  \"log-level\": \"info\"\n}\n";
pub const DAEMON_JSON_AFTER: &str =
    "{\n  \"log-driver\": \"json-file\",\n  \"log-level\": \"debug\"\n}\n";

/// An attribute from `before` to `after`; the flags are set by the caller.
pub fn attribute(name: &str, before: Option<Value>, after: Option<Value>) -> AttributeChange {
    AttributeChange {
        name: name.to_owned(),
        before,
        after,
        unknown_after: false,
        sensitive: false,
        text: false,
        forces_replacement: false,
    }
}

fn blank_change(address: Address, action: Action) -> Change {
    Change {
        address,
        action,
        host: None,
        reasons: Vec::new(),
        attributes: Vec::new(),
        steps: Vec::new(),
        depends_on: Vec::new(),
        create_before_destroy: false,
    }
}

/// A no-op engine, an update of a host's daemon.json that restarts dockerd, the deletion of a
/// node, the creation of a network and the replacement of a secret whose content changed.
pub fn plan() -> Plan {
    let engine = Change {
        host: Some("node1".to_owned()),
        attributes: vec![attribute(
            "version",
            Some(json!("27.3.1")),
            Some(json!("27.3.1")),
        )],
        ..blank_change(Address::new(Kind::Engine, "node1"), Action::NoOp)
    };
    let daemon = Change {
        host: Some("node1".to_owned()),
        reasons: vec!["restarts dockerd on node1".to_owned()],
        attributes: vec![
            AttributeChange {
                text: true,
                ..attribute(
                    "daemon_json",
                    Some(json!(DAEMON_JSON_BEFORE)),
                    Some(json!(DAEMON_JSON_AFTER)),
                )
            },
            attribute("live_restore", Some(json!(false)), Some(json!(true))),
            attribute(
                "path",
                Some(json!("/etc/docker/daemon.json")),
                Some(json!("/etc/docker/daemon.json")),
            ),
        ],
        steps: vec![
            Step::Primitive(PrimitiveStep::WriteFile {
                path: "/etc/docker/daemon.json".to_owned(),
                mode: "0644".to_owned(),
                owner: "root".to_owned(),
            }),
            Step::Primitive(PrimitiveStep::RestartDocker),
        ],
        depends_on: vec![Address::new(Kind::Engine, "node1")],
        ..blank_change(Address::new(Kind::Daemon, "node1"), Action::Update)
    };
    let node = Change {
        host: Some("node3".to_owned()),
        attributes: vec![
            attribute("availability", Some(json!("active")), None),
            attribute("labels", Some(json!({"zone": "b"})), None),
            attribute("role", Some(json!("worker")), None),
        ],
        steps: vec![
            Step::Node(NodeStep::Drain {
                via: "node1".to_owned(),
            }),
            Step::Node(NodeStep::Leave { force: false }),
            Step::Node(NodeStep::NodeRm {
                via: "node1".to_owned(),
                force: false,
            }),
        ],
        depends_on: vec![Address::swarm()],
        ..blank_change(Address::new(Kind::Node, "node3"), Action::Delete)
    };
    let network = Change {
        attributes: vec![
            attribute("attachable", None, Some(json!(true))),
            attribute("driver", None, Some(json!("overlay"))),
            AttributeChange {
                unknown_after: true,
                ..attribute("id", None, None)
            },
            attribute("subnet", None, Some(json!("10.0.9.0/24"))),
        ],
        steps: vec![Step::Object(ObjectStep::DockerCreate {
            object: ObjectKind::Network,
            name: "maiev".to_owned(),
            via: "node1".to_owned(),
        })],
        depends_on: vec![Address::swarm()],
        ..blank_change(Address::new(Kind::Network, "maiev"), Action::Create)
    };
    let secret = Change {
        reasons: vec!["a swarm secret's content cannot change in place".to_owned()],
        attributes: vec![
            AttributeChange {
                sensitive: true,
                forces_replacement: true,
                ..attribute(
                    "content_hash",
                    Some(json!(SECRET_HASH_BEFORE)),
                    Some(json!(SECRET_HASH_AFTER)),
                )
            },
            attribute("name", Some(json!("db")), Some(json!("db"))),
            attribute("version", Some(json!(1)), Some(json!(2))),
        ],
        steps: vec![
            Step::Object(ObjectStep::DockerCreate {
                object: ObjectKind::Secret,
                name: "db_v2".to_owned(),
                via: "node1".to_owned(),
            }),
            Step::Object(ObjectStep::DockerRemove {
                object: ObjectKind::Secret,
                name: "db_v1".to_owned(),
                via: "node1".to_owned(),
            }),
        ],
        depends_on: vec![Address::swarm()],
        create_before_destroy: true,
        ..blank_change(Address::new(Kind::Secret, "db"), Action::Replace)
    };
    Plan {
        mode: Mode::Normal,
        changes: vec![engine, daemon, node, network, secret],
        warnings: vec![Warning {
            summary: "the swarm has 2 managers".to_owned(),
            detail: "Raft needs a majority: with 2 managers, losing either stops the swarm.\n\
                     Use 1, 3 or 5 managers."
                .to_owned(),
        }],
        state: Some(StateRef {
            lineage: "5f0c6a8e-3d2b-4c1a-9e7f-2b8d4a6c1e90".to_owned(),
            serial: 7,
        }),
        refreshed: true,
        targets: Vec::new(),
        hosts: Vec::new(),
        managers: None,
    }
}

/// A plan with nothing to do: only a no-op.
pub fn empty_plan() -> Plan {
    let full = plan();
    Plan {
        changes: full
            .changes
            .into_iter()
            .filter(|change| change.action == Action::NoOp)
            .collect(),
        warnings: Vec::new(),
        ..full
    }
}

/// The change at `address` in `plan`.
pub fn change<'plan>(plan: &'plan Plan, address: &str) -> &'plan Change {
    let address: Address = address.parse().expect("fixture address");
    plan.change(&address).expect("fixture change")
}
