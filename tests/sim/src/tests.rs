//! The simulator driven the way swarmform drives it: a russh client that authenticates with the
//! written key, checks the host key against the written known_hosts, sends one command line per
//! channel (stdin then EOF) and reads stdout, stderr and the exit status until the channel
//! closes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{
    PrivateKeyWithHashAlg, PublicKeyOrCertificate, check_known_hosts_path, load_secret_key,
};
use serde_json::Value;

use super::{Sim, SimHostSpec, SimOptions};

/// One word quoted for a POSIX shell, as swarmform quotes every word it sends.
fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    shell_escape::unix::escape(std::borrow::Cow::Borrowed(word))
}

#[derive(Debug)]
struct Execution {
    stdout: String,
    stderr: String,
    /// `None` when the channel closed without an exit status.
    status: Option<u32>,
}

impl Execution {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.status, Some(0), "{self:#?}");
        &self.stdout
    }

    #[track_caller]
    fn json(&self) -> Value {
        let text = self.ok().trim();
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
    }

    #[track_caller]
    fn json_lines(&self) -> Vec<Value> {
        self.ok()
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
            })
            .collect()
    }

    #[track_caller]
    fn fails(&self, status: u32, stderr: &str) {
        assert_eq!(
            (self.status, self.stderr.as_str()),
            (Some(status), stderr),
            "{self:#?}"
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    Known,
    Changed,
    Unknown,
}

struct Client {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    check: Arc<Mutex<Option<KeyCheck>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        let check = match check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => KeyCheck::Known,
            Err(russh::keys::Error::KeyChanged { .. }) => KeyCheck::Changed,
            _ => KeyCheck::Unknown,
        };
        *self.check.lock().expect("the lock is not poisoned") = Some(check);
        Ok(check == KeyCheck::Known)
    }
}

#[derive(Debug)]
enum ConnectError {
    HostKey(KeyCheck),
    Auth,
    Other(String),
}

struct Connection {
    handle: Handle<Client>,
}

async fn connect(sim: &Sim, host: &str) -> Result<Connection, ConnectError> {
    let info = sim
        .hosts()
        .into_iter()
        .find(|info| info.name == host)
        .expect("the host exists");
    let check = Arc::new(Mutex::new(None));
    let handler = Client {
        host: info.address.to_string(),
        port: info.port,
        known_hosts: sim.known_hosts_file(),
        check: check.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    });
    let mut handle = match client::connect(config, (info.address, info.port), handler).await {
        Ok(handle) => handle,
        Err(error) => {
            return Err(match *check.lock().expect("the lock is not poisoned") {
                Some(check) if check != KeyCheck::Known => ConnectError::HostKey(check),
                _ => ConnectError::Other(error.to_string()),
            });
        }
    };
    let key = load_secret_key(sim.identity_file(), None).expect("the written key loads");
    let auth = handle
        .authenticate_publickey("root", PrivateKeyWithHashAlg::new(Arc::new(key), None))
        .await
        .map_err(|error| ConnectError::Other(error.to_string()))?;
    if !auth.success() {
        return Err(ConnectError::Auth);
    }
    Ok(Connection { handle })
}

impl Connection {
    async fn try_exec(&self, line: &str, stdin: Option<&[u8]>) -> Result<Execution, russh::Error> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, line).await?;
        if let Some(data) = stdin {
            channel.data(data).await?;
        }
        channel.eof().await?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut status = None;
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                _ => {}
            }
        }
        Ok(Execution {
            stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
            status,
        })
    }

    async fn exec(&self, line: &str, stdin: Option<&[u8]>) -> Execution {
        self.try_exec(line, stdin).await.expect("the command runs")
    }
}

/// A simulation and one open connection per host.
struct Lab {
    sim: Sim,
    _dir: tempfile::TempDir,
    connections: HashMap<String, Connection>,
}

impl Lab {
    async fn start(hosts: Vec<SimHostSpec>) -> Lab {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sim = Sim::start(SimOptions { hosts }, dir.path())
            .await
            .expect("the simulation starts");
        Lab {
            sim,
            _dir: dir,
            connections: HashMap::new(),
        }
    }

    async fn with_hosts(count: usize) -> Lab {
        Lab::start(SimOptions::with_hosts(count).hosts).await
    }

    async fn connection(&mut self, host: &str) -> &Connection {
        if !self.connections.contains_key(host) {
            let connection = match connect(&self.sim, host).await {
                Ok(connection) => connection,
                Err(ConnectError::Other(error)) => panic!("cannot connect to {host}: {error}"),
                Err(error) => panic!("cannot connect to {host}: {error:?}"),
            };
            self.connections.insert(host.to_owned(), connection);
        }
        &self.connections[host]
    }

    async fn sh(&mut self, host: &str, line: &str) -> Execution {
        self.connection(host).await.exec(line, None).await
    }

    async fn sh_in(&mut self, host: &str, line: &str, stdin: &str) -> Execution {
        self.sh_bytes(host, line, stdin.as_bytes()).await
    }

    async fn sh_bytes(&mut self, host: &str, line: &str, stdin: &[u8]) -> Execution {
        self.connection(host).await.exec(line, Some(stdin)).await
    }

    fn address(&self, host: &str) -> String {
        self.sim
            .hosts()
            .into_iter()
            .find(|info| info.name == host)
            .map(|info| info.address.to_string())
            .expect("the host exists")
    }

    /// `docker swarm init` on node1, then every other host joins with `role`'s token.
    async fn swarm(&mut self, hosts: &[&str], role: &str) {
        let manager = self.address(hosts[0]);
        self.sh(
            hosts[0],
            &format!("docker swarm init --advertise-addr {manager}"),
        )
        .await
        .ok();
        let token = self
            .sh(hosts[0], &format!("docker swarm join-token -q {role}"))
            .await
            .ok()
            .trim()
            .to_owned();
        for host in &hosts[1..] {
            let address = self.address(host);
            let out = self
                .sh(
                    host,
                    &format!(
                        "docker swarm join --token {token} --advertise-addr {address} {manager}:2377"
                    ),
                )
                .await;
            assert_eq!(out.ok(), format!("This node joined a swarm as a {role}.\n"));
        }
    }
}

const NO_LEADER: &str = "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.\n";

// init prints Docker's text, join-token gives a token per role, two hosts join, and node ls
// shows three Ready nodes with the leader marked.
#[tokio::test]
async fn init_join_and_node_ls() {
    let mut lab = Lab::with_hosts(3).await;
    let init = lab
        .sh(
            "node1",
            "docker swarm init --advertise-addr 127.0.1.1 --listen-addr 0.0.0.0:2377 --cert-expiry 2160h0m0s --dispatcher-heartbeat 5s --max-snapshots 0 --snapshot-interval 10000 --task-history-limit 5",
        )
        .await;
    let text = init.ok();
    assert!(
        text.starts_with("Swarm initialized: current node (")
            && text.contains(") is now a manager.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token SWMTKN-1-")
            && text.ends_with(" 127.0.1.1:2377\n\nTo add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n"),
        "{text}"
    );
    let worker = lab
        .sh("node1", "docker swarm join-token -q worker")
        .await
        .ok()
        .trim()
        .to_owned();
    let manager = lab
        .sh("node1", "docker swarm join-token -q manager")
        .await
        .ok()
        .trim()
        .to_owned();
    assert!(worker.starts_with("SWMTKN-1-") && worker.len() == "SWMTKN-1-".len() + 50 + 1 + 25);
    assert_ne!(worker, manager);
    assert_eq!(worker[..59], manager[..59], "the CA digest part is shared");
    let full = lab.sh("node1", "docker swarm join-token worker").await;
    assert_eq!(
        full.ok(),
        format!(
            "To add a worker to this swarm, run the following command:\n\n    docker swarm join --token {worker} 127.0.1.1:2377\n\n"
        )
    );
    for host in ["node2", "node3"] {
        let out = lab
            .sh(
                host,
                &format!("docker swarm join --token {worker} 127.0.1.1:2377"),
            )
            .await;
        assert_eq!(out.ok(), "This node joined a swarm as a worker.\n");
    }
    let nodes = lab
        .sh("node1", "docker node ls --format '{{json .}}'")
        .await
        .json_lines();
    assert_eq!(nodes.len(), 3);
    let summary: Vec<(String, String, String, bool)> = nodes
        .iter()
        .map(|node| {
            (
                node["Hostname"].as_str().expect("as set up").to_owned(),
                node["Status"].as_str().expect("as set up").to_owned(),
                node["ManagerStatus"]
                    .as_str()
                    .expect("as set up")
                    .to_owned(),
                node["Self"].as_bool().expect("as set up"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "node1".to_owned(),
                "Ready".to_owned(),
                "Leader".to_owned(),
                true
            ),
            ("node2".to_owned(), "Ready".to_owned(), String::new(), false),
            ("node3".to_owned(), "Ready".to_owned(), String::new(), false),
        ]
    );
    assert_eq!(nodes[0]["Availability"], "Active");
    assert_eq!(nodes[0]["EngineVersion"], "20.10.24+dfsg1");
    let keys: Vec<&String> = nodes[0].as_object().expect("as set up").keys().collect();
    assert_eq!(
        keys,
        [
            "Availability",
            "EngineVersion",
            "Hostname",
            "ID",
            "ManagerStatus",
            "Self",
            "Status",
            "TLSStatus"
        ]
    );

    let table = lab.sh("node1", "docker node ls").await;
    let header = table.ok().lines().next().expect("as set up").to_owned();
    assert_eq!(
        header,
        "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION"
    );

    let swarm = lab
        .sh("node2", "docker info --format '{{json .Swarm}}'")
        .await
        .json();
    assert_eq!(swarm["LocalNodeState"], "active");
    assert_eq!(swarm["ControlAvailable"], false);
    assert_eq!(swarm["RemoteManagers"][0]["Addr"], "127.0.1.1:2377");
    let swarm = lab
        .sh("node1", "docker info --format '{{json .Swarm}}'")
        .await
        .json();
    assert_eq!(
        (swarm["Nodes"].as_u64(), swarm["Managers"].as_u64()),
        (Some(3), Some(1))
    );

    lab.sh("node2", "docker node ls").await.fails(
        1,
        "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.\n",
    );
    lab.sh("node2", &format!("docker swarm join --token {worker} 127.0.1.1:2377"))
        .await
        .fails(
            1,
            "Error response from daemon: This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.\n",
        );
    lab.sh("node1", "docker swarm init --advertise-addr 127.0.1.1")
        .await
        .fails(
            1,
            "Error response from daemon: This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.\n",
        );

    let snapshot = lab.sim.snapshot();
    let swarm = snapshot.swarm().expect("one swarm");
    assert_eq!(swarm.leader.as_deref(), Some("node1"));
    assert_eq!(swarm.worker_token, worker);
    assert_eq!(
        swarm.network("ingress").map(|n| n.subnet.as_str()),
        Some("10.0.0.0/24")
    );
}

// A wrong token, a malformed one and an address no manager advertises fail like Docker.
#[tokio::test]
async fn join_failures() {
    let mut lab = Lab::with_hosts(2).await;
    lab.sh("node1", "docker swarm init --advertise-addr 127.0.1.1")
        .await
        .ok();
    let token = lab
        .sh("node1", "docker swarm join-token -q worker")
        .await
        .ok()
        .trim()
        .to_owned();
    let wrong = format!("{}{}", &token[..token.len() - 25], "a".repeat(25));
    lab.sh("node2", &format!("docker swarm join --token {wrong} 127.0.1.1:2377"))
        .await
        .fails(
            1,
            "Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster\n",
        );
    lab.sh("node2", "docker swarm join --token nope 127.0.1.1:2377")
        .await
        .fails(1, "Error response from daemon: invalid join token\n");
    lab.sh("node2", &format!("docker swarm join --token {token} 127.0.1.9:2377"))
        .await
        .fails(
            1,
            "Error response from daemon: rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing dial tcp 127.0.1.9:2377: connect: connection refused\"\n",
        );
    lab.sh("node1", "docker swarm join-token --rotate worker")
        .await
        .ok();
    lab.sh("node2", &format!("docker swarm join --token {token} 127.0.1.1:2377"))
        .await
        .fails(
            1,
            "Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster\n",
        );
    lab.sh("node2", "docker swarm leave").await.fails(
        1,
        "Error response from daemon: This node is not part of a swarm\n",
    );
    lab.sh("node2", "docker node ls").await.fails(
        1,
        "Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.\n",
    );
}

// A manager cannot be removed until demoted; a worker only once down (or with --force); a
// manager leaving without --force is refused with guide 003's messages.
#[tokio::test]
async fn managers_leave_and_removal() {
    let mut lab = Lab::with_hosts(4).await;
    lab.swarm(&["node1", "node2", "node3"], "manager").await;
    let token = lab
        .sh("node1", "docker swarm join-token -q worker")
        .await
        .ok()
        .trim()
        .to_owned();
    lab.sh(
        "node4",
        &format!("docker swarm join --token {token} 127.0.1.1:2377"),
    )
    .await
    .ok();
    let node4_id = lab
        .sim
        .snapshot()
        .swarm()
        .expect("as set up")
        .node("node4")
        .expect("as set up")
        .id
        .clone();
    lab.sh("node1", "docker node rm node4").await.fails(
        1,
        &format!("Error response from daemon: rpc error: code = FailedPrecondition desc = node {node4_id} is not down and can't be removed\n"),
    );
    lab.sh("node4", "docker swarm leave").await;
    assert_eq!(
        lab.sh("node1", "docker node rm node4").await.ok(),
        "node4\n"
    );

    lab.sh("node3", "docker swarm leave").await.fails(
        1,
        "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.\n",
    );
    assert_eq!(
        lab.sh("node3", "docker swarm leave --force").await.ok(),
        "Node left the swarm.\n"
    );
    let nodes = lab
        .sh("node1", "docker node ls --format '{{json .}}'")
        .await
        .json_lines();
    let node3 = nodes
        .iter()
        .find(|node| node["Hostname"] == "node3")
        .expect("as set up");
    assert_eq!(
        (node3["Status"].as_str(), node3["ManagerStatus"].as_str()),
        (Some("Down"), Some("Unreachable"))
    );
    let node3_id = node3["ID"].as_str().expect("as set up").to_owned();
    lab.sh("node1", "docker node rm node3").await.fails(
        1,
        &format!("Error response from daemon: rpc error: code = FailedPrecondition desc = node {node3_id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n"),
    );
    assert_eq!(
        lab.sh("node1", "docker node demote node3").await.ok(),
        "Manager node3 demoted in the swarm.\n"
    );
    assert_eq!(
        lab.sh("node1", "docker node rm node3").await.ok(),
        "node3\n"
    );
    let node2_id = lab
        .sim
        .snapshot()
        .swarm()
        .and_then(|swarm| swarm.node("node2").map(|node| node.id.clone()))
        .expect("node2 is a member");
    assert_eq!(
        lab.sh("node1", "docker node promote node2").await.ok(),
        format!("Node {node2_id} is already a manager.\n")
    );
    let warnings = lab
        .sh("node1", "docker info --format '{{json .Swarm.Warnings}}'")
        .await
        .json();
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|warning| warning
                .starts_with("WARNING: Running Swarm in a two-manager configuration.")),
        "{warnings}"
    );

    // Two managers left: leaving would break quorum.
    lab.sh("node2", "docker swarm leave").await.fails(
        1,
        "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Removing this node leaves 1 managers out of 2. Without a Raft quorum your swarm will be inaccessible. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.\n",
    );
    lab.sh("node2", "docker swarm leave --force").await.ok();
    lab.sh("node1", "docker node ls").await.fails(1, NO_LEADER);
    lab.sh("node1", "docker node demote node2")
        .await
        .fails(1, NO_LEADER);
    assert_eq!(lab.sim.snapshot().swarm().expect("as set up").leader, None);
    assert_eq!(
        lab.sh("node1", "docker swarm leave --force").await.ok(),
        "Node left the swarm.\n"
    );
    assert!(lab.sim.snapshot().swarms.is_empty());
}

// The last manager cannot leave without --force; with it, the swarm is gone.
#[tokio::test]
async fn last_manager_leaves_with_force() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "docker swarm init").await.ok();
    lab.sh("node1", "docker node demote node1").await.fails(
        1,
        "Error response from daemon: rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm\n",
    );
    lab.sh("node1", "docker swarm leave").await.fails(
        1,
        "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. \n",
    );
    assert_eq!(
        lab.sh("node1", "docker swarm leave --force").await.ok(),
        "Node left the swarm.\n"
    );
    let swarm = lab
        .sh("node1", "docker info --format '{{json .Swarm}}'")
        .await;
    assert_eq!(
        swarm.ok(),
        "{\"NodeID\":\"\",\"NodeAddr\":\"\",\"LocalNodeState\":\"inactive\",\"ControlAvailable\":false,\"Error\":\"\",\"RemoteManagers\":null}\n"
    );
    assert!(lab.sim.snapshot().swarms.is_empty());
}

// Overlay networks: create prints an ID, ls and inspect show Docker's fields, a duplicate name
// and removal of a network a service uses are refused.
#[tokio::test]
async fn networks() {
    let mut lab = Lab::with_hosts(2).await;
    lab.swarm(&["node1", "node2"], "worker").await;
    let id = lab
        .sh(
            "node1",
            "docker network create --driver overlay --subnet 10.0.10.0/24 --attachable --opt encrypted --label team=web web",
        )
        .await
        .ok()
        .trim()
        .to_owned();
    assert_eq!(id.len(), 25);
    lab.sh("node1", "docker network create --driver overlay web")
        .await
        .fails(
            1,
            "Error response from daemon: network with name web already exists\n",
        );
    let networks = lab
        .sh(
            "node1",
            "docker network ls --filter driver=overlay --format '{{json .}}'",
        )
        .await
        .json_lines();
    let names: Vec<&str> = networks
        .iter()
        .map(|n| n["Name"].as_str().expect("as set up"))
        .collect();
    assert_eq!(names, ["ingress", "web"]);
    assert_eq!(networks[1]["ID"], id[..12]);
    assert_eq!(networks[1]["Scope"], "swarm");
    assert_eq!(networks[1]["Labels"], "team=web");
    let inspect = lab
        .sh("node1", "docker network inspect web --format '{{json .}}'")
        .await
        .json();
    assert_eq!(inspect["Id"], id);
    assert_eq!(inspect["Attachable"], true);
    assert_eq!(inspect["IPAM"]["Config"][0]["Subnet"], "10.0.10.0/24");
    assert_eq!(inspect["IPAM"]["Config"][0]["Gateway"], "10.0.10.1");
    assert_eq!(inspect["Options"]["encrypted"], "");
    assert_eq!(inspect["Labels"]["team"], "web");
    let pretty = lab.sh("node1", "docker network inspect web").await;
    assert!(
        pretty
            .ok()
            .starts_with("[\n    {\n        \"Name\": \"web\",\n"),
        "{}",
        pretty.stdout
    );

    lab.sh("node1", "docker network create --driver overlay web2")
        .await
        .ok();
    let web2 = lab
        .sim
        .snapshot()
        .swarm()
        .expect("as set up")
        .network("web2")
        .expect("as set up")
        .clone();
    assert_eq!(web2.subnet, "10.0.1.0/24");

    let service = lab
        .sh(
            "node1",
            "docker service create -d --name api --network web nginx:1.25",
        )
        .await
        .ok()
        .trim()
        .to_owned();
    lab.sh("node1", "docker network rm web").await.fails(
        1,
        &format!("Error response from daemon: rpc error: code = FailedPrecondition desc = network {id} is in use by service {service}\n"),
    );
    assert_eq!(lab.sh("node1", "docker service rm api").await.ok(), "api\n");
    assert_eq!(lab.sh("node1", "docker network rm web").await.ok(), "web\n");
    lab.sh("node1", "docker network rm web")
        .await
        .fails(1, "Error: No such network: web\n");
    lab.sh("node1", "docker network inspect nope")
        .await
        .fails(1, "Error: No such network: nope\n");
    lab.sh("node2", "docker network create --driver overlay x").await.fails(
        1,
        "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.\n",
    );
}

/// SHA-256 of `s3cret\n`.
const SECRET_SHA256: &str = "82ba9d712d21dc7585dd6a1f29790679985547f009baee10ea2e3edd41ce957d";

const STACK: &str = r#"version: "3.8"
services:
  web:
    image: nginx:1.25
    command: ["nginx", "-g", "daemon off;"]
    deploy:
      replicas: 3
    secrets:
      - db_password
    networks:
      - front
networks:
  front:
    external: true
    name: front
secrets:
  db_password:
    external: true
"#;

// A secret from stdin, used by a stack deployed from stdin: the tasks spread over the nodes,
// the secret cannot be removed while in use, and draining a node moves its task.
#[tokio::test]
async fn secrets_stacks_and_drain() {
    let mut lab = Lab::with_hosts(3).await;
    lab.swarm(&["node1", "node2", "node3"], "worker").await;
    let deploy = "docker stack deploy --compose-file - --with-registry-auth web";
    lab.sh_in("node1", deploy, STACK).await.fails(
        1,
        "network \"front\" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed\n",
    );
    lab.sh(
        "node1",
        "docker network create --driver overlay --attachable front",
    )
    .await
    .ok();
    lab.sh_in("node1", deploy, STACK)
        .await
        .fails(1, "service web: secret not found: db_password\n");

    let id = lab
        .sh_in(
            "node1",
            "docker secret create --label app=web db_password -",
            "s3cret\n",
        )
        .await
        .ok()
        .trim()
        .to_owned();
    assert_eq!(id.len(), 25);
    lab.sh_in("node1", "docker secret create db_password -", "again")
        .await
        .fails(
            1,
            "Error response from daemon: rpc error: code = AlreadyExists desc = secret db_password already exists\n",
        );
    let secrets = lab
        .sh("node1", "docker secret ls --format '{{json .}}'")
        .await
        .json_lines();
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        (secrets[0]["ID"].as_str(), secrets[0]["Name"].as_str()),
        (Some(id.as_str()), Some("db_password"))
    );
    assert_eq!(secrets[0]["CreatedAt"], "Less than a second ago");
    let snapshot = lab.sim.snapshot();
    let secret = snapshot
        .swarm()
        .expect("as set up")
        .secret("db_password")
        .expect("as set up");
    assert_eq!(secret.content_sha256, SECRET_SHA256);

    assert_eq!(
        lab.sh_in("node1", deploy, STACK).await.ok(),
        "Creating service web_web\n"
    );
    let services = lab
        .sh("node1", "docker stack services web --format '{{json .}}'")
        .await
        .json_lines();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["Name"], "web_web");
    assert_eq!(services[0]["Replicas"], "3/3");
    assert_eq!(services[0]["Mode"], "replicated");
    assert_eq!(services[0]["Image"], "nginx:1.25");
    let stacks = lab
        .sh("node1", "docker stack ls --format '{{json .}}'")
        .await
        .json_lines();
    assert_eq!(stacks[0]["Name"], "web");
    assert_eq!(stacks[0]["Services"], "1");
    assert_eq!(stacks[0]["Orchestrator"], "Swarm");
    let tasks = lab
        .sh(
            "node1",
            "docker service ps web_web --filter desired-state=running --format '{{json .}}'",
        )
        .await
        .json_lines();
    let mut nodes: Vec<&str> = tasks
        .iter()
        .map(|task| task["Node"].as_str().expect("as set up"))
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["node1", "node2", "node3"]);
    assert!(tasks.iter().all(|task| {
        task["CurrentState"]
            .as_str()
            .expect("as set up")
            .starts_with("Running ")
    }));

    lab.sh("node1", "docker secret rm db_password").await.fails(
        1,
        "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'db_password' is in use by the following service: web_web\n",
    );

    assert_eq!(
        lab.sh("node1", "docker node update --availability drain node2")
            .await
            .ok(),
        "node2\n"
    );
    let on_node2 = lab
        .sh(
            "node1",
            "docker node ps node2 --filter desired-state=running --format '{{json .}}'",
        )
        .await;
    assert_eq!(on_node2.ok(), "");
    let snapshot = lab.sim.snapshot();
    let service = snapshot
        .swarm()
        .expect("as set up")
        .service("web_web")
        .expect("as set up");
    let mut running = service.running_on();
    running.sort();
    assert_eq!(running.len(), 3);
    assert!(!running.contains(&"node2".to_owned()), "{running:?}");
    let history = lab
        .sh(
            "node1",
            "docker service ps web_web --filter desired-state=shutdown --format '{{json .}}'",
        )
        .await
        .json_lines();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["Node"], "node2");

    // A redeploy of the same file changes nothing; the default network appears for a stack
    // whose services name no network.
    assert_eq!(
        lab.sh_in("node1", deploy, STACK).await.ok(),
        format!("Updating service web_web (id: {})\n", service.id)
    );
    let api = "version: \"3.8\"\nservices:\n  api:\n    image: busybox\n    deploy:\n      mode: global\n";
    assert_eq!(
        lab.sh_in("node1", "docker stack deploy -c - api", api)
            .await
            .ok(),
        "Creating network api_default\nCreating service api_api\n"
    );
    let api_service = lab
        .sim
        .snapshot()
        .swarm()
        .expect("as set up")
        .service("api_api")
        .expect("as set up")
        .clone();
    assert_eq!(
        (api_service.mode.as_str(), api_service.running),
        ("global", 2),
        "drained node2 runs nothing"
    );

    assert_eq!(
        lab.sh("node1", "docker stack rm web").await.ok(),
        "Removing service web_web\n"
    );
    assert_eq!(
        lab.sh("node1", "docker stack rm api").await.ok(),
        "Removing service api_api\nRemoving network api_default\n"
    );
    assert_eq!(
        lab.sh("node1", "docker secret rm db_password").await.ok(),
        "db_password\n"
    );
    let snapshot = lab.sim.snapshot();
    let swarm = snapshot.swarm().expect("as set up");
    assert!(swarm.services.is_empty() && swarm.secrets.is_empty() && swarm.stacks.is_empty());
}

// A label value with a quote, spaces and `$(...)`, quoted the way swarmform quotes, arrives as
// one literal word, directly and through `sudo -n sh -c`.
#[tokio::test]
async fn quoting_keeps_hostile_words_literal() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "docker swarm init").await.ok();
    let value = "it's a $(reboot) `x` \"test\" & more";
    let line = format!(
        "docker node update --label-add {} node1",
        quote(&format!("note={value}"))
    );
    assert_eq!(lab.sh("node1", &line).await.ok(), "node1\n");
    let labels = lab
        .sh(
            "node1",
            "docker node inspect self --format '{{json .Spec.Labels}}'",
        )
        .await
        .json();
    assert_eq!(labels["note"], value);

    let inner = format!(
        "docker node update --label-add {} node1",
        quote(&format!("other={value}"))
    );
    let sudo = format!("sudo -n sh -c {}", quote(&inner));
    assert_eq!(lab.sh("node1", &sudo).await.ok(), "node1\n");
    let snapshot = lab.sim.snapshot();
    let node = snapshot
        .host("node1")
        .and_then(|host| host.node.clone())
        .expect("node1 is a member");
    assert_eq!(node.labels["other"], value);
    assert_eq!(lab.sim.commands("node1").last(), Some(&sudo));
}

// Files: sudo sh -c with stdin writes through a temporary file, chmod, chown and mv; a line is
// appended once with grep || printf; test, cat and uname answer like coreutils.
#[tokio::test]
async fn files_and_sudo() {
    let mut lab = Lab::with_hosts(1).await;
    let json = "{\"insecure-registries\": [\"registry.lab:5000\"]}\n";
    let write = "sudo -n sh -c 'mkdir -p /etc/docker && cat > /etc/docker/daemon.json.tmp && chmod 0600 /etc/docker/daemon.json.tmp && chown root:root /etc/docker/daemon.json.tmp && mv -f /etc/docker/daemon.json.tmp /etc/docker/daemon.json'";
    assert_eq!(lab.sh_in("node1", write, json).await.ok(), "");
    let snapshot = lab.sim.snapshot();
    let file = snapshot
        .host("node1")
        .expect("as set up")
        .file("/etc/docker/daemon.json")
        .expect("as set up");
    assert_eq!(
        (file.text(), file.mode, file.owner.as_str()),
        (json.to_owned(), 0o600, "root")
    );
    assert!(
        snapshot
            .host("node1")
            .expect("as set up")
            .file("/etc/docker/daemon.json.tmp")
            .is_none()
    );
    assert_eq!(
        lab.sh("node1", "cat /etc/docker/daemon.json").await.ok(),
        json
    );

    let upload = "mkdir -p /etc/docker && umask 077 && cat > /etc/docker/ca.pem.swarmform-tmp && chmod 0640 /etc/docker/ca.pem.swarmform-tmp && chown 'root:docker' /etc/docker/ca.pem.swarmform-tmp && mv -f /etc/docker/ca.pem.swarmform-tmp /etc/docker/ca.pem";
    lab.sh_in("node1", upload, "pem").await.ok();
    lab.sh_in("node1", "umask 077 && cat > /root/private", "key")
        .await
        .ok();
    // Several files: `tar -x -z` unpacks a gzipped staging folder with the archive's modes and owner 0
    // (a missing parent made as `mkdir -p` would, a stale file replaced), then `mv` and `rm`.
    let mut archive = tar::Builder::new(Vec::new());
    let mut entry = |path: &str, kind: tar::EntryType, mode: u32, content: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(content.len() as u64);
        header.set_uid(0);
        header.set_gid(0);
        archive
            .append_data(&mut header, path, content)
            .expect("an entry");
    };
    entry(
        "etc/new/.swarmform-tmp",
        tar::EntryType::Directory,
        0o700,
        b"",
    );
    entry(
        "etc/new/.swarmform-tmp/key.pem",
        tar::EntryType::Regular,
        0o600,
        b"KEY",
    );
    entry(
        "etc/new/.swarmform-tmp/a.json",
        tar::EntryType::Regular,
        0o644,
        b"{}",
    );
    let plain = archive.into_inner().expect("an archive");
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzipped, &plain).expect("gzipped");
    let archive = gzipped.finish().expect("gzipped");
    lab.sh_in("node1", "mkdir -p /etc/new/.swarmform-tmp && echo stale > /etc/new/.swarmform-tmp/a.json && echo old > /etc/new/key.pem", "")
        .await
        .ok();
    // As GNU tar's gzip child refuses a plain archive.
    lab.sh_bytes("node1", "tar -x -z -f - -C /", &plain)
        .await
        .fails(
            2,
            "\ngzip: stdin: not in gzip format\ntar: Child returned status 1\ntar: Error is not recoverable: exiting now\n",
        );
    let unpack = "tar -x -z -p -m --same-owner --numeric-owner -C / -f - && mv -f /etc/new/.swarmform-tmp/key.pem /etc/new/.swarmform-tmp/a.json /etc/new && rm -rf /etc/new/.swarmform-tmp";
    lab.sh_bytes("node1", unpack, &archive).await.ok();
    assert_eq!(
        lab.sh(
            "node1",
            "cat /etc/new/key.pem /etc/new/a.json; ls /etc/new; test -e /etc/new/.swarmform-tmp || echo staged-folder-gone"
        )
        .await
        .ok(),
        "KEY{}a.json\nkey.pem\nstaged-folder-gone\n"
    );
    lab.sh_bytes("node1", "tar -x -f - -C /etc/none", &plain)
        .await
        .fails(
            2,
            "tar: /etc/none: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n",
        );
    let snapshot = lab.sim.snapshot();
    let host = snapshot.host("node1").expect("node1");
    let key = host.file("/etc/new/key.pem").expect("unpacked");
    assert_eq!((key.mode, key.owner.as_str()), (0o600, "root"));
    let ca = host.file("/etc/docker/ca.pem").expect("uploaded");
    assert_eq!(
        (ca.mode, ca.owner.as_str(), ca.group.as_str()),
        (0o640, "root", "docker")
    );
    assert_eq!(
        host.file("/root/private").map(|file| file.mode),
        Some(0o600)
    );

    lab.sh("node1", "sudo -n systemctl restart docker")
        .await
        .ok();
    let configs = lab
        .sh(
            "node1",
            "docker info --format '{{json .RegistryConfig.IndexConfigs}}'",
        )
        .await
        .json();
    assert_eq!(configs["registry.lab:5000"]["Secure"], false);

    let line = "10.0.0.5 registry.lab";
    let append = format!(
        "grep -qxF -- {0} /etc/hosts || printf '%s\\n' {0} >> /etc/hosts",
        quote(line)
    );
    lab.sh("node1", &append).await.ok();
    lab.sh("node1", &append).await.ok();
    let hosts = lab.sh("node1", "cat /etc/hosts").await.ok().to_owned();
    assert_eq!(hosts.matches(line).count(), 1, "{hosts}");
    assert!(hosts.ends_with("10.0.0.5 registry.lab\n"));

    assert_eq!(
        lab.sh("node1", "test -e /etc/docker/daemon.json")
            .await
            .status,
        Some(0)
    );
    assert_eq!(lab.sh("node1", "test -e /nope").await.status, Some(1));
    assert_eq!(lab.sh("node1", "uname -m").await.ok(), "x86_64\n");
    assert!(
        lab.sh("node1", "cat /etc/os-release")
            .await
            .ok()
            .contains("Debian GNU/Linux 12 (bookworm)")
    );
    lab.sh("node1", "cat /nope")
        .await
        .fails(1, "cat: /nope: No such file or directory\n");
    lab.sh("node1", "true && false || echo fallback; echo done")
        .await
        .ok();
    assert_eq!(
        lab.sh("node1", "true && false || echo fallback; echo done")
            .await
            .stdout,
        "fallback\ndone\n"
    );
    lab.sh_in("node1", "cat", "echoed").await;
    assert_eq!(lab.sh_in("node1", "cat", "echoed").await.ok(), "echoed");
    // `head -c N` reads exactly N bytes of a pipe: the next reader goes on from there.
    assert_eq!(
        lab.sh_in(
            "node1",
            "head -c 3 > /tmp/a && head -c 3 > /tmp/b && cat /tmp/b /tmp/a && cat",
            "onetwothree"
        )
        .await
        .ok(),
        "twoonethree"
    );
    lab.sh("node1", "cat > /nope/file")
        .await
        .fails(1, "bash: line 1: /nope/file: No such file or directory\n");
    lab.sh("node1", "sh -c 'cat > /nope/file'").await.fails(
        2,
        "sh: 1: cannot create /nope/file: Directory nonexistent\n",
    );

    // An invalid daemon.json keeps dockerd from starting.
    lab.sh_in("node1", "cat > /etc/docker/daemon.json", "{nope")
        .await
        .ok();
    let restart = lab.sh("node1", "systemctl restart docker").await;
    assert_eq!(restart.status, Some(1));
    assert!(
        restart.stderr.starts_with("Job for docker.service failed"),
        "{restart:?}"
    );
    lab.sh("node1", "docker info --format '{{json .Swarm}}'").await.fails(
        1,
        "template: :1:7: executing \"\" at <.Swarm>: nil pointer evaluating *types.Info.Swarm\n",
    );
    lab.sh("node1", "docker info --format '{{json .ServerVersion}}'").await.fails(
        1,
        "template: :1:7: executing \"\" at <.ServerVersion>: nil pointer evaluating *types.Info.ServerVersion\n",
    );
    lab.sh("node1", "docker version --format '{{json .Server.Version}}'").await.fails(
        1,
        "template: :1:7: executing \"\" at <.Server.Version>: nil pointer evaluating *types.Version.Version\n",
    );
    lab.sh("node1", "docker node ls").await.fails(
        1,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
    );
    let active = lab.sh("node1", "systemctl is-active docker").await;
    assert_eq!(
        (active.stdout.as_str(), active.status),
        ("inactive\n", Some(3))
    );
}

// Unknown programs exit 127 with bash's message at the top level and dash's under sh -c.
#[tokio::test]
async fn unknown_programs() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "frobnicate --now")
        .await
        .fails(127, "bash: line 1: frobnicate: command not found\n");
    lab.sh("node1", "sudo -n sh -c 'frobnicate --now'")
        .await
        .fails(127, "sh: 1: frobnicate: not found\n");
    lab.sh("node1", "echo 'unterminated").await.fails(
        2,
        "bash: -c: line 1: unexpected EOF while looking for matching `''\n",
    );
}

// Without docker, `docker` is not found and `command -v` fails; apt-get install makes it work.
#[tokio::test]
async fn docker_installation() {
    let mut lab = Lab::start(vec![SimHostSpec::new("node1").without_docker()]).await;
    lab.sh("node1", "docker version --format '{{json .}}'")
        .await
        .fails(127, "bash: line 1: docker: command not found\n");
    lab.sh("node1", "sudo -n sh -c 'docker info'")
        .await
        .fails(127, "sh: 1: docker: not found\n");
    assert_eq!(lab.sh("node1", "command -v docker").await.status, Some(1));
    let install = lab
        .sh(
            "node1",
            "sudo -n sh -c 'apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io'",
        )
        .await;
    assert!(
        install
            .ok()
            .contains("Setting up docker.io (20.10.24+dfsg1-1+b3) ...")
    );
    assert_eq!(
        lab.sh("node1", "command -v docker").await.ok(),
        "/usr/bin/docker\n"
    );
    let version = lab
        .sh("node1", "docker version --format '{{json .}}'")
        .await
        .json();
    assert_eq!(version["Server"]["Version"], "20.10.24+dfsg1");
    assert_eq!(version["Client"]["Version"], "20.10.24+dfsg1");
    assert_eq!(
        lab.sh("node1", "systemctl is-active docker").await.ok(),
        "active\n"
    );
    let info = lab
        .sh("node1", "docker info --format '{{json .}}'")
        .await
        .json();
    assert_eq!(info["ServerVersion"], "20.10.24+dfsg1");
    assert_eq!(info["Name"], "node1");
    assert_eq!(info["OperatingSystem"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(info["Architecture"], "x86_64");
    let snapshot = lab.sim.snapshot();
    assert!(snapshot.host("node1").expect("as set up").docker_installed);

    lab.sh("node1", "systemctl stop docker").await.ok();
    lab.sh("node1", "docker swarm init").await.fails(
        1,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
    );
}

// A refused key fails authentication until the fault is cleared.
#[tokio::test]
async fn fault_refuse_auth() {
    let lab = Lab::with_hosts(1).await;
    lab.sim.refuse_auth("node1", true);
    assert!(matches!(
        connect(&lab.sim, "node1").await,
        Err(ConnectError::Auth)
    ));
    lab.sim.refuse_auth("node1", false);
    assert!(connect(&lab.sim, "node1").await.is_ok());
}

// A changed host key drops open connections and the client's known_hosts check reports it.
#[tokio::test]
async fn fault_change_host_key() {
    let mut lab = Lab::with_hosts(2).await;
    let before = lab.sim.hosts()[0].host_key_fingerprint.clone();
    assert!(before.starts_with("SHA256:"));
    lab.sh("node1", "true").await.ok();
    lab.sim.change_host_key("node1").await;
    assert_ne!(lab.sim.hosts()[0].host_key_fingerprint, before);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let old = lab.connections.remove("node1").expect("as set up");
    if let Ok(execution) = old.try_exec("true", None).await {
        assert_eq!(execution.status, None, "the old connection is gone");
    }
    assert!(matches!(
        connect(&lab.sim, "node1").await,
        Err(ConnectError::HostKey(KeyCheck::Changed))
    ));
    lab.sh("node2", "true").await.ok();
}

// A failure rule answers with its status and stderr without any effect, until cleared.
#[tokio::test]
async fn fault_fail() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "docker swarm init").await.ok();
    lab.sim.fail(
        "node1",
        "network create",
        1,
        "Error response from daemon: boom\n",
    );
    lab.sh("node1", "docker network create --driver overlay x")
        .await
        .fails(1, "Error response from daemon: boom\n");
    assert!(
        lab.sim
            .snapshot()
            .swarm()
            .expect("as set up")
            .network("x")
            .is_none()
    );
    lab.sh("node1", "docker network create --driver overlay x")
        .await
        .fails(1, "Error response from daemon: boom\n");
    lab.sim.clear_faults("node1");
    lab.sh("node1", "docker network create --driver overlay x")
        .await
        .ok();
}

// A dropped connection closes the channel with no exit status, after the command took effect.
#[tokio::test]
async fn fault_drop_connection() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "docker swarm init").await.ok();
    lab.sim.drop_connection("node1", "network create");
    let dropped = lab
        .connection("node1")
        .await
        .try_exec("docker network create --driver overlay x", None)
        .await;
    if let Ok(execution) = dropped {
        assert_eq!(execution.status, None, "{execution:?}");
    }
    lab.connections.clear();
    assert!(
        lab.sim
            .snapshot()
            .swarm()
            .expect("as set up")
            .network("x")
            .is_some()
    );
    lab.sh("node1", "docker network create --driver overlay y")
        .await
        .ok();
}

// A delay holds every answer back; wait_for_command sees commands as they arrive.
#[tokio::test]
async fn fault_delay_and_wait_for_command() {
    let mut lab = Lab::with_hosts(1).await;
    lab.sh("node1", "true").await.ok();
    lab.sim.delay("node1", Duration::from_millis(300));
    let started = Instant::now();
    lab.sh("node1", "true").await.ok();
    assert!(started.elapsed() >= Duration::from_millis(300));
    lab.sim.clear_faults("node1");

    assert!(
        !lab.sim
            .wait_for_command("node1", "docker info", Duration::from_millis(100))
            .await
    );
    let sim = lab.sim.clone();
    let waiter = tokio::spawn(async move {
        sim.wait_for_command("node1", "docker info", Duration::from_secs(10))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    lab.sh("node1", "docker info --format '{{json .Swarm}}'")
        .await
        .ok();
    assert!(waiter.await.expect("as set up"));
    assert_eq!(lab.sim.commands("node1").len(), 3);
}

// 1,000 hosts start quickly (the time is printed, not asserted) and the last one answers.
#[tokio::test]
async fn thousand_hosts_start_quickly() {
    let dir = tempfile::tempdir().expect("as set up");
    let started = Instant::now();
    let sim = Sim::start(SimOptions::with_hosts(1000), dir.path())
        .await
        .expect("as set up");
    let elapsed = started.elapsed();
    println!("1000 simulated hosts started in {elapsed:?}");
    let hosts = sim.hosts();
    assert_eq!(hosts.len(), 1000);
    assert_eq!(hosts[999].address.to_string(), "127.0.4.232");
    let known_hosts = std::fs::read_to_string(sim.known_hosts_file()).expect("as set up");
    assert_eq!(known_hosts.lines().count(), 1000);
    let connection = connect(&sim, "node1000").await.expect("connects");
    assert_eq!(connection.exec("hostname", None).await.ok(), "node1000\n");
    let toml = sim.config_hosts_toml(3);
    assert!(toml.contains("[hosts.node3]\naddress = \"127.0.1.3\"\nrole = \"manager\"\n"));
    assert!(toml.contains("[hosts.node4]\naddress = \"127.0.1.4\"\nrole = \"worker\"\n"));
    sim.stop().await;
}

// OpenSSH's own client accepts the written key and known_hosts (skipped without `ssh`).
#[tokio::test]
async fn openssh_client_accepts_key_and_known_hosts() {
    if std::process::Command::new("ssh")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("skipped: OpenSSH's ssh is not installed");
        return;
    }
    let lab = Lab::with_hosts(2).await;
    let host = &lab.sim.hosts()[1];
    let output = tokio::process::Command::new("ssh")
        .arg("-F")
        .arg("/dev/null")
        .arg("-i")
        .arg(lab.sim.identity_file())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            lab.sim.known_hosts_file().display()
        ))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            "-p",
        ])
        .arg(host.port.to_string())
        .arg(format!("root@{}", host.address))
        .arg("docker info --format '{{json .Swarm}}'")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("ssh runs");
    assert!(output.status.success(), "{output:?}");
    let swarm: Value = serde_json::from_slice(&output.stdout).expect("as set up");
    assert_eq!(swarm["LocalNodeState"], "inactive");
}

// `ip -j addr show` lists loopback, the host's address (marked `dynamic` with a finite
// lifetime when it is a DHCP lease) and docker0; unknown objects get iproute2's message.
#[tokio::test]
async fn ip_addr_show_lists_the_hosts_addresses() {
    let mut lab = Lab::start(vec![
        SimHostSpec::new("node1"),
        SimHostSpec::new("node2").dynamic_address().without_docker(),
    ])
    .await;
    let interfaces = lab.sh("node1", "ip -j addr show").await.json();
    let names: Vec<&str> = interfaces
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|interface| interface["ifname"].as_str())
        .collect();
    assert_eq!(names, ["lo", "eth0", "docker0"]);
    let own = &interfaces[1]["addr_info"][0];
    assert_eq!(own["local"], lab.address("node1").as_str());
    assert_eq!(own["scope"], "global");
    assert_eq!(own.get("dynamic"), None);
    assert_eq!(own["valid_life_time"], u32::MAX);

    let interfaces = lab.sh("node2", "ip -j addr show").await.json();
    assert_eq!(interfaces.as_array().map(Vec::len), Some(2));
    let lease = &interfaces[1]["addr_info"][0];
    assert_eq!(lease["dynamic"], true);
    assert_ne!(lease["valid_life_time"], u32::MAX);
    let text = lab.sh("node2", "ip addr").await;
    assert!(
        text.ok()
            .contains(&format!("    inet {}/24 brd ", lab.address("node2"))),
        "{text:#?}"
    );
    assert!(
        text.ok().contains(" scope global dynamic eth0\n"),
        "{text:#?}"
    );
    lab.sh("node1", "ip rule-that-does-not-exist").await.fails(
        255,
        "Object \"rule-that-does-not-exist\" is unknown, try \"ip help\".\n",
    );
}

// Per-host overrides: the hostname (hostname, docker info, the swarm node) and the Docker
// version; hosts can start in a swarm, built by the simulated CLI itself.
#[tokio::test]
async fn hosts_take_overrides_and_can_start_in_a_swarm() {
    use super::SimRole;
    let mut lab = Lab::start(vec![
        SimHostSpec::new("node1")
            .hostname("web")
            .docker_version("24.0.5")
            .in_swarm("old", SimRole::Manager),
        SimHostSpec::new("node2").in_swarm("old", SimRole::Worker),
        SimHostSpec::new("node3"),
    ])
    .await;
    assert_eq!(lab.sh("node1", "hostname").await.ok(), "web\n");
    let info = lab
        .sh("node1", "docker info --format '{{json .}}'")
        .await
        .json();
    assert_eq!(info["Name"], "web");
    assert_eq!(info["ServerVersion"], "24.0.5");
    assert_eq!(info["Swarm"]["LocalNodeState"], "active");
    assert_eq!(info["Swarm"]["ControlAvailable"], true);
    let worker = lab
        .sh("node2", "docker info --format '{{json .Swarm}}'")
        .await
        .json();
    assert_eq!(worker["LocalNodeState"], "active");
    assert_eq!(worker["ControlAvailable"], false);
    let hostnames: Vec<String> = lab
        .sh("node1", "docker node ls --format '{{json .Hostname}}'")
        .await
        .json_lines()
        .into_iter()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    assert_eq!(hostnames, ["node2", "web"]);
    let alone = lab
        .sh(
            "node3",
            "docker info --format '{{json .Swarm.LocalNodeState}}'",
        )
        .await
        .json();
    assert_eq!(alone, "inactive");
    // Setting the swarm up is not a command the host received.
    assert_eq!(
        lab.sim.commands("node1").len(),
        3,
        "{:#?}",
        lab.sim.commands("node1")
    );
}

// Each Docker version answers as its real nodes did (`swarmform lab up --docker 28 --docker
// lab-manager2=26 --docker lab-manager3=20`, one single-node swarm each, 2026-12-04): the
// stack deploy's `--detach` flag and warning, a compose file without `version`, `stack ls`'s
// fields, how a missing node, secret, service, network or image is reported, inspect's
// `Status: …, Code: 1` wrapper, the `IPv4` field of `network ls` and each node's engine version.
#[tokio::test]
async fn each_docker_version_answers_as_its_real_nodes_did() {
    let mut lab = Lab::start(vec![
        SimHostSpec::new("node1").docker_version("20.10.24+dfsg1"),
        SimHostSpec::new("node2").docker_version("26.1.5+dfsg1"),
        SimHostSpec::new("node3").docker_version("28.5.2+dfsg4"),
    ])
    .await;
    for host in ["node1", "node2", "node3"] {
        lab.swarm(&[host], "worker").await;
    }
    const DETACH: &str = "Since --detach=false was not specified, tasks will be created in the background.\nIn a future release, --detach=false will become the default.\n";
    let unversioned =
        "services:\n  web:\n    image: local/busybox:1\n    command: [\"sleep\",\"1000\"]\n";
    lab.sh_in(
        "node1",
        "docker stack deploy --compose-file - st",
        unversioned,
    )
    .await
    .fails(1, "unsupported Compose file version: 1.0\n");
    for host in ["node2", "node3"] {
        let deployed = lab
            .sh_in(host, "docker stack deploy --compose-file - st", unversioned)
            .await;
        assert_eq!(
            (deployed.status, deployed.stderr.as_str()),
            (Some(0), DETACH),
            "{host}"
        );
        assert_eq!(
            deployed.stdout, "Creating network st_default\nCreating service st_web\n",
            "{host}"
        );
        let detached = lab
            .sh_in(
                host,
                "docker stack deploy --detach=true --compose-file - st",
                unversioned,
            )
            .await;
        assert_eq!(detached.status, Some(0), "{host}: {detached:#?}");
        assert!(
            !detached.stderr.contains("--detach"),
            "{host}: {detached:#?}"
        );
    }
    lab.sh_in(
        "node1",
        "docker stack deploy --detach=true --compose-file - st",
        unversioned,
    )
    .await
    .fails(
        125,
        "unknown flag: --detach\nSee 'docker stack deploy --help'.\n",
    );
    let versioned = format!("version: \"3.8\"\n{unversioned}");
    lab.sh_in(
        "node1",
        "docker stack deploy --compose-file - st",
        &versioned,
    )
    .await
    .ok();

    let ls = "docker stack ls --format '{{json .}}'";
    assert_eq!(
        lab.sh("node1", ls).await.ok(),
        "{\"Name\":\"st\",\"Namespace\":\"\",\"Orchestrator\":\"Swarm\",\"Services\":\"1\"}\n"
    );
    assert_eq!(
        lab.sh("node3", ls).await.ok(),
        "{\"Name\":\"st\",\"Services\":\"1\"}\n"
    );

    for (host, messages) in [
        (
            "node1",
            [
                "Error: No such node: nosuchnode\n",
                "Status: Error: No such node: nosuchnode, Code: 1\n",
                "Status: Error: no such service: nosuch, Code: 1\n",
                "Status: Error: No such secret: nos, Code: 1\n",
                "Error: No such secret: nos\n",
                "Error: No such service: nosvc\n",
                "Error: No such network: nonet\n",
                "Error: No such network: nonet\n",
                "Error: No such image: nope:1\n",
            ],
        ),
        (
            "node2",
            [
                "Error response from daemon: node nosuchnode not found\n",
                "Status: Error response from daemon: node nosuchnode not found, Code: 1\n",
                "Status: Error: no such service: nosuch, Code: 1\n",
                "Status: Error response from daemon: secret nos not found, Code: 1\n",
                "Error response from daemon: secret nos not found\n",
                "Error response from daemon: service nosvc not found\n",
                "Error response from daemon: network nonet not found\n",
                "Error response from daemon: network nonet not found\n",
                "Error response from daemon: No such image: nope:1\n",
            ],
        ),
        (
            "node3",
            [
                "Error response from daemon: node nosuchnode not found\n",
                "Error response from daemon: node nosuchnode not found\n",
                "Error: no such service: nosuch\n",
                "Error response from daemon: secret nos not found\n",
                "Error response from daemon: secret nos not found\n",
                "Error response from daemon: service nosvc not found\n",
                "Error response from daemon: network nonet not found\n",
                "Error response from daemon: network nonet not found\nexit status 1\n",
                "Error response from daemon: No such image: nope:1\n",
            ],
        ),
    ] {
        for (command, message) in [
            "docker node rm nosuchnode",
            "docker node inspect nosuchnode",
            "docker service inspect nosuch",
            "docker secret inspect nos",
            "docker secret rm nos",
            "docker service rm nosvc",
            "docker network inspect nonet",
            "docker network rm nonet",
            "docker image inspect nope:1",
        ]
        .into_iter()
        .zip(messages)
        {
            let out = lab.sh(host, command).await;
            assert_eq!(
                (out.status, out.stderr.as_str()),
                (Some(1), message),
                "{host}: {command}"
            );
        }
    }

    for (host, version, ipv4) in [
        ("node1", "20.10.24+dfsg1", false),
        ("node2", "26.1.5+dfsg1", false),
        ("node3", "28.5.2+dfsg4", true),
    ] {
        let nodes = lab
            .sh(host, "docker node ls --format '{{json .}}'")
            .await
            .json_lines();
        assert_eq!(nodes[0]["EngineVersion"], version, "{host}");
        let networks = lab
            .sh(
                host,
                "docker network ls --filter driver=overlay --format '{{json .}}'",
            )
            .await
            .json_lines();
        assert_eq!(
            networks[0].get("IPv4").is_some(),
            ipv4,
            "{host}: {networks:?}"
        );
    }

    // dockerd down: 20.10's template fails on the server's nil half; 26 formats zero values
    // and exits 0; 28 formats them and exits 1; the daemon's error on stderr either way.
    const DOWN: &str = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";
    const EMPTY_SWARM: &str = "{\"NodeID\":\"\",\"NodeAddr\":\"\",\"LocalNodeState\":\"\",\"ControlAvailable\":false,\"Error\":\"\",\"RemoteManagers\":null}\n";
    for host in ["node1", "node2", "node3"] {
        lab.sh(host, "systemctl stop docker").await.ok();
    }
    let version = "docker info --format '{{json .ServerVersion}}'";
    let swarm = "docker info --format '{{json .Swarm}}'";
    lab.sh("node1", version).await.fails(
        1,
        "template: :1:7: executing \"\" at <.ServerVersion>: nil pointer evaluating *types.Info.ServerVersion\n",
    );
    for (host, status) in [("node2", 0), ("node3", 1)] {
        let out = lab.sh(host, version).await;
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (Some(status), "\"\"\n", DOWN),
            "{host}"
        );
        let out = lab.sh(host, swarm).await;
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (Some(status), EMPTY_SWARM),
            "{host}"
        );
        let all = lab.sh(host, "docker info --format '{{json .}}'").await;
        let all: Value = serde_json::from_str(all.stdout.trim()).expect("JSON");
        assert_eq!(all["ServerVersion"], "", "{host}");
        assert_eq!(all.get("ServerErrors").is_some(), status == 0, "{host}");
    }
}
