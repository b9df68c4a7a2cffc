//! The lab's folder: its SSH key pair, the nodes' host keys (known_hosts) and the hosts file a
//! config includes (lab.toml).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::error::LabError;
use super::layout::NodeSpec;
use super::process::Program;

pub(crate) const KEY: &str = "id_ed25519";
pub(crate) const KNOWN_HOSTS: &str = "known_hosts";
pub(crate) const HOSTS_FILE: &str = "lab.toml";
/// Scratch space for image builds, removed with the lab.
pub(crate) const BUILD: &str = "build";

/// Everything the lab writes in its folder; `lab down` removes exactly these.
const WRITTEN: [&str; 4] = [KEY, "id_ed25519.pub", KNOWN_HOSTS, HOSTS_FILE];

/// The lab's folder, as an absolute path (lab.toml names files in it absolutely, so a config
/// anywhere can include it).
#[derive(Debug, Clone)]
pub(crate) struct LabDir {
    pub(crate) path: PathBuf,
}

impl LabDir {
    pub(crate) fn create(path: &Path) -> Result<LabDir, LabError> {
        std::fs::create_dir_all(path).map_err(|source| LabError::Io {
            path: path.to_owned(),
            operation: "create the folder",
            source,
        })?;
        let path = std::fs::canonicalize(path).map_err(|source| LabError::Io {
            path: path.to_owned(),
            operation: "resolve",
            source,
        })?;
        Ok(LabDir { path })
    }

    pub(crate) fn key(&self) -> PathBuf {
        self.path.join(KEY)
    }

    pub(crate) fn public_key(&self) -> PathBuf {
        self.path.join("id_ed25519.pub")
    }

    pub(crate) fn known_hosts(&self) -> PathBuf {
        self.path.join(KNOWN_HOSTS)
    }

    pub(crate) fn hosts_file(&self) -> PathBuf {
        self.path.join(HOSTS_FILE)
    }

    pub(crate) fn build(&self) -> Result<PathBuf, LabError> {
        let path = self.path.join(BUILD);
        std::fs::create_dir_all(&path).map_err(|source| LabError::Io {
            path: path.clone(),
            operation: "create the folder",
            source,
        })?;
        Ok(path)
    }

    /// The key pair, made unless both halves exist. Returns the public key line and whether it
    /// was made now.
    pub(crate) fn ensure_key(&self) -> Result<(String, bool), LabError> {
        let private = self.key();
        let public = self.public_key();
        let made = !(private.is_file() && public.is_file());
        if made {
            for path in [&private, &public] {
                remove_file(path)?;
            }
            Program::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "swarmform-lab", "-f"])
                .arg(private.to_string_lossy())
                .output()?;
        }
        let line = read(&public)?;
        Ok((line.trim().to_owned(), made))
    }

    pub(crate) fn write_known_hosts(&self, entries: &[(NodeSpec, String)]) -> Result<(), LabError> {
        write(&self.known_hosts(), &known_hosts(entries))
    }

    pub(crate) fn write_hosts_file(&self, nodes: &[NodeSpec]) -> Result<(), LabError> {
        let text = hosts_file(nodes, &self.key(), &self.known_hosts());
        write(&self.hosts_file(), &text)
    }

    /// Removes what the lab wrote, then the folder if nothing else is left in it. Returns
    /// whether the folder is gone.
    pub(crate) fn remove(path: &Path) -> Result<bool, LabError> {
        if !path.exists() {
            return Ok(true);
        }
        for name in WRITTEN {
            remove_file(&path.join(name))?;
        }
        let build = path.join(BUILD);
        if build.exists() {
            std::fs::remove_dir_all(&build).map_err(|source| LabError::Io {
                path: build.clone(),
                operation: "remove",
                source,
            })?;
        }
        Ok(std::fs::remove_dir(path).is_ok())
    }
}

/// One line per node, `ADDRESS ALGORITHM KEY`, as OpenSSH and swarmform read known_hosts.
pub(crate) fn known_hosts(entries: &[(NodeSpec, String)]) -> String {
    let mut text = String::from(
        "# Written by `swarmform lab up` from each node's host key, read through the container\n# runtime (`docker exec`), not from the network.\n",
    );
    for (node, key) in entries {
        let _ = writeln!(text, "{} {key}", node.address);
    }
    text
}

/// The hosts file a config includes: `[ssh]` and one `[hosts.NAME]` per node.
pub(crate) fn hosts_file(nodes: &[NodeSpec], key: &Path, known_hosts: &Path) -> String {
    let mut text = String::from(
        "# Written by `swarmform lab up`: the lab's nodes and how to reach them. Include it from a\n# config (`include = [\".swarmform-lab/lab.toml\"]`, relative to the config). `swarmform lab\n# down` removes it.\n\n[ssh]\nuser = \"root\"\n",
    );
    let _ = writeln!(text, "identity_file = {}", quoted(key));
    let _ = writeln!(text, "known_hosts = {}", quoted(known_hosts));
    text.push_str("host_key_policy = \"strict\"\n");
    for node in nodes {
        let _ = write!(
            text,
            "\n[hosts.{}]\naddress = \"{}\"\nrole = \"{}\"\n",
            node.name, node.address, node.role
        );
    }
    text
}

/// A TOML basic string: escaped by the TOML library, so any path reads back as written.
fn quoted(path: &Path) -> String {
    toml::Value::String(path.to_string_lossy().into_owned()).to_string()
}

fn read(path: &Path) -> Result<String, LabError> {
    std::fs::read_to_string(path).map_err(|source| LabError::Io {
        path: path.to_owned(),
        operation: "read",
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(|source| LabError::Io {
        path: path.to_owned(),
        operation: "write",
        source,
    })
}

fn remove_file(path: &Path) -> Result<(), LabError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LabError::Io {
            path: path.to_owned(),
            operation: "remove",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::layout::{layout, parse_subnet};

    fn nodes() -> Vec<NodeSpec> {
        layout(
            1,
            1,
            parse_subnet("172.30.0.0/24").expect("subnet"),
            super::super::image::Flavor::Bare,
        )
        .expect("layout")
    }

    // The hosts file is what swarmform's config loader accepts as an include: `[ssh]` with
    // absolute paths and strict host keys, and one host table per node with its role.
    #[test]
    fn hosts_file_shape() {
        let text = hosts_file(
            &nodes(),
            Path::new("/lab/id_ed25519"),
            Path::new("/lab/known_hosts"),
        );
        insta::assert_snapshot!(text, @r#"
        # Written by `swarmform lab up`: the lab's nodes and how to reach them. Include it from a
        # config (`include = [".swarmform-lab/lab.toml"]`, relative to the config). `swarmform lab
        # down` removes it.

        [ssh]
        user = "root"
        identity_file = "/lab/id_ed25519"
        known_hosts = "/lab/known_hosts"
        host_key_policy = "strict"

        [hosts.lab-manager1]
        address = "172.30.0.11"
        role = "manager"

        [hosts.lab-worker1]
        address = "172.30.0.12"
        role = "worker"
        "#);
        let parsed: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(parsed["hosts"].as_table().map(toml::Table::len), Some(2));
    }

    // known_hosts lines carry the address and the key without its comment.
    #[test]
    fn known_hosts_lines() {
        let nodes = nodes();
        let text = known_hosts(&[(nodes[0].clone(), "ssh-ed25519 AAAAC3Nza".to_owned())]);
        assert!(
            text.ends_with("\n172.30.0.11 ssh-ed25519 AAAAC3Nza\n"),
            "{text}"
        );
    }

    // Removing a lab folder removes what the lab wrote and leaves anything else alone.
    #[test]
    fn remove_keeps_foreign_files() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let lab = dir.path().join("lab");
        std::fs::create_dir_all(lab.join(BUILD).join("rootfs")).expect("mkdir");
        std::fs::write(lab.join(HOSTS_FILE), "").expect("write");
        assert!(LabDir::remove(&lab).expect("removed"));
        assert!(!lab.exists());

        std::fs::create_dir_all(&lab).expect("mkdir");
        std::fs::write(lab.join(KEY), "").expect("write");
        std::fs::write(lab.join("notes.txt"), "mine").expect("write");
        assert!(!LabDir::remove(&lab).expect("removed"));
        assert!(lab.join("notes.txt").exists());
        assert!(!lab.join(KEY).exists());
    }
}
