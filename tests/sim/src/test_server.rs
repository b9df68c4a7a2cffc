//! A tiny SSH server for the transport's tests. It runs nothing: an exec request is answered, once
//! the client sends EOF, with the command line and the standard input on stdout, `err` on stderr
//! and exit status 3. `sleep` answers after 5 s; `drop` closes the connection without an exit
//! status. direct-tcpip channels are forwarded to the address asked for, so one server can be
//! another's jump host.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use russh::keys::key::safe_rng;
use russh::keys::{Algorithm, PrivateKey, PublicKey};
use russh::server::{self, Auth, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub fn random_key() -> PrivateKey {
    PrivateKey::random(&mut safe_rng(), Algorithm::Ed25519).expect("random key")
}

pub struct TestServer {
    pub address: SocketAddr,
    pub host_key: PrivateKey,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
    sessions: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

#[derive(Clone)]
pub struct Options {
    pub host_key: PrivateKey,
    /// Client keys allowed to log in.
    pub authorized: Vec<PublicKey>,
    /// Answer `sudo -n ...` as sudo does when it wants a password.
    pub sudo_needs_password: bool,
    /// Listen on this port (0: any).
    pub port: u16,
}

impl Options {
    pub fn new(authorized: &PrivateKey) -> Options {
        Options {
            host_key: random_key(),
            authorized: vec![authorized.public_key().clone()],
            sudo_needs_password: false,
            port: 0,
        }
    }
}

impl TestServer {
    pub async fn start(options: Options) -> TestServer {
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let config = Arc::new(server::Config {
            keys: vec![options.host_key.clone()],
            auth_rejection_time: Duration::from_millis(1),
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: None,
            ..server::Config::default()
        });
        let connections = Arc::new(AtomicUsize::new(0));
        let sessions: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let connections = connections.clone();
            let sessions = sessions.clone();
            let options = options.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    let handler = Handler {
                        options: options.clone(),
                        pending: HashMap::new(),
                    };
                    let config = config.clone();
                    let session = tokio::spawn(async move {
                        if let Ok(session) = server::run_stream(config, socket, handler).await {
                            let _ = session.await;
                        }
                    });
                    sessions.lock().expect("sessions").push(session);
                }
            })
        };
        TestServer {
            address,
            host_key: options.host_key,
            connections,
            accept,
            sessions,
        }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Stops listening and drops every connection.
    pub fn stop(&self) {
        self.accept.abort();
        for session in self.sessions.lock().expect("sessions").drain(..) {
            session.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Handler {
    options: Options,
    /// Commands waiting for the client's EOF, with the standard input so far.
    pending: HashMap<ChannelId, (String, Vec<u8>)>,
}

impl server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let allowed = self
            .options
            .authorized
            .iter()
            .any(|authorized| authorized.key_data() == key.public_key.key_data());
        Ok(if allowed {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Ok(port) = u16::try_from(port_to_connect) else {
            return Ok(());
        };
        let Ok(mut stream) = tokio::net::TcpStream::connect((host_to_connect, port)).await else {
            reply.reject(russh::ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            let mut channel = channel.into_stream();
            let _ = tokio::io::copy_bidirectional(&mut channel, &mut stream).await;
        });
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        session.channel_success(channel)?;
        match command.as_str() {
            "drop" => Err(russh::Error::Disconnect),
            "sleep" => {
                let handle = session.handle();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    let _ = handle.data(channel, b"slept".to_vec()).await;
                    let _ = handle.exit_status_request(channel, 0).await;
                    let _ = handle.eof(channel).await;
                    let _ = handle.close(channel).await;
                });
                Ok(())
            }
            _ => {
                self.pending.insert(channel, (command, Vec::new()));
                Ok(())
            }
        }
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some((_, stdin)) = self.pending.get_mut(&channel) {
            stdin.extend_from_slice(data);
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some((command, stdin)) = self.pending.remove(&channel) else {
            return Ok(());
        };
        if self.options.sudo_needs_password && command.starts_with("sudo -n ") {
            session.extended_data(channel, 1, b"sudo: a password is required\n".to_vec())?;
            session.exit_status_request(channel, 1)?;
        } else {
            let mut stdout = command.into_bytes();
            stdout.extend_from_slice(&stdin);
            session.data(channel, stdout)?;
            session.extended_data(channel, 1, b"err".to_vec())?;
            session.exit_status_request(channel, 3)?;
        }
        session.eof(channel)?;
        session.close(channel)?;
        Ok(())
    }
}
