//! The command line itself: help, exit codes, and `graph`.

use crate::support::{SMALL, SMALL_COMPOSE, Test};

// `--help` lists every command.
#[test]
fn help_lists_the_commands() {
    let run = Test::new().run(&["--help"]).success();
    let stdout = run.stdout();
    for command in [
        "init",
        "validate",
        "plan",
        "graph",
        "show",
        "state",
        "force-unlock",
    ] {
        assert!(
            stdout.contains(&format!("\n  {command} ")),
            "{command} missing from\n{stdout}"
        );
    }
}

// `--version` prints the version.
#[test]
fn version_prints_the_version() {
    let run = Test::new().run(&["--version"]).success();
    assert_eq!(
        run.stdout(),
        format!("swarmform {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// A usage error exits 1, not clap's 2, which `--detailed-exitcode` reserves for "changes".
#[test]
fn a_usage_error_exits_1() {
    let run = Test::new().run(&["plan", "--bogus"]).failure();
    assert!(
        run.stderr()
            .starts_with("error: unexpected argument '--bogus' found\n"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"
    error: unexpected argument '--bogus' found

    Usage: swarmform plan [OPTIONS]

    For more information, try '--help'.
    ");
    Test::new().run(&["frobnicate"]).failure();
    Test::new().run(&[]).failure();
}

// `--json` and `--markdown` together are a usage error.
#[test]
fn json_and_markdown_conflict() {
    let run = Test::new().run(&["plan", "--json", "--markdown"]).failure();
    assert!(
        run.stderr()
            .starts_with("error: the argument '--json' cannot be used with '--markdown'"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"
    error: the argument '--json' cannot be used with '--markdown'

    Usage: swarmform plan --json

    For more information, try '--help'.
    ");
}

// A config error exits 1 even with `--detailed-exitcode`, so 2 always means "changes".
#[test]
fn a_config_error_exits_1_with_detailed_exitcode() {
    let run = Test::new()
        .config("[hosts.node1]\n")
        .run(&["plan", "--refresh=false", "--detailed-exitcode"])
        .failure();
    assert!(
        run.stderr().starts_with("error: missing field `address`"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"
    error: missing field `address`
     --> swarmform.toml:1:1
      |
    1 | [hosts.node1]
      | ^^^^^^^^^^^^^ here
      |
      = help: fix the TOML at this position

    error: the config has 1 error; nothing was changed
    ");
}

// A bad `--lock-timeout` says how durations are written.
#[test]
fn a_bad_lock_timeout_is_an_error() {
    let run = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["plan", "--refresh=false", "--lock-timeout", "soon"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: `soon` is not a duration
    hint: write durations like `30s`, `2m` or `1h`
    ");
}

// An address error is printed once, not repeated as its own cause.
#[test]
fn an_address_error_is_printed_once() {
    let run = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["plan", "--refresh=false", "--target", "nonsense.x"])
        .failure();
    assert_eq!(
        run.stderr(),
        "error: `nonsense.x` is not a resource address: expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack\n"
    );
}

// `graph` prints the plan as Graphviz DOT: one vertex per change, an edge per dependency.
#[test]
fn graph_prints_dot() {
    let run = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["graph"])
        .success();
    let dot = run.stdout();
    assert!(dot.starts_with("digraph swarmform {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    assert!(
        dot.contains("  \"swarm\" [label = \"+ swarm\"];\n"),
        "{dot}"
    );
    assert!(dot.contains("  \"swarm\" -> \"node.node2\";\n"), "{dot}");
    assert!(
        dot.contains("  \"network.web\" -> \"stack.web\";\n"),
        "{dot}"
    );
    insta::assert_snapshot!(dot, @r#"
    digraph swarmform {
      rankdir = "LR";
      node [shape = "box"];
      "engine.node1" [label = "+ engine.node1"];
      "engine.node2" [label = "+ engine.node2"];
      "engine.node3" [label = "+ engine.node3"];
      "swarm" [label = "+ swarm"];
      "node.node1" [label = "+ node.node1"];
      "node.node2" [label = "+ node.node2"];
      "node.node3" [label = "+ node.node3"];
      "node.*" [label = "node.*", shape = "ellipse"];
      "network.web" [label = "+ network.web"];
      "stack.web" [label = "+ stack.web"];
      "engine.node1" -> "node.node1";
      "engine.node1" -> "swarm";
      "engine.node2" -> "node.node2";
      "engine.node3" -> "node.node3";
      "network.web" -> "stack.web";
      "node.*" -> "stack.web";
      "node.node1" -> "node.*";
      "node.node2" -> "node.*";
      "node.node3" -> "node.*";
      "swarm" -> "network.web";
      "swarm" -> "node.node1";
      "swarm" -> "node.node2";
      "swarm" -> "node.node3";
      "swarm" -> "stack.web";
    }
    "#);
}

// With three managers, they join one at a time, in config order.
#[test]
fn graph_joins_managers_one_at_a_time() {
    let mut config = String::new();
    for number in 1..=3 {
        config.push_str(&format!(
            "[hosts.m{number}]\naddress = \"192.0.2.2{number}\"\nrole = \"manager\"\n\n"
        ));
    }
    let run = Test::new().config(&config).run(&["graph"]).success();
    let dot = run.stdout();
    assert!(dot.contains("  \"node.m1\" -> \"node.m2\" [label = \"one manager at a time\", style = \"dashed\"];\n"), "{dot}");
    assert!(dot.contains("  \"node.m2\" -> \"node.m3\" [label = \"one manager at a time\", style = \"dashed\"];\n"), "{dot}");
    insta::assert_snapshot!("three_managers_graph", dot);
}

// NO_COLOR and `--no-color` keep ANSI escapes out of every output.
#[test]
fn no_color_means_no_escapes() {
    let run = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .run(&["--no-color", "plan", "--refresh=false"])
        .success();
    assert!(!run.stdout().contains('\x1b'), "{}", run.stdout());
}
