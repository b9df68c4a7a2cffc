//! The formats swarmform writes, pinned byte for byte: the plan JSON (`plan --json`,
//! docs/plan-json.md), the saved plan (`plan -out FILE`) and the state file an apply leaves,
//! in a few scenarios against simulated hosts that together produce every step kind the
//! simulator can: a first apply of every kind (an engine installed, a daemon configuration,
//! files, networks, secrets, configs, a hosted and an external registry, a stack with a health
//! check, token rotation), a change touching every kind (replacements, a rotation, dockerd
//! restarts, a swarm update, a logout, a service labelled in place), a node removal with a
//! promotion, a destroy and an adoption. Only what varies between runs is filtered: the SSH
//! port the simulator listens on, Docker's ids, the state's lineage and serial, and the saved
//! plan's digest of the config (which hashes the port). The offline saved plan at the end is
//! pinned with its digest.

use swarmform_sim::{SimHostSpec, SimOptions, SimRole};

use crate::support::{Run, SMALL, SMALL_COMPOSE, Test, redacted};

/// The stack: a network, a secret and a config from the config file.
const APP: &str = "version: \"3.8\"
services:
  app:
    image: local/busybox:1
    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]
    deploy:
      replicas: {{vars.replicas}}
    networks: [app]
    secrets: [db]
    configs: [app]
networks:
  app:
    external: true
    name: {{networks.app}}
secrets:
  db:
    external: true
    name: {{secrets.db}}
configs:
  app:
    external: true
    name: {{configs.app}}
";

/// What the every-kind config says in each version: the first apply's, then the change's.
struct Version {
    log_level: &'static str,
    task_history_limit: u32,
    motd: &'static str,
    subnet: &'static str,
    replicas: u32,
    secret: &'static str,
    config: &'static str,
    /// Whether the external registry (logged in to on the managers) is declared.
    ghcr: bool,
    /// node2's `zone` label.
    zone: &'static str,
    /// node3's availability.
    availability: &'static str,
}

const FIRST: Version = Version {
    log_level: "info",
    task_history_limit: 5,
    motd: "managed by swarmform\n",
    subnet: "10.0.9.0/24",
    replicas: 2,
    secret: "s3cr3t-formats-1\n",
    config: "listen 8080\n",
    ghcr: true,
    zone: "a",
    availability: "pause",
};

/// Every kind changes: daemon.json (dockerd restarts), a swarm setting, the file, the
/// network's subnet (a replacement, and so the stack's), the secret's and the config's content
/// (new versions), the replicas, a label and an availability; the external registry is removed
/// (a logout).
const CHANGE: Version = Version {
    log_level: "warn",
    task_history_limit: 10,
    motd: "managed by swarmform, changed\n",
    subnet: "10.0.10.0/24",
    replicas: 3,
    secret: "s3cr3t-formats-2\n",
    config: "listen 8081\n",
    ghcr: false,
    zone: "b",
    availability: "active",
};

impl Version {
    fn workloads(&self) -> String {
        let ghcr = if self.ghcr {
            "\n[registries.ghcr]\nurl = \"ghcr.io\"\nusername = \"bot\"\npassword_env = \"GHCR_TOKEN\"\n"
        } else {
            ""
        };
        format!(
            r#"
[engine]
install = "if-missing"

[daemon]
on_destroy = "revert"

[daemon.json]
log-level = "{log_level}"

[swarm]
rotate_join_tokens = true
task_history_limit = {task_history_limit}

[files.motd]
path = "/etc/motd"
content = {motd:?}

[files.hosts]
path = "/etc/hosts"
line = "127.0.1.1 registry.test"

[networks.app]
subnet = "{subnet}"
attachable = true

[secrets.db]
file = "db.txt"

[configs.app]
file = "app.conf"

[registries.hub]
node = "node1"
image = "local/registry:2"
{ghcr}
[stacks.app]
template = "app.yml.hbs"
vars = {{ replicas = {replicas} }}

[stacks.app.health]
command = ["docker", "service", "inspect", "app_app"]
host = "node1"
retries = 3
interval = "10ms"
"#,
            log_level = self.log_level,
            task_history_limit = self.task_history_limit,
            motd = self.motd,
            subnet = self.subnet,
            replicas = self.replicas,
        )
    }

    /// Writes the config (node2's label and node3's availability among the hosts) and the
    /// files it reads.
    fn write(&self, cluster: &Test) {
        cluster.write_workloads(&self.workloads());
        let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
        let config = config
            .replacen(
                "[hosts.node2]\n",
                &format!("[hosts.node2]\nlabels = {{ zone = \"{}\" }}\n", self.zone),
                1,
            )
            .replacen(
                "[hosts.node3]\n",
                &format!("[hosts.node3]\navailability = \"{}\"\n", self.availability),
                1,
            );
        cluster.write("swarmform.toml", config);
        cluster.write("db.txt", self.secret);
        cluster.write("app.conf", self.config);
        cluster.write("app.yml.hbs", APP);
    }
}

/// Three hosts, node1 the manager, node3 without Docker, with [`FIRST`] written.
fn every_kind() -> Test {
    let options = SimOptions {
        hosts: vec![
            SimHostSpec::new("node1"),
            SimHostSpec::new("node2"),
            SimHostSpec::new("node3").without_docker(),
        ],
    };
    let cluster = Test::with_sim(options, 1);
    FIRST.write(&cluster);
    cluster
}

/// `swarmform ARGS` with the external registry's password in the environment.
fn run(cluster: &Test, args: &[&str]) -> Run {
    cluster
        .swarmform(args)
        .env("GHCR_TOKEN", "ghcr-token-formats")
        .run()
}

/// Runs `assertions` with the harness's filters (the simulator's SSH ports, Docker's ids,
/// UUIDs such as the lineage) and those of the formats: the serial, and the saved plan's digest
/// of the config (which hashes the port).
fn filtered<R>(test: &Test, assertions: impl FnOnce() -> R) -> R {
    test.redacted(|| {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r#""serial": \d+"#, r#""serial": [SERIAL]"#);
        settings.add_filter(
            r#""desired_digest": "sha256:[0-9a-f]{64}""#,
            r#""desired_digest": "[DIGEST]""#,
        );
        settings.bind(assertions)
    })
}

/// A document as swarmform writes it: pretty-printed JSON ending with one newline.
fn document(text: String) -> String {
    assert!(
        text.ends_with("}\n") && !text.ends_with("\n\n"),
        "not one JSON document ending with a newline:\n{text}"
    );
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|error| panic!("not JSON: {error}\n{text}"));
    text
}

/// The plan JSON, the saved plan and the state after applying that saved plan, snapshotted as
/// `NAME_plan_json`, `NAME_saved_plan` and `NAME_state`; `plan` names the planning arguments
/// (`--destroy`). The saved plan is applied, and a plan afterwards has nothing to do.
fn pin_formats(cluster: &Test, name: &str, plan: &[&str]) {
    let json: Vec<&str> = [&["plan", "--json"], plan].concat();
    let json = run(cluster, &json).success();
    assert_eq!(json.stderr(), "");
    let saved: Vec<&str> = [&["plan", "-out", "saved.plan"], plan].concat();
    run(cluster, &saved).success();
    let saved = std::fs::read_to_string(cluster.path("saved.plan")).expect("the saved plan");
    run(cluster, &["apply", "saved.plan"]).success();
    let state = cluster.state_text();
    filtered(cluster, || {
        insta::assert_snapshot!(format!("{name}_plan_json"), document(json.stdout()));
        insta::assert_snapshot!(format!("{name}_saved_plan"), document(saved));
        insta::assert_snapshot!(format!("{name}_state"), document(state));
    });
    let again: Vec<&str> = [&["plan", "--detailed-exitcode"], plan].concat();
    run(cluster, &again).success();
}

// A first apply of every kind: the engines installed (node3 has no Docker), daemon.json
// written and dockerd restarted, a file and a line, the swarm initialized with token rotation,
// nodes joined with labels and availability, a network, a secret and a config created, a
// hosted registry deployed and an external one logged in to, a stack deployed and checked.
#[test]
fn the_formats_of_a_first_apply() {
    let cluster = every_kind();
    pin_formats(&cluster, "first_apply", &[]);
}

// A change of every kind after that apply: daemon.json rewritten (dockerd restarts node by
// node), a swarm update, a file rewritten, the network replaced (and so the stack), the secret
// and the config replaced by new versions, labels and availability set, the external registry
// logged out of, and the hosted registry's service, whose labels were removed by hand,
// labelled in place.
#[test]
fn the_formats_of_a_change_of_every_kind() {
    let cluster = every_kind();
    run(&cluster, &["apply", "--auto-approve"]).success();
    run(
        &cluster,
        &[
            "exec",
            "--hosts",
            "node1",
            "--",
            "docker",
            "service",
            "update",
            "--label-rm",
            "swarmform.address",
            "--label-rm",
            "swarmform.lineage",
            "hub",
        ],
    )
    .success();
    CHANGE.write(&cluster);
    pin_formats(&cluster, "change", &[]);
}

// A destroy of that first apply: the stack, the registries and the objects removed, the
// workers drained, left and removed, the last manager leaving with `--force`, the files and
// the daemon configuration reverted, the engines forgotten; the state keeps no resource.
#[test]
fn the_formats_of_a_destroy() {
    let cluster = every_kind();
    run(&cluster, &["apply", "--auto-approve"]).success();
    pin_formats(&cluster, "destroy", &["--destroy"]);
}

/// Three managers and a worker with a daemon configuration, a file and a network.
const NODES: &str = r#"
[daemon]
on_destroy = "revert"

[daemon.json]
log-level = "info"

[files.motd]
path = "/etc/motd"
content = "managed by swarmform\n"

[networks.web]
subnet = "10.0.9.0/24"
"#;

// A manager removed from the config (drained, demoted, leaving and removed from a manager that
// stays; its file and daemon configuration reverted, its engine forgotten) while the worker is
// promoted in its place.
#[test]
fn the_formats_of_a_node_removal_and_a_promotion() {
    let cluster = Test::with_hosts(4, 3).workloads(NODES);
    run(&cluster, &["apply", "--auto-approve"]).success();
    let config = std::fs::read_to_string(cluster.path("swarmform.toml")).expect("config");
    let start = config.find("[hosts.node3]").expect("node3 in the config");
    let end = start + config[start..].find("\n\n").expect("the end of node3") + 2;
    let config = format!("{}{}", &config[..start], &config[end..]).replacen(
        "[hosts.node4]\naddress = \"127.0.1.4\"\nrole = \"worker\"\n",
        "[hosts.node4]\naddress = \"127.0.1.4\"\nrole = \"manager\"\n",
        1,
    );
    assert!(!config.contains("node3"), "{config}");
    assert!(config.contains("[hosts.node4]\naddress = \"127.0.1.4\"\nrole = \"manager\"\n"));
    cluster.write("swarmform.toml", config);
    pin_formats(&cluster, "node_removal", &[]);
}

// `[swarm] adopt = true`: the swarm the bootstrap manager is in is adopted instead of
// initialized, its members adopted (a worker the config makes a manager promoted on the way),
// and a fresh host joins.
#[test]
fn the_formats_of_an_adoption() {
    let options = SimOptions {
        hosts: vec![
            SimHostSpec::new("node1").in_swarm("old", SimRole::Manager),
            SimHostSpec::new("node2").in_swarm("old", SimRole::Worker),
            SimHostSpec::new("node3").in_swarm("old", SimRole::Worker),
            SimHostSpec::new("node4"),
        ],
    };
    let cluster = Test::with_sim(options, 2).workloads("[swarm]\nadopt = true\n");
    pin_formats(&cluster, "adoption", &[]);
}

// A saved plan made offline, where nothing varies but the lineage: pinned with its digest of
// the config, for a first plan and for a replacement against a recorded state.
#[test]
fn the_format_of_an_offline_saved_plan() {
    let test = Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE);
    test.run(&["plan", "--refresh=false", "-out", "saved.plan"])
        .success();
    insta::assert_snapshot!("offline_saved_plan", document(test.read("saved.plan")));
    let changed = SMALL.replace("10.0.9.0/24", "10.0.10.0/24");
    let test = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .applied()
        .config(&changed);
    test.run(&["plan", "--refresh=false", "-out", "saved.plan"])
        .success();
    let saved = document(test.read("saved.plan"));
    redacted(|| insta::assert_snapshot!("offline_saved_replacement", saved));
}
