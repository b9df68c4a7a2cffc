//! `[swarm]`: its settings checked, and the swarm resource, initialised on the bootstrap host.

use std::collections::BTreeSet;

use super::{Evaluation, duration_error};
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::folder_of;
use crate::config::source::Diagnostic;
use crate::resource::{Attribute, Resource};

impl Evaluation<'_> {
    pub(super) fn check_swarm_settings(&mut self) {
        let config = self.config;
        let swarm = &config.swarm;
        let file = config.root;
        if let Some(path) = &swarm.unlock_key_file
            && !swarm.autolock
        {
            self.errors.push(
                Diagnostic::error("`unlock_key_file` without `autolock = true`")
                    .at(
                        self.at(file, path.span()),
                        "only an autolocked swarm has an unlock key",
                    )
                    .help("set `autolock = true` under `[swarm]`, or remove `unlock_key_file`"),
            );
        }
        // The apply that locks the swarm writes the key here: a folder it cannot write would
        // leave the key nowhere.
        if let Some(path) = &swarm.unlock_key_file
            && swarm.autolock
        {
            let full = folder_of(&config.path).join(path.get_ref());
            if let Some((problem, help)) = check::unwritable_file(&full, path.get_ref()) {
                self.errors.push(
                    Diagnostic::error(format!("`unlock_key_file` cannot be written: {problem}"))
                        .at(
                            self.at(file, path.span()),
                            "the apply that locks the swarm writes its unlock key here",
                        )
                        .help(format!(
                            "{help}; paths are relative to `{}`",
                            folder_of(&config.path).display()
                        )),
                );
            }
        }
        if let Some(listen) = &swarm.listen_addr
            && !check::is_advertise_address(listen.get_ref())
        {
            self.errors.push(
                Diagnostic::error(format!("`{}` is not a listen address", listen.get_ref())).at(
                    self.at(file, listen.span()),
                    "expected IP:PORT such as `0.0.0.0:2377`",
                ),
            );
        }
        for value in [&swarm.advertise_addr, &swarm.data_path_addr]
            .into_iter()
            .flatten()
        {
            if !check::is_advertise_address(value.get_ref()) {
                self.errors.push(
                    Diagnostic::error(format!(
                        "`{}` is not an IP address or interface name",
                        value.get_ref()
                    ))
                    .at(
                        self.at(file, value.span()),
                        "expected an IP address or an interface name such as `eth0`",
                    ),
                );
            }
        }
        let mut pools = Vec::new();
        for pool in &swarm.default_addr_pool {
            match check::parse_cidr(pool.get_ref()) {
                Ok(network) => pools.push(network),
                Err(message) => self.errors.push(
                    Diagnostic::error(message)
                        .at(self.at(file, pool.span()), "expected a CIDR block"),
                ),
            }
        }
        if let Some(mask) = &swarm.default_addr_pool_mask_length {
            let widest = pools
                .iter()
                .map(ipnet::IpNet::prefix_len)
                .max()
                .unwrap_or(8);
            if *mask.get_ref() > 29 || *mask.get_ref() < widest {
                self.errors.push(
                    Diagnostic::error(format!("default_addr_pool_mask_length {} does not fit the pools", mask.get_ref()))
                        .at(self.at(file, mask.span()), format!("expected {widest} to 29"))
                        .help("Docker carves each network out of the pools with this prefix length; it must be at least the pools' own prefix"),
                );
            }
        }
        for duration in [&swarm.cert_expiry, &swarm.dispatcher_heartbeat]
            .into_iter()
            .flatten()
        {
            if !check::is_duration(duration.get_ref()) {
                self.errors.push(duration_error(duration, file));
            }
        }
    }

    /// The swarm, initialised on the bootstrap host.
    pub(super) fn swarm(&mut self, bootstrap: &str) {
        let config = self.config;
        let swarm = &config.swarm;
        let Some(host) = config.host(bootstrap) else {
            return;
        };
        let swarm_resource = Resource {
            host: Some(bootstrap.to_owned()),
            depends_on: BTreeSet::from([
                Address::new(Kind::Engine, bootstrap.to_owned()),
                Address::new(Kind::Daemon, bootstrap.to_owned()),
            ]),
            ..Resource::new(Address::swarm())
        }
        .attribute(
            "listen_addr",
            Attribute::new(
                swarm
                    .listen_addr
                    .as_ref()
                    .map_or("0.0.0.0:2377".to_owned(), |value| value.get_ref().clone()),
            )
            .create_only(),
        )
        .attribute(
            "data_path_port",
            Attribute::new(swarm.data_path_port.unwrap_or(4789)).create_only(),
        )
        .attribute(
            "default_addr_pool",
            Attribute::new(
                swarm
                    .default_addr_pool
                    .iter()
                    .map(|pool| pool.get_ref().clone())
                    .collect::<Vec<_>>(),
            )
            .create_only(),
        )
        .attribute(
            "default_addr_pool_mask_length",
            Attribute::new(
                swarm
                    .default_addr_pool_mask_length
                    .as_ref()
                    .map_or(24, |mask| *mask.get_ref()),
            )
            .create_only(),
        )
        .attribute("autolock", Attribute::new(swarm.autolock))
        .attribute(
            "rotate_join_tokens",
            Attribute::new(swarm.rotate_join_tokens),
        )
        .attribute(
            "cert_expiry",
            Attribute::new(
                swarm
                    .cert_expiry
                    .as_ref()
                    .map_or("2160h0m0s".to_owned(), |value| value.get_ref().clone()),
            ),
        )
        .attribute(
            "dispatcher_heartbeat",
            Attribute::new(
                swarm
                    .dispatcher_heartbeat
                    .as_ref()
                    .map_or("5s".to_owned(), |value| value.get_ref().clone()),
            ),
        )
        .attribute(
            "max_snapshots",
            Attribute::new(swarm.max_snapshots.unwrap_or(0)),
        )
        .attribute(
            "snapshot_interval",
            Attribute::new(swarm.snapshot_interval.unwrap_or(10000)),
        )
        .attribute(
            "task_history_limit",
            Attribute::new(swarm.task_history_limit.unwrap_or(5)),
        );
        // The key file's path as written, and (as payload) where it is on this machine.
        let swarm_resource = match &swarm.unlock_key_file {
            Some(path) => swarm_resource.attribute(
                "unlock_key_file",
                Attribute::new(path.get_ref().clone()).with_payload(
                    folder_of(&config.path)
                        .join(path.get_ref())
                        .to_string_lossy()
                        .into_owned(),
                ),
            ),
            None => swarm_resource,
        };
        let location = config
            .swarm_location
            .clone()
            .unwrap_or_else(|| host.location.clone());
        self.add(swarm_resource, location);
    }
}
