//! `docker network`, `docker secret` and `docker config`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use ipnet::Ipv4Net;
use serde_json::{Value, json};

use super::flags::{Flags, key_values, require_args, require_exact};
use super::format::{
    ago, go_time_string, labels_text, print_list, print_list_with_headers, rfc3339, sorted_object,
    string_map,
};
use super::service::print_inspect;
use super::swarm::{Cluster, LookupError, Network, Role, StoredObject, gateway_of, refresh};
use super::{Ctx, NO_LEADER, NOT_MANAGER_WORKER, daemon_error, natural_cmp, truncate_id};
use crate::exec::Output;
use crate::world::LocalNetwork;

const NETWORK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
const SECRET_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}";
const CONFIG_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}";
const PREDEFINED: &[&str] = &["bridge", "host", "none"];

pub(crate) fn network(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker network COMMAND\n\nManage networks\n\nCommands:\n  connect     Connect a container to a network\n  create      Create a network\n  disconnect  Disconnect a container from a network\n  inspect     Display detailed information on one or more networks\n  ls          List networks\n  prune       Remove all unused networks\n  rm          Remove one or more networks\n\nRun 'docker network COMMAND --help' for more information on a command.\n",
        );
    };
    let result = match sub {
        "create" => network_create(ctx, rest),
        "rm" | "remove" => network_remove(ctx, rest),
        "ls" | "list" => network_list(ctx, rest),
        "inspect" => network_inspect(ctx, rest),
        other => Err(Output::error(
            format!("docker: 'network {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

/// The swarm this host can see networks of: all of them on a manager, only `ingress` on a
/// worker.
fn visible_cluster<'a>(ctx: &'a Ctx<'_>) -> Option<(&'a Cluster, bool)> {
    let member = ctx.world.hosts[ctx.host].swarm.as_ref()?;
    let cluster = ctx.world.clusters.get(&member.cluster)?;
    let manager = cluster
        .node(&member.node)
        .is_some_and(|node| node.role == Role::Manager)
        && cluster.leader.is_some();
    Some((cluster, manager))
}

fn network_create(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker network create";
    let flags = Flags::parse(
        path,
        &[
            "driver,d=",
            "subnet=*",
            "gateway=*",
            "ip-range=*",
            "attachable",
            "opt,o=*",
            "label=*",
            "internal",
            "ipv6",
            "scope=",
            "ingress",
            "config-only",
            "config-from=",
            "aux-address=*",
            "ipam-driver=",
            "ipam-opt=*",
        ],
        args,
        true,
    )?;
    require_exact(
        path,
        "[OPTIONS] NETWORK",
        "Create a network",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let name = flags.args[0].clone();
    let driver = flags.value("driver").unwrap_or("bridge").to_owned();
    let subnets = flags.values("subnet");
    if subnets.len() < flags.values("gateway").len()
        || subnets.len() < flags.values("ip-range").len()
    {
        return Err(Output::error(
            "every ip-range or gateway must have a corresponding subnet",
            1,
        ));
    }
    let mut subnet = None;
    if let Some(text) = subnets.first() {
        match text.parse::<Ipv4Net>() {
            Ok(net) => subnet = Some(net),
            Err(_) => {
                return Err(daemon_error(&format!("invalid CIDR address: {text}")));
            }
        }
    }
    let host = &ctx.world.hosts[ctx.host];
    let swarm_scoped = driver == "overlay" || flags.value("scope") == Some("swarm");
    if !swarm_scoped {
        if host
            .local_networks
            .iter()
            .any(|network| network.name == name)
            || visible_cluster(ctx).is_some_and(|(cluster, _)| {
                cluster.networks.iter().any(|network| network.name == name)
            })
        {
            return Err(daemon_error(&format!(
                "network with name {name} already exists"
            )));
        }
        let id = ctx.world.rng.hex(64);
        ctx.world.hosts[ctx.host].local_networks.push(LocalNetwork {
            id: id.clone(),
            name,
            driver,
            created: SystemTime::now(),
        });
        return Ok(Output::ok(format!("{id}\n")));
    }
    let (cluster_id, _) = ctx.require_manager()?;
    let host = &ctx.world.hosts[ctx.host];
    if host
        .local_networks
        .iter()
        .any(|network| network.name == name)
        || PREDEFINED.contains(&name.as_str())
    {
        return Err(daemon_error(&format!(
            "network with name {name} already exists"
        )));
    }
    let id = ctx.world.rng.base36(25);
    let cluster = ctx.cluster_mut(&cluster_id)?;
    if cluster.networks.iter().any(|network| network.name == name) {
        return Err(daemon_error(&format!(
            "network with name {name} already exists"
        )));
    }
    let subnet = match subnet.or_else(|| cluster.allocate_subnet()) {
        Some(subnet) => subnet,
        None => {
            return Err(daemon_error(
                "rpc error: code = Unknown desc = could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
            ));
        }
    };
    let gateway = flags
        .values("gateway")
        .first()
        .cloned()
        .unwrap_or_else(|| gateway_of(&subnet));
    let mut options: BTreeMap<String, String> = key_values(flags.values("opt"));
    let vxlan = cluster.next_vxlan();
    options.insert(
        "com.docker.network.driver.overlay.vxlanid_list".to_owned(),
        vxlan.to_string(),
    );
    cluster.bump();
    cluster.networks.push(Network {
        id: id.clone(),
        name,
        driver,
        attachable: flags.bool("attachable"),
        ingress: flags.bool("ingress"),
        internal: flags.bool("internal"),
        ipv6: flags.bool("ipv6"),
        labels: key_values(flags.values("label")),
        options,
        subnet: subnet.to_string(),
        gateway,
        ip_range: flags.values("ip-range").first().cloned(),
        created: SystemTime::now(),
    });
    Ok(Output::ok(format!("{id}\n")))
}

fn local_network_item(network: &LocalNetwork, truncate: bool) -> Value {
    sorted_object(vec![
        ("CreatedAt", json!(go_time_string(network.created))),
        ("Driver", json!(network.driver)),
        (
            "ID",
            json!(if truncate {
                truncate_id(&network.id).to_owned()
            } else {
                network.id.clone()
            }),
        ),
        ("IPv6", json!("false")),
        ("Internal", json!("false")),
        ("Labels", json!("")),
        ("Name", json!(network.name)),
        ("Scope", json!("local")),
    ])
}

fn swarm_network_item(network: &Network, truncate: bool) -> Value {
    sorted_object(vec![
        ("CreatedAt", json!(go_time_string(network.created))),
        ("Driver", json!(network.driver)),
        (
            "ID",
            json!(if truncate {
                truncate_id(&network.id).to_owned()
            } else {
                network.id.clone()
            }),
        ),
        ("IPv6", json!(network.ipv6.to_string())),
        ("Internal", json!(network.internal.to_string())),
        ("Labels", json!(labels_text(&network.labels))),
        ("Name", json!(network.name)),
        ("Scope", json!("swarm")),
    ])
}

fn network_list(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker network ls";
    let flags = Flags::parse(
        path,
        &["quiet,q", "format=", "filter,f=*", "no-trunc"],
        args,
        true,
    )?;
    ctx.require_daemon()?;
    let truncate = !flags.bool("no-trunc");
    struct Entry {
        name: String,
        driver: String,
        scope: &'static str,
        id: String,
        labels: BTreeMap<String, String>,
        custom: bool,
        item: Value,
    }
    let mut entries: Vec<Entry> = ctx.world.hosts[ctx.host]
        .local_networks
        .iter()
        .map(|network| Entry {
            name: network.name.clone(),
            driver: network.driver.clone(),
            scope: "local",
            id: network.id.clone(),
            labels: BTreeMap::new(),
            custom: !PREDEFINED.contains(&network.name.as_str())
                && network.name != "docker_gwbridge",
            item: local_network_item(network, truncate),
        })
        .collect();
    if let Some((cluster, manager)) = visible_cluster(ctx) {
        for network in cluster
            .networks
            .iter()
            .filter(|network| manager || network.ingress)
        {
            entries.push(Entry {
                name: network.name.clone(),
                driver: network.driver.clone(),
                scope: "swarm",
                id: network.id.clone(),
                labels: network.labels.clone(),
                custom: !network.ingress,
                item: swarm_network_item(network, truncate),
            });
        }
    }
    for (key, value) in flags.filters() {
        match key.as_str() {
            "driver" => entries.retain(|entry| entry.driver == value),
            "name" => entries.retain(|entry| entry.name.contains(&value)),
            "id" => entries.retain(|entry| entry.id.starts_with(&value)),
            "scope" => entries.retain(|entry| entry.scope == value),
            "type" => entries.retain(|entry| match value.as_str() {
                "custom" => entry.custom,
                "builtin" => !entry.custom,
                _ => true,
            }),
            "label" => entries.retain(|entry| match value.split_once('=') {
                Some((key, value)) => entry.labels.get(key).is_some_and(|v| v == value),
                None => entry.labels.contains_key(&value),
            }),
            "dangling" => {}
            other => return Err(daemon_error(&format!("Invalid filter '{other}'"))),
        }
    }
    entries.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let ipv4 = ctx.engine().network_ipv4_field();
    let items: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            let mut item = entry.item;
            if ipv4 && let Some(fields) = item.as_object_mut() {
                fields.insert("IPv4".to_owned(), json!("true"));
                fields.sort_keys();
            }
            item
        })
        .collect();
    print_list_with_headers(
        &items,
        flags.value("format"),
        flags.bool("quiet"),
        "ID",
        NETWORK_TABLE,
        &[("ID", "NETWORK ID")],
    )
    .map(Output::ok)
    .map_err(|error| Output::error(error, 1))
}

fn swarm_network_json(network: &Network) -> Value {
    let mut ipam = serde_json::Map::new();
    ipam.insert("Subnet".to_owned(), json!(network.subnet));
    if let Some(range) = &network.ip_range {
        ipam.insert("IPRange".to_owned(), json!(range));
    }
    ipam.insert("Gateway".to_owned(), json!(network.gateway));
    json!({
        "Name": network.name,
        "Id": network.id,
        "Created": rfc3339(network.created),
        "Scope": "swarm",
        "Driver": network.driver,
        "EnableIPv6": network.ipv6,
        "IPAM": {"Driver": "default", "Options": null, "Config": [Value::Object(ipam)]},
        "Internal": network.internal,
        "Attachable": network.attachable,
        "Ingress": network.ingress,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": null,
        "Options": string_map(&network.options),
        "Labels": string_map(&network.labels),
    })
}

fn local_network_json(network: &LocalNetwork) -> Value {
    let (subnet, gateway) = match network.name.as_str() {
        "bridge" => (Some("172.17.0.0/16"), Some("172.17.0.1")),
        "docker_gwbridge" => (Some("172.18.0.0/16"), Some("172.18.0.1")),
        _ => (None, None),
    };
    let config: Vec<Value> = match (subnet, gateway) {
        (Some(subnet), Some(gateway)) => vec![json!({"Subnet": subnet, "Gateway": gateway})],
        _ => Vec::new(),
    };
    json!({
        "Name": network.name,
        "Id": network.id,
        "Created": rfc3339(network.created),
        "Scope": "local",
        "Driver": network.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

/// Finds a network this host can see: swarm networks by ID, name or ID prefix, then local
/// ones.
fn find_network_json(ctx: &Ctx<'_>, reference: &str) -> Option<Value> {
    if let Some((cluster, manager)) = visible_cluster(ctx)
        && let Ok(index) = cluster.find_network(reference)
        && (manager || cluster.networks[index].ingress)
    {
        return Some(swarm_network_json(&cluster.networks[index]));
    }
    let networks = &ctx.world.hosts[ctx.host].local_networks;
    networks
        .iter()
        .find(|network| network.name == reference || network.id == reference)
        .or_else(|| {
            networks
                .iter()
                .find(|network| !reference.is_empty() && network.id.starts_with(reference))
        })
        .map(local_network_json)
}

fn network_inspect(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker network inspect";
    let flags = Flags::parse(path, &["format,f=", "verbose,v"], args, true)?;
    require_args(
        path,
        "[OPTIONS] NETWORK [NETWORK...]",
        "Display detailed information on one or more networks",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let engine = ctx.engine();
    let mut found = Vec::new();
    let mut out = Output::default();
    for reference in &flags.args {
        match find_network_json(ctx, reference) {
            Some(value) => found.push(value),
            None => {
                out.stderr.extend_from_slice(
                    format!("{}\n", engine.not_found("network", reference)).as_bytes(),
                );
                out.status = 1;
            }
        }
    }
    print_inspect(&found, flags.value("format"), out)
}

fn network_remove(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker network rm";
    let flags = Flags::parse(path, &[], args, true)?;
    require_args(
        path,
        "NETWORK [NETWORK...]",
        "Remove one or more networks",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let mut out = Output::default();
    for reference in &flags.args {
        let result = remove_one_network(ctx, reference);
        match result {
            Ok(text) => out.stdout.extend_from_slice(text.as_bytes()),
            Err(error) => {
                out.stderr.extend_from_slice(&error.stderr);
                out.status = 1;
            }
        }
    }
    refresh(ctx.world);
    Ok(out)
}

fn remove_one_network(ctx: &mut Ctx<'_>, reference: &str) -> Result<String, Output> {
    if PREDEFINED.contains(&reference) {
        return Err(daemon_error(&format!(
            "{reference} is a pre-defined network and cannot be removed"
        )));
    }
    let member = ctx.world.hosts[ctx.host].swarm.clone();
    if let Some(member) = member
        && let Some(cluster) = ctx.world.clusters.get_mut(&member.cluster)
    {
        let manager = cluster
            .node(&member.node)
            .is_some_and(|node| node.role == Role::Manager);
        if let Ok(index) = cluster.find_network(reference)
            && (manager || cluster.networks[index].ingress)
        {
            if cluster.leader.is_none() {
                return Err(Output::error(NO_LEADER, 1));
            }
            if !manager {
                return Err(Output::error(NOT_MANAGER_WORKER, 1));
            }
            let network = &cluster.networks[index];
            if network.ingress {
                return Ok("WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue? [y/N] ".to_owned());
            }
            if let Some(service) = cluster
                .services
                .iter()
                .find(|service| service.spec.networks.contains(&network.id))
            {
                return Err(daemon_error(&format!(
                    "rpc error: code = FailedPrecondition desc = network {} is in use by service {}",
                    network.id, service.id
                )));
            }
            cluster.networks.remove(index);
            cluster.bump();
            return Ok(format!("{reference}\n"));
        }
    }
    let networks = &mut ctx.world.hosts[ctx.host].local_networks;
    if let Some(index) = networks.iter().position(|network| {
        network.name == reference || network.id == reference || network.id.starts_with(reference)
    }) {
        networks.remove(index);
        return Ok(format!("{reference}\n"));
    }
    let engine = ctx.engine();
    let mut missing = engine.not_found("network", reference);
    if engine.network_rm_exit_status_line() {
        missing.push_str("\nexit status 1");
    }
    Err(Output::error(missing, 1))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Secret,
    Config,
}

impl ObjectKind {
    fn name(self) -> &'static str {
        match self {
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }

    fn store(self, cluster: &Cluster) -> &Vec<StoredObject> {
        match self {
            ObjectKind::Secret => &cluster.secrets,
            ObjectKind::Config => &cluster.configs,
        }
    }

    fn store_mut(self, cluster: &mut Cluster) -> &mut Vec<StoredObject> {
        match self {
            ObjectKind::Secret => &mut cluster.secrets,
            ObjectKind::Config => &mut cluster.configs,
        }
    }
}

pub(crate) fn object(ctx: &mut Ctx<'_>, args: &[&str], kind: ObjectKind) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(format!(
            "\nUsage:  docker {0} COMMAND\n\nManage Docker {0}s\n\nCommands:\n  create      Create a {0} from a file or STDIN as content\n  inspect     Display detailed information on one or more {0}s\n  ls          List {0}s\n  rm          Remove one or more {0}s\n\nRun 'docker {0} COMMAND --help' for more information on a command.\n",
            kind.name()
        ));
    };
    let result = match sub {
        "create" => object_create(ctx, rest, kind),
        "rm" | "remove" => object_remove(ctx, rest, kind),
        "ls" | "list" => object_list(ctx, rest, kind),
        "inspect" => object_inspect(ctx, rest, kind),
        other => Err(Output::error(
            format!(
                "docker: '{} {other}' is not a docker command.\nSee 'docker --help'",
                kind.name()
            ),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

/// swarmkit's name rule for secrets and configs.
fn valid_object_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Creates a secret or config (also used by `docker stack deploy`).
pub(crate) fn create_object(
    ctx: &mut Ctx<'_>,
    cluster_id: &str,
    kind: ObjectKind,
    name: &str,
    data: Vec<u8>,
    labels: BTreeMap<String, String>,
) -> Result<String, Output> {
    let what = kind.name();
    if !valid_object_name(name) {
        return Err(daemon_error(
            "rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]",
        ));
    }
    if data.is_empty() || data.len() >= 500 * 1024 {
        return Err(daemon_error(&format!(
            "rpc error: code = InvalidArgument desc = {what} data must be larger than 0 and less than 512000 bytes"
        )));
    }
    let id = ctx.world.rng.base36(25);
    let cluster = ctx.cluster_mut(cluster_id)?;
    if kind.store(cluster).iter().any(|object| object.name == name) {
        return Err(daemon_error(&format!(
            "rpc error: code = AlreadyExists desc = {what} {name} already exists"
        )));
    }
    let now = SystemTime::now();
    let version = cluster.bump();
    kind.store_mut(cluster).push(StoredObject {
        id: id.clone(),
        name: name.to_owned(),
        labels,
        data,
        created: now,
        updated: now,
        version,
    });
    Ok(id)
}

fn object_create(ctx: &mut Ctx<'_>, args: &[&str], kind: ObjectKind) -> Result<Output, Output> {
    let path = format!("docker {} create", kind.name());
    let flags = Flags::parse(
        &path,
        &["label,l=*", "driver,d=", "template-driver="],
        args,
        true,
    )?;
    require_exact(
        &path,
        &format!("[OPTIONS] {} file|-", kind.name().to_uppercase()),
        &format!("Create a {} from a file or STDIN as content", kind.name()),
        &flags.args,
        2,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let name = flags.args[0].clone();
    let source = flags.args[1].clone();
    let data = if source == "-" {
        std::mem::take(&mut ctx.stdin)
    } else {
        match ctx.world.hosts[ctx.host].fs.read(&source) {
            Ok(file) => file.content.clone(),
            Err(_) => {
                return Err(Output::error(
                    format!("open {source}: no such file or directory"),
                    1,
                ));
            }
        }
    };
    let id = create_object(
        ctx,
        &cluster_id,
        kind,
        &name,
        data,
        key_values(flags.values("label")),
    )?;
    Ok(Output::ok(format!("{id}\n")))
}

fn find_object(store: &[StoredObject], reference: &str) -> Result<usize, LookupError> {
    if let Some(index) = store
        .iter()
        .position(|object| object.id == reference || object.name == reference)
    {
        return Ok(index);
    }
    let matches: Vec<usize> = store
        .iter()
        .enumerate()
        .filter(|(_, object)| !reference.is_empty() && object.id.starts_with(reference))
        .map(|(index, _)| index)
        .collect();
    match matches.as_slice() {
        [] => Err(LookupError::NotFound),
        [index] => Ok(*index),
        many => Err(LookupError::Ambiguous(many.len())),
    }
}

fn object_remove(ctx: &mut Ctx<'_>, args: &[&str], kind: ObjectKind) -> Result<Output, Output> {
    let what = kind.name();
    let path = format!("docker {what} rm");
    let flags = Flags::parse(&path, &[], args, true)?;
    require_args(
        &path,
        &format!("{} [{}...]", what.to_uppercase(), what.to_uppercase()),
        &format!("Remove one or more {what}s"),
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let mut out = Output::default();
    for reference in &flags.args {
        let cluster = ctx.cluster_mut(&cluster_id)?;
        let index = match find_object(kind.store(cluster), reference) {
            Ok(index) => index,
            Err(_) => {
                out.stderr.extend_from_slice(
                    format!("{}\n", engine.not_found(what, reference)).as_bytes(),
                );
                out.status = 1;
                continue;
            }
        };
        let object = &kind.store(cluster)[index];
        let users = cluster.services_using(&object.id, kind == ObjectKind::Config);
        if !users.is_empty() {
            let plural = if users.len() > 1 { "s" } else { "" };
            out.stderr.extend_from_slice(
                format!(
                    "Error response from daemon: rpc error: code = InvalidArgument desc = {what} '{}' is in use by the following service{plural}: {}\n",
                    object.name,
                    users.join(", ")
                )
                .as_bytes(),
            );
            out.status = 1;
            continue;
        }
        kind.store_mut(cluster).remove(index);
        cluster.bump();
        out.stdout
            .extend_from_slice(format!("{reference}\n").as_bytes());
    }
    Ok(out)
}

fn object_item(object: &StoredObject, kind: ObjectKind) -> Value {
    let mut fields = vec![
        ("CreatedAt", json!(ago(object.created))),
        ("ID", json!(object.id)),
        ("Labels", json!(labels_text(&object.labels))),
        ("Name", json!(object.name)),
        ("UpdatedAt", json!(ago(object.updated))),
    ];
    if kind == ObjectKind::Secret {
        fields.push(("Driver", json!("")));
    }
    sorted_object(fields)
}

fn object_list(ctx: &mut Ctx<'_>, args: &[&str], kind: ObjectKind) -> Result<Output, Output> {
    let path = format!("docker {} ls", kind.name());
    let flags = Flags::parse(&path, &["quiet,q", "format=", "filter,f=*"], args, true)?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let mut objects: Vec<&StoredObject> = kind.store(cluster).iter().collect();
    for (key, value) in flags.filters() {
        match key.as_str() {
            "name" => objects.retain(|object| object.name.starts_with(&value)),
            "id" => objects.retain(|object| object.id.starts_with(&value)),
            "label" => objects.retain(|object| match value.split_once('=') {
                Some((key, value)) => object.labels.get(key).is_some_and(|v| v == value),
                None => object.labels.contains_key(&value),
            }),
            other => return Err(daemon_error(&format!("Invalid filter '{other}'"))),
        }
    }
    objects.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let items: Vec<Value> = objects
        .iter()
        .map(|object| object_item(object, kind))
        .collect();
    let table = match kind {
        ObjectKind::Secret => SECRET_TABLE,
        ObjectKind::Config => CONFIG_TABLE,
    };
    print_list(
        &items,
        flags.value("format"),
        flags.bool("quiet"),
        "ID",
        table,
    )
    .map(Output::ok)
    .map_err(|error| Output::error(error, 1))
}

pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * index)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn object_json(object: &StoredObject, kind: ObjectKind) -> Value {
    let mut spec = serde_json::Map::new();
    spec.insert("Name".to_owned(), json!(object.name));
    spec.insert("Labels".to_owned(), string_map(&object.labels));
    if kind == ObjectKind::Config {
        spec.insert("Data".to_owned(), json!(base64(&object.data)));
    }
    json!({
        "ID": object.id,
        "Version": {"Index": object.version},
        "CreatedAt": rfc3339(object.created),
        "UpdatedAt": rfc3339(object.updated),
        "Spec": Value::Object(spec),
    })
}

fn object_inspect(ctx: &mut Ctx<'_>, args: &[&str], kind: ObjectKind) -> Result<Output, Output> {
    let what = kind.name();
    let path = format!("docker {what} inspect");
    let flags = Flags::parse(&path, &["format,f=", "pretty"], args, true)?;
    require_args(
        &path,
        &format!(
            "[OPTIONS] {} [{}...]",
            what.to_uppercase(),
            what.to_uppercase()
        ),
        &format!("Display detailed information on one or more {what}s"),
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let cluster = ctx.cluster(&cluster_id)?;
    let mut found = Vec::new();
    let mut out = Output::default();
    for reference in &flags.args {
        match find_object(kind.store(cluster), reference) {
            Ok(index) => found.push(object_json(&kind.store(cluster)[index], kind)),
            Err(_) => {
                out.stderr.extend_from_slice(
                    format!("{}\n", engine.not_found(what, reference)).as_bytes(),
                );
                out.status = 1;
            }
        }
    }
    out.stderr = engine.inspect_errors(&out.stderr);
    print_inspect(&found, flags.value("format"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Base64 pads like the standard encoding.
    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
