//! Kills in every phase of an apply and a destroy, each converging when run again, and retiring
//! the bootstrap manager (the leader) at a kill.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    Lab, Steps, check_nodes, daemon_json, eventually, kill_when, on, one_lab_at_a_time,
    require_docker, run_past_demote_race,
};

// ---------------------------------------------------------------------------------------------
// Kills in every phase, and retiring the bootstrap manager
// ---------------------------------------------------------------------------------------------

/// The crash test's config: `hosts` of the 3+1 lab, a daemon option, and the stack when `stack`.
fn crash_config(hosts: &[(&str, &str, &str)], max_size: &str, stack: bool) -> String {
    let mut config = format!(
        "[ssh]\nuser = \"root\"\nidentity_file = \".swarmform-lab/id_ed25519\"\nknown_hosts = \".swarmform-lab/known_hosts\"\nhost_key_policy = \"strict\"\nconnect_timeout = \"10s\"\n\n[daemon]\non_destroy = \"revert\"\n\n[daemon.json]\n\"log-driver\" = \"json-file\"\n\"log-opts\" = {{ \"max-size\" = \"{max_size}\" }}\n\n[networks.backend]\nsubnet = \"10.21.0.0/24\"\n\n[secrets.token]\nfile = \"token.txt\"\n"
    );
    for (name, address, role) in hosts {
        config.push_str(&format!(
            "\n[hosts.{name}]\naddress = \"{address}\"\nrole = \"{role}\"\n"
        ));
    }
    if stack {
        config.push_str("\n[stacks.sleeper]\ntemplate = \"sleeper.yml.hbs\"\n");
    }
    config
}

/// busybox sleeping: stops at once (`stop_grace_period`), with the network and the secret.
const SLEEPER: &str = "version: \"3.8\"\nservices:\n  sleeper:\n    image: local/busybox:1\n    command: [\"sleep\", \"100000\"]\n    stop_grace_period: 1s\n    deploy:\n      replicas: 2\n    networks: [backend]\n    secrets: [token]\nnetworks:\n  backend:\n    external: true\n    name: {{json networks.backend}}\nsecrets:\n  token:\n    external: true\n    name: {{json secrets.token}}\n";

/// Runs `apply` killed at the first stderr line (`-v` shows every command) that contains
/// `moment`, then applies again and requires the next plan to be empty.
fn killed_then_converged(lab: &Lab, args: &[&str], moment: &str) {
    let verbose: Vec<&str> = args.iter().copied().chain(["-v"]).collect();
    let seen = kill_when(lab, &verbose, |line| line.contains(moment));
    assert!(seen.contains(moment), "{seen}");
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json"))
        .expect("the state is valid JSON after the SIGKILL");
    assert!(state["resources"].is_array(), "{state}");
    run_past_demote_race(lab, args);
    if args.first() == Some(&"apply") {
        lab.run(&["plan", "--detailed-exitcode"]).expect(0);
    }
}

#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn kills_in_every_phase_converge_on_the_lab() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("kills_in_every_phase_converge_on_the_lab");
    require_docker();

    steps.step("k0. lab up --managers 3 --workers 1; lab load local/busybox:1");
    let lab = Lab::new("crash");
    lab.up(&["--managers", "3", "--workers", "1"]);
    lab.run(&["lab", "load", "local/busybox:1"]).expect(0);
    lab.write("token.txt", "token-v1\n");
    let m1 = ("lab-manager1", "172.30.0.11", "manager");
    let m2 = ("lab-manager2", "172.30.0.12", "manager");
    let m3 = ("lab-manager3", "172.30.0.13", "manager");
    let w1 = ("lab-worker1", "172.30.0.14", "worker");

    steps.step("k1. SIGKILL during `docker swarm init` (two managers configured), apply again");
    lab.write("swarmform.toml", &crash_config(&[m1, m2], "10m", false));
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker swarm init");
    check_nodes("lab-manager1", &["lab-manager1", "lab-manager2"], &[])
        .expect("the swarm of two managers");

    steps.step("k2. SIGKILL during a join (a manager and a worker more), apply again");
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "10m", false),
    );
    killed_then_converged(
        &lab,
        &["apply", "--auto-approve"],
        "$ docker swarm join --token",
    );
    check_nodes(
        "lab-manager1",
        &["lab-manager1", "lab-manager2", "lab-manager3"],
        &["lab-worker1"],
    )
    .expect("every node joined once");

    steps.step("k3. SIGKILL during a dockerd restart (daemon option changed), apply again");
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "20m", false),
    );
    killed_then_converged(
        &lab,
        &["apply", "--auto-approve"],
        "systemctl reset-failed docker.service && systemctl restart docker",
    );
    for node in [
        "lab-manager1",
        "lab-manager2",
        "lab-manager3",
        "lab-worker1",
    ] {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(json["log-opts"]["max-size"], "20m", "{node}: {json}");
    }
    eventually(
        "every node Ready and Active",
        Duration::from_secs(120),
        || {
            check_nodes(
                "lab-manager1",
                &["lab-manager1", "lab-manager2", "lab-manager3"],
                &["lab-worker1"],
            )
        },
    );

    steps.step("k4. SIGKILL during the stack deploy, apply again");
    lab.write("sleeper.yml.hbs", SLEEPER);
    lab.write(
        "swarmform.toml",
        &crash_config(&[m1, m2, m3, w1], "20m", true),
    );
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker stack deploy");
    eventually("2 sleeper tasks running", Duration::from_secs(120), || {
        let tasks = on(
            "lab-manager1",
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                "name=sleeper_sleeper",
                "--format",
                "{{.Replicas}}",
            ],
        )?;
        if tasks.trim() == "2/2" {
            Ok(())
        } else {
            Err(tasks)
        }
    });

    steps.step("k5. SIGKILL while a manager leaves (lab-manager3 removed), apply again");
    lab.write("swarmform.toml", &crash_config(&[m1, m2, w1], "20m", true));
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker node demote");
    check_nodes(
        "lab-manager1",
        &["lab-manager1", "lab-manager2"],
        &["lab-worker1"],
    )
    .expect("lab-manager3 gone, no ghost");

    steps.step("k6. the bootstrap manager and leader lab-manager1 retired, killed at its leave, apply again");
    lab.write("swarmform.toml", &crash_config(&[m2, w1], "20m", true));
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("Fault tolerance: 2 managers → 1: the swarm still tolerates 0 failures."),
        "{}",
        planned.stdout()
    );
    killed_then_converged(&lab, &["apply", "--auto-approve"], "$ docker swarm leave");
    // A new leader reports the other nodes `Unknown` until their next heartbeat reaches it.
    eventually(
        "lab-manager1 gone, no ghost, lab-manager2 leads",
        Duration::from_secs(60),
        || check_nodes("lab-manager2", &["lab-manager2"], &["lab-worker1"]),
    );
    let left = on(
        "lab-manager1",
        &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
    .expect("docker info");
    assert_eq!(left.trim(), "inactive");

    steps.step("k7. SIGKILL during destroy (at the stack's removal), destroy again");
    killed_then_converged(&lab, &["destroy", "--auto-approve"], "$ docker stack rm");
    for node in [
        "lab-manager1",
        "lab-manager2",
        "lab-manager3",
        "lab-worker1",
    ] {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state.trim(), "inactive", "{node}");
        let containers = on(node, &["docker", "ps", "--quiet"]).expect("docker ps");
        assert!(containers.trim().is_empty(), "{node}: {containers}");
    }
    let state: Value = serde_json::from_str(&lab.read("swarmform.state.json")).expect("state JSON");
    assert_eq!(state["resources"], json!([]), "{state}");

    steps.step("k8. lab down");
    lab.down();
    steps.summary();
}
