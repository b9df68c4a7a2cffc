//! Inputs read safely (`config::read`): only regular files are read, each within its limit;
//! secrets and configs Docker would refuse are refused at `validate`; text that is not UTF-8 is
//! named by line and column; an include that is not a config is never quoted; a module's files
//! stay inside its folder unless its call allows otherwise.

use std::process::Command;
use std::time::Duration;

use crate::support::Test;

/// One manager, nothing else: the smallest valid config, to append to.
const ONE: &str = "[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n";

/// Long enough for a debug build on a loaded machine; a run still going then reads for ever.
const PATIENCE: Duration = Duration::from_secs(60);

/// `swarmform ARGS` in `test`, which must end within [`PATIENCE`] and fail; its stderr.
fn refused(test: &Test, args: &[&str]) -> String {
    match test.run_within(args, PATIENCE) {
        Ok(run) => run.failure().stderr(),
        Err(run) => panic!(
            "`swarmform {}` did not end within {PATIENCE:?}: it reads for ever\n{}",
            args.join(" "),
            run.stderr()
        ),
    }
}

/// A FIFO named `name` in the test's folder.
fn fifo(test: &Test, name: &str) {
    let status = Command::new("mkfifo")
        .arg(test.path(name))
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {name}");
}

// A FIFO named as a secret's content or a compose file is refused at once, by what it is,
// instead of waiting for ever for a writer.
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let test = Test::new().config(&format!(
        "{ONE}\n[secrets.db]\nfile = \"db.pipe\"\n\n[stacks.web]\ncompose = \"web.pipe\"\n"
    ));
    fifo(&test, "db.pipe");
    fifo(&test, "web.pipe");
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: cannot read `db.pipe`: it is a FIFO (a named pipe), not a regular file
     --> swarmform.toml:6:8
      |
    6 | file = "db.pipe"
      |        ^^^^^^^^^ the secret's content
      |
      = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: cannot read `web.pipe`: it is a FIFO (a named pipe), not a regular file
     --> swarmform.toml:9:11
      |
    9 | compose = "web.pipe"
      |           ^^^^^^^^^^ this file
      |
      = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: the config has 2 errors; nothing was changed
    "#);
}

// `/dev/zero`, which never ends, is refused as a device wherever the config names a file: a
// config's content, a file for hosts, an include, a variable file.
#[test]
fn a_device_is_refused_not_read_for_ever() {
    let test = Test::new().config(&format!(
        "{ONE}\n[configs.zero]\nfile = \"/dev/zero\"\n\n[files.zero]\npath = \"/etc/zero\"\nsource = \"/dev/zero\"\n"
    ));
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: cannot read `/dev/zero`: it is a character device, not a regular file
     --> swarmform.toml:6:8
      |
    6 | file = "/dev/zero"
      |        ^^^^^^^^^^^ the config's content
      |
      = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: cannot read `/dev/zero`: it is a character device, not a regular file
      --> swarmform.toml:10:10
       |
    10 | source = "/dev/zero"
       |          ^^^^^^^^^^^ this file
       |
       = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: the config has 2 errors; nothing was changed
    "#);
    let test = Test::new().config(&format!("include = [\"/dev/zero\"]\n{ONE}"));
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: cannot read the included file `/dev/zero`: it is a character device, not a regular file
     --> swarmform.toml:1:12
      |
    1 | include = ["/dev/zero"]
      |            ^^^^^^^^^^^ included here
      |
      = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: the config has 1 error; nothing was changed
    "#);
    let test = Test::new().config(ONE);
    insta::assert_snapshot!(refused(&test, &["validate", "--var-file", "/dev/zero"]), @"
    error: cannot read the variable file `/dev/zero`: it is a character device, not a regular file
     |
     = help: swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here

    error: the config has 1 error; nothing was changed
    ");
}

// A symbolic link to a regular file is read as the file.
#[test]
fn a_link_to_a_regular_file_is_read() {
    let test = Test::new()
        .config(&format!("{ONE}\n[secrets.db]\nfile = \"db.link\"\n"))
        .file("secrets/db.txt", "hunter2");
    std::os::unix::fs::symlink("secrets/db.txt", test.path("db.link")).expect("symlink");
    test.run(&["validate"]).success();
}

// A secret of 600 KiB, from a file or rendered from a template, is refused at `validate` with
// its location: Docker takes less than 500 KiB, and would refuse it only at apply.
#[test]
fn a_secret_larger_than_docker_takes_is_refused() {
    let test = Test::new()
        .config(&format!(
            "{ONE}\n[secrets.big]\nfile = \"big.bin\"\n\n[configs.rendered]\ntemplate = \"big.hbs\"\n"
        ))
        .file("big.bin", vec![0x5a_u8; 600 * 1024])
        .file("big.hbs", "x".repeat(600 * 1024));
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: cannot read `big.bin`: it is larger than 511999 bytes, the most Docker takes for a secret or a config
     --> swarmform.toml:6:8
      |
    6 | file = "big.bin"
      |        ^^^^^^^^^ the secret's content
      |
      = help: Docker refuses secret and config data of 512000 bytes (500 KiB) or more; ship larger data in an image or a volume

    error: config `rendered` is 614400 bytes, more than Docker takes
     --> swarmform.toml:9:12
      |
    9 | template = "big.hbs"
      |            ^^^^^^^^^ renders too much
      |
      = help: Docker refuses a config of 512000 bytes (500 KiB) or more at apply; ship larger data in an image or a volume

    error: the config has 2 errors; nothing was changed
    "#);
}

// A secret of 511999 bytes, the most Docker takes, is valid.
#[test]
fn a_secret_of_the_most_docker_takes_is_valid() {
    Test::new()
        .config(&format!("{ONE}\n[secrets.big]\nfile = \"big.bin\"\n"))
        .file("big.bin", vec![0x5a_u8; 500 * 1024 - 1])
        .run(&["validate"])
        .success();
}

// An empty secret, from an empty file or a template rendering an empty variable, is refused at
// `validate`: Docker refuses it at apply.
#[test]
fn an_empty_secret_is_refused() {
    let test = Test::new()
        .config(&format!(
            "{ONE}\n[variables.token]\ndefault = \"\"\n\n[secrets.empty]\nfile = \"empty.txt\"\n\n[secrets.token]\ntemplate = \"token.hbs\"\n"
        ))
        .file("empty.txt", "")
        .file("token.hbs", "{{var.token}}");
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: secret `empty` is empty
     --> swarmform.toml:9:8
      |
    9 | file = "empty.txt"
      |        ^^^^^^^^^^^ an empty file
      |
      = help: Docker refuses an empty secret at apply; give it content

    error: secret `token` is empty
      --> swarmform.toml:12:12
       |
    12 | template = "token.hbs"
       |            ^^^^^^^^^^^ renders to nothing
       |
       = help: Docker refuses an empty secret at apply; give it content

    error: the config has 2 errors; nothing was changed
    "#);
}

// Invalid UTF-8 in `swarmform.toml` is an error at the first bad byte's line and column.
#[test]
fn invalid_utf8_in_the_config_points_at_the_byte() {
    let mut config = ONE.as_bytes().to_vec();
    config.extend_from_slice(b"# caf\xc3\xa9 \xff\xfe\n");
    let test = Test::new().file("swarmform.toml", config);
    insta::assert_snapshot!(refused(&test, &["validate"]), @"
    error: the config `swarmform.toml` is not UTF-8 text
     --> swarmform.toml:4:8
      |
    4 | # café ��
      |        ^ the first byte that is not UTF-8
      |
      = help: save the file as UTF-8

    error: the config has 1 error; nothing was changed
    ");
}

// Invalid UTF-8 in a compose file points at the byte and says where the config names the file;
// in an included file it is named by position, the file not quoted.
#[test]
fn invalid_utf8_in_named_files_is_located() {
    let test = Test::new()
        .config(&format!(
            "include = [\"lab.toml\"]\n{ONE}\n[stacks.web]\ncompose = \"web.yml\"\n"
        ))
        .file("web.yml", b"services:\n  web:\n    image: \xe9t\xe9\n")
        .file(
            "lab.toml",
            b"[hosts.node2]\naddress = \"192.0.2.12\" # \xff\n",
        );
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: the included file `lab.toml` is not UTF-8 text: its first bad byte is at lab.toml:2:26
     --> swarmform.toml:1:12
      |
    1 | include = ["lab.toml"]
      |            ^^^^^^^^^^ included here
      |
      = help: save the file as UTF-8

    error: the config has 1 error; nothing was changed
    "#);
    test.write(
        "swarmform.toml",
        format!("{ONE}\n[stacks.web]\ncompose = \"web.yml\"\n"),
    );
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: `web.yml` is not UTF-8 text
     --> web.yml:3:12
      |
    3 |     image: �t�
      |            ^ the first byte that is not UTF-8
      |
      = help: save the file as UTF-8 (it is named at swarmform.toml:6:11)

    error: the config has 1 error; nothing was changed
    "#);
}

// An include that is not a config (a passwd-like file with a password in it, or TOML of other
// keys) is an error at the include naming a position in the file, never quoting it.
#[test]
fn a_failed_include_never_quotes_the_file() {
    let test = Test::new()
        .config(&format!("include = [\"passwd\"]\n{ONE}"))
        .file(
            "passwd",
            "root:x:0:0:root:/root:/bin/bash\nDB_PASSWORD=hunter2-secret\n",
        );
    let stderr = refused(&test, &["validate"]);
    assert!(
        !stderr.contains("root:x") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    insta::assert_snapshot!(stderr, @r#"
    error: the included file `passwd` is not a valid config: the error is at passwd:1:32
     --> swarmform.toml:1:12
      |
    1 | include = ["passwd"]
      |            ^^^^^^^^ included here
      |
      = help: an included file holds `[ssh]` and `[hosts.NAME]` tables in TOML; it is not quoted, in case it is a file not meant to be shown: open it at that position, or include the right file

    error: the config has 1 error; nothing was changed
    "#);
    test.write(
        "passwd",
        "db_password = \"hunter2-secret\"\n[ssh]\nport = \"hunter2-port\"\n",
    );
    let stderr = refused(&test, &["validate"]);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains(
            "the included file `passwd` is not a valid config: the error is at passwd:1:1"
        ),
        "{stderr}"
    );
}

/// A root config calling the module `edge` (its `module.toml` still to write) with `call` added
/// to the call's table, and files beside it.
fn module_test(call: &str) -> Test {
    Test::new()
        .config(&format!("{ONE}\n[modules.edge]\nsource = \"edge\"\n{call}"))
        .file(
            "modules/edge/inside.yml",
            "services:\n  web:\n    image: local/web:1\n",
        )
        .file("outside.txt", "a file of the root's\n")
        .file("outside.yml", "services:\n  web:\n    image: local/web:1\n")
}

// A module's files stay inside its folder: `..`, an absolute path and a symbolic link out of it
// are refused at the path; the call's `allow_paths_outside = true` allows them.
#[test]
fn a_module_path_out_of_its_folder_is_refused() {
    let module = |dir: &str| {
        format!(
            "[secrets.up]\nfile = \"../../outside.txt\"\n\n[configs.absolute]\nfile = \"{dir}/outside.txt\"\n\n[stacks.linked]\ncompose = \"linked.yml\"\n\n[stacks.inside]\ncompose = \"inside.yml\"\n"
        )
    };
    let test = module_test("");
    test.write("modules/edge/module.toml", module("/srv/elsewhere"));
    std::os::unix::fs::symlink("../../outside.yml", test.path("modules/edge/linked.yml"))
        .expect("symlink");
    insta::assert_snapshot!(refused(&test, &["validate"]), @r#"
    error: `../../outside.txt` is outside the folder of the module `edge`: `..` leads out of it
     --> modules/edge/module.toml:2:8
      |
    2 | file = "../../outside.txt"
      |        ^^^^^^^^^^^^^^^^^^^ outside the module's folder
      |
      = help: a module's files stay inside its folder `modules/edge`; move the file there, or, if you trust this module with the files outside it, set `allow_paths_outside = true` under `[modules.edge]` in the root config

    error: `/srv/elsewhere/outside.txt` is outside the folder of the module `edge`: it is an absolute path
     --> modules/edge/module.toml:5:8
      |
    5 | file = "/srv/elsewhere/outside.txt"
      |        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^ outside the module's folder
      |
      = help: a module's files stay inside its folder `modules/edge`; move the file there, or, if you trust this module with the files outside it, set `allow_paths_outside = true` under `[modules.edge]` in the root config

    error: `linked.yml` is outside the folder of the module `edge`: a symbolic link leads out of it
     --> modules/edge/module.toml:8:11
      |
    8 | compose = "linked.yml"
      |           ^^^^^^^^^^^^ outside the module's folder
      |
      = help: a module's files stay inside its folder `modules/edge`; move the file there, or, if you trust this module with the files outside it, set `allow_paths_outside = true` under `[modules.edge]` in the root config

    error: the config has 3 errors; nothing was changed
    "#);
    let allowed = module_test("allow_paths_outside = true\n");
    allowed.write(
        "modules/edge/module.toml",
        module(&allowed.dir().display().to_string()),
    );
    std::os::unix::fs::symlink("../../outside.yml", allowed.path("modules/edge/linked.yml"))
        .expect("symlink");
    allowed.run(&["validate"]).success();
}

// An SSH identity file that is a FIFO is refused as the host's key, not waited on.
#[test]
fn a_fifo_identity_file_is_refused() {
    let test = Test::with_hosts(1, 1);
    fifo(&test, "id.pipe");
    let config = test.read("swarmform.toml");
    let config: String = config
        .lines()
        .map(|line| {
            if line.starts_with("identity_file") {
                "identity_file = \"id.pipe\"\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    test.write("swarmform.toml", config);
    insta::assert_snapshot!(refused(&test, &["plan"]), @"
    error: cannot use the key file `id.pipe`: it is a FIFO (a named pipe), not a regular file
    hint: check the path in `identity_file` (or IdentityFile in ~/.ssh/config) and the file's permissions
    ");
}
