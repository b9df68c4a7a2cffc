//! The order the kinds evaluate in: what a later kind reads from an earlier one (registry
//! trust and restarting files into the daemon, Docker names into a stack's dependencies).

use serde_json::{Value, json};

use crate::address::{Address, Kind};
use crate::config::test_desired;
use crate::resource::Resource;

const HOSTS: &str = r#"
[hosts.node1]
address = "192.0.2.11"
role = "manager"

[hosts.node2]
address = "192.0.2.12"
"#;

fn resource<'a>(resources: &'a [Resource], kind: Kind, name: &str) -> &'a Resource {
    resources
        .iter()
        .find(|resource| resource.address == Address::new(kind, name))
        .unwrap_or_else(|| panic!("no {kind:?} {name}"))
}

fn value<'a>(resource: &'a Resource, attribute: &str) -> &'a Value {
    &resource.attributes[attribute].value
}

// Registries are objects, evaluated before the hosts: every host's daemon trusts a hosted
// registry without TLS.
#[test]
fn a_hosted_registry_without_tls_is_insecure_on_every_daemon() {
    let desired = test_desired(
        &format!("{HOSTS}\n[registries.hub]\nnode = \"node1\"\n"),
        &[],
    );
    for host in ["node1", "node2"] {
        let daemon = resource(&desired.resources, Kind::Daemon, host);
        let json: Value = serde_json::from_str(
            value(daemon, "daemon_json")
                .as_str()
                .expect("daemon.json text"),
        )
        .expect("daemon.json");
        assert_eq!(json["insecure-registries"], json!(["192.0.2.11:5000"]));
    }
}

// Files evaluate before the daemons: a file that restarts dockerd is written before it.
#[test]
fn a_daemon_waits_for_the_files_that_restart_it() {
    let desired = test_desired(
        &format!(
            "{HOSTS}\n[daemon.json]\nlog-driver = \"local\"\n\n[files.ca]\npath = \"/etc/docker/certs.d/r/ca.crt\"\ncontent = \"pem\"\nrestarts_docker = true\nhosts = [\"node2\"]\n"
        ),
        &[],
    );
    let file = Address::new(Kind::File, "ca").on_host("node2");
    assert!(
        resource(&desired.resources, Kind::Daemon, "node2")
            .depends_on
            .contains(&file)
    );
    assert!(
        !resource(&desired.resources, Kind::Daemon, "node1")
            .depends_on
            .contains(&file)
    );
}

// Objects evaluate before stacks: a compose file's external network and an image from a
// declared registry are dependencies.
#[test]
fn a_stack_depends_on_what_its_compose_file_names() {
    let desired = test_desired(
        &format!(
            "{HOSTS}\n[networks.web]\n\n[registries.hub]\nnode = \"node1\"\n\n[stacks.web]\ncompose = \"web.yml\"\n"
        ),
        &[(
            "web.yml",
            "version: \"3.8\"\nservices:\n  web:\n    image: 192.0.2.11:5000/web:1\nnetworks:\n  default:\n    external: true\n    name: web\n",
        )],
    );
    let stack = resource(&desired.resources, Kind::Stack, "web");
    for dependency in [
        Address::new(Kind::Network, "web"),
        Address::new(Kind::Registry, "hub"),
        Address::swarm(),
        Address::every(Kind::Node),
    ] {
        assert!(
            stack.depends_on.contains(&dependency),
            "{dependency} missing from {:?}",
            stack.depends_on
        );
    }
}

// One resource per kind and host, the swarm on the bootstrap manager, sorted by address.
#[test]
fn every_host_has_an_engine_and_a_node_and_the_swarm_is_on_the_bootstrap_host() {
    let desired = test_desired(HOSTS, &[]);
    let addresses: Vec<&Address> = desired
        .resources
        .iter()
        .map(|resource| &resource.address)
        .collect();
    let mut sorted = addresses.clone();
    sorted.sort();
    assert_eq!(addresses, sorted);
    for host in ["node1", "node2"] {
        resource(&desired.resources, Kind::Engine, host);
        resource(&desired.resources, Kind::Node, host);
    }
    // No daemon settings: swarmform leaves dockerd alone.
    assert!(
        desired
            .resources
            .iter()
            .all(|resource| resource.address.kind != Kind::Daemon)
    );
    let swarm = resource(&desired.resources, Kind::Swarm, "");
    assert_eq!(swarm.host.as_deref(), Some("node1"));
    assert_eq!(desired.bootstrap, "node1");
    assert_eq!(desired.managers, ["node1"]);
}
