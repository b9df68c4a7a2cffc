//! The `docker` CLI of Debian's docker.io 20.10 against the simulated world.

mod flags;
mod format;
mod image;
mod node;
mod objects;
mod service;
mod stack;
pub(crate) mod swarm;
mod system;
mod version;

use std::cmp::Ordering;

use super::exec::Output;
use super::world::World;
use swarm::{Cluster, Role};

pub(crate) use system::logins;

pub(crate) const DAEMON_DOWN: &str = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
pub(crate) const SWARM_LOCKED: &str = "Error response from daemon: Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker swarm unlock\" to unlock it.";
pub(crate) const NOT_MANAGER_INACTIVE: &str = "Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
pub(crate) const NOT_MANAGER_WORKER: &str = "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
pub(crate) const NO_LEADER: &str = "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
pub(crate) const NOT_IN_SWARM: &str =
    "Error response from daemon: This node is not part of a swarm";

/// `Error response from daemon: MESSAGE`, status 1.
pub(crate) fn daemon_error(message: &str) -> Output {
    Output::error(format!("Error response from daemon: {message}"), 1)
}

/// One docker invocation on one host.
pub(crate) struct Ctx<'a> {
    pub world: &'a mut World,
    pub host: usize,
    pub stdin: Vec<u8>,
}

impl Ctx<'_> {
    pub fn require_daemon(&self) -> Result<(), Output> {
        if self.world.hosts[self.host].dockerd_running {
            Ok(())
        } else {
            Err(Output::error(DAEMON_DOWN, 1))
        }
    }

    /// The cluster and node IDs of this host, when it is a manager of a swarm with a leader.
    pub fn require_manager(&self) -> Result<(String, String), Output> {
        let Some(member) = &self.world.hosts[self.host].swarm else {
            return Err(Output::error(NOT_MANAGER_INACTIVE, 1));
        };
        if member.locked {
            return Err(Output::error(SWARM_LOCKED, 1));
        }
        let Some(cluster) = self.world.clusters.get(&member.cluster) else {
            return Err(Output::error(NOT_MANAGER_INACTIVE, 1));
        };
        match cluster.node(&member.node) {
            Some(node) if node.role == Role::Manager => {}
            _ => return Err(Output::error(NOT_MANAGER_WORKER, 1)),
        }
        if cluster.leader.is_none() {
            return Err(Output::error(NO_LEADER, 1));
        }
        Ok((member.cluster.clone(), member.node.clone()))
    }

    pub fn cluster(&self, id: &str) -> Result<&Cluster, Output> {
        self.world
            .clusters
            .get(id)
            .ok_or_else(|| Output::error(NOT_MANAGER_INACTIVE, 1))
    }

    pub fn cluster_mut(&mut self, id: &str) -> Result<&mut Cluster, Output> {
        self.world
            .clusters
            .get_mut(id)
            .ok_or_else(|| Output::error(NOT_MANAGER_INACTIVE, 1))
    }
}

/// The first 12 characters, as list commands show IDs.
pub(crate) fn truncate_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((index, _)) => &id[..index],
        None => id,
    }
}

/// `nginx` → `nginx:latest`; tagged or pinned references are kept.
pub(crate) fn normalize_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Natural order (`node2` before `node10`), as the CLI sorts names.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let mut left = a.chars().peekable();
    let mut right = b.chars().peekable();
    loop {
        match (left.peek().copied(), right.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut number_a = String::new();
                while let Some(c) = left.peek().copied().filter(char::is_ascii_digit) {
                    number_a.push(c);
                    left.next();
                }
                let mut number_b = String::new();
                while let Some(c) = right.peek().copied().filter(char::is_ascii_digit) {
                    number_b.push(c);
                    right.next();
                }
                let trimmed_a = number_a.trim_start_matches('0');
                let trimmed_b = number_b.trim_start_matches('0');
                let order = trimmed_a
                    .len()
                    .cmp(&trimmed_b.len())
                    .then_with(|| trimmed_a.cmp(trimmed_b));
                if order != Ordering::Equal {
                    return order;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                left.next();
                right.next();
            }
        }
    }
}

/// Whether this docker invocation reads its standard input.
pub(crate) fn reads_stdin(args: &[&str]) -> bool {
    let words: Vec<&str> = args
        .iter()
        .copied()
        .skip_while(|arg| arg.starts_with('-'))
        .collect();
    match words.as_slice() {
        ["secret" | "config", "create", rest @ ..] => rest.contains(&"-"),
        ["stack", "deploy" | "up", rest @ ..] => {
            rest.windows(2)
                .any(|pair| matches!(pair[0], "-c" | "--compose-file") && pair[1] == "-")
                || rest
                    .iter()
                    .any(|arg| matches!(*arg, "--compose-file=-" | "-c=-" | "-c-"))
        }
        ["login", rest @ ..] => rest.contains(&"--password-stdin"),
        ["swarm", "unlock", ..] => true,
        ["load", rest @ ..] | ["image", "load", rest @ ..] => image::load_reads_stdin(rest),
        _ => false,
    }
}

pub(crate) fn run(world: &mut World, host: usize, args: &[&str], stdin: Vec<u8>) -> Output {
    let mut index = 0;
    while index < args.len() && args[index].starts_with('-') {
        match args[index] {
            "--version" | "-v" => {
                return Output::ok(format!(
                    "Docker version {}, build 297e128\n",
                    world.hosts[host].docker_version
                ));
            }
            "-H" | "--host" | "--config" | "--context" | "-c" | "-l" | "--log-level"
            | "--tlscacert" | "--tlscert" | "--tlskey" => index += 2,
            "-D" | "--debug" | "--tls" | "--tlsverify" => index += 1,
            flag if flag.starts_with("--") && flag.contains('=') => index += 1,
            "--help" | "-h" => return Output::ok(USAGE),
            flag => {
                return flags::usage_error("docker", &format!("unknown flag: {flag}"));
            }
        }
    }
    let args = &args[index.min(args.len())..];
    let Some((&command, rest)) = args.split_first() else {
        return Output::ok(USAGE);
    };
    if world.timing.is_some() {
        // Time passed since the last command: containers stopped or started, nodes went Down.
        swarm::refresh(world);
    }
    let mut ctx = Ctx { world, host, stdin };
    match command {
        "version" => system::version(&mut ctx, rest),
        "info" => system::info(&mut ctx, rest),
        "system" if rest.first() == Some(&"info") => system::info(&mut ctx, &rest[1..]),
        "login" => system::login(&mut ctx, rest),
        "logout" => system::logout(&mut ctx, rest),
        "swarm" => swarm::command(&mut ctx, rest),
        "node" => node::command(&mut ctx, rest),
        "network" => objects::network(&mut ctx, rest),
        "secret" => objects::object(&mut ctx, rest, objects::ObjectKind::Secret),
        "config" => objects::object(&mut ctx, rest, objects::ObjectKind::Config),
        "service" => service::command(&mut ctx, rest),
        "stack" => stack::command(&mut ctx, rest),
        "image" => image::image(&mut ctx, rest),
        "images" => image::list(&mut ctx, rest, "docker images"),
        "load" => image::load(&mut ctx, rest, "docker load"),
        "tag" => image::tag(&mut ctx, rest, "docker tag"),
        "push" => image::push(&mut ctx, rest, "docker push"),
        "ps" | "container" | "volume" | "pull" | "run" | "exec" | "logs" | "save" | "inspect"
        | "events" | "stats" | "top" | "rm" | "rmi" | "build" | "plugin" | "context" | "trust"
        | "checkpoint" | "manifest" | "buildx" | "compose" => {
            Output::error(format!("simulator: docker {command} is not supported"), 1)
        }
        other => Output::error(
            format!("docker: '{other}' is not a docker command.\nSee 'docker --help'"),
            1,
        ),
    }
}

const USAGE: &str = "\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nManagement Commands:\n  config      Manage Docker configs\n  network     Manage networks\n  node        Manage Swarm nodes\n  secret      Manage Docker secrets\n  service     Manage services\n  stack       Manage Docker stacks\n  swarm       Manage Swarm\n  system      Manage Docker\n\nCommands:\n  info        Display system-wide information\n  login       Log in to a Docker registry\n  logout      Log out from a Docker registry\n  version     Show the Docker version information\n\nRun 'docker COMMAND --help' for more information on a command.\n";

#[cfg(test)]
mod tests {
    use super::*;

    // Names sort naturally and images gain `:latest` only when untagged.
    #[test]
    fn helpers() {
        let mut names = vec!["node10", "node2", "node1"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["node1", "node2", "node10"]);
        assert_eq!(normalize_image("nginx"), "nginx:latest");
        assert_eq!(
            normalize_image("registry:5000/app"),
            "registry:5000/app:latest"
        );
        assert_eq!(normalize_image("local/busybox:1"), "local/busybox:1");
        assert!(reads_stdin(&["secret", "create", "x", "-"]));
        assert!(reads_stdin(&[
            "stack",
            "deploy",
            "--compose-file",
            "-",
            "web"
        ]));
        assert!(!reads_stdin(&[
            "stack",
            "deploy",
            "-c",
            "/root/web.yml",
            "web"
        ]));
    }
}
