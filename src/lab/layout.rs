//! The lab's shape as plain data: which nodes, their roles and fixed addresses.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::error::LabError;

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
}

/// `lab-manager1..N` then `lab-worker1..M`, on consecutive addresses from `.11`.
pub(crate) fn layout(
    managers: usize,
    workers: usize,
    subnet: Ipv4Net,
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
        })
        .collect())
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
        let nodes = layout(2, 2, subnet("172.30.0.0/24")).expect("fits");
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
            layout(1, 4, subnet("10.0.0.0/28")),
            Err(LabError::TooManyNodes { count: 5, .. })
        ));
        assert!(layout(1, 3, subnet("10.0.0.0/28")).is_ok());
        assert!(matches!(
            layout(0, 2, subnet("10.0.0.0/24")),
            Err(LabError::NoManager)
        ));
        assert!(matches!(
            parse_subnet("172.30.0.0"),
            Err(LabError::Subnet { .. })
        ));
        assert_eq!(subnet("172.30.0.7/24").to_string(), "172.30.0.0/24");
    }
}
