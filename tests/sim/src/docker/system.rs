//! `docker version`, `docker info`, `docker login` and `docker logout`.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::flags::Flags;
use super::format::{ctime, print_one, print_one_partial, rfc3339};
use super::node::tls_info;
use super::objects::base64;
use super::swarm::{Role, TaskState, go_duration_string};
use super::version::InfoWhenDown;
use super::{Ctx, DAEMON_DOWN, NO_LEADER};
use crate::exec::Output;
use crate::fs::Fs;
use crate::world::{Host, World};

const API_VERSION: &str = "1.41";
const DEFAULT_REGISTRY: &str = "https://index.docker.io/v1/";

fn build_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_684_399_114)
}

fn go_arch(host: &Host) -> &'static str {
    if host.arch == "aarch64" {
        "arm64"
    } else {
        "amd64"
    }
}

fn kernel(host: &Host) -> &'static str {
    if host.arch == "aarch64" {
        "6.1.0-18-arm64"
    } else {
        "6.1.0-18-amd64"
    }
}

fn client_json(host: &Host) -> Value {
    json!({
        "Platform": {"Name": ""},
        "Version": host.docker_version,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "297e128",
        "GoVersion": "go1.19.8",
        "Os": "linux",
        "Arch": go_arch(host),
        "BuildTime": ctime(build_time()),
        "Context": "default",
        "Experimental": true,
    })
}

fn server_json(host: &Host) -> Value {
    json!({
        "Platform": {"Name": ""},
        "Components": [
            {"Name": "Engine", "Version": host.docker_version, "Details": {
                "ApiVersion": API_VERSION,
                "Arch": go_arch(host),
                "BuildTime": ctime(build_time()),
                "Experimental": "false",
                "GitCommit": "5d6db84",
                "GoVersion": "go1.19.8",
                "KernelVersion": kernel(host),
                "MinAPIVersion": "1.12",
                "Os": "linux",
            }},
            {"Name": "containerd", "Version": "1.6.20~ds1", "Details": {"GitCommit": "1.6.20~ds1-1+b1"}},
            {"Name": "runc", "Version": "1.1.5+ds1", "Details": {"GitCommit": "1.1.5+ds1-1+deb12u1"}},
            {"Name": "docker-init", "Version": "0.19.0", "Details": {"GitCommit": ""}},
        ],
        "Version": host.docker_version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": "1.12",
        "GitCommit": "5d6db84",
        "GoVersion": "go1.19.8",
        "Os": "linux",
        "Arch": go_arch(host),
        "KernelVersion": kernel(host),
        "BuildTime": "2023-05-18T08:38:34.000000000+00:00",
    })
}

pub(crate) fn version(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let flags = match Flags::parse("docker version", &["format,f=", "kubeconfig="], args, true) {
        Ok(flags) => flags,
        Err(output) => return output,
    };
    let host = &ctx.world.hosts[ctx.host];
    let running = host.dockerd_running;
    let value = json!({
        "Client": client_json(host),
        "Server": if running { server_json(host) } else { Value::Null },
    });
    if !running
        && let Some(format) = flags.value("format")
        && let Some(start) = format.find(".Server.")
    {
        // Go cannot evaluate a field of the nil server half.
        let path: String = format[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        let field = path.split('.').nth(2).unwrap_or("");
        return Output::error(
            format!(
                "template: :1:{start}: executing \"\" at <{path}>: nil pointer evaluating *types.Version.{field}"
            ),
            1,
        );
    }
    let mut out = match flags.value("format") {
        Some(format) => match print_one(&value, format) {
            Ok(text) => Output::ok(text),
            Err(error) => return Output::error(error, 1),
        },
        None => {
            let mut text = format!(
                "Client:\n Version:           {}\n API version:       {API_VERSION}\n Go version:        go1.19.8\n Git commit:        297e128\n Built:             {}\n OS/Arch:           linux/{}\n Context:           default\n Experimental:      true\n",
                host.docker_version,
                ctime(build_time()),
                go_arch(host)
            );
            if running {
                text.push_str(&format!(
                    "\nServer:\n Engine:\n  Version:          {}\n  API version:      {API_VERSION} (minimum version 1.12)\n  Go version:       go1.19.8\n  Git commit:       5d6db84\n  Built:            {}\n  OS/Arch:          linux/{}\n  Experimental:     false\n containerd:\n  Version:          1.6.20~ds1\n  GitCommit:        1.6.20~ds1-1+b1\n runc:\n  Version:          1.1.5+ds1\n  GitCommit:        1.1.5+ds1-1+deb12u1\n docker-init:\n  Version:          0.19.0\n  GitCommit:        \n",
                    host.docker_version,
                    ctime(build_time()),
                    go_arch(host)
                ));
            }
            Output::ok(text)
        }
    };
    if !running {
        out = out.with_stderr(format!("{DAEMON_DOWN}\n"));
        out.status = 1;
    }
    out
}

fn os_release_field(fs: &Fs, key: &str) -> String {
    let Ok(file) = fs.read("/etc/os-release") else {
        return String::new();
    };
    String::from_utf8_lossy(&file.content)
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .map(|value| value.trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// The `Swarm` section of `docker info`.
pub(crate) fn swarm_json(world: &World, host: usize) -> Value {
    let inactive = json!({
        "NodeID": "",
        "NodeAddr": "",
        "LocalNodeState": "inactive",
        "ControlAvailable": false,
        "Error": "",
        "RemoteManagers": null,
    });
    let Some(member) = &world.hosts[host].swarm else {
        return inactive;
    };
    if member
        .settles_at
        .is_some_and(|settles| settles > std::time::Instant::now())
    {
        return json!({
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "pending",
            "ControlAvailable": false,
            "Error": "",
            "RemoteManagers": null,
        });
    }
    if member.locked {
        return json!({
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "locked",
            "ControlAvailable": false,
            "Error": "",
            "RemoteManagers": null,
        });
    }
    let Some(cluster) = world.clusters.get(&member.cluster) else {
        return inactive;
    };
    let Some(node) = cluster.node(&member.node) else {
        return inactive;
    };
    let manager = node.role == Role::Manager;
    let remote: Vec<Value> = cluster
        .nodes
        .iter()
        .filter(|node| node.role == Role::Manager && node.ready)
        .map(|node| json!({"NodeID": node.id, "Addr": node.manager_addr()}))
        .collect();
    let mut object = serde_json::Map::new();
    object.insert("NodeID".to_owned(), json!(node.id));
    object.insert("NodeAddr".to_owned(), json!(node.addr));
    object.insert("LocalNodeState".to_owned(), json!("active"));
    object.insert("ControlAvailable".to_owned(), json!(manager));
    let error = if manager && cluster.leader.is_none() {
        NO_LEADER
            .strip_prefix("Error response from daemon: ")
            .unwrap_or(NO_LEADER)
    } else {
        ""
    };
    object.insert("Error".to_owned(), json!(error));
    object.insert(
        "RemoteManagers".to_owned(),
        if remote.is_empty() {
            Value::Null
        } else {
            Value::Array(remote)
        },
    );
    if manager && cluster.leader.is_some() {
        let (_, managers) = cluster.managers();
        object.insert("Nodes".to_owned(), json!(cluster.nodes.len()));
        object.insert("Managers".to_owned(), json!(managers));
        let settings = &cluster.settings;
        object.insert(
            "Cluster".to_owned(),
            json!({
                "ID": cluster.id,
                "Version": {"Index": cluster.version},
                "CreatedAt": rfc3339(cluster.created),
                "UpdatedAt": rfc3339(cluster.updated),
                "Spec": {
                    "Name": "default",
                    "Labels": {},
                    "Orchestration": {"TaskHistoryRetentionLimit": settings.task_history_limit},
                    "Raft": {
                        "SnapshotInterval": settings.snapshot_interval,
                        "KeepOldSnapshots": settings.max_snapshots,
                        "LogEntriesForSlowFollowers": 500,
                        "ElectionTick": 10,
                        "HeartbeatTick": 1,
                    },
                    "Dispatcher": {"HeartbeatPeriod": settings.dispatcher_heartbeat},
                    "CAConfig": {"NodeCertExpiry": settings.cert_expiry},
                    "TaskDefaults": {},
                    "EncryptionConfig": {"AutoLockManagers": settings.autolock},
                },
                "TLSInfo": tls_info(cluster),
                "RootRotationInProgress": false,
                "DefaultAddrPool": settings.default_addr_pool,
                "SubnetSize": settings.subnet_size,
                "DataPathPort": settings.data_path_port,
            }),
        );
        if managers == 2 {
            object.insert("Warnings".to_owned(), json!([TWO_MANAGERS]));
        }
    } else if manager {
        // Without a leader the daemon cannot inspect the cluster: an empty one is reported.
        object.insert(
            "Cluster".to_owned(),
            json!({
                "ID": "",
                "Version": {},
                "CreatedAt": "0001-01-01T00:00:00Z",
                "UpdatedAt": "0001-01-01T00:00:00Z",
                "Spec": {
                    "Labels": null,
                    "Orchestration": {},
                    "Raft": {"ElectionTick": 0, "HeartbeatTick": 0},
                    "Dispatcher": {},
                    "CAConfig": {},
                    "TaskDefaults": {},
                    "EncryptionConfig": {"AutoLockManagers": false},
                },
                "TLSInfo": {},
                "RootRotationInProgress": false,
                "DefaultAddrPool": null,
                "SubnetSize": 0,
                "DataPathPort": 0,
            }),
        );
    }
    Value::Object(object)
}

const TWO_MANAGERS: &str = "WARNING: Running Swarm in a two-manager configuration. This configuration provides\n         no fault tolerance, and poses a high risk to lose control over the cluster.\n         Refer to https://docs.docker.com/engine/swarm/admin_guide/ to configure the\n         Swarm for fault-tolerance.";

fn engine_id(host: &Host) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(format!("{}:{}", host.name, host.address).as_bytes());
    let chars: Vec<char> = digest
        .iter()
        .take(48)
        .map(|byte| ALPHABET[(*byte % 32) as usize] as char)
        .collect();
    let mut groups = Vec::new();
    for chunk in chars.chunks(4).take(8) {
        groups.push(chunk.iter().collect::<String>());
    }
    // 32 bytes of digest give 8 groups; the real ID has 12, so repeat the pattern.
    let more: Vec<String> = groups
        .iter()
        .take(4)
        .map(|g| g.chars().rev().collect())
        .collect();
    groups.extend(more);
    groups.join(":")
}

fn info_json(world: &World, index: usize) -> Value {
    let host = &world.hosts[index];
    let config = &host.daemon_config;
    let (containers, images) = match &host.swarm {
        Some(member) => world
            .clusters
            .get(&member.cluster)
            .map(|cluster| {
                let tasks: Vec<_> = cluster
                    .tasks
                    .iter()
                    .filter(|task| {
                        task.node.as_deref() == Some(member.node.as_str())
                            && task.desired_running
                            && task.state == TaskState::Running
                    })
                    .collect();
                let images: HashSet<&str> = tasks.iter().map(|task| task.image.as_str()).collect();
                (tasks.len(), images.len())
            })
            .unwrap_or((0, 0)),
        None => (0, 0),
    };
    let mut insecure_cidrs = vec![json!("127.0.0.0/8")];
    let mirrors: Vec<Value> = config
        .get("registry-mirrors")
        .and_then(Value::as_array)
        .map(|mirrors| {
            mirrors
                .iter()
                .filter_map(Value::as_str)
                .map(|mirror| {
                    if mirror.ends_with('/') {
                        json!(mirror)
                    } else {
                        json!(format!("{mirror}/"))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut index_configs = serde_json::Map::new();
    index_configs.insert(
        "docker.io".to_owned(),
        json!({"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}),
    );
    if let Some(registries) = config.get("insecure-registries").and_then(Value::as_array) {
        for registry in registries.iter().filter_map(Value::as_str) {
            if registry.contains('/') && registry.parse::<ipnet::IpNet>().is_ok() {
                insecure_cidrs.push(json!(registry));
            } else {
                index_configs.insert(
                    registry.to_owned(),
                    json!({"Name": registry, "Mirrors": [], "Secure": false, "Official": false}),
                );
            }
        }
    }
    let labels: Vec<Value> = config
        .get("labels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if let Some(hosts) = config.get("hosts").and_then(Value::as_array) {
        for address in hosts.iter().filter_map(Value::as_str) {
            let tls = config.get("tls").and_then(Value::as_bool).unwrap_or(false)
                || config
                    .get("tlsverify")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            if let Some(rest) = address.strip_prefix("tcp://")
                && !tls
            {
                warnings.push(json!(format!(
                    "WARNING: API is accessible on http://{rest} without encryption.\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/"
                )));
            }
        }
    }
    let first = json!({
        "ID": engine_id(host),
        "Containers": containers,
        "ContainersRunning": containers,
        "ContainersPaused": 0,
        "ContainersStopped": 0,
        "Images": images,
        "Driver": config.get("storage-driver").and_then(Value::as_str).unwrap_or("overlay2"),
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"], ["userxattr", "false"]],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
            "Authorization": null,
            "Log": ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local", "logentries", "splunk", "syslog"],
        },
        "MemoryLimit": true,
        "SwapLimit": true,
        "KernelMemoryTCP": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "BridgeNfIptables": true,
        "BridgeNfIp6tables": true,
        "Debug": config.get("debug").and_then(Value::as_bool).unwrap_or(false),
        "NFd": 32 + containers * 10,
        "OomKillDisable": false,
        "NGoroutines": 44 + containers * 8,
        "SystemTime": rfc3339(SystemTime::now()),
        "LoggingDriver": config.get("log-driver").and_then(Value::as_str).unwrap_or("json-file"),
        "CgroupDriver": "systemd",
        "CgroupVersion": "2",
        "NEventsListener": 0,
    });
    let second = json!({
        "KernelVersion": kernel(host),
        "OperatingSystem": os_release_field(&host.fs, "PRETTY_NAME"),
        "OSVersion": os_release_field(&host.fs, "VERSION_ID"),
        "OSType": "linux",
        "Architecture": host.arch,
        "IndexServerAddress": DEFAULT_REGISTRY,
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": insecure_cidrs,
            "IndexConfigs": Value::Object(index_configs),
            "Mirrors": mirrors,
        },
        "NCPU": 2,
        "MemTotal": 2_084_634_624u64,
        "GenericResources": null,
        "DockerRootDir": config.get("data-root").and_then(Value::as_str).unwrap_or("/var/lib/docker"),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": host.hostname,
        "Labels": labels,
        "ExperimentalBuild": config.get("experimental").and_then(Value::as_bool).unwrap_or(false),
        "ServerVersion": host.docker_version,
        "Runtimes": {
            "io.containerd.runc.v2": {"path": "runc"},
            "io.containerd.runtime.v1.linux": {"path": "runc"},
            "runc": {"path": "runc"},
        },
        "DefaultRuntime": "runc",
        "Swarm": swarm_json(world, index),
        "LiveRestoreEnabled": config.get("live-restore").and_then(Value::as_bool).unwrap_or(false),
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "1.6.20~ds1", "Expected": "1.6.20~ds1"},
        "RuncCommit": {"ID": "1.1.5+ds1", "Expected": "1.1.5+ds1"},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=default", "name=cgroupns"],
        "Warnings": if warnings.is_empty() { Value::Null } else { Value::Array(warnings) },
        "ClientInfo": {"Debug": false, "Context": "default", "Plugins": [], "Warnings": null},
    });
    let mut info = serde_json::Map::new();
    for part in [first, second] {
        if let Value::Object(map) = part {
            info.extend(map);
        }
    }
    Value::Object(info)
}

fn info_text(world: &World, index: usize) -> String {
    let value = info_json(world, index);
    let host = &world.hosts[index];
    let swarm = &value["Swarm"];
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut out = String::from("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
    out.push_str(&format!(
        " Containers: {}\n  Running: {}\n  Paused: 0\n  Stopped: 0\n Images: {}\n Server Version: {}\n Storage Driver: {}\n Logging Driver: {}\n Cgroup Driver: systemd\n Cgroup Version: 2\n",
        value["Containers"], value["ContainersRunning"], value["Images"], host.docker_version, text(&value["Driver"]), text(&value["LoggingDriver"]),
    ));
    out.push_str(&format!(" Swarm: {}\n", text(&swarm["LocalNodeState"])));
    if swarm["LocalNodeState"] == "active" {
        out.push_str(&format!("  NodeID: {}\n", text(&swarm["NodeID"])));
        out.push_str(&format!("  Is Manager: {}\n", swarm["ControlAvailable"]));
        if let Some(cluster) = swarm.get("Cluster").filter(|cluster| cluster["ID"] != "") {
            let spec = &cluster["Spec"];
            out.push_str(&format!("  ClusterID: {}\n", text(&cluster["ID"])));
            out.push_str(&format!(
                "  Managers: {}\n  Nodes: {}\n",
                swarm["Managers"], swarm["Nodes"]
            ));
            out.push_str(&format!(
                "  Default Address Pool: {}  \n  SubnetSize: {}\n  Data Path Port: {}\n",
                cluster["DefaultAddrPool"]
                    .as_array()
                    .map(|pools| pools.iter().map(text).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
                cluster["SubnetSize"],
                cluster["DataPathPort"]
            ));
            out.push_str(&format!(
                "  Orchestration:\n   Task History Retention Limit: {}\n  Raft:\n   Snapshot Interval: {}\n   Number of Old Snapshots to Retain: {}\n   Heartbeat Tick: 1\n   Election Tick: 10\n  Dispatcher:\n   Heartbeat Period: {}\n  CA Configuration:\n   Expiry Duration: {}\n   Force Rotate: 0\n  Autolock Managers: {}\n  Root Rotation In Progress: false\n",
                spec["Orchestration"]["TaskHistoryRetentionLimit"],
                spec["Raft"]["SnapshotInterval"],
                spec["Raft"]["KeepOldSnapshots"],
                human_go_duration(&spec["Dispatcher"]["HeartbeatPeriod"]),
                human_go_duration(&spec["CAConfig"]["NodeCertExpiry"]),
                spec["EncryptionConfig"]["AutoLockManagers"],
            ));
        }
        out.push_str(&format!("  Node Address: {}\n", text(&swarm["NodeAddr"])));
        if let Some(managers) = swarm["RemoteManagers"].as_array() {
            out.push_str("  Manager Addresses:\n");
            for manager in managers {
                out.push_str(&format!("   {}\n", text(&manager["Addr"])));
            }
        }
    }
    out.push_str(&format!(
        " Kernel Version: {}\n Operating System: {}\n OSType: linux\n Architecture: {}\n CPUs: 2\n Total Memory: 1.941GiB\n Name: {}\n ID: {}\n Docker Root Dir: {}\n Debug Mode: {}\n Registry: {DEFAULT_REGISTRY}\n Labels:\n",
        text(&value["KernelVersion"]),
        text(&value["OperatingSystem"]),
        text(&value["Architecture"]),
        text(&value["Name"]),
        text(&value["ID"]),
        text(&value["DockerRootDir"]),
        value["Debug"],
    ));
    if let Some(labels) = value["Labels"].as_array() {
        for label in labels {
            out.push_str(&format!("  {}\n", text(label)));
        }
    }
    out.push_str(&format!(
        " Experimental: {}\n Insecure Registries:\n",
        value["ExperimentalBuild"]
    ));
    if let Some(configs) = value["RegistryConfig"]["IndexConfigs"].as_object() {
        for (name, config) in configs {
            if config["Secure"] == false {
                out.push_str(&format!("  {name}\n"));
            }
        }
    }
    if let Some(cidrs) = value["RegistryConfig"]["InsecureRegistryCIDRs"].as_array() {
        for cidr in cidrs {
            out.push_str(&format!("  {}\n", text(cidr)));
        }
    }
    out.push_str(&format!(
        " Live Restore Enabled: {}\n\n",
        value["LiveRestoreEnabled"]
    ));
    for warnings in [&value["Swarm"]["Warnings"], &value["Warnings"]] {
        if let Some(warnings) = warnings.as_array() {
            for warning in warnings {
                out.push_str(&format!("{}\n", text(warning)));
            }
        }
    }
    out
}

fn human_go_duration(value: &Value) -> String {
    value.as_u64().map(go_duration_string).unwrap_or_default()
}

pub(crate) fn info(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let flags = match Flags::parse("docker info", &["format,f="], args, true) {
        Ok(flags) => flags,
        Err(output) => return output,
    };
    if ctx.require_daemon().is_err() {
        // The client still answers: its own section, and the server's error.
        return match flags.value("format") {
            None => Output {
                stdout: b"Client:\n Context:    default\n Debug Mode: false\n\nServer:\n".to_vec(),
                stderr: format!("ERROR: {DAEMON_DOWN}\nerrors pretty printing info\n").into_bytes(),
                status: 1,
            },
            Some(format) => {
                if let InfoWhenDown::ZeroValues {
                    status,
                    server_errors,
                } = ctx.engine().info_when_down()
                {
                    let mut value = zero(&info_json(ctx.world, ctx.host));
                    if let Some(fields) = value.as_object_mut() {
                        fields.insert(
                            "Swarm".to_owned(),
                            json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null}),
                        );
                        if server_errors {
                            fields.insert("ServerErrors".to_owned(), json!([DAEMON_DOWN]));
                        }
                    }
                    let (stdout, error) = print_one_partial(&value, format);
                    let mut stderr = format!("{DAEMON_DOWN}\n");
                    if let Some(error) = &error {
                        stderr.push_str(&format!("{error}\n"));
                    }
                    return Output {
                        stdout: stdout.into_bytes(),
                        stderr: stderr.into_bytes(),
                        status: if error.is_some() { 1 } else { status },
                    };
                }
                let value = json!({
                    "ClientInfo": {"Debug": false, "Context": "default", "Plugins": [], "Warnings": null},
                    "ServerErrors": [DAEMON_DOWN],
                });
                match print_one(&value, format) {
                    Ok(text) => Output::ok(text),
                    Err(error) => Output {
                        stdout: b"\n".to_vec(),
                        stderr: format!("{}\n", nil_info_error(format).unwrap_or(error))
                            .into_bytes(),
                        status: 1,
                    },
                }
            }
        };
    }
    match flags.value("format") {
        Some(format) => match print_one(&info_json(ctx.world, ctx.host), format) {
            Ok(text) => Output::ok(text),
            Err(error) => Output::error(error, 1),
        },
        None => Output::ok(info_text(ctx.world, ctx.host)),
    }
}

/// `value` with every leaf at its Go zero value (strings empty, numbers 0, booleans false,
/// lists and null null), as a CLI from 23 on formats the server's half it could not read.
fn zero(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| key.as_str() != "ClientInfo")
                .map(|(key, value)| (key.clone(), zero(value)))
                .collect(),
        ),
        Value::String(_) => Value::String(String::new()),
        Value::Number(_) => json!(0),
        Value::Bool(_) => Value::Bool(false),
        Value::Array(_) | Value::Null => Value::Null,
    }
}

/// Go's error for a template that reaches into the server's (nil) half of `docker info`.
fn nil_info_error(format: &str) -> Option<String> {
    let mut search = 0;
    while let Some(found) = format[search..].find('.') {
        let start = search + found;
        let path: String = format[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        search = start + path.len().max(1);
        let first = path.trim_start_matches('.').split('.').next().unwrap_or("");
        if first.is_empty() || matches!(first, "ClientInfo" | "ClientErrors" | "ServerErrors") {
            continue;
        }
        return Some(format!(
            "template: :1:{start}: executing \"\" at <{path}>: nil pointer evaluating *types.Info.{first}"
        ));
    }
    None
}

/// The key `~/.docker/config.json` stores a registry under.
fn registry_key(server: Option<&str>) -> String {
    match server {
        None
        | Some("docker.io")
        | Some("index.docker.io")
        | Some("https://index.docker.io/v1/") => DEFAULT_REGISTRY.to_owned(),
        Some(server) => {
            let stripped = server
                .strip_prefix("https://")
                .or_else(|| server.strip_prefix("http://"))
                .unwrap_or(server);
            stripped.split('/').next().unwrap_or(stripped).to_owned()
        }
    }
}

const CONFIG_PATH: &str = "/root/.docker/config.json";

fn read_config(fs: &Fs) -> serde_json::Map<String, Value> {
    fs.read(CONFIG_PATH)
        .ok()
        .and_then(|file| serde_json::from_slice::<Value>(&file.content).ok())
        .and_then(|value| value.as_object().cloned())
        .unwrap_or_default()
}

fn write_config(fs: &mut Fs, config: serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(&Value::Object(config), &mut serializer).is_ok() {
        let _ = fs.mkdir_p("/root/.docker");
        if let Some((mode, _, _)) = fs.metadata_mut("/root/.docker") {
            *mode = 0o700;
        }
        let _ = fs.write(CONFIG_PATH, &out, false);
        if let Some((mode, _, _)) = fs.metadata_mut(CONFIG_PATH) {
            *mode = 0o600;
        }
    }
}

/// Registries the host is logged in to, with their user names.
pub(crate) fn logins(fs: &Fs) -> Vec<(String, String)> {
    let config = read_config(fs);
    let Some(auths) = config.get("auths").and_then(Value::as_object) else {
        return Vec::new();
    };
    auths
        .iter()
        .map(|(registry, entry)| {
            let user = entry
                .get("auth")
                .and_then(Value::as_str)
                .and_then(decode_base64)
                .and_then(|decoded| decoded.split(':').next().map(str::to_owned))
                .unwrap_or_default();
            (registry.clone(), user)
        })
        .collect()
}

fn decode_base64(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|byte| *byte != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn login(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let path = "docker login";
    let flags = match Flags::parse(
        path,
        &["username,u=", "password,p=", "password-stdin"],
        args,
        true,
    ) {
        Ok(flags) => flags,
        Err(output) => return output,
    };
    if flags.args.len() > 1 {
        return Output::error(
            "\"docker login\" requires at most 1 argument.\nSee 'docker login --help'.\n\nUsage:  docker login [OPTIONS] [SERVER]\n\nLog in to a Docker registry",
            1,
        );
    }
    let mut stderr = String::new();
    let password = if flags.bool("password-stdin") {
        if flags.value("password").is_some() {
            return Output::error("--password and --password-stdin are mutually exclusive", 1);
        }
        if flags.value("username").is_none() {
            return Output::error("Must provide --username with --password-stdin", 1);
        }
        let text = String::from_utf8_lossy(&ctx.stdin).into_owned();
        Some(text.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        if flags.value("password").is_some() {
            stderr.push_str(
                "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n",
            );
        }
        flags.value("password").map(str::to_owned)
    };
    let (Some(username), Some(password)) = (flags.value("username"), password) else {
        return Output::error(
            "Error: Cannot perform an interactive login from a non TTY device",
            1,
        );
    };
    if let Err(output) = ctx.require_daemon() {
        return output;
    }
    if password.is_empty() {
        return Output::error("Error: Password Required", 1);
    }
    let key = registry_key(flags.args.first().map(String::as_str));
    let fs = &mut ctx.world.hosts[ctx.host].fs;
    let mut config = read_config(fs);
    let auths = config
        .entry("auths".to_owned())
        .or_insert_with(|| json!({}));
    if let Some(auths) = auths.as_object_mut() {
        auths.insert(
            key,
            json!({"auth": base64(format!("{username}:{password}").as_bytes())}),
        );
    }
    write_config(fs, config);
    stderr.push_str(&format!(
        "WARNING! Your password will be stored unencrypted in {CONFIG_PATH}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n"
    ));
    Output::ok("Login Succeeded\n").with_stderr(stderr)
}

pub(crate) fn logout(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let flags = match Flags::parse("docker logout", &[], args, true) {
        Ok(flags) => flags,
        Err(output) => return output,
    };
    let key = registry_key(flags.args.first().map(String::as_str));
    let fs = &mut ctx.world.hosts[ctx.host].fs;
    let mut config = read_config(fs);
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .and_then(|auths| auths.remove(&key))
        .is_some();
    if !removed {
        return Output::ok(format!("Not logged in to {key}\n"));
    }
    write_config(fs, config);
    Output::ok(format!("Removing login credentials for {key}\n"))
}
