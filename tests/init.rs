//! `swarmform init`: a starter config that validates and plans as written, never overwriting an
//! existing config unless asked.

use crate::support::Test;

// `init` writes a config that then validates and plans.
#[test]
fn init_writes_a_config_that_validates_and_plans() {
    let test = Test::new();
    let run = test.run(&["init"]).success();
    insta::assert_snapshot!(run.stderr(), @"Wrote `swarmform.toml`. Edit the hosts, then run `swarmform validate` and `swarmform plan`.");
    assert!(test.path("swarmform.toml").is_file());
    let run = test.run(&["validate"]).success();
    insta::assert_snapshot!(run.stderr(), @"The config is valid: 3 hosts, 11 resources.");
    let run = test.run(&["plan", "--refresh=false"]).success();
    let stdout = run.stdout();
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Plan: ") && last.ends_with(" to add, 0 to change, 0 to destroy."),
        "{stdout}"
    );
    insta::assert_snapshot!("init_plan", stdout);
}

// A second `init` refuses to overwrite the config, and leaves it as it was.
#[test]
fn init_twice_refuses_without_force() {
    let test = Test::new().config("# mine\n");
    let run = test.run(&["init"]).failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: `swarmform.toml` already exists; nothing was written
    hint: pass `--force` to overwrite it
    ");
    assert_eq!(test.read("swarmform.toml"), "# mine\n");
}

// `init --force` overwrites an existing config with the starter.
#[test]
fn init_force_overwrites() {
    let test = Test::new().config("# mine\n");
    test.run(&["init", "--force"]).success();
    assert_ne!(test.read("swarmform.toml"), "# mine\n");
    test.run(&["validate"]).success();
}

// `init -c FILE` writes the starter there.
#[test]
fn init_writes_where_config_points() {
    let test = Test::new();
    test.run(&["init", "-c", "cluster.toml"]).success();
    assert!(test.path("cluster.toml").is_file());
    assert!(!test.path("swarmform.toml").exists());
    test.run(&["validate", "-c", "cluster.toml"]).success();
}
