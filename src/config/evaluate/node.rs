//! The node of each host: its role, availability, labels and addresses in the swarm.

use std::collections::BTreeSet;

use super::{Evaluation, labels_value};
use crate::address::{Address, Kind};
use crate::config::load::Host;
use crate::resource::{Attribute, Resource};

impl Evaluation<'_> {
    /// The node of one host; its addresses default to `[swarm]`'s, then to the host's address.
    pub(super) fn node(&mut self, host: &Host) {
        let swarm = &self.config.swarm;
        let name = &host.name;
        let advertise = host
            .config
            .advertise_addr
            .as_ref()
            .or(swarm.advertise_addr.as_ref())
            .map_or_else(
                || host.config.address.get_ref().clone(),
                |value| value.get_ref().clone(),
            );
        let data_path = host
            .config
            .data_path_addr
            .as_ref()
            .or(swarm.data_path_addr.as_ref())
            .map(|value| value.get_ref().clone());
        let labels = labels_value(&host.config.labels, host.location.file, &mut self.errors);
        let node = Resource {
            host: Some(name.clone()),
            depends_on: BTreeSet::from([
                Address::swarm(),
                Address::new(Kind::Engine, name.clone()),
                Address::new(Kind::Daemon, name.clone()),
            ]),
            ..Resource::new(Address::new(Kind::Node, name.clone()))
        }
        .attribute("role", Attribute::new(host.config.role.as_str()))
        .attribute(
            "availability",
            Attribute::new(host.config.availability.as_str()),
        )
        .attribute("labels", Attribute::new(labels))
        .attribute("advertise_addr", Attribute::new(advertise).replace())
        .attribute("data_path_addr", Attribute::new(data_path).replace());
        self.add(node, host.location.clone());
    }
}
