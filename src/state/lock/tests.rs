//! The state lock's unit tests: where the lock file is and what it records, contention and
//! waiting (each waiting test proves by its events that the waiter waited), stale files,
//! `force-unlock`.

use super::*;
use crate::state::StateFile;

const NO_WAIT: Duration = Duration::ZERO;

fn state_path(directory: &tempfile::TempDir) -> PathBuf {
    directory.path().join("swarmform.state.json")
}

#[test]
fn lock_file_sits_next_to_the_state_and_records_the_holder() {
    // The lock is `<state>.lock` and holds the holder's information as JSON.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let guard = state.lock("apply", NO_WAIT).expect("lock");
    assert_eq!(
        guard.path(),
        directory.path().join("swarmform.state.json.lock")
    );
    let written = read_info(guard.path()).expect("lock information");
    assert_eq!(&written, guard.info());
    assert_eq!(written.operation, "apply");
    assert_eq!(written.pid, std::process::id());
    assert!(written.who.contains('@'));
}

#[test]
fn second_lock_fails_naming_the_holder() {
    // A second lock through its own file handle finds the first holder's lock held, tries
    // again (it waited) and still finds it held, then times out with the first holder's id and
    // operation.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let first = state.lock("apply", NO_WAIT).expect("first lock");
    let mut found_held = Vec::new();
    let start = Instant::now();
    let error =
        LockGuard::acquire_watched(state.path(), "plan", Duration::from_millis(200), |holder| {
            found_held.push(holder.map(|info| info.id.clone()))
        })
        .expect_err("second lock must fail");
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(
        found_held.len() >= 2,
        "the lock was tried again after waiting: {found_held:?}"
    );
    assert!(
        found_held
            .iter()
            .all(|holder| holder.as_deref() == Some(first.info().id.as_str())),
        "found held by the first holder every time: {found_held:?}"
    );
    match &error {
        StateError::Locked { path, info, waited } => {
            assert_eq!(path, state.path());
            assert_eq!(**info, *first.info());
            assert!(*waited >= Duration::from_millis(200));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&first.info().id), "{message}");
    assert!(message.contains("`apply`"), "{message}");
    assert!(
        message.contains(&format!("swarmform force-unlock {}", first.info().id)),
        "{message}"
    );
    // The first holder held it throughout: its information is still in the lock file.
    assert_eq!(
        read_info(first.path()).expect("lock information"),
        *first.info()
    );
}

#[test]
fn lock_is_free_again_once_the_guard_drops() {
    // Dropping the guard removes the lock file and lets the next lock succeed.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let first = state.lock("apply", NO_WAIT).expect("first lock");
    let lock_file = first.path().to_owned();
    drop(first);
    assert!(!lock_file.exists());
    let second = state.lock("plan", NO_WAIT).expect("lock after release");
    assert_eq!(second.info().operation, "plan");
}

/// What a waiting lock and its holder did, in the order they did it.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// The waiter found the lock held by the holder with this id.
    FoundHeld(Option<String>),
    /// The holder is about to release the lock.
    Released,
    /// The waiter has the lock.
    Acquired,
}

/// How long a test waits for an event before it fails instead of hanging.
const HANG: Duration = Duration::from_secs(60);

#[test]
fn waiting_lock_succeeds_when_the_holder_releases() {
    // A lock with a timeout waits for a holder that releases within it: the waiter finds the
    // lock held by the holder (and tries again) before it is released, and takes it only
    // after the holder released it.
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = state_path(&directory);
    let first = StateFile::new(&path)
        .lock("apply", NO_WAIT)
        .expect("first lock");
    let holder = first.info().id.clone();
    let (events, received) = std::sync::mpsc::channel();
    let waiter = thread::spawn({
        let events = events.clone();
        move || {
            let second = LockGuard::acquire_watched(&path, "plan", HANG, |holder| {
                let _ = events.send(Event::FoundHeld(holder.map(|info| info.id.clone())));
            });
            let _ = events.send(Event::Acquired);
            second
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(
            received
                .recv_timeout(HANG)
                .expect("the waiter finds the lock held"),
        );
    }
    assert!(!waiter.is_finished(), "the waiter is still waiting");
    events.send(Event::Released).expect("record the release");
    drop(first);
    let second = waiter
        .join()
        .expect("the waiting thread")
        .expect("lock after the holder releases");
    drop(events);
    seen.extend(received.iter());
    let released = seen
        .iter()
        .position(|event| *event == Event::Released)
        .expect("released");
    assert_eq!(
        seen.last(),
        Some(&Event::Acquired),
        "acquired last: {seen:?}"
    );
    assert!(released >= 2, "found held before the release: {seen:?}");
    for event in &seen[..seen.len() - 1] {
        assert!(
            matches!(event, Event::Released) || *event == Event::FoundHeld(Some(holder.clone())),
            "until it has the lock, the waiter only finds it held by the holder: {seen:?}"
        );
    }
    assert_eq!(
        read_info(second.path()).expect("lock information"),
        *second.info()
    );
}

#[test]
fn stale_lock_file_does_not_block() {
    // A lock file left by a killed process (no OS lock held) is taken over and overwritten.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let stale = LockInfo::new("apply");
    let padded = format!(
        "{}\n{}",
        serde_json::to_string(&stale).expect("json"),
        " ".repeat(200)
    );
    fs::write(lock_path(state.path()), padded).expect("write stale lock");
    let guard = state.lock("plan", NO_WAIT).expect("lock over a stale file");
    assert_eq!(
        read_info(guard.path()).expect("lock information"),
        *guard.info()
    );
}

#[test]
fn force_unlock_with_the_right_id_breaks_the_lock() {
    // force_unlock with the holder's id removes the lock, so a new lock succeeds.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let first = state.lock("apply", NO_WAIT).expect("first lock");
    let broken = force_unlock(state.path(), &first.info().id, true).expect("force unlock");
    assert_eq!(&broken, first.info());
    let second = state
        .lock("plan", NO_WAIT)
        .expect("lock after force unlock");
    // The old holder's guard must not remove the new holder's lock file.
    drop(first);
    assert!(second.path().exists());
    assert!(matches!(
        state.lock("destroy", NO_WAIT),
        Err(StateError::Locked { .. })
    ));
}

#[test]
fn force_unlock_with_a_wrong_id_is_refused() {
    // force_unlock with another id fails with UnlockMismatch and leaves the lock in place.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let first = state.lock("apply", NO_WAIT).expect("first lock");
    match force_unlock(state.path(), "not-the-id", false) {
        Err(StateError::UnlockMismatch {
            expected, given, ..
        }) => {
            assert_eq!(expected, first.info().id);
            assert_eq!(given, "not-the-id");
        }
        other => panic!("expected UnlockMismatch, got {other:?}"),
    }
    assert!(first.path().exists());
    assert!(matches!(
        state.lock("plan", NO_WAIT),
        Err(StateError::Locked { .. })
    ));
}

#[test]
fn force_unlock_without_a_lock_says_so() {
    // force_unlock when there is no lock file fails with NotLocked.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    assert!(matches!(
        force_unlock(state.path(), "any", false),
        Err(StateError::NotLocked { .. })
    ));
}

/// The pid of a process that has exited (and been reaped).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait for true");
    pid
}

/// Replaces what the lock file says, keeping the holder's OS lock on it.
fn rewrite_info(guard: &LockGuard, info: &LockInfo) {
    fs::write(guard.path(), serde_json::to_vec(info).expect("json")).expect("rewrite");
}

#[test]
fn force_unlock_refuses_a_holder_running_on_this_host() {
    // Without `force`, a lock whose holder is on this host and alive stays, and the error names its pid.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let first = state.lock("apply", NO_WAIT).expect("first lock");
    let error = force_unlock(state.path(), &first.info().id, false)
        .expect_err("a running holder must be refused");
    match &error {
        StateError::HolderRunning { info, .. } => assert_eq!(**info, *first.info()),
        other => panic!("expected HolderRunning, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&format!("held by pid {} on this host", std::process::id())),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "swarmform force-unlock --force {}",
            first.info().id
        )),
        "{message}"
    );
    assert!(first.path().exists());
    assert!(matches!(
        state.lock("plan", NO_WAIT),
        Err(StateError::Locked { .. })
    ));
}

#[test]
fn force_unlock_breaks_a_lock_whose_holder_is_gone_or_elsewhere() {
    // Without `force`, a lock recorded by a dead pid of this host, or by another host, is broken.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let mut dead = LockInfo::new("apply");
    dead.pid = dead_pid();
    let mut elsewhere = LockInfo::new("apply");
    elsewhere.who = "ops@another-host.example".to_owned();
    for recorded in [dead, elsewhere] {
        // The OS lock stays held by this process: only what the file says differs.
        let guard = state.lock("apply", NO_WAIT).expect("lock");
        let recorded = LockInfo {
            id: guard.info().id.clone(),
            ..recorded
        };
        rewrite_info(&guard, &recorded);
        let broken = force_unlock(state.path(), &recorded.id, false).expect("force unlock");
        assert_eq!(broken, recorded);
        assert!(!guard.path().exists());
        drop(guard);
    }
}

#[test]
fn a_live_holders_lock_is_never_taken_for_stale() {
    // While its holder lives, a lock blocks others whatever the lock file says: a dead pid, an old time, nothing at all.
    let directory = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::new(state_path(&directory));
    let holder = state.lock("apply", NO_WAIT).expect("lock");
    let mut stale_looking = holder.info().clone();
    stale_looking.pid = dead_pid();
    stale_looking.created = 0;
    rewrite_info(&holder, &stale_looking);
    assert!(matches!(
        state.lock("plan", Duration::from_millis(200)),
        Err(StateError::Locked { info, .. }) if *info == stale_looking
    ));
    fs::write(holder.path(), "").expect("empty the lock file");
    assert!(matches!(
        state.lock("plan", NO_WAIT),
        Err(StateError::LockUnreadable { .. })
    ));
}

#[test]
fn liveness_of_a_process() {
    // This process is alive; one that exited is not.
    assert!(process_alive(std::process::id()));
    assert!(!process_alive(dead_pid()));
}

#[test]
fn creation_time_renders_as_utc() {
    // Lock times are shown as calendar dates in UTC.
    assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
    assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
}
