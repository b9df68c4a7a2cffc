//! Registries: a hosted one runs in the swarm on a node (its config, TLS and htpasswd, and the
//! hosts that trust it); an external one is logged in to from the managers.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use toml::Spanned;

use super::Evaluation;
use super::docker_name;
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::{Host, Scope};
use crate::config::model::{Name, RegistryConfig, Role, TrustedBy};
use crate::config::source::Diagnostic;
use crate::hash::sha256_tagged;
use crate::resource::{Attribute, Resource};

impl Evaluation<'_> {
    /// The registries of one scope; returns the address images use, by name, for templates.
    pub(super) fn registries(&mut self, scope: &Scope) -> Map<String, Value> {
        let file = scope.file;
        let mut registries = Map::new();
        for (name, registry) in &scope.registries {
            if !self.check_name("registry", name, file) {
                continue;
            }
            if let Some(address) = self.registry(scope, name, registry) {
                registries.insert(name.get_ref().clone(), json!({ "address": address }));
            }
        }
        registries
    }

    /// A hosted or an external registry. Returns the address images use.
    fn registry(
        &mut self,
        scope: &Scope,
        name: &Name,
        registry: &RegistryConfig,
    ) -> Option<String> {
        let file = scope.file;
        let address =
            Address::new(Kind::Registry, name.get_ref()).in_module(scope.module.as_deref());
        if let Some(password) = &registry.password {
            self.errors.push(
                Diagnostic::error("registry passwords are never written in the config")
                    .at(self.at(file, password.span()), "remove this")
                    .help("use `password_env = \"VARIABLE\"` or `password_file = \"path\"`"),
            );
        }
        match (&registry.node, &registry.url) {
            (Some(node), None) => self.hosted_registry(scope, name, registry, node, address),
            (None, Some(url)) => self.external_registry(scope, name, registry, url, address),
            _ => {
                self.errors.push(
                    Diagnostic::error(format!("registry `{}` needs exactly one of `node` and `url`", name.get_ref()))
                        .at(self.at(file, name.span()), "this registry")
                        .help("`node = \"HOST\"` runs a registry in the swarm on that host; `url = \"registry.example.com\"` logs in to an external one"),
                );
                None
            }
        }
    }

    /// A registry run in the swarm on `node`: its config, TLS and htpasswd, and the hosts
    /// that trust it. Returns the address images use.
    fn hosted_registry(
        &mut self,
        scope: &Scope,
        name: &Name,
        registry: &RegistryConfig,
        node: &Name,
        address: Address,
    ) -> Option<String> {
        let file = scope.file;
        let Some(host) = self.config.host(node.get_ref()) else {
            self.errors.push(self.unknown_host(node, file));
            return None;
        };
        for (field, present) in [
            ("username", registry.username.is_some()),
            ("password_env", registry.password_env.is_some()),
            ("password_file", registry.password_file.is_some()),
        ] {
            if present {
                self.errors.push(
                    Diagnostic::error(format!("`{field}` is for external registries (with `url`)"))
                        .at(
                            self.at(file, name.span()),
                            "this registry runs in the swarm",
                        )
                        .help("a hosted registry takes `htpasswd = \"file\"` for basic auth"),
                );
            }
        }
        let port = registry.port.as_ref().map_or(5000, |port| *port.get_ref());
        let registry_address = format!("{}:{port}", host.config.address.get_ref());
        let docker = docker_name(scope, name.get_ref());
        let volume = registry.volume.as_ref().map_or_else(
            || format!("{docker}-data"),
            |volume| volume.get_ref().clone(),
        );
        if !check::is_docker_name(&volume, 255) {
            let span = registry.volume.as_ref().map_or(name.span(), Spanned::span);
            self.errors.push(
                Diagnostic::error(format!("`{volume}` is not a valid volume name"))
                    .at(self.at(file, span), "this volume"),
            );
        }
        let image = registry
            .image
            .as_ref()
            .map_or_else(|| "registry:2".to_owned(), |image| image.get_ref().clone());
        if let Some(written) = &registry.image
            && !check::is_operand(written.get_ref())
        {
            self.errors.push(
                Diagnostic::error(format!(
                    "`{}` is not an image reference",
                    check::printable(written.get_ref())
                ))
                .at(self.at(file, written.span()), "this image")
                .help("name an image such as `registry:2` or `local/registry:2`: one word, not starting with `-`"),
            );
        }
        let mut resource = Resource {
            docker_name: Some(docker),
            depends_on: BTreeSet::from([
                Address::swarm(),
                Address::new(Kind::Node, host.name.clone()),
            ]),
            ..Resource::new(address.clone())
        }
        .attribute("node", Attribute::new(host.name.clone()))
        .attribute("address", Attribute::new(registry_address.clone()))
        .attribute("port", Attribute::new(port))
        .attribute("image", Attribute::new(image))
        .attribute("volume", Attribute::new(volume).replace());

        let mut config = json!({
            "version": 0.1,
            "log": { "fields": { "service": "registry" } },
            "storage": { "filesystem": { "rootdirectory": "/var/lib/registry" }, "delete": { "enabled": true } },
            "http": { "addr": format!(":{port}") },
        });
        let mut ca_hash = None;
        if let Some(tls) = &registry.tls {
            let cert = self.read_bytes(scope, &tls.cert, "this file")?;
            let key = self.read_bytes(scope, &tls.key, "this file")?;
            resource = resource
                .attribute(
                    "tls_cert",
                    Attribute::new(sha256_tagged(&cert)).with_payload(cert.clone()),
                )
                .attribute("tls_key", Attribute::sensitive(&key));
            if let Some(ca) = &tls.ca {
                let ca = self.read_bytes(scope, ca, "this file")?;
                ca_hash = Some((sha256_tagged(&ca), ca));
            }
            config["http"]["tls"] = json!({ "certificate": "/run/secrets/registry_tls_cert", "key": "/run/secrets/registry_tls_key" });
        }
        if let Some(htpasswd) = &registry.htpasswd {
            let content = self.read_bytes(scope, htpasswd, "this file")?;
            resource = resource.attribute("htpasswd", Attribute::sensitive(&content));
            config["auth"] = json!({ "htpasswd": { "realm": "swarmform", "path": "/run/secrets/registry_htpasswd" } });
        }
        if !registry.notifications.is_empty() {
            let endpoints: Vec<Value> = registry
                .notifications
                .iter()
                .map(|endpoint| {
                    let notification = endpoint.get_ref();
                    for duration in [&notification.timeout, &notification.backoff]
                        .into_iter()
                        .flatten()
                    {
                        if !check::is_duration(duration) {
                            self.errors.push(
                                Diagnostic::error(format!("`{duration}` is not a duration"))
                                    .at(self.at(file, endpoint.span()), "in this endpoint")
                                    .help("write durations as Go does: `500ms`, `1s`, `2m`"),
                            );
                        }
                    }
                    let mut value = serde_json::to_value(notification).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut value {
                        map.retain(|_, item| !item.is_null());
                    }
                    value
                })
                .collect();
            config["notifications"] = json!({ "endpoints": endpoints });
        }
        let config_text = serde_norway::to_string(&config).unwrap_or_default();
        // The registry step creates the swarm config from the payload; the shown value is
        // redacted.
        resource = resource.attribute(
            "config",
            Attribute::new(self.redact(&config_text))
                .text()
                .with_payload(config_text.into_bytes()),
        );

        let trusting: Vec<String> = match registry.trusted_by.as_ref().map(Spanned::get_ref) {
            None => self
                .config
                .hosts
                .iter()
                .map(|host| host.name.clone())
                .collect(),
            Some(TrustedBy::All(word)) if word == "all" => self
                .config
                .hosts
                .iter()
                .map(|host| host.name.clone())
                .collect(),
            Some(TrustedBy::All(word)) => {
                let span = registry
                    .trusted_by
                    .as_ref()
                    .map_or(name.span(), Spanned::span);
                self.errors.push(
                    Diagnostic::error(format!("`trusted_by = \"{word}\"` is not understood")).at(
                        self.at(file, span),
                        "expected \"all\" or a list of host names",
                    ),
                );
                Vec::new()
            }
            Some(TrustedBy::Hosts(names)) => {
                let span = registry
                    .trusted_by
                    .as_ref()
                    .map_or(name.span(), Spanned::span);
                let mut found = Vec::new();
                for host in names {
                    match self.config.host(host) {
                        Some(known) => found.push(known.name.clone()),
                        None => self.errors.push(
                            Diagnostic::error(format!("unknown host `{host}`"))
                                .at(
                                    self.at(
                                        file,
                                        self.find_in(file, &span, &format!("\"{host}\"")),
                                    ),
                                    "no host of that name is declared under [hosts]",
                                )
                                .help(format!("declared hosts: {}", self.config.host_names())),
                        ),
                    }
                }
                found
            }
        };
        for host in trusting {
            match (&registry.tls, &ca_hash) {
                (None, _) => self
                    .insecure_registries
                    .entry(host)
                    .or_default()
                    .push(registry_address.clone()),
                (Some(_), Some(ca)) => {
                    self.registry_cas
                        .entry(host)
                        .or_default()
                        .insert(registry_address.clone(), ca.clone());
                }
                (Some(_), None) => {}
            }
        }
        self.registry_addresses
            .insert(registry_address.clone(), address);
        self.add(resource, self.at(file, name.span()));
        Some(registry_address)
    }

    /// An external registry, logged in to from the managers. Returns its URL.
    fn external_registry(
        &mut self,
        scope: &Scope,
        name: &Name,
        registry: &RegistryConfig,
        url: &Spanned<String>,
        address: Address,
    ) -> Option<String> {
        let file = scope.file;
        let password = match (&registry.password_env, &registry.password_file) {
            (Some(variable), None) => match std::env::var(variable.get_ref()) {
                Ok(value) => Some(value.into_bytes()),
                Err(_) => {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "the environment variable `{}` is not set",
                            variable.get_ref()
                        ))
                        .at(
                            self.at(file, variable.span()),
                            "the registry password comes from here",
                        )
                        .help(format!(
                            "export {}=... before running swarmform",
                            variable.get_ref()
                        )),
                    );
                    None
                }
            },
            (None, Some(path)) => self.read_bytes(scope, path, "this file").map(|bytes| {
                let text = String::from_utf8_lossy(&bytes);
                text.trim_end_matches(['\n', '\r']).as_bytes().to_vec()
            }),
            (None, None) => None,
            (Some(_), Some(path)) => {
                self.errors.push(
                    Diagnostic::error("set one of `password_env` and `password_file`, not both")
                        .at(self.at(file, path.span()), "second source"),
                );
                None
            }
        };
        if registry.username.is_some() != password.is_some() && self.errors.is_empty() {
            self.errors.push(
                Diagnostic::error(format!("registry `{}` needs both a username and a password", name.get_ref()))
                    .at(self.at(file, name.span()), "this registry")
                    .help("set `username` and one of `password_env` or `password_file`, or neither for anonymous pulls"),
            );
        }
        self.check_login(file, url, registry.username.as_ref());
        if let Some(password) = &password
            && let Ok(text) = std::str::from_utf8(password)
            && !text.is_empty()
        {
            crate::redact::register(text);
            self.sensitive_values.push(text.to_owned());
        }
        let managers: Vec<&Host> = self
            .config
            .hosts
            .iter()
            .filter(|host| host.config.role == Role::Manager)
            .collect();
        let mut resource = Resource {
            depends_on: managers
                .iter()
                .map(|host| Address::new(Kind::Daemon, host.name.clone()))
                .collect(),
            ..Resource::new(address.clone())
        }
        .attribute("url", Attribute::new(url.get_ref().clone()))
        .attribute(
            "username",
            Attribute::new(
                registry
                    .username
                    .as_ref()
                    .map(|name| name.get_ref().clone()),
            ),
        )
        .attribute(
            "login_on",
            Attribute::new(
                managers
                    .iter()
                    .map(|host| host.name.clone())
                    .collect::<Vec<_>>(),
            ),
        );
        if let Some(password) = &password {
            resource = resource.attribute("password", Attribute::sensitive(password));
        }
        self.registry_addresses
            .insert(url.get_ref().clone(), address);
        self.add(resource, self.at(file, name.span()));
        Some(url.get_ref().clone())
    }

    /// An external registry's URL and user name as `docker login` takes them: the URL one
    /// operand word; the user name one line without `:` (Docker keeps `USER:PASSWORD` in the
    /// host's config.json, and basic auth cannot carry a `:` in a user name).
    fn check_login(
        &mut self,
        file: crate::config::source::FileId,
        url: &Spanned<String>,
        username: Option<&Spanned<String>>,
    ) {
        if !check::is_operand(url.get_ref()) {
            self.errors.push(
                Diagnostic::error(format!(
                    "`{}` is not a registry address",
                    check::printable(url.get_ref())
                ))
                .at(self.at(file, url.span()), "this url")
                .help("write the registry's host, as `docker login` takes it: `registry.example.com` or `registry.example.com:5000`"),
            );
        }
        if let Some(username) = username {
            let problem = match check::line_breaking(username.get_ref()) {
                Some(character) => {
                    Some(format!("contains {}", check::describe_character(character)))
                }
                None if username.get_ref().contains(':') => Some("contains `:`".to_owned()),
                None if username.get_ref().is_empty() => Some("is empty".to_owned()),
                None => None,
            };
            if let Some(problem) = problem {
                self.errors.push(
                    Diagnostic::error(format!("the registry user name {problem}"))
                        .at(self.at(file, username.span()), "this user name")
                        .help("a registry user name is one line without `:`: Docker stores `USER:PASSWORD` for the login, so a `:` would move the rest into the password"),
                );
            }
        }
    }
}
