//! The engine of each host: Docker installed (or required), and how to reach the host.

use super::Evaluation;
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::Host;
use crate::config::model::InstallPolicy;
use crate::config::source::Diagnostic;
use crate::resource::{Attribute, Resource};

impl Evaluation<'_> {
    /// The engine of one host, from `[engine]` and the host's address and SSH port.
    pub(super) fn engine(&mut self, host: &Host) {
        let config = self.config;
        let install = config.engine.install.unwrap_or(InstallPolicy::Require);
        let packages: Vec<String> = config.engine.packages.as_ref().map_or_else(
            || vec!["docker.io".to_owned()],
            |packages| {
                packages
                    .iter()
                    .map(|package| package.get_ref().clone())
                    .collect()
            },
        );
        for package in config.engine.packages.iter().flatten() {
            if !check::is_package_name(package.get_ref()) {
                self.errors.push(
                    Diagnostic::error(format!(
                        "`{}` is not a package name",
                        check::printable(package.get_ref())
                    ))
                    .at(self.at(config.root, package.span()), "apt-get installs this")
                    .help("name a package as apt-get takes it (`docker.io`, `docker-ce=5:24.0.7-1~debian.12~bookworm`): letters, digits and `+.-_~:=/`, starting with a letter or digit, so it is never read as an option"),
                );
            }
        }
        let name = &host.name;
        let engine = Resource {
            host: Some(name.clone()),
            ..Resource::new(Address::new(Kind::Engine, name.clone()))
        }
        .attribute(
            "install",
            Attribute::new(match install {
                InstallPolicy::Require => "require",
                InstallPolicy::IfMissing => "if-missing",
            }),
        )
        .attribute("packages", Attribute::new(packages))
        // Recorded so a host removed from the config can still be reached to take it out.
        .attribute(
            "address",
            Attribute::new(host.config.address.get_ref().clone()),
        )
        .attribute(
            "ssh_port",
            Attribute::new(
                host.config
                    .ssh
                    .as_ref()
                    .and_then(|ssh| ssh.port)
                    .or(config.ssh.port)
                    .unwrap_or(22),
            ),
        );
        self.add(engine, host.location.clone());
    }
}
