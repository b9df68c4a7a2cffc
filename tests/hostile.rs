//! `validate` on hostile input ends in an error, never a panic or a hang: diagnostics quote any
//! file they point into (a position at a multi-byte character, at the end of the file, on a
//! CRLF line, in an empty file), closed output pipes are no panic, and templates that would
//! take handlebars minutes are refused. (The fuzz target, `tests/fuzz.rs`, replays more.)

use std::time::Duration;

use crate::support::Test;

/// One manager and a stack deployed from `app.yml` as written.
const COMPOSE_STACK: &str = "[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n\n[stacks.app]\ncompose = \"app.yml\"\n";

/// Runs `validate` with `compose` as the stack's compose file, asserts it fails with the
/// config's exit code (1, not a panic's 101), and returns stderr.
fn compose_error(compose: &str) -> String {
    Test::new()
        .config(COMPOSE_STACK)
        .file("app.yml", compose)
        .run(&["validate"])
        .failure()
        .stderr()
}

// A YAML error at a 2-byte character (`é`) quotes the line and marks the whole character: the
// finding of issue 12, which exited 101 in annotate-snippets.
#[test]
fn a_yaml_error_at_a_two_byte_character() {
    insta::assert_snapshot!(compose_error("version: \"3.8\"\nservices:\n  web:\n    image: \"nginx\" é\n"), @r#"
    error: the compose file of stack `app` is not valid YAML: did not find expected key at line 4 column 20, while parsing a block mapping at line 4 column 5
     --> app.yml:4:20
      |
    4 |     image: "nginx" é
      |                    ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// The same at a 3-byte character (`€`).
#[test]
fn a_yaml_error_at_a_three_byte_character() {
    insta::assert_snapshot!(compose_error("version: \"3.8\"\nservices:\n  web:\n    image: \"nginx\" €\n"), @r#"
    error: the compose file of stack `app` is not valid YAML: did not find expected key at line 4 column 20, while parsing a block mapping at line 4 column 5
     --> app.yml:4:20
      |
    4 |     image: "nginx" €
      |                    ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// The same at a 4-byte character (an emoji, two columns wide on a terminal).
#[test]
fn a_yaml_error_at_a_four_byte_character() {
    insta::assert_snapshot!(compose_error("version: \"3.8\"\nservices:\n  web:\n    image: \"nginx\" 😀\n"), @r#"
    error: the compose file of stack `app` is not valid YAML: did not find expected key at line 4 column 20, while parsing a block mapping at line 4 column 5
     --> app.yml:4:20
      |
    4 |     image: "nginx" 😀
      |                    ^^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// A YAML error at the very end of the file (no final newline, a multi-byte character last)
// points just past the last character.
#[test]
fn a_yaml_error_at_the_end_of_the_file() {
    insta::assert_snapshot!(compose_error("version: \"3.8\"\nservices:\n  web:\n    image: \"nginé"), @r#"
    error: the compose file of stack `app` is not valid YAML: found unexpected end of stream at line 4 column 18, while scanning a quoted scalar at line 4 column 12
     --> app.yml:4:18
      |
    4 |     image: "nginé
      |                  ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// A YAML error on a CRLF line is quoted without its `\r`, at the right line and column.
#[test]
fn a_yaml_error_on_a_crlf_line() {
    insta::assert_snapshot!(compose_error("version: \"3.8\"\r\nservices:\r\n  web:\r\n    image: \"nginx\" é\r\n"), @r#"
    error: the compose file of stack `app` is not valid YAML: did not find expected key at line 4 column 20, while parsing a block mapping at line 4 column 5
     --> app.yml:4:20
      |
    4 |     image: "nginx" é
      |                    ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// A YAML error in a file that starts with a byte-order mark still points inside the file.
#[test]
fn a_yaml_error_after_a_byte_order_mark() {
    insta::assert_snapshot!(compose_error("\u{feff}version: \"3.8\"\nservices: [é\n"), @r#"
    error: the compose file of stack `app` is not valid YAML: deserializing from YAML containing more than one document is not supported
     --> app.yml:1:1
      |
    1 | ﻿version: "3.8"
      | ^ here
      |
      = help: `docker stack deploy` would refuse it too; fix the YAML

    error: the config has 1 error; nothing was changed
    "#);
}

// An empty config is quoted as its one empty line.
#[test]
fn an_empty_config() {
    let stderr = Test::new().config("").run(&["validate"]).failure().stderr();
    insta::assert_snapshot!(stderr, @r#"
    error: the config declares no hosts
     --> swarmform.toml:1:1
      |
    1 |
      | ^ in this file
      |
      = help: declare at least one manager: `[hosts.node1]` with `address = "..."` and `role = "manager"`

    error: the config has 1 error; nothing was changed
    "#);
}

// A reader that goes away (`swarmform validate 2>&1 | head -1`) ends nothing in a panic: the
// config's errors still exit 1, a valid config 0, a plan on a closed stdout 0.
#[test]
fn closed_output_pipes_are_no_panic() {
    let test = Test::new().config(COMPOSE_STACK).file(
        "app.yml",
        "version: \"3.8\"\nservices:\n  web:\n    image: \"nginx\" é\n",
    );
    let closed = || {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        writer
    };
    let status = |args: &[&str]| {
        test.command(args)
            .stdout(closed())
            .stderr(closed())
            .status()
            .expect("run swarmform")
            .code()
    };
    assert_eq!(status(&["validate"]), Some(1));
    test.write(
        "app.yml",
        "version: \"3.8\"\nservices:\n  web:\n    image: nginx\n",
    );
    assert_eq!(status(&["validate"]), Some(0));
    assert_eq!(status(&["plan", "--refresh=false"]), Some(0));
}

// Subexpressions nested 30 deep (handlebars would render them for hours, twice as long per
// level) are an error at the first one too deep, at once.
#[test]
fn deeply_nested_subexpressions_are_an_error_not_a_hang() {
    let config = COMPOSE_STACK.replace("compose = \"app.yml\"", "template = \"app.yml.hbs\"");
    let template = format!(
        "version: \"3.8\"\nx: {{{{json {}1{}}}}}\n",
        "(json ".repeat(30),
        ")".repeat(30)
    );
    let test = Test::new().config(&config).file("app.yml.hbs", template);
    let run = test
        .run_within(&["validate"], Duration::from_secs(60))
        .unwrap_or_else(|run| panic!("validate still ran after 60 s: {}", run.stderr()))
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: subexpressions nested deeper than 8 levels in template
     --> app.yml.hbs:2:59
      |
    2 | x: {{json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (json (js...
      |                                                           ^ too deep
      |
      = help: handlebars renders each level in twice the time; compute the value in a variable instead

    error: the config has 1 error; nothing was changed
    ");
}
