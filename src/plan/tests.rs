//! Planner and graph: the swarm's ordering rules, destroy order, single-host removal, quorum.

use std::collections::BTreeMap;

use super::graph::{Graph, Phase};
use super::planner::{Options, PlanError, plan};
use super::{Action, Plan, Step};
use crate::address::Address;
use crate::config::desired::Desired;
use crate::config::model::Role;
use crate::config::test_desired;
use crate::state::{ResourceState, State};
use crate::swarm::{NodeStep, ObjectKind, ObjectStep, StackStep, SwarmStep};

fn hosts(managers: usize, workers: usize) -> String {
    let mut text = String::new();
    for index in 1..=managers {
        text.push_str(&format!(
            "[hosts.m{index}]\naddress = \"192.0.2.{index}\"\nrole = \"manager\"\n\n"
        ));
    }
    for index in 1..=workers {
        text.push_str(&format!(
            "[hosts.w{index}]\naddress = \"192.0.2.{}\"\n\n",
            100 + index
        ));
    }
    text
}

const WORKLOADS: &str = r#"
[networks.web]
subnet = "10.0.9.0/24"

[secrets.db]
file = "db.txt"

[registries.local]
node = "m1"

[stacks.web]
template = "web.yml.hbs"
"#;

const WEB: &str = "services:\n  web:\n    image: 192.0.2.1:5000/web:1\n    secrets: [db]\nsecrets:\n  db:\n    external: true\n    name: {{secrets.db}}\nnetworks:\n  default:\n    external: true\n    name: {{networks.web}}\n";

fn cluster(managers: usize, workers: usize) -> Desired {
    test_desired(
        &format!("{}{WORKLOADS}", hosts(managers, workers)),
        &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)],
    )
}

/// The state after a successful apply of `desired`.
fn applied(desired: &Desired) -> State {
    let mut state = State::new();
    for resource in &desired.resources {
        state.upsert(ResourceState::from_resource(resource, None));
    }
    state
}

fn offline(desired: &Desired, state: Option<&State>) -> Plan {
    plan(desired, state, &Options::default()).expect("plan")
}

fn destroy(desired: &Desired, state: &State) -> Plan {
    plan(
        desired,
        Some(state),
        &Options {
            destroy: true,
            ..Options::default()
        },
    )
    .expect("destroy plan")
}

/// Position of each vertex in a topological order of the plan's graph.
fn positions(plan: &Plan) -> BTreeMap<String, usize> {
    let graph = Graph::build(plan).expect("acyclic");
    graph
        .order()
        .into_iter()
        .enumerate()
        .map(|(index, vertex)| (vertex.to_string(), index))
        .collect()
}

fn before(positions: &BTreeMap<String, usize>, first: &str, second: &str) -> bool {
    positions[first] < positions[second]
}

fn has_edge(plan: &Plan, from: (&str, Phase), to: (&str, Phase)) -> bool {
    let graph = Graph::build(plan).expect("acyclic");
    let index = |(text, phase): (&str, Phase)| {
        graph
            .vertex(&text.parse::<Address>().expect("address"), phase)
            .expect("vertex")
    };
    graph.graph.contains_edge(index(from), index(to))
}

fn change<'a>(plan: &'a Plan, address: &str) -> &'a super::Change {
    plan.change(&address.parse().expect("address"))
        .unwrap_or_else(|| panic!("no change for {address}"))
}

// A new cluster: daemons before init, init before every join, managers join one at a time,
// workers join in parallel, and workloads come after the swarm and the nodes.
#[test]
fn a_new_cluster_is_ordered_by_the_swarm_rules() {
    let desired = cluster(3, 2);
    let plan = offline(&desired, None);
    assert!(
        plan.changes
            .iter()
            .all(|change| change.action == Action::Create)
    );
    let order = positions(&plan);
    assert!(before(&order, "daemon.m1", "swarm"));
    for node in ["node.m2", "node.m3", "node.w1", "node.w2"] {
        assert!(before(&order, "swarm", node), "{node}");
    }
    assert!(
        has_edge(&plan, ("node.m2", Phase::Apply), ("node.m3", Phase::Apply)),
        "managers one at a time"
    );
    assert!(
        !has_edge(&plan, ("node.w1", Phase::Apply), ("node.w2", Phase::Apply)),
        "workers in parallel"
    );
    assert!(
        !has_edge(&plan, ("node.w2", Phase::Apply), ("node.w1", Phase::Apply)),
        "workers in parallel"
    );
    for object in ["network.web", "secret.db", "registry.local"] {
        assert!(before(&order, "swarm", object), "{object}");
        assert!(
            before(&order, object, "stack.web"),
            "{object} before the stack"
        );
    }
    assert!(before(&order, "node.w2", "stack.web"));
    assert_eq!(
        change(&plan, "swarm").steps,
        vec![Step::Swarm(SwarmStep::SwarmInit {
            on: "m1".to_owned()
        })]
    );
    assert_eq!(
        change(&plan, "node.m2").steps,
        vec![
            Step::Node(NodeStep::Join {
                role: Role::Manager,
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::SetLabels {
                via: "m1".to_owned()
            })
        ]
    );
}

// Planning the config against the state of its own apply changes nothing.
#[test]
fn a_second_plan_has_no_changes() {
    let desired = cluster(3, 2);
    let state = applied(&desired);
    let plan = offline(&desired, Some(&state));
    assert!(
        !plan.has_changes(),
        "{:?}",
        plan.changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .collect::<Vec<_>>()
    );
}

// Destroy reverses the build in the decommission order: stacks, registries, networks and
// secrets, then workers leave, then managers are demoted and leave, the last with --force.
#[test]
fn destroy_follows_the_decommission_order() {
    let desired = cluster(3, 2);
    let state = applied(&desired);
    let plan = destroy(&desired, &state);
    assert!(
        plan.changes
            .iter()
            .all(|change| change.action == Action::Delete)
    );
    let order = positions(&plan);
    let destroyed = |address: &str| format!("{address} (destroy)");
    assert!(before(
        &order,
        &destroyed("stack.web"),
        &destroyed("registry.local")
    ));
    assert!(before(
        &order,
        &destroyed("registry.local"),
        &destroyed("network.web")
    ));
    assert!(before(
        &order,
        &destroyed("network.web"),
        &destroyed("node.w1")
    ));
    assert!(before(
        &order,
        &destroyed("secret.db"),
        &destroyed("node.w1")
    ));
    for worker in ["node.w1", "node.w2"] {
        for manager in ["node.m2", "node.m3"] {
            assert!(
                before(&order, &destroyed(worker), &destroyed(manager)),
                "{worker} before {manager}"
            );
        }
    }
    assert!(
        has_edge(
            &plan,
            ("node.m2", Phase::Destroy),
            ("node.m3", Phase::Destroy)
        ),
        "managers one at a time"
    );
    for node in ["node.m2", "node.m3", "node.w1", "node.w2"] {
        assert!(before(&order, &destroyed(node), &destroyed("swarm")));
    }
    assert_eq!(
        change(&plan, "node.w1").steps,
        vec![
            Step::Node(NodeStep::Drain {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Leave { force: false }),
            Step::Node(NodeStep::NodeRm {
                via: "m1".to_owned(),
                force: false
            }),
        ]
    );
    assert_eq!(
        change(&plan, "node.m2").steps,
        vec![
            Step::Node(NodeStep::Drain {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Demote {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Leave { force: false }),
            Step::Node(NodeStep::NodeRm {
                via: "m1".to_owned(),
                force: false
            }),
        ]
    );
    assert_eq!(
        change(&plan, "swarm").steps,
        vec![Step::Node(NodeStep::Leave { force: true })]
    );
    assert!(
        plan.warnings
            .iter()
            .any(|warning| warning.summary == "this plan destroys the swarm")
    );
}

// Removing one worker from the config decommissions that host alone.
#[test]
fn removing_a_worker_decommissions_only_that_host() {
    let before_removal = cluster(1, 2);
    let state = applied(&before_removal);
    let after_removal = cluster(1, 1);
    let plan = offline(&after_removal, Some(&state));
    let changed: Vec<(String, Action)> = plan
        .changes
        .iter()
        .filter(|change| change.action != Action::NoOp)
        .map(|change| (change.address.to_string(), change.action))
        .collect();
    assert_eq!(
        changed,
        vec![
            ("engine.w2".to_owned(), Action::Delete),
            ("daemon.w2".to_owned(), Action::Delete),
            ("node.w2".to_owned(), Action::Delete),
        ]
    );
    assert_eq!(
        change(&plan, "node.w2").steps,
        vec![
            Step::Node(NodeStep::Drain {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Leave { force: false }),
            Step::Node(NodeStep::NodeRm {
                via: "m1".to_owned(),
                force: false
            }),
        ]
    );
    let order = positions(&plan);
    assert!(before(&order, "node.w2 (destroy)", "engine.w2 (destroy)"));
}

// Removing one manager of three demotes it from a surviving manager before it leaves.
#[test]
fn removing_a_manager_demotes_it_first() {
    let state = applied(&cluster(3, 0));
    let plan = offline(&cluster(2, 0), Some(&state));
    assert_eq!(
        change(&plan, "node.m3").steps,
        vec![
            Step::Node(NodeStep::Drain {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Demote {
                via: "m1".to_owned()
            }),
            Step::Node(NodeStep::Leave { force: false }),
            Step::Node(NodeStep::NodeRm {
                via: "m1".to_owned(),
                force: false
            }),
        ]
    );
}

// A new manager is promoted before an old one is demoted, so quorum never drops.
#[test]
fn promotions_come_before_demotions() {
    let old = test_desired(&hosts(3, 1), &[]);
    let state = applied(&old);
    let new_config = hosts(3, 1)
        .replace(
            "[hosts.w1]\naddress = \"192.0.2.101\"\n",
            "[hosts.w1]\naddress = \"192.0.2.101\"\nrole = \"manager\"\n",
        )
        .replace(
            "[hosts.m3]\naddress = \"192.0.2.3\"\nrole = \"manager\"\n",
            "[hosts.m3]\naddress = \"192.0.2.3\"\nrole = \"worker\"\n",
        );
    let new = test_desired(&new_config, &[]);
    let plan = offline(&new, Some(&state));
    assert_eq!(
        change(&plan, "node.w1").steps,
        vec![Step::Node(NodeStep::Promote {
            via: "m1".to_owned()
        })]
    );
    assert_eq!(
        change(&plan, "node.m3").steps,
        vec![Step::Node(NodeStep::Demote {
            via: "m1".to_owned()
        })]
    );
    assert!(has_edge(
        &plan,
        ("node.w1", Phase::Apply),
        ("node.m3", Phase::Apply)
    ));
}

// Removing the only manager is refused unless --allow-quorum-loss, and then the plan says so.
#[test]
fn removing_the_last_manager_needs_the_flag() {
    let state = applied(&cluster(1, 1));
    // A config whose manager is a new host; targeting the old manager's removal alone would
    // take it out before anyone else is a manager.
    let renamed = test_desired(
        &hosts(1, 1)
            .replace("[hosts.m1]", "[hosts.m9]")
            .replace("192.0.2.1\"", "192.0.2.9\""),
        &[],
    );
    let error = plan(
        &renamed,
        Some(&state),
        &Options {
            targets: vec!["node.m1".parse().expect("target")],
            ..Options::default()
        },
    )
    .expect_err("refused");
    assert!(
        matches!(&error, PlanError::QuorumLoss { what } if what.contains("the last manager")),
        "{error}"
    );
    let allowed = plan(
        &renamed,
        Some(&state),
        &Options {
            targets: vec!["node.m1".parse().expect("target")],
            allow_quorum_loss: true,
            ..Options::default()
        },
    )
    .expect("allowed");
    assert!(
        allowed
            .warnings
            .iter()
            .any(|warning| warning.summary.contains("--allow-quorum-loss"))
    );
}

// Demoting a manager while too few managers are reachable loses quorum and is refused.
#[test]
fn unreachable_managers_count_against_quorum() {
    let state = applied(&cluster(3, 0));
    let options = Options {
        unreachable: ["m2".to_owned()].into(),
        ..Options::default()
    };
    let error = plan(&cluster(2, 0), Some(&state), &options).expect_err("refused");
    assert!(
        matches!(&error, PlanError::QuorumLoss { what } if what.contains("losing Raft quorum")),
        "{error}"
    );
}

// A network Docker cannot update is replaced, and the stacks on it are removed first and
// deployed again after.
#[test]
fn a_replaced_network_takes_its_stacks_down_and_up() {
    let state = applied(&cluster(1, 0));
    let config = format!(
        "{}{}",
        hosts(1, 0),
        WORKLOADS.replace("10.0.9.0/24", "10.0.10.0/24")
    );
    let desired = test_desired(&config, &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)]);
    let plan = offline(&desired, Some(&state));
    assert_eq!(change(&plan, "network.web").action, Action::Replace);
    assert!(
        change(&plan, "network.web")
            .reasons
            .iter()
            .any(|reason| reason == "subnet forces replacement")
    );
    let stack = change(&plan, "stack.web");
    assert_eq!(stack.action, Action::Replace);
    assert!(
        stack
            .reasons
            .iter()
            .any(|reason| reason.contains("`network.web` is replaced")),
        "{:?}",
        stack.reasons
    );
    let order = positions(&plan);
    assert!(before(
        &order,
        "stack.web (destroy)",
        "network.web (destroy)"
    ));
    assert!(before(&order, "network.web (destroy)", "network.web"));
    assert!(before(&order, "network.web", "stack.web"));
}

// A rotated secret is a new versioned object: created first, the stack redeployed onto it,
// then the old version removed.
#[test]
fn a_rotated_secret_is_created_before_the_old_one_goes() {
    let state = applied(&cluster(1, 0));
    let desired = test_desired(
        &format!("{}{WORKLOADS}", hosts(1, 0)),
        &[("db.txt", "secret-two\n"), ("web.yml.hbs", WEB)],
    );
    let plan = offline(&desired, Some(&state));
    let secret = change(&plan, "secret.db");
    assert_eq!(secret.action, Action::Replace);
    assert!(secret.create_before_destroy);
    assert_eq!(change(&plan, "stack.web").action, Action::Update);
    let order = positions(&plan);
    assert!(before(&order, "secret.db", "stack.web"));
    assert!(before(&order, "stack.web", "secret.db (destroy)"));
    let serialized = serde_json::to_string(&plan).expect("json");
    assert!(
        !serialized.contains("secret-two"),
        "the content never enters the plan"
    );
}

// daemon.json changes restart dockerd on managers one at a time, and the plan says so.
#[test]
fn daemon_changes_restart_managers_one_at_a_time() {
    let state = applied(&cluster(3, 1));
    let config = format!(
        "[daemon.json]\n\"log-driver\" = \"local\"\n\n{}{WORKLOADS}",
        hosts(3, 1)
    );
    let desired = test_desired(&config, &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)]);
    let plan = offline(&desired, Some(&state));
    assert!(
        change(&plan, "daemon.m1")
            .reasons
            .contains(&"restarts dockerd on m1".to_owned())
    );
    assert!(
        plan.warnings
            .iter()
            .any(|warning| warning.summary == "restarts dockerd on 4 hosts: m1, m2, m3, w1")
    );
    assert!(has_edge(
        &plan,
        ("daemon.m1", Phase::Apply),
        ("daemon.m2", Phase::Apply)
    ));
    assert!(has_edge(
        &plan,
        ("daemon.m2", Phase::Apply),
        ("daemon.m3", Phase::Apply)
    ));
    assert!(has_edge(
        &plan,
        ("daemon.m3", Phase::Apply),
        ("daemon.w1", Phase::Apply)
    ));
}

// Workers restart after the managers, a third of them at a time.
#[test]
fn daemon_changes_restart_workers_in_batches_after_the_managers() {
    let state = applied(&cluster(1, 6));
    let config = format!(
        "[daemon.json]\n\"log-driver\" = \"local\"\n\n{}{WORKLOADS}",
        hosts(1, 6)
    );
    let desired = test_desired(&config, &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)]);
    let plan = offline(&desired, Some(&state));
    let batches = [["w1", "w2"], ["w3", "w4"], ["w5", "w6"]];
    for first in batches[0] {
        assert!(has_edge(
            &plan,
            ("daemon.m1", Phase::Apply),
            (&format!("daemon.{first}"), Phase::Apply)
        ));
    }
    for pair in batches.windows(2) {
        for before in pair[0] {
            for after in pair[1] {
                assert!(
                    has_edge(
                        &plan,
                        (&format!("daemon.{before}"), Phase::Apply),
                        (&format!("daemon.{after}"), Phase::Apply)
                    ),
                    "{before} before {after}"
                );
            }
        }
    }
    assert!(!has_edge(
        &plan,
        ("daemon.w1", Phase::Apply),
        ("daemon.w2", Phase::Apply)
    ));
    assert!(!has_edge(
        &plan,
        ("daemon.w2", Phase::Apply),
        ("daemon.w1", Phase::Apply)
    ));
}

// --target keeps the target and what it depends on.
#[test]
fn targets_keep_their_dependencies() {
    let desired = cluster(1, 1);
    let plan = plan(
        &desired,
        None,
        &Options {
            targets: vec!["network.web".parse().expect("target")],
            ..Options::default()
        },
    )
    .expect("plan");
    let addresses: Vec<String> = plan
        .changes
        .iter()
        .map(|change| change.address.to_string())
        .collect();
    assert_eq!(
        addresses,
        vec!["engine.m1", "daemon.m1", "swarm", "network.web"]
    );
}

// Depends_on cycles are rejected before anything walks the graph.
#[test]
fn cycles_are_rejected() {
    let config = format!(
        "{}[stacks.a]\ncompose = \"a.yml\"\ndepends_on = [\"stack.b\"]\n\n[stacks.b]\ncompose = \"a.yml\"\ndepends_on = [\"stack.a\"]\n",
        hosts(1, 0)
    );
    let desired = test_desired(&config, &[("a.yml", "services: {}\n")]);
    let plan = offline(&desired, None);
    let error = Graph::build(&plan).expect_err("cycle");
    assert!(
        error.cycle.contains(&"stack.a".to_owned()) && error.cycle.contains(&"stack.b".to_owned()),
        "{error}"
    );
}

#[test]
fn strays_are_removed_where_their_users_let_them_go() {
    // An unused superseded version goes on its resource's change (a no-op becomes an update);
    // one the stack still uses goes right after that stack's deploy; an object of an address
    // neither configured nor recorded gets a deletion of its own; one used by a stack that does
    // not deploy stays.
    let desired = cluster(1, 0);
    let mut state = applied(&desired);
    let stack: Address = "stack.web".parse().expect("address");
    if let Some(entry) = state
        .resources
        .iter_mut()
        .find(|entry| entry.address == stack)
    {
        entry.pending = true;
    }
    let stray = |address: &str, object: &str, name: &str, used_by: &[&str]| super::Stray {
        address: address.parse().expect("address"),
        object: object.to_owned(),
        name: name.to_owned(),
        used_by: used_by
            .iter()
            .map(|user| user.parse().expect("address"))
            .collect(),
    };
    let options = Options {
        strays: vec![
            stray("secret.db", "secret", "db-aaaa1111", &[]),
            stray("secret.db", "secret", "db-bbbb2222", &["stack.web"]),
            stray("network.old", "network", "old", &[]),
            stray("secret.db", "secret", "db-cccc3333", &["registry.local"]),
        ],
        ..Options::default()
    };
    let plan = plan(&desired, Some(&state), &options).expect("plan");
    let remove = |name: &str| {
        Step::Object(ObjectStep::DockerRemove {
            object: if name == "old" {
                ObjectKind::Network
            } else {
                ObjectKind::Secret
            },
            name: name.to_owned(),
            via: "m1".to_owned(),
        })
    };
    let secret = change(&plan, "secret.db");
    assert_eq!(secret.action, Action::Update);
    assert_eq!(secret.steps, [remove("db-aaaa1111")]);
    assert_eq!(
        secret.reasons,
        ["`secret.db`: db-aaaa1111 is a superseded version that nothing uses; removed"]
    );
    let web = change(&plan, "stack.web");
    let deploy = web
        .steps
        .iter()
        .position(|step| matches!(step, Step::Stack(StackStep::StackDeploy { .. })))
        .expect("a deploy");
    assert_eq!(web.steps[deploy + 1], remove("db-bbbb2222"));
    let old = change(&plan, "network.old");
    assert_eq!(old.action, Action::Delete);
    assert_eq!(old.steps, [remove("old")]);
    assert!(
        plan.changes
            .windows(2)
            .all(|pair| pair[0].address < pair[1].address),
        "sorted"
    );
    assert!(
        plan.changes
            .iter()
            .flat_map(|change| &change.steps)
            .all(|step| *step != remove("db-cccc3333")),
        "a version the undeployed registry uses stays"
    );
    Graph::build(&plan).expect("acyclic");
}

// A replaced network whose stack an interrupted run already took down: the stack is created
// again after the new network, with no cycle through the old network's destroy.
#[test]
fn a_stack_already_gone_waits_only_for_the_new_network() {
    let before = cluster(1, 0);
    let mut state = applied(&before);
    state.remove(&"stack.web".parse().expect("address"));
    let after = test_desired(
        &format!(
            "{}{}",
            hosts(1, 0),
            WORKLOADS.replace("10.0.9.0/24", "10.0.10.0/24")
        ),
        &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)],
    );
    let plan = offline(&after, Some(&state));
    assert_eq!(change(&plan, "network.web").action, Action::Replace);
    assert_eq!(change(&plan, "stack.web").action, Action::Create);
    Graph::build(&plan).expect("no cycle");
    assert!(has_edge(
        &plan,
        ("network.web", Phase::Apply),
        ("stack.web", Phase::Apply)
    ));
}

// A stack waits for every node through one barrier, `node.*`: each node's apply precedes it,
// it precedes the stack, and no node has an edge of its own to the stack.
#[test]
fn a_stack_waits_for_every_node_through_one_barrier() {
    let desired = cluster(1, 3);
    let plan = offline(&desired, None);
    for node in ["node.m1", "node.w1", "node.w2", "node.w3"] {
        assert!(
            has_edge(&plan, (node, Phase::Apply), ("node.*", Phase::Apply)),
            "{node}"
        );
        assert!(
            !has_edge(&plan, (node, Phase::Apply), ("stack.web", Phase::Apply)),
            "{node}"
        );
        assert!(before(&positions(&plan), node, "stack.web"), "{node}");
    }
    assert!(has_edge(
        &plan,
        ("node.*", Phase::Apply),
        ("stack.web", Phase::Apply)
    ));
    assert!(
        plan.change(&Address::every(crate::address::Kind::Node))
            .is_none(),
        "the barrier is no change"
    );
}

/// Edges of the plan's graph for `hosts` workers and as many stacks, first apply and destroy.
fn edges(hosts: usize) -> (usize, usize) {
    let mut config = format!("{}{WORKLOADS}", self::hosts(1, hosts));
    for index in 1..hosts {
        config.push_str(&format!(
            "\n[stacks.s{index}]\ntemplate = \"web.yml.hbs\"\n"
        ));
    }
    let desired = test_desired(&config, &[("db.txt", "secret-one\n"), ("web.yml.hbs", WEB)]);
    let apply = Graph::build(&offline(&desired, None)).expect("acyclic");
    let state = applied(&desired);
    let teardown = Graph::build(&destroy(&desired, &state)).expect("acyclic");
    (apply.graph.edge_count(), teardown.graph.edge_count())
}

// The graph grows with hosts + stacks, not hosts × stacks: doubling both about doubles the
// edges (it quadrupled them when each stack had an edge from each node, and the teardown
// order one from each earlier destroy).
#[test]
fn the_graph_grows_linearly_with_hosts_and_stacks() {
    let (apply_small, destroy_small) = edges(20);
    let (apply_large, destroy_large) = edges(40);
    assert!(
        apply_large * 10 <= apply_small * 22,
        "apply: {apply_small} edges for 20, {apply_large} for 40"
    );
    assert!(
        destroy_large * 10 <= destroy_small * 22,
        "destroy: {destroy_small} edges for 20, {destroy_large} for 40"
    );
}

// Targeting a stack keeps every node it waits for; `node.*` targets every node.
#[test]
fn a_targeted_stack_keeps_every_node_and_node_star_targets_them_all() {
    let desired = cluster(1, 2);
    let targeted = |target: &str| -> Vec<String> {
        plan(
            &desired,
            None,
            &Options {
                targets: vec![target.parse().expect("target")],
                ..Options::default()
            },
        )
        .expect("plan")
        .changes
        .iter()
        .map(|change| change.address.to_string())
        .collect()
    };
    let stack = targeted("stack.web");
    for address in ["node.m1", "node.w1", "node.w2", "swarm", "network.web"] {
        assert!(stack.contains(&address.to_owned()), "{address}: {stack:?}");
    }
    let nodes = targeted("node.*");
    for address in ["node.m1", "node.w1", "node.w2", "swarm"] {
        assert!(nodes.contains(&address.to_owned()), "{address}: {nodes:?}");
    }
    assert!(!nodes.contains(&"stack.web".to_owned()), "{nodes:?}");
}
