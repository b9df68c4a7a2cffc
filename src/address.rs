//! Typed resource addresses: `host`-scoped resources (`engine.node1`), cluster-wide ones
//! (`network.maiev`, `swarm`), per-host instances (`file.ca[node1]`) and everything a module
//! contributes (`module.edge.stack.traefik`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The closed set of resource kinds swarmform manages. The order is the order resources are
/// listed in plans and in the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The Docker engine package on a host.
    Engine,
    /// A file swarmform writes on a host.
    File,
    /// daemon.json and the systemd drop-in of a host's dockerd.
    Daemon,
    /// The swarm itself: `docker swarm init` on the bootstrap manager.
    Swarm,
    /// A host's membership in the swarm: role, availability, labels.
    Node,
    /// An overlay network.
    Network,
    /// A swarm secret, versioned by content hash.
    Secret,
    /// A swarm config, versioned by content hash.
    Config,
    /// A registry: hosted as a swarm service, or external (logged in to).
    Registry,
    /// A stack deployed from a compose file.
    Stack,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Engine,
        Kind::File,
        Kind::Daemon,
        Kind::Swarm,
        Kind::Node,
        Kind::Network,
        Kind::Secret,
        Kind::Config,
        Kind::Registry,
        Kind::Stack,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Engine => "engine",
            Kind::File => "file",
            Kind::Daemon => "daemon",
            Kind::Swarm => "swarm",
            Kind::Node => "node",
            Kind::Network => "network",
            Kind::Secret => "secret",
            Kind::Config => "config",
            Kind::Registry => "registry",
            Kind::Stack => "stack",
        }
    }

    pub fn from_keyword(keyword: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.keyword() == keyword)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A resource address. Invariants: `name` is empty only for [`Kind::Swarm`]; `host` is set only
/// for [`Kind::File`] (one instance per target host); names are config keys, so they contain no
/// `.`, `[` or `]`. The name `*` makes a group: `node.*` is every node of its module (a stack
/// depends on it rather than on each node, so the graph stays linear in the config's size).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub module: Option<String>,
    pub kind: Kind,
    pub name: String,
    pub host: Option<String>,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Address {
        Address {
            module: None,
            kind,
            name: name.into(),
            host: None,
        }
    }

    pub fn swarm() -> Address {
        Address::new(Kind::Swarm, "")
    }

    /// Every resource of `kind` (not a swarm or a file): `node.*`.
    pub fn every(kind: Kind) -> Address {
        Address::new(kind, GROUP)
    }

    /// Whether this address names a group (`node.*`) rather than one resource.
    pub fn is_group(&self) -> bool {
        self.name == GROUP
    }

    /// Whether `other` is this address or, for a group, one of its members.
    pub fn covers(&self, other: &Address) -> bool {
        self == other
            || self.is_group()
                && self.kind == other.kind
                && self.module == other.module
                && !other.is_group()
    }

    pub fn in_module(mut self, module: Option<&str>) -> Address {
        self.module = module.map(str::to_owned);
        self
    }

    pub fn on_host(mut self, host: impl Into<String>) -> Address {
        self.host = Some(host.into());
        self
    }

    /// Whether `self` is `other` or lies inside it: `module.edge` contains
    /// `module.edge.stack.traefik`, `file.ca` contains `file.ca[node1]`.
    pub fn is_within(&self, target: &Target) -> bool {
        if self.module.as_deref() != target.module.as_deref() {
            return false;
        }
        match &target.resource {
            None => true,
            Some((kind, name, host)) => {
                self.kind == *kind
                    && (self.name == *name || name == GROUP)
                    && (host.is_none() || host == &self.host)
            }
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(module) = &self.module {
            write!(f, "module.{module}.")?;
        }
        f.write_str(self.kind.keyword())?;
        if !self.name.is_empty() {
            write!(f, ".{}", self.name)?;
        }
        if let Some(host) = &self.host {
            write!(f, "[{host}]")?;
        }
        Ok(())
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a resource address: {reason}")]
pub struct AddressError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Address, AddressError> {
        let target: Target = input.parse()?;
        let error = |reason| AddressError {
            input: input.to_owned(),
            reason,
        };
        let (kind, name, host) = target
            .resource
            .ok_or_else(|| error("it names a module, not a resource"))?;
        if kind == Kind::File && host.is_none() {
            return Err(error("a file address names its host: `file.NAME[HOST]`"));
        }
        Ok(Address {
            module: target.module,
            kind,
            name,
            host,
        })
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What `--target` names: a whole module, a resource, or every instance of a per-host resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub module: Option<String>,
    pub resource: Option<(Kind, String, Option<String>)>,
}

impl FromStr for Target {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Target, AddressError> {
        let error = |reason| AddressError {
            input: input.to_owned(),
            reason,
        };
        let (path, host) = match input.strip_suffix(']') {
            Some(rest) => {
                let (path, host) = rest
                    .split_once('[')
                    .ok_or_else(|| error("a `]` without its `[`"))?;
                if !is_name(host) {
                    return Err(error("the host in `[...]` is not a valid name"));
                }
                (path, Some(host.to_owned()))
            }
            None => (input, None),
        };
        let mut parts: Vec<&str> = path.split('.').collect();
        let mut module = None;
        if parts.first() == Some(&"module") {
            if parts.len() < 2 || !is_name(parts[1]) {
                return Err(error("`module.` must be followed by a module name"));
            }
            module = Some(parts[1].to_owned());
            parts.drain(..2);
            if parts.is_empty() {
                if host.is_some() {
                    return Err(error("a module address takes no `[HOST]`"));
                }
                return Ok(Target {
                    module,
                    resource: None,
                });
            }
        }
        let kind = Kind::from_keyword(parts[0]).ok_or_else(|| {
            error("expected a kind: engine, file, daemon, swarm, node, network, secret, config, registry or stack")
        })?;
        let name = match (kind, &parts[1..]) {
            (Kind::Swarm, []) => String::new(),
            (Kind::Swarm, _) => return Err(error("`swarm` takes no name")),
            (Kind::File, [GROUP]) => return Err(error("`file.*` is not an address")),
            (_, [GROUP]) => GROUP.to_owned(),
            (_, [name]) if is_name(name) => (*name).to_owned(),
            _ => return Err(error("expected KIND.NAME")),
        };
        if host.is_some() && kind != Kind::File {
            return Err(error("only file addresses take `[HOST]`"));
        }
        Ok(Target {
            module,
            resource: Some((kind, name, host)),
        })
    }
}

/// The name of a group address: `node.*`.
const GROUP: &str = "*";

/// The rule for every name that becomes part of an address: config keys of hosts, networks,
/// secrets, configs, registries, files, stacks, modules and variables.
pub fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && text.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for text in [
            "swarm",
            "engine.node1",
            "network.maiev",
            "file.ca[node-2]",
            "module.edge.stack.traefik",
            "module.edge.file.hosts[pi1]",
            "node.*",
        ] {
            let address: Address = text.parse().expect(text);
            assert_eq!(address.to_string(), text);
        }
    }

    #[test]
    fn malformed_addresses_say_why() {
        let cases = [
            ("stacks.web", "expected a kind"),
            ("network", "expected KIND.NAME"),
            ("swarm.x", "takes no name"),
            ("file.ca", "names its host"),
            ("node.a[b]", "only file addresses"),
            ("module.edge", "names a module"),
            ("network.a.b", "expected KIND.NAME"),
            ("file.*", "not an address"),
            ("swarm.*", "takes no name"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<Address>().expect_err(text);
            assert!(error.to_string().contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn a_group_covers_its_kind_in_its_module_and_selects_it_as_a_target() {
        let every = Address::every(Kind::Node);
        assert!(every.is_group());
        assert!(every.covers(&Address::new(Kind::Node, "pi1")));
        assert!(every.covers(&every));
        assert!(!every.covers(&Address::new(Kind::Stack, "pi1")));
        assert!(!every.covers(&Address::new(Kind::Node, "pi1").in_module(Some("edge"))));
        assert!(!Address::new(Kind::Node, "pi1").covers(&every));
        let target = "node.*".parse().expect("target");
        assert!(Address::new(Kind::Node, "pi1").is_within(&target));
        assert!(!Address::new(Kind::Stack, "pi1").is_within(&target));
    }

    #[test]
    fn targets_select_modules_and_all_instances_of_a_file() {
        let file: Address = "file.ca[node1]".parse().expect("address");
        assert!(file.is_within(&"file.ca".parse().expect("target")));
        assert!(!file.is_within(&"file.ca[node2]".parse().expect("target")));
        let stack: Address = "module.edge.stack.traefik".parse().expect("address");
        assert!(stack.is_within(&"module.edge".parse().expect("target")));
        assert!(!stack.is_within(&"stack.traefik".parse().expect("target")));
    }
}
