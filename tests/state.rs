//! The state file through the CLI: `state list`, `state show`, `state rm` (with its backup and
//! permissions), refusing corrupt and newer files without touching them, and the state lock
//! (contention, `--lock-timeout`, `force-unlock`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use swarmform::state::StateFile;

use crate::support::{SMALL, SMALL_COMPOSE, Test, redacted};

/// SMALL plus a secret, applied.
fn applied() -> Test {
    let config = format!("{SMALL}\n[secrets.db]\nfile = \"db.txt\"\n");
    Test::new()
        .config(&config)
        .file("web.yml", SMALL_COMPOSE)
        .file("db.txt", "hunter2\n")
        .applied()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

// `state list` prints every address, one a line, in address order.
#[test]
fn list_prints_the_addresses_in_order() {
    let run = applied().run(&["state", "list"]).success();
    insta::assert_snapshot!(run.stdout(), @"
    engine.node1
    engine.node2
    engine.node3
    swarm
    node.node1
    node.node2
    node.node3
    network.web
    secret.db
    stack.web
    ");
}

// `state list` without a state prints nothing and succeeds.
#[test]
fn list_without_a_state_is_empty() {
    let run = Test::new().config(SMALL).run(&["state", "list"]).success();
    assert_eq!(run.stdout(), "");
}

// `state show` prints one resource's recorded attributes.
#[test]
fn show_prints_a_resources_attributes() {
    let run = applied().run(&["state", "show", "node.node2"]).success();
    insta::assert_snapshot!(run.stdout(), @r#"
    # node.node2:
    node.node2 {
        advertise_addr = "192.0.2.12"
        availability   = "active"
        labels         = {"zone":"a"}
        role           = "worker"
    }
    "#);
}

// `state show` of a secret prints `(sensitive)`, never the content's hash.
#[test]
fn show_hides_a_secrets_content() {
    let run = applied().run(&["state", "show", "secret.db"]).success();
    assert!(!run.stdout().contains("sha256:"), "{}", run.stdout());
    insta::assert_snapshot!(run.stdout(), @r#"
    # secret.db:
    secret.db {
        content = (sensitive)
        labels  = {}
        name    = "db-46a9d5bd"
    }
    "#);
}

// `show` without a plan file prints the whole state, sensitive values hidden; `--json` too.
#[test]
fn show_prints_the_state() {
    let test = applied();
    let run = test.run(&["show"]).success();
    assert!(
        run.stdout()
            .contains("# secret.db:\nsecret.db {\n    content = (sensitive)\n"),
        "{}",
        run.stdout()
    );
    insta::assert_snapshot!("show_the_state", run.stdout());
    assert!(!run.stdout().contains("sha256:"), "{}", run.stdout());
    let run = test.run(&["show", "--json"]).success();
    let state: serde_json::Value = serde_json::from_str(&run.stdout()).expect("state JSON");
    assert_eq!(state["serial"], 1);
    assert!(!run.stdout().contains("sha256:"), "{}", run.stdout());
}

// `show` with no state says nothing was applied.
#[test]
fn show_without_a_state_says_so() {
    let run = Test::new().config(SMALL).run(&["show"]).success();
    assert_eq!(run.stdout(), "");
    assert_eq!(
        run.stderr(),
        "No state at `swarmform.state.json`: nothing has been applied yet.\n"
    );
}

// `state show` of an address that is not in the state says how to list them.
#[test]
fn show_of_a_missing_address_is_an_error() {
    let run = applied().run(&["state", "show", "network.nope"]).failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: no resource `network.nope` in the state
    hint: `swarmform state list` shows the addresses
    ");
}

// `state rm` forgets a resource, keeps the previous state as `.backup`, and the next plan creates
// the resource again.
#[test]
fn rm_forgets_a_resource_and_keeps_a_backup() {
    let test = applied();
    let before = std::fs::read(test.state_path()).expect("state");
    let run = test.run(&["state", "rm", "network.web"]).success();
    assert_eq!(
        run.stderr(),
        "Removed `network.web` from the state; nothing on the hosts was changed.\n"
    );
    assert_eq!(
        std::fs::read(test.path("swarmform.state.json.backup")).expect("backup"),
        before
    );
    let run = test.run(&["state", "list"]).success();
    assert!(!run.stdout().contains("network.web"), "{}", run.stdout());
    let run = test.run(&["plan", "--refresh=false"]).success();
    let stdout = run.stdout();
    assert!(
        stdout.contains("  # network.web will be created\n"),
        "{stdout}"
    );
    insta::assert_snapshot!("plan_after_state_rm", stdout);
    assert!(
        stdout.ends_with("Plan: 1 to add, 0 to change, 0 to destroy.\n"),
        "{stdout}"
    );
}

// `state rm` counts the state's serial up.
#[test]
fn rm_increments_the_serial() {
    let test = applied();
    test.run(&["state", "rm", "network.web"]).success();
    let state: serde_json::Value =
        serde_json::from_str(&test.read("swarmform.state.json")).expect("state JSON");
    assert_eq!(state["serial"], 2);
}

// The state file is private (0600) after `state rm`, even if it was readable by others before.
#[test]
fn rm_leaves_the_state_private() {
    let test = applied();
    std::fs::set_permissions(test.state_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    test.run(&["state", "rm", "network.web"]).success();
    assert_eq!(mode(&test.path("swarmform.state.json")), 0o600);
    assert_eq!(mode(&test.path("swarmform.state.json.backup")), 0o600);
}

// `state rm` of an address that is not in the state changes nothing.
#[test]
fn rm_of_a_missing_address_is_an_error() {
    let test = applied();
    let before = std::fs::read(test.state_path()).expect("state");
    let run = test
        .run(&["state", "rm", "network.web", "network.nope"])
        .failure();
    insta::assert_snapshot!(run.stderr(), @"
    error: no resource `network.nope` in the state
    hint: `swarmform state list` shows the addresses
    ");
    assert_eq!(
        std::fs::read(test.path("swarmform.state.json")).expect("state"),
        before
    );
    assert!(!test.path("swarmform.state.json.backup").exists());
}

// `state rm` of something that is not an address says what addresses look like.
#[test]
fn rm_of_a_malformed_address_is_an_error() {
    let run = applied().run(&["state", "rm", "nope.x"]).failure();
    assert!(
        run.stderr().starts_with(
            "error: `nope.x` is not a resource address: expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack\n"
        ),
        "{}",
        run.stderr()
    );
}

// A corrupt state file is refused with a clear error, and its bytes are left as they were.
#[test]
fn a_corrupt_state_is_refused_and_untouched() {
    let corrupt = b"{\"format_version\": 1, \"serial\": 3, \"resources\": [";
    let test = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .file(
            "swarmform.state.json",
            std::str::from_utf8(corrupt).expect("utf-8"),
        );
    let run = test.run(&["plan", "--refresh=false"]).failure();
    insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is not valid swarmform state: EOF while parsing a list at line 1 column 49; it was left untouched — restore it from `swarmform.state.json.backup` or fix it by hand");
    assert_eq!(
        std::fs::read(test.path("swarmform.state.json")).expect("state"),
        corrupt
    );
    let run = test.run(&["state", "rm", "network.web"]).failure();
    assert!(
        run.stderr().contains("is not valid swarmform state"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is not valid swarmform state: EOF while parsing a list at line 1 column 49; it was left untouched — restore it from `swarmform.state.json.backup` or fix it by hand");
    assert_eq!(
        std::fs::read(test.path("swarmform.state.json")).expect("state"),
        corrupt
    );
}

// A state written by a newer swarmform is refused, naming both versions, and left as it was.
#[test]
fn a_newer_state_is_refused_and_untouched() {
    let newer = "{\"format_version\": 99, \"serial\": 3, \"lineage\": \"x\", \"resources\": [], \"future\": true}\n";
    let test = Test::new()
        .config(SMALL)
        .file("web.yml", SMALL_COMPOSE)
        .file("swarmform.state.json", newer);
    let run = test.run(&["plan", "--refresh=false"]).failure();
    insta::assert_snapshot!(run.stderr().replace(env!("CARGO_PKG_VERSION"), "[VERSION]"), @"error: the state file `swarmform.state.json` has format version 99, but this swarmform ([VERSION]) reads only up to version 1; it was left untouched — upgrade swarmform to work with it");
    let run = test.run(&["state", "rm", "network.web"]).failure();
    assert!(
        run.stderr().contains("has format version 99"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr().replace(env!("CARGO_PKG_VERSION"), "[VERSION]"), @"error: the state file `swarmform.state.json` has format version 99, but this swarmform ([VERSION]) reads only up to version 1; it was left untouched — upgrade swarmform to work with it");
    assert_eq!(test.read("swarmform.state.json"), newer);
    assert!(!test.path("swarmform.state.json.backup").exists());
}

// While another process holds the lock, a plan fails at once naming the holder, the lock id and
// the `force-unlock` command.
#[test]
fn a_locked_state_refuses_a_plan() {
    let test = applied();
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let id = guard.info().id.clone();
    let run = test.run(&["plan", "--refresh=false"]).failure();
    let stderr = run.stderr();
    assert!(stderr.contains("is locked by"), "{stderr}");
    assert!(stderr.contains(&format!("lock id `{id}`")), "{stderr}");
    assert!(
        stderr.contains(&format!("swarmform force-unlock {id}")),
        "{stderr}"
    );
    redacted(
        || insta::assert_snapshot!(stderr, @"error: the state file `swarmform.state.json` is locked by [WHO] (lock id `[UUID]`, operation `apply`, pid [PID], since [TIME]); wait for it to finish, or if that process is gone, run `swarmform force-unlock [UUID]`"),
    );
    drop(guard);
}

/// `RUST_LOG` for a run whose waiting for the state lock shows on stderr, the rest of its log as
/// without `-v`.
const LOCK_TRACE: &str = "warn,swarmform::state::lock=trace";

/// The trace line of a run that found the state lock held and waits for it.
const WAITING: &str = "the state lock is held: waiting for it";

/// The id of the lock in the state's lock file: whose lock it is now.
fn lock_holder(test: &Test) -> String {
    let path = StateFile::new(test.state_path()).lock_path();
    let text = std::fs::read_to_string(&path).expect("the lock file");
    let info: serde_json::Value = serde_json::from_str(&text).expect("the lock file's JSON");
    info["id"].as_str().expect("the lock id").to_owned()
}

// `--lock-timeout 1s` waits a second for the lock, then fails saying how long it waited: it found
// the lock held by this test's holder, waited, and gave up while that holder still held it.
#[test]
fn a_lock_timeout_waits_then_fails() {
    let test = applied();
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let id = guard.info().id.clone();
    let start = Instant::now();
    let test = test.env("RUST_LOG", LOCK_TRACE);
    let run = test
        .run(&["plan", "--refresh=false", "--lock-timeout", "1s"])
        .failure();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "returned after {waited:?}"
    );
    let stderr = run.stderr();
    let waiting = stderr
        .lines()
        .position(|line| line.contains(WAITING) && line.contains(&id))
        .unwrap_or_else(|| panic!("the plan found this test's lock held and waited:\n{stderr}"));
    let failed = stderr
        .lines()
        .position(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("the plan failed:\n{stderr}"));
    assert!(waiting < failed, "it waited, then failed:\n{stderr}");
    assert!(
        stderr.contains(&format!("lock id `{id}`")),
        "the failure names this test's lock:\n{stderr}"
    );
    assert!(
        stderr.contains(" and still held after waiting 1."),
        "{stderr}"
    );
    assert_eq!(
        lock_holder(&test),
        id,
        "the holder held the lock throughout"
    );
    drop(guard);
}

// A lock released while a plan waits for it lets the plan go ahead: the plan is seen waiting for
// this test's lock, is still running and has not taken the lock when the holder releases it, and
// plans once it is released.
#[test]
fn a_lock_released_in_time_lets_the_plan_run() {
    let test = applied();
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let id = guard.info().id.clone();
    // Started the way `Test::run` starts it, with its stderr read while it runs.
    let mut plan = test
        .command(&["plan", "--refresh=false", "--lock-timeout", "60s"])
        .env("RUST_LOG", LOCK_TRACE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn swarmform");
    let stderr = plan.stderr.take().expect("stderr");
    let (lines, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    // A bound on the wait, so a plan that never waits fails the test instead of hanging it.
    let waiting = loop {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .expect("the plan says it waits for the lock before it ends");
        if line.contains(WAITING) {
            break line;
        }
    };
    assert!(
        waiting.contains(&id),
        "it waits for this test's lock: {waiting}"
    );
    assert!(
        plan.try_wait().expect("the plan's status").is_none(),
        "the plan is still waiting"
    );
    assert_eq!(lock_holder(&test), id, "the plan has not taken the lock");
    drop(guard);
    let output = plan.wait_with_output().expect("wait for swarmform");
    let stderr = reader.join().expect("read stderr");
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("No changes."), "{stdout}");
}

// `state rm` takes the lock too.
#[test]
fn a_locked_state_refuses_state_rm() {
    let test = applied();
    let before = std::fs::read(test.state_path()).expect("state");
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let run = test.run(&["state", "rm", "network.web"]).failure();
    assert!(run.stderr().contains("is locked by"), "{}", run.stderr());
    redacted(
        || insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is locked by [WHO] (lock id `[UUID]`, operation `apply`, pid [PID], since [TIME]); wait for it to finish, or if that process is gone, run `swarmform force-unlock [UUID]`"),
    );
    assert_eq!(
        std::fs::read(test.path("swarmform.state.json")).expect("state"),
        before
    );
    drop(guard);
}

// `force-unlock` with another id is refused and the lock stays.
#[test]
fn force_unlock_with_the_wrong_id_is_refused() {
    let test = applied();
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let run = test.run(&["force-unlock", "WRONG"]).failure();
    redacted(
        || insta::assert_snapshot!(run.stderr(), @"error: the lock on `swarmform.state.json` has id `[UUID]`, not `WRONG`; nothing was unlocked — check the id in the lock error, and run `swarmform force-unlock [UUID]` only if that process is gone"),
    );
    let run = test.run(&["plan", "--refresh=false"]).failure();
    assert!(run.stderr().contains("is locked by"), "{}", run.stderr());
    redacted(
        || insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is locked by [WHO] (lock id `[UUID]`, operation `apply`, pid [PID], since [TIME]); wait for it to finish, or if that process is gone, run `swarmform force-unlock [UUID]`"),
    );
    drop(guard);
}

// `force-unlock ID` refuses a lock whose holder still runs on this host, naming its pid and
// `--force`; the lock stays until `--force` releases it, and the next plan works.
#[test]
fn force_unlock_refuses_a_holder_running_here_unless_forced() {
    let test = applied();
    let guard = StateFile::new(test.state_path())
        .lock("apply", Duration::ZERO)
        .expect("lock");
    let id = guard.info().id.clone();
    let run = test.run(&["force-unlock", &id]).failure();
    let pid = std::process::id().to_string();
    assert!(
        run.stderr()
            .contains(&format!("held by pid {pid} on this host")),
        "{}",
        run.stderr()
    );
    let stderr = run
        .stderr()
        .replace(&guard.info().who, "[WHO]")
        .replace(&format!("`kill {pid}`"), "`kill [PID]`");
    redacted(|| {
        insta::assert_snapshot!(stderr, @"
    error: the lock `[UUID]` on `swarmform.state.json` is held by pid [PID] on this host ([WHO], operation `apply`, since [TIME]), and that process is still running; nothing was unlocked
    hint: wait for it to finish, or stop it (`kill [PID]`) and retry; if you are sure it no longer uses the state, run `swarmform force-unlock --force [UUID]`
    ")
    });
    let run = test.run(&["plan", "--refresh=false"]).failure();
    assert!(run.stderr().contains("is locked by"), "{}", run.stderr());
    redacted(
        || insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is locked by [WHO] (lock id `[UUID]`, operation `apply`, pid [PID], since [TIME]); wait for it to finish, or if that process is gone, run `swarmform force-unlock [UUID]`"),
    );
    let run = test.run(&["force-unlock", "--force", &id]).success();
    redacted(
        || insta::assert_snapshot!(run.stderr(), @"Released the lock `[UUID]` on `swarmform.state.json` (held by [WHO], operation `apply`, pid [PID])."),
    );
    let run = test.run(&["plan", "--refresh=false"]).success();
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
    drop(guard);
}

// `force-unlock ID` releases a lock whose recorded process is gone, or runs on another host,
// without `--force`.
#[test]
fn force_unlock_releases_a_lock_whose_holder_is_gone_or_elsewhere() {
    let dead = {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    };
    let test = applied();
    test.run(&["state", "list"]).success();
    for (pid, who) in [
        (dead, None),
        (std::process::id(), Some("ops@another-host.example")),
    ] {
        // The OS lock stays with this process; only what the lock file records differs.
        let guard = StateFile::new(test.path("swarmform.state.json"))
            .lock("apply", Duration::ZERO)
            .expect("lock");
        let mut info = guard.info().clone();
        info.pid = pid;
        if let Some(who) = who {
            info.who = who.to_owned();
        }
        std::fs::write(guard.path(), serde_json::to_vec(&info).expect("json")).expect("rewrite");
        let run = test.run(&["force-unlock", &info.id]).success();
        assert!(
            run.stderr()
                .starts_with(&format!("Released the lock `{}`", info.id)),
            "{}",
            run.stderr()
        );
        let run = test.run(&["plan", "--refresh=false"]).success();
        assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
        drop(guard);
    }
}

// `force-unlock` when nothing is locked says there is nothing to unlock.
#[test]
fn force_unlock_without_a_lock_says_so() {
    let run = applied().run(&["force-unlock", "any-id"]).failure();
    insta::assert_snapshot!(run.stderr(), @"error: the state file `swarmform.state.json` is not locked (there is no `swarmform.state.json.lock`); there is nothing to unlock");
}

// `--state` puts the state elsewhere; the default beside the config is not touched.
#[test]
fn the_state_flag_chooses_the_file() {
    let test = applied();
    std::fs::rename(test.state_path(), test.path("elsewhere.json")).expect("move the state");
    let run = test
        .run(&["--state", "elsewhere.json", "state", "list"])
        .success();
    assert!(run.stdout().contains("network.web\n"), "{}", run.stdout());
    insta::assert_snapshot!(run.stdout(), @"
    engine.node1
    engine.node2
    engine.node3
    swarm
    node.node1
    node.node2
    node.node3
    network.web
    secret.db
    stack.web
    ");
    assert!(!test.path("swarmform.state.json").exists());
}

// A state path that is a symbolic link is written through to its target: the link stays a link,
// the target gets the new state, and the backup sits beside the target.
#[test]
fn a_symlinked_state_is_written_through_to_its_target() {
    let test = applied();
    std::fs::create_dir(test.path("shared")).expect("folder");
    std::fs::rename(test.state_path(), test.path("shared/prod.json")).expect("move");
    std::os::unix::fs::symlink("shared/prod.json", test.state_path()).expect("symlink");
    let before = std::fs::read(test.path("shared/prod.json")).expect("state");
    test.run(&["state", "rm", "network.web"]).success();
    let link = std::fs::symlink_metadata(test.path("swarmform.state.json")).expect("link");
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let target = test.read("shared/prod.json");
    assert!(!target.contains("\"address\": \"network.web\""), "{target}");
    assert_eq!(
        std::fs::read(test.path("shared/prod.json.backup")).expect("backup"),
        before
    );
    assert!(!test.path("swarmform.state.json.backup").exists());
    assert_eq!(mode(&test.path("shared/prod.json")), 0o600);
    let run = test.run(&["state", "list"]).success();
    assert!(!run.stdout().contains("network.web"), "{}", run.stdout());
}

// A state path that is a symbolic link to nothing is an error naming the link and its target,
// not an empty state that a plan would create everything from again.
#[test]
fn a_dangling_symlinked_state_is_an_error() {
    let test = Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE);
    std::os::unix::fs::symlink("gone/prod.json", test.state_path()).expect("symlink");
    let run = test.run(&["plan", "--refresh=false"]).failure();
    insta::assert_snapshot!(run.stderr(), @r"
    error: the state file `swarmform.state.json` is a symbolic link to `gone/prod.json`, which does not exist; nothing was read or written
    hint: restore `gone/prod.json` (or mount what holds it), or point the link at the state with `ln -sfn STATE swarmform.state.json`; to start with no state, remove the link
    ");
    assert_eq!(run.stdout(), "");
    let run = test.run(&["state", "list"]).failure();
    assert!(
        run.stderr()
            .contains("is a symbolic link to `gone/prod.json`"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @"
    error: the state file `swarmform.state.json` is a symbolic link to `gone/prod.json`, which does not exist; nothing was read or written
    hint: restore `gone/prod.json` (or mount what holds it), or point the link at the state with `ln -sfn STATE swarmform.state.json`; to start with no state, remove the link
    ");
    assert!(!test.path("gone").exists());
}

// A temporary copy of the state that a killed run left beside it is removed by the next command
// that takes the lock; files that are not swarmform's stay.
#[test]
fn a_killed_runs_temporary_state_is_cleaned_up() {
    let test = applied();
    let copy = std::fs::read(test.state_path()).expect("state");
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3_600);
    // A pid no Linux system hands out (at most 2^22), so the writer is surely gone.
    let stale = ".swarmform.state.json.tmp.99999999.aB3dE9";
    for name in [stale, ".tmp-mine", "notes.json"] {
        let path = test.path(name);
        std::fs::write(&path, &copy).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(hour_ago))
            .expect("age the file");
    }
    test.run(&["plan", "--refresh=false"]).success();
    assert!(!test.path(stale).exists(), "the stale copy was left");
    assert!(test.path(".tmp-mine").exists());
    assert!(test.path("notes.json").exists());
}

/// SMALL, autolocked, keeping its unlock key in `file`.
fn autolocked(file: &str) -> Test {
    let config = format!("{SMALL}\n[swarm]\nautolock = true\nunlock_key_file = \"{file}\"\n");
    Test::new().config(&config).file("web.yml", SMALL_COMPOSE)
}

// `validate` refuses an `unlock_key_file` whose folder does not exist, pointing at the value
// and saying how to make the folder; `plan` refuses it too; once the folder exists it passes.
#[test]
fn an_unlock_key_file_in_a_missing_folder_is_refused() {
    let test = autolocked("keys/unlock.key");
    let run = test.run(&["validate"]).failure();
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `unlock_key_file` cannot be written: the folder `keys` does not exist
      --> swarmform.toml:22:19
       |
    22 | unlock_key_file = "keys/unlock.key"
       |                   ^^^^^^^^^^^^^^^^^ the apply that locks the swarm writes its unlock key here
       |
       = help: create it (`mkdir -p keys`; mode 0700 keeps it private), or name a file in a folder that exists; paths are relative to `.`

    error: the config has 1 error; nothing was changed
    "#);
    let run = test.run(&["plan", "--refresh=false"]).failure();
    assert!(
        run.stderr()
            .contains("`unlock_key_file` cannot be written: the folder `keys` does not exist"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `unlock_key_file` cannot be written: the folder `keys` does not exist
      --> swarmform.toml:22:19
       |
    22 | unlock_key_file = "keys/unlock.key"
       |                   ^^^^^^^^^^^^^^^^^ the apply that locks the swarm writes its unlock key here
       |
       = help: create it (`mkdir -p keys`; mode 0700 keeps it private), or name a file in a folder that exists; paths are relative to `.`

    error: the config has 1 error; nothing was changed
    "#);
    assert_eq!(run.stdout(), "");
    std::fs::create_dir(test.path("keys")).expect("make the folder");
    let run = test.run(&["validate"]).success();
    assert!(
        run.stderr().starts_with("The config is valid"),
        "{}",
        run.stderr()
    );
    // The check leaves nothing behind in the folder.
    assert_eq!(
        std::fs::read_dir(test.path("keys")).expect("list").count(),
        0
    );
}

// `validate` refuses an `unlock_key_file` in a folder this user cannot write (`/sys` refuses
// even root), and one that names a folder.
#[test]
fn an_unlock_key_file_that_cannot_be_written_is_refused() {
    let run = autolocked("/sys/swarmform-unlock.key")
        .run(&["validate"])
        .failure();
    assert!(
        run.stderr().contains(
            "error: `unlock_key_file` cannot be written: the folder `/sys` is not writable by this user: "
        ),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("= help: make it writable (`chmod u+w /sys`)"),
        "{}",
        run.stderr()
    );
    let test = autolocked("keys");
    std::fs::create_dir(test.path("keys")).expect("folder");
    let run = test.run(&["validate"]).failure();
    assert!(
        run.stderr()
            .contains("error: `unlock_key_file` cannot be written: `keys` is a folder, not a file"),
        "{}",
        run.stderr()
    );
    insta::assert_snapshot!(run.stderr(), @r#"
    error: `unlock_key_file` cannot be written: `keys` is a folder, not a file
      --> swarmform.toml:22:19
       |
    22 | unlock_key_file = "keys"
       |                   ^^^^^^ the apply that locks the swarm writes its unlock key here
       |
       = help: name a file, such as `unlock.key` inside it; paths are relative to `.`

    error: the config has 1 error; nothing was changed
    "#);
}

// When `unlock_key_file` cannot be written at apply time (its folder was removed after the
// config was checked), the new key is not lost: with no terminal it goes to
// `swarmform.state.json.unlock-key` (0600), the swarm init fails saying where it is, and the
// apply stops there: nothing starts after it, on that host or any other. Once the folder is
// back, the next apply writes the key file.
#[test]
fn an_unlock_key_that_cannot_be_written_is_kept_beside_the_state_and_the_apply_stops() {
    // Two files on node2: one host runs one step at a time, so the second waits while the
    // first takes its 2 s, and is not started once the init stops the apply.
    let workloads = "[swarm]\nautolock = true\nunlock_key_file = \"keys/unlock.key\"\n\n[files.motd]\npath = \"/etc/motd\"\ncontent = \"managed by swarmform\\n\"\nhosts = [\"node2\"]\n\n[files.issue]\npath = \"/etc/issue\"\ncontent = \"managed by swarmform\\n\"\nhosts = [\"node2\"]\n";
    let cluster = Test::with_hosts(2, 1).workloads(workloads);
    std::fs::create_dir(cluster.path("keys")).expect("keys folder");
    // node2's steps finish well after the swarm init on node1 fails.
    cluster.sim().delay("node1", Duration::from_millis(200));
    cluster.sim().delay("node2", Duration::from_secs(2));
    let applied = std::thread::scope(|scope| {
        let apply = scope.spawn(|| cluster.run(&["apply", "--auto-approve"]));
        // The config is checked before any host is asked anything.
        assert!(cluster.wait_for_command("node1", "docker"));
        std::fs::remove_dir(cluster.path("keys")).expect("remove the folder");
        apply.join().expect("the apply")
    })
    .failure();
    let stderr = applied.stderr();
    let fallback = cluster.path("swarmform.state.json.unlock-key");
    let key = std::fs::read_to_string(&fallback).expect("the key beside the state");
    let key = key.trim();
    assert!(key.starts_with("SWMKEY-1-"), "{key}");
    assert_eq!(mode(&fallback), 0o600);
    assert!(
        stderr.contains("error: swarm: the unlock key could not be written to `./keys/unlock.key`: No such file or directory (os error 2); it was written to `swarmform.state.json.unlock-key` (mode 0600) instead, and the apply stops here\nhint: move it to `./keys/unlock.key` once that folder exists and is writable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Its unlock key could not be written to `./keys/unlock.key`, so it was written to `swarmform.state.json.unlock-key` (mode 0600) instead"),
        "{stderr}"
    );
    assert!(stderr.contains(" not started."), "{stderr}");
    assert!(!stderr.contains("Apply complete"), "{stderr}");
    for text in [applied.stdout(), stderr.clone(), cluster.state_text()] {
        assert!(!text.contains(key), "the unlock key leaked:\n{text}");
    }
    let node2 = cluster.sim().commands("node2");
    assert!(
        !node2.iter().any(|line| line.contains("/etc/motd")),
        "a step started after the apply stopped: {node2:#?}"
    );

    cluster.sim().clear_faults("node1");
    cluster.sim().clear_faults("node2");
    std::fs::create_dir(cluster.path("keys")).expect("keys folder again");
    // The refresh finds the swarm through the configured hosts, though the state records no
    // manager yet.
    let again = cluster.run(&["apply", "--auto-approve"]).success();
    assert_eq!(
        std::fs::read_to_string(cluster.path("keys/unlock.key"))
            .expect("the key file")
            .trim(),
        key
    );
    assert!(
        again
            .stderr()
            .contains("Its unlock key was written to `./keys/unlock.key`"),
        "{}",
        again.stderr()
    );
    cluster.run(&["plan", "--detailed-exitcode"]).success();
}
