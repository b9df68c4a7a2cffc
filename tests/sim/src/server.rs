//! The SSH side: one accept task per host, russh sessions, and one task per exec channel that
//! records the command line, applies faults, runs the line and answers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{
    Auth, ChannelOpenHandle, Config, Handle, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, ChannelMsg, Disconnect, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use super::KillMoment;
use super::exec::{self, Stdin};
use super::world::World;

/// What every task of a simulation shares.
pub(crate) struct Shared {
    world: Mutex<World>,
    /// Woken whenever a host records a command line.
    pub commands_changed: Notify,
    pub client_key: PublicKey,
    pub dir: PathBuf,
    next_connection: AtomicU64,
    listeners: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    pub fn new(world: World, client_key: PublicKey, dir: PathBuf) -> Shared {
        Shared {
            world: Mutex::new(world),
            commands_changed: Notify::new(),
            client_key,
            dir,
            next_connection: AtomicU64::new(1),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// The world, locked. Never held across an await.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn server_config(key: &PrivateKey) -> Arc<Config> {
    Arc::new(Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::ZERO,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key.clone()],
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    })
}

pub(crate) fn spawn_listeners(shared: &Arc<Shared>, listeners: Vec<TcpListener>) {
    let mut tasks = shared
        .listeners
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for (host, listener) in listeners.into_iter().enumerate() {
        tasks.push(tokio::spawn(accept_loop(shared.clone(), host, listener)));
    }
}

async fn accept_loop(shared: Arc<Shared>, host: usize, listener: TcpListener) {
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => {
                // run_stream does not apply the config's nodelay: without it every answer
                // waits on delayed ACKs.
                let _ = socket.set_nodelay(true);
                socket
            }
            Err(_) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let config = shared.world().hosts[host].server_config.clone();
        let handler = Connection {
            shared: shared.clone(),
            host,
            id: shared.next_connection.fetch_add(1, Ordering::Relaxed),
            registered: false,
        };
        // run_stream spawns the session's own task; this one only waits for the version
        // exchange so a slow client never blocks the accept loop.
        tokio::spawn(async move {
            let _session = russh::server::run_stream(config, socket, handler).await;
        });
    }
}

pub(crate) async fn disconnect(handle: &Handle) {
    let _ = handle
        .disconnect(
            Disconnect::ByApplication,
            "connection dropped by the simulator".to_owned(),
            "en".to_owned(),
        )
        .await;
}

pub(crate) async fn stop(shared: &Shared) {
    let tasks: Vec<JoinHandle<()>> = shared
        .listeners
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    let handles: Vec<Handle> = {
        let mut world = shared.world();
        world
            .hosts
            .iter_mut()
            .flat_map(|host| host.connections.drain().map(|(_, handle)| handle))
            .collect()
    };
    for handle in handles {
        disconnect(&handle).await;
    }
}

/// One client connection to one host.
struct Connection {
    shared: Arc<Shared>,
    host: usize,
    id: u64,
    registered: bool,
}

impl Connection {
    fn authorized(&self, user: &str, key: &PublicKey) -> bool {
        // `pi` stands for a login that is not root (Raspberry Pi OS's default user), so
        // commands go through `sudo -n`.
        matches!(user, "root" | "pi")
            && key.key_data() == self.shared.client_key.key_data()
            && !self.shared.world().hosts[self.host].faults.refuse_auth
    }

    fn auth(&self, user: &str, key: &PublicKey) -> Auth {
        if self.authorized(user, key) {
            Auth::Accept
        } else {
            Auth::reject()
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.registered {
            self.shared.world().hosts[self.host]
                .connections
                .remove(&self.id);
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.auth(user, offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.auth(user, key.public_key))
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        self.shared.world().hosts[self.host]
            .connections
            .insert(self.id, session.handle());
        self.registered = true;
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        tokio::spawn(run_channel(
            self.shared.clone(),
            self.host,
            channel,
            session.handle(),
        ));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }
}

/// Serves one session channel: waits for `exec`, collects stdin until EOF while the line runs,
/// and answers with stdout, stderr and the exit status.
async fn run_channel(shared: Arc<Shared>, host: usize, channel: Channel<Msg>, session: Handle) {
    let (mut read, write) = channel.split();
    let mut early_stdin = Vec::new();
    let command = loop {
        match read.wait().await {
            Some(ChannelMsg::Exec { command, .. }) => break command,
            Some(ChannelMsg::Data { data }) => early_stdin.extend_from_slice(&data),
            Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    let line = String::from_utf8_lossy(&command).into_owned();
    let (failure, drop_connection, delay, kill) = {
        let mut world = shared.world();
        world.total_commands += 1;
        let name = world.hosts[host].name.clone();
        let kill = world.kill.as_mut().and_then(|hook| hook.tick(&name, &line));
        let host = &mut world.hosts[host];
        host.commands.push(line.clone());
        (
            host.failure_for(&line),
            host.take_drop(&line),
            host.faults.delay,
            kill,
        )
    };
    shared.commands_changed.notify_waiters();
    if let Some((pid, KillMoment::BeforeEffect)) = kill {
        // The client died as it sent the line: nothing runs, nothing answers.
        sigkill(pid).await;
        return;
    }

    let (stdin_sender, stdin_receiver) = oneshot::channel();
    let reader = async move {
        let mut buffer = early_stdin;
        loop {
            match read.wait().await {
                Some(ChannelMsg::Data { data }) => buffer.extend_from_slice(&data),
                Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            }
        }
        let _ = stdin_sender.send(buffer);
        read
    };
    let run = async {
        match failure {
            Some(rule) => exec::Output {
                stdout: Vec::new(),
                stderr: rule.stderr.into_bytes(),
                status: rule.exit_status,
            },
            None => exec::run_command_line(&shared, host, &line, Stdin::new(stdin_receiver)).await,
        }
    };
    tokio::pin!(reader);
    tokio::pin!(run);
    let mut _read_half = None;
    let output = tokio::select! {
        output = &mut run => output,
        read = &mut reader => {
            _read_half = Some(read);
            run.as_mut().await
        }
    };

    if let Some((pid, KillMoment::AfterEffect)) = kill {
        // The line took effect; the client dies before it hears the answer.
        sigkill(pid).await;
        return;
    }
    if drop_connection {
        disconnect(&session).await;
        return;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if !output.stdout.is_empty() {
        let _ = write.data(&output.stdout[..]).await;
    }
    if !output.stderr.is_empty() {
        let _ = write.extended_data(1, &output.stderr[..]).await;
    }
    let _ = write.exit_status(output.status).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

/// SIGKILLs `pid` and returns once the signal is sent (`kill -KILL`: no unsafe code here).
async fn sigkill(pid: u32) {
    let _ = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
}
