//! The live cluster is the truth: the swarm is found through any configured host, node ids are
//! read live (the bootstrap manager's too), ghost node entries are removed, and every plan that
//! changes membership says the fault tolerance before and after.

use std::time::Duration;

use swarmform_sim::ClusterSnapshot;

use crate::support::Test;

const WORKLOADS: &str = r#"
[networks.web]
subnet = "10.0.9.0/24"
"#;

/// The config without `[hosts.HOST]`'s table.
fn without_host(config: &str, host: &str) -> String {
    let start = config
        .find(&format!("[hosts.{host}]"))
        .unwrap_or_else(|| panic!("{host} in the config"));
    let end = config[start + 1..]
        .find("\n[")
        .map_or(config.len(), |offset| start + 1 + offset + 1);
    format!("{}{}", &config[..start], &config[end..])
}

fn remove_host(cluster: &Test, host: &str) {
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    cluster.write("swarmform.toml", without_host(&config, host));
}

/// The swarm's node entries as (hostname, manager, ready).
fn entries(snapshot: &ClusterSnapshot) -> Vec<(String, bool, bool)> {
    let swarm = snapshot.swarm().expect("one swarm");
    swarm
        .nodes
        .iter()
        .map(|node| {
            (
                node.hostname.clone(),
                node.role == "manager",
                node.state == "ready",
            )
        })
        .collect()
}

fn recorded(cluster: &Test, address: &str) -> Option<serde_json::Value> {
    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state JSON");
    state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["address"] == address)
        .cloned()
}

/// `text` with each ghost's node id (from `ghosts`, (id, hostname)) as `[ID of HOSTNAME]`.
fn ghosts_named(text: &str, ghosts: &[(String, String)]) -> String {
    ghosts.iter().fold(text.to_owned(), |text, (id, hostname)| {
        text.replace(id.as_str(), &format!("[ID of {hostname}]"))
    })
}

/// `text`, cut into pieces at `separator` (a plan's resource blocks, a refresh report's
/// lines), with each run of consecutive pieces about a ghost entry sorted: ghosts are ordered
/// by their node ids, which are random.
fn ghosts_sorted(text: &str, separator: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for piece in text.split(separator) {
        if piece.contains("node.ghost-") {
            run.push(piece);
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(piece);
    }
    run.sort_unstable();
    out.append(&mut run);
    out.join(separator)
}

// A kill while `docker swarm init` runs leaves `swarm` pending and no node recorded; the next
// plan finds the swarm through the configured hosts (no "no manager recorded" refusal) and the
// apply adopts it, so the cluster ends with one swarm and the plan after it is empty.
#[test]
fn a_kill_during_swarm_init_plans_forward() {
    let cluster = Test::with_hosts(3, 1).workloads(WORKLOADS);
    cluster.sim().delay("node1", Duration::from_millis(800));
    let mut child = cluster.spawn(&["apply", "--auto-approve"]);
    assert!(
        cluster.wait_for_command("node1", "swarm init"),
        "init started"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    cluster.sim().clear_faults("node1");
    let swarm = recorded(&cluster, "swarm").expect("swarm recorded");
    assert_eq!(swarm["pending"], true, "{swarm}");
    assert!(recorded(&cluster, "node.node1").is_none());

    cluster.run(&["plan"]).success();
    cluster.apply();
    let snapshot = cluster.snapshot();
    assert_eq!(snapshot.swarms.len(), 1, "{snapshot:#?}");
    assert_eq!(entries(&snapshot).len(), 3, "{snapshot:#?}");
    let node1 = recorded(&cluster, "node.node1").expect("node1 recorded");
    assert_eq!(
        node1["remote_id"].as_str(),
        snapshot
            .host("node1")
            .and_then(|host| host.node_id.as_deref()),
        "the bootstrap manager's node id is recorded"
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A kill while `docker swarm join` runs leaves the node on its way in (Docker says `pending`
// until it has its certificate and, as a manager, the Raft log; dockerd goes on without its
// client). The next apply waits for the join to settle and adopts the node it made: a second
// join would be refused ("This node is already part of a swarm", seen on the lab).
#[test]
fn a_kill_during_a_join_is_waited_for_and_its_node_adopted() {
    let cluster = Test::with_hosts(3, 2).workloads(WORKLOADS);
    cluster.sim().join_takes("node2", Duration::from_secs(3));
    let mut child = cluster.spawn(&["apply", "--auto-approve"]);
    assert!(
        cluster.wait_for_command("node2", "swarm join"),
        "the join started"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    cluster.apply();
    let joins = cluster
        .sim()
        .commands("node2")
        .iter()
        .filter(|line| line.contains("swarm join "))
        .count();
    assert_eq!(joins, 1, "one join, waited for and adopted");
    let snapshot = cluster.snapshot();
    let mut nodes = entries(&snapshot);
    nodes.sort();
    assert_eq!(
        nodes,
        vec![
            ("node1".to_owned(), true, true),
            ("node2".to_owned(), true, true),
            ("node3".to_owned(), false, true),
        ],
        "{snapshot:#?}"
    );
    let node2 = recorded(&cluster, "node.node2").expect("node2 recorded");
    assert_eq!(
        node2["remote_id"].as_str(),
        snapshot
            .host("node2")
            .and_then(|host| host.node_id.as_deref()),
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// The bootstrap manager, which ran `swarm init` and leads the swarm, is removed from the
// config: it is drained, demoted, leaves and is removed like any other manager, through a
// manager that stays; the swarm keeps a leader; the next plan is empty and destroy works.
#[test]
fn the_bootstrap_manager_and_leader_is_retired_like_any_manager() {
    let cluster = Test::with_hosts(4, 3).workloads(WORKLOADS);
    cluster.apply();
    let node1 = recorded(&cluster, "node.node1").expect("node1 recorded");
    assert!(
        node1["remote_id"].is_string(),
        "the bootstrap manager's id is recorded at init: {node1}"
    );
    assert_eq!(
        cluster
            .snapshot()
            .swarm()
            .and_then(|swarm| swarm.leader.clone()),
        Some("node1".to_owned())
    );

    remove_host(&cluster, "node1");
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains(
            "Fault tolerance: 3 managers → 2: the swarm tolerates 0 failures instead of 1."
        ),
        "{stdout}"
    );
    cluster.redacted(|| insta::assert_snapshot!("bootstrap_manager_removal_plan", stdout));
    cluster.apply();
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("the swarm");
    assert_eq!(swarm.nodes.len(), 3, "{swarm:#?}");
    assert_eq!(swarm.managers.len(), 2, "{swarm:#?}");
    assert!(swarm.leader.is_some(), "{swarm:#?}");
    assert!(snapshot.host("node1").expect("node1").swarm_id.is_none());
    assert!(recorded(&cluster, "node.node1").is_none());
    cluster.run(&["plan", "--detailed-exitcode"]).success();
    cluster
        .run(&["plan", "--detailed-exitcode", "--refresh=false"])
        .success();
    cluster
        .run(&["destroy", "--auto-approve", "--allow-quorum-loss"])
        .success();
    let snapshot = cluster.snapshot();
    assert!(snapshot.swarms.is_empty(), "{snapshot:#?}");
}

// A worker that left the swarm by hand and a manager that left it with `--force` leave Down
// entries behind; the plan shows them as ghosts (the manager's demoted first), rejoins both
// hosts, says the fault tolerance, and the cluster ends with exactly one entry per host.
#[test]
fn ghost_entries_are_removed_and_their_hosts_join_again() {
    let cluster = Test::with_hosts(4, 3).workloads(WORKLOADS);
    cluster.apply();
    cluster.by_hand("node4", &["swarm", "leave"]);
    cluster.by_hand("node3", &["swarm", "leave", "--force"]);
    let snapshot = cluster.snapshot();
    let before = entries(&snapshot);
    assert_eq!(before.len(), 4, "{before:?}");
    let ghosts: Vec<(String, String)> = snapshot
        .swarm()
        .expect("one swarm")
        .nodes
        .iter()
        .filter(|node| node.state == "down")
        .map(|node| (node.id.clone(), node.hostname.clone()))
        .collect();
    assert_eq!(ghosts.len(), 2, "{ghosts:?}");

    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains("the Down manager entry `node3`"),
        "{stdout}"
    );
    assert!(stdout.contains("the Down worker entry `node4`"), "{stdout}");
    assert!(
        stdout.contains("demoted, then removed with `docker node rm --force`"),
        "{stdout}"
    );
    let stderr = plan.stderr();
    assert!(
        stderr.contains("`node.node3`: `node3` is not a node of the swarm any more"),
        "{stderr}"
    );
    let plan_text = ghosts_sorted(&ghosts_named(&stdout, &ghosts), "\n\n");
    let refreshed = ghosts_sorted(&ghosts_named(&stderr, &ghosts), "\n");
    cluster.redacted(|| {
        insta::assert_snapshot!("ghost_entries_plan", plan_text);
        insta::assert_snapshot!("ghost_entries_refreshed", refreshed);
    });
    cluster.apply();
    let after = entries(&cluster.snapshot());
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(after.iter().all(|(_, _, ready)| *ready), "{after:?}");
    assert_eq!(
        after.iter().filter(|(_, manager, _)| *manager).count(),
        3,
        "{after:?}"
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A plan that forms a swarm of three managers says what it tolerates.
#[test]
fn a_membership_plan_says_the_fault_tolerance() {
    let cluster = Test::with_hosts(3, 3).workloads(WORKLOADS);
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains("Fault tolerance: 0 managers → 3: the swarm tolerates 1 failure."),
        "{stdout}"
    );
    cluster.redacted(|| insta::assert_snapshot!("three_managers_plan", stdout));
    let json = cluster.run(&["plan", "--json"]).success();
    let document: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    assert_eq!(document["managers"]["before"], 0);
    assert_eq!(document["managers"]["after"], 3);
    assert_eq!(document["managers"]["tolerates_after"], 1);
}

// A node carries the config's labels and nothing of swarmform's: it is found by the id its
// own dockerd reports, recorded in the state. Labels a version before 2026-12-04 put on nodes
// (`swarmform.address`, `swarmform.lineage`) are never drift and outlive a label change; a
// label added by hand is drift, and the next apply removes it.
#[test]
fn nodes_carry_only_their_configured_labels() {
    let cluster = Test::with_hosts(2, 1).workloads(WORKLOADS);
    cluster.apply();
    let labels = |host: &str| {
        cluster
            .snapshot()
            .host(host)
            .and_then(|host| host.node.clone())
            .expect("a node")
            .labels
    };
    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state JSON");
    for host in ["node1", "node2"] {
        assert!(
            labels(host)
                .keys()
                .all(|key| !key.starts_with("swarmform.")),
            "{host}: {:?}",
            labels(host)
        );
        let live = cluster
            .snapshot()
            .host(host)
            .and_then(|host| host.node.clone())
            .expect("a node")
            .id;
        let recorded = state["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|resource| resource["address"] == format!("node.{host}"))
            .and_then(|resource| resource["remote_id"].as_str())
            .map(str::to_owned);
        assert_eq!(recorded.as_deref(), Some(live.as_str()), "{host}");
    }

    cluster.by_hand(
        "node1",
        &[
            "node",
            "update",
            "--label-add",
            "swarmform.address=node.node2",
            "--label-add",
            "swarmform.lineage=older",
            "node2",
        ],
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();

    cluster.by_hand(
        "node1",
        &["node", "update", "--label-add", "by-hand=1", "node2"],
    );
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    assert!(plan.stdout().contains("node.node2"), "{}", plan.stdout());
    cluster.apply();
    let after = labels("node2");
    assert_eq!(after.get("by-hand"), None, "{after:?}");
    assert_eq!(
        after.get("swarmform.lineage").map(String::as_str),
        Some("older"),
        "{after:?}"
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A file swarmform wrote is read back by the refresh: removed by hand, the plan writes it again;
// changed by hand, the plan writes it back; a killed destroy that removed it converges too.
#[test]
fn files_are_read_back_from_their_hosts() {
    let cluster = Test::with_hosts(2, 1)
        .workloads("[files.motd]\npath = \"/etc/motd\"\ncontent = \"managed\\n\"\n");
    cluster.apply();
    let motd = |host: &str| {
        cluster
            .snapshot()
            .host(host)
            .and_then(|host| host.file("/etc/motd").map(|file| file.text()))
    };
    assert_eq!(motd("node2").as_deref(), Some("managed\n"));

    cluster
        .run(&["exec", "--hosts", "node2", "--", "rm", "-f", "/etc/motd"])
        .success();
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stderr = plan.stderr();
    assert!(
        stderr.contains("`file.motd[node2]`: /etc/motd is gone from `node2`"),
        "{stderr}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!(stderr, @"Drift: `file.motd[node2]`: /etc/motd is gone from `node2`");
        insta::assert_snapshot!("removed_file_plan", plan.stdout());
    });
    cluster.apply();
    assert_eq!(motd("node2").as_deref(), Some("managed\n"));

    cluster
        .run(&[
            "exec",
            "--hosts",
            "node1",
            "--",
            "sh",
            "-c",
            "echo edited > /etc/motd",
        ])
        .success();
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stderr = plan.stderr();
    assert!(
        stderr.contains("`file.motd[node1]`: /etc/motd was changed on `node1`"),
        "{stderr}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!(stderr, @"Drift: `file.motd[node1]`: /etc/motd was changed on `node1`");
        insta::assert_snapshot!("changed_file_plan", plan.stdout());
    });
    cluster.apply();
    assert_eq!(motd("node1").as_deref(), Some("managed\n"));
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}
