//! `swarmform validate`: a valid config passes; each mistake a user can make is an error naming
//! file:line:column with the offending snippet and what was expected.

use crate::test::{SMALL, SMALL_COMPOSE, Test};

// A correct config validates, and says what it found.
#[test]
fn a_valid_config_passes() {
    let run = Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE).arg("validate").run().success();
    assert_eq!(run.stderr(), "The config is valid: 3 hosts, 12 resources.\n");
}

// A reference to an undeclared host points at it and lists the hosts that exist.
#[test]
fn an_unknown_bootstrap_host_is_an_error() {
    let config = format!("{SMALL}\n[swarm]\nbootstrap = \"node9\"\n");
    let run = Test::new().config(&config).file("web.yml", SMALL_COMPOSE).arg("validate").run().failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: unknown host `node9`
      --> swarmform.toml:21:13
       |
    21 | bootstrap = "node9"
       |             ^^^^^^^ no host of that name is declared under [hosts]
       |
       = help: declared hosts: node1, node2, node3

    error: the config has 1 error; nothing was changed
    "#);
}
