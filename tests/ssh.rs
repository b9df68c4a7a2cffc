//! The transport (`swarmform::ssh`) against the in-process test server
//! (`swarmform_sim::test_server`), through the library's public API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use russh::keys::ssh_key::{Cipher, Kdf, LineEnding};
use russh::keys::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use swarmform::config::model::HostKeyPolicy;
use swarmform::ssh::{
    Environment, HostTarget, JumpHost, Pool, RecordedIn, RemoteCommand, Script, SshError,
    StreamError, fingerprint, host_key,
};
use swarmform_sim::test_server::{Options, TestServer, random_key};

/// A temporary folder with a client key, a known_hosts file, and the environment of a process
/// without agent, terminal or passphrase.
struct Lab {
    dir: tempfile::TempDir,
    client_key: PrivateKey,
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            dir: tempfile::tempdir().expect("temporary folder"),
            client_key: random_key(),
        };
        write_key(&lab.key_path(), &lab.client_key);
        lab
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// Records `server`'s key in known_hosts, as `ssh-keyscan` would.
    fn trust(&self, server: &TestServer) {
        let line = format!(
            "[127.0.0.1]:{} {}\n",
            server.port(),
            server.host_key.public_key().to_openssh().expect("openssh")
        );
        let mut text = std::fs::read_to_string(self.known_hosts()).unwrap_or_default();
        text.push_str(&line);
        std::fs::write(self.known_hosts(), text).expect("known_hosts");
    }

    fn target(&self, name: &str, server: &TestServer) -> HostTarget {
        HostTarget {
            name: name.to_owned(),
            address: "127.0.0.1".to_owned(),
            port: server.port(),
            user: "root".to_owned(),
            identity_files: vec![self.key_path()],
            host_key_policy: HostKeyPolicy::Strict,
            known_hosts: self.known_hosts(),
            jump: None,
            sudo: false,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            key_exchange: vec![],
        }
    }

    async fn server(&self) -> TestServer {
        TestServer::start(Options::new(&self.client_key)).await
    }
}

fn write_key(path: &Path, key: &PrivateKey) {
    let text = key.to_openssh(LineEnding::LF).expect("openssh");
    std::fs::write(path, text.as_bytes()).expect("key file");
}

fn quiet() -> Environment {
    Environment {
        passphrase: None,
        can_prompt: false,
        agent_socket: None,
        home: None,
    }
}

fn pool(targets: Vec<HostTarget>) -> Pool {
    Pool::with_environment(targets, BTreeMap::new(), quiet())
}

fn public(key: &PrivateKey) -> PublicKey {
    key.public_key().clone()
}

fn echo(words: &[&str]) -> Script {
    let mut words = words.iter();
    let program = words.next().expect("program");
    Script::new(RemoteCommand::new(*program).args(words.copied()))
}

// The pool is shared by tokio tasks through an Arc.
#[test]
fn pool_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Pool>();
}

// A run returns stdout and stderr apart and the exit status; a non-zero exit is not an error.
#[tokio::test]
async fn run_keeps_stdout_and_stderr_apart() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    let output = pool
        .run(
            "node1",
            &echo(&["docker", "info", "--format", "{{.Swarm}}"]),
        )
        .await
        .expect("run");
    assert_eq!(output.stdout_text(), "docker info --format '{{.Swarm}}'");
    assert_eq!(output.stderr_text(), "err");
    assert_eq!(output.exit_status, 3);
    assert!(!output.success());
    pool.close().await;
}

// Standard input reaches the command, and an upload is one command that streams into a
// temporary file beside the target and renames it into place with mode and owner.
#[tokio::test]
async fn upload_streams_to_a_temporary_file_and_renames_it() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    let output = pool
        .upload(
            "node1",
            "/etc/docker/daemon.json",
            b"{\"debug\":true}",
            0o640,
            "root",
            "docker",
        )
        .await
        .expect("upload");
    assert_eq!(
        output.stdout_text(),
        "mkdir -p /etc/docker && umask 077 && cat > /etc/docker/daemon.json.swarmform-tmp && chmod 0640 /etc/docker/daemon.json.swarmform-tmp && chown 'root:docker' /etc/docker/daemon.json.swarmform-tmp && mv -f /etc/docker/daemon.json.swarmform-tmp /etc/docker/daemon.json{\"debug\":true}"
    );
    assert!(matches!(
        pool.upload("node1", "relative/path", b"", 0o644, "root", "root")
            .await,
        Err(SshError::UploadPath { .. })
    ));
}

// A streamed input of several MB arrives whole and in order, read in chunks that wait for the
// channel's window; the progress callback counts up to the input's size.
#[tokio::test]
async fn a_streamed_input_arrives_intact() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    let size = 5 * 1024 * 1024 + 17;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let progress = std::sync::Mutex::new(Vec::new());
    let record = |total: u64| progress.lock().expect("progress").push(total);
    let output = pool
        .run_streaming(
            "node1",
            &echo(&["docker", "load"]),
            std::io::Cursor::new(data.clone()),
            &record,
        )
        .await
        .expect("streamed run");
    assert_eq!(output.exit_status, 3);
    let echoed = output.stdout;
    assert_eq!(&echoed[..11], b"docker load");
    assert_eq!(echoed.len() - 11, data.len());
    assert!(echoed[11..] == data[..], "the input arrived altered");
    let progress = progress.into_inner().expect("progress");
    assert!(progress.len() > 10, "{} progress reports", progress.len());
    assert!(progress.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(progress.last().copied(), Some(size as u64));
    pool.close().await;
}

/// Reads `good` bytes, then fails like a disk read error.
struct FailingReader {
    good: usize,
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
        }
        let count = self.good.min(buffer.remaining());
        buffer.put_slice(&vec![b'x'; count]);
        self.good -= count;
        std::task::Poll::Ready(Ok(()))
    }
}

// When the local input fails midway, the run ends with the input's error (the remote command
// never gets EOF, so it cannot mistake a truncated input for a whole one), and the connection
// stays usable.
#[tokio::test]
async fn a_failing_input_ends_the_streamed_run() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    let result = pool
        .run_streaming(
            "node1",
            &echo(&["docker", "load"]),
            FailingReader { good: 200_000 },
            &|_| {},
        )
        .await;
    match result {
        Err(StreamError::Input(error)) => assert_eq!(error.to_string(), "disk on fire"),
        other => panic!("expected an input error, got {other:?}"),
    }
    pool.run("node1", &echo(&["true"]))
        .await
        .expect("still connected");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

// With sudo, the whole line runs through `sudo -n sh -c`, and sudo asking for a password
// becomes SudoPassword with the NOPASSWD hint.
#[tokio::test]
async fn sudo_wraps_the_line_and_a_password_prompt_is_an_error() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let mut target = lab.target("node1", &server);
    target.sudo = true;
    target.user = "deploy".to_owned();
    let pool = pool(vec![target.clone()]);
    let output = pool
        .run("node1", &echo(&["docker", "ps"]))
        .await
        .expect("run");
    assert_eq!(output.stdout_text(), "sudo -n sh -c 'docker ps'");

    let mut options = Options::new(&lab.client_key);
    options.sudo_needs_password = true;
    let strict_sudo = TestServer::start(options).await;
    lab.trust(&strict_sudo);
    let mut target = lab.target("node2", &strict_sudo);
    target.sudo = true;
    target.user = "deploy".to_owned();
    let pool = self::pool(vec![target]);
    let error = pool
        .run("node2", &echo(&["docker", "ps"]))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, SshError::SudoPassword { host, user } if host == "node2" && user == "deploy"),
        "{error:?}"
    );
    assert!(error.to_string().contains("NOPASSWD"), "{error}");
}

// Under the strict policy an unknown host key is refused, naming its type and fingerprint and
// the known_hosts file, and nothing is recorded.
#[tokio::test]
async fn strict_refuses_an_unknown_key() {
    let lab = Lab::new();
    let server = lab.server().await;
    let pool = pool(vec![lab.target("node1", &server)]);
    let error = pool
        .run("node1", &echo(&["true"]))
        .await
        .expect_err("refused");
    match &error {
        SshError::HostKeyUnknown {
            host,
            algorithm,
            fingerprint: offered,
            known_hosts,
            ..
        } => {
            assert_eq!(host, "node1");
            assert_eq!(algorithm, "ssh-ed25519");
            assert_eq!(offered, &fingerprint(&public(&server.host_key)));
            assert!(offered.starts_with("SHA256:"), "{offered}");
            assert_eq!(known_hosts, &lab.known_hosts());
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    assert!(error.to_string().contains("accept-new"), "{error}");
    assert!(pool.learned_host_keys().is_empty());
    assert!(!lab.known_hosts().exists());
}

// accept-new records an unknown key in known_hosts and in learned_host_keys; a later strict
// pool then accepts the host.
#[tokio::test]
async fn accept_new_records_the_key() {
    let lab = Lab::new();
    let server = lab.server().await;
    let mut target = lab.target("node1", &server);
    target.host_key_policy = HostKeyPolicy::AcceptNew;
    let first = pool(vec![target]);
    first.run("node1", &echo(&["true"])).await.expect("run");
    assert_eq!(
        first.learned_host_keys(),
        [("node1".to_owned(), host_key(&public(&server.host_key)))]
    );
    let known_hosts = std::fs::read_to_string(lab.known_hosts()).expect("known_hosts");
    let entry = format!(
        "[127.0.0.1]:{} {}",
        server.port(),
        public(&server.host_key).to_openssh().expect("openssh")
    );
    assert!(
        known_hosts.lines().any(|line| line == entry),
        "{known_hosts}"
    );
    first.close().await;

    let second = pool(vec![lab.target("node1", &server)]);
    second
        .run("node1", &echo(&["true"]))
        .await
        .expect("known now");
    assert!(second.learned_host_keys().is_empty());
}

// A host that comes back with another key on the same address and port is refused with both
// fingerprints, even under accept-new.
#[tokio::test]
async fn a_changed_key_is_refused() {
    let lab = Lab::new();
    let server = lab.server().await;
    let port = server.port();
    let old = public(&server.host_key);
    let mut target = lab.target("node1", &server);
    target.host_key_policy = HostKeyPolicy::AcceptNew;
    let first = pool(vec![target.clone()]);
    first.run("node1", &echo(&["true"])).await.expect("run");
    first.close().await;
    drop(server);

    let mut options = Options::new(&lab.client_key);
    options.port = port;
    let reinstalled = start_on_port(options).await;
    let new = public(&reinstalled.host_key);
    let second = pool(vec![target]);
    let error = second
        .run("node1", &echo(&["true"]))
        .await
        .expect_err("refused");
    match &error {
        SshError::HostKeyChanged {
            host,
            algorithm,
            expected,
            found,
            recorded_in,
        } => {
            assert_eq!(host, "node1");
            assert_eq!(algorithm, "ssh-ed25519");
            assert_eq!(
                **recorded_in,
                RecordedIn::KnownHosts {
                    path: lab.known_hosts(),
                    entry: format!("[127.0.0.1]:{port}"),
                }
            );
            assert_eq!(expected, &fingerprint(&old));
            assert_eq!(found, &fingerprint(&new));
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&fingerprint(&old)) && message.contains(&fingerprint(&new)),
        "{message}"
    );
    assert!(message.contains("intercepting"), "{message}");
}

/// Starts a server on a port another one just released.
async fn start_on_port(options: Options) -> TestServer {
    for _ in 0..100 {
        if std::net::TcpListener::bind(("127.0.0.1", options.port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    TestServer::start(options).await
}

// The state's record is checked too: a key differing from it is refused as changed.
#[tokio::test]
async fn a_key_differing_from_the_state_is_refused() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let recorded = host_key(&public(&random_key()));
    let known = BTreeMap::from([("node1".to_owned(), vec![recorded.clone()])]);
    let pool = Pool::with_environment(vec![lab.target("node1", &server)], known, quiet());
    match pool.run("node1", &echo(&["true"])).await {
        Err(SshError::HostKeyChanged {
            expected,
            recorded_in,
            ..
        }) => {
            assert_eq!(expected, recorded.fingerprint);
            assert_eq!(*recorded_in, RecordedIn::State);
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
}

// A key the host does not accept fails with AuthFailed listing what was offered, at once and
// on one connection: authentication refusals are not retried.
#[tokio::test]
async fn a_wrong_key_fails_without_retrying() {
    let lab = Lab::new();
    let server = TestServer::start(Options::new(&random_key())).await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    let started = Instant::now();
    let error = pool
        .run("node1", &echo(&["true"]))
        .await
        .expect_err("refused");
    match &error {
        SshError::AuthFailed { host, user, tried } => {
            assert_eq!((host.as_str(), user.as_str()), ("node1", "root"));
            assert_eq!(tried, &[lab.key_path().display().to_string()]);
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    // Later calls get the same answer without connecting again.
    assert!(matches!(
        pool.run("node1", &echo(&["true"])).await,
        Err(SshError::AuthFailed { .. })
    ));
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

// An encrypted key is decrypted with SWARMFORM_SSH_PASSPHRASE; without it and without a
// terminal, the error says how to provide one.
#[tokio::test]
async fn an_encrypted_key_uses_the_passphrase() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let encrypted = lab
        .client_key
        .encrypt_with(
            Cipher::Aes256Ctr,
            // One bcrypt round keeps the test fast; OpenSSH writes 16.
            Kdf::Bcrypt {
                salt: vec![7; 16],
                rounds: 1,
            },
            0x5eed,
            "correct horse",
        )
        .expect("encrypt");
    let path = lab.dir.path().join("id_encrypted");
    write_key(&path, &encrypted);
    let mut target = lab.target("node1", &server);
    target.identity_files = vec![path.clone()];

    let environment = Environment {
        passphrase: Some(Zeroizing::new("correct horse".to_owned())),
        ..quiet()
    };
    let with = Pool::with_environment(vec![target.clone()], BTreeMap::new(), environment);
    with.run("node1", &echo(&["true"]))
        .await
        .expect("decrypted");

    let without = pool(vec![target.clone()]);
    match without.run("node1", &echo(&["true"])).await {
        Err(SshError::Passphrase { path: named }) => assert_eq!(named, path),
        other => panic!("expected Passphrase, got {other:?}"),
    }

    let environment = Environment {
        passphrase: Some(Zeroizing::new("wrong".to_owned())),
        ..quiet()
    };
    let wrong = Pool::with_environment(vec![target], BTreeMap::new(), environment);
    match wrong.run("node1", &echo(&["true"])).await {
        Err(SshError::KeyFile { detail, .. }) => {
            assert!(detail.contains("SWARMFORM_SSH_PASSPHRASE"), "{detail}");
        }
        other => panic!("expected KeyFile, got {other:?}"),
    }
}

// A command that outlives command_timeout ends in Timeout, and the connection stays usable.
#[tokio::test]
async fn a_slow_command_times_out() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let mut target = lab.target("node1", &server);
    target.command_timeout = Duration::from_millis(300);
    let pool = pool(vec![target]);
    let started = Instant::now();
    match pool.run("node1", &echo(&["sleep"])).await {
        Err(SshError::Timeout { host, what, .. }) => {
            assert_eq!(host, "node1");
            assert_eq!(what, "running `sleep`");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    pool.run("node1", &echo(&["true"]))
        .await
        .expect("still connected");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

// A connection that drops mid-command gives Disconnected (the command may have run) and is
// not retried; the next command reconnects.
#[tokio::test]
async fn a_dropped_connection_is_disconnected() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = pool(vec![lab.target("node1", &server)]);
    match pool.run("node1", &echo(&["drop"])).await {
        Err(SshError::Disconnected { host, command }) => {
            assert_eq!((host.as_str(), command.as_str()), ("node1", "drop"));
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    pool.run("node1", &echo(&["true"]))
        .await
        .expect("reconnected");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

// Twenty concurrent commands on one host share one connection and open twenty channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_share_one_connection() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let pool = Arc::new(pool(vec![lab.target("node1", &server)]));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..20 {
        let pool = pool.clone();
        tasks.spawn(async move {
            let output = pool
                .run("node1", &echo(&["echo", &index.to_string()]))
                .await
                .expect("run");
            assert_eq!(output.stdout_text(), format!("echo {index}"));
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(pool.round_trips("node1"), 20);
}

// A host behind a jump host is reached through a direct-tcpip channel; both host keys are
// checked (the jump's under its own name) and learned under accept-new.
#[tokio::test]
async fn a_jump_host_reaches_the_target() {
    let lab = Lab::new();
    let jump = lab.server().await;
    let inner = lab.server().await;
    let mut target = lab.target("node1", &inner);
    target.host_key_policy = HostKeyPolicy::AcceptNew;
    target.jump = Some(JumpHost {
        address: "127.0.0.1".to_owned(),
        port: jump.port(),
        user: "admin".to_owned(),
        identity_files: vec![lab.key_path()],
    });
    let pool = pool(vec![target]);
    let output = pool
        .run("node1", &echo(&["hostname"]))
        .await
        .expect("through the jump host");
    assert_eq!(output.stdout_text(), "hostname");
    assert_eq!(jump.connections.load(Ordering::SeqCst), 1);
    assert_eq!(inner.connections.load(Ordering::SeqCst), 1);
    let mut learned = pool.learned_host_keys();
    learned.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        learned,
        [
            (
                "127.0.0.1 (jump host)".to_owned(),
                host_key(&public(&jump.host_key))
            ),
            ("node1".to_owned(), host_key(&public(&inner.host_key))),
        ]
    );
    pool.close().await;
}

// A refused connection is retried with backoff (250 ms, 500 ms, 1 s), then reported with the
// host, its address and the hint.
#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let lab = Lab::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let mut target = lab.target("node2", &lab.server().await);
    target.port = port;
    let pool = pool(vec![target]);
    let started = Instant::now();
    let error = pool
        .run("node2", &echo(&["true"]))
        .await
        .expect_err("refused");
    assert!(
        started.elapsed() >= Duration::from_millis(1750),
        "{:?}",
        started.elapsed()
    );
    match &error {
        SshError::Connect {
            host,
            address,
            source,
        } => {
            assert_eq!(host, "node2");
            assert_eq!(address, &format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(
        error.to_string().starts_with(&format!(
            "cannot connect to `node2` (127.0.0.1:{port})\nhint: check that the host is up"
        )),
        "{error}"
    );
}

// An unknown host name is an error naming it, not a panic.
#[tokio::test]
async fn an_unknown_host_is_an_error() {
    let pool = pool(vec![]);
    assert!(matches!(
        pool.run("nowhere", &echo(&["true"])).await,
        Err(SshError::UnknownHost { host }) if host == "nowhere"
    ));
    assert_eq!(pool.round_trips("nowhere"), 0);
}

// The configured key exchange order is what the handshake offers: a host without any of them
// fails the handshake, once, with what it does offer; a name russh does not know is refused
// before connecting.
#[tokio::test]
async fn the_key_exchange_is_configurable() {
    let lab = Lab::new();
    let server = lab.server().await;
    lab.trust(&server);
    let mut libssh = lab.target("node1", &server);
    libssh.key_exchange = vec!["curve25519-sha256@libssh.org".to_owned()];
    // russh's server, unlike OpenSSH's, offers no ECDH exchange.
    let mut ecdh = lab.target("node2", &server);
    ecdh.key_exchange = vec!["ecdh-sha2-nistp256".to_owned()];
    let mut unknown = lab.target("node3", &server);
    unknown.key_exchange = vec!["sntrup761x25519-sha512".to_owned()];
    let pool = pool(vec![libssh, ecdh, unknown]);
    pool.run("node1", &echo(&["true"]))
        .await
        .expect("libssh name");
    let error = pool
        .run("node2", &echo(&["true"]))
        .await
        .expect_err("no common algorithm");
    assert!(
        matches!(&error, SshError::Handshake { host, .. } if host == "node2"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("no key exchange algorithm in common; the host offers: mlkem768x25519-sha256, curve25519-sha256"), "{message}");
    assert!(
        message.contains("add one it supports to `key_exchange`"),
        "{message}"
    );
    match pool.run("node3", &echo(&["true"])).await {
        Err(SshError::KeyExchange { host, name }) => {
            assert_eq!(
                (host.as_str(), name.as_str()),
                ("node3", "sntrup761x25519-sha512")
            );
        }
        other => panic!("expected KeyExchange, got {other:?}"),
    }
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        2,
        "the failed handshake is not retried"
    );
}
