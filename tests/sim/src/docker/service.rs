//! `docker service`, and the service and task list items `docker stack` and `docker node ps`
//! share.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::flags::{Flags, key_values, require_args, require_exact, usage_error};
use super::format::{
    ago, go_json_pretty, print_list, print_one, rfc3339, sorted_object, string_map,
};
use super::swarm::{
    Cluster, LookupError, Mode, ObjectRef, PortConfig, PublishMode, Service, ServiceSpec, Task,
    TaskState, UpdateStatus, parse_constraint, refresh, strip_digest,
};
use super::version::Engine;
use super::{Ctx, daemon_error, natural_cmp, normalize_image, truncate_id};
use crate::exec::Output;
use crate::world::World;

pub(crate) const SERVICE_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}";
pub(crate) const TASK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}";

/// The flags `service create` and `service update` share (settings the simulator records or
/// ignores).
const COMMON_FLAGS: &[&str] = &[
    "detach,d",
    "quiet,q",
    "with-registry-auth",
    "no-resolve-image",
    "hostname=",
    "user,u=",
    "workdir,w=",
    "entrypoint=",
    "restart-condition=",
    "restart-delay=",
    "restart-max-attempts=",
    "restart-window=",
    "update-parallelism=",
    "update-delay=",
    "update-failure-action=",
    "update-monitor=",
    "update-max-failure-ratio=",
    "update-order=",
    "rollback-parallelism=",
    "rollback-delay=",
    "rollback-failure-action=",
    "rollback-monitor=",
    "rollback-max-failure-ratio=",
    "rollback-order=",
    "limit-cpu=",
    "limit-memory=",
    "limit-pids=",
    "reserve-cpu=",
    "reserve-memory=",
    "health-cmd=",
    "health-interval=",
    "health-retries=",
    "health-timeout=",
    "health-start-period=",
    "no-healthcheck",
    "stop-grace-period=",
    "stop-signal=",
    "endpoint-mode=",
    "read-only",
    "init",
    "tty,t",
    "max-replicas=",
    "log-driver=",
    "log-opt=*",
    "isolation=",
    "credential-spec=",
    "replicas-max-per-node=",
];

const CREATE_FLAGS: &[&str] = &[
    "name=",
    "replicas=",
    "mode=",
    "constraint=*",
    "placement-pref=*",
    "publish,p=*",
    "mount=*",
    "config=*",
    "secret=*",
    "network=*",
    "label,l=*",
    "container-label=*",
    "env,e=*",
    "env-file=*",
    "dns=*",
    "dns-search=*",
    "dns-option=*",
    "host=*",
    "group=*",
    "cap-add=*",
    "cap-drop=*",
    "generic-resource=*",
    "sysctl=*",
    "ulimit=*",
];

const UPDATE_FLAGS: &[&str] = &[
    "image=",
    "replicas=",
    "force",
    "rollback",
    "args=",
    "constraint-add=*",
    "constraint-rm=*",
    "placement-pref-add=*",
    "placement-pref-rm=*",
    "publish-add=*",
    "publish-rm=*",
    "mount-add=*",
    "mount-rm=*",
    "config-add=*",
    "config-rm=*",
    "secret-add=*",
    "secret-rm=*",
    "network-add=*",
    "network-rm=*",
    "label-add=*",
    "label-rm=*",
    "container-label-add=*",
    "container-label-rm=*",
    "env-add=*",
    "env-rm=*",
    "dns-add=*",
    "dns-rm=*",
    "host-add=*",
    "host-rm=*",
    "group-add=*",
    "group-rm=*",
    "cap-add=*",
    "cap-drop=*",
    "generic-resource-add=*",
    "generic-resource-rm=*",
    "sysctl-add=*",
    "sysctl-rm=*",
    "ulimit-add=*",
    "ulimit-rm=*",
];

pub(crate) fn command(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker service COMMAND\n\nManage services\n\nCommands:\n  create      Create a new service\n  inspect     Display detailed information on one or more services\n  logs        Fetch the logs of a service or task\n  ls          List services\n  ps          List the tasks of one or more services\n  rm          Remove one or more services\n  rollback    Revert changes to a service's configuration\n  scale       Scale one or multiple replicated services\n  update      Update a service\n\nRun 'docker service COMMAND --help' for more information on a command.\n",
        );
    };
    let result = match sub {
        "create" => create(ctx, rest),
        "update" => update(ctx, rest, false),
        "rollback" => update(ctx, rest, true),
        "rm" | "remove" => remove(ctx, rest),
        "ls" | "list" => list(ctx, rest),
        "ps" => ps(ctx, rest),
        "inspect" => inspect(ctx, rest),
        "scale" => scale(ctx, rest),
        "logs" => Err(Output::error(
            "simulator: docker service logs is not supported",
            1,
        )),
        other => Err(Output::error(
            format!("docker: 'service {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        )),
    };
    result.unwrap_or_else(|output| output)
}

/// `[published:]target[/protocol]` or `published=P,target=T,mode=host,protocol=tcp`.
pub(crate) fn parse_publish(text: &str) -> Result<PortConfig, String> {
    let mut port = PortConfig {
        target: 0,
        published: None,
        protocol: "tcp".to_owned(),
        mode: PublishMode::Ingress,
        auto: false,
    };
    if text.contains('=') {
        for field in text.split(',') {
            let Some((key, value)) = field.split_once('=') else {
                return Err(format!("invalid field '{field}' must be a key=value pair"));
            };
            match key.to_ascii_lowercase().as_str() {
                "published" | "p" => {
                    port.published = Some(
                        value
                            .parse()
                            .map_err(|_| format!("invalid published port '{value}'"))?,
                    )
                }
                "target" | "t" => {
                    port.target = value
                        .parse()
                        .map_err(|_| format!("invalid target port '{value}'"))?
                }
                "mode" => {
                    port.mode = match value {
                        "host" => PublishMode::Host,
                        "ingress" => PublishMode::Ingress,
                        other => {
                            return Err(format!(
                                "invalid publish mode value ({other}): must be either 'ingress' or 'host'"
                            ));
                        }
                    }
                }
                "protocol" => {
                    if !matches!(value, "tcp" | "udp" | "sctp") {
                        return Err(format!("invalid protocol value '{value}'"));
                    }
                    port.protocol = value.to_owned();
                }
                other => return Err(format!("invalid field key '{other}'")),
            }
        }
        if port.target == 0 {
            return Err("missing mandatory field \"target\"".to_owned());
        }
        return Ok(port);
    }
    let (ports, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    port.protocol = protocol.to_owned();
    let parts: Vec<&str> = ports.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [target] => (None, *target),
        [published, target] => (Some(*published), *target),
        [_ip, published, target] => (Some(*published), *target),
        _ => return Err(format!("invalid port format '{text}'")),
    };
    port.target = target
        .parse()
        .map_err(|_| format!("invalid containerPort: {target}"))?;
    port.published = match published {
        Some("") | None => None,
        Some(published) => Some(
            published
                .parse()
                .map_err(|_| format!("invalid hostPort: {published}"))?,
        ),
    };
    Ok(port)
}

/// `NAME` or `source=NAME,target=PATH,...`.
fn parse_object_ref(text: &str) -> (String, String) {
    if !text.contains('=') {
        return (text.to_owned(), text.to_owned());
    }
    let mut source = String::new();
    let mut target = String::new();
    for field in text.split(',') {
        if let Some((key, value)) = field.split_once('=') {
            match key {
                "source" | "src" => source = value.to_owned(),
                "target" => target = value.to_owned(),
                _ => {}
            }
        }
    }
    if target.is_empty() {
        target = source.clone();
    }
    (source, target)
}

/// Resolves secret or config names to references: the CLI's `secret not found: NAME`.
pub(crate) fn resolve_objects(
    cluster: &Cluster,
    requested: &[(String, String)],
    configs: bool,
) -> Result<Vec<ObjectRef>, String> {
    let store = if configs {
        &cluster.configs
    } else {
        &cluster.secrets
    };
    let kind = if configs { "config" } else { "secret" };
    let mut out: Vec<ObjectRef> = Vec::new();
    for (name, target) in requested {
        if out.iter().any(|existing| existing.target == *target) {
            return Err(format!("duplicate {kind} target for {name} not allowed"));
        }
        let Some(object) = store.iter().find(|object| object.name == *name) else {
            return Err(format!("{kind} not found: {name}"));
        };
        out.push(ObjectRef {
            id: object.id.clone(),
            name: object.name.clone(),
            target: target.clone(),
        });
    }
    Ok(out)
}

fn resolve_networks(cluster: &Cluster, names: &[String]) -> Result<Vec<String>, Output> {
    let mut ids = Vec::new();
    for name in names {
        let name = name
            .split(',')
            .find_map(|field| field.strip_prefix("name="))
            .unwrap_or(name);
        match cluster.find_network(name) {
            Ok(index) if !cluster.networks[index].ingress => {
                ids.push(cluster.networks[index].id.clone())
            }
            _ => return Err(daemon_error(&format!("network {name} not found"))),
        }
    }
    Ok(ids)
}

fn random_name(ctx: &mut Ctx<'_>) -> String {
    const LEFT: &[&str] = &[
        "admiring",
        "brave",
        "clever",
        "dazzling",
        "eager",
        "festive",
        "gallant",
        "happy",
        "jolly",
        "keen",
        "loving",
        "modest",
        "nostalgic",
        "optimistic",
        "practical",
        "quirky",
        "relaxed",
        "serene",
        "trusting",
        "vibrant",
        "wizardly",
        "xenodochial",
        "youthful",
        "zealous",
    ];
    const RIGHT: &[&str] = &[
        "bell", "curie", "darwin", "einstein", "fermi", "galileo", "hopper", "johnson", "kepler",
        "lovelace", "mayer", "newton", "noether", "pasteur", "ritchie", "shannon", "thompson",
        "turing", "wozniak", "yalow",
    ];
    let rng = &mut ctx.world.rng;
    format!(
        "{}_{}",
        LEFT[rng.below(LEFT.len() as u64) as usize],
        RIGHT[rng.below(RIGHT.len() as u64) as usize]
    )
}

/// What the CLI's convergence monitor prints when stdout is not a terminal (the per-task
/// progress bars are dropped), once the service has converged.
fn converge_text(count: u64) -> String {
    format!("overall progress: {count} out of {count} tasks\nverify: Service converged\n")
}

fn desired_count(cluster: &Cluster, service: &Service) -> u64 {
    match service.spec.mode {
        Mode::Replicated(replicas) => replicas,
        Mode::Global => cluster
            .tasks
            .iter()
            .filter(|task| task.service == service.id && task.desired_running)
            .count() as u64,
    }
}

fn parse_replicas(path: &str, value: &str) -> Result<u64, Output> {
    value.parse::<u64>().map_err(|_| {
        usage_error(
            path,
            &format!("invalid argument \"{value}\" for \"--replicas\" flag: strconv.ParseUint: parsing \"{value}\": invalid syntax"),
        )
    })
}

fn check_constraints(constraints: &[String]) -> Result<(), Output> {
    for constraint in constraints {
        if parse_constraint(constraint).is_none() {
            return Err(daemon_error(
                "rpc error: code = InvalidArgument desc = constraint expected one operator from ==, !=",
            ));
        }
    }
    Ok(())
}

/// Ingress ports: a published port per target, and no port used by two services.
pub(crate) fn assign_ingress_ports(
    cluster: &mut Cluster,
    spec: &mut ServiceSpec,
    service_id: Option<&str>,
) -> Result<(), Output> {
    for index in 0..spec.ports.len() {
        if spec.ports[index].mode != PublishMode::Ingress {
            continue;
        }
        let published = match spec.ports[index].published {
            Some(published) => published,
            None => {
                let port = cluster.next_ingress_port();
                spec.ports[index].published = Some(port);
                spec.ports[index].auto = true;
                port
            }
        };
        if let Some(other) = cluster.services.iter().find(|service| {
            Some(service.id.as_str()) != service_id
                && service.spec.ports.iter().any(|port| {
                    port.mode == PublishMode::Ingress && port.published == Some(published)
                })
        }) {
            return Err(daemon_error(&format!(
                "rpc error: code = InvalidArgument desc = port '{published}' is already in use by service '{}' ({}) as an ingress port",
                other.spec.name, other.id
            )));
        }
    }
    Ok(())
}

fn create(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker service create";
    let specs: Vec<&str> = CREATE_FLAGS.iter().chain(COMMON_FLAGS).copied().collect();
    let flags = Flags::parse(path, &specs, args, false)?;
    require_args(
        path,
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        "Create a new service",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let mode = match flags.value("mode").unwrap_or("replicated") {
        "replicated" => Mode::Replicated(match flags.value("replicas") {
            Some(value) => parse_replicas(path, value)?,
            None => 1,
        }),
        "global" => {
            if flags.has("replicas") {
                return Err(Output::error(
                    "replicas can only be used with replicated or replicated-job mode",
                    1,
                ));
            }
            Mode::Global
        }
        other => {
            return Err(Output::error(
                format!(
                    "invalid mode: {other}, must be one of: replicated, global, replicated-job, global-job"
                ),
                1,
            ));
        }
    };
    let mut ports = Vec::new();
    for publish in flags.values("publish") {
        ports.push(parse_publish(publish).map_err(|error| {
            usage_error(
                path,
                &format!("invalid argument \"{publish}\" for \"-p, --publish\" flag: {error}"),
            )
        })?);
    }
    let (cluster_id, _) = ctx.require_manager()?;
    let name = match flags.value("name") {
        Some(name) => name.to_owned(),
        None => random_name(ctx),
    };
    let cluster = ctx.cluster(&cluster_id)?;
    let secrets: Vec<(String, String)> = flags
        .values("secret")
        .iter()
        .map(|text| parse_object_ref(text))
        .collect();
    let configs: Vec<(String, String)> = flags
        .values("config")
        .iter()
        .map(|text| parse_object_ref(text))
        .collect();
    let secrets =
        resolve_objects(cluster, &secrets, false).map_err(|error| Output::error(error, 1))?;
    let configs =
        resolve_objects(cluster, &configs, true).map_err(|error| Output::error(error, 1))?;
    let networks = resolve_networks(cluster, flags.values("network"))?;
    let constraints = flags.values("constraint").to_vec();
    check_constraints(&constraints)?;
    if cluster
        .services
        .iter()
        .any(|service| service.spec.name == name)
    {
        return Err(daemon_error(&format!(
            "rpc error: code = AlreadyExists desc = service {name} already exists"
        )));
    }
    let (image, warning) = pin_image(ctx.world, &flags.args[0]);
    let mut spec = ServiceSpec::new(&name, &image);
    if let Some(action) = flags.value("update-failure-action") {
        spec.update_failure_action = action.to_owned();
    }
    spec.args = flags.args[1..].to_vec();
    if let Some(entrypoint) = flags.value("entrypoint") {
        spec.command = entrypoint.split_whitespace().map(str::to_owned).collect();
    }
    spec.env = flags.values("env").to_vec();
    spec.labels = key_values(flags.values("label"));
    spec.container_labels = key_values(flags.values("container-label"));
    spec.mode = mode;
    spec.constraints = constraints;
    spec.max_replicas = flags
        .value("replicas-max-per-node")
        .or(flags.value("max-replicas"))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    spec.ports = ports;
    spec.mounts = flags.values("mount").to_vec();
    spec.secrets = secrets;
    spec.configs = configs;
    spec.networks = networks;
    spec.hostname = flags.value("hostname").map(str::to_owned);
    spec.user = flags.value("user").map(str::to_owned);
    spec.workdir = flags.value("workdir").map(str::to_owned);
    let id = ctx.world.rng.base36(25);
    let cluster = ctx.cluster_mut(&cluster_id)?;
    assign_ingress_ports(cluster, &mut spec, None)?;
    let now = SystemTime::now();
    let version = cluster.bump();
    cluster.services.push(Service {
        id: id.clone(),
        spec,
        previous_spec: None,
        created: now,
        updated: now,
        version,
        template: 1,
        update_status: None,
    });
    refresh(ctx.world);
    let mut out = format!("{warning}{id}\n");
    if !flags.bool("detach") && !flags.bool("quiet") {
        let cluster = ctx.cluster(&cluster_id)?;
        if let Some(service) = cluster.services.iter().find(|service| service.id == id) {
            out.push_str(&converge_text(desired_count(cluster, service)));
        }
    }
    Ok(Output::ok(out))
}

/// The image a service records: pinned to its digest (`name:tag@sha256:…`) as the daemon does
/// when a registry knows it, or as given with the CLI's warning when none does.
pub(crate) fn pin_image(world: &World, image: &str) -> (String, String) {
    let image = normalize_image(image);
    if image.contains('@') {
        return (image, String::new());
    }
    if world.missing_images.contains(&image) {
        let warning = format!(
            "image {image} could not be accessed on a registry to record\nits digest. Each node will access {image} independently,\npossibly leading to different nodes running different\nversions of the image.\n"
        );
        return (image, warning);
    }
    let digest = crate::hash::sha256_hex(image.as_bytes());
    (format!("{image}@sha256:{digest}"), String::new())
}

/// Finds a service for a command that reports a missing one as `Error: No such service: X`,
/// or, given the host's `engine`, as that version's CLI says it (`docker service rm`: the
/// daemon's words from 26).
fn service_index(
    cluster: &Cluster,
    reference: &str,
    engine: Option<Engine>,
) -> Result<usize, Output> {
    match cluster.find_service(reference) {
        Ok(index) => Ok(index),
        Err(LookupError::NotFound) => Err(Output::error(
            match engine {
                Some(engine) => engine.not_found("service", reference),
                None => format!("Error: No such service: {reference}"),
            },
            1,
        )),
        Err(LookupError::Ambiguous(count)) => Err(daemon_error(&format!(
            "service {reference} is ambiguous ({count} matches found)"
        ))),
    }
}

fn update(ctx: &mut Ctx<'_>, args: &[&str], rollback_command: bool) -> Result<Output, Output> {
    let path = if rollback_command {
        "docker service rollback"
    } else {
        "docker service update"
    };
    let specs: Vec<&str> = UPDATE_FLAGS.iter().chain(COMMON_FLAGS).copied().collect();
    let flags = Flags::parse(path, &specs, args, true)?;
    require_exact(
        path,
        "[OPTIONS] SERVICE",
        "Update a service",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let reference = flags.args[0].clone();
    let cluster = ctx.cluster(&cluster_id)?;
    let index = service_index(cluster, &reference, None)?;
    let service = &cluster.services[index];
    let old = service.spec.clone();
    let rollback = rollback_command || flags.bool("rollback");
    let mut spec = if rollback {
        match &service.previous_spec {
            Some(previous) => previous.clone(),
            None => {
                return Err(daemon_error(&format!(
                    "rpc error: code = FailedPrecondition desc = service {} does not have a previous spec",
                    service.id
                )));
            }
        }
    } else {
        old.clone()
    };
    let mut warning = String::new();
    if let Some(image) = flags.value("image") {
        (spec.image, warning) = pin_image(ctx.world, image);
    }
    if let Some(action) = flags.value("update-failure-action") {
        spec.update_failure_action = action.to_owned();
    }
    if let Some(replicas) = flags.value("replicas") {
        let replicas = parse_replicas(path, replicas)?;
        match spec.mode {
            Mode::Replicated(_) => spec.mode = Mode::Replicated(replicas),
            Mode::Global => {
                return Err(Output::error(
                    "replicas can only be used with replicated or replicated-job mode",
                    1,
                ));
            }
        }
    }
    if flags.bool("force") {
        spec.force_update += 1;
    }
    if let Some(args) = flags.value("args") {
        spec.args = args.split_whitespace().map(str::to_owned).collect();
    }
    for constraint in flags.values("constraint-rm") {
        spec.constraints.retain(|existing| existing != constraint);
    }
    for constraint in flags.values("constraint-add") {
        if !spec.constraints.contains(constraint) {
            spec.constraints.push(constraint.clone());
        }
    }
    check_constraints(&spec.constraints)?;
    for key in flags.values("label-rm") {
        spec.labels.remove(key);
    }
    spec.labels.extend(key_values(flags.values("label-add")));
    for key in flags.values("container-label-rm") {
        spec.container_labels.remove(key);
    }
    spec.container_labels
        .extend(key_values(flags.values("container-label-add")));
    for key in flags.values("env-rm") {
        spec.env
            .retain(|entry| entry.split('=').next() != Some(key.as_str()));
    }
    for entry in flags.values("env-add") {
        let key = entry.split('=').next().unwrap_or("");
        spec.env
            .retain(|existing| existing.split('=').next() != Some(key));
        spec.env.push(entry.clone());
    }
    for mount in flags.values("mount-rm") {
        spec.mounts
            .retain(|existing| !existing.contains(mount.as_str()));
    }
    spec.mounts
        .extend(flags.values("mount-add").iter().cloned());
    for publish in flags.values("publish-rm") {
        let target: Option<u16> = parse_publish(publish)
            .ok()
            .map(|port| port.target)
            .or_else(|| publish.parse().ok());
        spec.ports.retain(|port| Some(port.target) != target);
    }
    for publish in flags.values("publish-add") {
        let port = parse_publish(publish).map_err(|error| {
            usage_error(
                path,
                &format!("invalid argument \"{publish}\" for \"--publish-add\" flag: {error}"),
            )
        })?;
        spec.ports.retain(|existing| existing.target != port.target);
        spec.ports.push(port);
    }
    let secret_rm = flags.values("secret-rm");
    spec.secrets
        .retain(|reference| !secret_rm.contains(&reference.name));
    let added: Vec<(String, String)> = flags
        .values("secret-add")
        .iter()
        .map(|text| parse_object_ref(text))
        .collect();
    spec.secrets
        .extend(resolve_objects(cluster, &added, false).map_err(|error| Output::error(error, 1))?);
    let config_rm = flags.values("config-rm");
    spec.configs
        .retain(|reference| !config_rm.contains(&reference.name));
    let added: Vec<(String, String)> = flags
        .values("config-add")
        .iter()
        .map(|text| parse_object_ref(text))
        .collect();
    spec.configs
        .extend(resolve_objects(cluster, &added, true).map_err(|error| Output::error(error, 1))?);
    let removed = resolve_networks(cluster, flags.values("network-rm"))?;
    spec.networks.retain(|network| !removed.contains(network));
    for network in resolve_networks(cluster, flags.values("network-add"))? {
        if !spec.networks.contains(&network) {
            spec.networks.push(network);
        }
    }
    if let Some(hostname) = flags.value("hostname") {
        spec.hostname = Some(hostname.to_owned());
    }
    if let Some(user) = flags.value("user") {
        spec.user = Some(user.to_owned());
    }
    if let Some(workdir) = flags.value("workdir") {
        spec.workdir = Some(workdir.to_owned());
    }
    if let Some(max) = flags
        .value("replicas-max-per-node")
        .or(flags.value("max-replicas"))
    {
        spec.max_replicas = max.parse().unwrap_or(0);
    }
    let service_id = cluster.services[index].id.clone();
    let cluster = ctx.cluster_mut(&cluster_id)?;
    assign_ingress_ports(cluster, &mut spec, Some(&service_id))?;
    let version = cluster.bump();
    let service = &mut cluster.services[index];
    let replaced = !spec.same_tasks(&old);
    if replaced {
        service.template += 1;
    }
    service.previous_spec = Some(old.clone());
    service.spec = spec;
    service.updated = SystemTime::now();
    service.version = version;
    // swarmkit resets the update status on every update; a manual rollback completes here.
    service.update_status = rollback.then(|| UpdateStatus {
        state: "rollback_completed",
        message: "rollback completed".to_owned(),
        started: service.updated,
        completed: Some(service.updated),
    });
    if replaced && !rollback {
        let missing = ctx.world.missing_images.clone();
        let World { clusters, rng, .. } = &mut *ctx.world;
        if let Some(cluster) = clusters.get_mut(&cluster_id) {
            cluster.roll_out(index, old, &missing, rng);
        }
    }
    refresh(ctx.world);
    let mut out = format!("{warning}{reference}\n");
    if rollback {
        out = format!("{reference}\nrollback: manually requested rollback\n");
    }
    if !flags.bool("detach") && !flags.bool("quiet") {
        let cluster = ctx.cluster(&cluster_id)?;
        if let Some(service) = cluster
            .services
            .iter()
            .find(|service| service.id == service_id)
        {
            out.push_str(&converge_text(desired_count(cluster, service)));
        }
    } else if flags.bool("quiet") {
        out = String::new();
    }
    Ok(Output::ok(out))
}

fn remove(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker service rm";
    let flags = Flags::parse(path, &[], args, true)?;
    require_args(
        path,
        "SERVICE [SERVICE...]",
        "Remove one or more services",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let engine = ctx.engine();
    let mut out = Output::default();
    for reference in &flags.args {
        let cluster = ctx.cluster_mut(&cluster_id)?;
        match service_index(cluster, reference, Some(engine)) {
            Ok(index) => {
                cluster.services.remove(index);
                cluster.bump();
                out.stdout
                    .extend_from_slice(format!("{reference}\n").as_bytes());
            }
            Err(error) => {
                out.stderr.extend_from_slice(&error.stderr);
                out.status = 1;
            }
        }
    }
    refresh(ctx.world);
    Ok(out)
}

fn scale(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker service scale";
    let flags = Flags::parse(path, &["detach,d"], args, true)?;
    require_args(
        path,
        "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
        "Scale one or multiple replicated services",
        &flags.args,
        1,
    )?;
    for arg in &flags.args {
        if !arg.contains('=') {
            return Err(Output::error(
                format!(
                    "Invalid scale specifier '{arg}'.\nSee 'docker service scale --help'.\n\nUsage:  docker service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services"
                ),
                1,
            ));
        }
    }
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let mut out = Output::default();
    for arg in &flags.args {
        let (reference, count) = arg.split_once('=').unwrap_or((arg, "0"));
        let Ok(count) = count.parse::<u64>() else {
            out.stderr.extend_from_slice(
                format!("invalid replicas value {count}: strconv.ParseUint: parsing \"{count}\": invalid syntax\n").as_bytes(),
            );
            out.status = 1;
            continue;
        };
        let cluster = ctx.cluster_mut(&cluster_id)?;
        let index = match service_index(cluster, reference, None) {
            Ok(index) => index,
            Err(error) => {
                out.stderr.extend_from_slice(&error.stderr);
                out.status = 1;
                continue;
            }
        };
        let version = cluster.bump();
        let service = &mut cluster.services[index];
        if service.spec.mode == Mode::Global {
            out.stderr.extend_from_slice(
                format!(
                    "{reference}: scale can only be used with replicated or replicated-job mode\n"
                )
                .as_bytes(),
            );
            out.status = 1;
            continue;
        }
        service.previous_spec = Some(service.spec.clone());
        service.update_status = None;
        service.spec.mode = Mode::Replicated(count);
        service.version = version;
        service.updated = SystemTime::now();
        out.stdout
            .extend_from_slice(format!("{reference} scaled to {count}\n").as_bytes());
        if !flags.bool("detach") {
            out.stdout
                .extend_from_slice(converge_text(count).as_bytes());
        }
    }
    refresh(ctx.world);
    Ok(out)
}

/// `*:8080->80/tcp, *:443->443/tcp` for the ingress ports of a service.
fn ingress_ports(spec: &ServiceSpec) -> String {
    spec.ports
        .iter()
        .filter(|port| port.mode == PublishMode::Ingress)
        .map(PortConfig::display)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `docker service ls` / `docker stack services` item.
pub(crate) fn service_item(cluster: &Cluster, service: &Service) -> Value {
    let running = cluster
        .tasks
        .iter()
        .filter(|task| {
            task.service == service.id && task.desired_running && task.state == TaskState::Running
        })
        .count();
    let (mode, mut replicas) = match service.spec.mode {
        Mode::Replicated(desired) => ("replicated", format!("{running}/{desired}")),
        Mode::Global => (
            "global",
            format!("{running}/{}", desired_count(cluster, service)),
        ),
    };
    if service.spec.max_replicas > 0 {
        replicas.push_str(&format!(" (max {} per node)", service.spec.max_replicas));
    }
    sorted_object(vec![
        ("ID", json!(truncate_id(&service.id))),
        ("Image", json!(strip_digest(&service.spec.image))),
        ("Mode", json!(mode)),
        ("Name", json!(service.spec.name)),
        ("Ports", json!(ingress_ports(&service.spec))),
        ("Replicas", json!(replicas)),
    ])
}

/// Services sorted by name, like `docker service ls`.
pub(crate) fn sorted_services<'a>(services: impl Iterator<Item = &'a Service>) -> Vec<&'a Service> {
    let mut services: Vec<&Service> = services.collect();
    services.sort_by(|a, b| natural_cmp(&a.spec.name, &b.spec.name));
    services
}

fn task_name(cluster: &Cluster, task: &Task) -> String {
    let service = cluster
        .services
        .iter()
        .find(|service| service.id == task.service)
        .map(|service| service.spec.name.as_str())
        .unwrap_or("");
    if task.slot != 0 {
        format!("{service}.{}", task.slot)
    } else {
        format!("{service}.{}", task.node.as_deref().unwrap_or(""))
    }
}

/// A task list item (`service ps`, `node ps`, `stack ps`).
pub(crate) fn task_item(
    cluster: &Cluster,
    task: &Task,
    truncate: bool,
    resolve: bool,
    name: String,
) -> Value {
    let node = match &task.node {
        Some(id) if resolve => cluster
            .node(id)
            .map(|node| node.hostname.clone())
            .unwrap_or_else(|| id.clone()),
        Some(id) => id.clone(),
        None => String::new(),
    };
    let error = if task.error.is_empty() {
        String::new()
    } else {
        let mut error = task.error.clone();
        if truncate && error.chars().count() > 30 {
            error = format!("{}…", error.chars().take(29).collect::<String>());
        }
        format!("{error:?}")
    };
    let ports = if task.desired_running && task.state == TaskState::Running {
        cluster
            .services
            .iter()
            .find(|service| service.id == task.service)
            .map(|service| {
                service
                    .spec
                    .ports
                    .iter()
                    .filter(|port| port.mode == PublishMode::Host)
                    .map(PortConfig::display)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    let ago_text = ago(task.since).to_lowercase();
    sorted_object(vec![
        (
            "CurrentState",
            json!(format!("{} {ago_text}", task.state.title())),
        ),
        (
            "DesiredState",
            json!(match (task.desired_running, task.state) {
                (true, TaskState::Rejected) => "Ready",
                (true, _) => "Running",
                (false, _) => "Shutdown",
            }),
        ),
        ("Error", json!(error)),
        (
            "ID",
            json!(if truncate {
                truncate_id(&task.id).to_owned()
            } else {
                task.id.clone()
            }),
        ),
        ("Image", json!(strip_digest(&task.image))),
        ("Name", json!(name)),
        ("Node", json!(node)),
        ("Ports", json!(ports)),
    ])
}

/// Prints tasks as `docker service ps` does: sorted by slot then most recent, filtered, with
/// ` \_ ` before older tasks of a slot in tables.
pub(crate) fn print_tasks(
    cluster: &Cluster,
    tasks: Vec<&Task>,
    flags: &Flags,
) -> Result<Output, Output> {
    let mut tasks = tasks;
    for (key, value) in flags.filters() {
        match key.as_str() {
            "desired-state" => match value.as_str() {
                "running" => tasks.retain(|task| task.desired_running),
                "shutdown" => tasks.retain(|task| !task.desired_running),
                "accepted" => {}
                other => {
                    return Err(daemon_error(&format!(
                        "Invalid task desired state filter: {other}"
                    )));
                }
            },
            "name" => tasks.retain(|task| task_name(cluster, task).starts_with(&value)),
            "id" => tasks.retain(|task| task.id.starts_with(&value)),
            "node" => tasks.retain(|task| {
                task.node.as_deref().is_some_and(|id| {
                    id == value || cluster.node(id).is_some_and(|node| node.hostname == value)
                })
            }),
            other => {
                return Err(daemon_error(&format!("Invalid filter '{other}'")));
            }
        }
    }
    tasks.sort_by(|a, b| a.slot.cmp(&b.slot).then(b.created.cmp(&a.created)));
    // Quiet output lists full task IDs.
    let truncate = !flags.bool("no-trunc") && !flags.bool("quiet");
    let resolve = !flags.bool("no-resolve");
    let format = flags.value("format");
    let table = format.is_none_or(|format| format.starts_with("table"));
    let mut previous = String::new();
    let items: Vec<Value> = tasks
        .iter()
        .map(|task| {
            let name = task_name(cluster, task);
            let shown = if table && name == previous {
                format!(" \\_ {name}")
            } else {
                name.clone()
            };
            previous = name;
            task_item(cluster, task, truncate, resolve, shown)
        })
        .collect();
    print_list(&items, format, flags.bool("quiet"), "ID", TASK_TABLE)
        .map(Output::ok)
        .map_err(|error| Output::error(error, 1))
}

fn list(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker service ls";
    let flags = Flags::parse(path, &["quiet,q", "format=", "filter,f=*"], args, true)?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let mut services = sorted_services(cluster.services.iter());
    for (key, value) in flags.filters() {
        match key.as_str() {
            "name" => services.retain(|service| service.spec.name.starts_with(&value)),
            "id" => services.retain(|service| service.id.starts_with(&value)),
            "mode" => services.retain(|service| {
                matches!(
                    (service.spec.mode, value.as_str()),
                    (Mode::Replicated(_), "replicated") | (Mode::Global, "global")
                )
            }),
            "label" => services.retain(|service| match value.split_once('=') {
                Some((key, value)) => service.spec.labels.get(key).is_some_and(|v| v == value),
                None => service.spec.labels.contains_key(&value),
            }),
            other => return Err(daemon_error(&format!("Invalid filter '{other}'"))),
        }
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
    let path = "docker service ps";
    let flags = Flags::parse(
        path,
        &["quiet,q", "format=", "filter,f=*", "no-trunc", "no-resolve"],
        args,
        true,
    )?;
    require_args(
        path,
        "[OPTIONS] SERVICE [SERVICE...]",
        "List the tasks of one or more services",
        &flags.args,
        1,
    )?;
    ctx.require_daemon()?;
    let (cluster_id, _) = ctx.require_manager()?;
    let cluster = ctx.cluster(&cluster_id)?;
    let mut ids = Vec::new();
    let mut not_found = Vec::new();
    for reference in &flags.args {
        match cluster.find_service(reference) {
            Ok(index) => ids.push(cluster.services[index].id.clone()),
            Err(_) => not_found.push(format!("no such service: {reference}")),
        }
    }
    if ids.is_empty() {
        return Err(Output::error(not_found.join("\n"), 1));
    }
    let tasks: Vec<&Task> = cluster
        .tasks
        .iter()
        .filter(|task| ids.contains(&task.service))
        .collect();
    let mut out = print_tasks(cluster, tasks, &flags)?;
    if !not_found.is_empty() {
        out = out
            .with_stderr(format!("{}\n", not_found.join("\n")))
            .with_status(1);
    }
    Ok(out)
}

fn mount_json(mount: &str) -> Value {
    let mut object = serde_json::Map::new();
    let mut kind = "volume".to_owned();
    let mut source = String::new();
    let mut target = String::new();
    let mut read_only = false;
    if mount.contains('=') {
        for field in mount.split(',') {
            let (key, value) = field.split_once('=').unwrap_or((field, "true"));
            match key {
                "type" => kind = value.to_owned(),
                "source" | "src" => source = value.to_owned(),
                "target" | "destination" | "dst" => target = value.to_owned(),
                "readonly" | "ro" => read_only = value != "false" && value != "0",
                _ => {}
            }
        }
    } else {
        let parts: Vec<&str> = mount.split(':').collect();
        source = parts.first().copied().unwrap_or("").to_owned();
        target = parts.get(1).copied().unwrap_or("").to_owned();
        read_only = parts.get(2).is_some_and(|mode| mode.contains("ro"));
        if source.starts_with('/') {
            kind = "bind".to_owned();
        }
    }
    object.insert("Type".to_owned(), json!(kind));
    object.insert("Source".to_owned(), json!(source));
    object.insert("Target".to_owned(), json!(target));
    if read_only {
        object.insert("ReadOnly".to_owned(), json!(true));
    }
    Value::Object(object)
}

fn spec_json(cluster: &Cluster, spec: &ServiceSpec) -> Value {
    let mut container = serde_json::Map::new();
    container.insert("Image".to_owned(), json!(spec.image));
    if !spec.container_labels.is_empty() {
        container.insert("Labels".to_owned(), string_map(&spec.container_labels));
    }
    if !spec.command.is_empty() {
        container.insert("Command".to_owned(), json!(spec.command));
    }
    if !spec.args.is_empty() {
        container.insert("Args".to_owned(), json!(spec.args));
    }
    if let Some(hostname) = &spec.hostname {
        container.insert("Hostname".to_owned(), json!(hostname));
    }
    if !spec.env.is_empty() {
        container.insert("Env".to_owned(), json!(spec.env));
    }
    if let Some(workdir) = &spec.workdir {
        container.insert("Dir".to_owned(), json!(workdir));
    }
    if let Some(user) = &spec.user {
        container.insert("User".to_owned(), json!(user));
    }
    if !spec.mounts.is_empty() {
        container.insert(
            "Mounts".to_owned(),
            Value::Array(spec.mounts.iter().map(|mount| mount_json(mount)).collect()),
        );
    }
    container.insert("Init".to_owned(), json!(false));
    container.insert("StopGracePeriod".to_owned(), json!(10_000_000_000u64));
    container.insert("DNSConfig".to_owned(), json!({}));
    let object_refs = |refs: &[ObjectRef], id_key: &str, name_key: &str| -> Value {
        Value::Array(
            refs.iter()
                .map(|reference| {
                    let mut object = serde_json::Map::new();
                    object.insert(
                        "File".to_owned(),
                        json!({"Name": reference.target, "UID": "0", "GID": "0", "Mode": 292}),
                    );
                    object.insert(id_key.to_owned(), json!(reference.id));
                    object.insert(name_key.to_owned(), json!(reference.name));
                    Value::Object(object)
                })
                .collect(),
        )
    };
    if !spec.secrets.is_empty() {
        container.insert(
            "Secrets".to_owned(),
            object_refs(&spec.secrets, "SecretID", "SecretName"),
        );
    }
    if !spec.configs.is_empty() {
        container.insert(
            "Configs".to_owned(),
            object_refs(&spec.configs, "ConfigID", "ConfigName"),
        );
    }
    container.insert("Isolation".to_owned(), json!("default"));
    let mut placement = serde_json::Map::new();
    if !spec.constraints.is_empty() {
        placement.insert("Constraints".to_owned(), json!(spec.constraints));
    }
    if spec.max_replicas > 0 {
        placement.insert("MaxReplicas".to_owned(), json!(spec.max_replicas));
    }
    placement.insert(
        "Platforms".to_owned(),
        json!([{"Architecture": "amd64", "OS": "linux"}]),
    );
    let mut template = serde_json::Map::new();
    template.insert("ContainerSpec".to_owned(), Value::Object(container));
    template.insert(
        "Resources".to_owned(),
        json!({"Limits": {}, "Reservations": {}}),
    );
    template.insert(
        "RestartPolicy".to_owned(),
        json!({"Condition": "any", "Delay": 5_000_000_000u64, "MaxAttempts": 0}),
    );
    template.insert("Placement".to_owned(), Value::Object(placement));
    if !spec.networks.is_empty() {
        template.insert(
            "Networks".to_owned(),
            Value::Array(
                spec.networks
                    .iter()
                    .map(|network| {
                        let aliases: Vec<String> = cluster
                            .networks
                            .iter()
                            .any(|n| &n.id == network)
                            .then(|| {
                                spec.name
                                    .rsplit('_')
                                    .next()
                                    .unwrap_or(&spec.name)
                                    .to_owned()
                            })
                            .into_iter()
                            .collect();
                        json!({"Target": network, "Aliases": aliases})
                    })
                    .collect(),
            ),
        );
    }
    template.insert("ForceUpdate".to_owned(), json!(spec.force_update));
    template.insert("Runtime".to_owned(), json!("container"));
    let mode = match spec.mode {
        Mode::Replicated(replicas) => json!({"Replicated": {"Replicas": replicas}}),
        Mode::Global => json!({"Global": {}}),
    };
    let ports: Vec<Value> = spec
        .ports
        .iter()
        .map(|port| {
            json!({
                "Protocol": port.protocol,
                "TargetPort": port.target,
                "PublishedPort": if port.auto { 0 } else { port.published.unwrap_or(0) },
                "PublishMode": match port.mode { PublishMode::Ingress => "ingress", PublishMode::Host => "host" },
            })
        })
        .collect();
    let mut endpoint = serde_json::Map::new();
    endpoint.insert("Mode".to_owned(), json!("vip"));
    if !ports.is_empty() {
        endpoint.insert("Ports".to_owned(), Value::Array(ports));
    }
    json!({
        "Name": spec.name,
        "Labels": string_map(&spec.labels),
        "TaskTemplate": Value::Object(template),
        "Mode": mode,
        "UpdateConfig": {"Parallelism": 1, "FailureAction": spec.update_failure_action, "Monitor": 5_000_000_000u64, "MaxFailureRatio": 0, "Order": "stop-first"},
        "RollbackConfig": {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000u64, "MaxFailureRatio": 0, "Order": "stop-first"},
        "EndpointSpec": Value::Object(endpoint),
    })
}

/// `docker service inspect` (swarm.Service).
pub(crate) fn service_json(cluster: &Cluster, service: &Service) -> Value {
    let spec = spec_json(cluster, &service.spec);
    let mut object = serde_json::Map::new();
    object.insert("ID".to_owned(), json!(service.id));
    object.insert("Version".to_owned(), json!({"Index": service.version}));
    object.insert("CreatedAt".to_owned(), json!(rfc3339(service.created)));
    object.insert("UpdatedAt".to_owned(), json!(rfc3339(service.updated)));
    object.insert("Spec".to_owned(), spec.clone());
    if let Some(previous) = &service.previous_spec {
        object.insert("PreviousSpec".to_owned(), spec_json(cluster, previous));
    }
    match &service.update_status {
        Some(status) => {
            let mut update = serde_json::Map::new();
            update.insert("State".to_owned(), json!(status.state));
            update.insert("StartedAt".to_owned(), json!(rfc3339(status.started)));
            if let Some(completed) = status.completed {
                update.insert("CompletedAt".to_owned(), json!(rfc3339(completed)));
            }
            update.insert("Message".to_owned(), json!(status.message));
            object.insert("UpdateStatus".to_owned(), Value::Object(update));
        }
        None => {
            // Docker omits the field, but its Go template still reads the nil pointer as
            // `null`; the simulator's templates read JSON, so the key is there with null.
            object.insert("UpdateStatus".to_owned(), Value::Null);
        }
    }
    let mut endpoint = serde_json::Map::new();
    endpoint.insert(
        "Spec".to_owned(),
        spec.get("EndpointSpec").cloned().unwrap_or(json!({})),
    );
    let ports: Vec<Value> = service
        .spec
        .ports
        .iter()
        .filter(|port| port.mode == PublishMode::Ingress)
        .map(|port| {
            json!({"Protocol": port.protocol, "TargetPort": port.target, "PublishedPort": port.published.unwrap_or(0), "PublishMode": "ingress"})
        })
        .collect();
    if !ports.is_empty() {
        endpoint.insert("Ports".to_owned(), Value::Array(ports));
    }
    let mut networks: Vec<&String> = service.spec.networks.iter().collect();
    let ingress = cluster.networks.iter().find(|network| network.ingress);
    if !service.spec.ports.is_empty()
        && let Some(ingress) = ingress
        && service
            .spec
            .ports
            .iter()
            .any(|port| port.mode == PublishMode::Ingress)
    {
        networks.insert(0, &ingress.id);
    }
    let vips: Vec<Value> = networks
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let subnet = cluster
                .networks
                .iter()
                .find(|network| &network.id == *id)
                .map(|network| network.subnet.clone())
                .unwrap_or_default();
            let prefix = subnet
                .rsplit_once('.')
                .map(|(prefix, _)| prefix)
                .unwrap_or("10.0.0");
            let mask = subnet.rsplit('/').next().unwrap_or("24");
            json!({"NetworkID": id, "Addr": format!("{prefix}.{}/{mask}", index + 2)})
        })
        .collect();
    if !vips.is_empty() {
        endpoint.insert("VirtualIPs".to_owned(), Value::Array(vips));
    }
    object.insert("Endpoint".to_owned(), Value::Object(endpoint));
    Value::Object(object)
}

fn inspect(ctx: &mut Ctx<'_>, args: &[&str]) -> Result<Output, Output> {
    let path = "docker service inspect";
    let flags = Flags::parse(path, &["format,f=", "pretty"], args, true)?;
    require_args(
        path,
        "[OPTIONS] SERVICE [SERVICE...]",
        "Display detailed information on one or more services",
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
        match cluster.find_service(reference) {
            Ok(index) => found.push(service_json(cluster, &cluster.services[index])),
            Err(_) => {
                // The CLI's own words in every version (20.10, 26 and 28 alike).
                out.stderr
                    .extend_from_slice(format!("Error: no such service: {reference}\n").as_bytes());
                out.status = 1;
            }
        }
    }
    out.stderr = engine.inspect_errors(&out.stderr);
    print_inspect(&found, flags.value("format"), out)
}

/// `docker inspect`-style output: a JSON array, or each object through `--format`.
pub(crate) fn print_inspect(
    found: &[Value],
    format: Option<&str>,
    mut out: Output,
) -> Result<Output, Output> {
    match format {
        Some(format) => {
            for value in found {
                match print_one(value, format) {
                    Ok(text) => out.stdout.extend_from_slice(text.as_bytes()),
                    Err(error) => return Err(Output::error(error, 1)),
                }
            }
        }
        None => {
            let text = go_json_pretty(&Value::Array(found.to_vec()));
            out.stdout.extend_from_slice(text.as_bytes());
            out.stdout.push(b'\n');
        }
    }
    Ok(out)
}
