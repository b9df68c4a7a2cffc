//! Steps that wait for what they claim: drains that wait for the tasks to move and finish at
//! once when nothing runs there, deploys that fail as soon as Docker rejects every task for
//! good, and a failed deploy recorded as what exists.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use swarmform_sim::SimTiming;

use crate::support::{Test, progress_sorted};

const SECRET: &str = "s3cr3t-db-password-7f3a";

const WORKLOADS: &str = r#"
[networks.web]
subnet = "10.0.9.0/24"
attachable = true

[secrets.db]
file = "db.txt"

[stacks.web]
template = "web.yml.hbs"
vars = { replicas = 2 }
"#;

const WEB: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    deploy:\n      replicas: {{vars.replicas}}\n    networks: [web]\n    secrets: [db]\nnetworks:\n  web:\n    external: true\n    name: {{networks.web}}\nsecrets:\n  db:\n    external: true\n    name: {{secrets.db}}\n";

fn start(hosts: usize, managers: usize, workloads: &str) -> Test {
    Test::with_hosts(hosts, managers)
        .workloads(workloads)
        .file("db.txt", format!("{SECRET}\n"))
        .file("web.yml.hbs", WEB)
}

/// `swarmform ARGS` with each stderr line stamped with the seconds since it started.
fn timed(cluster: &Test, args: &[&str]) -> (Option<i32>, Vec<(f64, String)>) {
    let mut child = cluster
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let stderr = child.stderr.take().expect("stderr");
    let lines = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .map(|line| (started.elapsed().as_secs_f64(), line))
        .collect();
    let status = child.wait().expect("wait");
    (status.code(), lines)
}

/// Docker's own pace, scaled down: containers take 1.5 s to stop and 0.5 s to start, and a
/// node that left shows Ready for 3 s more (swarmkit waits three missed heartbeats).
const TIMING: SimTiming = SimTiming {
    stop: Duration::from_millis(1500),
    start: Duration::from_millis(500),
    heartbeat: Duration::from_secs(3),
};

/// The config with `line` added to `[hosts.HOST]`.
fn with_host_line(cluster: &Test, host: &str, line: &str) {
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    let header = format!("[hosts.{host}]\n");
    assert!(config.contains(&header), "{config}");
    cluster.write(
        "swarmform.toml",
        config.replacen(&header, &format!("{header}{line}\n"), 1),
    );
}

// Setting a host's availability to drain waits until its containers have stopped and the
// services run their replicas elsewhere: when the apply returns, nothing runs there, every
// replica runs, and the next plan has nothing to do.
#[test]
fn an_availability_drain_waits_for_the_tasks_to_run_elsewhere() {
    let cluster = start(3, 1, &WORKLOADS.replace("replicas = 2", "replicas = 3"));
    cluster.apply();
    let web = cluster.snapshot().swarms[0]
        .service("web_web")
        .expect("web_web")
        .clone();
    assert!(web.running_on().contains(&"node3".to_owned()), "{web:#?}");
    cluster.sim().docker_timing(TIMING);
    with_host_line(&cluster, "node3", "availability = \"drain\"");
    let applied = cluster.run(&["apply", "--auto-approve"]).success();
    let snapshot = cluster.snapshot();
    let swarm = &snapshot.swarms[0];
    let web = swarm.service("web_web").expect("web_web");
    let on_node3: Vec<_> = web
        .tasks
        .iter()
        .filter(|task| task.node.as_deref() == Some("node3") && task.state != "shutdown")
        .collect();
    assert!(
        on_node3.is_empty(),
        "still running on node3: {on_node3:#?}\n{}",
        applied.stderr()
    );
    assert_eq!(web.running, 3, "{web:#?}\n{}", applied.stderr());
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

/// The seconds each vertex of a run took, from its `done (N.Ns)` lines.
fn vertex_seconds(lines: &[(f64, String)]) -> Vec<(String, f64)> {
    lines
        .iter()
        .filter_map(|(_, line)| {
            let (vertex, rest) = line.split_once(": done (")?;
            let seconds = rest.strip_suffix("s)")?.parse().ok()?;
            Some((vertex.to_owned(), seconds))
        })
        .collect()
}

// A destroy after the stacks are gone: a node with nothing running is drained in two round
// trips, and its entry goes as soon as it has left, without waiting for the managers to miss
// its heartbeats.
#[test]
fn a_destroy_does_not_wait_for_empty_nodes() {
    let cluster = start(5, 3, WORKLOADS);
    cluster.apply();
    cluster.sim().docker_timing(TIMING);
    let (code, lines) = timed(&cluster, &["-v", "destroy", "--auto-approve"]);
    let text: Vec<String> = lines
        .iter()
        .map(|(at, line)| format!("{at:6.2} {line}"))
        .collect();
    let text = text.join("\n");
    assert_eq!(code, Some(0), "{text}");
    let total = lines.last().map_or(0.0, |(at, _)| *at);
    // The figures README quotes (`cargo test --test integration a_destroy_does_not_wait --
    // --nocapture`).
    eprintln!("destroy: {total:.2}s; {:?}", vertex_seconds(&lines));
    for (vertex, seconds) in vertex_seconds(&lines) {
        if vertex.starts_with("node.") {
            assert!(seconds < 1.0, "{vertex} took {seconds}s\n{text}");
        }
    }
    assert!(total < 5.0, "the destroy took {total}s\n{text}");
    // One `docker node ps` and the drain itself, for a node with no task.
    let commands = cluster.sim().commands("node1");
    let node_ps = commands
        .iter()
        .filter(|line| line.contains("node ps"))
        .count();
    assert!(node_ps <= 4, "{commands:#?}");
}

// A stack whose `docker stack deploy` failed (a secret it names does not exist) is not
// recorded as existing: the next plan creates it, with no "removed by hand" drift, and once
// the secret exists the apply deploys it.
#[test]
fn a_stack_whose_deploy_failed_is_planned_as_a_creation() {
    let cluster = start(
        3,
        1,
        &WORKLOADS.replace("[secrets.db]\nfile = \"db.txt\"\n", ""),
    )
    .file(
        "web.yml.hbs",
        WEB.replace("name: {{secrets.db}}", "name: db-missing"),
    );
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = failed.stderr();
    assert!(stderr.contains("secret not found: db-missing"), "{stderr}");
    cluster.redacted(|| insta::assert_snapshot!("failed_deploy", progress_sorted(&stderr)));
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let text = format!("{}{}", plan.stdout(), plan.stderr());
    assert!(!text.contains("removed by hand"), "{text}");
    assert!(text.contains("+ stack.web"), "{text}");
    cluster.redacted(|| {
        insta::assert_snapshot!("after_a_failed_deploy_plan", plan.stdout());
        insta::assert_snapshot!(plan.stderr(), @"");
    });
    cluster.by_hand(
        "node1",
        &["secret", "create", "db-missing", "/etc/hostname"],
    );
    cluster.apply();
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}
