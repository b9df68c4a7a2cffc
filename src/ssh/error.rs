//! Why reaching a host or running a command on it failed. Every message names the host and says
//! what to do next; none carries a command's standard input or a secret argument (commands are
//! shown through `Script::display`).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the key a host no longer offers was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedIn {
    /// A known_hosts file, under `entry`: `ADDRESS`, or `[ADDRESS]:PORT` unless port 22.
    KnownHosts { path: PathBuf, entry: String },
    /// The state's `host_keys`.
    State,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    /// The network failed: refused, unreachable, reset, or the handshake was cut off. Retried
    /// with backoff before it is returned.
    #[error(
        "cannot connect to `{host}` ({address})\nhint: check that the host is up and that sshd listens on that port"
    )]
    Connect {
        host: String,
        /// `ADDRESS:PORT`, with `via JUMP` when reached through a jump host.
        address: String,
        #[source]
        source: Arc<io::Error>,
    },

    /// The SSH protocol itself failed (no algorithm in common, a bad signature): retrying would
    /// fail the same way.
    #[error(
        "the SSH handshake with `{host}` ({address}) failed: {detail}{}",
        hint_for_handshake(detail)
    )]
    Handshake {
        host: String,
        address: String,
        detail: String,
    },

    #[error(
        "timed out after {} {what} on `{host}`\nhint: {}",
        seconds(*after),
        if what.starts_with("connecting") {
            "check that the host is reachable, or raise `connect_timeout` under [ssh]"
        } else {
            "the command may or may not have finished; raise `command_timeout` under [ssh] if it is just slow"
        }
    )]
    Timeout {
        host: String,
        /// `connecting to ADDRESS:PORT` or `running `COMMAND``.
        what: String,
        after: Duration,
    },

    #[error(
        "`{host}` offered an unknown {algorithm} host key {fingerprint}, and the host key policy is strict\nhint: compare it with `ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub` on the host, then record it with `ssh-keyscan {}-t {} {address} >> {}`, or set host_key_policy = \"accept-new\" under [ssh] to record it on first contact",
        key_file_name(algorithm),
        if *port == 22 { String::new() } else { format!("-p {port} ") },
        key_file_name(algorithm),
        known_hosts.display()
    )]
    HostKeyUnknown {
        host: String,
        algorithm: String,
        fingerprint: String,
        known_hosts: PathBuf,
        /// Where known_hosts should record it.
        address: String,
        port: u16,
    },

    #[error(
        "the {algorithm} host key of `{host}` changed: {} records {expected}, the host offered {found}\nhint: someone may be intercepting the connection; if the host was reinstalled, {}, then connect again",
        match recorded_in.as_ref() {
            RecordedIn::KnownHosts { path, .. } => format!("`{}`", path.display()),
            RecordedIn::State => "the state file".to_owned(),
        },
        match recorded_in.as_ref() {
            RecordedIn::KnownHosts { path, entry } => format!("remove the old key with `ssh-keygen -R '{entry}' -f {}`", path.display()),
            RecordedIn::State => format!("remove the entry for `{host}` under `host_keys` in the state file"),
        }
    )]
    HostKeyChanged {
        host: String,
        algorithm: String,
        /// The recorded fingerprint, `SHA256:...`.
        expected: String,
        /// The fingerprint the host offered.
        found: String,
        /// Boxed to keep the error small.
        recorded_in: Box<RecordedIn>,
    },

    #[error(
        "`{user}@{host}` refused {}\nhint: add the public key to the authorized_keys of `{user}` on the host, set `identity_file` under [ssh], or load the key into ssh-agent",
        if tried.is_empty() {
            "the connection: there was no key to offer (no identity file, no ssh-agent, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)".to_owned()
        } else {
            format!("every key offered: {}", tried.join(", "))
        }
    )]
    AuthFailed {
        host: String,
        user: String,
        /// The keys offered, in order: a path, or `agent: COMMENT (FINGERPRINT)`.
        tried: Vec<String>,
    },

    #[error(
        "sudo on `{host}` asks `{user}` for a password, and swarmform cannot type one\nhint: allow it without a password: `{user} ALL=(ALL) NOPASSWD: ALL` in a file under /etc/sudoers.d/ (edit with `visudo -f`), or connect as root"
    )]
    SudoPassword { host: String, user: String },

    #[error(
        "the connection to `{host}` dropped while running `{command}`; the command may or may not have run\nhint: check the host, then run again: swarmform reads the host's state before changing anything"
    )]
    Disconnected { host: String, command: String },

    #[error("cannot use the key file `{}`: {detail}\nhint: check the path in `identity_file` (or IdentityFile in ~/.ssh/config) and the file's permissions", path.display())]
    KeyFile { path: PathBuf, detail: String },

    #[error(
        "the key file `{}` is encrypted and there is no passphrase for it\nhint: set SWARMFORM_SSH_PASSPHRASE, run swarmform in a terminal to be asked, or load the key into ssh-agent",
        path.display()
    )]
    Passphrase { path: PathBuf },

    #[error("cannot read or update the known hosts file `{}`: {detail}\nhint: check the path in `known_hosts` and the file's permissions", path.display())]
    KnownHosts { path: PathBuf, detail: String },

    #[error(
        "unknown key exchange algorithm `{name}` for `{host}`\nhint: the known ones are: {}",
        super::algorithms::known_key_exchanges().join(", ")
    )]
    KeyExchange { host: String, name: String },

    #[error(
        "SSH channel to `{host}` failed: {detail}\nhint: check sshd's logs on the host (MaxSessions, disabled exec)"
    )]
    Channel { host: String, detail: String },

    #[error("cannot upload to `{path}` on `{host}`: the path must be absolute and name a file")]
    UploadPath { host: String, path: String },

    #[error(
        "no host `{host}` is configured for SSH\nhint: the hosts are the ones under [hosts] in the config"
    )]
    UnknownHost { host: String },
}

impl SshError {
    /// Network failures, which a new connection attempt may overcome. Host key and
    /// authentication refusals are not: retrying them would only repeat the refusal.
    pub fn is_retryable(&self) -> bool {
        match self {
            SshError::Connect { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::NetworkDown
                    | io::ErrorKind::NotConnected
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::AddrNotAvailable
            ),
            SshError::Timeout { what, .. } => what.starts_with("connecting"),
            _ => false,
        }
    }

    /// The host the error is about, when there is one.
    pub fn host(&self) -> Option<&str> {
        match self {
            SshError::Connect { host, .. }
            | SshError::Handshake { host, .. }
            | SshError::Timeout { host, .. }
            | SshError::HostKeyUnknown { host, .. }
            | SshError::HostKeyChanged { host, .. }
            | SshError::AuthFailed { host, .. }
            | SshError::SudoPassword { host, .. }
            | SshError::Disconnected { host, .. }
            | SshError::KeyExchange { host, .. }
            | SshError::Channel { host, .. }
            | SshError::UploadPath { host, .. }
            | SshError::UnknownHost { host } => Some(host),
            SshError::KeyFile { .. }
            | SshError::Passphrase { .. }
            | SshError::KnownHosts { .. } => None,
        }
    }
}

fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// `ssh-ed25519` → `ed25519`, the middle of `/etc/ssh/ssh_host_ed25519_key.pub`.
fn key_file_name(algorithm: &str) -> &str {
    match algorithm {
        "ssh-ed25519" => "ed25519",
        "ssh-rsa" => "rsa",
        algorithm if algorithm.starts_with("ecdsa-") => "ecdsa",
        _ => "*",
    }
}

fn hint_for_handshake(detail: &str) -> &'static str {
    if detail.contains("no key exchange algorithm") {
        "\nhint: the host supports none of the key exchange algorithms swarmform offers; add one it supports to `key_exchange` under [ssh]"
    } else {
        ""
    }
}
