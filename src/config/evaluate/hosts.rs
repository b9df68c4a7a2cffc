//! The hosts as a whole: at least one manager, an odd number of them, the bootstrap host, one
//! machine per address, and the SSH settings.

use std::collections::BTreeMap;

use super::{Evaluation, duration_error};
use crate::config::check;
use crate::config::model::{Name, Role, SshSettings};
use crate::config::source::{Diagnostic, FileId};

impl Evaluation<'_> {
    /// Manager count, bootstrap, host addresses. Returns the bootstrap host and the managers.
    pub(super) fn check_hosts(&mut self) -> (Option<String>, Vec<String>) {
        let config = self.config;
        if config.hosts.is_empty() {
            self.errors.push(
                Diagnostic::error("the config declares no hosts")
                    .at(self.at(config.root, 0..0), "in this file")
                    .help("declare at least one manager: `[hosts.node1]` with `address = \"...\"` and `role = \"manager\"`"),
            );
            return (None, Vec::new());
        }
        let managers: Vec<String> = config
            .hosts
            .iter()
            .filter(|host| host.config.role == Role::Manager)
            .map(|host| host.name.clone())
            .collect();
        let mut seen_addresses: BTreeMap<(String, u16), &str> = BTreeMap::new();
        for host in &config.hosts {
            let address = host.config.address.get_ref();
            if !check::is_host_address(address) {
                self.errors.push(
                    Diagnostic::error(format!("host `{}` has no usable address", host.name))
                        .at(
                            self.at(host.location.file, host.config.address.span()),
                            "expected an IP address or DNS name",
                        )
                        .help("write an IP address or a DNS name (letters, digits, `-` and `_` between dots); it is also the name of the folder of a hosted registry's CA on every host"),
                );
            }
            let port = host
                .config
                .ssh
                .as_ref()
                .and_then(|ssh| ssh.port)
                .or(config.ssh.port)
                .unwrap_or(22);
            if let Some(other) = seen_addresses.insert((address.clone(), port), &host.name) {
                self.errors.push(
                    Diagnostic::error(format!(
                        "hosts `{other}` and `{}` have the same address `{address}` and SSH port {port}",
                        host.name
                    ))
                    .at(self.at(host.location.file, host.config.address.span()), "duplicate address")
                    .help("each host must be a different machine"),
                );
            }
            for value in [&host.config.advertise_addr, &host.config.data_path_addr]
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
                            self.at(host.location.file, value.span()),
                            "expected an IP address or an interface name such as `eth0`",
                        ),
                    );
                }
            }
            if let Some(ssh) = &host.config.ssh {
                self.check_ssh(ssh, host.location.file);
            }
        }
        self.check_ssh(&config.ssh.clone(), config.root);

        let swarm_at = config.swarm_location.clone().unwrap_or_else(|| {
            config
                .hosts
                .iter()
                .find(|host| host.config.role == Role::Manager)
                .map_or_else(|| self.at(config.root, 0..0), |host| host.location.clone())
        });
        match managers.len() {
            0 => {
                self.errors.push(
                    Diagnostic::error("the config declares no manager")
                        .at(config.hosts[0].location.clone(), "for example this host")
                        .help("a swarm needs at least one manager: set `role = \"manager\"` on one host, or three for fault tolerance"),
                );
                return (None, managers);
            }
            count if count % 2 == 0 => {
                let tolerated = (count - 1) / 2;
                let with_one_more = count / 2;
                self.warnings.push(
                    Diagnostic::warning(format!("{count} managers: an even number adds no fault tolerance"))
                        .at(swarm_at.clone(), if config.swarm_location.is_some() { "in this swarm" } else { "a manager" })
                        .help(format!(
                            "Raft needs a majority of managers up: N managers tolerate (N-1)/2 failures, so {count} managers tolerate {tolerated} and {} tolerate {with_one_more}; use an odd number (3 or 5)",
                            count + 1
                        )),
                );
            }
            _ => {}
        }
        let bootstrap = match &config.swarm.bootstrap {
            Some(name) => match config.host(name.get_ref()) {
                Some(host) if host.config.role == Role::Manager => Some(host.name.clone()),
                Some(_) => {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "the bootstrap host `{}` is not a manager",
                            name.get_ref()
                        ))
                        .at(
                            self.at(config.root, name.span()),
                            "a worker cannot run `docker swarm init`",
                        )
                        .help(format!(
                            "choose one of the managers: {}",
                            managers.join(", ")
                        )),
                    );
                    None
                }
                None => {
                    self.errors.push(self.unknown_host(name, config.root));
                    None
                }
            },
            None => managers.first().cloned(),
        };
        self.check_swarm_settings();
        (bootstrap, managers)
    }

    pub(super) fn unknown_host(&self, name: &Name, file: FileId) -> Diagnostic {
        Diagnostic::error(format!("unknown host `{}`", name.get_ref()))
            .at(
                self.at(file, name.span()),
                "no host of that name is declared under [hosts]",
            )
            .help(format!("declared hosts: {}", self.config.host_names()))
    }

    fn check_ssh(&mut self, ssh: &SshSettings, file: FileId) {
        for duration in [&ssh.connect_timeout, &ssh.command_timeout]
            .into_iter()
            .flatten()
        {
            if !check::is_duration(duration.get_ref()) {
                self.errors.push(duration_error(duration, file));
            }
        }
        if ssh.port == Some(0) {
            self.errors.push(
                Diagnostic::error("SSH port 0 is not a port")
                    .at(self.at(file, 0..0), "in this file"),
            );
        }
    }
}
