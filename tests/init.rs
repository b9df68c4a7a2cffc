//! `swarmform init`: a starter config that validates and plans as written, never overwriting an
//! existing config unless asked.

use crate::test::Test;

// `init` writes a config that then validates and plans.
#[test]
fn init_writes_a_config_that_validates_and_plans() {
    let run = Test::new().arg("init").run().success();
    insta::assert_snapshot!(run.stderr(), @"Wrote `swarmform.toml`. Edit the hosts, then run `swarmform validate` and `swarmform plan`.");
    assert!(run.path("swarmform.toml").is_file());
    let run = run.then(&["validate"]).success();
    assert!(
        run.stderr().starts_with("The config is valid: 3 hosts, "),
        "{}",
        run.stderr()
    );
    let run = run.then(&["plan", "--refresh=false"]).success();
    let stdout = run.stdout();
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Plan: ") && last.ends_with(" to add, 0 to change, 0 to destroy."),
        "{stdout}"
    );
}

// A second `init` refuses to overwrite the config, and leaves it as it was.
#[test]
fn init_twice_refuses_without_force() {
    let run = Test::new().config("# mine\n").arg("init").run().failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: `swarmform.toml` already exists; nothing was written
    hint: pass `--force` to overwrite it
    ");
    assert_eq!(run.read("swarmform.toml"), "# mine\n");
}

// `init --force` overwrites an existing config with the starter.
#[test]
fn init_force_overwrites() {
    let run = Test::new()
        .config("# mine\n")
        .args(["init", "--force"])
        .run()
        .success();
    assert_ne!(run.read("swarmform.toml"), "# mine\n");
    run.then(&["validate"]).success();
}

// `init -c FILE` writes the starter there.
#[test]
fn init_writes_where_config_points() {
    let run = Test::new()
        .args(["init", "-c", "cluster.toml"])
        .run()
        .success();
    assert!(run.path("cluster.toml").is_file());
    assert!(!run.path("swarmform.toml").exists());
    run.then(&["validate", "-c", "cluster.toml"]).success();
}
