//! The state file on disk: loading with version checks, and saving with a backup and an
//! atomic replace, only while the lock is held.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::state::lock::{self, LockGuard};
use crate::state::{FORMAT_VERSION, LockInfo, State, StateError};

/// The state may record host keys and resource details: readable by its owner only.
const MODE: u32 = 0o600;

/// The state file at one path, with its `.backup` and `.lock` beside it.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// Whether this run already kept the state it started from in `.backup`: an apply saves
    /// after every step, and each save durably writing a backup too would double the fsyncs.
    backed_up: std::sync::atomic::AtomicBool,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> StateFile {
        StateFile {
            path: path.into(),
            backed_up: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<path>.backup`: the state as it was before this run, written by the run's first save.
    pub fn backup_path(&self) -> PathBuf {
        let mut path = self.path.as_os_str().to_owned();
        path.push(".backup");
        PathBuf::from(path)
    }

    /// `<path>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        lock::lock_path(&self.path)
    }

    /// Reads the state; `None` when the file does not exist yet. Needs no lock, so a concurrent
    /// save is seen either whole or not at all (saves replace the file atomically).
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let content = match fs::read(&self.path) {
            Ok(content) => content,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    operation: "read",
                    source,
                });
            }
        };
        // The version comes first: a newer file may have fields this build cannot parse.
        let value = self.checked_value(&content)?;
        let mut state: State =
            serde_json::from_value(value).map_err(|error| self.corrupt(error.to_string()))?;
        // A hand-edited file may list resources out of order; lookups need them sorted.
        state
            .resources
            .sort_by(|left, right| left.address.cmp(&right.address));
        if let Some(pair) = state
            .resources
            .windows(2)
            .find(|pair| pair[0].address == pair[1].address)
        {
            return Err(self.corrupt(format!(
                "resource `{}` is listed more than once",
                pair[0].address
            )));
        }
        Ok(Some(state))
    }

    /// Takes the state lock for `operation` (`plan`, `apply`, ...), waiting up to `timeout`
    /// for another holder to release it (zero tries once).
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        LockGuard::acquire(&self.path, operation, timeout)
    }

    /// Breaks the lock whose id is `id`; see [`force_unlock`](crate::state::force_unlock).
    pub fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        lock::force_unlock(&self.path, id)
    }

    /// Writes `state`, incrementing its serial and stamping this build's versions on it.
    ///
    /// The first save of a run copies the file it replaces, if any, to
    /// [`backup_path`](Self::backup_path): the state before the run. Both writes replace their
    /// file atomically, so a crash leaves either the old or the new content. A file in a newer
    /// format is never overwritten.
    pub fn save(&self, state: &mut State, guard: &LockGuard) -> Result<(), StateError> {
        debug_assert_eq!(
            guard.path(),
            self.lock_path(),
            "the guard must lock this state file"
        );
        use std::sync::atomic::Ordering;
        // Later saves of this run replace what the first one wrote, under the same lock.
        if !self.backed_up.load(Ordering::Acquire) {
            match fs::read(&self.path) {
                Ok(previous) => {
                    self.check_version(&previous)?;
                    write_atomically(&self.backup_path(), &previous)?;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StateError::Io {
                        path: self.path.clone(),
                        operation: "read",
                        source,
                    });
                }
            }
            self.backed_up.store(true, Ordering::Release);
        }

        let previous_serial = state.serial;
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        state.swarmform_version = env!("CARGO_PKG_VERSION").to_owned();
        let written = serialize(state)
            .map_err(|source| StateError::Io {
                path: self.path.clone(),
                operation: "serialize the state for",
                source,
            })
            .and_then(|content| write_atomically(&self.path, &content));
        if written.is_err() {
            // Nothing was written: keep the serial matching the file.
            state.serial = previous_serial;
        }
        written
    }

    /// Parses `content` as JSON and checks its `format_version`, which any file of any version
    /// has.
    fn checked_value(&self, content: &[u8]) -> Result<Value, StateError> {
        let value: Value =
            serde_json::from_slice(content).map_err(|error| self.corrupt(error.to_string()))?;
        let found = match value.get("format_version") {
            Some(version) => version.as_u64().ok_or_else(|| {
                self.corrupt(format!(
                    "`format_version` is {version}, not a non-negative integer"
                ))
            })?,
            None if value.is_object() => {
                return Err(self.corrupt("`format_version` is missing".to_owned()));
            }
            None => return Err(self.corrupt("it is not a JSON object".to_owned())),
        };
        if found > u64::from(FORMAT_VERSION) {
            return Err(StateError::NewerFormat {
                path: self.path.clone(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        Ok(value)
    }

    /// Refuses to replace a file written in a newer format. A corrupt file may be replaced: its
    /// bytes are kept in the backup.
    fn check_version(&self, content: &[u8]) -> Result<(), StateError> {
        match self.checked_value(content) {
            Err(error @ StateError::NewerFormat { .. }) => Err(error),
            _ => Ok(()),
        }
    }

    fn corrupt(&self, detail: String) -> StateError {
        StateError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Pretty JSON with two-space indentation and a trailing newline.
fn serialize(state: &State) -> io::Result<Vec<u8>> {
    let mut content = serde_json::to_vec_pretty(state)?;
    content.push(b'\n');
    Ok(content)
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `content`: a temporary file in the same directory, synced, made 0600,
/// renamed over `path`, then the directory synced so the rename itself survives a crash.
pub fn write_atomically(path: &Path, content: &[u8]) -> Result<(), StateError> {
    let directory = directory_of(path);
    let io_error = |operation: &'static str| {
        move |source: io::Error| StateError::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    let mut temporary = tempfile::NamedTempFile::new_in(directory)
        .map_err(io_error("create a temporary file for"))?;
    temporary
        .write_all(content)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(io_error("write"))?;
    // tempfile creates 0600 already; say so explicitly rather than rely on it.
    temporary
        .as_file()
        .set_permissions(Permissions::from_mode(MODE))
        .map_err(io_error("set the permissions of"))?;
    temporary
        .persist(path)
        .map_err(|error| error.error)
        .map_err(io_error("replace"))?;
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| StateError::Io {
            path: directory.to_owned(),
            operation: "sync the directory",
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
    fn bare_file_name_lives_in_the_current_directory() {
        // A state path without a directory writes and syncs in `.`, not in an empty path.
        assert_eq!(directory_of(Path::new("state.json")), Path::new("."));
        assert_eq!(directory_of(Path::new("a/state.json")), Path::new("a"));
    }
}
