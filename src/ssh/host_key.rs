//! Host key verification: the known_hosts file and the state's record, under the host key
//! policy. Runs inside the handshake (the client handler's `check_server_key`).

use std::path::PathBuf;
use std::sync::Mutex;

use russh::keys::known_hosts::{known_host_keys_path, learn_known_hosts_path};
use russh::keys::{HashAlg, PublicKey};

use super::error::{RecordedIn, SshError};
use crate::config::model::HostKeyPolicy;
use crate::state::HostKey;

/// Serializes appends to known_hosts files within this process: russh appends a line in
/// several writes.
static KNOWN_HOSTS_WRITE: Mutex<()> = Mutex::new(());

/// What one connection checks the host's key against.
#[derive(Debug, Clone)]
pub struct HostKeyCheck {
    /// The name in messages and in the state (`node1`, `10.0.0.9 (jump host)`).
    pub name: String,
    /// The address and port known_hosts records the key under (`[ADDRESS]:PORT` unless 22).
    pub address: String,
    pub port: u16,
    pub policy: HostKeyPolicy,
    pub known_hosts: PathBuf,
    /// What the state recorded for `name`.
    pub recorded: Vec<HostKey>,
}

/// `SHA256:<base64>`, as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The key as the state records it.
pub fn host_key(key: &PublicKey) -> HostKey {
    HostKey {
        algorithm: key.algorithm().as_str().to_owned(),
        fingerprint: fingerprint(key),
    }
}

impl HostKeyCheck {
    /// The keys known_hosts has for this host (unreadable file: none), to prefer their
    /// algorithms in the handshake.
    pub fn known_keys(&self) -> Vec<PublicKey> {
        known_host_keys_path(&self.address, self.port, &self.known_hosts)
            .map(|entries| entries.into_iter().map(|(_, key)| key).collect())
            .unwrap_or_default()
    }

    /// Accepts a known key, refuses a changed one, and decides on an unknown one by the policy.
    /// `Ok(Some(key))`: newly learned (written to known_hosts; the state should record it).
    pub fn verify(&self, key: &PublicKey) -> Result<Option<HostKey>, SshError> {
        let offered = host_key(key);
        // russh's check_known_hosts_path reports a changed key as `KeyChanged { line }` without
        // the old key; read the entries to name both fingerprints.
        let entries =
            known_host_keys_path(&self.address, self.port, &self.known_hosts).map_err(|error| {
                SshError::KnownHosts {
                    path: self.known_hosts.clone(),
                    detail: error.to_string(),
                }
            })?;
        let in_file = entries
            .iter()
            .any(|(_, known)| known.key_data() == key.key_data());
        if !in_file
            && let Some((_, old)) = entries
                .iter()
                .find(|(_, known)| known.algorithm() == key.algorithm())
        {
            return Err(self.changed(
                &offered,
                fingerprint(old),
                RecordedIn::KnownHosts {
                    path: self.known_hosts.clone(),
                    entry: self.entry(),
                },
            ));
        }
        let in_state = self.recorded.contains(&offered);
        if !in_state
            && let Some(old) = self
                .recorded
                .iter()
                .find(|recorded| recorded.algorithm == offered.algorithm)
        {
            return Err(self.changed(&offered, old.fingerprint.clone(), RecordedIn::State));
        }
        if in_file {
            return Ok(None);
        }
        match self.policy {
            HostKeyPolicy::Strict if in_state => Ok(None),
            HostKeyPolicy::Strict => Err(SshError::HostKeyUnknown {
                host: self.name.clone(),
                algorithm: offered.algorithm,
                fingerprint: offered.fingerprint,
                known_hosts: self.known_hosts.clone(),
                address: self.address.clone(),
                port: self.port,
            }),
            HostKeyPolicy::AcceptNew => {
                self.learn(key)?;
                tracing::info!(
                    host = %self.name,
                    algorithm = %offered.algorithm,
                    fingerprint = %offered.fingerprint,
                    "recorded a new host key in {}",
                    self.known_hosts.display()
                );
                Ok((!in_state).then_some(offered))
            }
        }
    }

    fn changed(&self, offered: &HostKey, expected: String, recorded_in: RecordedIn) -> SshError {
        SshError::HostKeyChanged {
            host: self.name.clone(),
            algorithm: offered.algorithm.clone(),
            expected,
            found: offered.fingerprint.clone(),
            recorded_in: Box::new(recorded_in),
        }
    }

    /// How known_hosts names the host.
    fn entry(&self) -> String {
        if self.port == 22 {
            self.address.clone()
        } else {
            format!("[{}]:{}", self.address, self.port)
        }
    }

    fn learn(&self, key: &PublicKey) -> Result<(), SshError> {
        let _guard = KNOWN_HOSTS_WRITE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        learn_known_hosts_path(&self.address, self.port, key, &self.known_hosts).map_err(|error| {
            SshError::KnownHosts {
                path: self.known_hosts.clone(),
                detail: error.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use russh::keys::key::safe_rng;
    use russh::keys::{Algorithm, PrivateKey};

    use super::*;

    fn key() -> PublicKey {
        PrivateKey::random(&mut safe_rng(), Algorithm::Ed25519)
            .expect("key")
            .public_key()
            .clone()
    }

    fn check(dir: &std::path::Path, policy: HostKeyPolicy, recorded: Vec<HostKey>) -> HostKeyCheck {
        HostKeyCheck {
            name: "node1".into(),
            address: "10.0.0.1".into(),
            port: 2222,
            policy,
            known_hosts: dir.join("known_hosts"),
            recorded,
        }
    }

    // `[host]:port` entries are matched (russh also matches hashed `|1|` entries), and a key
    // that differs from the one recorded for its algorithm is "changed" with both fingerprints.
    #[test]
    fn known_and_changed_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let (old, new) = (key(), key());
        std::fs::write(
            dir.path().join("known_hosts"),
            format!(
                "# comment\n10.0.0.1 {}\n[10.0.0.1]:2222 {}\n",
                new.to_openssh().expect("openssh"),
                old.to_openssh().expect("openssh")
            ),
        )
        .expect("write");
        let strict = check(dir.path(), HostKeyPolicy::Strict, vec![]);
        assert_eq!(strict.verify(&old).expect("known"), None);
        match strict.verify(&new) {
            Err(SshError::HostKeyChanged {
                expected, found, ..
            }) => {
                assert_eq!(expected, fingerprint(&old));
                assert_eq!(found, fingerprint(&new));
            }
            other => panic!("expected a changed key, got {other:?}"),
        }
    }

    // The state's record counts: its key is accepted even under strict without a known_hosts
    // entry, and a different key of the same algorithm is refused as changed.
    #[test]
    fn the_state_record_is_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let (recorded, other) = (key(), key());
        let strict = check(dir.path(), HostKeyPolicy::Strict, vec![host_key(&recorded)]);
        assert_eq!(
            strict.verify(&recorded).expect("known from the state"),
            None
        );
        let accept_new = check(
            dir.path(),
            HostKeyPolicy::AcceptNew,
            vec![host_key(&recorded)],
        );
        match accept_new.verify(&other) {
            Err(SshError::HostKeyChanged {
                recorded_in,
                expected,
                ..
            }) => {
                assert_eq!(*recorded_in, RecordedIn::State);
                assert_eq!(expected, fingerprint(&recorded));
            }
            other => panic!("expected a changed key, got {other:?}"),
        }
    }
}
