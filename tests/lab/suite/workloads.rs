//! Workloads: a registry, images built here and pushed to it, and a stack pulling them (the data
//! it copies is in `tests/lab/workloads/`).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::support::{
    Lab, Steps, changes, daemon_json, docker, edit, eventually, expected_changes, http_get_path,
    on, one_lab_at_a_time, require_docker,
};

// ---------------------------------------------------------------------------------------------
// Workloads: a registry, images, a stack
// ---------------------------------------------------------------------------------------------

const WORKLOAD_NODES: [(&str, &str); 3] = [
    ("lab-manager1", "172.30.0.11"),
    ("lab-worker1", "172.30.0.12"),
    ("lab-worker2", "172.30.0.13"),
];

/// The page and the secret of every web task: `(node, page, secret)`.
fn web_tasks_served() -> Result<Vec<(String, String, String)>, String> {
    let mut served = Vec::new();
    for (node, _) in WORKLOAD_NODES {
        let ids = on(
            node,
            &[
                "docker",
                "ps",
                "--quiet",
                "--filter",
                "label=com.docker.swarm.service.name=web_web",
            ],
        )?;
        for id in ids.lines().filter(|id| !id.is_empty()) {
            let secret = on(node, &["docker", "exec", id, "cat", "/run/secrets/token"])?;
            let page = on(
                node,
                &[
                    "docker",
                    "exec",
                    id,
                    "wget",
                    "-qO-",
                    "http://127.0.0.1:8080/",
                ],
            )?;
            served.push((
                node.to_owned(),
                page.trim().to_owned(),
                secret.trim().to_owned(),
            ));
        }
    }
    Ok(served)
}

/// Exactly `count` web tasks, each serving `page` with the secret `secret`.
fn check_web(count: usize, page: &str, secret: &str) {
    eventually(
        &format!("{count} web tasks serving {page:?} with the secret {secret:?}"),
        Duration::from_secs(60),
        || {
            let served = web_tasks_served()?;
            if served.len() == count
                && served.iter().all(|(_, served_page, served_secret)| {
                    served_page.contains(page) && served_secret == secret
                })
            {
                Ok(())
            } else {
                Err(format!("{served:?}"))
            }
        },
    );
}

/// The tags the lab registry holds for `local/web`.
fn registry_tags() -> Result<String, String> {
    let response = http_get_path("172.30.0.11", 5000, "/v2/local/web/tags/list")?;
    response
        .split("\r\n\r\n")
        .nth(1)
        .map(str::to_owned)
        .ok_or(response)
}

// The registry and the images, for real: `image load` puts the registry's image on its node over
// SSH, apply deploys the registry (every daemon trusting it), `image push` puts an image built
// here into it, and a stack pulls it over an overlay network with a secret and passes its
// health check; then a rotated secret with a new image, a service scaled by hand planned back, a broken image rolled back by Docker and reported with its task errors, a
// replaced network taking the stack down and up, and destroy in order.
#[test]
#[ignore = "needs the lab: run through .ci/test"]
fn workloads_from_a_registry_on_the_lab() {
    let _lab_lock = one_lab_at_a_time();
    let mut steps = Steps::new("workloads_from_a_registry_on_the_lab");
    require_docker();

    steps.step("w1. lab up; build local/web:1 and local/web:2 here; docker save local/registry:2");
    let lab = Lab::new("workloads");
    lab.up(&[]);
    lab.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/workloads"));
    lab.write("token.txt", "token-v1\n");
    let base = lab.read("swarmform.toml");
    let stack = lab.read("stack.toml");
    for tag in ["1", "2"] {
        let context = lab.path(&format!("web{tag}"));
        std::fs::create_dir_all(&context).expect("build context");
        std::fs::write(
            context.join("Dockerfile"),
            format!(
                "FROM local/busybox:1\nRUN mkdir -p /var/www/apiv1 && echo '<p>web {tag} from the registry</p>' > /var/www/index.html && echo healthy > /var/www/apiv1/healths\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www\"]\n"
            ),
        )
        .expect("Dockerfile");
        let image = format!("local/web:{tag}");
        docker(&[
            "build",
            "--quiet",
            "--tag",
            &image,
            &context.display().to_string(),
        ])
        .expect("docker build");
    }
    let tarball = lab.path("registry.tar").display().to_string();
    docker(&["save", "--output", &tarball, "local/registry:2"]).expect("docker save");

    steps.step("w2. image load registry.tar --hosts lab-manager1 (over SSH)");
    let loaded = lab
        .run(&["image", "load", "registry.tar", "--hosts", "lab-manager1"])
        .expect(0);
    assert!(
        loaded.stderr().contains("Loaded image: local/registry:2"),
        "{}",
        loaded.stderr()
    );
    on(
        "lab-manager1",
        &["docker", "image", "inspect", "local/registry:2"],
    )
    .expect("the image is on lab-manager1");

    steps.step("w3. a node already in another swarm is refused, with the way out");
    on(
        "lab-worker2",
        &["docker", "swarm", "init", "--advertise-addr", "172.30.0.13"],
    )
    .expect("a swarm made by hand on lab-worker2");
    let refused = lab.run(&["plan"]).expect(1);
    for text in [
        "`lab-worker2` is already in swarm",
        "which the state does not record",
        "docker swarm leave --force",
    ] {
        assert!(
            refused.stderr().contains(text),
            "the refusal says `{text}`:\n{}",
            refused.stderr()
        );
    }
    on("lab-worker2", &["docker", "swarm", "leave", "--force"]).expect("leave it");

    steps.step("w3. apply: the registry, trusted by every daemon; the network; the secret");
    lab.run(&["apply", "--auto-approve"]).expect(0);
    eventually("the registry answers", Duration::from_secs(60), || {
        http_get_path("172.30.0.11", 5000, "/v2/").and_then(|response| {
            if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                Ok(())
            } else {
                Err(response)
            }
        })
    });
    for (node, _) in WORKLOAD_NODES {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(
            json["insecure-registries"],
            json!(["172.30.0.11:5000"]),
            "{node}"
        );
    }

    steps.step("w4. image push local/web:1 and local/web:2");
    for tag in ["1", "2"] {
        let pushed = lab
            .run(&["image", "push", &format!("local/web:{tag}")])
            .expect(0);
        assert_eq!(
            pushed.stdout().trim(),
            format!("172.30.0.11:5000/local/web:{tag}")
        );
    }
    let tags = registry_tags().expect("the registry's tags");
    assert!(tags.contains("\"1\"") && tags.contains("\"2\""), "{tags}");

    steps.step("w5. the stack from the registry: plan per service, apply, health check");
    lab.write("swarmform.toml", &format!("{base}{stack}"));
    let planned = lab.run(&["plan"]).expect(0);
    let stdout = planned.stdout();
    for line in [
        "+ services.web_web.image    = \"172.30.0.11:5000/local/web:1\"",
        "+ services.web_web.replicas = 3",
        "check http://172.30.0.11:8080/apiv1/healths (20 tries, 1s apart)",
    ] {
        assert!(stdout.contains(line), "the plan shows `{line}`:\n{stdout}");
    }
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 1 from the registry", "token-v1");
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w6. rotate the secret, deploy :2: the plan shows each change");
    lab.write("token.txt", "token-v2\n");
    let changed_stack = edit(
        &stack,
        "vars = { tag = \"1\", replicas = 3 }",
        "vars = { tag = \"2\", replicas = 3 }",
    );
    lab.write("swarmform.toml", &format!("{base}{changed_stack}"));
    let planned = lab.run(&["plan", "--json"]).expect(0);
    assert_eq!(
        changes(&planned.stdout()),
        expected_changes(&[("secret.token", "replace"), ("stack.web", "update")])
    );
    let planned = lab.run(&["plan"]).expect(0);
    let stdout = planned.stdout();
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("~ services.web_web.image")
                && line.ends_with(
                    "= \"172.30.0.11:5000/local/web:1\" -> \"172.30.0.11:5000/local/web:2\""
                )),
        "the plan shows the service's new image:\n{stdout}"
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 2 from the registry", "token-v2");
    let secrets = on(
        "lab-manager1",
        &["docker", "secret", "ls", "--format", "{{.Name}}"],
    )
    .expect("secret ls");
    assert_eq!(
        secrets.lines().count(),
        1,
        "the superseded secret is gone: {secrets}"
    );
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w7. drift: web_web scaled to 1 by hand, planned back to 3");
    on(
        "lab-manager1",
        &["docker", "service", "scale", "--detach", "web_web=1"],
    )
    .expect("scale by hand");
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("~ services.web_web.replicas = 1 -> 3"),
        "{}",
        planned.stdout()
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    check_web(3, "web 2 from the registry", "token-v2");

    steps.step("w8. the probe updated to an image the registry lacks: Docker rolls back, apply names the tasks' errors");
    let broken = edit(
        &changed_stack,
        "vars = { tag = \"1\" }",
        "vars = { tag = \"9\" }",
    );
    lab.write("swarmform.toml", &format!("{base}{broken}"));
    let failed = lab.run(&["apply", "--auto-approve"]).expect(1);
    let stderr = failed.stderr();
    for text in ["probe_probe", "rolled it back", "local/web:9"] {
        assert!(
            stderr.contains(text),
            "the failure says `{text}` (what Docker did and why):\n{stderr}"
        );
    }
    let rolled_back = on(
        "lab-manager1",
        &[
            "docker",
            "service",
            "inspect",
            "probe_probe",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}} {{json .UpdateStatus.State}}",
        ],
    )
    .expect("service inspect");
    assert!(
        rolled_back.starts_with("172.30.0.11:5000/local/web:1")
            && rolled_back.ends_with("\"rollback_completed\""),
        "the previous version runs again: {rolled_back}"
    );
    eventually("the probe runs 1/1", Duration::from_secs(60), || {
        let replicas = on(
            "lab-manager1",
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                "name=probe_probe",
                "--format",
                "{{.Replicas}}",
            ],
        )?;
        if replicas == "1/1" {
            Ok(())
        } else {
            Err(replicas)
        }
    });
    lab.write("swarmform.toml", &format!("{base}{changed_stack}"));
    lab.run(&["apply", "--auto-approve"]).expect(0);
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step(
        "w9. the network's subnet changes: the stack goes down and comes back on the new one",
    );
    let moved = edit(
        &base,
        "subnet = \"10.21.0.0/24\"",
        "subnet = \"10.22.0.0/24\"",
    );
    lab.write("swarmform.toml", &format!("{moved}{changed_stack}"));
    let planned = lab.run(&["plan"]).expect(0);
    assert!(
        planned
            .stdout()
            .contains("because `network.backend` is replaced"),
        "{}",
        planned.stdout()
    );
    lab.run(&["apply", "--auto-approve"]).expect(0);
    let subnet = on(
        "lab-manager1",
        &[
            "docker",
            "network",
            "inspect",
            "backend",
            "--format",
            "{{json .IPAM.Config}}",
        ],
    )
    .expect("network inspect");
    assert!(subnet.contains("10.22.0.0/24"), "{subnet}");
    check_web(3, "web 2 from the registry", "token-v2");
    lab.run(&["plan", "--detailed-exitcode"]).expect(0);

    steps.step("w10. destroy: the stack, then the registry, the network and the secret");
    lab.run(&["destroy", "--auto-approve"]).expect(0);
    for (node, _) in WORKLOAD_NODES {
        let state = on(
            node,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        )
        .expect("docker info");
        assert_eq!(state, "inactive", "{node}");
        let containers = on(node, &["docker", "ps", "--quiet"]).expect("docker ps");
        assert!(containers.is_empty(), "{node}: {containers}");
    }

    steps.step("lab down");
    lab.down();
    steps.summary();
}
