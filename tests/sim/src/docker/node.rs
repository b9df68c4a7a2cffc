//! `docker node`.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::flags::{Flags, require_args, require_exact};
use super::format::{print_list, rfc3339, sorted_object, string_map};
use super::service::{print_inspect, print_tasks};
use super::swarm::{Availability, Cluster, LookupError, Node, Role, refresh};
use super::version::Engine;
use super::{Ctx, daemon_error, natural_cmp};
use crate::exec::Output;

const NODE_TABLE: &str = "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}";

pub(crate) fn command(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker node COMMAND\n\nManage Swarm nodes\n\nCommands:\n  demote      Demote one or more nodes from manager in the swarm\n  inspect     Display detailed information on one or more nodes\n  ls          List nodes in the swarm\n  promote     Promote one or more nodes to manager in the swarm\n  ps          List tasks running on one or more nodes, defaults to current node\n  rm          Remove one or more nodes from the swarm\n  update      Update a node\n\nRun 'docker node COMMAND --help' for more information on a command.\n",
        );
    };
    let result = match sub {
        "ls" | "list" => list(ctx, rest),
        "inspect" => inspect(ctx, rest),
        "update" => update(ctx, rest),
        "promote" => change_role(ctx, rest, Role::Manager),
        "demote" => change_role(ctx, rest, Role::Worker),
        "rm" | "remove" => remove(ctx, rest),
        "ps" => ps(ctx, rest),
        other => Err(Output::error(
            format!("docker: 'node {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

/// Resolves an ID, a hostname or an ID prefix (and `self` for the commands whose client
/// resolves it: inspect and ps); a missing node is the 20.10 client's `Error: No such node: X`
/// or, from 26, the daemon's `node X not found`.
fn node_index(
    cluster: &Cluster,
    reference: &str,
    self_id: Option<&str>,
    engine: Engine,
) -> Result<usize, Output> {
    let reference = match self_id {
        Some(self_id) if reference == "self" => self_id,
        _ => reference,
    };
    match cluster.find_node(reference) {
        Ok(index) => Ok(index),
        Err(LookupError::NotFound) => Err(Output::error(engine.not_found("node", reference), 1)),
        Err(LookupError::Ambiguous(count)) => Err(daemon_error(&format!(
            "node {reference} is ambiguous ({count} matches found)"
        ))),
    }
}

fn node_item(cluster: &Cluster, node: &Node, self_id: &str) -> Value {
    sorted_object(vec![
        ("Availability", json!(node.availability.title())),
        ("EngineVersion", json!(node.engine_version)),
        ("Hostname", json!(node.hostname)),
        ("ID", json!(node.id)),
        ("ManagerStatus", json!(cluster.manager_status(node))),
        ("Self", json!(node.id == self_id)),
        ("Status", json!(node.status())),
        ("TLSStatus", json!("Ready")),
    ])
}

/// `docker node inspect` (swarm.Node).
pub(crate) fn node_json(cluster: &Cluster, node: &Node) -> Value {
    let architecture = node.arch.clone();
    let mut status = serde_json::Map::new();
    status.insert(
        "State".to_owned(),
        json!(if node.ready { "ready" } else { "down" }),
    );
    if !node.ready && !node.left {
        status.insert("Message".to_owned(), json!("heartbeat failure"));
    }
    status.insert("Addr".to_owned(), json!(node.addr));
    let mut object = serde_json::Map::new();
    object.insert("ID".to_owned(), json!(node.id));
    object.insert("Version".to_owned(), json!({"Index": node.version}));
    object.insert("CreatedAt".to_owned(), json!(rfc3339(node.created)));
    object.insert("UpdatedAt".to_owned(), json!(rfc3339(node.updated)));
    object.insert(
        "Spec".to_owned(),
        json!({
            "Labels": string_map(&node.labels),
            "Role": node.role.as_str(),
            "Availability": node.availability.as_str(),
        }),
    );
    object.insert(
        "Description".to_owned(),
        json!({
            "Hostname": node.hostname,
            "Platform": {"Architecture": architecture, "OS": "linux"},
            "Resources": {"NanoCPUs": 2_000_000_000u64, "MemoryBytes": 2_084_634_624u64},
            "Engine": {
                "EngineVersion": node.engine_version,
                "Plugins": [
                    {"Type": "Log", "Name": "awslogs"},
                    {"Type": "Log", "Name": "fluentd"},
                    {"Type": "Log", "Name": "gcplogs"},
                    {"Type": "Log", "Name": "gelf"},
                    {"Type": "Log", "Name": "journald"},
                    {"Type": "Log", "Name": "json-file"},
                    {"Type": "Log", "Name": "local"},
                    {"Type": "Log", "Name": "logentries"},
                    {"Type": "Log", "Name": "splunk"},
                    {"Type": "Log", "Name": "syslog"},
                    {"Type": "Network", "Name": "bridge"},
                    {"Type": "Network", "Name": "host"},
                    {"Type": "Network", "Name": "ipvlan"},
                    {"Type": "Network", "Name": "macvlan"},
                    {"Type": "Network", "Name": "null"},
                    {"Type": "Network", "Name": "overlay"},
                    {"Type": "Volume", "Name": "local"}
                ]
            },
            "TLSInfo": tls_info(cluster),
        }),
    );
    object.insert("Status".to_owned(), Value::Object(status));
    if node.role == Role::Manager {
        let mut manager = serde_json::Map::new();
        if cluster.leader.as_deref() == Some(&node.id) {
            manager.insert("Leader".to_owned(), json!(true));
        }
        manager.insert(
            "Reachability".to_owned(),
            json!(if node.ready {
                "reachable"
            } else {
                "unreachable"
            }),
        );
        manager.insert("Addr".to_owned(), json!(node.manager_addr()));
        object.insert("ManagerStatus".to_owned(), Value::Object(manager));
    }
    Value::Object(object)
}

pub(crate) fn tls_info(cluster: &Cluster) -> Value {
    json!({
        "TrustRoot": format!("-----BEGIN CERTIFICATE-----\nMIIBazCCARCgAwIBAgIU{}\n-----END CERTIFICATE-----\n", &cluster.ca_digest[..40]),
        "CertIssuerSubject": "MBMxETAPBgNVBAMTCHN3YXJtLWNh",
        "CertIssuerPublicKey": format!("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE{}", &cluster.ca_digest[..40]),
    })
}

fn list(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker node ls";
    let flags = Flags::parse(path, &["quiet,q", "format=", "filter,f=*"], args, true)?;
    if !flags.args.is_empty() {
        return Err(Output::error(
            "\"docker node ls\" accepts no arguments.\nSee 'docker node ls --help'.\n\nUsage:  docker node ls [OPTIONS]\n\nList nodes in the swarm",
            1,
        ));
    }
    ctx.require_daemon()?;
    let (cluster_id, self_id) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let mut nodes: Vec<&Node> = cluster.nodes.iter().collect();
    for (key, value) in flags.filters() {
        match key.as_str() {
            "role" => nodes.retain(|node| node.role.as_str() == value),
            "name" => nodes.retain(|node| node.hostname.starts_with(&value)),
            "id" => nodes.retain(|node| node.id.starts_with(&value)),
            "membership" => nodes.retain(|_| value == "accepted"),
            "label" | "node.label" => nodes.retain(|node| match value.split_once('=') {
                Some((key, value)) => node.labels.get(key).is_some_and(|v| v == value),
                None => node.labels.contains_key(&value),
            }),
            other => return Err(daemon_error(&format!("Invalid filter '{other}'"))),
        }
    }
    nodes.sort_by(|a, b| natural_cmp(&a.hostname, &b.hostname));
    let items: Vec<Value> = nodes
        .iter()
        .map(|node| node_item(cluster, node, &self_id))
        .collect();
    print_list(
        &items,
        flags.value("format"),
        flags.bool("quiet"),
        "ID",
        NODE_TABLE,
    )
    .map(Output::ok)
    .map_err(|error| Output::error(error, 1))
}

fn inspect(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker node inspect";
    let flags = Flags::parse(path, &["format,f=", "pretty"], args, true)?;
    require_args(
        path,
        "[OPTIONS] self|NODE [NODE...]",
        "Display detailed information on one or more nodes",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, self_id) = ctx.require_manager()?;
    let engine = ctx.engine();
    let cluster = ctx.cluster(&cluster_id)?;
    let mut found = Vec::new();
    let mut out = Output::default();
    for reference in &flags.args {
        match node_index(cluster, reference, Some(&self_id), engine) {
            Ok(index) => found.push(node_json(cluster, &cluster.nodes[index])),
            Err(error) => {
                out.stderr.extend_from_slice(&error.stderr);
                out.status = 1;
            }
        }
    }
    out.stderr = engine.inspect_errors(&out.stderr);
    print_inspect(&found, flags.value("format"), out)
}

fn update(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker node update";
    let flags = Flags::parse(
        path,
        &["availability=", "label-add=*", "label-rm=*", "role="],
        args,
        true,
    )?;
    require_exact(path, "[OPTIONS] NODE", "Update a node", &flags.args, 1)?;
    ctx.require_daemon()?;
    let availability = match flags.value("availability") {
        None => None,
        Some(text) => Some(Availability::parse(text).ok_or_else(|| {
            daemon_error(&format!(
                "invalid availability \"{text}\", only active, pause and drain are supported"
            ))
        })?),
    };
    let role = match flags.value("role") {
        None => None,
        Some("manager") => Some(Role::Manager),
        Some("worker") => Some(Role::Worker),
        Some(other) => {
            return Err(daemon_error(&format!(
                "invalid role \"{other}\", only worker and manager are supported"
            )));
        }
    };
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let reference = flags.args[0].clone();
    let cluster = ctx.cluster_mut(&cluster_id)?;
    let index = node_index(cluster, &reference, None, engine)?;
    for key in flags.values("label-rm") {
        if !cluster.nodes[index].labels.contains_key(key) {
            return Err(Output::error(
                format!("key {key} doesn't exist in node's labels"),
                1,
            ));
        }
    }
    if let Some(role) = role {
        set_role(cluster, index, role)?;
    }
    let version = cluster.bump();
    let node = &mut cluster.nodes[index];
    if let Some(availability) = availability {
        node.availability = availability;
    }
    for key in flags.values("label-rm") {
        node.labels.remove(key);
    }
    for label in flags.values("label-add") {
        match label.split_once('=') {
            Some((key, value)) => node.labels.insert(key.to_owned(), value.to_owned()),
            None => node.labels.insert(label.clone(), String::new()),
        };
    }
    node.version = version;
    node.updated = SystemTime::now();
    refresh(ctx.world);
    Ok(Output::ok(format!("{reference}\n")))
}

/// Promotes or demotes, with swarmkit's safeguards for demotion.
fn set_role(cluster: &mut Cluster, index: usize, role: Role) -> Result<(), Output> {
    let node = &cluster.nodes[index];
    if node.role == role {
        return Ok(());
    }
    if role == Role::Worker {
        let managers: Vec<&Node> = cluster
            .nodes
            .iter()
            .filter(|node| node.role == Role::Manager)
            .collect();
        if managers.len() == 1 && managers[0].id == node.id {
            return Err(daemon_error(
                "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm",
            ));
        }
        let remaining = managers.len() - 1;
        let reachable_after = managers
            .iter()
            .filter(|manager| manager.id != node.id && manager.ready)
            .count();
        if reachable_after < remaining / 2 + 1 {
            return Err(daemon_error(
                "rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum",
            ));
        }
    }
    let version = cluster.bump();
    let node = &mut cluster.nodes[index];
    node.role = role;
    node.version = version;
    node.updated = SystemTime::now();
    Ok(())
}

fn change_role(ctx: &mut Ctx<'_>, args: &[&str], role: Role) -> Result<Output, Output> {
    let (path, description) = match role {
        Role::Manager => (
            "docker node promote",
            "Promote one or more nodes to manager in the swarm",
        ),
        Role::Worker => (
            "docker node demote",
            "Demote one or more nodes from manager in the swarm",
        ),
    };
    let flags = Flags::parse(path, &[], args, true)?;
    require_args(path, "NODE [NODE...]", description, &flags.args, 1)?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let mut out = Output::default();
    for reference in &flags.args {
        let cluster = ctx.cluster_mut(&cluster_id)?;
        let result = node_index(cluster, reference, None, engine).and_then(|index| {
            if cluster.nodes[index].role == role {
                return Ok(format!(
                    "Node {} is already a {}.\n",
                    cluster.nodes[index].id,
                    role.as_str()
                ));
            }
            set_role(cluster, index, role)?;
            Ok(match role {
                Role::Manager => format!("Node {reference} promoted to a manager in the swarm.\n"),
                Role::Worker => format!("Manager {reference} demoted in the swarm.\n"),
            })
        });
        refresh(ctx.world);
        match result {
            Ok(text) => out.stdout.extend_from_slice(text.as_bytes()),
            Err(error) => {
                // The CLI stops at the first node it cannot update.
                out.stderr.extend_from_slice(&error.stderr);
                out.status = 1;
                break;
            }
        }
    }
    Ok(out)
}

fn remove(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker node rm";
    let flags = Flags::parse(path, &["force,f"], args, true)?;
    require_args(
        path,
        "[OPTIONS] NODE [NODE...]",
        "Remove one or more nodes from the swarm",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let force = flags.bool("force");
    let mut out = Output::default();
    for reference in &flags.args {
        let cluster = ctx.cluster_mut(&cluster_id)?;
        let index = match cluster.find_node(reference) {
            Ok(index) => index,
            Err(LookupError::NotFound) => {
                out.stderr.extend_from_slice(
                    format!("{}\n", engine.not_found("node", reference)).as_bytes(),
                );
                out.status = 1;
                continue;
            }
            Err(LookupError::Ambiguous(count)) => {
                out.stderr.extend_from_slice(
                    format!("Error response from daemon: node {reference} is ambiguous ({count} matches found)\n").as_bytes(),
                );
                out.status = 1;
                continue;
            }
        };
        let node = &cluster.nodes[index];
        if node.role == Role::Manager {
            out.stderr.extend_from_slice(
                format!("Error response from daemon: rpc error: code = FailedPrecondition desc = node {} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n", node.id).as_bytes(),
            );
            out.status = 1;
            continue;
        }
        if node.ready && !force {
            out.stderr.extend_from_slice(
                format!("Error response from daemon: rpc error: code = FailedPrecondition desc = node {} is not down and can't be removed\n", node.id).as_bytes(),
            );
            out.status = 1;
            continue;
        }
        let node = cluster.nodes.remove(index);
        cluster.bump();
        let host = &mut ctx.world.hosts[node.host];
        if host
            .swarm
            .as_ref()
            .is_some_and(|member| member.node == node.id)
        {
            host.swarm = None;
            host.local_networks
                .retain(|network| network.name != "docker_gwbridge");
        }
        out.stdout
            .extend_from_slice(format!("{reference}\n").as_bytes());
        refresh(ctx.world);
    }
    Ok(out)
}

fn ps(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker node ps";
    let flags = Flags::parse(
        path,
        &["quiet,q", "format=", "filter,f=*", "no-trunc", "no-resolve"],
        args,
        true,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, self_id) = ctx.require_manager()?;
    let engine = ctx.engine();
    let cluster = ctx.cluster(&cluster_id)?;
    let references = if flags.args.is_empty() {
        vec!["self".to_owned()]
    } else {
        flags.args.clone()
    };
    let mut ids = Vec::new();
    for reference in &references {
        let index = node_index(cluster, reference, Some(&self_id), engine)?;
        ids.push(cluster.nodes[index].id.clone());
    }
    let tasks = cluster
        .tasks
        .iter()
        .filter(|task| task.node.as_ref().is_some_and(|node| ids.contains(node)))
        .collect();
    print_tasks(cluster, tasks, &flags)
}
