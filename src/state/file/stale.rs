//! The temporary copies of the state and its backup that a killed run left beside them, removed
//! once the lock is held.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::atomic::{RANDOM_LENGTH, directory_of, temporary_pid};
use crate::state::lock::{self, LockGuard};

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
pub(super) fn remove_stale_temporaries(guard: &LockGuard) -> Vec<PathBuf> {
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
