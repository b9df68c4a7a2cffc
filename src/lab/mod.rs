//! `swarmform lab`: a local cluster of containers that behave like hosts (systemd as PID 1,
//! sshd, dockerd), for trying swarmform and for the real-cluster tests.
//!
//! `up` is idempotent: it builds the node image once (from templates/lab/, with Debian's mirror
//! and `docker import`, since no registry is reachable), makes an SSH key, creates the network
//! and the nodes that are missing or differ, waits for them to boot, records their host keys
//! (read through `docker exec`, so trust comes from the container runtime, not first contact)
//! and writes `lab.toml`, the hosts file a config includes. `down` removes what `up` made.
//! Everything is done through the docker CLI; each step prints one line on stderr, and only
//! `status`'s table goes to stdout.

mod error;
mod files;
mod image;
mod layout;
mod nodes;
mod process;

use std::path::Path;
use std::time::Instant;

pub use error::LabError;

use crate::cli::{LabCommand, LabDownArgs, LabLoadArgs, LabUpArgs};
use crate::ui::Printer;
use files::LabDir;
use image::Flavor;
use layout::{NodeSpec, assign_docker, layout, parse_subnet};
use process::Program;

/// The lab's network (one lab per Docker engine).
pub(crate) const NETWORK: &str = "swarmform-lab";
/// Marks every container, network and image the lab makes.
pub(crate) const LABEL: &str = "io.swarmform.lab";
pub(crate) const ROLE_LABEL: &str = "io.swarmform.lab.role";
/// The fingerprint of the SSH key a node was given, so a new key recreates the node.
pub(crate) const KEY_LABEL: &str = "io.swarmform.lab.key";

/// Runs a lab command: its progress lines on `printer`'s stderr, `status`'s table on its stdout;
/// its error goes back to `run`, printed once like every command's.
pub fn run(command: &LabCommand, printer: Printer) -> Result<(), LabError> {
    let log = Log { printer };
    match command {
        LabCommand::Up(args) => up(args, &log),
        LabCommand::Status(args) => status(&args.dir, &log),
        LabCommand::Load(args) => load(args, &log),
        LabCommand::Down(args) => down(args, &log),
    }
}

/// Where the lab's progress lines go: stderr, one line per step.
pub(crate) struct Log {
    printer: Printer,
}

impl Log {
    pub(crate) fn line(&self, text: impl AsRef<str>) {
        self.printer.err_line(text.as_ref());
    }

    /// Data on stdout (`status`'s table).
    pub(crate) fn data(&self, text: impl AsRef<str>) {
        self.printer.out(text.as_ref());
    }
}

/// The engine's version, or the error that says to run `.ci/lab-setup`.
fn engine() -> Result<String, LabError> {
    Program::docker()
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map_err(|error| match error {
            LabError::Failed { stderr, .. } => LabError::EngineDown {
                stderr: stderr.trim().to_owned(),
            },
            LabError::Spawn { source, .. } => LabError::EngineDown {
                stderr: format!("cannot run `docker`: {source}"),
            },
            other => other,
        })
        .and_then(|version| {
            // Docker prints a client-side error in the format's place when the server is down.
            if version.is_empty() || version.contains("Cannot connect") {
                Err(LabError::EngineDown { stderr: version })
            } else {
                Ok(version)
            }
        })
}

fn up(args: &LabUpArgs, log: &Log) -> Result<(), LabError> {
    let started = Instant::now();
    let subnet = parse_subnet(&args.subnet)?;
    let flavor = if args.bare {
        Flavor::Bare
    } else {
        Flavor::Docker(image::Docker::V20)
    };
    let mut specs = layout(args.managers, args.workers, subnet, flavor)?;
    assign_docker(&mut specs, &args.docker)?;
    let version = engine()?;
    log.line(format!("Docker engine {version} answers."));

    let dir = LabDir::create(&args.dir.dir)?;
    let build = dir.build()?;
    let mut flavors: Vec<Flavor> = specs.iter().map(|spec| spec.flavor).collect();
    flavors.sort();
    flavors.dedup();
    for flavor in flavors {
        image::ensure_node_image(flavor, &build, log)?;
    }
    image::ensure_busybox(&build, log)?;
    image::ensure_registry(&build, log)?;

    let (public_key, made) = dir.ensure_key()?;
    let fingerprint = fingerprint(&public_key);
    log.line(format!(
        "SSH key `{}`: {}.",
        dir.key().display(),
        if made { "created" } else { "present, reused" }
    ));

    ensure_network(subnet, log)?;
    let boot_started = Instant::now();
    let changed = converge_nodes(&specs, &fingerprint, &dir, log)?;

    let deadline = boot_started + nodes::BOOT_TIMEOUT;
    for spec in &specs {
        let failed = nodes::wait_ready(spec, deadline)?;
        if !failed.is_empty() {
            log.line(format!(
                "warning: `{}` booted degraded; failed units: {}",
                spec.name,
                failed.join(", ")
            ));
        }
    }
    log.line(format!(
        "Nodes ready (systemd up, sshd answering){}.",
        if changed {
            format!(" in {:.1}s", boot_started.elapsed().as_secs_f64())
        } else {
            String::new()
        }
    ));

    let mut keys = Vec::new();
    for spec in &specs {
        keys.push((spec.clone(), nodes::host_key(&spec.name)?));
    }
    dir.write_known_hosts(&keys)?;
    dir.write_hosts_file(&specs)?;
    log.line(format!(
        "Wrote `{}` ({} host keys, read with `docker exec`) and `{}`.",
        dir.known_hosts().display(),
        keys.len(),
        dir.hosts_file().display()
    ));
    let first = &specs[0];
    log.line(format!(
        "The lab is up ({} manager{}, {} worker{}{}) after {:.1}s. Include it from a config with\n    include = [\"{}\"]\nand log in with\n    ssh -i {} -o UserKnownHostsFile={} root@{}",
        args.managers,
        plural(args.managers),
        args.workers,
        plural(args.workers),
        dockers(&specs),
        started.elapsed().as_secs_f64(),
        dir.hosts_file().display(),
        dir.key().display(),
        dir.known_hosts().display(),
        first.address
    ));
    Ok(())
}

/// `, bare: no Docker`, `, Docker 28` or `, Docker 28 and 20 (lab-worker2)`.
fn dockers(specs: &[NodeSpec]) -> String {
    let mut majors: Vec<(&str, Vec<&str>)> = Vec::new();
    for spec in specs {
        let major = match spec.flavor {
            Flavor::Docker(docker) => docker.major(),
            Flavor::Bare => "none",
        };
        match majors.iter_mut().find(|(other, _)| *other == major) {
            Some((_, names)) => names.push(&spec.name),
            None => majors.push((major, vec![&spec.name])),
        }
    }
    match majors.as_slice() {
        [("none", _)] => ", bare: no Docker".to_owned(),
        [(major, _)] => format!(", Docker {major}"),
        [(first, _), rest @ ..] => {
            let rest: Vec<String> = rest
                .iter()
                .map(|(major, names)| format!("{major} ({})", names.join(", ")))
                .collect();
            format!(", Docker {first} and {}", rest.join(" and "))
        }
        [] => String::new(),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// A short, stable id of the public key: the node label that says which key a node trusts.
fn fingerprint(public_key: &str) -> String {
    let key = public_key.split_whitespace().nth(1).unwrap_or(public_key);
    crate::hash::sha256_hex(key.as_bytes())[..16].to_owned()
}

/// The network with `subnet`; one with another subnet is replaced, with the nodes on it.
fn ensure_network(subnet: ipnet::Ipv4Net, log: &Log) -> Result<(), LabError> {
    let inspect = Program::docker()
        .args(["network", "inspect", "--format"])
        .arg("{{range .IPAM.Config}}{{.Subnet}} {{end}}")
        .arg(NETWORK)
        .output();
    if let Ok(current) = inspect {
        if current
            .split_whitespace()
            .any(|text| text == subnet.to_string())
        {
            log.line(format!("Network `{NETWORK}` ({subnet}): present, reused."));
            return Ok(());
        }
        // Check that the new subnet is free before the old lab is taken down for it (unless
        // it overlaps the old one, which only taking the old one down can free).
        let overlaps_current = current
            .split_whitespace()
            .filter_map(|text| text.parse::<ipnet::Ipv4Net>().ok())
            .any(|old| old.contains(&subnet.network()) || subnet.contains(&old.network()));
        if !overlaps_current {
            let probe = format!("{NETWORK}-probe");
            create_network(&probe, &subnet.to_string())?;
            Program::docker().args(["network", "rm", &probe]).output()?;
        }
        let stale = nodes::existing()?;
        remove_containers(&stale)?;
        Program::docker()
            .args(["network", "rm", NETWORK])
            .output()?;
        log.line(format!(
            "Network `{NETWORK}`: removed (its subnet was {}), with {} node{}.",
            current.trim(),
            stale.len(),
            plural(stale.len())
        ));
    }
    create_network(NETWORK, &subnet.to_string())?;
    log.line(format!("Network `{NETWORK}` ({subnet}): created."));
    Ok(())
}

fn create_network(name: &str, subnet: &str) -> Result<(), LabError> {
    Program::docker()
        .args(["network", "create", "--subnet", subnet, "--label"])
        .arg(format!("{LABEL}=1"))
        .arg(name)
        .output()
        .map_err(|error| {
            error.with_hint("another network may use this subnet: pick another with `--subnet`")
        })?;
    Ok(())
}

/// Removes lab containers that are not wanted or differ from their spec, creates the missing
/// ones and starts the stopped ones. Returns whether any node was created or started.
fn converge_nodes(
    specs: &[NodeSpec],
    fingerprint: &str,
    dir: &LabDir,
    log: &Log,
) -> Result<bool, LabError> {
    let existing = nodes::existing()?;
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for node in &existing {
        let reason = match specs.iter().find(|spec| spec.name == node.name) {
            Some(spec) => node.mismatch(spec, fingerprint),
            None => Some("not asked for".to_owned()),
        };
        match reason {
            Some(reason) => removed.push((node.clone(), reason)),
            None => kept.push(node.clone()),
        }
    }
    remove_containers(
        &removed
            .iter()
            .map(|(node, _)| node.clone())
            .collect::<Vec<_>>(),
    )?;
    for (node, reason) in &removed {
        log.line(format!("Node `{}`: removed ({reason}).", node.name));
    }

    let mut created = Vec::new();
    let mut started = Vec::new();
    let mut running = Vec::new();
    for spec in specs {
        match kept.iter().find(|node| node.name == spec.name) {
            Some(node) if node.running() => running.push(spec.name.as_str()),
            Some(_) => {
                Program::docker().args(["start", &spec.name]).output()?;
                started.push(spec.name.as_str());
            }
            None => {
                nodes::create(spec, fingerprint).output()?;
                Program::docker()
                    .arg("cp")
                    .arg(dir.public_key().to_string_lossy())
                    .arg(format!("{}:/root/.ssh/authorized_keys", spec.name))
                    .output()?;
                Program::docker().args(["start", &spec.name]).output()?;
                created.push(spec.name.as_str());
            }
        }
    }
    let mut parts = Vec::new();
    for (verb, names) in [
        ("created", &created),
        ("started", &started),
        ("already running", &running),
    ] {
        if !names.is_empty() {
            parts.push(format!("{verb} {}", names.join(", ")));
        }
    }
    let mut images: Vec<&str> = specs.iter().map(|spec| spec.flavor.image()).collect();
    images.sort_unstable();
    images.dedup();
    log.line(format!(
        "Nodes ({}): {}.",
        images.join(", "),
        parts.join("; ")
    ));
    Ok(!created.is_empty() || !started.is_empty())
}

/// `docker rm --force --volumes`: the containers and their anonymous volumes (the nodes'
/// /var/lib/docker).
fn remove_containers(nodes: &[nodes::Existing]) -> Result<(), LabError> {
    if nodes.is_empty() {
        return Ok(());
    }
    // Seen here under load: Docker 20.10 lost a node container's shim and `docker rm` waited
    // on it for good. A removal takes seconds; after five minutes it is given up, with a hint.
    Program::docker()
        .args(["rm", "--force", "--volumes"])
        .args(nodes.iter().map(|node| node.name.as_str()))
        .output_within(
            std::time::Duration::from_secs(300),
            "dockerd stopped answering for these containers: restart it (`systemctl restart docker`, or stop dockerd and run `.ci/lab-setup`), then `swarmform lab down` again",
        )?;
    Ok(())
}

fn status(dir: &Path, log: &Log) -> Result<(), LabError> {
    engine()?;
    let existing = nodes::existing()?;
    if existing.is_empty() {
        log.line("No lab node exists. `swarmform lab up` makes them.");
        return Ok(());
    }
    let mut rows = vec![[
        "NAME".to_owned(),
        "ADDRESS".to_owned(),
        "ROLE".to_owned(),
        "CONTAINER".to_owned(),
        "SYSTEMD".to_owned(),
        "DOCKER".to_owned(),
    ]];
    for node in &existing {
        let (systemd, docker) = if node.running() {
            (
                nodes::exec(&node.name, &["systemctl", "is-system-running"]),
                nodes::docker_state(&node.name),
            )
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        rows.push([
            node.name.clone(),
            node.address
                .map(|address| address.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            node.role
                .map(|role| role.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            node.state.clone(),
            systemd,
            docker,
        ]);
    }
    log.data(table(&rows));
    let hosts_file = dir.join(files::HOSTS_FILE);
    if hosts_file.is_file() {
        log.line(format!("Hosts file: `{}`.", hosts_file.display()));
    }
    Ok(())
}

/// Left-aligned columns, two spaces apart.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn load(args: &LabLoadArgs, log: &Log) -> Result<(), LabError> {
    engine()?;
    let running: Vec<nodes::Existing> = nodes::existing()?
        .into_iter()
        .filter(nodes::Existing::running)
        .collect();
    if running.is_empty() {
        return Err(LabError::NoLab);
    }
    let (ready, skipped): (Vec<_>, Vec<_>) = running
        .iter()
        .partition(|node| nodes::docker_active(&node.name));
    for node in &skipped {
        log.line(format!(
            "Node `{}`: skipped, Docker is not installed or not running there.",
            node.name
        ));
    }
    if ready.is_empty() {
        return Err(LabError::NoDockerNode);
    }
    let started = Instant::now();
    // Tarballs (`docker save` output) are loaded as they are; images are saved into one.
    let (tarballs, images): (Vec<&String>, Vec<&String>) = args
        .images
        .iter()
        .partition(|name| Path::new(name.as_str()).is_file());
    let saved = if images.is_empty() {
        None
    } else {
        let archive = tempfile::Builder::new()
            .prefix("swarmform-lab-images")
            .suffix(".tar")
            .tempfile()
            .map_err(|source| LabError::Io {
                path: std::env::temp_dir(),
                operation: "create a temporary file in",
                source,
            })?;
        Program::docker()
            .args(["save", "--output"])
            .arg(archive.path().to_string_lossy())
            .args(&images)
            .output()
            .map_err(|error| {
                error.with_hint(
                    "nothing can be pulled here: build or import the image locally first (`swarmform lab up` builds `local/busybox:1`), or name a `docker save` tarball",
                )
            })?;
        Some(archive)
    };
    let mut archives: Vec<&Path> = tarballs
        .iter()
        .map(|name| Path::new(name.as_str()))
        .collect();
    if let Some(saved) = &saved {
        archives.push(saved.path());
    }
    let results: Vec<(String, Result<(), LabError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = ready
            .iter()
            .map(|node| {
                let archives = &archives;
                scope.spawn(move || {
                    let result = archives.iter().try_for_each(|archive| {
                        Program::docker()
                            .args(["exec", "-i", &node.name, "docker", "load", "--quiet"])
                            .output_with_input(archive)
                            .map(drop)
                    });
                    (node.name.clone(), result)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    let mut first_error = None;
    for (name, result) in results {
        match result {
            Ok(_) => log.line(format!("Node `{name}`: loaded {}.", args.images.join(", "))),
            Err(error) => {
                log.line(format!("Node `{name}`: loading failed."));
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    log.line(format!(
        "Loaded into {} node{} in {:.1}s.",
        ready.len(),
        plural(ready.len()),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn down(args: &LabDownArgs, log: &Log) -> Result<(), LabError> {
    engine()?;
    let existing = nodes::existing()?;
    remove_containers(&existing)?;
    if existing.is_empty() {
        log.line("Nodes: none to remove.");
    } else {
        let names: Vec<&str> = existing.iter().map(|node| node.name.as_str()).collect();
        log.line(format!(
            "Nodes: removed {} (with their volumes).",
            names.join(", ")
        ));
    }
    if Program::docker()
        .args(["network", "inspect", NETWORK])
        .succeeds()
    {
        Program::docker()
            .args(["network", "rm", NETWORK])
            .output()?;
        log.line(format!("Network `{NETWORK}`: removed."));
    }
    let path = &args.dir.dir;
    if path.exists() {
        if LabDir::remove(path)? {
            log.line(format!("Folder `{}`: removed.", path.display()));
        } else {
            log.line(format!(
                "Folder `{}`: the lab's files were removed; it holds other files, so it stays.",
                path.display()
            ));
        }
    }
    if args.images {
        let removed = image::remove_all()?;
        if removed.is_empty() {
            log.line("Images: none to remove.");
        } else {
            log.line(format!("Images: removed {}.", removed.join(", ")));
        }
    } else {
        log.line("Images: kept (`--images` removes them).");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key's fingerprint depends on the key alone, not on its comment.
    #[test]
    fn fingerprint_ignores_the_comment() {
        assert_eq!(
            fingerprint("ssh-ed25519 AAAAC3Nza lab"),
            fingerprint("ssh-ed25519 AAAAC3Nza other")
        );
        assert_eq!(fingerprint("ssh-ed25519 AAAAC3Nza lab").len(), 16);
    }

    // Status columns line up, and no line ends with spaces.
    #[test]
    fn table_aligns() {
        let rows = [
            ["NAME", "ADDRESS", "ROLE", "CONTAINER", "SYSTEMD", "DOCKER"].map(str::to_owned),
            [
                "lab-manager1",
                "172.30.0.11",
                "manager",
                "running",
                "running",
                "not installed",
            ]
            .map(str::to_owned),
        ];
        insta::assert_snapshot!(table(&rows), @r"
        NAME          ADDRESS      ROLE     CONTAINER  SYSTEMD  DOCKER
        lab-manager1  172.30.0.11  manager  running    running  not installed
        ");
    }
}
