//! `apply`, `destroy`, `refresh` and `exec` through the real binary, against simulated Docker
//! hosts behind real SSH servers in this test process (`swarmform_sim`).

use std::process::Command;
use std::time::Duration;

use swarmform::state::StateFile;
use swarmform_sim::{ClusterSnapshot, SimHostSpec, SimOptions};

use crate::support::{Test, progress_sorted, with_filters};

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

/// `hosts` simulated hosts, the first `managers` of them managers, with a network, a secret and
/// a stack.
fn start(hosts: usize, managers: usize) -> Test {
    with_workloads(hosts, managers, WORKLOADS)
}

fn with_workloads(hosts: usize, managers: usize, workloads: &str) -> Test {
    with_options(SimOptions::with_hosts(hosts), managers, workloads)
}

/// The hosts of `options` with `workloads`, and the secret's file and the stack's template
/// [`WORKLOADS`] names.
fn with_options(options: SimOptions, managers: usize, workloads: &str) -> Test {
    Test::with_sim(options, managers)
        .workloads(workloads)
        .file("db.txt", format!("{SECRET}\n"))
        .file("web.yml.hbs", WEB)
}

/// The one swarm of the snapshot, checked to hold `nodes` nodes of which `managers` managers.
fn assert_swarm(snapshot: &ClusterSnapshot, nodes: usize, managers: usize) {
    assert_eq!(snapshot.swarms.len(), 1, "{snapshot:#?}");
    let swarm = &snapshot.swarms[0];
    assert_eq!(swarm.nodes.len(), nodes, "{swarm:#?}");
    assert_eq!(swarm.managers.len(), managers, "{swarm:#?}");
    assert!(
        swarm.nodes.iter().all(|node| node.state == "ready"),
        "{swarm:#?}"
    );
    let network = swarm
        .networks
        .iter()
        .find(|network| network.name == "web")
        .expect("network web");
    assert_eq!(network.subnet, "10.0.9.0/24");
    assert!(network.attachable);
    assert_eq!(swarm.secrets.len(), 1, "{swarm:#?}");
    assert!(swarm.secrets[0].name.starts_with("db-"), "{swarm:#?}");
    assert!(
        swarm.stacks.iter().any(|stack| stack.name == "web"),
        "{swarm:#?}"
    );
}

// Apply builds the whole cluster on 1, 3 and 5 hosts, and a second plan finds nothing to do.
#[test]
fn apply_builds_clusters_of_one_three_and_five_hosts() {
    for (hosts, managers) in [(1, 1), (3, 1), (5, 3)] {
        let cluster = start(hosts, managers);
        let applied = cluster.run(&["apply", "--auto-approve"]).success();
        let stderr = progress_sorted(&applied.stderr());
        assert!(stderr.contains("Apply complete!"), "{stderr}");
        cluster.redacted(|| insta::assert_snapshot!(format!("apply_{hosts}_hosts"), stderr));
        assert_swarm(&cluster.snapshot(), hosts, managers);
        let again = cluster.run(&["plan", "--detailed-exitcode"]).success();
        assert!(
            again.stdout().starts_with("No changes."),
            "{}",
            again.stdout()
        );
        cluster.redacted(|| {
            insta::assert_snapshot!(format!("no_changes_on_{hosts}_hosts"), again.stdout())
        });
    }
}

// Hosts without Docker get Debian's docker.io when the config allows it, and a login user
// other than root (it runs everything through sudo) joins the docker group.
#[test]
fn bare_hosts_get_docker_and_a_non_root_user_joins_the_docker_group() {
    let options = SimOptions {
        hosts: ["node1", "node2"]
            .into_iter()
            .map(|name| SimHostSpec::new(name).without_docker())
            .collect(),
    };
    let cluster = with_options(options, 1, "[engine]\ninstall = \"if-missing\"\n");
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    cluster.write(
        "swarmform.toml",
        config.replace("user = \"root\"", "user = \"pi\""),
    );
    let plan = cluster.run(&["plan"]).success();
    assert!(
        plan.stdout()
            .contains("install docker.io from the distribution's packages"),
        "{}",
        plan.stdout()
    );
    cluster.redacted(|| insta::assert_snapshot!("bare_hosts_plan", plan.stdout()));
    cluster.run(&["apply", "--auto-approve"]).success();
    let snapshot = cluster.snapshot();
    for name in ["node1", "node2"] {
        let host = snapshot.host(name).expect("host");
        assert!(host.docker_installed && host.dockerd_running, "{host:#?}");
        assert_eq!(host.docker_group, vec!["pi".to_owned()], "{name}");
    }
    assert!(
        cluster
            .sim()
            .commands("node1")
            .iter()
            .any(|line| line.starts_with("sudo -n")),
        "a non-root login runs its commands through sudo"
    );
    assert_eq!(snapshot.swarms[0].nodes.len(), 2);
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A failing join fails that node alone; what does not depend on it is applied, what does is
// skipped, the state records exactly what happened, and a second apply finishes the job.
#[test]
fn a_failure_skips_only_its_dependents_and_a_reapply_finishes() {
    let cluster = start(3, 1);
    cluster.sim().fail(
        "node3",
        "swarm join",
        1,
        "Error response from daemon: rpc error: code = Unavailable desc = connection error",
    );
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = failed.stderr();
    assert_eq!(
        stderr.matches("rpc error: code = Unavailable").count(),
        2,
        "the cause: once live, once in the summary\n{stderr}"
    );
    assert!(
        stderr.contains("stack.web: skipped, because node.node3 failed"),
        "{stderr}"
    );
    cluster.redacted(|| insta::assert_snapshot!("a_failed_join", progress_sorted(&stderr)));
    let state = cluster.state_text();
    assert!(state.contains("\"node.node2\""), "{state}");
    assert!(state.contains("\"network.web\""), "{state}");
    assert!(!state.contains("\"stack.web\""), "{state}");
    let node3 = state.find("\"node.node3\"");
    assert!(
        node3.is_none() || state.contains("\"pending\": true"),
        "node3 is absent or pending\n{state}"
    );
    let snapshot = cluster.snapshot();
    assert_eq!(snapshot.swarms[0].nodes.len(), 2);

    cluster.sim().clear_faults("node3");
    cluster.run(&["apply", "--auto-approve"]).success();
    assert_swarm(&cluster.snapshot(), 3, 1);
}

// swarmform killed with SIGKILL in the middle of an apply leaves a state the next apply
// converges from: no duplicate node, no second swarm.
#[test]
fn a_killed_apply_converges_on_the_next_one() {
    let cluster = start(3, 1);
    cluster.sim().delay("node2", Duration::from_millis(400));
    let mut child = cluster.spawn(&["apply", "--auto-approve"]);
    assert!(
        cluster.wait_for_command("node2", "swarm join"),
        "the apply reached node2's join"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    cluster.sim().clear_faults("node2");
    let state = cluster.state_text();
    serde_json::from_str::<serde_json::Value>(&state)
        .expect("the state is valid JSON after the kill");

    cluster.run(&["apply", "--auto-approve"]).success();
    assert_swarm(&cluster.snapshot(), 3, 1);
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A second apply while one holds the state lock is refused with who holds it.
#[test]
fn a_concurrent_apply_is_refused_by_the_lock() {
    let cluster = start(1, 1);
    let file = StateFile::new(cluster.path("swarmform.state.json"));
    let guard = file.lock("apply", Duration::ZERO).expect("hold the lock");
    let refused = cluster.run(&["apply", "--auto-approve"]).failure();
    assert!(
        refused.stderr().contains("is locked by"),
        "{}",
        refused.stderr()
    );
    cluster.redacted(|| insta::assert_snapshot!(refused.stderr(), @"error: the state file `swarmform.state.json` is locked by [WHO] (lock id `[UUID]`, operation `apply`, pid [PID], since [TIME]); wait for it to finish, or if that process is gone, run `swarmform force-unlock [UUID]`"));
    assert!(
        refused
            .stderr()
            .contains(&format!("swarmform force-unlock {}", guard.info().id)),
        "{}",
        refused.stderr()
    );
    assert!(cluster.snapshot().swarms.is_empty(), "nothing was done");
}

// A host whose key changed since it was trusted is refused, naming both fingerprints.
#[test]
fn a_changed_host_key_is_refused() {
    let cluster = start(1, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    let before = cluster.sim().hosts()[0].host_key_fingerprint.clone();
    cluster.block_on(cluster.sim().change_host_key("node1"));
    let after = cluster.sim().hosts()[0].host_key_fingerprint.clone();
    assert_ne!(before, after);
    let refused = cluster.run(&["plan"]).failure();
    let stderr = refused.stderr();
    assert!(stderr.contains("node1"), "{stderr}");
    assert!(
        stderr.contains(&before) && stderr.contains(&after),
        "{stderr}"
    );
    let stderr = stderr
        .replace(&before, "[TRUSTED KEY]")
        .replace(&after, "[NEW KEY]");
    cluster.redacted(|| insta::assert_snapshot!(stderr, @"
    error: the ssh-ed25519 host key of `node1` changed: `[TEMP]/sim/known_hosts` records [TRUSTED KEY], the host offered [NEW KEY]
    hint: someone may be intercepting the connection; if the host was reinstalled, remove the old key with `ssh-keygen -R '[127.0.1.1]:[PORT]' -f [TEMP]/sim/known_hosts`, then connect again
    "));
}

// Under the strict policy a host missing from known_hosts is refused with its fingerprint.
#[test]
fn an_unknown_host_key_is_refused_under_strict() {
    let cluster = start(2, 1);
    let node2 = cluster.sim().hosts()[1].clone();
    let known = std::fs::read_to_string(cluster.sim().known_hosts_file()).expect("known_hosts");
    let without: String = known
        .lines()
        .filter(|line| !line.contains(&node2.address.to_string()))
        .map(|line| format!("{line}\n"))
        .collect();
    cluster.write("partial_known_hosts", &without);
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    let config = config.replace(
        &cluster.sim().known_hosts_file().display().to_string(),
        &cluster.path("partial_known_hosts").display().to_string(),
    );
    cluster.write("swarmform.toml", &config);
    let refused = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = refused.stderr();
    assert!(stderr.contains(&node2.host_key_fingerprint), "{stderr}");
    assert!(stderr.contains("node2"), "{stderr}");
    let stderr = stderr.replace(&node2.host_key_fingerprint, "[KEY]");
    cluster.redacted(|| insta::assert_snapshot!(stderr, @r#"
    error: `node2` offered an unknown ssh-ed25519 host key [KEY], and the host key policy is strict
    hint: compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host, then record it with `ssh-keyscan -p [PORT] -t ed25519 127.0.1.2 >> [TEMP]/partial_known_hosts`, or set host_key_policy = "accept-new" under [ssh] to record it on first contact
    "#));
}

// No secret reaches stdout, stderr (even with -v) or the state: not the secret's content, not
// the join tokens.
#[test]
fn secrets_never_reach_output_or_state() {
    let cluster = start(3, 1);
    let applied = cluster.run(&["apply", "--auto-approve", "-v"]).success();
    let snapshot = cluster.snapshot();
    let swarm = &snapshot.swarms[0];
    let outputs = format!(
        "{}{}{}",
        applied.stdout(),
        applied.stderr(),
        cluster.state_text()
    );
    assert!(
        applied
            .stderr()
            .contains("docker swarm join --token (sensitive)"),
        "-v shows commands, redacted"
    );
    for secret in [
        SECRET,
        swarm.worker_token.as_str(),
        swarm.manager_token.as_str(),
    ] {
        assert!(!outputs.contains(secret), "`{secret}` leaked");
    }
}

// Destroy takes everything apart: every node leaves, nothing swarmform made remains, and the
// state is empty.
#[test]
fn destroy_takes_the_cluster_apart() {
    let cluster = start(5, 3);
    cluster.run(&["apply", "--auto-approve"]).success();
    let destroyed = cluster.run(&["destroy", "--auto-approve"]).success();
    let stderr = progress_sorted(&destroyed.stderr());
    assert!(stderr.contains("Destroy complete!"), "{stderr}");
    cluster.redacted(|| insta::assert_snapshot!("destroy_5_hosts", stderr));
    let snapshot = cluster.snapshot();
    assert!(
        snapshot.hosts.values().all(|host| host.swarm_id.is_none()),
        "{snapshot:#?}"
    );
    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    assert_eq!(state["resources"], serde_json::json!([]), "{state}");
}

// A change made by hand is noticed by refresh and planned back to the config.
#[test]
fn drift_is_planned_back_to_the_config() {
    let cluster = start(3, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster
        .run(&[
            "exec",
            "--hosts",
            "node1",
            "--",
            "docker",
            "node",
            "update",
            "--availability",
            "drain",
            "node2",
        ])
        .success();
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    assert!(
        plan.stdout()
            .contains("~ availability = \"drain\" -> \"active\""),
        "{}",
        plan.stdout()
    );
    cluster.redacted(|| insta::assert_snapshot!("drift_plan", plan.stdout()));
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// exec runs one command on the selected hosts and prints each host's output under its name.
#[test]
fn exec_groups_output_per_host() {
    let cluster = start(3, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    let listed = cluster
        .run(&[
            "exec",
            "--role",
            "manager",
            "--",
            "docker",
            "node",
            "ls",
            "--format",
            "{{.Hostname}}",
        ])
        .success();
    let stdout = listed.stdout();
    assert!(stdout.starts_with("== node1 (exit 0)\n"), "{stdout}");
    assert!(!stdout.contains("== node2"), "{stdout}");
    insta::assert_snapshot!(stdout, @"
    == node1 (exit 0)
    node1
    node2
    node3
    ");
}

// A saved plan is applied exactly, and refused once the state moved on.
#[test]
fn a_saved_plan_applies_once() {
    let cluster = start(1, 1);
    cluster.run(&["plan", "-out", "first.plan"]).success();
    cluster.run(&["plan", "-out", "second.plan"]).success();
    cluster.run(&["apply", "first.plan"]).success();
    let stale = cluster.run(&["apply", "second.plan"]).failure();
    assert!(
        stale
            .stderr()
            .contains("the saved plan was made against state serial 0"),
        "{}",
        stale.stderr()
    );
    // How many times the first apply wrote the state depends on how its steps interleaved.
    let serial = [(r"is now serial \d+", "is now serial [SERIAL]")];
    cluster.redacted(|| with_filters(&serial, || insta::assert_snapshot!(stale.stderr(), @"
    error: the saved plan was made against state serial 0 (lineage ), but the state is now serial [SERIAL] (lineage [UUID]): something was applied since
    hint: run `swarmform plan -out FILE` again and review the new plan
    ")));
}

// Ctrl-C stops scheduling, lets running steps finish, saves the state and exits 130; the next
// apply finishes the job.
#[test]
fn an_interrupted_apply_saves_and_exits_130() {
    let cluster = start(3, 1);
    cluster.sim().delay("node2", Duration::from_millis(300));
    let child = cluster.spawn(&["apply", "--auto-approve"]);
    assert!(
        cluster.wait_for_command("node2", "swarm join"),
        "the apply reached node2's join"
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130));
    let state: serde_json::Value =
        serde_json::from_str(&cluster.state_text()).expect("saved state");
    let addresses: Vec<&str> = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|resource| resource["address"].as_str())
        .collect();
    assert!(addresses.contains(&"swarm"), "{addresses:?}");
    assert!(
        !addresses.contains(&"stack.web"),
        "nothing new started after Ctrl-C: {addresses:?}"
    );
    cluster.sim().clear_faults("node2");
    cluster.run(&["apply", "--auto-approve"]).success();
    assert_swarm(&cluster.snapshot(), 3, 1);
}

// Without --auto-approve, apply asks; anything but `yes` changes nothing.
#[test]
fn apply_asks_for_yes() {
    let cluster = start(1, 1);
    let refused = cluster.swarmform(&["apply"]).stdin("no\n").run();
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused
            .stderr()
            .contains("nothing was applied: the answer was not `yes`")
    );
    cluster.redacted(|| {
        insta::assert_snapshot!(refused.stderr(), @"
    Do you want to perform these actions?
      swarmform will perform the actions described above.
      Only 'yes' will be accepted to approve.

      Enter a value: 
    error: nothing was applied: the answer was not `yes`
    ")
    });
    assert!(cluster.snapshot().swarms.is_empty());

    let approved = cluster.swarmform(&["apply"]).stdin("yes\n").run();
    assert_eq!(approved.code(), Some(0), "{}", approved.stderr());
    assert_eq!(cluster.snapshot().swarms.len(), 1);
}

// The transport's debug logs (RUST_LOG=debug) carry no secret either.
#[test]
fn debug_logs_carry_no_secret() {
    let cluster = start(2, 1);
    let output = cluster
        .swarmform(&["apply", "--auto-approve"])
        .env("RUST_LOG", "debug")
        .run();
    assert_eq!(output.code(), Some(0), "{}", output.stderr());
    let logs = format!("{}{}", output.stdout(), output.stderr());
    let snapshot = cluster.snapshot();
    let swarm = &snapshot.swarms[0];
    for secret in [
        SECRET,
        swarm.worker_token.as_str(),
        swarm.manager_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "`{secret}` leaked into the logs");
    }
}

// `refresh` records a change made by hand in the state and says what it found.
#[test]
fn refresh_records_drift_in_the_state() {
    let cluster = start(2, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster
        .run(&[
            "exec",
            "--hosts",
            "node1",
            "--",
            "docker",
            "node",
            "update",
            "--label-add",
            "zone=b",
            "node2",
        ])
        .success();
    let refreshed = cluster.run(&["refresh"]).success();
    assert!(
        refreshed.stderr().contains(
            "Drift: `node.node2`: labels is {\"zone\":\"b\"} on the cluster, {} in the state"
        ),
        "{}",
        refreshed.stderr()
    );
    assert!(
        cluster.state_text().contains("\"zone\": \"b\""),
        "{}",
        cluster.state_text()
    );
    cluster.redacted(|| insta::assert_snapshot!(refreshed.stderr(), @r#"
    Drift: `node.node2`: labels is {"zone":"b"} on the cluster, {} in the state
    Updated the state with 1 difference; `swarmform plan` shows how to bring the cluster back to the config.
    "#));
    let again = cluster.run(&["refresh"]).success();
    assert!(
        again.stderr().contains("The state matches the cluster."),
        "{}",
        again.stderr()
    );
    cluster.redacted(|| insta::assert_snapshot!(again.stderr(), @"The state matches the cluster."));
}

// An autolocked swarm: the unlock key goes to `unlock_key_file` (0600) and nowhere else, and a
// daemon.json change restarts each manager's dockerd, which comes back locked and is unlocked
// with the key read live before the restart, one manager at a time.
#[test]
fn an_autolocked_swarm_keeps_its_key_in_the_file_and_survives_manager_restarts() {
    let workloads = "[swarm]\nautolock = true\nunlock_key_file = \"keys/unlock.key\"\n";
    let cluster = with_workloads(3, 3, workloads);
    std::fs::create_dir(cluster.path("keys")).expect("keys folder");
    let applied = cluster.run(&["apply", "--auto-approve"]).success();
    let key_file = cluster.path("keys/unlock.key");
    let key = std::fs::read_to_string(&key_file).expect("the key file");
    let key = key.trim();
    assert!(key.starts_with("SWMKEY-1-"), "{key}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        applied.stderr().contains("Its unlock key was written to"),
        "{}",
        applied.stderr()
    );

    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    cluster.write(
        "swarmform.toml",
        format!("{config}\n[daemon.json]\nlog-level = \"warn\"\n"),
    );
    let restarted = cluster.run(&["apply", "--auto-approve", "-v"]).success();
    for host in ["node1", "node2", "node3"] {
        let commands = cluster.sim().commands(host);
        let restart = commands
            .iter()
            .position(|line| line.contains("systemctl restart docker"))
            .unwrap_or_else(|| panic!("{host} restarted dockerd: {commands:#?}"));
        assert!(
            commands[restart..]
                .iter()
                .any(|line| line.contains("docker swarm unlock")),
            "{host} was unlocked after its restart: {commands:#?}"
        );
    }
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("the swarm");
    assert!(
        swarm.nodes.iter().all(|node| node.state == "ready"),
        "{swarm:#?}"
    );
    for text in [
        applied.stdout(),
        applied.stderr(),
        restarted.stdout(),
        restarted.stderr(),
        cluster.state_text(),
    ] {
        assert!(!text.contains(key), "the unlock key leaked:\n{text}");
    }
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// Without `unlock_key_file` the key is shown only on a terminal: a piped stderr (a CI log) gets
// the way to read it instead.
#[test]
fn an_unlock_key_is_never_printed_into_a_log() {
    let cluster = with_workloads(1, 1, "[swarm]\nautolock = true\n");
    let applied = cluster.run(&["apply", "--auto-approve"]).success();
    assert!(
        applied
            .stderr()
            .contains("Its unlock key is not printed because stderr is not a terminal"),
        "{}",
        applied.stderr()
    );
    assert!(
        !applied.stderr().contains("SWMKEY-1-"),
        "{}",
        applied.stderr()
    );
    cluster.redacted(|| {
        insta::assert_snapshot!(
            "an_unlock_key_not_printed",
            progress_sorted(&applied.stderr())
        )
    });
    assert!(!cluster.state_text().contains("SWMKEY-1-"));
}

// A daemon.json change restarts dockerd node by node: each node in the swarm is drained first
// (its tasks stop cleanly and run elsewhere) and set active again once it is ready; managers one
// at a time, then the workers.
#[test]
fn dockerd_restarts_drain_each_node_and_reactivate_it() {
    let cluster = start(3, 1);
    cluster.run(&["apply", "--auto-approve"]).success();

    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    cluster.write(
        "swarmform.toml",
        format!("{config}\n[daemon.json]\nlog-level = \"warn\"\n"),
    );
    cluster.run(&["apply", "--auto-approve"]).success();
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("the swarm");
    let manager_commands = cluster.sim().commands("node1");
    for node in &swarm.nodes {
        let drained = manager_commands
            .iter()
            .position(|line| {
                line.contains(&format!("node update --availability drain {}", node.id))
            })
            .unwrap_or_else(|| panic!("{} drained: {manager_commands:#?}", node.hostname));
        assert!(
            manager_commands[drained..].iter().any(
                |line| line.contains(&format!("node update --availability active {}", node.id))
            ),
            "{} set active again",
            node.hostname
        );
        assert_eq!(node.availability, "active", "{node:#?}");
    }
    let web = swarm.service("web_web").expect("the web service");
    assert_eq!(web.running_on().len(), 2, "{web:#?}");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// systemd allows docker.service 3 starts in 60 s (Debian's unit, Docker 20.10 to 28): four
// daemon.json changes applied one after another restart each host four times within seconds,
// and every restart resets that limit first, so the fourth is not refused with "start of the
// service was attempted too often" and dockerd is never left stopped (seen on the lab, where
// Docker 28 applies fast enough to hit it).
#[test]
fn daemon_changes_in_a_row_are_not_stopped_by_systemds_start_limit() {
    let cluster = start(2, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    for level in ["warn", "error", "info", "debug"] {
        cluster.write(
            "swarmform.toml",
            format!("{config}\n[daemon.json]\nlog-level = \"{level}\"\n"),
        );
        cluster.run(&["apply", "--auto-approve"]).success();
    }
    let snapshot = cluster.snapshot();
    for name in ["node1", "node2"] {
        let host = snapshot.host(name).expect("host");
        assert!(host.dockerd_running, "{name}");
        assert!(
            host.daemon_config.contains("\"log-level\":\"debug\""),
            "{name}: {}",
            host.daemon_config
        );
        let restarts = cluster
            .sim()
            .commands(name)
            .iter()
            .filter(|line| line.contains("systemctl restart docker"))
            .count();
        assert!(restarts >= 4, "{name}: {restarts} restarts");
    }
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// `tls = { generate = true }`: swarmform makes a CA, a server certificate per host and a client
// certificate, keeps the keys in 0600 files next to the config, uploads each host's files, and
// keeps only hashes in the state; a second plan makes nothing again.
#[test]
fn a_generated_ca_secures_the_tcp_api_of_every_host() {
    let cluster = with_workloads(
        2,
        1,
        "[daemon]\non_destroy = \"revert\"\n\n[daemon.tcp]\ntls = { generate = true }\n",
    );
    let applied = cluster.run(&["apply", "--auto-approve"]).success();
    let tls = cluster.path(".swarmform/tls");
    let state = cluster.state_text();
    let snapshot = cluster.snapshot();
    for host in ["node1", "node2"] {
        let local_key = std::fs::read(tls.join(format!("hosts/{host}/key.pem"))).expect("key");
        let remote = snapshot.host(host).expect("host");
        let key = remote
            .file("/etc/docker/swarmform-tls/key.pem")
            .expect("the key on the host");
        assert_eq!(key.content, local_key);
        assert_eq!(key.mode & 0o777, 0o600);
        let ca = remote.file("/etc/docker/swarmform-tls/ca.pem").expect("ca");
        assert_eq!(
            ca.content,
            std::fs::read(tls.join("ca.pem")).expect("ca.pem")
        );
        assert!(
            remote.daemon_config.contains("\"tlsverify\":true"),
            "{}",
            remote.daemon_config
        );
        let drop_in = remote
            .file("/etc/systemd/system/docker.service.d/swarmform.conf")
            .expect("drop-in")
            .text();
        assert!(drop_in.contains("-H tcp://0.0.0.0:2376"), "{drop_in}");
    }
    for key in ["ca-key.pem", "client/key.pem"] {
        assert!(tls.join(key).exists(), "{key}");
    }
    for text in [applied.stdout(), applied.stderr(), state] {
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key leaked:\n{text}"
        );
    }
    cluster.run(&["plan", "--detailed-exitcode"]).success();
    // Reverted on destroy: the TLS files go with daemon.json and the drop-in.
    cluster.run(&["destroy", "--auto-approve"]).success();
    let snapshot = cluster.snapshot();
    for host in ["node1", "node2"] {
        let remote = snapshot.host(host).expect("host");
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            let path = format!("/etc/docker/swarmform-tls/{file}");
            assert!(remote.file(&path).is_none(), "{host}: {path} left");
        }
    }
}

// A host that cannot be reached any more is removed from the config: the plan says so and
// takes the `docker node rm --force` path from a surviving manager (no drain, no leave); its
// engine and daemon configuration are only forgotten.
#[test]
fn an_unreachable_removed_host_is_forced_out_of_the_swarm() {
    let cluster = start(3, 1);
    cluster.run(&["apply", "--auto-approve"]).success();
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    let start = config.find("[hosts.node3]").expect("node3 in the config");
    let end = config[start + 1..]
        .find("\n[")
        .map_or(config.len(), |offset| start + 1 + offset);
    cluster.write(
        "swarmform.toml",
        format!("{}{}", &config[..start], &config[end..]),
    );
    // The host is gone: its recorded address answers no more.
    let mut state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    for resource in state["resources"].as_array_mut().expect("resources") {
        if resource["address"] == "engine.node3" {
            resource["attributes"]["address"] = "127.0.0.1".into();
            resource["attributes"]["ssh_port"] = 1.into();
        }
    }
    cluster.write(
        "swarmform.state.json",
        serde_json::to_string_pretty(&state).expect("JSON"),
    );
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains("`node3` cannot be reached: removed with `docker node rm --force`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("docker node rm --force (from node1)"),
        "{stdout}"
    );
    assert!(!stdout.contains("docker swarm leave"), "{stdout}");
    cluster.redacted(|| insta::assert_snapshot!("an_unreachable_removed_host_plan", stdout));
    cluster.run(&["apply", "--auto-approve"]).success();
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("the swarm");
    assert_eq!(swarm.nodes.len(), 2, "{swarm:#?}");
    let state = cluster.state_text();
    for gone in ["node.node3", "engine.node3", "daemon.node3"] {
        assert!(
            !state.contains(&format!("\"address\": \"{gone}\"")),
            "{gone}: {state}"
        );
    }
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// `[swarm] rotate_join_tokens`: the last node to join rotates both tokens once every other join
// of the apply is done, so the tokens this apply read stop working.
#[test]
fn join_tokens_are_rotated_after_the_joins() {
    let cluster = with_workloads(4, 1, "[swarm]\nrotate_join_tokens = true\n");
    let plan = cluster.run(&["plan"]).success();
    assert_eq!(
        plan.stdout()
            .matches("rotate the worker and manager join tokens once every node of this apply has joined (on node1)")
            .count(),
        1,
        "{}",
        plan.stdout()
    );
    cluster.redacted(|| insta::assert_snapshot!("token_rotation_plan", plan.stdout()));
    let graph = cluster.run(&["graph"]).success();
    assert_eq!(
        graph
            .stdout()
            .matches("every join before the token rotation")
            .count(),
        2,
        "the two other joins come first:\n{}",
        graph.stdout()
    );
    cluster.run(&["apply", "--auto-approve"]).success();
    let commands = cluster.sim().commands("node1");
    for role in ["worker", "manager"] {
        assert!(
            commands
                .iter()
                .any(|line| line == &format!("docker swarm join-token --rotate -q {role}")),
            "{commands:#?}"
        );
    }
    assert_eq!(cluster.snapshot().swarm().expect("swarm").nodes.len(), 4);
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}
