//! The checks the scenario makes on the nodes after each step: the nodes and their roles, the
//! labels, the network, the secret, the web tasks and their containers, daemon.json.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    check_nodes, daemon_json, eventually, json_lines, log, node_labels, on, text,
};

/// The web service's running tasks: each one's node. Fails unless `replicas` tasks run and the
/// service reports `replicas/replicas`, with no update in progress.
fn web_tasks(via: &str, replicas: usize) -> Result<Vec<String>, String> {
    let services = json_lines(&on(
        via,
        &[
            "docker",
            "service",
            "ls",
            "--filter",
            "name=web_web",
            "--format",
            "{{json .}}",
        ],
    )?)?;
    let wanted = format!("{replicas}/{replicas}");
    match services.as_slice() {
        [service] if text(service, "Replicas") == wanted => {}
        _ => return Err(format!("service web_web is not {wanted}: {services:?}")),
    }
    let update = on(
        via,
        &[
            "docker",
            "service",
            "inspect",
            "web_web",
            "--format",
            "{{json .UpdateStatus}}",
        ],
    )?;
    if update.contains("\"updating\"") {
        return Err(format!("web_web is still updating: {update}"));
    }
    let tasks = json_lines(&on(
        via,
        &[
            "docker",
            "service",
            "ps",
            "web_web",
            "--filter",
            "desired-state=running",
            "--format",
            "{{json .}}",
        ],
    )?)?;
    let running: Vec<String> = tasks
        .iter()
        .filter(|task| text(task, "CurrentState").starts_with("Running"))
        .map(|task| text(task, "Node"))
        .collect();
    if running.len() != replicas || tasks.len() != replicas {
        return Err(format!(
            "{} of {replicas} web tasks run: {tasks:?}",
            running.len()
        ));
    }
    Ok(running)
}

/// The web containers on `nodes`, read on each node: every one serves httpd, has the secret
/// `token` with `secret` in it and the log options of daemon.json. Returns how many there are.
fn check_web_containers(nodes: &[&str], secret: &str, max_size: &str) -> Result<usize, String> {
    let mut count = 0;
    for node in nodes {
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
            count += 1;
            let content = on(node, &["docker", "exec", id, "cat", "/run/secrets/token"])?;
            if content.trim() != secret {
                return Err(format!(
                    "{node}: container {id} has the secret {content:?}, not {secret:?}"
                ));
            }
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
            if !page.contains("busybox httpd answers") {
                return Err(format!("{node}: container {id}'s httpd answered {page:?}"));
            }
            let log_config = on(
                node,
                &[
                    "docker",
                    "inspect",
                    id,
                    "--format",
                    "{{json .HostConfig.LogConfig}}",
                ],
            )?;
            let log_config: Value =
                serde_json::from_str(&log_config).map_err(|error| error.to_string())?;
            if log_config["Config"]["max-size"] != max_size {
                return Err(format!(
                    "{node}: container {id} logs with {log_config}, not max-size {max_size}"
                ));
            }
        }
    }
    Ok(count)
}

/// What the scenario expects the cluster to be after a step.
pub struct Expected<'a> {
    pub managers: &'a [&'a str],
    pub workers: &'a [&'a str],
    pub labels: Vec<(&'a str, Value)>,
    /// The workers labelled web=yes, where the web tasks must run.
    pub web_nodes: &'a [&'a str],
    pub replicas: usize,
    pub secret: &'a str,
    pub max_size: &'a str,
}

/// Every check of step b, read on the nodes; waits (a bounded time) for what Docker converges
/// on by itself after swarmform returned (a node back Ready after a restart, tasks rescheduled).
pub fn check_cluster(expected: &Expected<'_>) {
    let via = expected.managers[0];
    eventually(
        "the nodes are Ready, with their roles and one leader",
        Duration::from_secs(60),
        || check_nodes(via, expected.managers, expected.workers),
    );
    for (node, labels) in &expected.labels {
        let found = node_labels(via, node).expect("node labels");
        assert_eq!(&found, labels, "labels of {node}");
    }
    let network = on(
        via,
        &[
            "docker",
            "network",
            "inspect",
            "backend",
            "--format",
            "{{json .}}",
        ],
    )
    .expect("the network backend exists");
    let network: Value = serde_json::from_str(&network).expect("network JSON");
    assert_eq!(network["Driver"], "overlay", "{network}");
    assert_eq!(network["Scope"], "swarm", "{network}");
    assert_eq!(network["Attachable"], true, "{network}");
    assert_eq!(
        network["IPAM"]["Config"][0]["Subnet"], "10.20.0.0/24",
        "{network}"
    );
    let secrets = json_lines(
        &on(via, &["docker", "secret", "ls", "--format", "{{json .}}"]).expect("secret ls"),
    )
    .expect("secret JSON");
    let names: Vec<String> = secrets.iter().map(|secret| text(secret, "Name")).collect();
    assert!(
        names.len() == 1 && names[0].starts_with("token-"),
        "one version of the secret token: {names:?}"
    );
    let nodes = eventually(
        &format!("web_web runs {0}/{0}, not updating", expected.replicas),
        Duration::from_secs(90),
        || web_tasks(via, expected.replicas),
    );
    for node in &nodes {
        assert!(
            expected.web_nodes.contains(&node.as_str()),
            "a web task runs on {node}, not on a node labelled web=yes ({:?})",
            expected.web_nodes
        );
    }
    let containers = eventually(
        "every web container has the secret, serves httpd, and logs with daemon.json's options",
        Duration::from_secs(60),
        || {
            let count =
                check_web_containers(expected.web_nodes, expected.secret, expected.max_size)?;
            if count == expected.replicas {
                Ok(count)
            } else {
                Err(format!(
                    "{count} web containers run, not {}",
                    expected.replicas
                ))
            }
        },
    );
    for node in expected.managers.iter().chain(expected.workers) {
        let json = daemon_json(node).expect("daemon.json");
        assert_eq!(
            json["log-opts"]["max-size"], expected.max_size,
            "{node}: {json}"
        );
        assert_eq!(json["log-driver"], "json-file", "{node}: {json}");
    }
    log(&format!(
        "   checked: {} managers, {} workers, labels, network 10.20.0.0/24, secret {}, {containers} web tasks on {nodes:?}, daemon.json",
        expected.managers.len(),
        expected.workers.len(),
        names[0]
    ));
}
