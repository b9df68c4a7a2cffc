//! Host facts and preflight through the real binary, against simulated hosts: what a
//! refreshing plan reads from every host (one script each), what it shows, what it warns
//! about, what it refuses, and `[swarm] adopt = true`.

use swarmform_sim::{SimHostSpec, SimOptions, SimRole};

use crate::support::Test;

/// `specs` as hosts, the first `managers` of them managers; `extra` follows the hosts in the
/// config.
fn start(specs: Vec<SimHostSpec>, managers: usize, extra: &str) -> Test {
    Test::with_sim(SimOptions { hosts: specs }, managers).workloads(extra)
}

/// The lines of the text plan's Hosts section.
fn hosts_section(stdout: &str) -> String {
    let start = stdout.find("Hosts:\n").expect("a Hosts section");
    let rest = &stdout[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end].to_owned()
}

// The first plan of a new cluster (no state) reads every host with one script and shows each
// host's OS, architecture, Docker version and swarm state before the changes; the JSON lists
// them too.
#[test]
fn the_first_plan_shows_every_hosts_facts() {
    let hosts = Test::with_hosts(3, 1);
    let plan = hosts.run(&["plan"]).success();
    insta::assert_snapshot!(hosts_section(&plan.stdout()), @"
    Hosts:
      node1  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: inactive
      node2  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: inactive
      node3  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: inactive
    ");
    let stdout = plan.stdout();
    assert!(
        stdout.find("Hosts:") < stdout.find("swarmform will perform the following actions:"),
        "{stdout}"
    );
    assert!(!stdout.contains("Warning:"), "{stdout}");
    for name in ["node1", "node2", "node3"] {
        let commands = hosts.sim().commands(name);
        assert_eq!(commands.len(), 1, "{name}: {commands:#?}");
        assert!(
            commands[0].contains("docker info --format") && commands[0].contains("ip -j addr show"),
            "{}",
            commands[0]
        );
    }

    let json = hosts.run(&["plan", "--json"]).success();
    let document: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    let facts = &document["hosts"];
    assert_eq!(facts.as_array().map(Vec::len), Some(3), "{facts:#}");
    assert_eq!(facts[1]["host"], "node2");
    assert_eq!(facts[1]["reachable"], true);
    assert_eq!(facts[1]["hostname"], "node2");
    assert_eq!(facts[1]["docker_version"], "20.10.24+dfsg1");
    assert_eq!(facts[1]["swarm"], "inactive");
    assert_eq!(facts[1]["role"], serde_json::Value::Null);
    let address = hosts.sim().hosts()[1].address.to_string();
    assert!(
        facts[1]["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .any(|entry| entry["address"] == address.as_str()
                && entry["interface"] == "eth0"
                && entry["dynamic"] == false),
        "{facts:#}"
    );

    let markdown = hosts.run(&["plan", "--markdown"]).success();
    assert!(
        markdown.stdout().contains(
            "| `node1` | Debian GNU/Linux 12 (bookworm) | x86_64 | Docker 20.10.24+dfsg1 | swarm: inactive |"
        ),
        "{}",
        markdown.stdout()
    );
    hosts.redacted(|| insta::assert_snapshot!("markdown_plan_with_hosts", markdown.stdout()));
}

// A host without Docker says so, and whether the plan installs it: with `install =
// "if-missing"` it will be installed; with the default `require` the plan warns that the apply
// would fail there.
#[test]
fn a_bare_host_shows_docker_not_installed() {
    let specs = vec![
        SimHostSpec::new("node1"),
        SimHostSpec::new("node2").without_docker(),
    ];
    let hosts = start(specs, 1, "[engine]\ninstall = \"if-missing\"\n");
    let plan = hosts.run(&["plan"]).success();
    insta::assert_snapshot!(hosts_section(&plan.stdout()), @"
    Hosts:
      node1  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: inactive
      node2  Debian GNU/Linux 12 (bookworm)  x86_64  Docker: not installed (will be installed)
    ");
    assert!(!plan.stdout().contains("Warning:"), "{}", plan.stdout());

    hosts.write_workloads("");
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.contains("  node2  Debian GNU/Linux 12 (bookworm)  x86_64  Docker: not installed\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Warning: Docker is not installed on node2 and `[engine] install = \"require\"`"
        ),
        "{stdout}"
    );
    hosts.redacted(|| insta::assert_snapshot!("docker_required_but_missing_plan", stdout));
}

// Docker versions that differ across the cluster are a warning listing each host's version.
#[test]
fn differing_docker_versions_warn() {
    let specs = vec![
        SimHostSpec::new("node1"),
        SimHostSpec::new("node2").docker_version("24.0.5"),
        SimHostSpec::new("node3"),
    ];
    let hosts = start(specs, 1, "");
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.starts_with(
            "Warning: Docker versions differ across the cluster: 20.10.24+dfsg1, 24.0.5\n  node1 → 20.10.24+dfsg1\n  node2 → 24.0.5\n  node3 → 20.10.24+dfsg1\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  node2  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 24.0.5  "),
        "{stdout}"
    );
    hosts.redacted(|| insta::assert_snapshot!("differing_docker_versions_plan", stdout));
}

// Docker 26 answers `docker info --format` with empty values and exit status 0 when dockerd
// is down (seen on the lab): the plan shows that host's dockerd as not answering, with
// Docker's words in the JSON, not as a Docker of no version in no swarm. (Its OS is not
// read then: the facts' fallbacks run only when `docker info` fails, as 20.10's does.)
#[test]
fn a_stopped_dockerd_on_docker_26_is_no_answer() {
    let specs = vec![
        SimHostSpec::new("node1").docker_version("26.1.5+dfsg1"),
        SimHostSpec::new("node2").docker_version("26.1.5+dfsg1"),
    ];
    let hosts = start(specs, 1, "");
    hosts
        .run(&[
            "exec",
            "--hosts",
            "node2",
            "--",
            "systemctl",
            "stop",
            "docker",
        ])
        .success();
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("  node2  unknown OS")
                && line.ends_with("Docker: dockerd not answering")),
        "{stdout}"
    );
    let json = hosts.run(&["plan", "--json"]).success();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    let node2 = plan["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|host| host["host"] == "node2"))
        .unwrap_or_else(|| panic!("node2 in {plan}"));
    assert_eq!(
        node2["docker_error"],
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        "{node2}"
    );
    assert!(
        node2
            .get("docker_version")
            .is_none_or(serde_json::Value::is_null),
        "{node2}"
    );
}

// Two hosts with the same hostname refuse the plan: placement by node.hostname would be
// ambiguous.
#[test]
fn duplicate_hostnames_are_refused() {
    let specs = vec![
        SimHostSpec::new("node1"),
        SimHostSpec::new("node2").hostname("web"),
        SimHostSpec::new("node3").hostname("web"),
    ];
    let hosts = start(specs, 1, "");
    let plan = hosts.run(&["plan"]).failure();
    assert_eq!(plan.stdout(), "");
    insta::assert_snapshot!(plan.stderr(), @"
    error: `node2` and `node3` have the same hostname `web`: placement by `node.hostname` (the registry's constraint) would be ambiguous
    hint: give each host a unique hostname (`hostnamectl set-hostname NAME` on the host)
    ");
}

// A host already in a swarm the state does not record is refused, with the way out; with
// `adopt = true` it is still refused when its swarm is not the bootstrap manager's.
#[test]
fn a_host_in_another_swarm_is_refused() {
    let specs = vec![
        SimHostSpec::new("node1"),
        SimHostSpec::new("node2"),
        SimHostSpec::new("node3").in_swarm("other", SimRole::Manager),
    ];
    let hosts = start(specs, 1, "");
    let plan = hosts.run(&["plan"]).failure();
    let stderr = plan.stderr();
    let cluster = hosts.sim().snapshot().swarms[0].id.clone();
    assert_eq!(
        stderr,
        format!(
            "error: `node3` is already in swarm {cluster}, which the state does not record\nhint: leave it first (`docker swarm leave --force` on node3), or set `adopt = true` under `[swarm]` to take over the swarm the bootstrap manager `node1` manages\n"
        )
    );

    hosts.write_workloads("[swarm]\nadopt = true\n");
    let plan = hosts.run(&["plan"]).failure();
    assert!(
        plan.stderr().starts_with(&format!(
            "error: `node3` is already in swarm {cluster}, which the state does not record\n"
        )),
        "{}",
        plan.stderr()
    );
}

// With `adopt = true`, the swarm the bootstrap manager manages is adopted instead of
// initialized, its members are adopted instead of joined (a worker the config makes a manager
// is promoted), a fresh host joins it, and after the apply a second plan has nothing to do.
// A host in a different swarm stays an error.
#[test]
fn adopt_takes_over_the_bootstrap_managers_swarm() {
    let specs = vec![
        SimHostSpec::new("node1").in_swarm("old", SimRole::Manager),
        SimHostSpec::new("node2").in_swarm("old", SimRole::Worker),
        SimHostSpec::new("node3").in_swarm("old", SimRole::Worker),
        SimHostSpec::new("node4"),
    ];
    let hosts = start(specs, 2, "[swarm]\nadopt = true\n");
    let cluster = hosts.sim().snapshot().swarms[0].id.clone();
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    insta::with_settings!({filters => vec![(cluster.as_str(), "[CLUSTER]")]}, {
        insta::assert_snapshot!(hosts_section(&stdout), @"
        Hosts:
          node1  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: active, manager
          node2  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: active, worker
          node3  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: active, worker
          node4  Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24+dfsg1  swarm: inactive
        ");
    });
    assert!(
        stdout.contains(&format!(
            "1. adopt the existing swarm {cluster} on node1 (instead of docker swarm init)"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("docker swarm init on"), "{stdout}");
    assert!(
        stdout.contains(
            "adopt the node, a worker of the swarm, and promote it to manager (from node1)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("adopt the node, already a worker of the swarm (checked from node1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("join as worker with a token read from node1"),
        "{stdout}"
    );
    hosts.redacted(|| insta::assert_snapshot!("adoption_plan", stdout));

    let applied = hosts.run(&["apply", "--auto-approve"]).success();
    assert!(
        applied.stderr().contains("Apply complete!"),
        "{}",
        applied.stderr()
    );
    let snapshot = hosts.sim().snapshot();
    assert_eq!(snapshot.swarms.len(), 1, "{snapshot:#?}");
    let swarm = &snapshot.swarms[0];
    assert_eq!(swarm.id, cluster);
    assert_eq!(swarm.nodes.len(), 4, "{swarm:#?}");
    assert_eq!(swarm.managers.len(), 2, "{swarm:#?}");
    for name in ["node1", "node2", "node3", "node4"] {
        assert!(
            !hosts
                .sim()
                .commands(name)
                .iter()
                .any(|line| line.contains("swarm init")),
            "{name}"
        );
    }
    let state = std::fs::read_to_string(hosts.path("swarmform.state.json")).expect("state");
    assert!(state.contains(&cluster), "{state}");

    let again = hosts.run(&["plan", "--detailed-exitcode"]).success();
    assert!(
        again
            .stdout()
            .contains("\nNo changes. The cluster matches the configuration.\n"),
        "{}",
        again.stdout()
    );
}

// With `adopt = true`, a host in a different swarm than the adopted one stays an error.
#[test]
fn adopt_refuses_a_host_of_a_different_swarm() {
    let specs = vec![
        SimHostSpec::new("node1").in_swarm("old", SimRole::Manager),
        SimHostSpec::new("node2").in_swarm("stray", SimRole::Manager),
    ];
    let hosts = start(specs, 1, "[swarm]\nadopt = true\n");
    let snapshot = hosts.sim().snapshot();
    let id_of = |host: &str| {
        snapshot
            .swarms
            .iter()
            .find(|swarm| swarm.nodes.iter().any(|node| node.hostname == host))
            .map(|swarm| swarm.id.clone())
            .expect("a swarm")
    };
    let (adopted, stray) = (id_of("node1"), id_of("node2"));
    let plan = hosts.run(&["plan"]).failure();
    assert_eq!(
        plan.stderr(),
        format!(
            "error: `node2` is already in swarm {stray}, not in the swarm {adopted} being adopted\nhint: leave it first (`docker swarm leave --force` on node2); it then joins the adopted swarm\n"
        )
    );
}

// A host that does not answer is shown as unreachable and named in a warning; the plan is
// still made.
#[test]
fn an_unreachable_host_is_shown_and_warned() {
    let hosts = Test::with_hosts(2, 1);
    let config = std::fs::read_to_string(hosts.path("swarmform.toml")).expect("config");
    let config =
        format!("{config}\n[hosts.node9]\naddress = \"127.0.0.1\"\nssh = {{ port = 1 }}\n");
    hosts.write("swarmform.toml", config);
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.starts_with(
            "Warning: 1 host could not be reached: node9\n  node9: connection refused\n"
        ),
        "{stdout}"
    );
    assert!(
        hosts_section(&stdout).ends_with("\n  node9  unreachable: connection refused"),
        "{stdout}"
    );
    hosts.redacted(|| insta::assert_snapshot!("unreachable_host_plan", stdout));
}

// A manager whose address is a DHCP lease is a warning: if it changes, the swarm hangs.
#[test]
fn a_dynamic_manager_address_warns() {
    let specs = vec![
        SimHostSpec::new("node1").dynamic_address(),
        SimHostSpec::new("node2").dynamic_address(),
    ];
    let hosts = start(specs, 1, "");
    let address = hosts.sim().hosts()[0].address.to_string();
    let plan = hosts.run(&["plan"]).success();
    let stdout = plan.stdout();
    assert!(
        stdout.starts_with(&format!(
            "Warning: manager address that may change\n  node1 advertises {address}, a DHCP lease\n  Every node reaches the managers"
        )),
        "{stdout}"
    );
    // node2 is a worker: its lease does not matter to the swarm.
    assert!(!stdout.contains("node2 advertises"), "{stdout}");
    let stdout = stdout.replace(&address, "[ADDRESS]");
    hosts.redacted(|| insta::assert_snapshot!("dhcp_manager_plan", stdout));
}

// `--refresh=false` reads nothing: no host receives a single command, and the plan says the
// facts were not read.
#[test]
fn refresh_false_reads_nothing() {
    let hosts = Test::with_hosts(3, 1);
    let plan = hosts.run(&["plan", "--refresh=false"]).success();
    for name in ["node1", "node2", "node3"] {
        assert_eq!(hosts.sim().commands(name), Vec::<String>::new(), "{name}");
    }
    let stdout = plan.stdout();
    assert!(!stdout.contains("Hosts:"), "{stdout}");
    assert!(
        stdout.contains("the hosts' facts (OS, Docker, swarm membership) were not read or checked"),
        "{stdout}"
    );
    hosts.redacted(|| insta::assert_snapshot!("offline_plan_of_simulated_hosts", stdout));
    let json = hosts.run(&["plan", "--refresh=false", "--json"]).success();
    let document: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    assert_eq!(document["hosts"], serde_json::json!([]));
    assert_eq!(document["refreshed"], false);
}
