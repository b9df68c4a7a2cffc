//! The connection pool: one SSH connection per host, opened on first use and shared by every
//! task for the whole run; each command runs on its own channel of that connection.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flate2::write::GzEncoder;
use russh::ChannelOpenFailure;
use tokio::sync::OwnedSemaphorePermit;

use super::command::{RemoteCommand, Script};
use super::error::SshError;
use super::host_key::HostKeyCheck;
use super::identity::{Environment, Keys};
use super::session::{self, Connection, Endpoint, Exec, Learned, Streamed};
use super::target::{HostTarget, JumpHost};
use crate::state::HostKey;

/// Waits before the 2nd, 3rd and 4th connection attempt. Only network failures are retried,
/// and never a command.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// What a command printed and how it exited. A non-zero exit is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub exit_status: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit_status == 0
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a run with streamed input failed: SSH, or the local input it was reading.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("cannot read the input: {0}")]
    Input(#[source] std::io::Error),
}

/// One connection's lifecycle.
enum State {
    Idle,
    Connected(Arc<Connection>),
    /// Connecting failed after the retries: later calls get the same error at once.
    Failed(SshError),
}

/// A host (or jump host) and its connection.
struct Slot {
    endpoint: Endpoint,
    state: tokio::sync::Mutex<State>,
    /// Channels opened.
    round_trips: AtomicU64,
}

impl Slot {
    fn new(endpoint: Endpoint) -> Arc<Slot> {
        Arc::new(Slot {
            endpoint,
            state: tokio::sync::Mutex::new(State::Idle),
            round_trips: AtomicU64::new(0),
        })
    }
}

struct Host {
    target: HostTarget,
    slot: Arc<Slot>,
    jump: Option<Arc<Slot>>,
}

/// SSH connections to every host of the run. `Send + Sync`: share it through an `Arc`.
pub struct Pool {
    hosts: HashMap<String, Host>,
    /// Every jump host slot, to close them.
    jumps: Vec<Arc<Slot>>,
    keys: Keys,
    learned: Learned,
}

impl Pool {
    /// A pool for `targets`; `known` holds the host keys the state recorded per host name. The
    /// passphrase, terminal and ssh-agent are taken from the process environment.
    pub fn new(targets: Vec<HostTarget>, known: BTreeMap<String, Vec<HostKey>>) -> Pool {
        Pool::with_environment(targets, known, Environment::from_process())
    }

    /// [`Pool::new`] with the passphrase, terminal and ssh-agent given instead of read from the
    /// process (public for the transport's integration tests, `tests/ssh.rs`).
    pub fn with_environment(
        targets: Vec<HostTarget>,
        known: BTreeMap<String, Vec<HostKey>>,
        environment: Environment,
    ) -> Pool {
        let mut jumps: HashMap<(JumpHost, std::path::PathBuf), Arc<Slot>> = HashMap::new();
        let mut hosts = HashMap::new();
        for target in targets {
            let jump = target.jump.as_ref().map(|jump| {
                jumps
                    .entry((jump.clone(), target.known_hosts.clone()))
                    .or_insert_with(|| Slot::new(jump_endpoint(jump, &target, &known)))
                    .clone()
            });
            let endpoint = Endpoint {
                name: target.name.clone(),
                address: target.address.clone(),
                port: target.port,
                user: target.user.clone(),
                identity_files: target.identity_files.clone(),
                check: HostKeyCheck {
                    name: target.name.clone(),
                    address: target.address.clone(),
                    port: target.port,
                    policy: target.host_key_policy,
                    known_hosts: target.known_hosts.clone(),
                    recorded: known.get(&target.name).cloned().unwrap_or_default(),
                },
                key_exchange: target.key_exchange.clone(),
                connect_timeout: target.connect_timeout,
            };
            hosts.insert(
                target.name.clone(),
                Host {
                    slot: Slot::new(endpoint),
                    target,
                    jump,
                },
            );
        }
        Pool {
            hosts,
            jumps: jumps.into_values().collect(),
            keys: Keys::new(environment),
            learned: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `script` on `host` and returns what it printed and its exit status (non-zero is not
    /// an error). Connects on first use; callers for the same host share the connection, and
    /// each call opens one channel. A command is never retried: if the connection drops while it
    /// runs, [`SshError::Disconnected`] says it may or may not have run.
    pub async fn run(&self, host: &str, script: &Script) -> Result<Output, SshError> {
        let entry = self.host(host)?;
        let target = &entry.target;
        let shown = script.display();
        tracing::debug!(host, command = %shown, "run");
        let (channel, _permit) = self.open_channel(entry).await?;
        let line = script.render(target.sudo);
        let exec =
            session::exec(channel, &line, script.stdin_bytes(), target.command_timeout).await;
        finish(host, target, &shown, exec)
    }

    /// Runs `script` on `host` with its standard input streamed from `input` (a `docker save`
    /// tarball of hundreds of MB): read in chunks as the channel's window allows, never held
    /// whole in memory. `sent` gets the bytes sent so far after each chunk. The command timeout
    /// bounds a stalled chunk and the wait after the last one, not the whole transfer.
    pub async fn run_streaming<R>(
        &self,
        host: &str,
        script: &Script,
        input: R,
        sent: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Output, StreamError>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        let entry = self.host(host)?;
        let target = &entry.target;
        let shown = script.display();
        tracing::debug!(host, command = %shown, "run with streamed input");
        let (channel, _permit) = self.open_channel(entry).await?;
        let line = script.render(target.sudo);
        match session::exec_streaming(channel, &line, input, sent, target.command_timeout).await {
            Streamed::Exec(exec) => Ok(finish(host, target, &shown, exec)?),
            Streamed::Input(error) => Err(StreamError::Input(error)),
        }
    }

    /// Writes `content` to `path` on `host` with `mode` and `owner:group`, atomically: streamed
    /// into `PATH.swarmform-tmp` beside it, then renamed into place, in one command.
    pub async fn upload(
        &self,
        host: &str,
        path: &str,
        content: &[u8],
        mode: u32,
        owner: &str,
        group: &str,
    ) -> Result<Output, SshError> {
        let script = upload_script(path, content, mode, owner, group).ok_or_else(|| {
            SshError::UploadPath {
                host: host.to_owned(),
                path: path.to_owned(),
            }
        })?;
        self.run(host, &script).await
    }

    /// Host keys recorded under accept-new during this run, for the state.
    /// The user swarmform logs in as on `host`.
    pub fn user(&self, host: &str) -> Option<&str> {
        self.hosts.get(host).map(|entry| entry.target.user.as_str())
    }

    pub fn learned_host_keys(&self) -> Vec<(String, HostKey)> {
        self.learned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Channels opened on `host` so far.
    pub fn round_trips(&self, host: &str) -> u64 {
        self.hosts
            .get(host)
            .map_or(0, |entry| entry.slot.round_trips.load(Ordering::Relaxed))
    }

    /// Disconnects every host, then the jump hosts.
    pub async fn close(&self) {
        for slot in self
            .hosts
            .values()
            .map(|entry| &entry.slot)
            .chain(self.jumps.iter())
        {
            let state = std::mem::replace(&mut *slot.state.lock().await, State::Idle);
            if let State::Connected(connection) = state {
                connection.disconnect().await;
            }
        }
    }

    fn host(&self, host: &str) -> Result<&Host, SshError> {
        self.hosts.get(host).ok_or_else(|| SshError::UnknownHost {
            host: host.to_owned(),
        })
    }

    /// A session channel on the host's connection. Opening a channel sends no command, so when
    /// the connection turns out to be gone, reconnecting is safe.
    async fn open_channel(
        &self,
        entry: &Host,
    ) -> Result<(russh::Channel<russh::client::Msg>, OwnedSemaphorePermit), SshError> {
        let mut attempt = 0;
        loop {
            let connection = self.connection(&entry.slot, entry.jump.as_ref()).await?;
            let permit = connection
                .channels
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| SshError::Channel {
                    host: entry.target.name.clone(),
                    detail: "the connection was closed".to_owned(),
                })?;
            match connection.handle.channel_open_session().await {
                Ok(channel) => {
                    entry.slot.round_trips.fetch_add(1, Ordering::Relaxed);
                    return Ok((channel, permit));
                }
                Err(russh::Error::ChannelOpenFailure(reason)) => {
                    // sshd's MaxSessions, or a momentary shortage: wait and ask again.
                    if attempt >= RETRY_DELAYS.len() {
                        return Err(SshError::Channel {
                            host: entry.target.name.clone(),
                            detail: format!(
                                "the host refused to open a session channel: {reason:?}"
                            ),
                        });
                    }
                    if matches!(reason, ChannelOpenFailure::UnknownChannelType) {
                        return Err(SshError::Channel {
                            host: entry.target.name.clone(),
                            detail: "the host does not offer session channels".to_owned(),
                        });
                    }
                }
                Err(error) => {
                    tracing::debug!(host = %entry.target.name, %error, "the connection is gone; reconnecting");
                    forget(&entry.slot, &connection).await;
                    if attempt >= RETRY_DELAYS.len() {
                        return Err(SshError::Channel {
                            host: entry.target.name.clone(),
                            detail: format!("cannot open a channel: {error}"),
                        });
                    }
                }
            }
            drop(permit);
            tokio::time::sleep(RETRY_DELAYS[attempt]).await;
            attempt += 1;
        }
    }

    /// The slot's connection, made on first use. Callers for the same slot wait for the one
    /// connection being made.
    async fn connection(
        &self,
        slot: &Slot,
        jump: Option<&Arc<Slot>>,
    ) -> Result<Arc<Connection>, SshError> {
        let mut state = slot.state.lock().await;
        match &*state {
            State::Connected(connection) if !connection.is_closed() => {
                return Ok(connection.clone());
            }
            State::Failed(error) => return Err(error.clone()),
            State::Connected(_) | State::Idle => {}
        }
        let result = self.connect_with_retries(slot, jump).await;
        *state = match &result {
            Ok(connection) => State::Connected(connection.clone()),
            Err(error) => State::Failed(error.clone()),
        };
        result
    }

    /// Connects, retrying network failures with backoff; host key and authentication
    /// refusals are returned at once.
    async fn connect_with_retries(
        &self,
        slot: &Slot,
        jump: Option<&Arc<Slot>>,
    ) -> Result<Arc<Connection>, SshError> {
        let mut attempt = 0;
        loop {
            let via = match jump {
                Some(jump) => Some(Box::pin(self.connection(jump, None)).await?),
                None => None,
            };
            match session::connect(&slot.endpoint, via, &self.keys, &self.learned).await {
                Ok(connection) => return Ok(Arc::new(connection)),
                Err(error) if error.is_retryable() && attempt < RETRY_DELAYS.len() => {
                    tracing::debug!(host = %slot.endpoint.name, %error, attempt = attempt + 1, "connecting failed; retrying");
                    tokio::time::sleep(RETRY_DELAYS[attempt]).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// What a finished channel means: its output, or the error that says why there is none.
fn finish(host: &str, target: &HostTarget, shown: &str, exec: Exec) -> Result<Output, SshError> {
    let output = match exec {
        Exec::Done(output) => output,
        Exec::Dropped => {
            return Err(SshError::Disconnected {
                host: host.to_owned(),
                command: shown.to_owned(),
            });
        }
        Exec::Refused => {
            return Err(SshError::Channel {
                host: host.to_owned(),
                detail: format!("the host refused to run `{shown}`"),
            });
        }
        Exec::TimedOut => {
            return Err(SshError::Timeout {
                host: host.to_owned(),
                what: format!("running `{shown}`"),
                after: target.command_timeout,
            });
        }
    };
    tracing::debug!(host, command = %shown, exit_status = output.exit_status, "done");
    if target.sudo && output.exit_status == 1 && needs_sudo_password(&output.stderr) {
        return Err(SshError::SudoPassword {
            host: host.to_owned(),
            user: target.user.clone(),
        });
    }
    Ok(output)
}

/// Drops the slot's connection if it is still `connection`, so the next call reconnects.
async fn forget(slot: &Slot, connection: &Arc<Connection>) {
    let mut state = slot.state.lock().await;
    if let State::Connected(current) = &*state
        && Arc::ptr_eq(current, connection)
    {
        *state = State::Idle;
    }
}

fn jump_endpoint(
    jump: &JumpHost,
    target: &HostTarget,
    known: &BTreeMap<String, Vec<HostKey>>,
) -> Endpoint {
    let name = jump.name();
    Endpoint {
        check: HostKeyCheck {
            name: name.clone(),
            address: jump.address.clone(),
            port: jump.port,
            policy: target.host_key_policy,
            known_hosts: target.known_hosts.clone(),
            recorded: known.get(&name).cloned().unwrap_or_default(),
        },
        name,
        address: jump.address.clone(),
        port: jump.port,
        user: jump.user.clone(),
        identity_files: jump.identity_files.clone(),
        key_exchange: target.key_exchange.clone(),
        connect_timeout: target.connect_timeout,
    }
}

/// `mkdir -p DIR && cat > TMP && chmod MODE TMP && chown OWNER:GROUP TMP && mv -f TMP PATH`
/// with `content` as standard input; `None` unless `path` is absolute and names a file.
pub fn upload_script(
    path: &str,
    content: &[u8],
    mode: u32,
    owner: &str,
    group: &str,
) -> Option<Script> {
    let file = Upload {
        path,
        content,
        mode,
        owner,
        group,
    };
    Some(write_commands(&file)?.stdin(content.to_vec()))
}

/// One file of [`uploads_script`].
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub path: &'a str,
    pub content: &'a [u8],
    pub mode: u32,
    pub owner: &'a str,
    pub group: &'a str,
}

/// The folder beside its files where [`uploads_script`] stages them, one per folder.
pub const STAGE: &str = ".swarmform-tmp";

/// Several files written in one round trip, each atomically: one `tar -x -z` unpacks them all
/// from standard input into a private folder beside their places (`DIR/.swarmform-tmp/`,
/// mode 0700), with their modes (and owner `0:0` when every file is root's); one `chown` per
/// other owner; one `mv` per folder renames them into place, so no file is in place before
/// every one is written; one `rm -rf` takes the staging folders (and anything an interrupted
/// run left in them). Five or six processes (tar runs gzip) for any number of files, where a `head`, a
/// `chmod` and a `mv` per file cost the host more than the round trip (issue 13). GNU tar
/// creates a missing folder as `mkdir -p` does. `None` when a path is not absolute, names no
/// file or cannot go into an archive, or there are no files.
pub fn uploads_script(files: &[Upload<'_>]) -> Option<Script> {
    if let [file] = files {
        return upload_script(file.path, file.content, file.mode, file.owner, file.group);
    }
    if files.is_empty() {
        return None;
    }
    // Each folder with its files, in the order given.
    let mut folders: Vec<(&str, Vec<(&str, &Upload<'_>)>)> = Vec::new();
    for file in files {
        let path = Path::new(file.path);
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return None;
        };
        if !file.path.starts_with('/') || file.path.ends_with('/') {
            return None;
        }
        let (folder, name) = (parent.to_str()?, name.to_str()?);
        match folders.iter_mut().find(|(other, _)| *other == folder) {
            Some((_, members)) => members.push((name, file)),
            None => folders.push((folder, vec![(name, file)])),
        }
    }
    let stage = |folder: &str| format!("{}/{STAGE}", folder.trim_end_matches('/'));
    let root_owned = files
        .iter()
        .all(|file| matches!(file.owner, "root" | "0") && matches!(file.group, "root" | "0" | ""));
    // The archive's size as the builder writes it (a 512-byte header per entry, each file
    // padded to 512 bytes, two empty blocks at the end; a long name takes more): a hundred
    // hosts' archives are in memory at once, and a growing Vec doubles.
    let blocks = |size: usize| size.div_ceil(512) * 512;
    let size = 1024
        + 512 * folders.len()
        + files
            .iter()
            .map(|file| 512 + blocks(file.content.len()))
            .sum::<usize>();
    let mut archive = tar::Builder::new(Vec::with_capacity(size));
    let header = |kind: tar::EntryType, mode: u32, size: usize| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size as u64);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header
    };
    for (folder, members) in &folders {
        let stage = stage(folder);
        let relative = stage.trim_start_matches('/');
        let mut folder_header = header(tar::EntryType::Directory, 0o700, 0);
        archive
            .append_data(&mut folder_header, relative, std::io::empty())
            .ok()?;
        for (name, file) in members {
            let mut file_header = header(
                tar::EntryType::Regular,
                file.mode & 0o7777,
                file.content.len(),
            );
            archive
                .append_data(&mut file_header, format!("{relative}/{name}"), file.content)
                .ok()?;
        }
    }
    // Compressed: a tar archive of a few small files is mostly the padding of its 512-byte
    // blocks (9 KB for a daemon's five files, 3 KB gzipped), and a hundred hosts' archives,
    // with the SSH send buffer each grows to hold one, are in memory at once (issue 13: 1.6 MB
    // of the first apply's peak at a hundred hosts). gzip is in every Debian (Essential).
    let mut compressed = GzEncoder::new(Vec::with_capacity(size / 4), flate2::Compression::fast());
    std::io::Write::write_all(&mut compressed, &archive.into_inner().ok()?).ok()?;
    let mut stdin = compressed.finish().ok()?;
    stdin.shrink_to_fit();
    // -z: gunzipped; -p: the archive's modes, whatever the umask; -m: now as the modification
    // time.
    let owners: &[&str] = if root_owned {
        &["--same-owner", "--numeric-owner"]
    } else {
        &["--no-same-owner"]
    };
    let mut script = Script::new(
        RemoteCommand::new("tar")
            .args(["-x", "-z", "-p", "-m"])
            .args(owners.iter().copied())
            .args(["-C", "/", "-f", "-"]),
    );
    if !root_owned {
        let mut owners: Vec<(String, Vec<String>)> = Vec::new();
        for (folder, members) in &folders {
            for (name, file) in members {
                let Some(ownership) = ownership(file.owner, file.group) else {
                    continue;
                };
                let staged = format!("{}/{name}", stage(folder));
                match owners.iter_mut().find(|(other, _)| *other == ownership) {
                    Some((_, paths)) => paths.push(staged),
                    None => owners.push((ownership, vec![staged])),
                }
            }
        }
        for (ownership, paths) in owners {
            script = script.and(RemoteCommand::new("chown").arg(ownership).args(paths));
        }
    }
    for (folder, members) in &folders {
        let staged = members
            .iter()
            .map(|(name, _)| format!("{}/{name}", stage(folder)));
        script = script.and(RemoteCommand::new("mv").arg("-f").args(staged).arg(*folder));
    }
    script = script.and(
        RemoteCommand::new("rm")
            .arg("-rf")
            .args(folders.iter().map(|(folder, _)| stage(folder))),
    );
    Some(script.stdin(stdin))
}

/// `OWNER:GROUP` for chown, `None` when neither is given.
fn ownership(owner: &str, group: &str) -> Option<String> {
    match (owner.is_empty(), group.is_empty()) {
        (false, false) => Some(format!("{owner}:{group}")),
        (false, true) => Some(owner.to_owned()),
        (true, false) => Some(format!(":{group}")),
        (true, true) => None,
    }
}

/// `mkdir -p DIR && umask 077 && cat > TMP && chmod && chown && mv -f TMP PATH`.
fn write_commands(file: &Upload<'_>) -> Option<Script> {
    let path = file.path;
    let parent = Path::new(path).parent()?;
    if !path.starts_with('/') || path.ends_with('/') || parent.as_os_str().is_empty() {
        return None;
    }
    let directory = parent.to_str()?;
    let temporary = format!("{path}.swarmform-tmp");
    // umask 077: the temporary file is private from its first byte (it may hold a key); the
    // final mode is set before it is renamed into place.
    let mut script = Script::new(RemoteCommand::new("mkdir").args(["-p", directory]))
        .and(RemoteCommand::new("umask").arg("077"))
        .and(RemoteCommand::new("cat").write_to(temporary.clone()))
        .and(
            RemoteCommand::new("chmod")
                .arg(format!("{:04o}", file.mode & 0o7777))
                .arg(temporary.clone()),
        );
    if let Some(ownership) = ownership(file.owner, file.group) {
        script = script.and(
            RemoteCommand::new("chown")
                .arg(ownership)
                .arg(temporary.clone()),
        );
    }
    Some(script.and(RemoteCommand::new("mv").args(["-f", temporary.as_str(), path])))
}

/// sudo's answer under `-n` when the user needs a password.
fn needs_sudo_password(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("a password is required") || text.contains("a terminal is required")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Several files: one tar unpacks them into a private folder beside their places, one mv
    // per folder renames them in, one rm takes the folders; the archive holds each file with
    // its mode.
    #[test]
    fn several_files_go_in_one_script() {
        let file = |path, content, mode, owner, group| Upload {
            path,
            content,
            mode,
            owner,
            group,
        };
        let files = [
            file(
                "/etc/docker/daemon.json",
                b"{}\n".as_slice(),
                0o644,
                "root",
                "root",
            ),
            file(
                "/etc/docker/tls/key.pem",
                b"KEY".as_slice(),
                0o600,
                "root",
                "root",
            ),
            file(
                "/etc/docker/tls/ca.pem",
                b"CA".as_slice(),
                0o644,
                "root",
                "",
            ),
        ];
        let script = uploads_script(&files).expect("script");
        assert_eq!(
            script.display(),
            "tar -x -z -p -m --same-owner --numeric-owner -C / -f - && mv -f /etc/docker/.swarmform-tmp/daemon.json /etc/docker && mv -f /etc/docker/tls/.swarmform-tmp/key.pem /etc/docker/tls/.swarmform-tmp/ca.pem /etc/docker/tls && rm -rf /etc/docker/.swarmform-tmp /etc/docker/tls/.swarmform-tmp"
        );
        let archive = script.stdin_bytes().expect("an archive on stdin");
        let mut entries = Vec::new();
        for entry in tar::Archive::new(flate2::read::GzDecoder::new(archive))
            .entries()
            .expect("entries")
        {
            let mut entry = entry.expect("entry");
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).expect("content");
            let header = entry.header();
            entries.push((
                entry.path().expect("path").display().to_string(),
                header.mode().expect("mode"),
                header.uid().expect("uid"),
                String::from_utf8(content).expect("text"),
            ));
        }
        let entry =
            |path: &str, mode, content: &str| (path.to_owned(), mode, 0, content.to_owned());
        assert_eq!(
            entries,
            [
                entry("etc/docker/.swarmform-tmp", 0o700, ""),
                entry("etc/docker/.swarmform-tmp/daemon.json", 0o644, "{}\n"),
                entry("etc/docker/tls/.swarmform-tmp", 0o700, ""),
                entry("etc/docker/tls/.swarmform-tmp/key.pem", 0o600, "KEY"),
                entry("etc/docker/tls/.swarmform-tmp/ca.pem", 0o644, "CA"),
            ]
        );
        // Another owner: the archive's files are the writer's, then one chown per owner.
        let mut other = files;
        other[2].owner = "www-data";
        other[2].group = "www-data";
        assert_eq!(
            uploads_script(&other).expect("script").display(),
            "tar -x -z -p -m --no-same-owner -C / -f - && chown 'root:root' /etc/docker/.swarmform-tmp/daemon.json /etc/docker/tls/.swarmform-tmp/key.pem && chown 'www-data:www-data' /etc/docker/tls/.swarmform-tmp/ca.pem && mv -f /etc/docker/.swarmform-tmp/daemon.json /etc/docker && mv -f /etc/docker/tls/.swarmform-tmp/key.pem /etc/docker/tls/.swarmform-tmp/ca.pem /etc/docker/tls && rm -rf /etc/docker/.swarmform-tmp /etc/docker/tls/.swarmform-tmp"
        );
        let none = |path| file(path, b"".as_slice(), 0o644, "", "");
        assert!(uploads_script(&[none("relative"), none("/x")]).is_none());
        assert!(uploads_script(&[none("/etc/../x"), none("/y")]).is_none());
        assert!(uploads_script(&[]).is_none());
    }
}
