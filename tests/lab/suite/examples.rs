//! The examples: `examples/lab` applied to a default lab, every other example planned offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::support::{
    Lab, Steps, check_nodes, eventually, http_get, json_lines, log, node_labels, on,
    one_lab_at_a_time, require_docker, text,
};

// ---------------------------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------------------------

// examples/lab applies as it is to a default lab (1 manager, 2 workers) with the one line of its
// README, answers on its host-mode ports, and is destroyed; every other example plans offline
// (their images cannot be built here).
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn examples_apply_to_the_lab_or_plan() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("examples_apply_to_the_lab_or_plan");
    require_docker();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    steps.step(
        "the other examples validate and plan (--refresh=false, state in a temporary folder)",
    );
    let mut others: Vec<PathBuf> = std::fs::read_dir(&examples)
        .expect("read examples/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.join("swarmform.toml").is_file() && !path.ends_with("lab"))
        .collect();
    others.sort();
    assert!(!others.is_empty(), "examples/ holds more than the lab");
    let scratch = Lab::scratch("examples-plan");
    for example in &others {
        let name = example
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let config = example.join("swarmform.toml").display().to_string();
        let state = scratch
            .path(&format!("{name}.state.json"))
            .display()
            .to_string();
        let common = ["-c", config.as_str(), "--state", state.as_str()];
        scratch
            .run(&[&common[..], &["validate"]].concat())
            .expect(0);
        let planned = scratch
            .run(&[&common[..], &["plan", "--refresh=false"]].concat())
            .expect(0);
        let last = planned
            .stdout()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        assert!(
            last.starts_with("Plan: ") && last.ends_with(" to add, 0 to change, 0 to destroy."),
            "{name}: {last}"
        );
        assert!(
            !Path::new(&state).exists(),
            "{name}: an offline plan wrote a state"
        );
    }
    drop(scratch);

    let lab = Lab::new("example-lab");
    lab.copy_from(&examples.join("lab"));
    steps.step("examples/lab: lab up");
    lab.up(&[]);
    lab_example_round_trip(&lab, &mut steps);

    steps.step("lab down");
    lab.down();
    steps.summary();
}

/// examples/lab (copied into the lab's work folder) on the lab that is up, as its README says:
/// `lab load local/busybox:1`, `apply`; checked on the nodes (roles, labels, the network, the
/// services, every host-mode port), planned empty, destroyed with nothing left on a node.
pub fn lab_example_round_trip(lab: &Lab, steps: &mut Steps) {
    steps.step("examples/lab: lab load local/busybox:1 && apply --auto-approve (in a copy)");
    lab.run(&["lab", "load", "local/busybox:1"]).expect(0);
    lab.run(&["apply", "--auto-approve"]).expect(0);

    steps.step("examples/lab: check the nodes, the stacks and their host-mode ports");
    let managers = ["lab-manager1"];
    let workers = ["lab-worker1", "lab-worker2"];
    eventually("3 nodes, one manager", Duration::from_secs(60), || {
        check_nodes("lab-manager1", &managers, &workers)
    });
    for worker in workers {
        assert_eq!(
            node_labels("lab-manager1", worker).expect("labels"),
            json!({"tier": "web"})
        );
    }
    let network = on(
        "lab-manager1",
        &[
            "docker",
            "network",
            "inspect",
            "web",
            "--format",
            "{{json .IPAM.Config}}",
        ],
    )
    .expect("the network web");
    assert!(network.contains("\"10.0.10.0/24\""), "{network}");
    let services = eventually(
        "web_web 3/3 and visualizer 1/1",
        Duration::from_secs(60),
        || {
            let services = json_lines(&on(
                "lab-manager1",
                &["docker", "service", "ls", "--format", "{{json .}}"],
            )?)?;
            let replicas: BTreeMap<String, String> = services
                .iter()
                .map(|service| (text(service, "Name"), text(service, "Replicas")))
                .collect();
            let wanted = BTreeMap::from([
                (
                    "visualizer-visualizer_visualizer".to_owned(),
                    "1/1".to_owned(),
                ),
                ("web_web".to_owned(), "3/3 (max 1 per node)".to_owned()),
            ]);
            if replicas == wanted {
                Ok(replicas)
            } else {
                Err(format!("{replicas:?}"))
            }
        },
    );
    log(&format!("   services: {services:?}"));
    for (address, port) in [
        ("172.30.0.11", 8080),
        ("172.30.0.12", 8080),
        ("172.30.0.13", 8080),
        ("172.30.0.11", 8081),
    ] {
        let page = eventually(
            &format!("http://{address}:{port}/ answers"),
            Duration::from_secs(30),
            || {
                http_get(address, port).and_then(|page| {
                    if page.contains("busybox httpd answers") {
                        Ok(page)
                    } else {
                        Err(page)
                    }
                })
            },
        );
        assert!(page.starts_with("HTTP/1."), "{page}");
    }
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("examples/lab: destroy");
    lab.run(&["destroy", "--auto-approve"]).expect(0);
    for node in ["lab-manager1", "lab-worker1", "lab-worker2"] {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state, "inactive", "{node}");
        // dockerd removes the stopped task containers of a swarm it left a moment later.
        eventually(
            &format!("no container left on {node}"),
            Duration::from_secs(60),
            || {
                let containers = on(node, &["docker", "ps", "--all", "--quiet"])?;
                if containers.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{node}: {containers}"))
                }
            },
        );
    }
}
