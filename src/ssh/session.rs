//! One SSH connection: the handshake (directly or through a jump host's direct-tcpip channel),
//! host key verification, public key authentication, and running one command on a channel.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{AgentAuthError, Channel, ChannelMsg, ChannelOpenFailure, Disconnect, Sig};
use tokio::sync::Semaphore;

use super::error::SshError;
use super::host_key::HostKeyCheck;
use super::identity::{Keys, describe};
use super::pool::Output;
use crate::state::HostKey;

/// A keepalive goes out after this long without traffic; three unanswered ones end the
/// connection. There is no inactivity timeout: it would kill long commands.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Session channels open at once on one connection. OpenSSH's sshd refuses more than
/// `MaxSessions` (default 10) per connection; further commands wait for a free channel.
pub const MAX_CHANNELS: usize = 8;

/// Host keys learned under accept-new, by host name.
pub type Learned = Arc<Mutex<Vec<(String, HostKey)>>>;

/// What to reach and how.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// In messages: `node1`, or `10.0.0.9 (jump host)`.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    pub check: HostKeyCheck,
    pub key_exchange: Vec<String>,
    pub connect_timeout: Duration,
}

impl Endpoint {
    fn socket_text(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// An authenticated connection; channels are opened on it concurrently.
pub struct Connection {
    pub handle: Handle<Client>,
    /// Permits for [`MAX_CHANNELS`].
    pub channels: Arc<Semaphore>,
    /// The jump host's connection, kept open while this one lives.
    pub _via: Option<Arc<Connection>>,
}

impl Connection {
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub async fn disconnect(&self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The russh client handler: verifies the host key and carries a refusal out, so the user sees
/// the specific error instead of russh's "unknown server key".
pub struct Client {
    check: HostKeyCheck,
    refusal: Arc<Mutex<Option<SshError>>>,
    learned: Learned,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            // Not advertised, so not expected; judged by the key it certifies.
            PublicKeyOrCertificate::Certificate(certificate) => {
                russh::keys::PublicKey::new(certificate.public_key().clone(), "")
            }
        };
        match self.check.verify(&key) {
            Ok(learned) => {
                if let Some(host_key) = learned {
                    self.learned
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((self.check.name.clone(), host_key));
                }
                Ok(true)
            }
            Err(error) => {
                *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                Ok(false)
            }
        }
    }
}

/// Connects, verifies the host key and logs in: once, without retrying.
pub async fn connect(
    endpoint: &Endpoint,
    via: Option<Arc<Connection>>,
    keys: &Keys,
    learned: &Learned,
) -> Result<Connection, SshError> {
    let socket = match &via {
        Some(_) => format!("{} via a jump host", endpoint.socket_text()),
        None => endpoint.socket_text(),
    };
    let preferred =
        super::algorithms::preferred(&endpoint.key_exchange, &endpoint.check.known_keys())
            .map_err(|name| SshError::KeyExchange {
                host: endpoint.name.clone(),
                name,
            })?;
    let config = Arc::new(client::Config {
        preferred,
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: 3,
        inactivity_timeout: None,
        nodelay: true,
        ..client::Config::default()
    });
    let refusal = Arc::new(Mutex::new(None));
    let handler = Client {
        check: endpoint.check.clone(),
        refusal: refusal.clone(),
        learned: learned.clone(),
    };
    let network_error = |source: io::Error| SshError::Connect {
        host: endpoint.name.clone(),
        address: socket.clone(),
        source: Arc::new(source),
    };

    let handshake = async {
        match &via {
            None => {
                let stream =
                    tokio::net::TcpStream::connect((endpoint.address.as_str(), endpoint.port))
                        .await
                        .map_err(network_error)?;
                // russh sets TCP_NODELAY only on sockets it opens itself. Without it, Nagle's
                // algorithm and delayed ACKs add ~40 ms to every small request and answer.
                stream.set_nodelay(true).map_err(network_error)?;
                client::connect_stream(config, stream, handler).await
            }
            Some(jump) => {
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(
                        endpoint.address.as_str(),
                        u32::from(endpoint.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|error| forward_error(endpoint, &socket, error))?;
                client::connect_stream(config, channel.into_stream(), handler).await
            }
        }
        .map_err(|error| {
            let refused = refusal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            refused.unwrap_or_else(|| handshake_error(endpoint, &socket, error))
        })
    };
    let mut handle = match tokio::time::timeout(endpoint.connect_timeout, handshake).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(SshError::Timeout {
                host: endpoint.name.clone(),
                what: format!("connecting to {socket}"),
                after: endpoint.connect_timeout,
            });
        }
    };
    authenticate(&mut handle, endpoint, &socket, keys).await?;
    tracing::debug!(host = %endpoint.name, address = %socket, user = %endpoint.user, "connected");
    Ok(Connection {
        handle,
        channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
        _via: via,
    })
}

fn handshake_error(endpoint: &Endpoint, socket: &str, error: russh::Error) -> SshError {
    let network = |kind: io::ErrorKind, text: &str| SshError::Connect {
        host: endpoint.name.clone(),
        address: socket.to_owned(),
        source: Arc::new(io::Error::new(kind, text.to_owned())),
    };
    match error {
        russh::Error::IO(source) => SshError::Connect {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            source: Arc::new(source),
        },
        russh::Error::Disconnect
        | russh::Error::HUP
        | russh::Error::SendError
        | russh::Error::RecvError
        | russh::Error::ConnectionTimeout
        | russh::Error::KeepaliveTimeout
        | russh::Error::InactivityTimeout => network(
            io::ErrorKind::ConnectionReset,
            "the host closed the connection during the SSH handshake",
        ),
        russh::Error::NoCommonAlgo { kind, theirs, .. } => SshError::Handshake {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            detail: format!(
                "no {} algorithm in common; the host offers: {}",
                match kind {
                    russh::AlgorithmKind::Kex => "key exchange",
                    russh::AlgorithmKind::Key => "host key",
                    russh::AlgorithmKind::Cipher => "cipher",
                    russh::AlgorithmKind::Compression => "compression",
                    russh::AlgorithmKind::Mac => "MAC",
                },
                theirs.join(", ")
            ),
        },
        russh::Error::Version => SshError::Handshake {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            detail: "the port does not answer like an SSH server".to_owned(),
        },
        other => SshError::Handshake {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            detail: lowercase_first(&other.to_string()),
        },
    }
}

fn forward_error(endpoint: &Endpoint, socket: &str, error: russh::Error) -> SshError {
    match error {
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited) => {
            SshError::Channel {
                host: endpoint.name.clone(),
                detail: format!(
                    "the jump host refused to forward to {socket} (is AllowTcpForwarding off in its sshd_config?)"
                ),
            }
        }
        russh::Error::ChannelOpenFailure(reason) => SshError::Connect {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            source: Arc::new(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("the jump host could not connect: {reason:?}"),
            )),
        },
        other => SshError::Connect {
            host: endpoint.name.clone(),
            address: socket.to_owned(),
            source: Arc::new(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("the connection to the jump host failed: {other}"),
            )),
        },
    }
}

/// Public key authentication: the identity files, then ssh-agent; with no identity file
/// configured, ssh-agent, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
async fn authenticate(
    handle: &mut Handle<Client>,
    endpoint: &Endpoint,
    socket: &str,
    keys: &Keys,
) -> Result<(), SshError> {
    let mut attempt = Attempt {
        handle,
        endpoint,
        socket,
        tried: Vec::new(),
    };
    if endpoint.identity_files.is_empty() {
        if attempt.agent(keys).await? {
            return Ok(());
        }
        for path in keys.environment().default_identity_files() {
            // A default key that cannot be read is skipped, as OpenSSH does.
            match keys.load(&path).await {
                Ok(key) => {
                    if attempt.key(key, path.display().to_string()).await? {
                        return Ok(());
                    }
                }
                Err(error) => {
                    tracing::debug!(path = %path.display(), %error, "skipped a default key")
                }
            }
        }
    } else {
        for path in &endpoint.identity_files {
            let key = keys.load(path).await?;
            if attempt.key(key, path.display().to_string()).await? {
                return Ok(());
            }
        }
        if attempt.agent(keys).await? {
            return Ok(());
        }
    }
    Err(SshError::AuthFailed {
        host: endpoint.name.clone(),
        user: endpoint.user.clone(),
        tried: attempt.tried,
    })
}

struct Attempt<'a> {
    handle: &'a mut Handle<Client>,
    endpoint: &'a Endpoint,
    socket: &'a str,
    tried: Vec<String>,
}

impl Attempt<'_> {
    fn timeout(&self) -> SshError {
        SshError::Timeout {
            host: self.endpoint.name.clone(),
            what: format!("connecting to {} (logging in)", self.socket),
            after: self.endpoint.connect_timeout,
        }
    }

    fn transport(&self, error: russh::Error) -> SshError {
        if !self.tried.is_empty() {
            // sshd drops the connection after MaxAuthTries refused keys: a refusal, not a
            // network failure to retry.
            let mut tried = self.tried.clone();
            tried.push("(then the host closed the connection: too many keys offered?)".to_owned());
            return SshError::AuthFailed {
                host: self.endpoint.name.clone(),
                user: self.endpoint.user.clone(),
                tried,
            };
        }
        SshError::Connect {
            host: self.endpoint.name.clone(),
            address: self.socket.to_owned(),
            source: Arc::new(match error {
                russh::Error::IO(error) => error,
                other => io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    format!("the connection failed while logging in: {other}"),
                ),
            }),
        }
    }

    async fn rsa_hash(&self, rsa: bool) -> Option<russh::keys::HashAlg> {
        if !rsa {
            return None;
        }
        tokio::time::timeout(
            self.endpoint.connect_timeout,
            self.handle.best_supported_rsa_hash(),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .flatten()
    }

    async fn key(&mut self, key: Arc<PrivateKey>, label: String) -> Result<bool, SshError> {
        let hash = self.rsa_hash(key.algorithm().is_rsa()).await;
        let user = self.endpoint.user.clone();
        let result = tokio::time::timeout(
            self.endpoint.connect_timeout,
            self.handle
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash)),
        )
        .await;
        match result {
            Err(_) => Err(self.timeout()),
            Ok(Err(error)) => Err(self.transport(error)),
            Ok(Ok(result)) if result.success() => Ok(true),
            Ok(Ok(_)) => {
                self.tried.push(label);
                Ok(false)
            }
        }
    }

    async fn agent(&mut self, keys: &Keys) -> Result<bool, SshError> {
        #[cfg(unix)]
        {
            let Some(socket) = &keys.environment().agent_socket else {
                return Ok(false);
            };
            let mut agent = match AgentClient::connect_uds(socket).await {
                Ok(agent) => agent,
                Err(error) => {
                    tracing::debug!(%error, "ssh-agent is not reachable");
                    return Ok(false);
                }
            };
            if let Some(binding) = self.handle.agent_session_binding() {
                // Agents that do not know the extension refuse it; keys work all the same.
                let _ = agent.bind_session(binding, false).await;
            }
            let identities = match agent.request_identities().await {
                Ok(identities) => identities,
                Err(error) => {
                    tracing::debug!(%error, "ssh-agent did not list its keys");
                    return Ok(false);
                }
            };
            for identity in identities {
                let AgentIdentity::PublicKey { key, comment } = identity else {
                    continue;
                };
                let label = format!("agent: {comment} ({})", describe(&key));
                let hash = self.rsa_hash(key.algorithm().is_rsa()).await;
                let user = self.endpoint.user.clone();
                let result = tokio::time::timeout(
                    self.endpoint.connect_timeout,
                    self.handle
                        .authenticate_publickey_with(user, key, hash, &mut agent),
                )
                .await;
                match result {
                    Err(_) => return Err(self.timeout()),
                    Ok(Err(AgentAuthError::Send(_))) => {
                        return Err(self.transport(russh::Error::SendError));
                    }
                    Ok(Err(error)) => self
                        .tried
                        .push(format!("{label}: the agent did not sign: {error}")),
                    Ok(Ok(result)) if result.success() => return Ok(true),
                    Ok(Ok(_)) => self.tried.push(label),
                }
            }
            Ok(false)
        }
        #[cfg(not(unix))]
        {
            let _ = keys;
            Ok(false)
        }
    }
}

/// How a command on a channel ended.
pub enum Exec {
    Done(Output),
    /// The channel or the connection closed before an exit status.
    Dropped,
    /// The host refused to run it (exec request failed).
    Refused,
    TimedOut,
}

/// Runs `line` on `channel`: sends the standard input (then EOF) while reading stdout (`Data`)
/// and stderr (`ExtendedData` 1) apart until the channel closes, even after the exit status.
pub async fn exec(
    channel: Channel<client::Msg>,
    line: &str,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Exec {
    let (mut read, write) = channel.split();
    if write.exec(true, line.as_bytes()).await.is_err() {
        return Exec::Dropped;
    }
    let sending = async {
        if let Some(bytes) = stdin
            && write.data(bytes).await.is_err()
        {
            // The command stopped reading; what it printed tells why.
            return std::future::pending::<Exec>().await;
        }
        let _ = write.eof().await;
        std::future::pending::<Exec>().await
    };
    let receiving = receive(&mut read);
    let finished = tokio::time::timeout(timeout, async {
        tokio::select! {
            exec = receiving => exec,
            exec = sending => exec,
        }
    })
    .await;
    match finished {
        Ok(exec) => exec,
        Err(_) => {
            let _ = write.close().await;
            Exec::TimedOut
        }
    }
}

/// Bytes read from the local input per SSH data message batch.
const STREAM_CHUNK: usize = 64 * 1024;

/// How a streamed command ended: as a command does, or because the local input failed first
/// (the channel is then closed, so the command sees its input end early).
pub enum Streamed {
    Exec(Exec),
    Input(io::Error),
}

/// Runs `line` on `channel` with standard input read from `input` in chunks, never all of it at
/// once: each chunk waits for the channel's window (russh's `data_bytes`), so at most a window
/// and a chunk are in flight. `sent` gets the running total after every chunk. `timeout` bounds
/// each chunk (a stalled transfer) and then the command's end after EOF, not the whole
/// transfer: hundreds of MB over a slow link may take longer than a command is allowed.
pub async fn exec_streaming<R>(
    channel: Channel<client::Msg>,
    line: &str,
    mut input: R,
    sent: &(dyn Fn(u64) + Send + Sync),
    timeout: Duration,
) -> Streamed
where
    R: tokio::io::AsyncRead + Unpin + Send,
{
    use tokio::io::AsyncReadExt;

    enum Sending {
        Done,
        Input(io::Error),
        Stalled,
    }

    let (mut read, write) = channel.split();
    if write.exec(true, line.as_bytes()).await.is_err() {
        return Streamed::Exec(Exec::Dropped);
    }
    let sending = async {
        let mut buffer = vec![0u8; STREAM_CHUNK];
        let mut total = 0u64;
        loop {
            let chunk = async {
                let count = input.read(&mut buffer).await.map_err(Some)?;
                if count > 0 {
                    // A refused write means the command stopped reading: what it printed tells
                    // why, so the channel's end is awaited instead.
                    write
                        .data_bytes(buffer[..count].to_vec())
                        .await
                        .map_err(|_| None)?;
                }
                Ok::<usize, Option<io::Error>>(count)
            };
            match tokio::time::timeout(timeout, chunk).await {
                Err(_) => return Sending::Stalled,
                Ok(Err(Some(error))) => return Sending::Input(error),
                Ok(Err(None)) => return std::future::pending::<Sending>().await,
                Ok(Ok(0)) => break,
                Ok(Ok(count)) => {
                    total += count as u64;
                    sent(total);
                }
            }
        }
        let _ = write.eof().await;
        Sending::Done
    };
    let receiving = receive(&mut read);
    tokio::pin!(receiving);
    let sending = tokio::select! {
        exec = &mut receiving => return Streamed::Exec(exec),
        sending = sending => sending,
    };
    match sending {
        Sending::Done => match tokio::time::timeout(timeout, &mut receiving).await {
            Ok(exec) => Streamed::Exec(exec),
            Err(_) => {
                let _ = write.close().await;
                Streamed::Exec(Exec::TimedOut)
            }
        },
        Sending::Input(error) => {
            let _ = write.close().await;
            Streamed::Input(error)
        }
        Sending::Stalled => {
            let _ = write.close().await;
            Streamed::Exec(Exec::TimedOut)
        }
    }
}

async fn receive(read: &mut russh::ChannelReadHalf) -> Exec {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut exit_status = None;
    while let Some(message) = read.wait().await {
        match message {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            // More data may follow the exit status: read until the channel closes.
            ChannelMsg::ExitStatus {
                exit_status: status,
            } => exit_status = Some(status),
            ChannelMsg::ExitSignal {
                signal_name,
                error_message,
                ..
            } => {
                let (name, number) = signal(&signal_name);
                if !stderr.is_empty() && !stderr.ends_with(b"\n") {
                    stderr.push(b'\n');
                }
                stderr.extend_from_slice(
                    format!("swarmform: the command was killed by SIG{name} {error_message}")
                        .trim_end()
                        .as_bytes(),
                );
                stderr.push(b'\n');
                exit_status = Some(128 + number);
            }
            ChannelMsg::Failure => return Exec::Refused,
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    match exit_status {
        Some(exit_status) => Exec::Done(Output {
            exit_status,
            stdout,
            stderr,
        }),
        None => Exec::Dropped,
    }
}

/// A signal's name and the number shells add to 128 for it.
fn signal(signal: &Sig) -> (String, u32) {
    let number = match signal {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 127,
    };
    let name = match signal {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    };
    (name, number)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
