//! Docker versions side by side: one cluster whose nodes run Docker 28, 26 and 20.10.

use std::path::Path;

use crate::examples::lab_example_round_trip;
use crate::support::{Lab, Steps, log, on, one_lab_at_a_time, require_docker};

// A manager on Docker 28 (the current major), a worker on 26.1 and one on 20.10: `lab up
// --docker` builds each node's image, the swarm forms across the versions, and examples/lab
// runs on it as on a default lab (a task on every node, every host-mode port answering), plans
// empty and is destroyed.
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn a_mixed_version_cluster_forms_and_works() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("a_mixed_version_cluster_forms_and_works");
    require_docker();
    let nodes = [
        ("lab-manager1", "28.5."),
        ("lab-worker1", "26.1."),
        ("lab-worker2", "20.10."),
    ];

    steps.step("lab up --docker 28 --docker lab-worker1=26 --docker lab-worker2=20");
    let lab = Lab::new("versions");
    lab.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lab"));
    lab.up(&[
        "--docker",
        "28",
        "--docker",
        "lab-worker1=26",
        "--docker",
        "lab-worker2=20",
    ]);
    for (node, version) in nodes {
        let running = on(
            node,
            &["docker", "version", "--format", "{{.Server.Version}}"],
        )
        .expect("docker version");
        assert!(running.starts_with(version), "{node}: Docker {running}");
    }

    lab_example_round_trip(&lab, &mut steps);

    steps.step("lab status: each node's Docker and its version");
    let status = lab.run(&["lab", "status"]).expect(0);
    for (node, version) in nodes {
        assert!(
            status
                .stdout()
                .lines()
                .any(|line| line.starts_with(node) && line.contains(&format!("active {version}"))),
            "{node} runs Docker {version}:\n{}",
            status.stdout()
        );
    }
    log(&status.stdout());

    steps.step("lab down");
    lab.down();
    steps.summary();
}
