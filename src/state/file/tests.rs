//! The state file's unit tests: loading, saving with the backup, the format checks, symbolic
//! links, temporary files and their cleanup.

use std::collections::BTreeMap;
use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;

use super::atomic::{directory_of, temporary_pid, temporary_prefix};
use super::*;
use crate::address::{Address, Kind};
use crate::state::ResourceState;

const NO_WAIT: Duration = Duration::ZERO;

fn state_file(directory: &tempfile::TempDir) -> StateFile {
    StateFile::new(directory.path().join("swarmform.state.json"))
}

fn sample_state() -> State {
    let mut state = State::new();
    state.upsert(ResourceState {
        address: Address::new(Kind::Network, "maiev"),
        host: None,
        docker_name: Some("maiev".to_owned()),
        remote_id: Some("abc123".to_owned()),
        attributes: BTreeMap::from([("driver".to_owned(), Value::from("overlay"))]),
        sensitive: Vec::new(),
        depends_on: vec![Address::swarm()],
        pending: false,
    });
    state
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn missing_file_loads_as_none() {
    // A state file that does not exist yet is no state, not an error.
    let directory = tempfile::tempdir().expect("temporary directory");
    assert_eq!(state_file(&directory).load().expect("load"), None);
}

#[test]
fn save_then_load_round_trips_and_counts_serials() {
    // What is saved loads back equal, with the serial incremented on every save.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let guard = file.lock("apply", NO_WAIT).expect("lock");
    let mut state = sample_state();
    state.swarmform_version = "0.0.0-old".to_owned();

    file.save(&mut state, &guard).expect("first save");
    assert_eq!(state.serial, 1);
    assert_eq!(state.swarmform_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(file.load().expect("load"), Some(state.clone()));

    file.save(&mut state, &guard).expect("second save");
    assert_eq!(state.serial, 2);
    assert_eq!(file.load().expect("load"), Some(state));

    let text = fs::read_to_string(file.path()).expect("read");
    assert!(text.starts_with("{\n  \"format_version\": 1,\n"), "{text}");
    assert!(text.ends_with("}\n"));
}

#[test]
fn backup_holds_the_previous_version() {
    // A run's first save copies the file it replaces to `<path>.backup`; its later saves do not.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let guard = file.lock("apply", NO_WAIT).expect("lock");
    let mut state = sample_state();

    file.save(&mut state, &guard).expect("first save");
    assert!(!file.backup_path().exists());
    let first = fs::read(file.path()).expect("read first");

    state.remove(&Address::new(Kind::Network, "maiev"));
    file.save(&mut state, &guard)
        .expect("second save of the same run");
    assert!(
        !file.backup_path().exists(),
        "the run started without a state"
    );
    let second = fs::read(file.path()).expect("read second");

    assert_ne!(first, second);

    // The next run's first save keeps the state that run started from.
    drop(guard);
    let next_run = state_file(&directory);
    let guard = next_run.lock("apply", NO_WAIT).expect("lock");
    next_run
        .save(&mut state, &guard)
        .expect("first save of the next run");
    assert_eq!(
        fs::read(next_run.backup_path()).expect("read backup"),
        second
    );
    next_run
        .save(&mut state, &guard)
        .expect("second save of the next run");
    assert_eq!(
        fs::read(next_run.backup_path()).expect("read backup"),
        second
    );
    assert_eq!(
        file.backup_path(),
        directory.path().join("swarmform.state.json.backup")
    );
    assert_eq!(mode(&file.backup_path()), 0o600);
}

#[test]
fn saved_file_is_private() {
    // The state file is mode 0600, also when it replaces a 0644 file.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let guard = file.lock("apply", NO_WAIT).expect("lock");
    let mut state = sample_state();

    file.save(&mut state, &guard).expect("first save");
    assert_eq!(mode(file.path()), 0o600);

    fs::set_permissions(file.path(), Permissions::from_mode(0o644)).expect("chmod");
    file.save(&mut state, &guard).expect("second save");
    assert_eq!(mode(file.path()), 0o600);
}

#[test]
fn corrupt_file_is_refused_and_left_alone() {
    // Invalid JSON, or JSON of the wrong shape, loads as Corrupt and the file is untouched.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    for content in [
        &b"{\"format_version\": 1, \"serial\": "[..],
        b"{\"format_version\": 1, \"serial\": \"one\"}",
        b"{\"serial\": 1}",
        b"[1]",
    ] {
        fs::write(file.path(), content).expect("write");
        let error = file.load().expect_err("corrupt state must be refused");
        assert!(
            matches!(&error, StateError::Corrupt { path, .. } if path == file.path()),
            "{error:?}"
        );
        assert!(error.to_string().contains(".backup"), "{error}");
        assert_eq!(fs::read(file.path()).expect("read"), content);
    }
}

#[test]
fn duplicate_resources_are_corrupt() {
    // A file listing one address twice is refused rather than silently deduplicated.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let mut value = serde_json::to_value(sample_state()).expect("json");
    let resources = value["resources"].as_array_mut().expect("resources");
    resources.push(resources[0].clone());
    fs::write(file.path(), value.to_string()).expect("write");
    assert!(matches!(file.load(), Err(StateError::Corrupt { .. })));
}

#[test]
fn newer_format_is_refused_and_never_overwritten() {
    // A file with a higher format_version (and unknown fields) is NewerFormat, for load and save.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let content = format!(
        "{{\"format_version\": {}, \"serial\": 7, \"a_field_from_the_future\": true}}\n",
        FORMAT_VERSION + 1
    );
    fs::write(file.path(), &content).expect("write");

    match file.load() {
        Err(StateError::NewerFormat {
            found, supported, ..
        }) => {
            assert_eq!(found, FORMAT_VERSION + 1);
            assert_eq!(supported, FORMAT_VERSION);
        }
        other => panic!("expected NewerFormat, got {other:?}"),
    }

    let guard = file.lock("apply", NO_WAIT).expect("lock");
    let mut state = sample_state();
    assert!(matches!(
        file.save(&mut state, &guard),
        Err(StateError::NewerFormat { .. })
    ));
    assert_eq!(state.serial, 0);
    assert_eq!(fs::read_to_string(file.path()).expect("read"), content);
    assert!(!file.backup_path().exists());
}

#[test]
fn a_symlinked_state_is_written_through_to_its_target() {
    // Saving through a symbolic link replaces the target and keeps the link; the backup and the lock sit beside the target.
    let directory = tempfile::tempdir().expect("temporary directory");
    let real = directory.path().join("real");
    fs::create_dir(&real).expect("folder of the target");
    let target = real.join("prod.json");
    let link = directory.path().join("swarmform.state.json");
    std::os::unix::fs::symlink("real/prod.json", &link).expect("symlink");
    let mut state = sample_state();
    {
        let first = StateFile::new(&target);
        let guard = first.lock("apply", NO_WAIT).expect("lock the target");
        first.save(&mut state, &guard).expect("first save");
    }
    let file = StateFile::new(&link);
    let canonical = fs::canonicalize(&target).expect("canonical target");
    assert_eq!(file.target().expect("target"), canonical);
    let guard = file.lock("apply", NO_WAIT).expect("lock through the link");
    assert_eq!(
        guard.path(),
        real.join("prod.json.lock").canonicalize().expect("lock")
    );
    // One state, one lock, whichever path names it.
    assert!(matches!(
        StateFile::new(&target).lock("plan", NO_WAIT),
        Err(StateError::Locked { .. })
    ));
    let before = fs::read(&target).expect("read the target");
    file.save(&mut state, &guard)
        .expect("save through the link");
    assert!(
        fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(file.load().expect("load"), Some(state.clone()));
    assert_eq!(
        fs::read(real.join("prod.json.backup")).expect("backup"),
        before
    );
    assert_eq!(
        file.backup_path(),
        canonical.with_file_name("prod.json.backup")
    );
    assert_eq!(mode(&target), 0o600);
    let names: Vec<String> = fs::read_dir(directory.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names.len(),
        2,
        "nothing but the link and the folder: {names:?}"
    );
}

#[test]
fn a_dangling_symlink_is_an_error_not_an_empty_state() {
    // A state path linking to nothing fails to load and to lock, naming the link and its target.
    let directory = tempfile::tempdir().expect("temporary directory");
    let link = directory.path().join("swarmform.state.json");
    std::os::unix::fs::symlink("gone/prod.json", &link).expect("symlink");
    let file = StateFile::new(&link);
    let error = file
        .load()
        .expect_err("a dangling link must not load as no state");
    match &error {
        StateError::DanglingLink {
            link: named,
            target,
        } => {
            assert_eq!(named, &link);
            assert_eq!(target, Path::new("gone/prod.json"));
        }
        other => panic!("expected DanglingLink, got {other:?}"),
    }
    assert!(error.to_string().contains("\nhint: "), "{error}");
    assert!(matches!(
        file.lock("apply", NO_WAIT),
        Err(StateError::DanglingLink { .. })
    ));
    assert!(!directory.path().join("gone").exists());
    assert!(fs::symlink_metadata(&link).is_ok());
}

#[test]
fn temporary_files_are_named_after_the_file_and_the_pid() {
    // Temporary files read `.NAME.tmp.PID.RANDOM`, and only that shape is recognised as ours.
    let prefix = temporary_prefix(Path::new("a/swarmform.state.json"));
    assert_eq!(
        prefix,
        format!(".swarmform.state.json.tmp.{}.", std::process::id())
    );
    let name = "swarmform.state.json";
    assert_eq!(
        temporary_pid(".swarmform.state.json.tmp.42.aB3dE9", name),
        Some(42)
    );
    for other in [
        ".swarmform.state.json.tmp.42.aB3dE",
        ".swarmform.state.json.tmp.42.aB3dE9x",
        ".swarmform.state.json.tmp.x42.aB3dE9",
        ".swarmform.state.json.tmp..aB3dE9",
        ".swarmform.state.json.tmp.42.aB-dE9",
        ".other.json.tmp.42.aB3dE9",
        "swarmform.state.json.tmp.42.aB3dE9",
        ".tmpaB3dE9",
    ] {
        assert_eq!(temporary_pid(other, name), None, "{other}");
    }
}

#[test]
fn a_failed_write_leaves_no_temporary_file() {
    // When the rename fails (here: onto a folder that is not empty) the temporary file is removed too.
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("swarmform.state.json");
    fs::create_dir(&path).expect("a folder where the file goes");
    fs::write(path.join("inside"), "x").expect("fill the folder");
    let error = write_atomically(&path, b"{}").expect_err("cannot replace a folder");
    assert!(
        matches!(
            &error,
            StateError::Io {
                operation: "replace",
                ..
            }
        ),
        "{error:?}"
    );
    let names: Vec<_> = fs::read_dir(directory.path())
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("swarmform.state.json")]
    );
}

#[test]
fn taking_the_lock_removes_temporary_copies_a_killed_run_left() {
    // Once the lock is held, stale temporary copies of this state and its backup go; nothing else does.
    let directory = tempfile::tempdir().expect("temporary directory");
    let file = state_file(&directory);
    let mut state = sample_state();
    {
        let guard = file.lock("apply", NO_WAIT).expect("lock");
        file.save(&mut state, &guard).expect("save");
    }
    let copy = fs::read(file.path()).expect("state");
    // Larger than any pid a Linux system hands out (at most 2^22).
    let gone = 99_999_999;
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3_600);
    let write = |name: &str, content: &[u8], modified: std::time::SystemTime| {
        let path = directory.path().join(name);
        fs::write(&path, content).expect("write");
        File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(modified))
            .expect("set the time");
    };
    let stale = [
        format!(".swarmform.state.json.tmp.{gone}.aB3dE9"),
        format!(".swarmform.state.json.backup.tmp.{gone}.Zz09Qq"),
        // An earlier version's name, holding a copy of this state.
        ".tmpXy12Ab".to_owned(),
    ];
    let later = std::time::SystemTime::now() + Duration::from_secs(3_600);
    let kept = [
        (
            format!(".other.json.tmp.{gone}.aB3dE9"),
            copy.clone(),
            hour_ago,
        ),
        (".tmpQw34Er".to_owned(), b"not a state".to_vec(), hour_ago),
        (
            ".tmpPo98Iu".to_owned(),
            br#"{"format_version":1,"serial":1,"lineage":"another","resources":[]}"#.to_vec(),
            hour_ago,
        ),
        // A running process (this one) may be writing it.
        (
            format!(".swarmform.state.json.tmp.{}.aB3dE9", std::process::id()),
            copy.clone(),
            hour_ago,
        ),
        // Newer than the lock.
        (
            format!(".swarmform.state.json.tmp.{gone}.Later1"),
            copy.clone(),
            later,
        ),
        ("notes.txt".to_owned(), b"mine".to_vec(), hour_ago),
    ];
    for name in &stale {
        write(name, &copy, hour_ago);
    }
    for (name, content, modified) in &kept {
        write(name, content, *modified);
    }
    let guard = file.lock("plan", NO_WAIT).expect("lock");
    for name in &stale {
        assert!(!directory.path().join(name).exists(), "{name} was left");
    }
    for (name, _, _) in &kept {
        assert!(directory.path().join(name).exists(), "{name} was removed");
    }
    assert!(file.path().exists());
    drop(guard);
}

#[test]
fn bare_file_name_lives_in_the_current_directory() {
    // A state path without a directory writes and syncs in `.`, not in an empty path.
    assert_eq!(directory_of(Path::new("state.json")), Path::new("."));
    assert_eq!(directory_of(Path::new("a/state.json")), Path::new("a"));
}
