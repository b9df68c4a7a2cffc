//! The state file on disk: loading with version checks, and saving with a backup and an
//! atomic replace, only while the lock is held.
//!
//! A state path that is a symbolic link stands for its target: the target is read and
//! replaced, and its `.backup` and `.lock` sit beside the target, so every link to one state
//! shares one lock. A link to nothing is an error, never "no state".

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

    /// The file the state lives in: the path itself, or the target of the symbolic link it
    /// is. A link whose target does not exist is [`StateError::DanglingLink`].
    pub fn target(&self) -> Result<PathBuf, StateError> {
        resolve(&self.path)
    }

    /// `<target>.backup`: the state as it was before this run, written by the run's first save.
    pub fn backup_path(&self) -> PathBuf {
        backup_of(&self.target().unwrap_or_else(|_| self.path.clone()))
    }

    /// `<target>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        lock::lock_path(&self.target().unwrap_or_else(|_| self.path.clone()))
    }

    /// `<target>.unlock-key`: where an apply keeps a new unlock key that could not be written
    /// to `unlock_key_file` and cannot be shown on a terminal.
    pub fn unlock_key_fallback_path(&self) -> PathBuf {
        with_suffix(
            &self.target().unwrap_or_else(|_| self.path.clone()),
            ".unlock-key",
        )
    }

    /// Reads the state; `None` when the file does not exist yet. Needs no lock, so a concurrent
    /// save is seen either whole or not at all (saves replace the file atomically).
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let target = self.target()?;
        let content = match fs::read(&target) {
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
    /// for another holder to release it (zero tries once). Once held, temporary copies of the
    /// state that a killed run left beside it are removed.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let guard = LockGuard::acquire(&self.target()?, operation, timeout)?;
        remove_stale_temporaries(&guard);
        Ok(guard)
    }

    /// Breaks the lock whose id is `id`, refusing a holder still running on this host unless
    /// `force`; see [`force_unlock`](crate::state::force_unlock).
    pub fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        lock::force_unlock(&self.target()?, id, force)
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
        // Written where the lock was taken: the link's target as it was then.
        let target = guard.state_path();
        use std::sync::atomic::Ordering;
        // Later saves of this run replace what the first one wrote, under the same lock.
        if !self.backed_up.load(Ordering::Acquire) {
            match fs::read(target) {
                Ok(previous) => {
                    self.check_version(&previous)?;
                    write_atomically(&backup_of(target), &previous)?;
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
            .and_then(|content| write_atomically(target, &content));
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

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut path = path.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

fn backup_of(target: &Path) -> PathBuf {
    with_suffix(target, ".backup")
}

/// The state file `path` stands for: itself, or the target of the symbolic link it is (links
/// followed to the end). A link to nothing is an error naming the link and its target.
fn resolve(path: &Path) -> Result<PathBuf, StateError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(target) => Ok(target),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(StateError::DanglingLink {
                    link: path.to_owned(),
                    target: fs::read_link(path).unwrap_or_default(),
                })
            }
            Err(source) => Err(StateError::Io {
                path: path.to_owned(),
                operation: "follow the symbolic link",
                source,
            }),
        },
        Ok(_) => Ok(path.to_owned()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(path.to_owned()),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            operation: "inspect",
            source,
        }),
    }
}

/// How many random characters follow the pid in a temporary file's name.
const RANDOM_LENGTH: usize = 6;

/// The prefix of this process's temporary files for `path`: `.NAME.tmp.PID.`, followed by
/// [`RANDOM_LENGTH`] random letters and digits.
fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "swarmform".into(), |name| name.to_string_lossy());
    format!(".{name}.tmp.{}.", std::process::id())
}

/// The pid in `file_name` when it is one of our temporary files for the file named `name`
/// (`.NAME.tmp.PID.RANDOM`).
fn temporary_pid(file_name: &str, name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(&format!(".{name}.tmp."))?;
    let (pid, random) = rest.split_once('.')?;
    let is_random =
        random.len() == RANDOM_LENGTH && random.chars().all(|c| c.is_ascii_alphanumeric());
    let is_pid = !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit());
    if is_random && is_pid {
        pid.parse().ok()
    } else {
        None
    }
}

/// The `lineage` of the state in `path`, when it holds one.
fn lineage_of(path: &Path) -> Option<String> {
    // A state is small; anything larger is not one.
    let mut content = Vec::new();
    File::open(path)
        .and_then(|file| file.take(64 << 20).read_to_end(&mut content))
        .ok()?;
    let value: Value = serde_json::from_slice(&content).ok()?;
    ["format_version", "serial", "resources"]
        .iter()
        .all(|key| value.get(key).is_some())
        .then(|| value.get("lineage")?.as_str().map(str::to_owned))
        .flatten()
}

/// Whether `file_name` is what earlier versions named their temporary files (tempfile's
/// default, `.tmpXXXXXX`) and `path` holds a copy of the state of `lineage` (read once, when
/// first needed): only then is it this state's.
fn is_earlier_temporary_state(
    file_name: &str,
    path: &Path,
    lineage: &std::cell::OnceCell<Option<String>>,
    target: &Path,
) -> bool {
    let Some(random) = file_name.strip_prefix(".tmp") else {
        return false;
    };
    random.len() == RANDOM_LENGTH
        && random.chars().all(|c| c.is_ascii_alphanumeric())
        && lineage
            .get_or_init(|| lineage_of(target))
            .as_deref()
            .is_some_and(|lineage| lineage_of(path).as_deref() == Some(lineage))
}

/// Removes the temporary copies of the state and its backup that a killed run left beside
/// them. Called with the lock held, so no other run is writing them; a file counts as stale
/// only when it is a regular file of our own naming for this state or its backup (or of an
/// earlier version's naming, holding a copy of this state), owned by the lock's owner, older
/// than the lock, and not from a process still running here. Returns what was removed.
fn remove_stale_temporaries(guard: &LockGuard) -> Vec<PathBuf> {
    let target = guard.state_path();
    let directory = directory_of(target);
    let Some(name) = target.file_name().map(|name| name.to_string_lossy()) else {
        return Vec::new();
    };
    let backup = format!("{name}.backup");
    let Ok(owner) = fs::metadata(guard.path()).map(|metadata| metadata.uid()) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(directory) else {
        return Vec::new();
    };
    let lineage = std::cell::OnceCell::new();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let path = entry.path();
        let ours =
            match temporary_pid(file_name, &name).or_else(|| temporary_pid(file_name, &backup)) {
                Some(pid) => pid != std::process::id() && !lock::process_alive(pid),
                None => false,
            };
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        let stale = metadata.is_file()
            && metadata.uid() == owner
            && metadata
                .modified()
                .is_ok_and(|modified| modified < guard.acquired());
        if !stale || !(ours || is_earlier_temporary_state(file_name, &path, &lineage, target)) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed a temporary copy of the state left by an interrupted run");
                removed.push(path);
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not remove a temporary copy of the state left by an interrupted run");
            }
        }
    }
    removed
}

/// A new, empty temporary file in `path`'s folder, named `.NAME.tmp.PID.RANDOM` after `path`'s
/// file name, mode 0600; removed when dropped. What [`write_atomically`] writes first, so
/// creating one tells whether `path` can be written.
pub fn temporary_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
        .rand_bytes(RANDOM_LENGTH)
        .tempfile_in(directory_of(path))
        .map_err(|error| {
            // tempfile appends the random name it tried, which says nothing to the user.
            let text = error.to_string();
            let message = text.split(" at path ").next().unwrap_or(&text).to_owned();
            io::Error::new(error.kind(), message)
        })
}

/// Replaces `path` with `content`: a temporary file in the same directory
/// (`.NAME.tmp.PID.RANDOM`), synced, made 0600, renamed over `path`, then the directory synced
/// so the rename itself survives a crash. On every error the temporary file is removed.
pub fn write_atomically(path: &Path, content: &[u8]) -> Result<(), StateError> {
    let directory = directory_of(path);
    let io_error = |operation: &'static str| {
        move |source: io::Error| StateError::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    // Dropping `temporary` before it is persisted deletes it.
    let mut temporary = temporary_beside(path).map_err(io_error("create a temporary file for"))?;
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
}
