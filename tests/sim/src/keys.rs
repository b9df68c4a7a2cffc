//! Randomness, ed25519 keys and the files clients read: the private key and known_hosts.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::{HashAlg, LineEnding, PrivateKey};

use super::world::Host;

/// A small fast generator (splitmix64) for identifiers and key seeds, seeded from the operating
/// system's randomness. Simulated secrets need to be unique, not unguessable.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = uuid::Uuid::new_v4().as_u128();
        Rng((seed as u64) ^ ((seed >> 64) as u64))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// `len` characters of `[0-9a-z]`, like swarmkit's identifiers.
    pub fn base36(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..len)
            .map(|_| ALPHABET[self.below(36) as usize] as char)
            .collect()
    }

    /// `len` lowercase hexadecimal characters.
    pub fn hex(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdef";
        (0..len)
            .map(|_| ALPHABET[self.below(16) as usize] as char)
            .collect()
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

pub(crate) fn ed25519_key(rng: &mut Rng, comment: &str) -> PrivateKey {
    let keypair = Ed25519Keypair::from_seed(&rng.bytes::<32>());
    let mut key = PrivateKey::from(keypair);
    key.set_comment(comment);
    debug_assert!(matches!(key.key_data(), KeypairData::Ed25519(_)));
    key
}

pub(crate) fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

/// `KEY_TYPE BASE64` without the comment.
pub(crate) fn public_key_line(key: &PrivateKey) -> io::Result<String> {
    let mut public = key.public_key().clone();
    public.set_comment("");
    let line = public.to_openssh().map_err(io::Error::other)?;
    Ok(line.trim().to_owned())
}

/// `id_ed25519` (OpenSSH format, unencrypted, 0600) and `id_ed25519.pub`.
pub(crate) fn write_client_key(key: &PrivateKey, dir: &Path) -> io::Result<()> {
    let private = key.to_openssh(LineEnding::LF).map_err(io::Error::other)?;
    let path = dir.join("id_ed25519");
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(private.as_bytes())?;
    let public = key.public_key().to_openssh().map_err(io::Error::other)?;
    std::fs::write(dir.join("id_ed25519.pub"), format!("{public}\n"))
}

/// `[ADDRESS]:PORT ssh-ed25519 AAAA...`, one line per host.
pub(crate) fn write_known_hosts(hosts: &[Host], dir: &Path) -> io::Result<()> {
    let mut out = String::with_capacity(hosts.len() * 100);
    for host in hosts {
        let entry = if host.port == 22 {
            host.address.to_string()
        } else {
            format!("[{}]:{}", host.address, host.port)
        };
        out.push_str(&entry);
        out.push(' ');
        out.push_str(&public_key_line(&host.host_key)?);
        out.push('\n');
    }
    std::fs::write(dir.join("known_hosts"), out)
}
