//! Replacing a file atomically: a temporary file beside it (`.NAME.tmp.PID.RANDOM`), synced,
//! made private and renamed over it, then the folder synced.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::state::StateError;

/// The state may record host keys and resource details: readable by its owner only.
const MODE: u32 = 0o600;

pub(super) fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// How many random characters follow the pid in a temporary file's name.
pub(super) const RANDOM_LENGTH: usize = 6;

/// The prefix of this process's temporary files for `path`: `.NAME.tmp.PID.`, followed by
/// [`RANDOM_LENGTH`] random letters and digits.
pub(super) fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "swarmform".into(), |name| name.to_string_lossy());
    format!(".{name}.tmp.{}.", std::process::id())
}

/// The pid in `file_name` when it is one of our temporary files for the file named `name`
/// (`.NAME.tmp.PID.RANDOM`).
pub(super) fn temporary_pid(file_name: &str, name: &str) -> Option<u32> {
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
    write_atomically_with(path, |file| file.write_all(content))
}

/// [`write_atomically`] with the content written by `write` into the temporary file (through a
/// buffer), so a large state is never held whole in memory as well as in its model.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), StateError> {
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
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, temporary.as_file_mut());
    write(&mut buffered)
        .and_then(|()| buffered.flush())
        .map_err(io_error("write"))?;
    drop(buffered);
    temporary.as_file().sync_all().map_err(io_error("write"))?;
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
