//! `docker stack`: compose files (YAML, parsed with serde_norway) deployed the way the 20.10
//! CLI does it: validate external networks, create networks, secrets and configs, convert
//! every service, then create or update them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use super::flags::{Flags, require_args, require_exact};
use super::format::{print_list, sorted_object};
use super::objects::{ObjectKind, create_object};
use super::service::{
    SERVICE_TABLE, assign_ingress_ports, parse_publish, pin_image, print_tasks, resolve_objects,
    service_item, sorted_services,
};
use super::swarm::{
    Cluster, Mode, Network, PortConfig, PublishMode, Role, Service, ServiceSpec, Task, gateway_of,
    refresh,
};
use super::version::Engine;
use super::{Ctx, natural_cmp, normalize_image};
use crate::exec::Output;
use crate::fs::Fs;
use crate::world::World;

const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

pub(crate) fn command(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker stack [OPTIONS] COMMAND\n\nManage Docker stacks\n\nCommands:\n  deploy      Deploy a new stack or update an existing stack\n  ls          List stacks\n  ps          List the tasks in the stack\n  rm          Remove one or more stacks\n  services    List the services in the stack\n\nRun 'docker stack COMMAND --help' for more information on a command.\n",
        );
    };
    let result = match sub {
        "deploy" | "up" => deploy(ctx, rest),
        "rm" | "remove" | "down" => remove(ctx, rest),
        "ls" | "list" => list(ctx, rest),
        "services" => services(ctx, rest),
        "ps" => ps(ctx, rest),
        other => Err(Output::error(
            format!("docker: 'stack {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

/// Compose's variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`; unset variables become empty with a warning.
fn interpolate(text: &str, warnings: &mut Vec<String>) -> Result<String, String> {
    let lookup = |name: &str| -> Option<&'static str> {
        match name {
            "HOME" => Some("/root"),
            "USER" | "LOGNAME" => Some("root"),
            "PWD" => Some("/root"),
            "PATH" => Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            "SHELL" => Some("/bin/bash"),
            _ => None,
        }
    };
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c != '$' {
            out.push(c);
            index += 1;
            continue;
        }
        match chars.get(index + 1) {
            Some('$') => {
                out.push('$');
                index += 2;
            }
            Some('{') => {
                let Some(close) = chars[index + 2..].iter().position(|&c| c == '}') else {
                    return Err(format!("Invalid template: {text:?}"));
                };
                let inner: String = chars[index + 2..index + 2 + close].iter().collect();
                index += close + 3;
                let (name, rest) = match inner.find([':', '-', '?']) {
                    Some(position) => (&inner[..position], &inner[position..]),
                    None => (inner.as_str(), ""),
                };
                let value = lookup(name);
                if let Some(default) = rest.strip_prefix(":-") {
                    out.push_str(value.filter(|v| !v.is_empty()).unwrap_or(default));
                } else if let Some(default) = rest.strip_prefix('-') {
                    out.push_str(value.unwrap_or(default));
                } else if let Some(message) =
                    rest.strip_prefix(":?").or_else(|| rest.strip_prefix('?'))
                {
                    match value {
                        Some(value) if !value.is_empty() => out.push_str(value),
                        _ => {
                            return Err(format!(
                                "required variable {name} is missing a value: {message}"
                            ));
                        }
                    }
                } else {
                    match value {
                        Some(value) => out.push_str(value),
                        None => {
                            warnings.push(format!(
                                "The {name} variable is not set. Defaulting to a blank string."
                            ));
                        }
                    }
                }
            }
            Some(&next) if next.is_ascii_alphabetic() || next == '_' => {
                let mut end = index + 1;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                {
                    end += 1;
                }
                let name: String = chars[index + 1..end].iter().collect();
                match lookup(&name) {
                    Some(value) => out.push_str(value),
                    None => warnings.push(format!(
                        "The {name} variable is not set. Defaulting to a blank string."
                    )),
                }
                index = end;
            }
            _ => {
                out.push('$');
                index += 1;
            }
        }
    }
    Ok(out)
}

fn interpolate_value(value: &mut Value, warnings: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::String(text) => {
            *text = interpolate(text, warnings)?;
        }
        Value::Array(items) => {
            for item in items {
                interpolate_value(item, warnings)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                interpolate_value(item, warnings)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A YAML scalar as text (numbers and booleans included).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(value) => Some(value.to_string()),
        _ => None,
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn object(value: Option<&Value>) -> serde_json::Map<String, Value> {
    value
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `external: true`, `external: {name: x}` (with or without `name: x` beside it).
fn external_name(key: &str, config: &Value) -> Option<String> {
    let external = config.get("external")?;
    let named = config.get("name").and_then(scalar);
    match external {
        Value::Bool(true) => Some(named.unwrap_or_else(|| key.to_owned())),
        Value::Object(inner) => Some(
            inner
                .get("name")
                .and_then(scalar)
                .or(named)
                .unwrap_or_else(|| key.to_owned()),
        ),
        _ => None,
    }
}

/// A command as compose accepts it: a list, or a string split like a shell would.
fn command_words(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        Value::String(text) => {
            let mut words = Vec::new();
            let mut current = String::new();
            let mut quote: Option<char> = None;
            let mut has_word = false;
            for c in text.chars() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), c) => current.push(c),
                    (None, '\'' | '"') => {
                        quote = Some(c);
                        has_word = true;
                    }
                    (None, c) if c.is_whitespace() => {
                        if has_word || !current.is_empty() {
                            words.push(std::mem::take(&mut current));
                            has_word = false;
                        }
                    }
                    (None, c) => current.push(c),
                }
            }
            if has_word || !current.is_empty() {
                words.push(current);
            }
            words
        }
        _ => Vec::new(),
    }
}

fn key_value_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match scalar(value) {
                Some(value) => format!("{key}={value}"),
                None => key.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn label_map(value: Option<&Value>) -> BTreeMap<String, String> {
    key_value_list(value)
        .into_iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (entry, String::new()),
        })
        .collect()
}

fn compose_ports(value: Option<&Value>) -> Result<Vec<PortConfig>, String> {
    let Some(Value::Array(items)) = value else {
        return Ok(Vec::new());
    };
    let mut ports = Vec::new();
    for item in items {
        match item {
            Value::Object(map) => {
                let target = map
                    .get("target")
                    .and_then(as_u64)
                    .ok_or_else(|| "ports: target is required".to_owned())?;
                ports.push(PortConfig {
                    target: target as u16,
                    published: map.get("published").and_then(as_u64).map(|p| p as u16),
                    protocol: map
                        .get("protocol")
                        .and_then(scalar)
                        .unwrap_or_else(|| "tcp".to_owned()),
                    mode: if map.get("mode").and_then(Value::as_str) == Some("host") {
                        PublishMode::Host
                    } else {
                        PublishMode::Ingress
                    },
                    auto: false,
                });
            }
            other => {
                let text = scalar(other).unwrap_or_default();
                ports.push(parse_publish(&text)?);
            }
        }
    }
    Ok(ports)
}

fn compose_mounts(
    namespace: &str,
    value: Option<&Value>,
    volumes: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    let namespaced = |source: &str| -> String {
        if source.starts_with('/') || source.starts_with('.') || source.is_empty() {
            return source.to_owned();
        }
        match volumes.get(source) {
            Some(config) => match external_name(source, config) {
                Some(name) => name,
                None => config
                    .get("name")
                    .and_then(scalar)
                    .unwrap_or_else(|| format!("{namespace}_{source}")),
            },
            None => format!("{namespace}_{source}"),
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => {
                let kind = map
                    .get("type")
                    .and_then(scalar)
                    .unwrap_or_else(|| "volume".to_owned());
                let source = map.get("source").and_then(scalar).unwrap_or_default();
                let source = if kind == "volume" {
                    namespaced(&source)
                } else {
                    source
                };
                let target = map.get("target").and_then(scalar).unwrap_or_default();
                let mut text = format!("type={kind},source={source},target={target}");
                if map.get("read_only").and_then(Value::as_bool) == Some(true) {
                    text.push_str(",readonly");
                }
                text
            }
            other => {
                let text = scalar(other).unwrap_or_default();
                let mut parts: Vec<String> = text.split(':').map(str::to_owned).collect();
                if parts.len() >= 2 {
                    parts[0] = namespaced(&parts[0]);
                }
                parts.join(":")
            }
        })
        .collect()
}

/// `NAMESPACE_KEY` unless the compose file gives the object a `name:`.
fn object_name(namespace: &str, key: &str, config: &Value) -> String {
    config
        .get("name")
        .and_then(scalar)
        .unwrap_or_else(|| format!("{namespace}_{key}"))
}

fn service_networks(service: &Value) -> Vec<(String, Vec<String>)> {
    match service.get("networks") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|name| (name, Vec::new()))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, config)| {
                let aliases = config
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|items| items.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                (name.clone(), aliases)
            })
            .collect(),
        _ => vec![("default".to_owned(), Vec::new())],
    }
}

/// Secret or config references of a compose service: `name` or `{source, target}`.
fn service_objects(service: &Value, key: &str) -> Vec<(String, Option<String>)> {
    let Some(Value::Array(items)) = service.get(key) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => (
                map.get("source").and_then(scalar).unwrap_or_default(),
                map.get("target").and_then(scalar),
            ),
            other => (scalar(other).unwrap_or_default(), None),
        })
        .collect()
}

fn read_text(fs: &Fs, path: &str) -> Result<Vec<u8>, String> {
    fs.read(path)
        .map(|file| file.content.clone())
        .map_err(|_| format!("open {}: no such file or directory", Fs::normalize(path)))
}

/// The compose file, parsed and interpolated, as one JSON value.
fn load_compose(
    ctx: &mut Ctx<'_>,
    files: &[String],
    warnings: &mut Vec<String>,
) -> Result<Value, String> {
    let mut merged = serde_json::Map::new();
    for file in files {
        let text = if file == "-" {
            String::from_utf8_lossy(&std::mem::take(&mut ctx.stdin)).into_owned()
        } else {
            String::from_utf8_lossy(&read_text(&ctx.world.hosts[ctx.host].fs, file)?).into_owned()
        };
        let mut value: Value =
            serde_norway::from_str(&text).map_err(|error| format!("yaml: {error}"))?;
        let Value::Object(_) = value else {
            return Err("Top-level object must be a mapping".to_owned());
        };
        interpolate_value(&mut value, warnings)?;
        if let Value::Object(map) = value {
            for (key, section) in map {
                match (merged.get_mut(&key), section) {
                    (Some(Value::Object(existing)), Value::Object(section)) => {
                        for (name, entry) in section {
                            existing.insert(name, entry);
                        }
                    }
                    (_, section) => {
                        merged.insert(key, section);
                    }
                }
            }
        }
    }
    let compose = Value::Object(merged);
    check_version(&compose, ctx.engine())?;
    Ok(compose)
}

/// The 20.10 CLI validates against its v3.0 to v3.9 schemas; a file without `version` is
/// version 1.0. From 23 the schemas go to 3.10 and a file without `version` is the latest.
fn check_version(compose: &Value, engine: Engine) -> Result<(), String> {
    let optional = engine.compose_version_optional();
    let version = match compose.get("version").and_then(scalar) {
        None if optional => "3.10".to_owned(),
        None => "1.0".to_owned(),
        Some(version) if version == "3" => "3.0".to_owned(),
        Some(version) => version,
    };
    let supported = version.strip_prefix("3.").is_some_and(|minor| {
        (minor.len() == 1 && minor.chars().all(|c| c.is_ascii_digit()))
            || (optional && minor == "10")
    });
    if supported {
        Ok(())
    } else {
        Err(format!("unsupported Compose file version: {version}"))
    }
}

fn not_manager_stack() -> Output {
    Output::error(
        "this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again",
        1,
    )
}

fn deploy(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker stack deploy";
    let engine = ctx.engine();
    let mut specs = vec![
        "compose-file,c=*",
        "prune",
        "with-registry-auth",
        "resolve-image=",
        "bundle-file=",
        "orchestrator=",
        "namespace=",
        "kubeconfig=",
    ];
    if engine.stack_deploy_detach() {
        specs.extend(["detach,d", "quiet,q"]);
    }
    let flags = Flags::parse(path, &specs, args, true)?;
    require_exact(
        path,
        "[OPTIONS] STACK",
        "Deploy a new stack or update an existing stack",
        &flags.args,
        1,
    )?;
    let namespace = flags.args[0].clone();
    let files = flags.values("compose-file").to_vec();
    if files.is_empty() {
        return Err(Output::error(
            "Please specify only one compose file (with --compose-file).",
            1,
        ));
    }
    ctx.require_daemon()?;
    let is_manager = ctx.world.hosts[ctx.host]
        .swarm
        .as_ref()
        .is_some_and(|member| {
            ctx.world
                .clusters
                .get(&member.cluster)
                .and_then(|cluster| cluster.node(&member.node))
                .is_some_and(|node| node.role == Role::Manager)
        });
    if !is_manager {
        return Err(not_manager_stack());
    }
    let mut out = Output::default();
    if engine.stack_deploy_detach() && flags.bool_given("detach").is_none() {
        out.stderr.extend_from_slice(
            b"Since --detach=false was not specified, tasks will be created in the background.\nIn a future release, --detach=false will become the default.\n",
        );
    }
    let mut warnings = Vec::new();
    let compose = load_compose(ctx, &files, &mut warnings)
        .map_err(|error| merge(&out, Output::error(error, 1)))?;
    for warning in &warnings {
        out.stderr
            .extend_from_slice(format!("{warning}\n").as_bytes());
    }
    let (cluster_id, _) = ctx.require_manager().map_err(|error| merge(&out, error))?;
    match deploy_compose(
        ctx,
        &cluster_id,
        &namespace,
        &compose,
        flags.bool("prune"),
        &mut out,
    ) {
        Ok(()) => {
            refresh(ctx.world);
            Ok(out)
        }
        Err(message) => {
            refresh(ctx.world);
            out.stderr.extend_from_slice(message.as_bytes());
            if !message.ends_with('\n') {
                out.stderr.push(b'\n');
            }
            out.status = 1;
            Ok(out)
        }
    }
}

fn merge(out: &Output, error: Output) -> Output {
    let mut merged = out.clone();
    merged.stderr.extend_from_slice(&error.stderr);
    merged.status = error.status;
    merged
}

fn stack_labels(namespace: &str, extra: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = extra;
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.to_owned());
    labels
}

fn deploy_compose(
    ctx: &mut Ctx<'_>,
    cluster_id: &str,
    namespace: &str,
    compose: &Value,
    prune: bool,
    out: &mut Output,
) -> Result<(), String> {
    let print = |out: &mut Output, line: String| {
        out.stdout.extend_from_slice(line.as_bytes());
        out.stdout.push(b'\n');
    };
    let services = object(compose.get("services"));
    let networks = object(compose.get("networks"));
    let secrets = object(compose.get("secrets"));
    let configs = object(compose.get("configs"));
    let volumes = object(compose.get("volumes"));

    if prune {
        let wanted: Vec<String> = services
            .keys()
            .map(|key| format!("{namespace}_{key}"))
            .collect();
        let cluster = ctx.cluster_mut(cluster_id).map_err(stderr_text)?;
        let mut doomed: Vec<String> = cluster
            .services
            .iter()
            .filter(|service| {
                service.spec.stack() == Some(namespace) && !wanted.contains(&service.spec.name)
            })
            .map(|service| service.spec.name.clone())
            .collect();
        doomed.sort_by(|a, b| natural_cmp(a, b));
        for name in doomed {
            print(out, format!("Removing service {name}"));
            cluster.services.retain(|service| service.spec.name != name);
        }
    }

    // The networks the services use, default included, as compose resolves them.
    let mut used: Vec<String> = Vec::new();
    for service in services.values() {
        for (network, _) in service_networks(service) {
            if !used.contains(&network) {
                used.push(network);
            }
        }
    }
    used.sort();
    let mut network_names: BTreeMap<String, String> = BTreeMap::new();
    let mut external = Vec::new();
    let mut to_create = Vec::new();
    for key in &used {
        let config = networks.get(key).cloned().unwrap_or(Value::Null);
        match external_name(key, &config) {
            Some(name) => {
                network_names.insert(key.clone(), name.clone());
                external.push(name);
            }
            None => {
                let name = object_name(namespace, key, &config);
                network_names.insert(key.clone(), name.clone());
                to_create.push((name, config));
            }
        }
    }
    {
        let cluster = ctx.cluster(cluster_id).map_err(stderr_text)?;
        for name in &external {
            if matches!(name.as_str(), "host" | "bridge" | "none" | "default") {
                continue;
            }
            if !cluster.networks.iter().any(|network| &network.name == name) {
                let local = ctx.world.hosts[ctx.host]
                    .local_networks
                    .iter()
                    .any(|network| &network.name == name);
                if local {
                    return Err(format!(
                        "network \"{name}\" is declared as external, but it is not in the right scope: \"local\" instead of \"swarm\""
                    ));
                }
                return Err(format!(
                    "network \"{name}\" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed"
                ));
            }
        }
    }
    to_create.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, config) in to_create {
        let id = ctx.world.rng.base36(25);
        let cluster = ctx.cluster_mut(cluster_id).map_err(stderr_text)?;
        if let Some(existing) = cluster.networks.iter().find(|network| network.name == name) {
            if existing.labels.get(NAMESPACE_LABEL).map(String::as_str) == Some(namespace) {
                continue;
            }
            print(out, format!("Creating network {name}"));
            return Err(format!(
                "failed to create network {name}: Error response from daemon: network with name {name} already exists"
            ));
        }
        print(out, format!("Creating network {name}"));
        let subnet_text = config
            .get("ipam")
            .and_then(|ipam| ipam.get("config"))
            .and_then(Value::as_array)
            .and_then(|configs| configs.first())
            .and_then(|first| first.get("subnet"))
            .and_then(scalar);
        let subnet = match subnet_text.and_then(|text| text.parse::<ipnet::Ipv4Net>().ok()) {
            Some(subnet) => subnet,
            None => cluster.allocate_subnet().ok_or_else(|| {
                format!("failed to create network {name}: Error response from daemon: rpc error: code = Unknown desc = could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
            })?,
        };
        let mut options: BTreeMap<String, String> = label_map(config.get("driver_opts"));
        let vxlan = cluster.next_vxlan();
        options.insert(
            "com.docker.network.driver.overlay.vxlanid_list".to_owned(),
            vxlan.to_string(),
        );
        cluster.bump();
        cluster.networks.push(Network {
            id,
            name,
            driver: config
                .get("driver")
                .and_then(scalar)
                .unwrap_or_else(|| "overlay".to_owned()),
            attachable: config
                .get("attachable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ingress: false,
            internal: config
                .get("internal")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ipv6: false,
            labels: stack_labels(namespace, label_map(config.get("labels"))),
            options,
            subnet: subnet.to_string(),
            gateway: gateway_of(&subnet),
            ip_range: None,
            created: SystemTime::now(),
        });
    }

    // Secrets and configs the file defines (not external ones).
    for (section, kind) in [
        (&secrets, ObjectKind::Secret),
        (&configs, ObjectKind::Config),
    ] {
        let mut keys: Vec<&String> = section.keys().collect();
        keys.sort();
        for key in keys {
            let config = &section[key];
            if external_name(key, config).is_some() {
                continue;
            }
            let name = object_name(namespace, key, config);
            let data = match config.get("file").and_then(scalar) {
                Some(file) => read_text(&ctx.world.hosts[ctx.host].fs, &file)?,
                None => {
                    return Err(format!(
                        "{} {key}: file is required",
                        if kind == ObjectKind::Secret {
                            "secret"
                        } else {
                            "config"
                        }
                    ));
                }
            };
            let what = if kind == ObjectKind::Secret {
                "secret"
            } else {
                "config"
            };
            let cluster = ctx.cluster_mut(cluster_id).map_err(stderr_text)?;
            let store = if kind == ObjectKind::Secret {
                &mut cluster.secrets
            } else {
                &mut cluster.configs
            };
            if let Some(existing) = store.iter_mut().find(|object| object.name == name) {
                if existing.data != data {
                    return Err(format!(
                        "failed to update {what} {name}: Error response from daemon: rpc error: code = InvalidArgument desc = only updates to Labels are allowed"
                    ));
                }
                existing.labels = stack_labels(namespace, label_map(config.get("labels")));
                continue;
            }
            print(out, format!("Creating {what} {name}"));
            create_object(
                ctx,
                cluster_id,
                kind,
                &name,
                data,
                stack_labels(namespace, label_map(config.get("labels"))),
            )
            .map_err(|error| {
                format!(
                    "failed to create {what} {name}: {}",
                    String::from_utf8_lossy(&error.stderr).trim_end()
                )
            })?;
        }
    }

    // Convert every service before deploying any.
    let pinned: BTreeMap<String, String> = services
        .values()
        .filter_map(|service| service.get("image").and_then(scalar))
        .map(|image| (image.clone(), pin_image(ctx.world, &image).0))
        .collect();
    let cluster = ctx.cluster(cluster_id).map_err(stderr_text)?;
    let mut keys: Vec<&String> = services.keys().collect();
    keys.sort_by(|a, b| natural_cmp(a, b));
    let mut specs = Vec::new();
    for key in keys {
        let service = &services[key];
        specs.push(
            convert_service(
                cluster,
                namespace,
                key,
                service,
                &network_names,
                &secrets,
                &configs,
                &volumes,
                &pinned,
            )
            .map_err(|error| format!("service {key}: {error}"))?,
        );
    }
    for mut spec in specs {
        let cluster = ctx.cluster_mut(cluster_id).map_err(stderr_text)?;
        let existing = cluster
            .services
            .iter()
            .position(|service| service.spec.name == spec.name);
        match existing {
            Some(index) => {
                let id = cluster.services[index].id.clone();
                print(out, format!("Updating service {} (id: {id})", spec.name));
                // Ports keep the published ports already assigned.
                for port in &mut spec.ports {
                    if port.published.is_none()
                        && let Some(old) = cluster.services[index]
                            .spec
                            .ports
                            .iter()
                            .find(|old| old.target == port.target && old.mode == port.mode)
                    {
                        port.published = old.published;
                        port.auto = old.auto;
                    }
                }
                assign_ingress_ports(cluster, &mut spec, Some(&id)).map_err(stderr_text)?;
                let version = cluster.bump();
                let service = &mut cluster.services[index];
                let old = service.spec.clone();
                // Every deploy updates every service, and swarmkit resets the update status.
                service.update_status = None;
                let replaced = !spec.same_tasks(&service.spec);
                if replaced {
                    service.template += 1;
                }
                if spec != service.spec {
                    service.previous_spec = Some(service.spec.clone());
                    service.spec = spec;
                    service.version = version;
                    service.updated = SystemTime::now();
                }
                if replaced {
                    let missing = ctx.world.missing_images.clone();
                    let World { clusters, rng, .. } = &mut *ctx.world;
                    if let Some(cluster) = clusters.get_mut(cluster_id) {
                        cluster.roll_out(index, old, &missing, rng);
                    }
                }
            }
            None => {
                print(out, format!("Creating service {}", spec.name));
                assign_ingress_ports(cluster, &mut spec, None).map_err(|error| {
                    format!(
                        "failed to create service {}: {}",
                        spec.name,
                        String::from_utf8_lossy(&error.stderr).trim_end()
                    )
                })?;
                let id = ctx.world.rng.base36(25);
                let cluster = ctx.cluster_mut(cluster_id).map_err(stderr_text)?;
                let now = SystemTime::now();
                let version = cluster.bump();
                cluster.services.push(Service {
                    id,
                    spec,
                    previous_spec: None,
                    created: now,
                    updated: now,
                    version,
                    template: 1,
                    update_status: None,
                });
            }
        }
    }
    Ok(())
}

fn stderr_text(output: Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_owned()
}

#[expect(clippy::too_many_arguments)]
fn convert_service(
    cluster: &Cluster,
    namespace: &str,
    key: &str,
    service: &Value,
    network_names: &BTreeMap<String, String>,
    secrets: &serde_json::Map<String, Value>,
    configs: &serde_json::Map<String, Value>,
    volumes: &serde_json::Map<String, Value>,
    pinned: &BTreeMap<String, String>,
) -> Result<ServiceSpec, String> {
    let Some(image) = service.get("image").and_then(scalar) else {
        return Err("image is required".to_owned());
    };
    let recorded = pinned
        .get(&image)
        .cloned()
        .unwrap_or_else(|| normalize_image(&image));
    let mut spec = ServiceSpec::new(&format!("{namespace}_{key}"), &recorded);
    let deploy = service.get("deploy").cloned().unwrap_or(Value::Null);
    if let Some(action) = deploy
        .get("update_config")
        .and_then(|update| update.get("failure_action"))
        .and_then(scalar)
    {
        spec.update_failure_action = action;
    }
    let mut labels = label_map(deploy.get("labels"));
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.to_owned());
    labels.insert("com.docker.stack.image".to_owned(), image.clone());
    spec.labels = labels;
    let mut container_labels = label_map(service.get("labels"));
    container_labels.insert(NAMESPACE_LABEL.to_owned(), namespace.to_owned());
    spec.container_labels = container_labels;
    spec.mode = match deploy.get("mode").and_then(Value::as_str) {
        Some("global") => Mode::Global,
        Some("replicated") | None => {
            Mode::Replicated(deploy.get("replicas").and_then(as_u64).unwrap_or(1))
        }
        Some(other) => return Err(format!("unknown mode: {other}")),
    };
    let placement = deploy.get("placement").cloned().unwrap_or(Value::Null);
    spec.constraints = placement
        .get("constraints")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    spec.max_replicas = placement
        .get("max_replicas_per_node")
        .and_then(as_u64)
        .unwrap_or(0);
    if let Some(command) = service.get("command") {
        spec.args = command_words(command);
    }
    if let Some(entrypoint) = service.get("entrypoint") {
        spec.command = command_words(entrypoint);
    }
    spec.env = key_value_list(service.get("environment"));
    spec.env.sort();
    spec.hostname = service.get("hostname").and_then(scalar);
    spec.user = service.get("user").and_then(scalar);
    spec.workdir = service.get("working_dir").and_then(scalar);
    spec.ports = compose_ports(service.get("ports"))?;
    spec.mounts = compose_mounts(namespace, service.get("volumes"), volumes);
    for (network, _) in service_networks(service) {
        let Some(name) = network_names.get(&network) else {
            return Err(format!("undefined network \"{network}\""));
        };
        if matches!(name.as_str(), "host" | "bridge" | "none") {
            continue;
        }
        match cluster
            .networks
            .iter()
            .find(|candidate| &candidate.name == name)
        {
            Some(found) => spec.networks.push(found.id.clone()),
            None => return Err(format!("undefined network \"{network}\"")),
        }
    }
    for (section, list_key, configs_kind) in
        [(secrets, "secrets", false), (configs, "configs", true)]
    {
        let mut requested = Vec::new();
        for (source, target) in service_objects(service, list_key) {
            let Some(config) = section.get(&source) else {
                return Err(format!(
                    "undefined {} \"{source}\"",
                    if configs_kind { "config" } else { "secret" }
                ));
            };
            let name = external_name(&source, config)
                .unwrap_or_else(|| object_name(namespace, &source, config));
            let target = target.unwrap_or_else(|| {
                if configs_kind {
                    format!("/{source}")
                } else {
                    source.clone()
                }
            });
            requested.push((name, target));
        }
        let resolved = resolve_objects(cluster, &requested, configs_kind)?;
        if configs_kind {
            spec.configs = resolved;
        } else {
            spec.secrets = resolved;
        }
    }
    Ok(spec)
}

fn stack_services<'a>(cluster: &'a Cluster, namespace: &str) -> Vec<&'a Service> {
    sorted_services(
        cluster
            .services
            .iter()
            .filter(|service| service.spec.stack() == Some(namespace)),
    )
}

fn remove(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker stack rm";
    let flags = Flags::parse(
        path,
        &["orchestrator=", "namespace=", "kubeconfig="],
        args,
        true,
    )?;
    require_args(
        path,
        "[OPTIONS] STACK [STACK...]",
        "Remove one or more stacks",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let mut out = Output::default();
    for namespace in &flags.args {
        let cluster = ctx.cluster_mut(&cluster_id)?;
        let services: Vec<String> = stack_services(cluster, namespace)
            .iter()
            .map(|service| service.spec.name.clone())
            .collect();
        let labelled = |labels: &BTreeMap<String, String>| {
            labels.get(NAMESPACE_LABEL).map(String::as_str) == Some(namespace.as_str())
        };
        let mut secrets: Vec<String> = cluster
            .secrets
            .iter()
            .filter(|secret| labelled(&secret.labels))
            .map(|secret| secret.name.clone())
            .collect();
        secrets.sort();
        let mut configs: Vec<String> = cluster
            .configs
            .iter()
            .filter(|config| labelled(&config.labels))
            .map(|config| config.name.clone())
            .collect();
        configs.sort();
        let mut networks: Vec<String> = cluster
            .networks
            .iter()
            .filter(|network| labelled(&network.labels))
            .map(|network| network.name.clone())
            .collect();
        networks.sort();
        if services.is_empty() && secrets.is_empty() && configs.is_empty() && networks.is_empty() {
            out.stderr
                .extend_from_slice(format!("Nothing found in stack: {namespace}\n").as_bytes());
            continue;
        }
        for name in &services {
            out.stdout
                .extend_from_slice(format!("Removing service {name}\n").as_bytes());
            cluster
                .services
                .retain(|service| &service.spec.name != name);
        }
        for name in &secrets {
            out.stdout
                .extend_from_slice(format!("Removing secret {name}\n").as_bytes());
            cluster.secrets.retain(|secret| &secret.name != name);
        }
        for name in &configs {
            out.stdout
                .extend_from_slice(format!("Removing config {name}\n").as_bytes());
            cluster.configs.retain(|config| &config.name != name);
        }
        for name in &networks {
            out.stdout
                .extend_from_slice(format!("Removing network {name}\n").as_bytes());
            cluster.networks.retain(|network| &network.name != name);
        }
        cluster.bump();
    }
    refresh(ctx.world);
    Ok(out)
}

fn list(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker stack ls";
    let flags = Flags::parse(
        path,
        &[
            "format=",
            "orchestrator=",
            "namespace=*",
            "all-namespaces",
            "kubeconfig=",
        ],
        args,
        true,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let cluster = ctx.cluster(&cluster_id)?;
    let mut names = cluster.stack_names();
    names.sort_by(|a, b| natural_cmp(a, b));
    let orchestrator = engine.stack_orchestrator();
    let items: Vec<Value> = names
        .iter()
        .map(|name| {
            let count = cluster
                .services
                .iter()
                .filter(|service| service.spec.stack() == Some(name.as_str()))
                .count();
            let mut fields = vec![
                ("Name", Value::String(name.clone())),
                ("Services", Value::String(count.to_string())),
            ];
            if orchestrator {
                fields.extend([
                    ("Namespace", Value::String(String::new())),
                    ("Orchestrator", Value::String("Swarm".to_owned())),
                ]);
            }
            sorted_object(fields)
        })
        .collect();
    print_list(
        &items,
        flags.value("format"),
        false,
        "Name",
        "table {{.Name}}\t{{.Services}}\t{{.Orchestrator}}",
    )
    .map(Output::ok)
    .map_err(|error| Output::error(error, 1))
}

fn services(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker stack services";
    let flags = Flags::parse(
        path,
        &[
            "quiet,q",
            "format=",
            "filter,f=*",
            "orchestrator=",
            "namespace=",
            "kubeconfig=",
        ],
        args,
        true,
    )?;
    require_exact(
        path,
        "[OPTIONS] STACK",
        "List the services in the stack",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let namespace = &flags.args[0];
    let services = stack_services(cluster, namespace);
    if services.is_empty() {
        return Ok(Output::default().with_stderr(format!("Nothing found in stack: {namespace}\n")));
    }
    let items: Vec<Value> = services
        .iter()
        .map(|service| service_item(cluster, service))
        .collect();
    print_list(
        &items,
        flags.value("format"),
        flags.bool("quiet"),
        "ID",
        SERVICE_TABLE,
    )
    .map(Output::ok)
    .map_err(|error| Output::error(error, 1))
}

fn ps(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker stack ps";
    let flags = Flags::parse(
        path,
        &[
            "quiet,q",
            "format=",
            "filter,f=*",
            "no-trunc",
            "no-resolve",
            "orchestrator=",
            "namespace=",
            "kubeconfig=",
        ],
        args,
        true,
    )?;
    require_exact(
        path,
        "[OPTIONS] STACK",
        "List the tasks in the stack",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let namespace = &flags.args[0];
    let ids: Vec<&String> = stack_services(cluster, namespace)
        .iter()
        .map(|service| &service.id)
        .collect();
    let tasks: Vec<&Task> = cluster
        .tasks
        .iter()
        .filter(|task| ids.contains(&&task.service))
        .collect();
    if tasks.is_empty() {
        return Ok(Output::default().with_stderr(format!("Nothing found in stack: {namespace}\n")));
    }
    print_tasks(cluster, tasks, &flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Compose interpolation expands known variables, defaults and `$$`, and warns for unset
    // ones.
    #[test]
    fn interpolation() {
        let mut warnings = Vec::new();
        assert_eq!(
            interpolate("$HOME ${NOPE:-x} $$ ${HOME}", &mut warnings).expect("as set up"),
            "/root x $ /root"
        );
        assert!(warnings.is_empty());
        assert_eq!(
            interpolate("a${MISSING}b", &mut warnings).expect("as set up"),
            "ab"
        );
        assert_eq!(
            warnings,
            ["The MISSING variable is not set. Defaulting to a blank string."]
        );
    }

    // Compose files need a 3.x version, as the 20.10 CLI only knows those schemas.
    #[test]
    fn compose_versions() {
        for (text, expected) in [
            ("version: \"3.8\"\nservices: {}\n", None),
            ("version: 3\nservices: {}\n", None),
            (
                "services: {}\n",
                Some("unsupported Compose file version: 1.0"),
            ),
            (
                "version: \"2.4\"\nservices: {}\n",
                Some("unsupported Compose file version: 2.4"),
            ),
        ] {
            let value: Value = serde_norway::from_str(text).expect("yaml");
            assert_eq!(
                check_version(&value, Engine::of("20.10.24"))
                    .err()
                    .as_deref(),
                expected,
                "{text}"
            );
        }
        // From 23 a file without `version` is the latest schema, 3.10.
        let newer = Engine::of("26.1.5+dfsg1");
        for text in ["services: {}\n", "version: \"3.10\"\nservices: {}\n"] {
            let value: Value = serde_norway::from_str(text).expect("yaml");
            assert_eq!(check_version(&value, newer), Ok(()), "{text}");
        }
        let value: Value = serde_norway::from_str("version: \"3.10\"\n").expect("yaml");
        assert!(check_version(&value, Engine::of("20.10.24")).is_err());
    }

    // Command strings split like a shell, lists are kept.
    #[test]
    fn commands() {
        assert_eq!(
            command_words(&Value::String("httpd -f -p '8080 x'".to_owned())),
            ["httpd", "-f", "-p", "8080 x"]
        );
    }
}
