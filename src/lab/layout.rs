//! The lab's shape as plain data: which nodes, their roles and fixed addresses.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::error::LabError;
use super::image::{Docker, Flavor};

/// The first node's host number in the subnet: `.11`, `.12`, … managers first, then workers.
const FIRST_HOST: u32 = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Manager,
    Worker,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Role> {
        match text {
            "manager" => Some(Role::Manager),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One node the lab runs: a container named and addressed like a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    /// The container name, its hostname and its `[hosts]` name in lab.toml.
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) address: Ipv4Addr,
    /// Its image: which Docker it runs, or none.
    pub(crate) flavor: Flavor,
}

/// `lab-manager1..N` then `lab-worker1..M`, on consecutive addresses from `.11`, each of
/// `flavor`.
pub(crate) fn layout(
    managers: usize,
    workers: usize,
    subnet: Ipv4Net,
    flavor: Flavor,
) -> Result<Vec<NodeSpec>, LabError> {
    if managers == 0 {
        return Err(LabError::NoManager);
    }
    let count = managers + workers;
    let network = u32::from(subnet.network());
    let broadcast = u32::from(subnet.broadcast());
    let last = u32::try_from(count)
        .ok()
        .and_then(|count| network.checked_add(FIRST_HOST + count - 1));
    if last.is_none_or(|last| last >= broadcast) {
        return Err(LabError::TooManyNodes {
            count,
            subnet: subnet.to_string(),
        });
    }
    let roles = std::iter::repeat_n(Role::Manager, managers)
        .enumerate()
        .chain(std::iter::repeat_n(Role::Worker, workers).enumerate());
    Ok(roles
        .zip(0u32..)
        .map(|((index, role), offset)| NodeSpec {
            name: format!("lab-{role}{}", index + 1),
            role,
            address: Ipv4Addr::from(network + FIRST_HOST + offset),
            flavor,
        })
        .collect())
}

/// Applies `--docker` as given, in order: `VERSION` sets every node's Docker, `NODE=VERSION`
/// one node's, so `--docker 28 --docker lab-worker2=20` is a Docker 28 cluster with one 20.10
/// worker.
pub(crate) fn assign_docker(nodes: &mut [NodeSpec], asked: &[String]) -> Result<(), LabError> {
    let refuse = |text: &str, reason: String| LabError::DockerVersion {
        text: text.to_owned(),
        reason,
        nodes: nodes
            .iter()
            .map(|node| node.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut assigned: Vec<(Option<usize>, Docker)> = Vec::new();
    for text in asked {
        let (node, version) = match text.split_once('=') {
            Some((node, version)) => (Some(node.trim()), version.trim()),
            None => (None, text.trim()),
        };
        let docker = Docker::parse(version).ok_or_else(|| {
            refuse(
                text,
                format!("`{version}` is not a Docker version the lab builds"),
            )
        })?;
        let index = match node {
            Some(name) => Some(
                nodes
                    .iter()
                    .position(|node| node.name == name)
                    .ok_or_else(|| refuse(text, format!("the lab has no node `{name}`")))?,
            ),
            None => None,
        };
        assigned.push((index, docker));
    }
    for (index, docker) in assigned {
        match index {
            Some(index) => nodes[index].flavor = Flavor::Docker(docker),
            None => {
                for node in nodes.iter_mut() {
                    node.flavor = Flavor::Docker(docker);
                }
            }
        }
    }
    Ok(())
}

/// The subnet as given on the command line, normalised to its network address.
pub(crate) fn parse_subnet(text: &str) -> Result<Ipv4Net, LabError> {
    text.parse::<Ipv4Net>()
        .map(|net| net.trunc())
        .map_err(|_| LabError::Subnet {
            text: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(text: &str) -> Ipv4Net {
        parse_subnet(text).expect("a subnet")
    }

    // Managers come first from .11, then workers, each numbered from 1 within its role.
    #[test]
    fn names_and_addresses() {
        let nodes = layout(2, 2, subnet("172.30.0.0/24"), Flavor::Bare).expect("fits");
        let shown: Vec<String> = nodes
            .iter()
            .map(|node| format!("{} {} {}", node.name, node.role, node.address))
            .collect();
        assert_eq!(
            shown,
            [
                "lab-manager1 manager 172.30.0.11",
                "lab-manager2 manager 172.30.0.12",
                "lab-worker1 worker 172.30.0.13",
                "lab-worker2 worker 172.30.0.14",
            ]
        );
    }

    // A subnet too small for the nodes, or a lab without a manager, is refused up front.
    #[test]
    fn refusals() {
        assert!(matches!(
            layout(1, 4, subnet("10.0.0.0/28"), Flavor::Bare),
            Err(LabError::TooManyNodes { count: 5, .. })
        ));
        assert!(layout(1, 3, subnet("10.0.0.0/28"), Flavor::Bare).is_ok());
        assert!(matches!(
            layout(0, 2, subnet("10.0.0.0/24"), Flavor::Bare),
            Err(LabError::NoManager)
        ));
        assert!(matches!(
            parse_subnet("172.30.0.0"),
            Err(LabError::Subnet { .. })
        ));
        assert_eq!(subnet("172.30.0.7/24").to_string(), "172.30.0.0/24");
    }

    // `--docker VERSION` sets every node, `NODE=VERSION` one, in the order given; an unknown
    // version or node is refused with the choices.
    #[test]
    fn docker_versions_per_node() {
        let mut nodes =
            layout(1, 2, subnet("172.30.0.0/24"), Flavor::Docker(Docker::V20)).expect("fits");
        let asked = ["28", "lab-worker2=20.10"].map(str::to_owned);
        assign_docker(&mut nodes, &asked).expect("valid");
        let flavors: Vec<Flavor> = nodes.iter().map(|node| node.flavor).collect();
        assert_eq!(
            flavors,
            [
                Flavor::Docker(Docker::V28),
                Flavor::Docker(Docker::V28),
                Flavor::Docker(Docker::V20),
            ]
        );
        let error = assign_docker(&mut nodes, &["27".to_owned()]).expect_err("no 27");
        assert!(
            error
                .to_string()
                .starts_with("`--docker 27`: `27` is not a Docker version"),
            "{error}"
        );
        let error =
            assign_docker(&mut nodes, &["lab-worker9=26".to_owned()]).expect_err("no such node");
        assert!(
            error
                .to_string()
                .contains("the lab has no node `lab-worker9`")
                && error
                    .to_string()
                    .contains("nodes: lab-manager1, lab-worker1, lab-worker2"),
            "{error}"
        );
        assert_eq!(
            nodes[2].flavor,
            Flavor::Docker(Docker::V20),
            "a refusal changes nothing"
        );
    }
}
