//! The lab's containers: how one is run so it behaves like a host, what exists already, and
//! waiting until a node has booted.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::error::LabError;
#[cfg(test)]
use super::image::{Docker, Flavor};
use super::layout::{NodeSpec, Role};
use super::process::Program;
use super::{KEY_LABEL, LABEL, NETWORK, ROLE_LABEL};

/// A lab container as Docker reports it.
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    pub(crate) name: String,
    pub(crate) image: String,
    /// `running`, `exited`, `created`, …
    pub(crate) state: String,
    pub(crate) address: Option<Ipv4Addr>,
    pub(crate) role: Option<Role>,
    /// The fingerprint of the lab key its authorized_keys holds.
    pub(crate) key: Option<String>,
}

impl Existing {
    pub(crate) fn running(&self) -> bool {
        self.state == "running"
    }

    /// Why this container cannot stand for `spec` as it is, if it cannot.
    pub(crate) fn mismatch(&self, spec: &NodeSpec, key: &str) -> Option<String> {
        if self.image != spec.flavor.image() {
            Some(format!("its image is `{}`", self.image))
        } else if self.address != Some(spec.address) {
            Some("its address changed".to_owned())
        } else if self.role != Some(spec.role) {
            Some("its role changed".to_owned())
        } else if self.key.as_deref() != Some(key) {
            Some("the lab's SSH key changed".to_owned())
        } else {
            None
        }
    }
}

/// Every container labelled as the lab's, sorted by address.
pub(crate) fn existing() -> Result<Vec<Existing>, LabError> {
    let names = Program::docker()
        .args(["ps", "--all", "--filter"])
        .arg(format!("label={LABEL}"))
        .args(["--format", "{{.Names}}"])
        .output()?;
    let names: Vec<&str> = names.lines().filter(|name| !name.is_empty()).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let json = Program::docker().arg("inspect").args(&names).output()?;
    let mut nodes = parse_inspect(&json);
    nodes.sort_by_key(|node| (node.address, node.name.clone()));
    Ok(nodes)
}

fn parse_inspect(json: &str) -> Vec<Existing> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|container| {
            let labels = &container["Config"]["Labels"];
            let network = &container["NetworkSettings"]["Networks"][NETWORK];
            let address = text(&network["IPAMConfig"]["IPv4Address"])
                .or_else(|| text(&network["IPAddress"]))
                .and_then(|address| address.parse().ok());
            Existing {
                name: text(&container["Name"])
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned(),
                image: text(&container["Config"]["Image"]).unwrap_or_default(),
                state: text(&container["State"]["Status"]).unwrap_or_default(),
                address,
                role: text(&labels[ROLE_LABEL]).and_then(|role| Role::parse(&role)),
                key: text(&labels[KEY_LABEL]),
            }
        })
        .collect()
}

/// `docker create` with the flags that make a container behave like a host (testbed.md §3):
/// systemd as PID 1 with the host's cgroups, every capability but SYS_RESOURCE (which this
/// kind of machine lacks, so `--privileged` is refused), tmpfs where systemd expects one, and
/// an anonymous volume for the node's own Docker; the image's init, with what trixie's systemd
/// needs on a cgroup v1 machine (`Flavor::init_command`).
pub(crate) fn create(spec: &NodeSpec, key: &str) -> Program {
    Program::docker()
        .args(["create", "--name", &spec.name, "--hostname", &spec.name])
        .args(["--network", NETWORK, "--ip"])
        .arg(spec.address.to_string())
        .arg("--label")
        .arg(format!("{LABEL}=1"))
        .arg("--label")
        .arg(format!("{ROLE_LABEL}={}", spec.role))
        .arg("--label")
        .arg(format!("{KEY_LABEL}={key}"))
        .args(["--stop-signal", "SIGRTMIN+3"])
        .args(["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"])
        .args(["--security-opt", "seccomp=unconfined"])
        .args(["--security-opt", "apparmor=unconfined"])
        .args(["--security-opt", "systempaths=unconfined"])
        .args(["--device-cgroup-rule", "a *:* rwm"])
        .args([
            "--cgroupns",
            "host",
            "--volume",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        ])
        .args(["--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp"])
        .args(["--volume", "/var/lib/docker"])
        .arg(spec.flavor.image())
        .args(spec.flavor.init_command().iter().copied())
}

/// How long nodes get to boot, all together.
pub(crate) const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a node said when it was last asked whether it is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Boot {
    /// `systemctl is-system-running`: `running` or `degraded` once booted.
    pub(crate) systemd: String,
    pub(crate) sshd: bool,
}

impl Boot {
    fn ready(&self) -> bool {
        self.sshd && matches!(self.systemd.as_str(), "running" | "degraded")
    }
}

/// Waits until systemd has finished booting `spec` and its sshd answers; returns the units
/// that failed (a `degraded` boot), for a warning.
pub(crate) fn wait_ready(spec: &NodeSpec, deadline: Instant) -> Result<Vec<String>, LabError> {
    let started = Instant::now();
    loop {
        let systemd = exec(&spec.name, &["systemctl", "is-system-running"]);
        if systemd.contains("is not running") {
            return Err(LabError::NotReady {
                node: spec.name.clone(),
                waited: started.elapsed(),
                last: format!("its container stopped: {systemd}"),
            });
        }
        let boot = Boot {
            sshd: matches!(systemd.as_str(), "running" | "degraded") && sshd_answers(spec.address),
            systemd,
        };
        if boot.ready() {
            if boot.systemd == "degraded" {
                let failed = exec(
                    &spec.name,
                    &["systemctl", "--failed", "--plain", "--no-legend"],
                );
                return Ok(failed
                    .lines()
                    .filter_map(|line| line.split_whitespace().next())
                    .map(str::to_owned)
                    .collect());
            }
            return Ok(Vec::new());
        }
        if Instant::now() >= deadline {
            let sshd = if boot.sshd {
                "answers"
            } else {
                "does not answer on port 22"
            };
            return Err(LabError::NotReady {
                node: spec.name.clone(),
                waited: started.elapsed(),
                last: format!("systemd says `{}`, sshd {sshd}", boot.systemd),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether an SSH server greets on port 22 of a lab address.
fn sshd_answers(address: Ipv4Addr) -> bool {
    let timeout = Duration::from_secs(1);
    let Ok(mut stream) = TcpStream::connect_timeout(&SocketAddr::from((address, 22)), timeout)
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let mut greeting = [0u8; 4];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"SSH-"
}

/// `docker exec NODE COMMAND...`: its stdout, or its stderr when it printed nothing (what a
/// status column shows either way; the exit status is not the point here).
pub(crate) fn exec(node: &str, command: &[&str]) -> String {
    let output = std::process::Command::new("docker")
        .arg("exec")
        .arg(node)
        .args(command)
        .stdin(std::process::Stdio::null())
        .output();
    match output {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if stdout.is_empty() {
                String::from_utf8_lossy(&output.stderr).trim().to_owned()
            } else {
                stdout
            }
        }
        Err(error) => error.to_string(),
    }
}

/// The node's ed25519 host key as `ssh-ed25519 AAAA…`, read through the container runtime.
pub(crate) fn host_key(node: &str) -> Result<String, LabError> {
    let program =
        Program::docker().args(["exec", node, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
    let output = program.output()?;
    let mut words = output.split_whitespace();
    match (words.next(), words.next()) {
        (Some(algorithm @ "ssh-ed25519"), Some(key)) => Ok(format!("{algorithm} {key}")),
        _ => Err(LabError::HostKey {
            node: node.to_owned(),
            command: program.display(),
            output,
        }),
    }
}

/// Whether the node has a Docker engine that is up.
pub(crate) fn docker_active(node: &str) -> bool {
    Program::docker()
        .args(["exec", node, "sh", "-c"])
        .arg("command -v docker >/dev/null && systemctl is-active --quiet docker")
        .succeeds()
}

/// The Docker column of `lab status`: `active 28.5.2`, `inactive`, `failed`, or `not installed`.
pub(crate) fn docker_state(node: &str) -> String {
    exec(
        node,
        &[
            "sh",
            "-c",
            "if ! command -v docker >/dev/null; then echo 'not installed'; elif systemctl is-active --quiet docker; then echo \"active $(docker version --format '{{.Server.Version}}' 2>/dev/null)\"; else systemctl is-active docker; fi",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // `docker inspect` output becomes one entry per container, with the address it was given
    // and the lab's labels.
    #[test]
    fn inspect_is_read() {
        let json = r#"[{
            "Name": "/lab-worker1",
            "Config": {"Image": "swarmform-lab/node:bookworm",
                       "Labels": {"io.swarmform.lab": "1", "io.swarmform.lab.role": "worker",
                                  "io.swarmform.lab.key": "abc"}},
            "State": {"Status": "exited"},
            "NetworkSettings": {"Networks": {"swarmform-lab": {
                "IPAMConfig": {"IPv4Address": "172.30.0.12"}, "IPAddress": ""}}}
        }]"#;
        let nodes = parse_inspect(json);
        assert_eq!(nodes.len(), 1);
        let node = &nodes[0];
        assert_eq!(node.name, "lab-worker1");
        assert_eq!(node.address, Some(Ipv4Addr::new(172, 30, 0, 12)));
        assert_eq!(node.role, Some(Role::Worker));
        assert!(!node.running());
        let mut spec = NodeSpec {
            name: "lab-worker1".to_owned(),
            role: Role::Worker,
            address: Ipv4Addr::new(172, 30, 0, 12),
            flavor: Flavor::Docker(Docker::V20),
        };
        assert_eq!(node.mismatch(&spec, "abc"), None);
        assert_eq!(
            node.mismatch(&spec, "def"),
            Some("the lab's SSH key changed".to_owned())
        );
        spec.flavor = Flavor::Docker(Docker::V28);
        assert_eq!(
            node.mismatch(&spec, "abc"),
            Some("its image is `swarmform-lab/node:bookworm`".to_owned())
        );
    }

    // The node runs with testbed.md's flags: no --privileged, systemd's stop signal, the
    // host's cgroups, and an anonymous volume for its Docker.
    #[test]
    fn create_flags() {
        let mut spec = NodeSpec {
            name: "lab-manager1".to_owned(),
            role: Role::Manager,
            address: Ipv4Addr::new(172, 30, 0, 11),
            flavor: Flavor::Docker(Docker::V20),
        };
        let shown = create(&spec, "abc").display();
        assert!(!shown.contains("--privileged"));
        for expected in [
            "--ip 172.30.0.11",
            "--label io.swarmform.lab.role=manager",
            "--cap-add ALL --cap-drop SYS_RESOURCE",
            "--device-cgroup-rule 'a *:* rwm'",
            "--cgroupns host --volume '/sys/fs/cgroup:/sys/fs/cgroup:rw'",
        ] {
            assert!(shown.contains(expected), "{expected} in {shown}");
        }
        assert!(
            shown.ends_with("--volume /var/lib/docker 'swarmform-lab/node:bookworm'"),
            "bookworm's init as the image has it: {shown}"
        );
        spec.flavor = Flavor::Docker(Docker::V28);
        let shown = create(&spec, "abc").display();
        let init = Flavor::Docker(Docker::V28).init_command().join(" ");
        assert!(
            shown.ends_with(&format!("'swarmform-lab/node:trixie-docker28' {init}").trim_end()),
            "{shown}"
        );
    }
}
