//! Configs several suites share.

/// A three-node cluster: one manager, two workers, a network and a stack.
pub const SMALL: &str = r#"
[hosts.node1]
address = "192.0.2.11"
role = "manager"

[hosts.node2]
address = "192.0.2.12"
labels = { zone = "a" }

[hosts.node3]
address = "192.0.2.13"

[networks.web]
subnet = "10.0.9.0/24"
attachable = true

[stacks.web]
compose = "web.yml"
"#;

/// The compose file of [`SMALL`]'s stack.
pub const SMALL_COMPOSE: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    networks: [web]\nnetworks:\n  web:\n    external: true\n";
