//! The cost of a run per host, counted where the simulator receives it: round trips (exec
//! channels) and `docker` calls, for a first apply, a no-op plan and a daemon change, per
//! manager and per worker. The budgets are ARCHITECTURE.md's ("Round trips per host"): a
//! change that costs a host one more round trip fails here and says where.

use crate::support::Test;

/// The bench-anchors workload in small: daemon.json on every host, a swarm of one manager and
/// workers, three attachable overlay networks and two stacks.
const WORKLOAD: &str = r#"
[daemon.json]
log-driver = "json-file"
log-opts = { max-size = "10m", max-file = "3" }

[networks.front]
attachable = true

[networks.back]
attachable = true

[networks.mon]
attachable = true

[stacks.app]
compose = "app.yml"

[stacks.monitoring]
compose = "monitoring.yml"
"#;

const APP: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    networks: [front]\nnetworks:\n  front:\n    external: true\n";
const MONITORING: &str = "version: \"3.8\"\nservices:\n  agent:\n    image: local/busybox:1\n    deploy:\n      mode: global\n";

const HOSTS: usize = 4;
const NETWORKS: usize = 3;
const STACKS: usize = 2;

/// How many `docker` commands a command line runs (each simple command whose program is
/// `docker`).
fn docker_calls(line: &str) -> usize {
    line.split(['&', '|', ';'])
        .filter(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let program = match words.as_slice() {
                ["sudo", "-n", program, ..] => *program,
                [program, ..] => *program,
                [] => "",
            };
            program.trim_matches('\'') == "docker"
        })
        .count()
}

/// What one host received since `from`: round trips and docker calls, and the lines.
struct Cost {
    round_trips: usize,
    docker_calls: usize,
    lines: Vec<String>,
}

fn cost(test: &Test, host: &str, from: usize) -> Cost {
    let lines = test.commands(host)[from..].to_vec();
    Cost {
        round_trips: lines.len(),
        docker_calls: lines.iter().map(|line| docker_calls(line)).sum(),
        lines,
    }
}

fn within(cost: &Cost, round_trips: usize, docker_calls: usize, what: &str) {
    assert!(
        cost.round_trips <= round_trips && cost.docker_calls <= docker_calls,
        "{what}: {} round trips (budget {round_trips}) and {} docker calls (budget {docker_calls}):\n{:#?}",
        cost.round_trips,
        cost.docker_calls,
        cost.lines
    );
}

fn marks(test: &Test) -> Vec<usize> {
    (1..=HOSTS)
        .map(|index| test.commands_so_far(&format!("node{index}")))
        .collect()
}

// A first apply: a worker's facts, its files and dockerd's restart, and its join each take one
// round trip; the manager's work grows with what the swarm holds, not with retries of reads.
// A no-op plan reads a worker once; a daemon change writes and restarts a worker in one round
// trip more.
#[test]
fn each_host_costs_what_the_budget_says() {
    let test = Test::with_hosts(HOSTS, 1)
        .workloads(WORKLOAD)
        .file("app.yml", APP)
        .file("monitoring.yml", MONITORING);

    test.apply();
    // Facts, files + restart, init, a network each, the worker token, and per stack its
    // deploy and one poll of its services and their updates. Nothing per node: a node carries
    // no ownership label (which would be a `docker node update` per node on the manager).
    within(
        &cost(&test, "node1", 0),
        3 + NETWORKS + 1 + 3 * STACKS,
        // Calls: the facts' info and node list, none after the restart of a host in no
        // swarm, the init and its info, inspect or create per network, the token, per stack
        // the deploy and two reads.
        2 + 2 + 2 * NETWORKS + 1 + 3 * STACKS,
        "first apply, manager",
    );
    for worker in 2..=HOSTS {
        // Facts (docker info, no `docker node ls`, which fails on a worker), files + restart
        // (no `docker info`: the host is in no swarm, and the restart returns once dockerd
        // answers), the join (with `docker info --format {{.Swarm.NodeID}}` after it).
        within(
            &cost(&test, &format!("node{worker}"), 0),
            3,
            3,
            "first apply, worker",
        );
    }

    let before = marks(&test);
    test.run(&["plan", "--detailed-exitcode"]).success();
    // Facts (read before any worker's, with the node ids), then the cluster read ahead in two
    // round trips: every node inspected and the networks, secrets, configs, stacks and
    // services listed in one, the services inspected in the other. No `docker node ls` but
    // the facts' own.
    within(
        &cost(&test, "node1", before[0]),
        3,
        9,
        "no-op plan, manager",
    );
    let read = test.commands("node1")[before[0]..].join("\n");
    assert_eq!(read.matches("node ls").count(), 1, "{read}");
    for worker in 2..=HOSTS {
        within(
            &cost(&test, &format!("node{worker}"), before[worker - 1]),
            1,
            1,
            "no-op plan, worker",
        );
    }

    let config = std::fs::read_to_string(test.path("swarmform.toml")).expect("config");
    test.write(
        "swarmform.toml",
        config.replace("max-file = \"3\"", "max-file = \"4\""),
    );
    let before = marks(&test);
    test.apply();
    for worker in 2..=HOSTS {
        // Facts, then daemon.json written and dockerd restarted in one script.
        within(
            &cost(&test, &format!("node{worker}"), before[worker - 1]),
            2,
            2,
            "daemon change, worker",
        );
    }
    // The refresh (3), its own restart (autolock check, drain and its waits, the script, the
    // wait for a leader, put back: 9), and each worker drained and put back through it (6).
    within(
        &cost(&test, "node1", before[0]),
        3 + 9 + 6 * (HOSTS - 1),
        9 + 9 + 6 * (HOSTS - 1),
        "daemon change, manager",
    );
    test.run(&["plan", "--detailed-exitcode"]).success();
}

// The executor runs one vertex per host at a time and starts the longest chain first: on the
// bootstrap manager the daemon.json write and dockerd's restart (which the init and every join
// wait for) go right after the facts, before a file nothing waits for.
#[test]
fn the_bootstrap_managers_restart_goes_before_its_other_files() {
    let workload = format!(
        "{WORKLOAD}\n[files.notes]\npath = \"/srv/notes.txt\"\ncontent = \"x\\n\"\nhosts = [\"node1\"]\n"
    );
    let test = Test::with_hosts(HOSTS, 1)
        .workloads(&workload)
        .file("app.yml", APP)
        .file("monitoring.yml", MONITORING);
    test.apply();
    let commands = test.commands("node1");
    let restart = commands
        .iter()
        .position(|line| line.contains("systemctl restart docker"))
        .expect("a restart");
    let notes = commands
        .iter()
        .position(|line| line.contains("/srv/notes.txt"))
        .expect("the file written");
    assert_eq!(restart, 1, "{commands:#?}");
    assert!(restart < notes, "{commands:#?}");
}
