//! `swarmform plan`: offline plans in text, JSON and markdown; what each kind of change plans
//! (destroy, removed hosts, replacements, rotations, daemon restarts); `--target`;
//! `--detailed-exitcode`; saved plans; and that sensitive values never leak.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{SMALL, SMALL_COMPOSE, Test, redacted};

/// Three managers and a worker.
const THREE_MANAGERS: &str = r#"
[hosts.m1]
address = "192.0.2.21"
role = "manager"

[hosts.m2]
address = "192.0.2.22"
role = "manager"

[hosts.m3]
address = "192.0.2.23"
role = "manager"

[hosts.w1]
address = "192.0.2.24"
"#;

fn small() -> Test {
    Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("plan JSON does not parse: {error}\n{text}"))
}

/// `(address, action)` of every change in a JSON plan.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["address"].as_str().expect("address").to_owned(),
                change["action"].as_str().expect("action").to_owned(),
            )
        })
        .collect()
}

/// The `step` kinds of one change in a JSON plan.
fn step_kinds(plan: &Value, address: &str) -> Vec<String> {
    let change = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|change| change["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address}"));
    change["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["step"].as_str().expect("step").to_owned())
        .collect()
}

// The small cluster planned from nothing: every resource created, in address order, with its
// steps, then the notes and the summary.
#[test]
fn the_small_cluster_plans_as_text() {
    let run = small().run(&["plan", "--refresh=false"]).success();
    assert_eq!(run.stderr(), "");
    insta::assert_snapshot!("small_plan", run.stdout());
}

// The same plan as JSON: the documented top level, a summary, and one change per resource.
#[test]
fn the_small_cluster_plans_as_json() {
    let run = small()
        .run(&["plan", "--refresh=false", "--json"])
        .success();
    let plan = json(&run.stdout());
    assert_eq!(plan["format_version"], "1");
    assert_eq!(plan["mode"], "normal");
    assert_eq!(plan["refreshed"], false);
    assert_eq!(plan["state"], Value::Null);
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 9, "change": 0, "destroy": 0})
    );
    let expected: Vec<(String, String)> = [
        "engine.node1",
        "engine.node2",
        "engine.node3",
        "swarm",
        "node.node1",
        "node.node2",
        "node.node3",
        "network.web",
        "stack.web",
    ]
    .into_iter()
    .map(|address| (address.to_owned(), "create".to_owned()))
    .collect();
    assert_eq!(actions(&plan), expected);
    insta::assert_snapshot!("small_plan_json", run.stdout());
}

// The same plan as markdown, for a pull-request comment.
#[test]
fn the_small_cluster_plans_as_markdown() {
    let run = small()
        .run(&["plan", "--refresh=false", "--markdown"])
        .success();
    insta::assert_snapshot!("small_plan_markdown", run.stdout());
}

// `--detailed-exitcode` exits 2 when there are changes and 0 when there are none.
#[test]
fn detailed_exitcode_says_whether_there_are_changes() {
    small()
        .run(&["plan", "--refresh=false", "--detailed-exitcode"])
        .status(2);
    let run = small()
        .applied()
        .run(&["plan", "--refresh=false", "--detailed-exitcode"])
        .success();
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
}

// A plan right after an apply of the same config has nothing to do.
#[test]
fn a_plan_after_apply_has_no_changes() {
    let run = small()
        .applied()
        .run(&["plan", "--refresh=false"])
        .success();
    insta::assert_snapshot!(run.stdout(), @"
    No changes. The cluster matches the configuration.

    Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.
    ");
}

// The JSON of a plan against a state names that state's lineage and serial.
#[test]
fn a_json_plan_names_the_state_it_was_made_against() {
    let run = small()
        .applied()
        .run(&["plan", "--refresh=false", "--json"])
        .success();
    let plan = json(&run.stdout());
    assert_eq!(plan["state"]["serial"], 1);
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 0, "change": 0, "destroy": 0})
    );
    assert!(
        actions(&plan).iter().all(|(_, action)| action == "no_op"),
        "{plan}"
    );
    redacted(
        || insta::assert_snapshot!(plan["state"].to_string(), @r#"{"lineage":"[UUID]","serial":1}"#),
    );
}

// `--destroy` after an apply deletes everything: workers drain, leave and are removed, the last
// manager leaves with `--force`, with a warning that the swarm is destroyed.
#[test]
fn destroy_takes_the_cluster_apart() {
    let run = small()
        .applied()
        .run(&["plan", "--refresh=false", "--destroy"])
        .success();
    let stdout = run.stdout();
    assert!(
        stdout.starts_with("Warning: this plan destroys the swarm\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "        1. drain and wait until its tasks have moved (from node1)\n        2. docker swarm leave\n        3. docker node rm (from node1)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("      steps:\n        1. docker swarm leave --force\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Plan: 0 to add, 0 to change, 9 to destroy.\n"),
        "{stdout}"
    );
    insta::assert_snapshot!("destroy_plan", stdout);
}

/// Whether the DOT graph has a path of edges from `first` to `then`.
fn precedes(dot: &str, first: &str, then: &str) -> bool {
    let edges: Vec<(&str, &str)> = dot
        .lines()
        .filter_map(|line| {
            let (from, rest) = line.trim().strip_prefix('"')?.split_once("\" -> \"")?;
            Some((from, rest.split_once('"')?.0))
        })
        .collect();
    let mut reached = vec![first];
    let mut index = 0;
    while let Some(vertex) = reached.get(index).copied() {
        index += 1;
        for (from, to) in &edges {
            if *from == vertex && !reached.contains(to) {
                reached.push(to);
            }
        }
    }
    reached.contains(&then)
}

// A destroy plan runs in teardown order: the stack, then the network, then the workers, then
// the swarm (the last manager's `swarm leave --force`).
#[test]
fn destroy_runs_in_teardown_order() {
    let run = small().applied().run(&["graph", "--destroy"]).success();
    let dot = run.stdout();
    for (first, then) in [
        ("stack.web (destroy)", "network.web (destroy)"),
        ("network.web (destroy)", "node.node2 (destroy)"),
        ("network.web (destroy)", "node.node3 (destroy)"),
        ("node.node2 (destroy)", "swarm (destroy)"),
        ("node.node3 (destroy)", "swarm (destroy)"),
        ("node.node1 (destroy)", "swarm (destroy)"),
    ] {
        assert!(
            precedes(&dot, first, then),
            "no path {first} -> {then} in\n{dot}"
        );
    }
    insta::assert_snapshot!("destroy_graph", dot);
}

// Destroying three managers drains the worker and the other managers (demoting them) from the
// last manager, which leaves with the swarm.
#[test]
fn destroy_demotes_managers_from_the_last_one() {
    let test = Test::new().config(THREE_MANAGERS).applied();
    let run = test
        .run(&["plan", "--refresh=false", "--destroy", "--json"])
        .success();
    let plan = json(&run.stdout());
    assert_eq!(step_kinds(&plan, "node.w1"), ["drain", "leave", "node_rm"]);
    assert_eq!(
        step_kinds(&plan, "node.m2"),
        ["drain", "demote", "leave", "node_rm"]
    );
    assert_eq!(
        step_kinds(&plan, "node.m3"),
        ["drain", "demote", "leave", "node_rm"]
    );
    assert_eq!(step_kinds(&plan, "node.m1"), ["forget"]);
    assert_eq!(step_kinds(&plan, "swarm"), ["leave"]);
    let run = test.run(&["graph", "--destroy"]).success();
    let dot = run.stdout();
    assert!(dot.contains("  \"node.m2 (destroy)\" -> \"node.m3 (destroy)\" [label = \"one manager at a time\", style = \"dashed\"];\n"), "{dot}");
    insta::assert_snapshot!("three_managers_destroy_graph", dot);
}

// The last manager, from which the others are demoted, is removed from the state only after
// them: workers first, then the other managers one at a time, then the last manager.
#[test]
fn destroy_forgets_the_last_manager_last() {
    let test = Test::new().config(THREE_MANAGERS).applied();
    let run = test.run(&["graph", "--destroy"]).success();
    let dot = run.stdout();
    assert!(
        !dot.contains("\"node.m1 (destroy)\" -> \"node.m2 (destroy)\""),
        "{dot}"
    );
    assert!(dot.contains("  \"node.w1 (destroy)\" -> \"node.m2 (destroy)\" [label = \"workers first\", style = \"dashed\"];\n"), "{dot}");
    let position = |vertex: &str| {
        dot.find(&format!("  \"{vertex}\" [label"))
            .unwrap_or_else(|| panic!("no {vertex} in\n{dot}"))
    };
    assert!(
        position("node.m2 (destroy)") < position("node.m1 (destroy)"),
        "{dot}"
    );
    assert!(
        position("node.m3 (destroy)") < position("node.m1 (destroy)"),
        "{dot}"
    );
}

// `--destroy` with nothing applied has nothing to do.
#[test]
fn destroy_without_a_state_has_nothing_to_do() {
    let run = small()
        .run(&[
            "plan",
            "--refresh=false",
            "--destroy",
            "--detailed-exitcode",
        ])
        .success();
    insta::assert_snapshot!(run.stdout(), @"
    No changes. Nothing to destroy.

    Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.
    ");
}

// A worker removed from the config drains, leaves and is removed; its engine and daemon
// settings are forgotten (left on the host), and nothing else changes.
#[test]
fn a_removed_worker_drains_leaves_and_is_removed() {
    let with_daemon = format!("{SMALL}\n[daemon.json]\nlog-level = \"warn\"\n");
    let without = with_daemon.replace("[hosts.node3]\naddress = \"192.0.2.13\"\n", "");
    assert_ne!(without, with_daemon);
    let test = small().config(&with_daemon).applied().config(&without);
    let run = test.run(&["plan", "--refresh=false"]).success();
    insta::assert_snapshot!(run.stdout(), @r#"
    swarmform will perform the following actions:

      # engine.node3 will be destroyed
      - engine.node3 {
          - address  = "192.0.2.13" -> null
          - install  = "require" -> null
          - packages = ["docker.io"] -> null
          - ssh_port = 22 -> null
          steps:
            1. forget it in the state: the Docker engine stays installed
      }

      # daemon.node3 will be destroyed
      - daemon.node3 {
          - daemon_json:
            --- daemon_json (before)
            +++ daemon_json (after)
            @@ -1,3 +0,0 @@
            -{
            -  "log-level": "warn"
            -}
          steps:
            1. forget it in the state: daemon configuration is kept (`[daemon] on_destroy = "keep"`)
      }

      # node.node3 will be destroyed
      - node.node3 {
          - advertise_addr = "192.0.2.13" -> null
          - availability   = "active" -> null
          - labels         = {} -> null
          - role           = "worker" -> null
          steps:
            1. drain and wait until its tasks have moved (from node1)
            2. docker swarm leave
            3. docker node rm (from node1)
      }

    Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.

    Plan: 0 to add, 0 to change, 3 to destroy.
    "#);
    let run = test.run(&["graph"]).success();
    let dot = run.stdout();
    assert!(
        dot.contains("  \"node.node3 (destroy)\" -> \"daemon.node3 (destroy)\";\n"),
        "{dot}"
    );
    assert!(
        dot.contains("  \"node.node3 (destroy)\" -> \"engine.node3 (destroy)\";\n"),
        "{dot}"
    );
    insta::assert_snapshot!("removed_worker_graph", dot);
}

// A manager removed from three drains, is demoted, leaves and is removed, one step at a time.
#[test]
fn a_removed_manager_is_drained_demoted_and_removed() {
    let without = THREE_MANAGERS.replace(
        "[hosts.m3]\naddress = \"192.0.2.23\"\nrole = \"manager\"\n",
        "",
    );
    assert_ne!(without, THREE_MANAGERS);
    let test = Test::new()
        .config(THREE_MANAGERS)
        .applied()
        .config(&without);
    let run = test.run(&["plan", "--refresh=false", "--json"]).success();
    let plan = json(&run.stdout());
    let changed: Vec<(String, String)> = actions(&plan)
        .into_iter()
        .filter(|(_, action)| action != "no_op")
        .collect();
    assert_eq!(
        changed,
        [
            ("engine.m3".to_owned(), "delete".to_owned()),
            ("node.m3".to_owned(), "delete".to_owned())
        ]
    );
    assert_eq!(
        step_kinds(&plan, "node.m3"),
        ["drain", "demote", "leave", "node_rm"]
    );
    let run = test.run(&["plan", "--refresh=false"]).success();
    assert!(
        run.stdout().contains(
            "        1. drain and wait until its tasks have moved (from m1)\n        2. demote to worker (from m1)\n        3. docker swarm leave\n        4. docker node rm (from m1)\n"
        ),
        "{}",
        run.stdout()
    );
    insta::assert_snapshot!("removed_manager_plan", run.stdout());
}

/// SMALL plus a second network and a stack on it.
fn two_stacks() -> Test {
    let config = format!("{SMALL}\n[networks.other]\n\n[stacks.other]\ncompose = \"other.yml\"\n");
    let other = "services:\n  other:\n    image: local/other:1\n    networks: [other]\nnetworks:\n  other:\n    external: true\n";
    small().config(&config).file("other.yml", other)
}

// `--target stack.web` plans the stack and what it depends on, and nothing else.
#[test]
fn a_target_plans_the_stack_and_its_dependencies() {
    let test = two_stacks();
    let run = test
        .run(&["plan", "--refresh=false", "--json", "--target", "stack.web"])
        .success();
    let plan = json(&run.stdout());
    let addresses: Vec<String> = actions(&plan)
        .into_iter()
        .map(|(address, _)| address)
        .collect();
    assert_eq!(
        addresses,
        [
            "engine.node1",
            "engine.node2",
            "engine.node3",
            "swarm",
            "node.node1",
            "node.node2",
            "node.node3",
            "network.web",
            "stack.web"
        ]
    );
    assert_eq!(plan["targets"], serde_json::json!(["stack.web"]));
    let run = test
        .run(&["plan", "--refresh=false", "--target", "stack.web"])
        .success();
    assert!(
        run.stdout().ends_with(
            "Note: this plan is restricted to --target stack.web; the rest of the configuration was not planned.\n\nNote: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.\n\nPlan: 9 to add, 0 to change, 0 to destroy.\n"
        ),
        "{}",
        run.stdout()
    );
    insta::assert_snapshot!("targeted_plan", run.stdout());
}

// After an apply, a target leaves changes elsewhere unplanned.
#[test]
fn a_target_leaves_other_changes_alone() {
    let changed = "services:\n  other:\n    image: local/other:2\n    networks: [other]\nnetworks:\n  other:\n    external: true\n";
    let run = two_stacks()
        .applied()
        .file("other.yml", changed)
        .file("web.yml", SMALL_COMPOSE.replace("busybox:1", "busybox:2"))
        .run(&["plan", "--refresh=false", "--json", "--target", "stack.web"])
        .success();
    let plan = json(&run.stdout());
    let changed: Vec<(String, String)> = actions(&plan)
        .into_iter()
        .filter(|(_, action)| action != "no_op")
        .collect();
    assert_eq!(changed, [("stack.web".to_owned(), "update".to_owned())]);
}

// A target that is not an address is refused.
#[test]
fn a_malformed_target_is_an_error() {
    let run = small()
        .run(&["plan", "--refresh=false", "--target", "nonsense.x"])
        .failure();
    assert!(
        run.stderr().starts_with(
            "error: `nonsense.x` is not a resource address: expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack\n"
        ),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"error: `nonsense.x` is not a resource address: expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack");
}

// A target that matches nothing is refused, saying how to find the addresses.
#[test]
fn a_target_matching_nothing_is_an_error() {
    let run = small()
        .run(&["plan", "--refresh=false", "--target", "network.nope"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: no resource matches `--target network.nope`
    hint: run `swarmform state list` or `swarmform plan` to see the addresses
    ");
}

// A new subnet replaces the network, and the stack using it is removed first and deployed again.
#[test]
fn a_changed_subnet_replaces_the_network_and_its_stack() {
    let changed = SMALL.replace("10.0.9.0/24", "10.0.10.0/24");
    let run = small()
        .applied()
        .config(&changed)
        .run(&["plan", "--refresh=false"])
        .success();
    insta::assert_snapshot!(run.stdout(), @r#"
    swarmform will perform the following actions:

      # network.web will be replaced
      # (subnet forces replacement)
      # (`stack.web` is removed and deployed again because `network.web` is replaced)
      -/+ network.web {
          ~ subnet = "10.0.9.0/24" -> "10.0.10.0/24" # forces replacement
          # (5 unchanged attributes hidden)
          steps:
            1. docker network rm web (on node1)
            2. docker network create web (on node1)
      }

      # stack.web will be replaced
      # (`network.web` is replaced, so this stack is removed first and deployed again)
      -/+ stack.web {
          # (4 unchanged attributes hidden)
          steps:
            1. docker stack rm and wait for its tasks to stop (on node1)
            2. docker stack deploy and wait for its services to converge (on node1)
      }

    Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.

    Plan: 2 to add, 0 to change, 2 to destroy.
    "#);
}

/// SMALL plus a secret from a file and a stack whose template names it.
fn with_secret() -> Test {
    let config = format!(
        "{SMALL}\n[secrets.db]\nfile = \"db.txt\"\n\n[stacks.app]\ntemplate = \"app.yml.hbs\"\n"
    );
    let app = "version: \"3.8\"\nservices:\n  app:\n    image: local/app:1\n    secrets: [db]\nsecrets:\n  db:\n    external: true\n    name: {{secrets.db}}\n";
    small()
        .config(&config)
        .file("app.yml.hbs", app)
        .file("db.txt", "first password\n")
}

// A rotated secret is a new versioned secret, created before the old one is removed; the stack
// naming it through `{{secrets.db}}` is updated in between.
#[test]
fn a_rotated_secret_is_replaced_and_its_stack_updated() {
    let test = with_secret().applied().file("db.txt", "second password\n");
    let run = test.run(&["plan", "--refresh=false"]).success();
    let stdout = run.stdout();
    assert!(
        !stdout.contains("first password") && !stdout.contains("second password"),
        "{stdout}"
    );
    insta::assert_snapshot!(stdout, @r#"
    swarmform will perform the following actions:

      # secret.db will be replaced (the new one is created before the old one is destroyed)
      # (content, name force replacement)
      -/+ secret.db {
          ~ content = (sensitive) -> (sensitive) # forces replacement
          ~ name    = "db-0bbdd53b" -> "db-dd27fa61" # forces replacement
          # (1 unchanged attribute hidden)
          steps:
            1. docker secret create db-dd27fa61 (on node1)
            2. docker secret rm db-0bbdd53b (on node1)
      }

      # stack.app will be updated in place
      ~ stack.app {
          ~ compose:
            --- compose (before)
            +++ compose (after)
            @@ -6,4 +6,4 @@
             secrets:
               db:
                 external: true
            -    name: db-0bbdd53b
            +    name: db-dd27fa61
          # (3 unchanged attributes hidden)
          steps:
            1. docker stack deploy and wait for its services to converge (on node1)
      }

    Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.

    Plan: 1 to add, 1 to change, 1 to destroy.
    "#);
    let run = test.run(&["graph"]).success();
    let dot = run.stdout();
    for edge in [
        "\"secret.db\" -> \"secret.db (destroy)\" [label = \"replacement\", style = \"dashed\"];",
        "\"secret.db\" -> \"stack.app\";",
        "\"stack.app\" -> \"secret.db (destroy)\";",
    ] {
        assert!(dot.contains(edge), "missing {edge} in\n{dot}");
    }
    insta::assert_snapshot!("rotated_secret_graph", dot);
}

/// Three managers and their daemon.json.
fn three_managers_with_daemon_json(level: &str) -> String {
    let managers: String = THREE_MANAGERS
        .split("[hosts.w1]")
        .next()
        .expect("managers")
        .to_owned();
    format!("{managers}\n[daemon.json]\nlog-level = \"{level}\"\n")
}

// A daemon.json change on three managers warns that dockerd restarts on each, shows a unified
// diff, and restarts the managers one at a time.
#[test]
fn a_daemon_json_change_restarts_dockerd_one_manager_at_a_time() {
    let test = Test::new()
        .config(&three_managers_with_daemon_json("info"))
        .applied()
        .config(&three_managers_with_daemon_json("debug"));
    let run = test.run(&["plan", "--refresh=false"]).success();
    let stdout = run.stdout();
    assert!(
        stdout.starts_with("Warning: restarts dockerd on 3 hosts: m1, m2, m3\n"),
        "{stdout}"
    );
    insta::assert_snapshot!("daemon_json_change", stdout);
    let run = test.run(&["graph"]).success();
    let dot = run.stdout();
    assert!(dot.contains("\"daemon.m1\" -> \"daemon.m2\" [label = \"one restart at a time\", style = \"dashed\"];"), "{dot}");
    assert!(dot.contains("\"daemon.m2\" -> \"daemon.m3\" [label = \"one restart at a time\", style = \"dashed\"];"), "{dot}");
    insta::assert_snapshot!("daemon_json_change_graph", dot);
}

// A refreshing plan whose managers cannot be reached refuses, rather than take the swarm for
// gone, and says how to plan offline. (Closed loopback ports: nothing leaves this machine.)
#[test]
fn a_refreshing_plan_with_no_reachable_manager_is_refused() {
    let config = SMALL
        .replace(
            "address = \"192.0.2.11\"",
            "address = \"127.0.0.1\"\nssh = { port = 1 }",
        )
        .replace(
            "address = \"192.0.2.12\"",
            "address = \"127.0.0.1\"\nssh = { port = 2 }",
        )
        .replace(
            "address = \"192.0.2.13\"",
            "address = \"127.0.0.1\"\nssh = { port = 3 }",
        );
    let run = Test::new()
        .config(&config)
        .file("web.yml", SMALL_COMPOSE)
        .applied()
        .run(&["plan"])
        .failure();
    assert_eq!(run.stdout(), "");
    let stderr = run.stderr();
    assert!(
        stderr.starts_with(
            "error: no manager of the swarm could be reached (`node1`: connection refused)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: bring a manager back, or plan from the state file alone with `--refresh=false`"
        ),
        "{stderr}"
    );
    insta::assert_snapshot!(stderr, @"
    error: no manager of the swarm could be reached (`node1`: connection refused), so the live cluster cannot be read
    hint: bring a manager back, or plan from the state file alone with `--refresh=false`
    ");
}

// With no state there is nothing to refresh: a plain `plan` works.
#[test]
fn a_refreshing_plan_without_a_state_works() {
    let run = small().run(&["plan"]).success();
    assert!(
        run.stdout()
            .ends_with("Plan: 9 to add, 0 to change, 0 to destroy.\n"),
        "{}",
        run.stdout()
    );
}

// A plan the user did not pass `--refresh=false` to does not say they did.
#[test]
fn a_refreshing_plan_does_not_claim_refresh_false() {
    let run = small().run(&["plan"]).success();
    assert!(
        !run.stdout().contains("--refresh=false"),
        "{}",
        run.stdout()
    );
}

/// SMALL plus a sensitive variable rendered into a compose template.
fn with_sensitive_variable() -> Test {
    let config = format!(
        "{SMALL}\n[variables.db_password]\nsensitive = true\n\n[stacks.app]\ntemplate = \"app.yml.hbs\"\n"
    );
    let app = "services:\n  app:\n    image: local/app:1\n    environment:\n      DB_PASSWORD: \"{{var.db_password}}\"\n";
    small()
        .config(&config)
        .file("app.yml.hbs", app)
        .env("SWARMFORM_VAR_db_password", PASSWORD)
}

const PASSWORD: &str = "correct-horse-battery-staple-7731";

// A sensitive variable never appears in the text, JSON or markdown plan, the saved plan or the
// state file: `(sensitive)` stands in for it.
#[test]
fn a_sensitive_variable_never_appears() {
    let test = with_sensitive_variable();
    let run = test
        .run(&["plan", "--refresh=false", "-out", "saved.plan"])
        .success();
    let mut outputs = vec![
        ("text", run.stdout()),
        ("stderr", run.stderr()),
        ("saved plan", test.read("saved.plan")),
    ];
    let run = test.run(&["plan", "--refresh=false", "--json"]).success();
    outputs.push(("json", run.stdout()));
    let run = test
        .run(&["plan", "--refresh=false", "--markdown"])
        .success();
    outputs.push(("markdown", run.stdout()));
    let run = test.run(&["show", "saved.plan"]).success();
    outputs.push(("show", run.stdout()));
    for (name, text) in &outputs {
        assert!(
            !text.contains(PASSWORD),
            "{name} contains the password:\n{text}"
        );
    }
    for (name, text) in outputs.iter().filter(|(name, _)| *name != "stderr") {
        assert!(
            text.contains("(sensitive)"),
            "{name} does not say (sensitive):\n{text}"
        );
    }
    assert!(
        outputs[0]
            .1
            .contains("+      DB_PASSWORD: \"(sensitive)\"\n"),
        "{}",
        outputs[0].1
    );
}

// The state written after an apply, and rewritten by `state rm`, never holds a sensitive value.
#[test]
fn a_sensitive_variable_never_reaches_the_state() {
    let test = with_sensitive_variable().applied();
    let state = std::fs::read_to_string(test.state_path()).expect("state");
    assert!(!state.contains(PASSWORD), "{state}");
    test.run(&["state", "rm", "network.web"]).success();
    let state = test.read("swarmform.state.json");
    assert!(!state.contains(PASSWORD), "{state}");
    assert!(
        state.contains("DB_PASSWORD: \\\"(sensitive)\\\""),
        "{state}"
    );
    let run = test.run(&["state", "show", "stack.app"]).success();
    assert!(!run.stdout().contains(PASSWORD), "{}", run.stdout());
}

// A plan publishes no unsalted hash of a text holding a sensitive value (which would let anyone
// reading the plan test guesses of the password offline).
#[test]
fn a_sensitive_variable_leaves_no_hash_of_its_text() {
    let rendered = format!(
        "services:\n  app:\n    image: local/app:1\n    environment:\n      DB_PASSWORD: \"{PASSWORD}\"\n"
    );
    let hash = swarmform::hash::sha256_tagged(rendered.as_bytes());
    let test = with_sensitive_variable();
    let run = test.run(&["plan", "--refresh=false"]).success();
    assert!(!run.stdout().contains(&hash), "{}", run.stdout());
    let run = test.run(&["plan", "--refresh=false", "--json"]).success();
    assert!(!run.stdout().contains(&hash), "{}", run.stdout());
    let run = test
        .run(&["plan", "--refresh=false", "--markdown"])
        .success();
    assert!(!run.stdout().contains(&hash), "{}", run.stdout());
}

// A changed sensitive value is still a change (the stack is redeployed), shown without the value.
#[test]
fn a_changed_sensitive_variable_updates_its_stack() {
    let run = with_sensitive_variable()
        .applied()
        .env("SWARMFORM_VAR_db_password", "another-password-8842")
        .run(&["plan", "--refresh=false", "--json"])
        .success();
    assert!(
        !run.stdout().contains("another-password-8842"),
        "{}",
        run.stdout()
    );
    let plan = json(&run.stdout());
    let changed: Vec<(String, String)> = actions(&plan)
        .into_iter()
        .filter(|(_, action)| action != "no_op")
        .collect();
    assert_eq!(changed, [("stack.app".to_owned(), "update".to_owned())]);
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

// `-out FILE`, `-out=FILE` and `--out FILE` all save the plan, readable by its owner only, and
// `show FILE` prints the same plan text.
#[test]
fn every_spelling_of_out_saves_a_private_plan() {
    let run = small().run(&["plan", "--refresh=false"]).success();
    let text = run.stdout();
    for (args, file) in [
        (["-out", "a.plan"].as_slice(), "a.plan"),
        (["-out=b.plan"].as_slice(), "b.plan"),
        (["--out", "c.plan"].as_slice(), "c.plan"),
    ] {
        let mut all = vec!["plan", "--refresh=false"];
        all.extend_from_slice(args);
        let test = small();
        let saved = test.run(&all).success();
        assert_eq!(saved.stdout(), text);
        assert!(
            saved
                .stderr()
                .starts_with(&format!("Saved the plan to `{file}`.")),
            "{}",
            saved.stderr()
        );
        assert_eq!(mode(&test.path(file)), 0o600, "{file}");
        let shown = test.run(&["show", file]).success();
        assert_eq!(shown.stdout(), text, "{file}");
    }
}

// The hint printed after `-out FILE` names a command this swarmform has.
#[test]
fn the_saved_plan_hint_names_an_existing_command() {
    let test = small();
    let run = test
        .run(&["plan", "--refresh=false", "-out", "saved.plan"])
        .success();
    let stderr = run.stderr();
    let command = stderr
        .split("swarmform ")
        .nth(1)
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_default();
    let args: Vec<&str> = command.split(' ').collect();
    let run = test.run(&args);
    assert!(
        !run.stderr().contains("unrecognized subcommand"),
        "the hint was `{}`:\n{}",
        stderr.trim(),
        run.stderr()
    );
}

// `show --json FILE` prints the same JSON as `plan --json`.
#[test]
fn show_json_of_a_saved_plan_matches_plan_json() {
    let test = small()
        .applied()
        .file("web.yml", SMALL_COMPOSE.replace("busybox:1", "busybox:2"));
    let run = test
        .run(&["plan", "--refresh=false", "--json", "-out", "saved.plan"])
        .success();
    let planned = run.stdout();
    let run = test.run(&["show", "--json", "saved.plan"]).success();
    assert_eq!(run.stdout(), planned);
}

// `show` of a file that is not a saved plan says how to make one.
#[test]
fn show_of_a_file_that_is_not_a_plan_is_an_error() {
    let test = small().file("notes.json", "{\"hello\": 1}\n");
    let run = test.run(&["show", "notes.json"]).failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `notes.json` is not a swarmform plan file: it has no `"format": "swarmform-plan"`
    hint: make one with `swarmform plan -out notes.json`
    "#);
    let run = test.run(&["show", "swarmform.toml"]).failure();
    assert!(
        run.stderr()
            .starts_with("error: `swarmform.toml` is not a swarmform plan file: "),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"
    error: `swarmform.toml` is not a swarmform plan file: expected value at line 2 column 2
    hint: make one with `swarmform plan -out swarmform.toml`
    ");
}

// A plan takes the state lock and releases it: no lock file is left behind.
#[test]
fn a_plan_leaves_no_lock_behind() {
    let test = small().applied();
    test.run(&["plan", "--refresh=false"]).success();
    assert!(!test.path("swarmform.state.json.lock").exists());
}
