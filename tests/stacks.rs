//! Stacks through the real binary against simulated hosts: the per-service diff in plans,
//! drift made by hand planned back, convergence failures with the tasks' own errors, Docker's
//! rollbacks, health checks, and the order of stack, network and secret changes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use swarmform_sim::{ClusterSnapshot, SimHostSpec, SimOptions};

use crate::support::{Test, progress_sorted, with_filters};

const SECRET: &str = "s3cr3t-db-password-7f3a";
const TOKEN: &str = "tok-91f2e7c4-sensitive";

/// A network, a secret and a stack using both, with a sensitive variable in its environment.
const WORKLOADS: &str = r#"
[variables.token]
default = "tok-91f2e7c4-sensitive"
sensitive = true

[variables.image]
default = "local/busybox:1"

[variables.replicas]
default = 2

[networks.web]
subnet = "10.0.9.0/24"
attachable = true

[secrets.db]
file = "db.txt"

[stacks.web]
template = "web.yml.hbs"
vars = { replicas = "{{var.replicas}}", image = "{{var.image}}", token = "{{var.token}}", failure_action = "pause" }
"#;

const WEB: &str = r#"version: "3.8"
services:
  web:
    image: {{vars.image}}
    command: ["httpd", "-f", "-p", "8080"]
    environment:
      MODE: production
      TOKEN: {{vars.token}}
    ports:
      - "8080:8080"
    deploy:
      replicas: {{vars.replicas}}
      placement:
        constraints: ["node.role == worker"]
      update_config:
        failure_action: {{vars.failure_action}}
    networks: [web]
    secrets: [db]
networks:
  web:
    external: true
    name: {{networks.web}}
secrets:
  db:
    external: true
    name: {{secrets.db}}
"#;

/// One manager and two workers, `workloads` in the config, and the secret's file and the
/// stack's template [`WORKLOADS`] names.
fn start(workloads: &str) -> Test {
    Test::with_hosts(3, 1)
        .workloads(workloads)
        .file("db.txt", format!("{SECRET}\n"))
        .file("web.yml.hbs", WEB)
}

/// Which node the scheduler put a task on differs between runs.
const PLACED: [(&str, &str); 1] = [(r"(web_web\.\d+) on node\d", "$1 on [NODE]")];

/// Runs of spaces as one, so checks do not depend on how `=` is aligned.
fn squeeze(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if !(character == ' ' && out.ends_with(' ')) {
            out.push(character);
        }
    }
    out
}

/// The one stack service of the snapshot named `name`.
fn service<'a>(snapshot: &'a ClusterSnapshot, name: &str) -> &'a swarmform_sim::ServiceSnapshot {
    snapshot
        .swarm()
        .expect("one swarm")
        .services
        .iter()
        .find(|service| service.name == name)
        .unwrap_or_else(|| panic!("no service {name}: {snapshot:#?}"))
}

/// An HTTP server on 127.0.0.1 that answers each request with the next of `answers` (the
/// last one repeated), for at most 50 requests; it counts the requests it served.
fn http_server(answers: &[(u16, &str)]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let answers: Vec<(u16, String)> = answers
        .iter()
        .map(|(status, body)| (*status, (*body).to_owned()))
        .collect();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            let index = counter.fetch_add(1, Ordering::SeqCst);
            let (status, body) = &answers[index.min(answers.len() - 1)];
            let reason = if *status == 200 {
                "OK"
            } else {
                "Service Unavailable"
            };
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (format!("http://{address}/apiv1/healths"), served)
}

// A changed image, replica count and environment show per service and per field in the plan,
// with the sensitive variable redacted, and never a secret.
#[test]
fn the_plan_shows_what_changes_per_service() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    let plan = cluster
        .run(&[
            "plan",
            "--detailed-exitcode",
            "--var",
            "image=local/busybox:2",
            "--var",
            "replicas=3",
            "--var",
            "token=tok-rotated-0b7d",
        ])
        .status(2);
    let stdout = squeeze(&plan.stdout());
    for expected in [
        "~ services.web_web.image = \"local/busybox:1\" -> \"local/busybox:2\"",
        "~ services.web_web.replicas = 2 -> 3",
        "1. docker stack deploy and wait for its services to converge (on node1)",
    ] {
        assert!(stdout.contains(expected), "{expected}\n{stdout}");
    }
    cluster.redacted(|| insta::assert_snapshot!("service_changes_plan", plan.stdout()));
    // The token changed, but its value shows nowhere: the environment is unchanged
    // (`TOKEN=(sensitive)` both times) and the compose diff is redacted.
    assert!(!stdout.contains("services.web_web.environment"), "{stdout}");
    let outputs = format!("{stdout}{}{}", plan.stderr(), cluster.state_text());
    for secret in [TOKEN, "tok-rotated-0b7d", SECRET] {
        assert!(!outputs.contains(secret), "`{secret}` leaked\n{outputs}");
    }
    assert!(
        cluster.state_text().contains("\"TOKEN=(sensitive)\""),
        "the state records the redacted environment\n{}",
        cluster.state_text()
    );

    // An environment change shows as the whole sorted list.
    cluster.write(
        "web.yml.hbs",
        WEB.replace("MODE: production", "MODE: staging"),
    );
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    assert!(
        squeeze(&plan.stdout()).contains(
            "~ services.web_web.environment = [\"MODE=production\",\"TOKEN=(sensitive)\"] -> [\"MODE=staging\",\"TOKEN=(sensitive)\"]"
        ),
        "{}",
        plan.stdout()
    );
    cluster.redacted(|| insta::assert_snapshot!("environment_change_plan", plan.stdout()));
}

// A freshly deployed stack refreshes to exactly its desired summary: the digest Docker pins,
// the ingress port, the placement and the environment compare equal, so the next plan is empty.
#[test]
fn a_deployed_stack_plans_no_change() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    let web = service(&cluster.snapshot(), "web_web").clone();
    assert!(
        web.image.starts_with("local/busybox:1@sha256:"),
        "Docker pins the digest: {web:?}"
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
    cluster.run(&["refresh"]).success();
    let again = cluster.run(&["refresh"]).success();
    assert!(
        again.stderr().contains("The state matches the cluster."),
        "{}",
        again.stderr()
    );
    insta::assert_snapshot!(again.stderr(), @"The state matches the cluster.");
}

// On Docker 26 and later the deploy says `--detach=true` (what 20.10 did without the flag, and
// without the warning 26 prints when it is missing): swarmform waits for the services itself.
// On 20.10, which refuses the flag, it is not sent. Either way the stack converges.
#[test]
fn the_stack_deploy_takes_the_flags_of_the_managers_docker() {
    for (version, detach) in [("20.10.24+dfsg1", false), ("28.5.2+dfsg4", true)] {
        let hosts = (1..=3)
            .map(|index| SimHostSpec::new(format!("node{index}")).docker_version(version))
            .collect();
        let cluster = Test::with_sim(SimOptions { hosts }, 1)
            .workloads(WORKLOADS)
            .file("db.txt", format!("{SECRET}\n"))
            .file("web.yml.hbs", WEB);
        let applied = cluster.run(&["apply", "--auto-approve", "-v"]).success();
        let deploys: Vec<String> = cluster
            .sim()
            .commands("node1")
            .into_iter()
            .filter(|line| line.contains("stack deploy"))
            .collect();
        assert!(!deploys.is_empty(), "{version}");
        for line in &deploys {
            assert_eq!(line.contains("--detach=true"), detach, "{version}: {line}");
        }
        assert!(
            !applied
                .stderr()
                .contains("--detach=false was not specified"),
            "{version}: {}",
            applied.stderr()
        );
        assert_eq!(
            service(&cluster.snapshot(), "web_web").replicas,
            2,
            "{version}"
        );
        cluster.run(&["plan", "--detailed-exitcode"]).success();
    }
}

// A service scaled by hand and one re-imaged by hand are noticed by refresh, planned back to
// the config, and put back by apply.
#[test]
fn services_changed_by_hand_are_planned_back() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.by_hand("node1", &["service", "scale", "web_web=5"]);
    cluster.by_hand(
        "node1",
        &["service", "update", "--image", "local/busybox:9", "web_web"],
    );
    let refreshed = cluster.run(&["refresh"]).success();
    let stderr = refreshed.stderr();
    for expected in [
        "`stack.web`: service web_web: image is \"local/busybox:9\" on the cluster, \"local/busybox:1\" in the state",
        "`stack.web`: service web_web: replicas is 5 on the cluster, 2 in the state",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    cluster.redacted(|| insta::assert_snapshot!("refreshed_by_hand", stderr));
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stdout = squeeze(&plan.stdout());
    assert!(
        stdout.contains("# stack.web will be updated in place"),
        "{stdout}"
    );
    assert!(
        stdout.contains("~ services.web_web.image = \"local/busybox:9\" -> \"local/busybox:1\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("~ services.web_web.replicas = 5 -> 2"),
        "{stdout}"
    );
    cluster.redacted(|| insta::assert_snapshot!("planned_back", plan.stdout()));
    cluster.run(&["apply", "--auto-approve"]).success();
    let web = service(&cluster.snapshot(), "web_web").clone();
    assert_eq!(web.replicas, 2, "{web:?}");
    assert!(web.image.starts_with("local/busybox:1@"), "{web:?}");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// An image no node has: every task is rejected on every node that may run it, so the deploy
// fails at once (not after the 5 minutes of `converge_timeout`), naming the service, its
// replicas and Docker's own error.
#[test]
fn a_service_that_cannot_start_fails_with_its_task_errors() {
    let cluster = start(&WORKLOADS.replace("local/busybox:1", "local/nope:1"));
    cluster.sim().missing_image("local/nope:1");
    let started = std::time::Instant::now();
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = failed.stderr();
    for expected in [
        "the deploy of stack `web` failed",
        "service `web_web`: 0 of 2 replicas running; Docker rejected every task, on every node that may run it: No such image: local/nope:1; its tasks failed:",
        ": Rejected: No such image: local/nope:1",
        "hint: fix what the task errors say and apply again; `docker service ps web_web --no-trunc` on node1 shows every task",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    cluster.redacted(|| {
        with_filters(&PLACED, || {
            insta::assert_snapshot!("cannot_start", progress_sorted(&stderr))
        })
    });
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "failed without waiting for `converge_timeout`"
    );
    assert!(
        !cluster.state_text().contains("\"stack.web\"")
            || cluster.state_text().contains("\"pending\": true"),
        "the stack is not recorded as deployed\n{}",
        cluster.state_text()
    );
    // Its services exist: the stack stays pending and the next plan deploys it again,
    // without calling what the failed deploy left drift.
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let text = format!("{}{}", plan.stdout(), plan.stderr());
    assert!(text.contains("+ stack.web"), "{text}");
    assert!(!text.contains("by hand"), "{text}");
}

// A service short of replicas for a reason that may heal (here no worker for its placement
// yet) still waits `converge_timeout`, then fails naming its tasks' errors.
#[test]
fn a_service_that_only_needs_longer_waits_converge_timeout() {
    let cluster = Test::with_hosts(1, 1)
        .workloads(&format!("{WORKLOADS}converge_timeout = \"2s\"\n"))
        .file("db.txt", format!("{SECRET}\n"))
        .file("web.yml.hbs", WEB);
    let started = std::time::Instant::now();
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = failed.stderr();
    for expected in [
        "the services of stack `web` did not converge within 2s",
        "service `web_web`: 0 of 2 replicas running; its tasks failed:",
        ": Pending: no suitable node",
        "hint: fix what the task errors say, or raise `converge_timeout` in `[stacks.web]`",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    cluster.redacted(|| insta::assert_snapshot!("did_not_converge", progress_sorted(&stderr)));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "waited the timeout"
    );
}

// `update_config.failure_action: rollback`: Docker rolls the failed update back by itself;
// the step fails saying so, with the task's error, and the previous version keeps running.
#[test]
fn a_rolled_back_update_is_reported_and_the_old_version_runs() {
    let workloads = WORKLOADS.replace(
        "failure_action = \"pause\"",
        "failure_action = \"rollback\"",
    );
    let cluster = start(&workloads);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.sim().missing_image("local/nope:2");
    let failed = cluster
        .run(&["apply", "--auto-approve", "--var", "image=local/nope:2"])
        .failure();
    let stderr = failed.stderr();
    for expected in [
        "the deploy of stack `web` failed",
        "service `web_web`: its update failed and Docker rolled it back (rollback completed); the previous version is running; its tasks failed:",
        "web_web.1 on node",
        ": Rejected: No such image: local/nope:2",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    cluster.redacted(|| {
        with_filters(&PLACED, || {
            insta::assert_snapshot!("rolled_back", progress_sorted(&stderr))
        })
    });
    let web = service(&cluster.snapshot(), "web_web").clone();
    assert!(web.image.starts_with("local/busybox:1@"), "{web:?}");
    assert_eq!(web.running, 2, "{web:?}");
    // The failed deploy is done again whole by the next apply.
    let plan = cluster
        .run(&["plan", "--detailed-exitcode", "--var", "image=local/nope:2"])
        .status(2);
    assert!(
        squeeze(&plan.stdout()).contains("+ services.web_web.image = \"local/nope:2\""),
        "{}",
        plan.stdout()
    );
    cluster.redacted(|| insta::assert_snapshot!("after_a_rollback_plan", plan.stdout()));
}

// Docker's default `failure_action: pause` stops the update; the step fails saying it was
// paused, with Docker's message and the task's error.
#[test]
fn a_paused_update_is_reported() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.sim().missing_image("local/nope:3");
    let failed = cluster
        .run(&["apply", "--auto-approve", "--var", "image=local/nope:3"])
        .failure();
    let stderr = failed.stderr();
    for expected in [
        "service `web_web`: its update failed and Docker paused it (update paused due to failure or early termination of task ",
        ": Rejected: No such image: local/nope:3",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    cluster.redacted(|| {
        with_filters(&PLACED, || {
            insta::assert_snapshot!("paused", progress_sorted(&stderr))
        })
    });
}

// An HTTP health check after the deploy: shown in the plan, retried while the endpoint
// answers 503, passing once it answers 200 with the expected text.
#[test]
fn an_http_health_check_passes_after_retries() {
    let (url, served) = http_server(&[
        (503, "starting"),
        (503, "starting"),
        (200, "{\"status\":\"healthy\"}"),
    ]);
    let cluster = start(&format!(
        "{WORKLOADS}\n[stacks.web.health]\nhttp = \"{url}\"\ncontains = \"healthy\"\ninterval = \"100ms\"\n"
    ));
    let plan = cluster.run(&["plan"]).success();
    assert!(
        plan.stdout()
            .contains(&format!("2. check {url} (10 tries, 100ms apart)")),
        "{}",
        plan.stdout()
    );
    let stdout = plan.stdout().replace(&url, "[URL]");
    cluster.redacted(|| insta::assert_snapshot!("http_health_check_plan", stdout));
    let applied = cluster.run(&["apply", "--auto-approve"]).success();
    assert!(
        applied.stderr().contains("Apply complete!"),
        "{}",
        applied.stderr()
    );
    let stderr = progress_sorted(&applied.stderr()).replace(&url, "[URL]");
    cluster.redacted(|| insta::assert_snapshot!("http_health_check_passes", stderr));
    assert_eq!(served.load(Ordering::SeqCst), 3, "two 503s, then a 200");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A health check that never passes fails the step with the last attempt's status and body.
#[test]
fn a_failing_http_health_check_says_what_it_last_saw() {
    let (url, served) = http_server(&[(503, "database unreachable")]);
    let cluster = start(&format!(
        "{WORKLOADS}\n[stacks.web.health]\nhttp = \"{url}\"\nretries = 3\ninterval = \"50ms\"\n"
    ));
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    let stderr = failed.stderr();
    for expected in [
        format!("the health check of `stack.web` failed (3 tries, 50ms apart): GET {url}"),
        "last attempt: HTTP 503 (expected a 2xx status): database unreachable".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    let stderr = progress_sorted(&stderr).replace(&url, "[URL]");
    cluster.redacted(|| insta::assert_snapshot!("http_health_check_fails", stderr));
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

// A command check runs on its host over SSH: exit 0 passes; otherwise the step fails with the
// exit status and the command's output. Changing only the check runs the check, not a deploy.
#[test]
fn a_command_health_check_runs_on_its_host() {
    let passing = "\n[stacks.web.health]\ncommand = [\"docker\", \"service\", \"inspect\", \"web_web\"]\nhost = \"node1\"\n";
    let cluster = start(&format!("{WORKLOADS}{passing}"));
    cluster.run(&["apply", "--auto-approve"]).success();
    assert!(
        cluster
            .sim()
            .commands("node1")
            .iter()
            .any(|line| line.contains("docker service inspect web_web")),
        "the check ran on node1"
    );

    let failing = "\n[stacks.web.health]\ncommand = [\"grep\", \"-q\", \"healthy\", \"/srv/status\"]\nhost = \"node1\"\nretries = 2\ninterval = \"10ms\"\n";
    cluster.write_workloads(&format!("{WORKLOADS}{failing}"));
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains("1. check `grep -q healthy /srv/status` on node1 (2 tries, 10ms apart)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("docker stack deploy"),
        "no redeploy: {stdout}"
    );
    cluster.redacted(|| insta::assert_snapshot!("command_health_check_plan", stdout));
    let failed = cluster.run(&["apply", "--auto-approve"]).failure();
    assert!(
        failed
            .stderr()
            .contains("last attempt: exit 2: grep: /srv/status: No such file or directory"),
        "{}",
        failed.stderr()
    );
    let stderr = progress_sorted(&failed.stderr());
    cluster.redacted(|| insta::assert_snapshot!("command_health_check_fails", stderr));
}

// A changed subnet replaces the network: the plan names the stack taken down for it, and
// apply runs stack rm, network rm, network create, stack deploy in that order.
#[test]
fn a_replaced_network_takes_its_stack_down_and_up_in_order() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.write_workloads(&WORKLOADS.replace("10.0.9.0/24", "10.0.10.0/24"));
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    for expected in [
        "# (`stack.web` is removed and deployed again because `network.web` is replaced)",
        "# (`network.web` is replaced, so this stack is removed first and deployed again)",
    ] {
        assert!(stdout.contains(expected), "{expected}\n{stdout}");
    }
    cluster.redacted(|| insta::assert_snapshot!("replaced_network_plan", stdout));
    let from = cluster.commands_so_far("node1");
    cluster.run(&["apply", "--auto-approve"]).success();
    let stack_rm = cluster.position("node1", from, &["docker stack rm web"]);
    let network_rm = cluster.position("node1", from, &["docker network rm web"]);
    let network_create =
        cluster.position("node1", from, &["docker network create", "10.0.10.0/24"]);
    let deploy = cluster.position("node1", from, &["docker stack deploy"]);
    assert!(
        stack_rm < network_rm && network_rm < network_create && network_create < deploy,
        "{stack_rm} < {network_rm} < {network_create} < {deploy}"
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A rotated secret: the new version is created, the stack redeployed on it, and only then the
// old version removed.
#[test]
fn a_rotated_secret_is_created_used_then_the_old_one_removed() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    let old = cluster.snapshot().swarm().expect("swarm").secrets[0]
        .name
        .clone();
    cluster.write("db.txt", "an-entirely-new-password\n");
    let from = cluster.commands_so_far("node1");
    cluster.run(&["apply", "--auto-approve"]).success();
    let secrets = cluster.snapshot().swarm().expect("swarm").secrets.clone();
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let new = secrets[0].name.clone();
    assert_ne!(old, new);
    let create = cluster.position("node1", from, &["docker secret create", &new]);
    let deploy = cluster.position("node1", from, &["docker stack deploy"]);
    let remove = cluster.position("node1", from, &["docker secret rm", &old]);
    assert!(
        create < deploy && deploy < remove,
        "{create} < {deploy} < {remove}"
    );
}

// Removing the stack, its network and its secret from the config removes the stack first.
#[test]
fn removed_workloads_go_after_the_stack() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    cluster.write_workloads("");
    let from = cluster.commands_so_far("node1");
    cluster.run(&["apply", "--auto-approve"]).success();
    let stack_rm = cluster.position("node1", from, &["docker stack rm web"]);
    let network_rm = cluster.position("node1", from, &["docker network rm web"]);
    let secret_rm = cluster.position("node1", from, &["docker secret rm db-"]);
    assert!(
        stack_rm < network_rm && stack_rm < secret_rm,
        "{stack_rm} < {network_rm}, {secret_rm}"
    );
    let swarm = cluster.snapshot().swarm().expect("swarm").clone();
    assert!(
        swarm.services.is_empty() && swarm.secrets.is_empty(),
        "{swarm:#?}"
    );
}

// A stack, its network and its secret removed by hand are created again, the stack last.
#[test]
fn workloads_removed_by_hand_are_recreated_in_order() {
    let cluster = start(WORKLOADS);
    cluster.run(&["apply", "--auto-approve"]).success();
    let secret = cluster.snapshot().swarm().expect("swarm").secrets[0]
        .name
        .clone();
    cluster.by_hand("node1", &["stack", "rm", "web"]);
    cluster.by_hand("node1", &["network", "rm", "web"]);
    cluster.by_hand("node1", &["secret", "rm", &secret]);
    let plan = cluster.run(&["plan"]).success();
    let stdout = plan.stdout();
    for expected in [
        "# network.web will be created",
        "# secret.db will be created",
        "# stack.web will be created",
    ] {
        assert!(stdout.contains(expected), "{expected}\n{stdout}");
    }
    cluster.redacted(|| insta::assert_snapshot!("removed_by_hand_plan", stdout));
    let from = cluster.commands_so_far("node1");
    cluster.run(&["apply", "--auto-approve"]).success();
    let network = cluster.position("node1", from, &["docker network create"]);
    let secret_create = cluster.position("node1", from, &["docker secret create"]);
    let deploy = cluster.position("node1", from, &["docker stack deploy"]);
    assert!(network < deploy && secret_create < deploy);
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

fn validate_error(health: &str) -> String {
    let run = Test::new()
        .config(&format!(
            "[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n\n[stacks.web]\ncompose = \"web.yml\"\n{health}"
        ))
        .file("web.yml", "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n")
        .run(&["validate"])
        .failure();
    run.stderr()
}

// Health checks are validated with file:line:column errors: exactly one of http and command,
// a plain http URL, durations.
#[test]
fn health_checks_are_validated() {
    let both = validate_error(
        "[stacks.web.health]\nhttp = \"http://10.0.0.1:8080/\"\ncommand = [\"true\"]\nhost = \"node1\"\n",
    );
    assert!(
        both.contains("error: a health check needs exactly one of `http` and `command`"),
        "{both}"
    );
    assert!(both.contains("swarmform.toml:"), "{both}");
    let url = validate_error("[stacks.web.health]\nhttp = \"ftp://example/\"\n");
    assert!(
        url.contains(
            "error: `ftp://example/` is not a URL swarmform can check: it must start with `http://`"
        ),
        "{url}"
    );
    let https =
        validate_error("[stacks.web.health]\nhttp = \"https://example.org/apiv1/healths\"\n");
    assert!(
        https.contains("HTTPS is not supported by the built-in check"),
        "{https}"
    );
    let duration =
        validate_error("[stacks.web.health]\nhttp = \"http://10.0.0.1/\"\ninterval = \"soon\"\n");
    assert!(
        duration.contains("error: `soon` is not a duration"),
        "{duration}"
    );
    let timeout = validate_error("converge_timeout = \"5 minutes\"\n");
    assert!(
        timeout.contains("error: `5 minutes` is not a duration"),
        "{timeout}"
    );
    let host = validate_error("[stacks.web.health]\ncommand = [\"true\"]\n");
    assert!(
        host.contains("error: a command health check needs `host`"),
        "{host}"
    );
}

// A sensitive variable in a health check's URL is redacted in the plan, its step included.
#[test]
fn a_health_check_hides_sensitive_values() {
    let run = Test::new()
        .config(
            "[variables.key]\ndefault = \"k-5ecr3t-77\"\nsensitive = true\n\n[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n\n[stacks.web]\ncompose = \"web.yml\"\n\n[stacks.web.health]\nhttp = \"http://{{hosts.node1.address}}:8080/apiv1/healths?key={{var.key}}\"\n",
        )
        .file("web.yml", "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n")
        .run(&["plan", "--refresh=false"])
        .success();
    let stdout = run.stdout();
    assert!(
        stdout.contains(
            "2. check http://192.0.2.11:8080/apiv1/healths?key=(sensitive) (10 tries, 3s apart)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("k-5ecr3t-77"), "{stdout}");
}
