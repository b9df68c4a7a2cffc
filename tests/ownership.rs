//! Ownership labels: what swarmform creates carries `swarmform.address` and
//! `swarmform.lineage`, so a refresh finds it again after a killed run (adopted, or removed
//! when superseded) and never touches another lineage's objects.

use std::collections::BTreeMap;

use crate::support::Test;

const SECRET: &str = "s3cr3t-db-password-7f3a";

const WORKLOADS: &str = r#"
[networks.web]
subnet = "10.0.9.0/24"
attachable = true
labels = { team = "web" }

[secrets.db]
file = "db.txt"

[configs.site]
file = "site.txt"

[stacks.web]
template = "web.yml.hbs"
"#;

const WEB: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    deploy:\n      labels: [\"team=web\"]\n    networks: [web]\n    secrets: [db]\n  worker:\n    image: local/busybox:1\n    command: [\"sleep\", \"3600\"]\nnetworks:\n  web:\n    external: true\n    name: {{networks.web}}\nsecrets:\n  db:\n    external: true\n    name: {{secrets.db}}\n";

fn start(workloads: &str) -> Test {
    Test::with_hosts(1, 1)
        .workloads(workloads)
        .file("db.txt", format!("{SECRET}\n"))
        .file("web.yml.hbs", WEB)
        .file("site.txt", "hello\n")
}

fn lineage(cluster: &Test) -> String {
    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    state["lineage"].as_str().expect("lineage").to_owned()
}

fn ours(labels: &BTreeMap<String, String>, address: &str, lineage: &str) -> bool {
    labels.get("swarmform.address").map(String::as_str) == Some(address)
        && labels.get("swarmform.lineage").map(String::as_str) == Some(lineage)
}

/// The secret names on the cluster.
fn secret_names(cluster: &Test) -> Vec<String> {
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("a swarm");
    swarm
        .secrets
        .iter()
        .map(|secret| secret.name.clone())
        .collect()
}

// Every network, secret, config and stack service an apply creates carries the address and
// lineage labels beside the user's own, and the next plan shows no change for them.
#[test]
fn every_kind_carries_the_ownership_labels_after_an_apply() {
    let cluster = start(WORKLOADS);
    cluster.apply();
    let lineage = lineage(&cluster);
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("a swarm");
    let network = swarm.network("web").expect("network web");
    assert!(
        ours(&network.labels, "network.web", &lineage),
        "{network:?}"
    );
    assert_eq!(network.labels.get("team").map(String::as_str), Some("web"));
    assert!(
        swarm
            .secrets
            .iter()
            .all(|secret| ours(&secret.labels, "secret.db", &lineage)),
        "{:?}",
        swarm.secrets
    );
    assert!(
        swarm
            .configs
            .iter()
            .all(|config| ours(&config.labels, "config.site", &lineage)),
        "{:?}",
        swarm.configs
    );
    for name in ["web_web", "web_worker"] {
        let service = swarm.service(name).expect(name);
        assert!(ours(&service.labels, "stack.web", &lineage), "{service:?}");
    }
    let web = swarm.service("web_web").expect("web_web");
    assert_eq!(web.labels.get("team").map(String::as_str), Some("web"));
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A hosted registry's service, config and secrets carry the labels too.
#[test]
fn a_hosted_registry_is_labelled() {
    let cluster =
        start("[registries.hub]\nnode = \"node1\"\nport = 5000\nimage = \"local/registry:2\"\n");
    cluster.apply();
    let lineage = lineage(&cluster);
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("a swarm");
    let service = swarm.service("hub").expect("service hub");
    assert!(
        ours(&service.labels, "registry.hub", &lineage),
        "{service:?}"
    );
    assert!(
        swarm
            .configs
            .iter()
            .all(|config| ours(&config.labels, "registry.hub", &lineage)),
        "{:?}",
        swarm.configs
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A network created by a run killed before it recorded the creation (the state still has
// the pending mark) is adopted by the refresh, and the next apply creates nothing.
#[test]
fn a_network_created_but_never_recorded_is_adopted() {
    let cluster = start("[networks.web]\nsubnet = \"10.0.9.0/24\"\n");
    cluster.apply();
    // Roll the state back to the moment before the creation was recorded.
    let mut state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    let resources = state["resources"].as_array_mut().expect("resources");
    let network = resources
        .iter_mut()
        .find(|resource| resource["address"] == "network.web")
        .expect("network.web recorded");
    network["pending"] = serde_json::Value::Bool(true);
    network
        .as_object_mut()
        .expect("an object")
        .remove("remote_id");
    cluster.write(
        "swarmform.state.json",
        serde_json::to_string_pretty(&state).expect("json"),
    );

    let plan = cluster.run(&["plan", "--detailed-exitcode"]).success();
    let stderr = plan.stderr();
    assert!(
        stderr.contains(
            "Drift: `network.web`: network web exists on the cluster but was never recorded (an apply was interrupted after creating it); adopted"
        ),
        "{stderr}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!(stderr, @"Drift: `network.web`: network web exists on the cluster but was never recorded (an apply was interrupted after creating it); adopted");
        insta::assert_snapshot!(plan.stdout(), @"No changes. The cluster matches the configuration.");
    });
    let from = cluster.commands_so_far("node1");
    cluster.apply();
    assert!(
        !cluster.sim().commands("node1")[from..]
            .iter()
            .any(|command| command.contains("network create")),
        "{:#?}",
        &cluster.sim().commands("node1")[from..]
    );
    let state = cluster.state_text();
    assert!(!state.contains("\"pending\""), "{state}");
    assert!(state.contains("\"remote_id\""), "{state}");
}

// A secret version left behind by a rotation killed between creating the new version and
// removing the old one (the state records only the new one) is removed by the next plan,
// which says so; the plan after that apply finds nothing to do.
#[test]
fn a_superseded_secret_version_is_removed_by_the_next_plan() {
    let cluster = start(WORKLOADS);
    cluster.apply();
    let old = secret_names(&cluster);
    assert_eq!(old.len(), 1, "{old:?}");
    let state_before = cluster.state_text();
    cluster.write("db.txt", "a-new-password\n");
    cluster.apply();
    // The rotation went through; put the old version back as a killed run would have left
    // it: on the cluster with its labels, unknown to the state.
    let lineage = lineage(&cluster);
    let old_name = old[0].clone();
    let recreate = format!(
        "printf x | docker secret create --label swarmform.address=secret.db --label swarmform.lineage={lineage} {old_name} -"
    );
    cluster
        .run(&["exec", "--hosts", "node1", "--", "sh", "-c", &recreate])
        .success();
    assert_ne!(state_before, cluster.state_text());

    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stdout = plan.stdout();
    let words =
        format!("`secret.db`: {old_name} is a superseded version that nothing uses; removed");
    assert!(stdout.contains(&words), "{stdout}");
    assert!(
        stdout.contains(&format!("docker secret rm {old_name}")),
        "{stdout}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!("superseded_secret_plan", stdout);
        insta::assert_snapshot!(plan.stderr(), @"");
    });
    cluster.apply();
    let names = secret_names(&cluster);
    assert!(!names.contains(&old_name), "{names:?}");
    assert_eq!(names.len(), 1, "{names:?}");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A rotation whose deploy fails leaves the old secret version still used by the stack and no
// longer recorded (the state records the new one): the next apply deploys the stack, then
// removes the old version, and the plan after it finds nothing to do.
#[test]
fn a_rotation_cut_short_before_the_deploy_converges_in_one_apply() {
    let cluster = start(WORKLOADS);
    cluster.apply();
    let old_name = secret_names(&cluster)[0].clone();
    cluster.write("db.txt", "a-new-password\n");
    cluster.sim().fail(
        "node1",
        "stack deploy",
        1,
        "Error response from daemon: rpc error: code = Unavailable",
    );
    cluster.run(&["apply", "--auto-approve"]).failure();
    cluster.sim().clear_faults("node1");
    let names = secret_names(&cluster);
    assert!(names.contains(&old_name), "{names:?}");
    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    let recorded = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["address"] == "secret.db")
        .expect("secret.db");
    assert_ne!(recorded["docker_name"], old_name.as_str(), "{recorded}");

    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stdout = plan.stdout();
    assert!(
        stdout.contains(&format!(
            "`secret.db`: {old_name} is a superseded version that only `stack.web` still uses; removed once it is deployed"
        )),
        "{stdout}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!("rotation_cut_short_plan", stdout);
        insta::assert_snapshot!(plan.stderr(), @"");
    });
    cluster.apply();
    let names = secret_names(&cluster);
    assert!(!names.contains(&old_name), "{names:?}");
    assert_eq!(names.len(), 1, "{names:?}");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A network of ours that neither the config nor the state has (its resource was removed from
// the config after a killed run created it) is removed by the plan, which says so.
#[test]
fn an_object_of_ours_nobody_wants_is_removed() {
    let cluster = start("[networks.web]\nsubnet = \"10.0.9.0/24\"\n");
    cluster.apply();
    let lineage = lineage(&cluster);
    cluster.by_hand(
        "node1",
        &[
            "network",
            "create",
            "--driver",
            "overlay",
            "--label",
            "swarmform.address=network.old",
            "--label",
            &format!("swarmform.lineage={lineage}"),
            "old",
        ],
    );
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stdout = plan.stdout();
    assert!(
        stdout.contains(
            "`network.old`: network old is swarmform's, but neither the config nor the state has it; removed"
        ),
        "{stdout}"
    );
    cluster.redacted(|| {
        insta::assert_snapshot!("unwanted_network_plan", stdout);
        insta::assert_snapshot!(plan.stderr(), @"");
    });
    cluster.apply();
    assert!(
        cluster
            .snapshot()
            .swarm()
            .expect("a swarm")
            .network("old")
            .is_none()
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// Objects labelled with another state's lineage, and unlabelled objects, are left alone, even
// when they name one of our addresses.
#[test]
fn another_lineages_objects_are_left_alone() {
    let cluster = start(WORKLOADS);
    cluster.apply();
    cluster.by_hand(
        "node1",
        &[
            "network",
            "create",
            "--driver",
            "overlay",
            "--label",
            "swarmform.address=network.web",
            "--label",
            "swarmform.lineage=another-lineage",
            "theirs",
        ],
    );
    cluster
        .run(&[
            "exec",
            "--hosts",
            "node1",
            "--",
            "sh",
            "-c",
            "printf x | docker secret create --label swarmform.address=secret.db --label swarmform.lineage=another-lineage db-theirs - && printf y | docker secret create handmade -",
        ])
        .success();
    cluster.run(&["plan", "--detailed-exitcode"]).success();
    cluster.apply();
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("a swarm");
    assert!(swarm.network("theirs").is_some());
    let names = secret_names(&cluster);
    assert!(names.iter().any(|name| name == "db-theirs"), "{names:?}");
    assert!(names.iter().any(|name| name == "handmade"), "{names:?}");
}

// A cluster made before the labels (its objects unlabelled, recorded in the state) plans no
// change for the objects Docker cannot relabel; a hosted registry's service gets its labels
// in place on the next apply.
#[test]
fn objects_made_before_the_labels_are_found_by_name_and_services_labelled() {
    let cluster = start(
        "[networks.web]\nsubnet = \"10.0.9.0/24\"\n\n[registries.hub]\nnode = \"node1\"\nport = 5000\nimage = \"local/registry:2\"\n",
    );
    cluster.apply();
    // An earlier version's cluster: the same objects, without the labels.
    cluster
        .run(&[
            "exec",
            "--hosts",
            "node1",
            "--",
            "sh",
            "-c",
            "docker service update --detach --label-rm swarmform.address --label-rm swarmform.lineage hub && docker network rm web && docker network create --driver overlay --subnet 10.0.9.0/24 web",
        ])
        .success();
    let plan = cluster.run(&["plan", "--detailed-exitcode"]).status(2);
    let stdout = plan.stdout();
    assert!(
        stdout.contains("add the ownership labels to service hub"),
        "{stdout}"
    );
    assert!(!stdout.contains("network.web"), "{stdout}");
    cluster.redacted(|| {
        insta::assert_snapshot!("made_before_the_labels_plan", stdout);
        insta::assert_snapshot!(plan.stderr(), @"");
    });
    cluster.apply();
    let lineage = lineage(&cluster);
    let snapshot = cluster.snapshot();
    let hub = snapshot
        .swarm()
        .expect("a swarm")
        .service("hub")
        .expect("hub");
    assert!(ours(&hub.labels, "registry.hub", &lineage), "{hub:?}");
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}

// A label key starting with `swarmform.` is swarmform's own: validate refuses it where it is
// written.
#[test]
fn a_reserved_label_key_is_refused_by_validate() {
    let stderr = Test::new()
        .config("[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n\n[networks.web]\nlabels = { \"swarmform.x\" = \"a\" }\n")
        .run(&["validate"])
        .failure()
        .stderr();
    insta::assert_snapshot!(stderr, @r#"
    error: `swarmform.x` is a reserved label key
     --> swarmform.toml:6:12
      |
    6 | labels = { "swarmform.x" = "a" }
      |            ^^^^^^^^^^^^^ this key
      |
      = help: label keys starting with `swarmform.` are swarmform's own: it marks what it creates with `swarmform.address` and `swarmform.lineage`; rename this label

    error: the config has 1 error; nothing was changed
    "#);
}

// A hosted registry removed from the config goes with its own config (and secrets): nothing of
// it is left in the swarm, and the plan after the apply is empty.
#[test]
fn a_removed_registry_takes_its_config_along() {
    let cluster =
        start("[registries.hub]\nnode = \"node1\"\nport = 5000\nimage = \"local/registry:2\"\n");
    cluster.apply();
    assert!(
        !cluster
            .snapshot()
            .swarm()
            .expect("a swarm")
            .configs
            .is_empty()
    );
    cluster.write_workloads("");
    cluster.apply();
    let snapshot = cluster.snapshot();
    let swarm = snapshot.swarm().expect("a swarm");
    assert!(swarm.service("hub").is_none(), "{swarm:?}");
    assert!(swarm.configs.is_empty(), "{:?}", swarm.configs);
    assert!(swarm.secrets.is_empty(), "{:?}", swarm.secrets);
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}
