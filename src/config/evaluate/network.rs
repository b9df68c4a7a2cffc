//! `[networks.NAME]`: overlay networks, their subnet, gateway and IP range checked.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{Evaluation, docker_name, labels_value};
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::Scope;
use crate::config::source::Diagnostic;
use crate::resource::{Attribute, Resource};

impl Evaluation<'_> {
    /// The networks of one scope; returns their Docker names by name, for templates.
    pub(super) fn networks(&mut self, scope: &Scope) -> Map<String, Value> {
        let module = scope.module.as_deref();
        let file = scope.file;
        let mut networks = Map::new();
        for (name, network) in &scope.networks {
            if !self.check_name("network", name, file) {
                continue;
            }
            let address = Address::new(Kind::Network, name.get_ref()).in_module(module);
            let docker = docker_name(scope, name.get_ref());
            if let Some(driver) = &network.driver
                && driver.get_ref() != "overlay"
            {
                self.errors.push(
                    Diagnostic::error(format!("network driver `{}` is not supported", driver.get_ref()))
                        .at(self.at(file, driver.span()), "expected `overlay`")
                        .help("swarm networks are overlay networks; leave `driver` out or set it to `overlay`"),
                );
            }
            let subnet = network.subnet.as_ref().and_then(|subnet| {
                check::parse_cidr(subnet.get_ref())
                    .map_err(|message| {
                        self.errors.push(
                            Diagnostic::error(message)
                                .at(self.at(file, subnet.span()), "expected a CIDR block"),
                        );
                    })
                    .ok()
            });
            if let Some(gateway) = &network.gateway {
                match (check::parse_ip(gateway.get_ref()), subnet) {
                    (Err(message), _) => self.errors.push(
                        Diagnostic::error(message)
                            .at(self.at(file, gateway.span()), "expected an IP address"),
                    ),
                    (Ok(ip), Some(subnet)) if !subnet.contains(&ip) => self.errors.push(
                        Diagnostic::error(format!(
                            "gateway `{ip}` is outside the subnet `{subnet}`"
                        ))
                        .at(
                            self.at(file, gateway.span()),
                            format!("expected an address inside {subnet}"),
                        ),
                    ),
                    (Ok(_), None) => self.errors.push(
                        Diagnostic::error("a gateway needs a subnet")
                            .at(self.at(file, gateway.span()), "set `subnet` as well"),
                    ),
                    _ => {}
                }
            }
            if let Some(range) = &network.ip_range {
                match (check::parse_cidr(range.get_ref()), subnet) {
                    (Err(message), _) => self.errors.push(
                        Diagnostic::error(message)
                            .at(self.at(file, range.span()), "expected a CIDR block"),
                    ),
                    (Ok(range_net), Some(subnet)) if !subnet.contains(&range_net) => {
                        self.errors.push(
                            Diagnostic::error(format!(
                                "ip_range `{range_net}` is outside the subnet `{subnet}`"
                            ))
                            .at(
                                self.at(file, range.span()),
                                format!("expected a block inside {subnet}"),
                            ),
                        )
                    }
                    (Ok(_), None) => self.errors.push(
                        Diagnostic::error("an ip_range needs a subnet")
                            .at(self.at(file, range.span()), "set `subnet` as well"),
                    ),
                    _ => {}
                }
            }
            let labels = labels_value(&network.labels, file, &mut self.errors);
            let resource = Resource {
                host: None,
                docker_name: Some(docker.clone()),
                depends_on: BTreeSet::from([Address::swarm()]),
                ..Resource::new(address.clone())
            }
            .attribute("name", Attribute::new(docker.clone()).replace())
            .attribute("driver", Attribute::new("overlay").replace())
            .attribute(
                "subnet",
                Attribute::new(network.subnet.as_ref().map(|s| s.get_ref().clone())).replace(),
            )
            .attribute(
                "gateway",
                Attribute::new(network.gateway.as_ref().map(|s| s.get_ref().clone())).replace(),
            )
            .attribute(
                "ip_range",
                Attribute::new(network.ip_range.as_ref().map(|s| s.get_ref().clone())).replace(),
            )
            .attribute("attachable", Attribute::new(network.attachable).replace())
            .attribute("encrypted", Attribute::new(network.encrypted).replace())
            .attribute("labels", Attribute::new(labels).replace());
            self.network_names.insert(docker.clone(), address);
            networks.insert(name.get_ref().clone(), Value::String(docker));
            self.add(resource, self.at(file, name.span()));
        }
        networks
    }
}
