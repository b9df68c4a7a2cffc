//! A host's in-memory filesystem: regular files and directories with mode and owner.

use std::collections::BTreeMap;

/// The working directory of every command (root's home).
pub(crate) const CWD: &str = "/root";

/// The umask a shell starts with.
pub(crate) const DEFAULT_UMASK: u32 = 0o022;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct File {
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directory {
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsError {
    /// The path (or a parent) does not exist.
    NotFound,
    /// A parent is a file.
    NotADirectory,
    /// The path is a directory where a file was expected.
    IsADirectory,
}

impl FsError {
    pub fn describe(self) -> &'static str {
        match self {
            FsError::NotFound => "No such file or directory",
            FsError::NotADirectory => "Not a directory",
            FsError::IsADirectory => "Is a directory",
        }
    }
}

pub(crate) enum Entry<'a> {
    File(&'a File),
    Directory(&'a Directory),
}

#[derive(Debug, Clone)]
pub(crate) struct Fs {
    pub files: BTreeMap<String, File>,
    pub dirs: BTreeMap<String, Directory>,
}

impl Fs {
    pub fn new() -> Fs {
        let mut fs = Fs {
            files: BTreeMap::new(),
            dirs: BTreeMap::new(),
        };
        for dir in [
            "/",
            "/bin",
            "/dev",
            "/etc",
            "/etc/apt",
            "/etc/default",
            "/etc/systemd",
            "/etc/systemd/system",
            "/home",
            "/lib",
            "/lib/systemd",
            "/lib/systemd/system",
            "/opt",
            "/root",
            "/run",
            "/sbin",
            "/srv",
            "/tmp",
            "/usr",
            "/usr/bin",
            "/usr/lib",
            "/usr/local",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/share",
            "/var",
            "/var/lib",
            "/var/log",
            "/var/run",
            "/var/tmp",
        ] {
            let mode = match dir {
                "/root" => 0o700,
                "/tmp" | "/var/tmp" => 0o1777,
                _ => 0o755,
            };
            fs.dirs.insert(
                dir.to_owned(),
                Directory {
                    mode,
                    owner: "root".to_owned(),
                    group: "root".to_owned(),
                },
            );
        }
        fs
    }

    /// An absolute path without `.`, `..` or repeated slashes; relative paths start at [`CWD`].
    pub fn normalize(path: &str) -> String {
        let joined;
        let path = if path.starts_with('/') {
            path
        } else {
            joined = format!("{CWD}/{path}");
            &joined
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                part => parts.push(part),
            }
        }
        format!("/{}", parts.join("/"))
    }

    pub fn parent(path: &str) -> String {
        match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(index) => path[..index].to_owned(),
        }
    }

    pub fn base_name(path: &str) -> &str {
        path.rsplit('/').next().unwrap_or(path)
    }

    pub fn entry(&self, path: &str) -> Option<Entry<'_>> {
        let path = Fs::normalize(path);
        if let Some(file) = self.files.get(&path) {
            return Some(Entry::File(file));
        }
        self.dirs.get(&path).map(Entry::Directory)
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains_key(&Fs::normalize(path))
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.files.contains_key(&Fs::normalize(path))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.entry(path).is_some() || path == "/dev/null"
    }

    pub fn read(&self, path: &str) -> Result<&File, FsError> {
        let path = Fs::normalize(path);
        if let Some(file) = self.files.get(&path) {
            return Ok(file);
        }
        if self.dirs.contains_key(&path) {
            return Err(FsError::IsADirectory);
        }
        Err(self.missing_cause(&path))
    }

    /// Why `path` cannot be reached: a missing parent or a parent that is a file.
    fn missing_cause(&self, path: &str) -> FsError {
        let mut parent = Fs::parent(path);
        loop {
            if self.files.contains_key(&parent) {
                return FsError::NotADirectory;
            }
            if self.dirs.contains_key(&parent) || parent == "/" {
                return FsError::NotFound;
            }
            parent = Fs::parent(&parent);
        }
    }

    /// Whether a file could be created at `path` (its parent is a directory).
    pub fn check_creatable(&self, path: &str) -> Result<(), FsError> {
        let path = Fs::normalize(path);
        if self.dirs.contains_key(&path) {
            return Err(FsError::IsADirectory);
        }
        let parent = Fs::parent(&path);
        if self.dirs.contains_key(&parent) {
            Ok(())
        } else if self.files.contains_key(&parent) {
            Err(FsError::NotADirectory)
        } else {
            Err(self.missing_cause(&parent))
        }
    }

    /// Writes (or appends to) a file; a new file is 0644 root:root.
    pub fn write(&mut self, path: &str, content: &[u8], append: bool) -> Result<(), FsError> {
        self.write_with_umask(path, content, append, DEFAULT_UMASK)
    }

    /// Writes (or appends to) a file; a new file gets `0666 & !umask`, root:root.
    pub fn write_with_umask(
        &mut self,
        path: &str,
        content: &[u8],
        append: bool,
        umask: u32,
    ) -> Result<(), FsError> {
        if path == "/dev/null" {
            return Ok(());
        }
        self.check_creatable(path)?;
        let path = Fs::normalize(path);
        let file = self.files.entry(path).or_insert_with(|| File {
            content: Vec::new(),
            mode: 0o666 & !umask,
            owner: "root".to_owned(),
            group: "root".to_owned(),
        });
        if !append {
            file.content.clear();
        }
        file.content.extend_from_slice(content);
        Ok(())
    }

    /// `mkdir -p`: every missing directory is created (0755 root:root).
    pub fn mkdir_p(&mut self, path: &str) -> Result<(), (String, FsError)> {
        self.mkdir_p_with_umask(path, DEFAULT_UMASK)
    }

    /// `mkdir -p` under a umask: new directories get `0777 & !umask`.
    pub fn mkdir_p_with_umask(&mut self, path: &str, umask: u32) -> Result<(), (String, FsError)> {
        let path = Fs::normalize(path);
        let mut current = String::new();
        for part in path.split('/').filter(|part| !part.is_empty()) {
            current.push('/');
            current.push_str(part);
            if self.files.contains_key(&current) {
                return Err((current, FsError::NotADirectory));
            }
            self.dirs
                .entry(current.clone())
                .or_insert_with(|| Directory {
                    mode: 0o777 & !umask,
                    owner: "root".to_owned(),
                    group: "root".to_owned(),
                });
        }
        Ok(())
    }

    pub fn remove_file(&mut self, path: &str) -> Result<(), FsError> {
        let path = Fs::normalize(path);
        if self.files.remove(&path).is_some() {
            Ok(())
        } else if self.dirs.contains_key(&path) {
            Err(FsError::IsADirectory)
        } else {
            Err(FsError::NotFound)
        }
    }

    /// `mv`: a file onto a file path or into a directory.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let from = Fs::normalize(from);
        let mut to = Fs::normalize(to);
        if self.dirs.contains_key(&to) {
            to = format!("{}/{}", to.trim_end_matches('/'), Fs::base_name(&from));
        }
        if self.dirs.contains_key(&from) {
            // A directory and everything under it.
            if self.files.contains_key(&to) {
                return Err(FsError::NotADirectory);
            }
            self.check_creatable(&to)?;
            let prefix = format!("{from}/");
            let dirs: Vec<String> = self
                .dirs
                .keys()
                .filter(|dir| **dir == from || dir.starts_with(&prefix))
                .cloned()
                .collect();
            for dir in dirs {
                if let Some(meta) = self.dirs.remove(&dir) {
                    self.dirs
                        .insert(format!("{to}{}", &dir[from.len()..]), meta);
                }
            }
            let files: Vec<String> = self
                .files
                .keys()
                .filter(|file| file.starts_with(&prefix))
                .cloned()
                .collect();
            for file in files {
                if let Some(meta) = self.files.remove(&file) {
                    self.files
                        .insert(format!("{to}{}", &file[from.len()..]), meta);
                }
            }
            return Ok(());
        }
        if !self.files.contains_key(&from) {
            return Err(FsError::NotFound);
        }
        self.check_creatable(&to)?;
        if let Some(file) = self.files.remove(&from) {
            self.files.insert(to, file);
        }
        Ok(())
    }

    /// Mode and owner of a file or directory.
    pub fn metadata_mut(&mut self, path: &str) -> Option<(&mut u32, &mut String, &mut String)> {
        let path = Fs::normalize(path);
        if let Some(file) = self.files.get_mut(&path) {
            return Some((&mut file.mode, &mut file.owner, &mut file.group));
        }
        self.dirs
            .get_mut(&path)
            .map(|dir| (&mut dir.mode, &mut dir.owner, &mut dir.group))
    }

    /// Regular files directly inside `dir`, sorted.
    pub fn files_in(&self, dir: &str) -> Vec<(&str, &File)> {
        let dir = Fs::normalize(dir);
        let prefix = if dir == "/" {
            dir.clone()
        } else {
            format!("{dir}/")
        };
        self.files
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix) && !path[prefix.len()..].contains('/'))
            .map(|(path, file)| (path.as_str(), file))
            .collect()
    }
}
