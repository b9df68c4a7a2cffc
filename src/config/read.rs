//! The one way swarmform reads a file the config names: `swarmform.toml`, its includes,
//! variable files, `module.toml`, templates, compose files, secret, config and file contents,
//! TLS and CA files, SSH identity files. Only a regular file is read (a symbolic link to one is fine): a FIFO or a
//! device is refused before it is opened, since reading `/dev/zero` never ends and opening a
//! FIFO waits for a writer for ever. No more than the purpose's limit is ever read, even from a
//! file that grows while it is read, and config text must be UTF-8.

use std::fmt;
use std::fs::{FileType, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::source::{Diagnostic, FileId, Location, Sources};

/// What a file is read for, which sets the most swarmform reads of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `swarmform.toml`, includes, variable files, `module.toml`, templates, compose files.
    Config,
    /// A secret's or a config's content, which Docker takes below 500 KiB.
    Content,
    /// What swarmform sends to hosts as files: `[files.NAME] source`, TLS and CA files, a
    /// registry's certificates and password files.
    HostFile,
}

/// The largest config text file swarmform reads.
pub const CONFIG_LIMIT: u64 = 10 * 1024 * 1024;

/// The largest secret or config Docker takes: swarmkit refuses data of `MaxSecretSize`
/// (500 * 1024) bytes or more ("secret data must be larger than 0 and less than 512000
/// bytes"). Docker 23 raised the limit for configs to 1000 KiB; Docker 20.10 has 500 KiB for
/// both, and a config must work on every host's Docker.
pub const DOCKER_CONTENT_LIMIT: u64 = 500 * 1024 - 1;

/// The largest file swarmform sends to hosts: it is held in memory and sent over SSH.
pub const HOST_FILE_LIMIT: u64 = 16 * 1024 * 1024;

impl Purpose {
    /// The largest size read, in bytes.
    pub fn limit(self) -> u64 {
        match self {
            Purpose::Config => CONFIG_LIMIT,
            Purpose::Content => DOCKER_CONTENT_LIMIT,
            Purpose::HostFile => HOST_FILE_LIMIT,
        }
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Missing, not permitted, or another error of the system.
    Io(std::io::Error),
    /// A FIFO, a device, a directory or a socket (or a link to one), described.
    NotRegular(&'static str),
    TooLarge(Purpose),
    /// Config text that is not UTF-8: where its first bad byte is (the text, with that byte
    /// and the ones after it replaced, was added to [`Sources`] to point there).
    NotUtf8(Location),
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(error) => write!(formatter, "{error}"),
            ReadError::NotRegular(what) => write!(formatter, "it is {what}, not a regular file"),
            ReadError::TooLarge(Purpose::Config) => write!(
                formatter,
                "it is larger than 10 MiB, the most swarmform reads of a config file"
            ),
            ReadError::TooLarge(Purpose::Content) => write!(
                formatter,
                "it is larger than {DOCKER_CONTENT_LIMIT} bytes, the most Docker takes for a secret or a config"
            ),
            ReadError::TooLarge(Purpose::HostFile) => write!(
                formatter,
                "it is larger than 16 MiB, the most swarmform sends as a file"
            ),
            ReadError::NotUtf8(_) => write!(formatter, "it is not UTF-8 text"),
        }
    }
}

/// Whether a diagnostic about a file may quote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// A file that is config text in any case (the root, `module.toml`, templates, compose).
    Yes,
    /// A file that may not be config at all (an include naming `/etc/passwd`, a variable file
    /// full of passwords): only positions in it are named.
    No,
}

impl ReadError {
    /// What to do about it; `relative_to` is the folder relative paths start from.
    pub fn help(&self, relative_to: Option<&Path>) -> Option<String> {
        match self {
            ReadError::Io(_) => relative_to
                .map(|dir| format!("paths are relative to `{}`", dir.display())),
            ReadError::NotRegular(_) => Some(
                "swarmform reads only regular files (a symbolic link to one is fine): a FIFO or a device could make it wait or read for ever; name a regular file here"
                    .to_owned(),
            ),
            ReadError::TooLarge(Purpose::Config) => Some(
                "config files, includes, variable files, modules, templates and compose files are read whole, up to 10 MiB; check that this path names the file you meant"
                    .to_owned(),
            ),
            ReadError::TooLarge(Purpose::Content) => Some(
                "Docker refuses secret and config data of 512000 bytes (500 KiB) or more; ship larger data in an image or a volume"
                    .to_owned(),
            ),
            ReadError::TooLarge(Purpose::HostFile) => Some(
                "swarmform holds each file in memory and sends it over SSH, up to 16 MiB; ship larger data in an image or a volume"
                    .to_owned(),
            ),
            ReadError::NotUtf8(_) => Some("save the file as UTF-8".to_owned()),
        }
    }

    /// The error about `what` (``"`web.yml`"``, ``"the included file `hosts.toml`"``), pointing
    /// at `named`, where the config names the file (none for a file named on the command
    /// line), with `label` under it. Invalid UTF-8 points at the first bad byte instead when
    /// the file may be quoted, and names its position in the message when it may not.
    pub fn diagnostic(
        &self,
        sources: &Sources,
        what: &str,
        named: Option<Location>,
        label: &str,
        quote: Quote,
        relative_to: Option<&Path>,
    ) -> Diagnostic {
        let help = self.help(relative_to);
        let diagnostic = match (self, quote) {
            (ReadError::NotUtf8(at), Quote::Yes) => {
                let help = match &named {
                    Some(named) => format!(
                        "save the file as UTF-8 (it is named at {})",
                        named.position(sources)
                    ),
                    None => "save the file as UTF-8".to_owned(),
                };
                return Diagnostic::error(format!("{what} is not UTF-8 text"))
                    .at(at.clone(), "the first byte that is not UTF-8")
                    .help(help);
            }
            (ReadError::NotUtf8(at), Quote::No) => Diagnostic::error(format!(
                "{what} is not UTF-8 text: its first bad byte is at {}",
                at.position(sources)
            ))
            .at_optional(named, label),
            (error, _) => {
                Diagnostic::error(format!("cannot read {what}: {error}")).at_optional(named, label)
            }
        };
        match help {
            Some(help) => diagnostic.help(help),
            None => diagnostic,
        }
    }
}

/// The bytes of the regular file at `path`, at most `purpose`'s limit of them.
pub fn bytes(path: &Path, purpose: Purpose) -> Result<Vec<u8>, ReadError> {
    let limit = purpose.limit();
    // Stat first: a FIFO is never opened, a device never read.
    let metadata = std::fs::metadata(path).map_err(ReadError::Io)?;
    regular(metadata.file_type())?;
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(purpose));
    }
    // Non-blocking, in case a FIFO took the file's place since: opening it does not wait, and
    // the opened file is checked again.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    regular(file.metadata().map_err(ReadError::Io)?.file_type())?;
    at_most(file, purpose, usize::try_from(metadata.len()).unwrap_or(0))
}

/// The bytes of the regular file or pipe at `path` (`--var-file /dev/stdin`, a shell's
/// `<(command)`), at most `purpose`'s limit of them: for files named on the command line, where
/// a pipe is what the user asked for. Devices, directories and sockets are still refused.
pub fn bytes_or_pipe(path: &Path, purpose: Purpose) -> Result<Vec<u8>, ReadError> {
    let metadata = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !metadata.file_type().is_fifo() {
        return bytes(path, purpose);
    }
    at_most(
        std::fs::File::open(path).map_err(ReadError::Io)?,
        purpose,
        0,
    )
}

/// All of `file`, expected to be about `expected` bytes, if it holds no more than `purpose`'s
/// limit: one byte more than the limit is read, which tells a file that grew past it.
fn at_most(file: std::fs::File, purpose: Purpose, expected: usize) -> Result<Vec<u8>, ReadError> {
    let limit = purpose.limit();
    let mut content = Vec::with_capacity(expected);
    file.take(limit + 1)
        .read_to_end(&mut content)
        .map_err(ReadError::Io)?;
    if content.len() as u64 > limit {
        return Err(ReadError::TooLarge(purpose));
    }
    Ok(content)
}

/// Reads the config text file at `path` into `sources`, named `shown` there. Text that is not
/// UTF-8 is added too, its bad bytes replaced, so the error can point at the first of them.
pub fn source(sources: &mut Sources, path: &Path, shown: PathBuf) -> Result<FileId, ReadError> {
    text(sources, bytes(path, Purpose::Config)?, shown)
}

/// Adds `content` to `sources` as the text of the file `shown`, if it is UTF-8 (see [`source`]).
pub fn text(sources: &mut Sources, content: Vec<u8>, shown: PathBuf) -> Result<FileId, ReadError> {
    match String::from_utf8(content) {
        Ok(text) => Ok(sources.add(shown, text)),
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let bad = text[valid..].chars().next().map_or(0, char::len_utf8);
            let file = sources.add(shown, text);
            Err(ReadError::NotUtf8(Location::new(file, valid..valid + bad)))
        }
    }
}

/// Refuses what is not a regular file, saying what it is.
fn regular(file_type: FileType) -> Result<(), ReadError> {
    if file_type.is_file() {
        return Ok(());
    }
    let what = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (a named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(ReadError::NotRegular(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A device and a directory are refused by what they are, before any byte is read.
    #[test]
    fn only_regular_files_are_read() {
        let error = bytes(Path::new("/dev/zero"), Purpose::Config).expect_err("a device");
        assert_eq!(
            error.to_string(),
            "it is a character device, not a regular file"
        );
        let dir = tempfile::tempdir().expect("temporary folder");
        let error = bytes(dir.path(), Purpose::Config).expect_err("a directory");
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
    }

    // A file of exactly the limit is read; one byte more is refused.
    #[test]
    fn the_limit_is_inclusive() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("content");
        std::fs::write(&path, vec![b'x'; 500 * 1024 - 1]).expect("write");
        assert_eq!(
            bytes(&path, Purpose::Content).expect("at the limit").len(),
            500 * 1024 - 1
        );
        std::fs::write(&path, vec![b'x'; 500 * 1024]).expect("write");
        assert!(matches!(
            bytes(&path, Purpose::Content),
            Err(ReadError::TooLarge(Purpose::Content))
        ));
    }

    // Text that is not UTF-8 points at its first bad byte, by line and character column.
    #[test]
    fn invalid_utf8_points_at_the_first_bad_byte() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("swarmform.toml");
        std::fs::write(&path, b"a = 1\n# caf\xc3\xa9 \xff\xfe\n").expect("write");
        let mut sources = Sources::default();
        let Err(ReadError::NotUtf8(at)) = source(&mut sources, &path, "swarmform.toml".into())
        else {
            panic!("invalid UTF-8 accepted");
        };
        assert_eq!(at.position(&sources), "swarmform.toml:2:8");
    }
}
