//! `swarmform validate`: a valid config passes; each mistake a user can make is an error naming
//! file:line:column with the offending snippet and what was expected.

use crate::support::{SMALL, SMALL_COMPOSE, Test};

/// One manager, nothing else: the smallest valid config, to append a mistake to.
const ONE: &str = "[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n";

/// Runs `validate` on `config`, asserts it fails, and returns stderr.
fn error(config: &str) -> String {
    Test::new()
        .config(config)
        .run(&["validate"])
        .failure()
        .stderr()
}

/// Runs `validate` on `config`, asserts it passes, and returns stderr.
fn passes(config: &str) -> String {
    Test::new()
        .config(config)
        .run(&["validate"])
        .success()
        .stderr()
}

// A correct config validates, and says what it found.
#[test]
fn a_valid_config_passes() {
    let run = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["validate"])
        .success();
    assert_eq!(run.stderr(), "The config is valid: 3 hosts, 9 resources.\n");
}

// A missing config file is an error saying how to make one.
#[test]
fn a_missing_config_says_how_to_start() {
    let run = Test::new().run(&["validate"]).failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: cannot read the config `swarmform.toml`: No such file or directory (os error 2)
     |
     = help: run `swarmform init` to write a starter config, or pass `--config FILE`

    error: the config has 1 error; nothing was changed
    ");
}

// A reference to an undeclared host points at it and lists the hosts that exist.
#[test]
fn an_unknown_bootstrap_host_is_an_error() {
    let config = format!("{SMALL}\n[swarm]\nbootstrap = \"node9\"\n");
    let run = Test::new()
        .config(&config)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["validate"])
        .failure();
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

// A TOML syntax error points at the position where the parser gave up.
#[test]
fn a_toml_syntax_error_points_at_the_position() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[hosts.node2\naddress = \"192.0.2.12\"\n")), @"
    error: unclosed table, expected `]`
     --> swarmform.toml:5:13
      |
    5 | [hosts.node2
      |             ^ here
      |
      = help: fix the TOML at this position

    error: the config has 1 error; nothing was changed
    ");
}

// A misspelt key is refused, naming the keys the table accepts.
#[test]
fn an_unknown_key_lists_the_expected_keys() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[hosts.node2]\nadress = \"192.0.2.12\"\n")), @r#"
    error: unknown field `adress`, expected one of `address`, `role`, `availability`, `labels`, `ssh`, `daemon`, `advertise_addr`, `data_path_addr`
     --> swarmform.toml:6:1
      |
    6 | adress = "192.0.2.12"
      | ^^^^^^ here
      |
      = help: see the config reference in README.md for the keys each table accepts

    error: the config has 1 error; nothing was changed
    "#);
}

// A value of the wrong type says which type was expected.
#[test]
fn a_value_of_the_wrong_type_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\nattachable = \"yes\"\n")), @r#"
    error: invalid type: string "yes", expected a boolean
     --> swarmform.toml:6:14
      |
    6 | attachable = "yes"
      |              ^^^^^ here
      |
      = help: fix the TOML at this position

    error: the config has 1 error; nothing was changed
    "#);
}

// A hosted registry on an undeclared host points at the host name.
#[test]
fn an_unknown_registry_node_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[registries.cache]\nnode = \"node9\"\n")), @r#"
    error: unknown host `node9`
     --> swarmform.toml:6:8
      |
    6 | node = "node9"
      |        ^^^^^^^ no host of that name is declared under [hosts]
      |
      = help: declared hosts: node1

    error: the config has 1 error; nothing was changed
    "#);
}

// A file for an undeclared host points at that host in the list.
#[test]
fn an_unknown_file_host_is_an_error() {
    let config = format!(
        "{ONE}\n[files.motd]\npath = \"/etc/motd\"\ncontent = \"hello\"\nhosts = [\"node1\", \"node9\"]\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: unknown host `node9`
     --> swarmform.toml:8:19
      |
    8 | hosts = ["node1", "node9"]
      |                   ^^^^^^^ no host of that name is declared under [hosts]
      |
      = help: declared hosts: node1

    error: the config has 1 error; nothing was changed
    "#);
}

// `trusted_by` accepts a list of declared host names.
#[test]
fn trusted_by_accepts_a_list_of_hosts() {
    let config = format!("{ONE}\n[registries.cache]\nnode = \"node1\"\ntrusted_by = [\"node1\"]\n");
    assert_eq!(
        passes(&config),
        "The config is valid: 1 host, 5 resources.\n"
    );
}

// An undeclared host in `trusted_by` is an unknown-host error at that name.
#[test]
fn an_unknown_trusted_by_host_is_an_error() {
    let config = format!(
        "{ONE}\n[registries.cache]\nnode = \"node1\"\ntrusted_by = [\"node1\", \"node9\"]\n"
    );
    let stderr = error(&config);
    assert!(
        stderr.starts_with("error: unknown host `node9`\n --> swarmform.toml:7:24\n"),
        "{stderr}"
    );
    assert!(stderr.contains("= help: declared hosts: node1"), "{stderr}");
    assert!(!stderr.contains("untagged enum"), "{stderr}");
}

// `trusted_by` is either "all" or a list: another word is refused.
#[test]
fn trusted_by_another_word_is_an_error() {
    let config =
        format!("{ONE}\n[registries.cache]\nnode = \"node1\"\ntrusted_by = \"everyone\"\n");
    insta::assert_snapshot!(error(&config), @r#"
    error: `trusted_by = "everyone"` is not understood
     --> swarmform.toml:7:14
      |
    7 | trusted_by = "everyone"
      |              ^^^^^^^^^^ expected "all" or a list of host names

    error: the config has 1 error; nothing was changed
    "#);
}

// A host declared both in an included file and in the root is an error at the second one.
#[test]
fn a_host_declared_in_an_include_and_the_root_is_an_error() {
    let config = format!("include = [\"lab.toml\"]\n\n{ONE}");
    let run = Test::new()
        .config(&config)
        .file("lab.toml", "[hosts.node1]\naddress = \"192.0.2.99\"\n")
        .run(&["validate"])
        .failure();
    let stderr = run.stderr();
    assert!(
        stderr.starts_with("error: host `node1` is declared twice\n --> lab.toml:1:8\n"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("error: the config has 1 error; nothing was changed\n"),
        "{stderr}"
    );
}

// The duplicate-host error says where the first declaration is as file:line:column.
#[test]
fn a_duplicate_host_names_the_first_declaration() {
    let config = format!("include = [\"lab.toml\"]\n\n{ONE}");
    let run = Test::new()
        .config(&config)
        .file("lab.toml", "[hosts.node1]\naddress = \"192.0.2.99\"\n")
        .run(&["validate"])
        .failure();
    let stderr = run.stderr();
    assert!(stderr.contains("swarmform.toml:3:8"), "{stderr}");
    assert!(!stderr.contains("byte"), "{stderr}");
}

// Two hosts with the same address and SSH port are one machine declared twice.
#[test]
fn two_hosts_with_the_same_address_and_port_are_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[hosts.node2]\naddress = \"192.0.2.11\"\n")), @r#"
    error: hosts `node1` and `node2` have the same address `192.0.2.11` and SSH port 22
     --> swarmform.toml:6:11
      |
    6 | address = "192.0.2.11"
      |           ^^^^^^^^^^^^ duplicate address
      |
      = help: each host must be a different machine

    error: the config has 1 error; nothing was changed
    "#);
}

// The same address with different SSH ports is two machines (behind a NAT, say).
#[test]
fn the_same_address_with_another_ssh_port_is_fine() {
    let config =
        format!("{ONE}\n[hosts.node2]\naddress = \"192.0.2.11\"\nssh = {{ port = 2222 }}\n");
    assert_eq!(
        passes(&config),
        "The config is valid: 2 hosts, 5 resources.\n"
    );
}

// A config without hosts says how to declare one.
#[test]
fn a_config_without_hosts_is_an_error() {
    insta::assert_snapshot!(error("[networks.web]\n"), @r#"
    error: the config declares no hosts
     --> swarmform.toml:1:1
      |
    1 | [networks.web]
      | ^ in this file
      |
      = help: declare at least one manager: `[hosts.node1]` with `address = "..."` and `role = "manager"`

    error: the config has 1 error; nothing was changed
    "#);
}

// A config without a manager says a swarm needs one.
#[test]
fn a_config_without_a_manager_is_an_error() {
    insta::assert_snapshot!(error("[hosts.node1]\naddress = \"192.0.2.11\"\n"), @r#"
    error: the config declares no manager
     --> swarmform.toml:1:8
      |
    1 | [hosts.node1]
      |        ^^^^^ for example this host
      |
      = help: a swarm needs at least one manager: set `role = "manager"` on one host, or three for fault tolerance

    error: the config has 1 error; nothing was changed
    "#);
}

// Two managers validate with a warning explaining Raft quorum.
#[test]
fn two_managers_are_a_warning_about_quorum() {
    let config = format!("{ONE}\n[hosts.node2]\naddress = \"192.0.2.12\"\nrole = \"manager\"\n");
    insta::assert_snapshot!(passes(&config), @"
    warning: 2 managers: an even number adds no fault tolerance
     --> swarmform.toml:1:8
      |
    1 | [hosts.node1]
      |        ^^^^^ a manager
      |
      = help: Raft needs a majority of managers up: N managers tolerate (N-1)/2 failures, so 2 managers tolerate 0 and 3 tolerate 1; use an odd number (3 or 5)

    The config is valid: 2 hosts, 5 resources, 1 warning.
    ");
}

// Four managers validate with a warning: they tolerate no more failures than three.
#[test]
fn four_managers_are_a_warning_about_quorum() {
    let mut config = ONE.to_owned();
    for number in 2..=4 {
        config.push_str(&format!(
            "\n[hosts.node{number}]\naddress = \"192.0.2.1{number}\"\nrole = \"manager\"\n"
        ));
    }
    insta::assert_snapshot!(passes(&config), @"
    warning: 4 managers: an even number adds no fault tolerance
     --> swarmform.toml:1:8
      |
    1 | [hosts.node1]
      |        ^^^^^ a manager
      |
      = help: Raft needs a majority of managers up: N managers tolerate (N-1)/2 failures, so 4 managers tolerate 1 and 5 tolerate 2; use an odd number (3 or 5)

    The config is valid: 4 hosts, 9 resources, 1 warning.
    ");
}

// Three managers are the recommended count: no warning.
#[test]
fn three_managers_need_no_warning() {
    let mut config = ONE.to_owned();
    for number in 2..=3 {
        config.push_str(&format!(
            "\n[hosts.node{number}]\naddress = \"192.0.2.1{number}\"\nrole = \"manager\"\n"
        ));
    }
    assert_eq!(
        passes(&config),
        "The config is valid: 3 hosts, 7 resources.\n"
    );
}

// The bootstrap host must be a manager: a worker cannot run `docker swarm init`.
#[test]
fn a_worker_bootstrap_is_an_error() {
    let config = format!(
        "{ONE}\n[hosts.node2]\naddress = \"192.0.2.12\"\n\n[swarm]\nbootstrap = \"node2\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: the bootstrap host `node2` is not a manager
     --> swarmform.toml:9:13
      |
    9 | bootstrap = "node2"
      |             ^^^^^^^ a worker cannot run `docker swarm init`
      |
      = help: choose one of the managers: node1

    error: the config has 1 error; nothing was changed
    "#);
}

// Host names with a space or a dot are refused, both reported at once.
#[test]
fn invalid_host_names_are_errors() {
    let config = format!(
        "{ONE}\n[hosts.\"my host\"]\naddress = \"192.0.2.12\"\n\n[hosts.\"node.3\"]\naddress = \"192.0.2.13\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: `my host` is not a valid host name
     --> swarmform.toml:5:8
      |
    5 | [hosts."my host"]
      |        ^^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: `node.3` is not a valid host name
     --> swarmform.toml:8:8
      |
    8 | [hosts."node.3"]
      |        ^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: the config has 2 errors; nothing was changed
    "#);
}

// Network names with a space or a dot are refused.
#[test]
fn invalid_network_names_are_errors() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.\"my net\"]\n\n[networks.\"web.v2\"]\n")), @r#"
    error: `my net` is not a valid network name
     --> swarmform.toml:5:11
      |
    5 | [networks."my net"]
      |           ^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: `web.v2` is not a valid network name
     --> swarmform.toml:7:11
      |
    7 | [networks."web.v2"]
      |           ^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: the config has 2 errors; nothing was changed
    "#);
}

// Stack names with a space or a dot are refused.
#[test]
fn invalid_stack_names_are_errors() {
    let config = format!(
        "{ONE}\n[stacks.\"my stack\"]\ncompose = \"web.yml\"\n\n[stacks.\"web.v2\"]\ncompose = \"web.yml\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: `my stack` is not a valid stack name
     --> swarmform.toml:5:9
      |
    5 | [stacks."my stack"]
      |         ^^^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: `web.v2` is not a valid stack name
     --> swarmform.toml:8:9
      |
    8 | [stacks."web.v2"]
      |         ^^^^^^^^ this name
      |
      = help: names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)

    error: the config has 2 errors; nothing was changed
    "#);
}

// A subnet with host bits set names the network it probably meant.
#[test]
fn a_subnet_with_host_bits_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\nsubnet = \"10.0.9.1/24\"\n")), @r#"
    error: `10.0.9.1/24` has host bits set; the network is `10.0.9.0/24`
     --> swarmform.toml:6:10
      |
    6 | subnet = "10.0.9.1/24"
      |          ^^^^^^^^^^^^^ expected a CIDR block

    error: the config has 1 error; nothing was changed
    "#);
}

// A gateway outside the subnet is refused.
#[test]
fn a_gateway_outside_the_subnet_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\nsubnet = \"10.0.9.0/24\"\ngateway = \"10.0.10.1\"\n")), @r#"
    error: gateway `10.0.10.1` is outside the subnet `10.0.9.0/24`
     --> swarmform.toml:7:11
      |
    7 | gateway = "10.0.10.1"
      |           ^^^^^^^^^^^ expected an address inside 10.0.9.0/24

    error: the config has 1 error; nothing was changed
    "#);
}

// An ip_range outside the subnet is refused.
#[test]
fn an_ip_range_outside_the_subnet_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\nsubnet = \"10.0.9.0/24\"\nip_range = \"10.0.10.0/25\"\n")), @r#"
    error: ip_range `10.0.10.0/25` is outside the subnet `10.0.9.0/24`
     --> swarmform.toml:7:12
      |
    7 | ip_range = "10.0.10.0/25"
      |            ^^^^^^^^^^^^^^ expected a block inside 10.0.9.0/24

    error: the config has 1 error; nothing was changed
    "#);
}

// A gateway without a subnet is refused.
#[test]
fn a_gateway_without_a_subnet_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\ngateway = \"10.0.9.1\"\n")), @r#"
    error: a gateway needs a subnet
     --> swarmform.toml:6:11
      |
    6 | gateway = "10.0.9.1"
      |           ^^^^^^^^^^ set `subnet` as well

    error: the config has 1 error; nothing was changed
    "#);
}

// Only overlay networks exist in a swarm.
#[test]
fn a_non_overlay_driver_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[networks.web]\ndriver = \"bridge\"\n")), @r#"
    error: network driver `bridge` is not supported
     --> swarmform.toml:6:10
      |
    6 | driver = "bridge"
      |          ^^^^^^^^ expected `overlay`
      |
      = help: swarm networks are overlay networks; leave `driver` out or set it to `overlay`

    error: the config has 1 error; nothing was changed
    "#);
}

// `hosts` in daemon.json conflicts with Debian's `-H fd://`; the error says so.
#[test]
fn hosts_in_daemon_json_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[daemon.json]\nhosts = [\"tcp://0.0.0.0:2375\"]\n")), @r#"
    error: `hosts` cannot be set in daemon.json here
     --> swarmform.toml:6:1
      |
    6 | hosts = ["tcp://0.0.0.0:2375"]
      | ^^^^^ managed by swarmform
      |
      = help: Debian's docker.service starts dockerd with `-H fd://`, and dockerd refuses to start when daemon.json sets `hosts` too; expose the API with `[daemon.tcp]`, which swarmform writes as a systemd drop-in

    error: the config has 1 error; nothing was changed
    "#);
}

// One mistake in the root `[daemon]` is one error, however many hosts inherit it.
#[test]
fn a_root_daemon_mistake_is_reported_once() {
    let config = format!("{SMALL}\n[daemon.json]\nhosts = [\"tcp://0.0.0.0:2375\"]\n");
    let run = Test::new()
        .config(&config)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["validate"])
        .failure();
    let stderr = run.stderr();
    assert_eq!(
        stderr
            .matches("error: `hosts` cannot be set in daemon.json here")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.ends_with("error: the config has 1 error; nothing was changed\n"),
        "{stderr}"
    );
}

// TLS keys in daemon.json are refused: `[daemon.tcp] tls` writes them.
#[test]
fn tls_keys_in_daemon_json_are_errors() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[daemon.json]\ntlsverify = true\ntlscert = \"/etc/docker/cert.pem\"\n")), @r#"
    error: `tlsverify` cannot be set in daemon.json here
     --> swarmform.toml:6:1
      |
    6 | tlsverify = true
      | ^^^^^^^^^ managed by swarmform
      |
      = help: set `[daemon.tcp] tls = { ca, cert, key }`; swarmform uploads the files and writes these keys

    error: `tlscert` cannot be set in daemon.json here
     --> swarmform.toml:7:1
      |
    7 | tlscert = "/etc/docker/cert.pem"
      | ^^^^^^^ managed by swarmform
      |
      = help: set `[daemon.tcp] tls = { ca, cert, key }`; swarmform uploads the files and writes these keys

    error: the config has 2 errors; nothing was changed
    "#);
}

// A TCP API without TLS and without `insecure = true` is refused.
#[test]
fn a_tcp_api_without_tls_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[daemon.tcp]\naddress = \"0.0.0.0:2375\"\n")), @r#"
    error: exposing the Docker API of every host over TCP needs TLS
     --> swarmform.toml:5:1
      |
    5 | [daemon.tcp]
      | ^^^^^^^^^^^^ no `tls` here
      |
      = help: set `tls = { ca = "...", cert = "...", key = "..." }`, or `insecure = true` to accept an unauthenticated root API

    error: the config has 1 error; nothing was changed
    "#);
}

// `insecure = true` accepts a TCP API without TLS, with a warning.
#[test]
fn an_insecure_tcp_api_is_a_warning() {
    insta::assert_snapshot!(passes(&format!("{ONE}\n[daemon.tcp]\ninsecure = true\n")), @"
    warning: the Docker API of every host is exposed on tcp://0.0.0.0:2375 without TLS
     --> swarmform.toml:5:1
      |
    5 | [daemon.tcp]
      | ^^^^^^^^^^^^ insecure = true
      |
      = help: anyone who can reach that port controls the host as root; set `tls = { ca, cert, key }` unless the network is trusted

    The config is valid: 1 host, 4 resources, 1 warning.
    ");
}

// Missing TLS files for the TCP API are errors at each path, saying where paths are relative to.
#[test]
fn missing_tcp_tls_files_are_errors() {
    let config = format!(
        "{ONE}\n[daemon.tcp]\ntls = {{ ca = \"tls/ca.pem\", cert = \"tls/cert.pem\", key = \"tls/key.pem\" }}\n"
    );
    let test = Test::new().config(&config).file("tls/ca.pem", "ca\n");
    let config_path = test.path("swarmform.toml").display().to_string();
    let run = test.run(&["validate", "-c", &config_path]).failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: cannot read `tls/cert.pem`: No such file or directory (os error 2)
     --> swarmform.toml:6:35
      |
    6 | tls = { ca = "tls/ca.pem", cert = "tls/cert.pem", key = "tls/key.pem" }
      |                                   ^^^^^^^^^^^^^^ a TLS file for the Docker API
      |
      = help: paths are relative to `[TEMP]`

    error: cannot read `tls/key.pem`: No such file or directory (os error 2)
     --> swarmform.toml:6:57
      |
    6 | tls = { ca = "tls/ca.pem", cert = "tls/cert.pem", key = "tls/key.pem" }
      |                                                         ^^^^^^^^^^^^^ a TLS file for the Docker API
      |
      = help: paths are relative to `[TEMP]`

    error: the config has 2 errors; nothing was changed
    "#);
}

// With the default relative `-c swarmform.toml`, "paths are relative to" names a folder.
#[test]
fn relative_paths_name_the_config_folder() {
    let stderr = error(&format!("{ONE}\n[secrets.db]\nfile = \"db.txt\"\n"));
    assert!(!stderr.contains("relative to ``"), "{stderr}");
    assert!(
        stderr.contains("paths are relative to `.`")
            || stderr.contains("paths are relative to `[TEMP]`"),
        "{stderr}"
    );
}

// A secret with both `file` and `template` is refused.
#[test]
fn a_secret_with_file_and_template_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[secrets.db]\nfile = \"db.txt\"\ntemplate = \"db.hbs\"\n")), @r#"
    error: secret `db` needs exactly one of `file` and `template`
     --> swarmform.toml:5:10
      |
    5 | [secrets.db]
      |          ^^ this one
      |
      = help: write `file = "secrets/db.txt"`, or `template = "...hbs"` with `vars`

    error: the config has 1 error; nothing was changed
    "#);
}

// A secret with neither `file` nor `template` is refused the same way.
#[test]
fn a_secret_without_content_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[secrets.db]\nlabels = {{ team = \"a\" }}\n")), @r#"
    error: secret `db` needs exactly one of `file` and `template`
     --> swarmform.toml:5:10
      |
    5 | [secrets.db]
      |          ^^ this one
      |
      = help: write `file = "secrets/db.txt"`, or `template = "...hbs"` with `vars`

    error: the config has 1 error; nothing was changed
    "#);
}

// A secret whose file is missing points at the path.
#[test]
fn a_missing_secret_file_is_an_error() {
    let test = Test::new().config(&format!("{ONE}\n[secrets.db]\nfile = \"secrets/db.txt\"\n"));
    let config_path = test.path("swarmform.toml").display().to_string();
    let run = test.run(&["validate", "-c", &config_path]).failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: cannot read `secrets/db.txt`: No such file or directory (os error 2)
     --> swarmform.toml:6:8
      |
    6 | file = "secrets/db.txt"
      |        ^^^^^^^^^^^^^^^^ the secret's content
      |
      = help: paths are relative to `[TEMP]`

    error: the config has 1 error; nothing was changed
    "#);
}

// A registry with both `node` and `url` is refused.
#[test]
fn a_registry_with_node_and_url_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[registries.cache]\nnode = \"node1\"\nurl = \"registry.example.com\"\n")), @r#"
    error: registry `cache` needs exactly one of `node` and `url`
     --> swarmform.toml:5:13
      |
    5 | [registries.cache]
      |             ^^^^^ this registry
      |
      = help: `node = "HOST"` runs a registry in the swarm on that host; `url = "registry.example.com"` logs in to an external one

    error: the config has 1 error; nothing was changed
    "#);
}

// A registry with neither `node` nor `url` is refused the same way.
#[test]
fn a_registry_without_node_or_url_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[registries.cache]\nport = 5000\n")), @r#"
    error: registry `cache` needs exactly one of `node` and `url`
     --> swarmform.toml:5:13
      |
    5 | [registries.cache]
      |             ^^^^^ this registry
      |
      = help: `node = "HOST"` runs a registry in the swarm on that host; `url = "registry.example.com"` logs in to an external one

    error: the config has 1 error; nothing was changed
    "#);
}

// A password written in the config is refused, saying what to use instead.
#[test]
fn an_inline_registry_password_is_an_error() {
    let config = format!(
        "{ONE}\n[registries.hub]\nurl = \"registry.example.com\"\nusername = \"ci\"\npassword = \"hunter2\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: registry passwords are never written in the config
     --> swarmform.toml:8:12
      |
    8 | password = "hunter2"
      |            ^^^^^^^^^ remove this
      |
      = help: use `password_env = "VARIABLE"` or `password_file = "path"`

    error: the config has 1 error; nothing was changed
    "#);
}

// `password_env` naming an unset variable is an error at the variable's name.
#[test]
fn an_unset_password_env_is_an_error() {
    let config = format!(
        "{ONE}\n[registries.hub]\nurl = \"registry.example.com\"\nusername = \"ci\"\npassword_env = \"SWARMFORM_TEST_UNSET_PASSWORD\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: the environment variable `SWARMFORM_TEST_UNSET_PASSWORD` is not set
     --> swarmform.toml:8:16
      |
    8 | password_env = "SWARMFORM_TEST_UNSET_PASSWORD"
      |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ the registry password comes from here
      |
      = help: export SWARMFORM_TEST_UNSET_PASSWORD=... before running swarmform

    error: the config has 1 error; nothing was changed
    "#);
}

// `password_env` naming a set variable validates.
#[test]
fn a_set_password_env_validates() {
    let config = format!(
        "{ONE}\n[registries.hub]\nurl = \"registry.example.com\"\nusername = \"ci\"\npassword_env = \"SWARMFORM_TEST_PASSWORD\"\n"
    );
    let run = Test::new()
        .config(&config)
        .env("SWARMFORM_TEST_PASSWORD", "s3cret")
        .run(&["validate"])
        .success();
    assert_eq!(run.stderr(), "The config is valid: 1 host, 4 resources.\n");
}

// Templates render in strict mode: an unknown variable is an error at its line and column in the
// template, listing the names that exist.
#[test]
fn an_unknown_template_variable_is_an_error() {
    let config = format!(
        "{ONE}\n[variables.image]\ndefault = \"nginx\"\n\n[stacks.web]\ntemplate = \"web.yml.hbs\"\nvars = {{ replicas = 2 }}\n"
    );
    let template = "services:\n  web:\n    image: nginx:{{var.tag}}\n    deploy:\n      replicas: {{vars.replicas}}\n";
    let run = Test::new()
        .config(&config)
        .file("web.yml.hbs", template)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: unknown variable `var.tag` in template
     --> web.yml.hbs:3:18
      |
    3 |     image: nginx:{{var.tag}}
      |                  ^^^^^^^^^^^ used here
      |
      = help: templates are rendered in strict mode; the names available here are: var.image, networks, secrets, configs, registries, hosts.node1, vars.replicas, stack.name

    error: the config has 1 error; nothing was changed
    ");
}

// A malformed template is an error at the position where it broke.
#[test]
fn a_malformed_template_is_an_error() {
    let config = format!("{ONE}\n[stacks.web]\ntemplate = \"web.yml.hbs\"\n");
    let template = "services:\n  web:\n    image: {{var.image\n";
    let run = Test::new()
        .config(&config)
        .file("web.yml.hbs", template)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: invalid template: invalid handlebars syntax: expected trailing_tilde_to_omit_whitespace
     --> web.yml.hbs:3:24
      |
    3 |     image: {{var.image
      |                       ^ used here
      |
      = help: templates are rendered in strict mode; the names available here are: var, networks, secrets, configs, registries, hosts.node1, vars, stack.name

    error: the config has 1 error; nothing was changed
    ");
}

// A compose file that is not YAML is an error at its line, before `docker stack deploy` sees it.
#[test]
fn an_invalid_compose_file_is_an_error() {
    let config = format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\n");
    let compose = "services:\n  web:\n    image: nginx\n   ports: [\n";
    let run = Test::new()
        .config(&config)
        .file("web.yml", compose)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: the compose file of stack `web` is not valid YAML: did not find expected key at line 4 column 4, while parsing a block mapping at line 2 column 3
     --> web.yml:4:4
      |
    4 |    ports: [
      |    ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    ");
}

// A compose file nested deeper than 1,000 flow levels is refused before the YAML parser, whose
// work grows with the square of the depth, sees it; at the bracket that goes too deep.
#[test]
fn a_compose_file_nested_too_deep_is_an_error_at_its_position() {
    let config = format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\n");
    let compose = format!(
        "services:\n  web:\n    image: nginx\n    command: {}1{}\n",
        "[".repeat(30_000),
        "]".repeat(30_000)
    );
    let run = Test::new()
        .config(&config)
        .file("web.yml", &compose)
        .run(&["validate"])
        .failure();
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "error: the compose file of stack `web` nests `[` and `{` more than 1000 levels deep"
        ),
        "{stderr}"
    );
    // Column 14 is the first `[`; the 1,001st is 1,000 further.
    assert!(stderr.contains("--> web.yml:4:1014"), "{stderr}");
    assert!(stderr.contains("the config has 1 error"), "{stderr}");
}

// Brackets in quoted strings and comments are not nesting: such a file is valid.
#[test]
fn brackets_in_compose_strings_and_comments_do_not_count_as_nesting() {
    let config = format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\n");
    let many = "[".repeat(1500);
    let compose = format!(
        "version: \"3.8\"\n# {many}\nservices:\n  web:\n    image: nginx\n    command: [\"echo\", \"{many}\", '{many}']\n"
    );
    Test::new()
        .config(&config)
        .file("web.yml", &compose)
        .run(&["validate"])
        .success();
}

// A YAML error in a rendered compose file never quotes a sensitive variable's value.
#[test]
fn an_invalid_rendered_compose_hides_sensitive_values() {
    let config = format!(
        "{ONE}\n[variables.password]\nsensitive = true\n\n[stacks.app]\ntemplate = \"app.yml.hbs\"\n"
    );
    let template =
        "services:\n  app:\n    image: local/app:1\n    environment: [PW={{var.password}}\n";
    let run = Test::new()
        .config(&config)
        .file("app.yml.hbs", template)
        .env("SWARMFORM_VAR_password", "hunter2-leaked")
        .run(&["validate"])
        .failure();
    assert!(
        run.stderr().contains("is not valid YAML"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("hunter2-leaked"), "{}", run.stderr());
}

// A stack with both `compose` and `template` is refused.
#[test]
fn a_stack_with_compose_and_template_is_an_error() {
    let config =
        format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\ntemplate = \"web.yml.hbs\"\n");
    insta::assert_snapshot!(error(&config), @r#"
    error: stack `web` needs exactly one of `compose` and `template`
     --> swarmform.toml:5:9
      |
    5 | [stacks.web]
      |         ^^^ this stack
      |
      = help: `compose = "web.yml"` deploys the file as written; `template = "web.yml.hbs"` renders it first

    error: the config has 1 error; nothing was changed
    "#);
}

// `depends_on` naming an undeclared resource is an error at that entry.
#[test]
fn depends_on_an_undeclared_address_is_an_error() {
    let config =
        format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\ndepends_on = [\"network.nope\"]\n");
    let run = Test::new()
        .config(&config)
        .file("web.yml", "services: {}\n")
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `network.nope` is not declared
     --> swarmform.toml:7:15
      |
    7 | depends_on = ["network.nope"]
      |               ^^^^^^^^^^^^^^ in depends_on
      |
      = help: depends_on takes addresses such as `network.NAME`, `secret.NAME`, `registry.NAME`, `stack.NAME` or `module.M.stack.NAME`

    error: the config has 1 error; nothing was changed
    "#);
}

// `depends_on` with something that is not an address says what an address looks like.
#[test]
fn depends_on_a_bad_address_is_an_error() {
    let config =
        format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\ndepends_on = [\"networks.web\"]\n");
    let run = Test::new()
        .config(&config)
        .file("web.yml", "services: {}\n")
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `networks.web` is not a resource address: expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack
     --> swarmform.toml:7:15
      |
    7 | depends_on = ["networks.web"]
      |               ^^^^^^^^^^^^^^ in depends_on
      |
      = help: depends_on takes addresses such as `network.NAME`, `secret.NAME`, `registry.NAME`, `stack.NAME` or `module.M.stack.NAME`

    error: the config has 1 error; nothing was changed
    "#);
}

// Two stacks that depend on each other are a cycle, named in full.
#[test]
fn a_dependency_cycle_is_an_error() {
    let config = format!(
        "{ONE}\n[stacks.api]\ncompose = \"web.yml\"\ndepends_on = [\"stack.db\"]\n\n[stacks.db]\ncompose = \"web.yml\"\ndepends_on = [\"stack.api\"]\n"
    );
    let run = Test::new()
        .config(&config)
        .file("web.yml", "services: {}\n")
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: dependency cycle: stack.db -> stack.api -> stack.db
     --> swarmform.toml:9:9
      |
    9 | [stacks.db]
      |         ^^ this resource is part of the cycle
      |
      = help: remove one of these `depends_on` entries

    error: the config has 1 error; nothing was changed
    ");
}

// A module source that exists nowhere lists where it looked and the shipped modules.
#[test]
fn a_module_source_not_found_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[modules.edge]\nsource = \"nope\"\n")), @r#"
    error: module source `nope` not found
     --> swarmform.toml:6:10
      |
    6 | source = "nope"
      |          ^^^^^^ no module here
      |
      = help: looked for `modules/nope/module.toml` and a built-in module of that name; the modules shipped with swarmform are: registry, traefik, visualizer

    error: the config has 1 error; nothing was changed
    "#);
}

/// A local module with one required and one optional input.
const EDGE_MODULE: &str = "[inputs.domain]\ndescription = \"the public domain\"\n\n[inputs.replicas]\ndefault = 1\n\n[stacks.proxy]\ntemplate = \"proxy.yml.hbs\"\n";
const EDGE_TEMPLATE: &str = "version: \"3.8\"\nservices:\n  proxy:\n    image: local/proxy:1\n    labels: [\"domain={{inputs.domain}}\"]\n    deploy:\n      replicas: {{inputs.replicas}}\n";

fn with_edge_module(config: &str, module: &str) -> Test {
    Test::new()
        .config(config)
        .file("modules/edge/module.toml", module)
        .file("modules/edge/proxy.yml.hbs", EDGE_TEMPLATE)
}

// A module called with all it needs validates.
#[test]
fn a_module_with_its_inputs_validates() {
    let config = format!(
        "{ONE}\n[modules.edge]\nsource = \"edge\"\ninputs = {{ domain = \"example.com\" }}\n"
    );
    let run = with_edge_module(&config, EDGE_MODULE)
        .run(&["validate"])
        .success();
    assert_eq!(run.stderr(), "The config is valid: 1 host, 4 resources.\n");
}

// An input the module does not declare is an error listing the inputs it has.
#[test]
fn an_unknown_module_input_is_an_error() {
    let config = format!(
        "{ONE}\n[modules.edge]\nsource = \"edge\"\ninputs = {{ domain = \"example.com\", colour = \"red\" }}\n"
    );
    let run = with_edge_module(&config, EDGE_MODULE)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: module `edge` has no input `colour`
     --> swarmform.toml:7:36
      |
    7 | inputs = { domain = "example.com", colour = "red" }
      |                                    ^^^^^^ unknown input
      |
      = help: its inputs are: domain, replicas

    error: the config has 1 error; nothing was changed
    "#);
}

// A required input left out is an error at the call, with the input's description.
#[test]
fn a_missing_module_input_is_an_error() {
    let config = format!("{ONE}\n[modules.edge]\nsource = \"edge\"\n");
    let run = with_edge_module(&config, EDGE_MODULE)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: module `edge` needs the input `domain`
     --> swarmform.toml:5:10
      |
    5 | [modules.edge]
      |          ^^^^ called here without it
      |
      = help: add `domain = ...` under `[modules.edge.inputs]` (the public domain)

    error: the config has 1 error; nothing was changed
    ");
}

// A module may not declare hosts.
#[test]
fn a_module_declaring_hosts_is_an_error() {
    let config = format!(
        "{ONE}\n[modules.edge]\nsource = \"edge\"\ninputs = {{ domain = \"example.com\" }}\n"
    );
    let module = format!("{EDGE_MODULE}\n[hosts.extra]\naddress = \"192.0.2.99\"\n");
    let run = with_edge_module(&config, &module)
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: a module may only declare `[inputs]`, networks, secrets, configs, registries, files and stacks
      --> modules/edge/module.toml:10:8
       |
    10 | [hosts.extra]
       |        ^^^^^ not allowed in a module
       |
       = help: hosts, daemon, swarm and SSH settings belong in the root config; modules do not call modules

    error: the config has 1 error; nothing was changed
    ");
}

// `[inputs]` belongs in a module; the root config uses `[variables]`.
#[test]
fn inputs_in_the_root_config_are_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[inputs.domain]\ndefault = \"example.com\"\n")), @"
    error: `[inputs]` belongs in a module's module.toml
     --> swarmform.toml:5:9
      |
    5 | [inputs.domain]
      |         ^^^^^^ declared in the root config
      |
      = help: use `[variables.NAME]` in the root config

    error: the config has 1 error; nothing was changed
    ");
}

// An included file may only bring `[ssh]` and `[hosts]`.
#[test]
fn an_included_file_declaring_networks_is_an_error() {
    let config = format!("include = [\"lab.toml\"]\n\n{ONE}");
    let run = Test::new()
        .config(&config)
        .file(
            "lab.toml",
            "[hosts.node2]\naddress = \"192.0.2.12\"\n\n[networks.web]\nattachable = true\n",
        )
        .run(&["validate"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: an included file may only declare `[ssh]` and `[hosts]`
     --> lab.toml:4:11
      |
    4 | [networks.web]
      |           ^^^ not allowed in an included file
      |
      = help: move this to the root config

    error: the config has 1 error; nothing was changed
    ");
}

// A variable without a default and without a value says every way to give it one.
#[test]
fn a_variable_without_a_value_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[variables.tag]\ndescription = \"the image tag\"\n")), @"
    error: variable `tag` has no value
     --> swarmform.toml:5:12
      |
    5 | [variables.tag]
      |            ^^^ declared here without a default
      |
      = help: pass `--var tag=VALUE`, set `SWARMFORM_VAR_tag`, put it in a `--var-file`, or give it a `default`

    error: the config has 1 error; nothing was changed
    ");
}

// `--var` for a variable the config does not declare is refused.
#[test]
fn a_var_for_an_undeclared_variable_is_an_error() {
    let config = format!("{ONE}\n[variables.tag]\ndefault = \"1\"\n");
    let run = Test::new()
        .config(&config)
        .run(&["validate", "--var", "colour=red"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: variable `colour` is not declared
     |
     = help: declare it in the config as `[variables.colour]`

    error: the config has 1 error; nothing was changed
    ");
}

// `--var` without `=` says how to write it.
#[test]
fn a_var_without_equals_is_an_error() {
    let config = format!("{ONE}\n[variables.tag]\ndefault = \"1\"\n");
    let run = Test::new()
        .config(&config)
        .run(&["validate", "--var", "tag"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: `--var tag` is not NAME=VALUE
     |
     = help: write `--var name=value`

    error: the config has 1 error; nothing was changed
    ");
}

// A `--var-file` key the config does not declare is an error naming its position in that file,
// without quoting the line, which may hold a password.
#[test]
fn a_var_file_with_an_undeclared_key_is_an_error() {
    let config = format!("{ONE}\n[variables.tag]\ndefault = \"1\"\n");
    let run = Test::new()
        .config(&config)
        .file("prod.toml", "tag = \"2\"\ncolour = \"red\"\n")
        .run(&["validate", "--var-file", "prod.toml"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: variable `colour` at prod.toml:2:1 is not declared
     |
     = help: declare it in the config as `[variables.colour]`

    error: the config has 1 error; nothing was changed
    "#);
}

// Variable values, lowest precedence first: default, SWARMFORM_VAR_x, --var-file, --var; the
// rendered compose file in the plan shows which one won.
#[test]
fn variable_sources_take_precedence_in_order() {
    let config = format!(
        "{ONE}\n[variables.tag]\ndefault = \"from-default\"\n\n[stacks.web]\ntemplate = \"web.yml.hbs\"\n"
    );
    let image = |run: &crate::support::Run| {
        let stdout = run.stdout();
        stdout
            .lines()
            .find(|line| line.contains("image:"))
            .map(|line| line.trim().to_owned())
            .unwrap_or(stdout)
    };
    let test = || {
        Test::new()
            .config(&config)
            .file(
                "web.yml.hbs",
                "services:\n  web:\n    image: local/web:{{var.tag}}\n",
            )
            .file("prod.toml", "tag = \"from-file\"\n")
    };
    let run = test().run(&["plan", "--refresh=false"]).success();
    assert_eq!(image(&run), "+    image: local/web:from-default");
    let run = test()
        .env("SWARMFORM_VAR_tag", "from-env")
        .run(&["plan", "--refresh=false"])
        .success();
    assert_eq!(image(&run), "+    image: local/web:from-env");
    let run = test()
        .env("SWARMFORM_VAR_tag", "from-env")
        .run(&["plan", "--refresh=false", "--var-file", "prod.toml"])
        .success();
    assert_eq!(image(&run), "+    image: local/web:from-file");
    let run = test()
        .env("SWARMFORM_VAR_tag", "from-env")
        .run(&[
            "plan",
            "--refresh=false",
            "--var-file",
            "prod.toml",
            "--var",
            "tag=from-flag",
        ])
        .success();
    assert_eq!(image(&run), "+    image: local/web:from-flag");
}

// `--var-file /dev/stdin` reads variables piped in, as a CI job might.
#[test]
fn a_var_file_can_be_read_from_stdin() {
    let config = format!("{ONE}\n[variables.tag]\n\n[stacks.web]\ntemplate = \"web.yml.hbs\"\n");
    let run = Test::new()
        .config(&config)
        .file(
            "web.yml.hbs",
            "services:\n  web:\n    image: local/web:{{var.tag}}\n",
        )
        .swarmform(&["plan", "--refresh=false", "--var-file", "/dev/stdin"])
        .stdin("tag = \"from-stdin\"\n")
        .run()
        .success();
    assert!(
        run.stdout().contains("+    image: local/web:from-stdin\n"),
        "{}",
        run.stdout()
    );
}

// Durations follow Go's syntax; anything else is an error at the value.
#[test]
fn invalid_durations_are_errors() {
    let config = format!(
        "{ONE}\n[ssh]\nconnect_timeout = \"10 seconds\"\n\n[swarm]\ndispatcher_heartbeat = \"5d\"\n"
    );
    insta::assert_snapshot!(error(&config), @r#"
    error: `10 seconds` is not a duration
     --> swarmform.toml:6:19
      |
    6 | connect_timeout = "10 seconds"
      |                   ^^^^^^^^^^^^ expected a duration such as `10s`, `5m` or `2160h`

    error: `5d` is not a duration
     --> swarmform.toml:9:24
      |
    9 | dispatcher_heartbeat = "5d"
      |                        ^^^^ expected a duration such as `10s`, `5m` or `2160h`

    error: the config has 2 errors; nothing was changed
    "#);
}

// A file mode must be octal.
#[test]
fn an_invalid_file_mode_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[files.motd]\npath = \"/etc/motd\"\ncontent = \"hello\"\nmode = \"0999\"\n")), @r#"
    error: `0999` is not a file mode
     --> swarmform.toml:8:8
      |
    8 | mode = "0999"
      |        ^^^^^^ expected octal such as "0644"

    error: the config has 1 error; nothing was changed
    "#);
}

// A file's path on the host must be absolute.
#[test]
fn a_relative_file_path_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[files.motd]\npath = \"etc/motd\"\ncontent = \"hello\"\n")), @r#"
    error: `etc/motd` is not a usable file path: it is not absolute
     --> swarmform.toml:6:8
      |
    6 | path = "etc/motd"
      |        ^^^^^^^^^^ expected a path such as `/etc/docker/certs.d/registry:5000/ca.crt`
      |
      = help: a file's path on its hosts starts at `/`, names a file, is one line, and has no `..` component

    error: the config has 1 error; nothing was changed
    "#);
}

// A label key with a space is refused.
#[test]
fn a_label_key_with_a_space_is_an_error() {
    insta::assert_snapshot!(error(&format!("{ONE}\n[hosts.node2]\naddress = \"192.0.2.12\"\nlabels = {{ \"my zone\" = \"a\" }}\n")), @r#"
    error: `my zone` is not a valid label key
     --> swarmform.toml:7:12
      |
    7 | labels = { "my zone" = "a" }
      |            ^^^^^^^^^ this key
      |
      = help: label keys may not be empty or contain whitespace, control characters or `=`

    error: the config has 1 error; nothing was changed
    "#);
}

// Independent errors are all reported in one run, and counted.
#[test]
fn all_errors_are_reported_at_once() {
    let config =
        format!("{ONE}\n[networks.web]\ndriver = \"bridge\"\n\n[swarm]\nbootstrap = \"node9\"\n");
    insta::assert_snapshot!(error(&config), @r#"
    error: unknown host `node9`
     --> swarmform.toml:9:13
      |
    9 | bootstrap = "node9"
      |             ^^^^^^^ no host of that name is declared under [hosts]
      |
      = help: declared hosts: node1

    error: network driver `bridge` is not supported
     --> swarmform.toml:6:10
      |
    6 | driver = "bridge"
      |          ^^^^^^^^ expected `overlay`
      |
      = help: swarm networks are overlay networks; leave `driver` out or set it to `overlay`

    error: the config has 2 errors; nothing was changed
    "#);
}
