//! Evaluating a loaded [`Config`] into desired resources: every check that needs the whole
//! config (references, manager count, names, addresses), templates rendered, compose files
//! parsed, and the implicit dependencies they reveal.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use toml::Spanned;

use super::check;
use super::load::{Base, Config, Host, Scope, collect_strings, render_strings, toml_to_json};
use super::model::{ContentConfig, HostKeyPolicy, InstallPolicy, Name, OnDestroy, Role, TrustedBy};
use super::source::{Diagnostic, FileId, Location, Sources};
use super::template;
use crate::address::{Address, Kind};
use crate::hash::{sha256_hex, sha256_tagged};
use crate::resource::{Attribute, OnChange, Resource};

/// Where Debian's dockerd reads its configuration, and where swarmform puts its drop-in.
pub const DAEMON_JSON_PATH: &str = "/etc/docker/daemon.json";
pub const DROP_IN_PATH: &str = "/etc/systemd/system/docker.service.d/swarmform.conf";
pub const TLS_DIR: &str = "/etc/docker/swarmform-tls";

/// Everything the planner needs from the config.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Sorted by address.
    pub resources: Vec<Resource>,
    pub warnings: Vec<Diagnostic>,
    /// Strings scrubbed from all output (sensitive variables and inputs).
    pub sensitive_values: Vec<String>,
    /// Where each resource is declared.
    pub locations: BTreeMap<Address, Location>,
    pub bootstrap: String,
    /// Manager host names in config order.
    pub managers: Vec<String>,
    pub on_destroy: OnDestroy,
    /// `[swarm] adopt`: take over the swarm the bootstrap manager is already in.
    pub adopt: bool,
}

impl Desired {
    pub fn resource(&self, address: &Address) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|resource| &resource.address == address)
    }
}

struct Evaluation<'a> {
    config: &'a Config,
    sources: &'a mut Sources,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    resources: Vec<Resource>,
    locations: BTreeMap<Address, Location>,
    sensitive_values: Vec<String>,
    /// Docker names of managed objects, to find what compose files refer to.
    network_names: BTreeMap<String, Address>,
    secret_names: BTreeMap<String, Address>,
    config_names: BTreeMap<String, Address>,
    registry_addresses: BTreeMap<String, Address>,
    /// Hosted registries' trust, per host: insecure registries and CA hashes by address.
    insecure_registries: BTreeMap<String, Vec<String>>,
    /// Per host: registry address -> (CA hash, CA content).
    registry_cas: BTreeMap<String, BTreeMap<String, (String, Vec<u8>)>>,
}

/// Evaluates the config. Errors are collected across the whole config before returning.
pub fn evaluate(config: &Config, sources: &mut Sources) -> Result<Desired, Vec<Diagnostic>> {
    let mut evaluation = Evaluation {
        config,
        sources,
        errors: Vec::new(),
        warnings: Vec::new(),
        resources: Vec::new(),
        locations: BTreeMap::new(),
        sensitive_values: config.sensitive_values.clone(),
        network_names: BTreeMap::new(),
        secret_names: BTreeMap::new(),
        config_names: BTreeMap::new(),
        registry_addresses: BTreeMap::new(),
        insecure_registries: BTreeMap::new(),
        registry_cas: BTreeMap::new(),
    };
    let (bootstrap, managers) = evaluation.check_hosts();
    let mut scopes = Vec::new();
    let mut contexts: Vec<Value> = Vec::new();
    for scope in &config.scopes {
        let mut scope = scope.clone();
        if let Some(root_context) = contexts.first()
            && scope.module.is_some()
        {
            let Some(inputs) = evaluation.module_inputs(&scope, root_context) else {
                continue;
            };
            insert(&mut scope.context, "inputs", inputs);
        }
        contexts.push(evaluation.objects(&scope));
        scopes.push(scope);
    }
    for (scope, context) in scopes.iter().zip(&contexts) {
        evaluation.files(scope, context);
        evaluation.stacks(scope, context);
    }
    if let Some(bootstrap) = &bootstrap {
        evaluation.hosts(bootstrap);
    }
    evaluation.check_duplicates();
    let Evaluation {
        errors,
        warnings,
        mut resources,
        locations,
        sensitive_values,
        ..
    } = evaluation;
    // Root settings are checked once per host; report each mistake once.
    let errors = dedup(errors);
    let warnings = dedup(warnings);
    if !errors.is_empty() {
        return Err(errors);
    }
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Desired {
        resources,
        warnings,
        sensitive_values,
        locations,
        bootstrap: bootstrap.unwrap_or_default(),
        managers,
        on_destroy: config.daemon.on_destroy.unwrap_or(OnDestroy::Keep),
        adopt: config.swarm.adopt,
    })
}

fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut unique: Vec<Diagnostic> = Vec::new();
    for diagnostic in diagnostics {
        if !unique.contains(&diagnostic) {
            unique.push(diagnostic);
        }
    }
    unique
}

fn docker_name(scope: &Scope, name: &str) -> String {
    match &scope.module {
        Some(module) => format!("{module}-{name}"),
        None => name.to_owned(),
    }
}

fn labels_value(
    labels: &BTreeMap<Spanned<String>, String>,
    file: FileId,
    errors: &mut Vec<Diagnostic>,
) -> Value {
    let mut map = Map::new();
    for (key, value) in labels {
        if !check::is_label_key(key.get_ref()) {
            errors.push(
                Diagnostic::error(format!("`{}` is not a valid label key", key.get_ref()))
                    .at(Location::new(file, key.span()), "this key")
                    .help("label keys may not be empty or contain whitespace or `=`"),
            );
        } else if key
            .get_ref()
            .starts_with(crate::swarm::ownership::RESERVED_PREFIX)
        {
            errors.push(
                Diagnostic::error(format!("`{}` is a reserved label key", key.get_ref()))
                    .at(Location::new(file, key.span()), "this key")
                    .help("label keys starting with `swarmform.` are swarmform's own: it marks what it creates with `swarmform.address` and `swarmform.lineage`; rename this label"),
            );
        }
        map.insert(key.get_ref().clone(), Value::String(value.clone()));
    }
    Value::Object(map)
}

impl Evaluation<'_> {
    fn at(&self, file: FileId, span: std::ops::Range<usize>) -> Location {
        Location::new(file, span)
    }

    fn add(&mut self, resource: Resource, location: Location) {
        self.locations.insert(resource.address.clone(), location);
        self.resources.push(resource);
    }

    /// Manager count, bootstrap, host addresses. Returns the bootstrap host and the managers.
    fn check_hosts(&mut self) -> (Option<String>, Vec<String>) {
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
            if address.trim().is_empty() || address.contains(char::is_whitespace) {
                self.errors.push(
                    Diagnostic::error(format!("host `{}` has no usable address", host.name)).at(
                        self.at(host.location.file, host.config.address.span()),
                        "expected an IP address or DNS name",
                    ),
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

    fn unknown_host(&self, name: &Name, file: FileId) -> Diagnostic {
        Diagnostic::error(format!("unknown host `{}`", name.get_ref()))
            .at(
                self.at(file, name.span()),
                "no host of that name is declared under [hosts]",
            )
            .help(format!("declared hosts: {}", self.config.host_names()))
    }

    fn check_ssh(&mut self, ssh: &super::model::SshSettings, file: FileId) {
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

    fn check_swarm_settings(&mut self) {
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
            let full = super::load::folder_of(&config.path).join(path.get_ref());
            if let Some((problem, help)) = check::unwritable_file(&full, path.get_ref()) {
                self.errors.push(
                    Diagnostic::error(format!("`unlock_key_file` cannot be written: {problem}"))
                        .at(
                            self.at(file, path.span()),
                            "the apply that locks the swarm writes its unlock key here",
                        )
                        .help(format!(
                            "{help}; paths are relative to `{}`",
                            super::load::folder_of(&config.path).display()
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

    /// A module call's inputs rendered against the root's context (variables and the root's
    /// objects), so a call can pass `"{{secrets.tls}}"`.
    fn module_inputs(&mut self, scope: &Scope, root_context: &Value) -> Option<Value> {
        let mut inputs = Map::new();
        for input in &scope.inputs {
            match render_strings(
                &input.value,
                root_context,
                self.sources,
                self.config.root,
                input.span.clone(),
            ) {
                Ok(rendered) => {
                    if input.sensitive {
                        collect_strings(&rendered, &mut self.sensitive_values);
                    }
                    inputs.insert(input.name.clone(), rendered);
                }
                Err(error) => {
                    self.errors.push(error);
                    return None;
                }
            }
        }
        Some(Value::Object(inputs))
    }

    /// Networks, secrets, configs and registries of one scope; returns the template context
    /// naming them.
    fn objects(&mut self, scope: &Scope) -> Value {
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

        let secrets = self.contents(scope, Kind::Secret);
        let configs = self.contents(scope, Kind::Config);

        let mut registries = Map::new();
        for (name, registry) in &scope.registries {
            if !self.check_name("registry", name, file) {
                continue;
            }
            if let Some(address) = self.registry(scope, name, registry) {
                registries.insert(name.get_ref().clone(), json!({ "address": address }));
            }
        }

        let hosts: Map<String, Value> = self
            .config
            .hosts
            .iter()
            .map(|host| (host.name.clone(), host_context(host)))
            .collect();
        let mut context = scope.context.clone();
        if let Value::Object(map) = &mut context {
            map.insert("networks".into(), Value::Object(networks));
            map.insert("secrets".into(), Value::Object(secrets));
            map.insert("configs".into(), Value::Object(configs));
            map.insert("registries".into(), Value::Object(registries));
            map.insert("hosts".into(), Value::Object(hosts));
        }
        context
    }

    /// The span of `needle` inside `within` (a list's span), or `within` itself.
    fn find_in(
        &self,
        file: FileId,
        within: &std::ops::Range<usize>,
        needle: &str,
    ) -> std::ops::Range<usize> {
        let text = self.sources.text(file);
        text.get(within.clone())
            .and_then(|slice| slice.find(needle))
            .map_or_else(
                || within.clone(),
                |offset| within.start + offset..within.start + offset + needle.len(),
            )
    }

    fn check_name(&mut self, what: &str, name: &Name, file: FileId) -> bool {
        let valid = crate::address::is_name(name.get_ref());
        if !valid {
            self.errors.push(
                Diagnostic::error(format!("`{}` is not a valid {what} name", name.get_ref()))
                    .at(self.at(file, name.span()), "this name")
                    .help("names start with a letter or digit and contain only letters, digits, `_` and `-` (at most 63)"),
            );
        }
        valid
    }

    /// Secrets or configs of one scope. Their Docker names carry a content hash, so a new
    /// content is a new object and a rotation is an ordinary replacement.
    fn contents(&mut self, scope: &Scope, kind: Kind) -> Map<String, Value> {
        let table = match kind {
            Kind::Secret => &scope.secrets,
            _ => &scope.configs,
        };
        let file = scope.file;
        let what = kind.keyword();
        let mut names = Map::new();
        for (name, content) in table {
            if !self.check_name(what, name, file) {
                continue;
            }
            let Some(bytes) = self.content(scope, name, content, what) else {
                continue;
            };
            let digest = sha256_hex(&bytes);
            let docker = format!("{}-{}", docker_name(scope, name.get_ref()), &digest[..8]);
            if !check::is_docker_name(&docker, 64) {
                self.errors.push(
                    Diagnostic::error(format!(
                        "the {what} name `{docker}` is longer than Docker's 64 characters"
                    ))
                    .at(self.at(file, name.span()), "shorten this name")
                    .help("swarmform appends `-` and 8 characters of the content hash to the name"),
                );
                continue;
            }
            let address = Address::new(kind, name.get_ref()).in_module(scope.module.as_deref());
            let labels = labels_value(&content.labels, file, &mut self.errors);
            let mut resource = Resource {
                docker_name: Some(docker.clone()),
                depends_on: BTreeSet::from([Address::swarm()]),
                create_before_destroy: true,
                ..Resource::new(address.clone())
            }
            .attribute("name", Attribute::new(docker.clone()).replace())
            .attribute("labels", Attribute::new(labels).replace());
            resource = match (kind, String::from_utf8(bytes.clone())) {
                (Kind::Secret, _) => {
                    resource.attribute("content", Attribute::sensitive(&bytes).replace())
                }
                (_, Ok(text)) => {
                    self.text_attributes(resource, "content", &text, OnChange::Replace)
                }
                (_, Err(_)) => resource.attribute(
                    "content",
                    Attribute::new(sha256_tagged(&bytes))
                        .with_payload(bytes.clone())
                        .replace(),
                ),
            };
            if kind == Kind::Secret {
                self.secret_names.insert(docker.clone(), address);
            } else {
                self.config_names.insert(docker.clone(), address);
            }
            names.insert(name.get_ref().clone(), Value::String(docker));
            self.add(resource, self.at(file, name.span()));
        }
        names
    }

    fn content(
        &mut self,
        scope: &Scope,
        name: &Name,
        content: &ContentConfig,
        what: &str,
    ) -> Option<Vec<u8>> {
        let file = scope.file;
        match (&content.file, &content.template) {
            (Some(path), None) => self.read_bytes(scope, path, &format!("the {what}'s content")),
            (None, Some(path)) => {
                let vars = self.vars(&content.vars, scope, name)?;
                let mut context = scope.context.clone();
                insert(&mut context, "vars", vars);
                insert(
                    &mut context,
                    "hosts",
                    Value::Object(
                        self.config
                            .hosts
                            .iter()
                            .map(|host| (host.name.clone(), host_context(host)))
                            .collect(),
                    ),
                );
                self.render(scope, path, &context).map(String::into_bytes)
            }
            _ => {
                self.errors.push(
                    Diagnostic::error(format!(
                        "{what} `{}` needs exactly one of `file` and `template`",
                        name.get_ref()
                    ))
                    .at(self.at(file, name.span()), "this one")
                    .help(format!(
                        "write `file = \"{what}s/{}.txt\"`, or `template = \"...hbs\"` with `vars`",
                        name.get_ref()
                    )),
                );
                None
            }
        }
    }

    fn vars(
        &mut self,
        vars: &indexmap::IndexMap<String, toml::Value>,
        scope: &Scope,
        name: &Name,
    ) -> Option<Value> {
        let mut map = Map::new();
        for (key, value) in vars {
            match render_strings(value, &scope.context, self.sources, scope.file, name.span()) {
                Ok(rendered) => {
                    map.insert(key.clone(), rendered);
                }
                Err(error) => {
                    self.errors.push(error);
                    return None;
                }
            }
        }
        Some(Value::Object(map))
    }

    fn render(&mut self, scope: &Scope, path: &Spanned<String>, context: &Value) -> Option<String> {
        let id = scope
            .read(self.sources, path)
            .map_err(|error| self.errors.push(error))
            .ok()?;
        template::render(self.sources, id, context)
            .map_err(|error| self.errors.push(error))
            .ok()
    }

    /// A rendered text attribute, shown with sensitive values scrubbed. When scrubbing hid
    /// something, `NAME_sha256` of the full text rides along, so a changed secret value is still
    /// a change.
    fn text_attributes(
        &self,
        mut resource: Resource,
        name: &str,
        text: &str,
        on_change: OnChange,
    ) -> Resource {
        let shown = self.redact(text);
        if shown != text {
            resource = resource.attribute(
                &format!("{name}_sha256"),
                with_on_change(Attribute::sensitive(text.as_bytes()), on_change),
            );
        }
        resource.attribute(
            name,
            with_on_change(Attribute::new(shown).text().with_payload(text), on_change),
        )
    }

    /// Text with every sensitive value replaced by `(sensitive)`.
    fn redact(&self, text: &str) -> String {
        crate::redact::redact(text, &self.sensitive_values)
    }

    /// A hosted or an external registry. Returns the address images use.
    fn registry(
        &mut self,
        scope: &Scope,
        name: &Name,
        registry: &super::model::RegistryConfig,
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
            (Some(node), None) => {
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
                            Diagnostic::error(format!(
                                "`{field}` is for external registries (with `url`)"
                            ))
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
                                        Diagnostic::error(format!(
                                            "`{duration}` is not a duration"
                                        ))
                                        .at(self.at(file, endpoint.span()), "in this endpoint")
                                        .help("write durations as Go does: `500ms`, `1s`, `2m`"),
                                    );
                                }
                            }
                            let mut value =
                                serde_json::to_value(notification).unwrap_or(Value::Null);
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

                let trusting: Vec<String> = match registry.trusted_by.as_ref().map(Spanned::get_ref)
                {
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
                            Diagnostic::error(format!(
                                "`trusted_by = \"{word}\"` is not understood"
                            ))
                            .at(
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
                                        .help(format!(
                                            "declared hosts: {}",
                                            self.config.host_names()
                                        )),
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
            (None, Some(url)) => {
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
                            Diagnostic::error(
                                "set one of `password_env` and `password_file`, not both",
                            )
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
                if let Some(password) = &password
                    && let Ok(text) = std::str::from_utf8(password)
                    && !text.is_empty()
                {
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
                .attribute("username", Attribute::new(registry.username.clone()))
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

    /// A file named relative to `scope`; a read error points at the path with `label`.
    fn read_bytes(
        &mut self,
        scope: &Scope,
        path: &Spanned<String>,
        label: &str,
    ) -> Option<Vec<u8>> {
        match &scope.base {
            Base::Dir(dir) => std::fs::read(dir.join(path.get_ref()))
                .map_err(|error| {
                    self.errors.push(
                        Diagnostic::error(format!("cannot read `{}`: {error}", path.get_ref()))
                            .at(self.at(scope.file, path.span()), label)
                            .help(format!("paths are relative to `{}`", dir.display())),
                    );
                })
                .ok(),
            Base::Builtin(_) => scope
                .read(self.sources, path)
                .map(|id| self.sources.text(id).as_bytes().to_vec())
                .map_err(|error| self.errors.push(error))
                .ok(),
        }
    }

    fn files(&mut self, scope: &Scope, context: &Value) {
        let file = scope.file;
        for (name, spec) in &scope.files {
            if !self.check_name("file", name, file) {
                continue;
            }
            let path = spec.path.get_ref();
            if !path.starts_with('/') || path.ends_with('/') || path.contains("/../") {
                self.errors.push(
                    Diagnostic::error(format!("`{path}` is not an absolute file path")).at(
                        self.at(file, spec.path.span()),
                        "expected a path such as `/etc/docker/certs.d/registry:5000/ca.crt`",
                    ),
                );
                continue;
            }
            let mode = spec
                .mode
                .as_ref()
                .map_or("0644".to_owned(), |mode| mode.get_ref().clone());
            if check::parse_mode(&mode).is_none() {
                let span = spec.mode.as_ref().map_or(name.span(), Spanned::span);
                self.errors.push(
                    Diagnostic::error(format!("`{mode}` is not a file mode"))
                        .at(self.at(file, span), "expected octal such as \"0644\""),
                );
            }
            let owner = spec
                .owner
                .as_ref()
                .map_or("root".to_owned(), |owner| owner.get_ref().clone());
            let group = spec
                .group
                .as_ref()
                .map_or("root".to_owned(), |group| group.get_ref().clone());
            for (value, field) in [(&spec.owner, "owner"), (&spec.group, "group")] {
                if let Some(value) = value
                    && !check::is_account_name(value.get_ref())
                {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "`{}` is not a valid {field} name",
                            value.get_ref()
                        ))
                        .at(self.at(file, value.span()), "this name"),
                    );
                }
            }
            let sources_given = [
                spec.content.is_some(),
                spec.source.is_some(),
                spec.template.is_some(),
                spec.line.is_some(),
            ];
            if sources_given.iter().filter(|given| **given).count() != 1 {
                self.errors.push(
                    Diagnostic::error(format!(
                        "file `{}` needs exactly one of `content`, `source`, `template` and `line`",
                        name.get_ref()
                    ))
                    .at(self.at(file, name.span()), "this file"),
                );
                continue;
            }
            if let Some(line) = &spec.line
                && line.get_ref().contains('\n')
            {
                self.errors.push(
                    Diagnostic::error("`line` must be a single line")
                        .at(self.at(file, line.span()), "contains a newline"),
                );
                continue;
            }
            let targets: Vec<&Host> = match (&spec.hosts, &spec.roles) {
                (Some(names), _) => names
                    .iter()
                    .filter_map(|host| {
                        let found = self.config.host(host.get_ref());
                        if found.is_none() {
                            self.errors.push(self.unknown_host(host, file));
                        }
                        found
                    })
                    .collect(),
                (None, Some(roles)) => self
                    .config
                    .hosts
                    .iter()
                    .filter(|host| roles.contains(&host.config.role))
                    .collect(),
                (None, None) => self.config.hosts.iter().collect(),
            };
            let static_content = match (&spec.content, &spec.source) {
                (Some(content), _) => Some(content.get_ref().as_bytes().to_vec()),
                (_, Some(source)) => match self.read_bytes(scope, source, "this file") {
                    Some(bytes) => Some(bytes),
                    None => continue,
                },
                _ => None,
            };
            let vars = if spec.template.is_some() {
                match self.vars(&spec.vars, scope, name) {
                    Some(vars) => vars,
                    None => continue,
                }
            } else {
                Value::Null
            };
            for host in targets {
                let (content_key, content) = if let Some(line) = &spec.line {
                    ("line", line.get_ref().as_bytes().to_vec())
                } else if let Some(template) = &spec.template {
                    let mut host_context_value = context.clone();
                    insert(&mut host_context_value, "vars", vars.clone());
                    insert(&mut host_context_value, "host", host_context(host));
                    match self.render(scope, template, &host_context_value) {
                        Some(text) => ("content", text.into_bytes()),
                        None => break,
                    }
                } else {
                    ("content", static_content.clone().unwrap_or_default())
                };
                let on_change = if spec.restarts_docker {
                    OnChange::RestartsDocker
                } else {
                    OnChange::InPlace
                };
                let address = Address::new(Kind::File, name.get_ref())
                    .in_module(scope.module.as_deref())
                    .on_host(host.name.clone());
                let mut resource = Resource {
                    host: Some(host.name.clone()),
                    depends_on: BTreeSet::from([Address::new(Kind::Engine, host.name.clone())]),
                    ..Resource::new(address)
                }
                .attribute("path", Attribute::new(path.clone()).replace())
                .attribute("mode", Attribute::new(mode.clone()))
                .attribute("owner", Attribute::new(owner.clone()))
                .attribute("group", Attribute::new(group.clone()))
                .attribute("restarts_docker", Attribute::new(spec.restarts_docker));
                resource = match (spec.sensitive, String::from_utf8(content.clone())) {
                    (true, _) => resource.attribute(
                        content_key,
                        with_on_change(Attribute::sensitive(&content), on_change),
                    ),
                    (false, Ok(text)) => {
                        self.text_attributes(resource, content_key, &text, on_change)
                    }
                    (false, Err(_)) => resource.attribute(
                        content_key,
                        with_on_change(
                            Attribute::new(sha256_tagged(&content)).with_payload(content.clone()),
                            on_change,
                        ),
                    ),
                };
                self.add(resource, self.at(file, name.span()));
            }
        }
    }

    fn stacks(&mut self, scope: &Scope, context: &Value) {
        let file = scope.file;
        for (name, stack) in &scope.stacks {
            if !self.check_name("stack", name, file) {
                continue;
            }
            let address =
                Address::new(Kind::Stack, name.get_ref()).in_module(scope.module.as_deref());
            let docker = docker_name(scope, name.get_ref());
            let Some(vars) = self.vars(&stack.vars, scope, name) else {
                continue;
            };
            let (text, compose_file) = match (&stack.compose, &stack.template) {
                (Some(path), None) => match scope.read(self.sources, path) {
                    Ok(id) => (self.sources.text(id).to_owned(), id),
                    Err(error) => {
                        self.errors.push(error);
                        continue;
                    }
                },
                (None, Some(path)) => {
                    let mut stack_context = context.clone();
                    insert(&mut stack_context, "vars", vars);
                    insert(&mut stack_context, "stack", json!({ "name": docker }));
                    let Some(text) = self.render(scope, path, &stack_context) else {
                        continue;
                    };
                    let rendered_path =
                        std::path::PathBuf::from(format!("{} (rendered)", path.get_ref()));
                    // Diagnostics quote this text: keep sensitive values out of it.
                    let id = self.sources.add(rendered_path, self.redact(&text));
                    (text, id)
                }
                _ => {
                    self.errors.push(
                        Diagnostic::error(format!("stack `{}` needs exactly one of `compose` and `template`", name.get_ref()))
                            .at(self.at(file, name.span()), "this stack")
                            .help("`compose = \"web.yml\"` deploys the file as written; `template = \"web.yml.hbs\"` renders it first"),
                    );
                    continue;
                }
            };
            let mut depends_on = BTreeSet::from([Address::swarm()]);
            depends_on.extend(
                self.config
                    .hosts
                    .iter()
                    .map(|host| Address::new(Kind::Node, host.name.clone())),
            );
            let services = match serde_norway::from_str::<serde_norway::Value>(&text) {
                Ok(compose) => {
                    if compose.get("version").is_none() {
                        let span = stack
                            .compose
                            .as_ref()
                            .or(stack.template.as_ref())
                            .map_or(name.span(), Spanned::span);
                        self.warnings.push(
                            Diagnostic::warning(format!("the compose file of stack `{}` has no `version`", name.get_ref()))
                                .at(self.at(file, span), "this compose file")
                                .help("Docker 20.10 (Debian's docker.io) refuses it with `unsupported Compose file version: 1.0`; start the file with `version: \"3.8\"`"),
                        );
                    }
                    self.compose_references(&compose, &docker, &mut depends_on);
                    crate::swarm::stack::desired_services(&compose, &docker, &self.sensitive_values)
                }
                Err(error) => {
                    let span = error.location().map_or(0..0, |location| {
                        let start =
                            self.sources
                                .offset(compose_file, location.line(), location.column());
                        start..start + 1
                    });
                    self.errors.push(
                        Diagnostic::error(self.redact(&format!(
                            "the compose file of stack `{}` is not valid YAML: {error}",
                            name.get_ref()
                        )))
                        .at(self.at(compose_file, span), "here")
                        .help("`docker stack deploy` would refuse it too; fix the YAML"),
                    );
                    continue;
                }
            };
            for dependency in &stack.depends_on {
                match self.resolve_reference(dependency.get_ref(), scope) {
                    Ok(target) => {
                        depends_on.insert(target);
                    }
                    Err(message) => self.errors.push(
                        Diagnostic::error(message)
                            .at(self.at(file, dependency.span()), "in depends_on")
                            .help("depends_on takes addresses such as `network.NAME`, `secret.NAME`, `registry.NAME`, `stack.NAME` or `module.M.stack.NAME`"),
                    ),
                }
            }
            let resource = Resource {
                docker_name: Some(docker),
                depends_on,
                ..Resource::new(address)
            }
            .attribute("prune", Attribute::new(stack.prune))
            .attribute(
                "with_registry_auth",
                Attribute::new(stack.with_registry_auth),
            );
            let mut resource = self.text_attributes(resource, "compose", &text, OnChange::InPlace);
            resource = resource.attribute("services", Attribute::new(services));
            if let Some(timeout) = &stack.converge_timeout {
                if check::is_duration(timeout.get_ref()) {
                    resource = resource.attribute(
                        "converge_timeout",
                        Attribute::new(timeout.get_ref().clone()),
                    );
                } else {
                    self.errors.push(duration_error(timeout, file));
                }
            }
            if let Some(health) = &stack.health {
                let mut stack_context = context.clone();
                insert(
                    &mut stack_context,
                    "stack",
                    json!({ "name": resource.docker_name }),
                );
                if let Some(health) = self.stack_health(health, &stack_context, file) {
                    // Plans and the state show the check with sensitive values redacted; the
                    // executor reads the real one from the payload.
                    let redact_text = |value: &Value| match value {
                        Value::String(text) => Value::from(self.redact(text)),
                        other => other.clone(),
                    };
                    let shown: Map<String, Value> = health
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(key, value)| {
                            let value = match value {
                                Value::Array(items) => {
                                    Value::Array(items.iter().map(redact_text).collect())
                                }
                                other => redact_text(other),
                            };
                            (key.clone(), value)
                        })
                        .collect();
                    let shown = Value::Object(shown);
                    resource = resource.attribute(
                        "health",
                        Attribute::new(shown).with_payload(health.to_string()),
                    );
                }
            }
            self.add(resource, self.at(file, name.span()));
        }
    }

    /// `[stacks.NAME.health]`, checked, with its defaults (10 tries, 3s apart, 5s each).
    fn stack_health(
        &mut self,
        health: &Spanned<super::model::HealthConfig>,
        context: &Value,
        file: FileId,
    ) -> Option<Value> {
        let span = health.span();
        let health = health.get_ref();
        let errors = self.errors.len();
        let mut check = Map::new();
        let render = |evaluation: &mut Self, text: &Spanned<String>| -> Option<String> {
            match render_strings(
                &toml::Value::String(text.get_ref().clone()),
                context,
                evaluation.sources,
                file,
                text.span(),
            ) {
                Ok(Value::String(rendered)) => Some(rendered),
                Ok(_) => None,
                Err(error) => {
                    evaluation.errors.push(error);
                    None
                }
            }
        };
        match (&health.http, &health.command) {
            (Some(_), Some(_)) | (None, None) => {
                self.errors.push(
                    Diagnostic::error("a health check needs exactly one of `http` and `command`")
                        .at(self.at(file, span.clone()), "this health check")
                        .help("`http = \"http://HOST:PORT/path\"` is checked from this machine; `command = [\"curl\", \"-fsS\", \"http://localhost:8080/\"]` with `host = \"NAME\"` runs on that host"),
                );
            }
            (Some(url), None) => {
                if let Some(rendered) = render(self, url) {
                    match http_url_problem(&rendered) {
                        None => {
                            check.insert("http".to_owned(), Value::from(rendered));
                        }
                        Some(problem) => self.errors.push(
                            Diagnostic::error(format!("`{rendered}` is not a URL swarmform can check: {problem}"))
                                .at(self.at(file, url.span()), "this URL")
                                .help("write `http://HOST:PORT/PATH`; for HTTPS, run `curl -fsS https://…` on a host with `command` and `host`"),
                        ),
                    }
                }
                if let Some(status) = &health.expect_status {
                    if (100..=599).contains(status.get_ref()) {
                        check.insert("expect_status".to_owned(), Value::from(*status.get_ref()));
                    } else {
                        self.errors.push(
                            Diagnostic::error(format!(
                                "`{}` is not an HTTP status",
                                status.get_ref()
                            ))
                            .at(self.at(file, status.span()), "expected 100 to 599"),
                        );
                    }
                }
                if let Some(contains) = &health.contains {
                    check.insert(
                        "contains".to_owned(),
                        Value::from(contains.get_ref().clone()),
                    );
                }
            }
            (None, Some(command)) => {
                let mut words = Vec::new();
                for word in command.get_ref() {
                    let spanned = Spanned::new(command.span(), word.clone());
                    if let Some(rendered) = render(self, &spanned) {
                        words.push(Value::from(rendered));
                    }
                }
                if command.get_ref().is_empty() {
                    self.errors.push(
                        Diagnostic::error("the health check's `command` is empty")
                            .at(self.at(file, command.span()), "no words"),
                    );
                }
                check.insert("command".to_owned(), Value::Array(words));
                match &health.host {
                    Some(host) if self.config.host(host.get_ref()).is_some() => {
                        check.insert("host".to_owned(), Value::from(host.get_ref().clone()));
                    }
                    Some(host) => self.errors.push(self.unknown_host(host, file)),
                    None => self.errors.push(
                        Diagnostic::error("a command health check needs `host`")
                            .at(self.at(file, command.span()), "run where?")
                            .help("`host = \"node1\"` runs the command on node1 over SSH"),
                    ),
                }
                for (key, value) in [
                    (
                        "expect_status",
                        health.expect_status.as_ref().map(Spanned::span),
                    ),
                    ("contains", health.contains.as_ref().map(Spanned::span)),
                ] {
                    if let Some(value) = value {
                        self.errors.push(
                            Diagnostic::error(format!("`{key}` applies to `http` checks only"))
                                .at(self.at(file, value), "remove this"),
                        );
                    }
                }
            }
        }
        let retries = health
            .retries
            .as_ref()
            .map_or(10, |retries| *retries.get_ref());
        if retries == 0
            && let Some(spanned) = &health.retries
        {
            self.errors.push(
                Diagnostic::error("`retries` must be at least 1")
                    .at(self.at(file, spanned.span()), "the number of attempts"),
            );
        }
        check.insert("retries".to_owned(), Value::from(retries));
        for (key, value, default) in [
            ("interval", &health.interval, "3s"),
            ("timeout", &health.timeout, "5s"),
        ] {
            let text = match value {
                Some(text) if check::is_duration(text.get_ref()) => text.get_ref().clone(),
                Some(text) => {
                    self.errors.push(duration_error(text, file));
                    continue;
                }
                None => default.to_owned(),
            };
            check.insert(key.to_owned(), Value::from(text));
        }
        (self.errors.len() == errors).then_some(Value::Object(check))
    }

    /// A `depends_on` entry: relative to the scope (`network.x` in a module is the module's).
    fn resolve_reference(&self, text: &str, scope: &Scope) -> Result<Address, String> {
        let mut address: Address = text
            .parse()
            .map_err(|error: crate::address::AddressError| error.to_string())?;
        if address.module.is_none() {
            address.module = scope.module.clone();
        }
        if !matches!(
            address.kind,
            Kind::Network | Kind::Secret | Kind::Config | Kind::Registry | Kind::Stack
        ) {
            return Err(format!(
                "a stack cannot depend on `{text}`; stacks already wait for the swarm and every node"
            ));
        }
        let exists = self.locations.contains_key(&address)
            || self.config.scopes.iter().any(|other| {
                other.module == address.module
                    && match address.kind {
                        Kind::Stack => other
                            .stacks
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Network => other
                            .networks
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Secret => other
                            .secrets
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Config => other
                            .configs
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        Kind::Registry => other
                            .registries
                            .keys()
                            .any(|key| key.get_ref() == &address.name),
                        _ => false,
                    }
            });
        if exists {
            Ok(address)
        } else {
            Err(format!("`{address}` is not declared"))
        }
    }

    /// External networks, secrets and configs a compose file names, and images pulled from a
    /// registry the config declares: each is a dependency.
    fn compose_references(
        &mut self,
        compose: &serde_norway::Value,
        stack: &str,
        depends_on: &mut BTreeSet<Address>,
    ) {
        for (section, names) in [
            ("networks", &self.network_names),
            ("secrets", &self.secret_names),
            ("configs", &self.config_names),
        ] {
            let Some(entries) = compose
                .get(section)
                .and_then(serde_norway::Value::as_mapping)
            else {
                continue;
            };
            for (key, entry) in entries {
                let Some(key) = key.as_str() else { continue };
                let external = entry
                    .get("external")
                    .and_then(serde_norway::Value::as_bool)
                    .unwrap_or(false);
                if !external {
                    continue;
                }
                let docker = entry
                    .get("name")
                    .and_then(serde_norway::Value::as_str)
                    .unwrap_or(key);
                match names.get(docker) {
                    Some(address) => {
                        depends_on.insert(address.clone());
                    }
                    None => self.warnings.push(Diagnostic::warning(format!(
                        "stack `{stack}` uses the external {} `{docker}`, which the config does not declare; `docker stack deploy` fails unless it exists",
                        &section[..section.len() - 1]
                    ))),
                }
            }
        }
        if let Some(services) = compose
            .get("services")
            .and_then(serde_norway::Value::as_mapping)
        {
            for service in services.values() {
                let Some(image) = service.get("image").and_then(serde_norway::Value::as_str) else {
                    continue;
                };
                for (registry, address) in &self.registry_addresses {
                    if image.starts_with(&format!("{registry}/")) {
                        depends_on.insert(address.clone());
                    }
                }
            }
        }
    }

    /// engine, daemon and node per host, and the swarm.
    fn hosts(&mut self, bootstrap: &str) {
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
        let swarm = &config.swarm;
        for host in &config.hosts {
            let name = &host.name;
            let location = host.location.clone();
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
            .attribute("packages", Attribute::new(packages.clone()))
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
            self.add(engine, location.clone());

            if let Some(daemon) = self.daemon(host) {
                self.add(daemon, location.clone());
            }

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
            self.add(node, location);
        }

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
                    super::load::folder_of(&config.path)
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

    /// daemon.json merged for one host, with registry trust and the TCP API's TLS settings,
    /// and the systemd drop-in when one is needed.
    fn daemon(&mut self, host: &Host) -> Option<Resource> {
        let config = self.config;
        let root = &config.daemon;
        let host_daemon = host.config.daemon.as_ref();
        let mut json = Map::new();
        let mut sources_in_order = Vec::new();
        if let Some(table) = &root.json {
            sources_in_order.push((config.root, table));
        }
        if let Some(table) = host_daemon.and_then(|daemon| daemon.json.as_ref()) {
            sources_in_order.push((host.location.file, table));
        }
        for (file, table) in sources_in_order {
            for (key, value) in table {
                if let Some(message) = forbidden_daemon_key(key.get_ref()) {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "`{}` cannot be set in daemon.json here",
                            key.get_ref()
                        ))
                        .at(self.at(file, key.span()), "managed by swarmform")
                        .help(message),
                    );
                    continue;
                }
                json.insert(key.get_ref().clone(), toml_to_json(value));
            }
        }
        if host_daemon.is_some_and(|daemon| daemon.on_destroy.is_some()) {
            self.errors.push(
                Diagnostic::error("`on_destroy` is a cluster-wide setting")
                    .at(host.location.clone(), "set in this host's daemon table")
                    .help("set it under the root `[daemon]`"),
            );
        }
        if let Some(insecure) = self.insecure_registries.get(&host.name) {
            let entry = json
                .entry("insecure-registries")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                for address in insecure {
                    if !list.iter().any(|item| item.as_str() == Some(address)) {
                        list.push(Value::String(address.clone()));
                    }
                }
            }
        }
        let tcp = host_daemon
            .and_then(|daemon| daemon.tcp.as_ref())
            .or(root.tcp.as_ref());
        let mut resource = Resource {
            host: Some(host.name.clone()),
            depends_on: BTreeSet::from([Address::new(Kind::Engine, host.name.clone())]),
            ..Resource::new(Address::new(Kind::Daemon, host.name.clone()))
        };
        let mut hosts_flags = Vec::new();
        if let Some(tcp) = tcp {
            let tcp_file = if host_daemon.and_then(|daemon| daemon.tcp.as_ref()).is_some() {
                host.location.file
            } else {
                config.root
            };
            let api = tcp.get_ref();
            let default_port = if api.tls.is_some() { 2376 } else { 2375 };
            let address = api.address.as_ref().map_or_else(
                || format!("0.0.0.0:{default_port}"),
                |address| address.get_ref().clone(),
            );
            if !check::is_socket_address(&address, true) {
                let span = api.address.as_ref().map_or(tcp.span(), Spanned::span);
                self.errors
                    .push(Diagnostic::error(format!("`{address}` is not IP:PORT")).at(
                        self.at(tcp_file, span),
                        "expected an address such as `0.0.0.0:2376`",
                    ));
            }
            match (&api.tls, api.insecure) {
                (Some(tls), _) => {
                    let base = if tcp_file == config.root {
                        super::load::folder_of(&config.path)
                    } else {
                        host.dir.clone()
                    };
                    if let Some([ca, cert, key]) = self.tls_material(host, tls, tcp, tcp_file, &base) {
                        resource = resource
                            .attribute("tls_ca", Attribute::new(sha256_tagged(&ca)).with_payload(ca).restarts_docker())
                            .attribute("tls_cert", Attribute::new(sha256_tagged(&cert)).with_payload(cert).restarts_docker())
                            .attribute("tls_key", Attribute::sensitive(&key).restarts_docker());
                    }
                    json.insert("tlsverify".into(), Value::Bool(true));
                    json.insert("tlscacert".into(), Value::String(format!("{TLS_DIR}/ca.pem")));
                    json.insert("tlscert".into(), Value::String(format!("{TLS_DIR}/cert.pem")));
                    json.insert("tlskey".into(), Value::String(format!("{TLS_DIR}/key.pem")));
                }
                (None, true) => self.warnings.push(
                    Diagnostic::warning(format!("the Docker API of {} is exposed on tcp://{address} without TLS", whose(tcp_file == config.root, &host.name)))
                        .at(self.at(tcp_file, tcp.span()), "insecure = true")
                        .help("anyone who can reach that port controls the host as root; set `tls = { ca, cert, key }` unless the network is trusted"),
                ),
                (None, false) => self.errors.push(
                    Diagnostic::error(format!("exposing the Docker API of {} over TCP needs TLS", whose(tcp_file == config.root, &host.name)))
                        .at(self.at(tcp_file, tcp.span()), "no `tls` here")
                        .help("set `tls = { ca = \"...\", cert = \"...\", key = \"...\" }`, or `insecure = true` to accept an unauthenticated root API"),
                ),
            }
            hosts_flags.push(format!("tcp://{address}"));
        }
        let mut environment: BTreeMap<String, String> = root
            .systemd
            .as_ref()
            .map(|systemd| systemd.environment.clone())
            .unwrap_or_default();
        if let Some(systemd) = host_daemon.and_then(|daemon| daemon.systemd.as_ref()) {
            environment.extend(systemd.environment.clone());
        }
        // With no keys to set, swarmform leaves the host's daemon.json alone rather than own it.
        if !json.is_empty() {
            let json_text = format!(
                "{}\n",
                serde_json::to_string_pretty(&Value::Object(json)).unwrap_or_default()
            );
            resource = self.text_attributes(
                resource,
                "daemon_json",
                &json_text,
                OnChange::RestartsDocker,
            );
        }
        if !hosts_flags.is_empty() || !environment.is_empty() {
            let mut drop_in = String::from(
                "# Written by swarmform. Debian's docker.service passes -H fd://, so the\n# TCP API is added here and never as `hosts` in daemon.json.\n[Service]\n",
            );
            for (key, value) in &environment {
                drop_in.push_str(&format!(
                    "Environment=\"{key}={}\"\n",
                    value.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
            if !hosts_flags.is_empty() {
                let flags: String = hosts_flags
                    .iter()
                    .map(|flag| format!(" -H {flag}"))
                    .collect();
                drop_in.push_str(&format!("ExecStart=\nExecStart=/usr/sbin/dockerd -H fd://{flags} --containerd=/run/containerd/containerd.sock\n"));
            }
            resource = self.text_attributes(
                resource,
                "systemd_drop_in",
                &drop_in,
                OnChange::RestartsDocker,
            );
        }
        if let Some(cas) = self.registry_cas.get(&host.name) {
            let hashes: Map<String, Value> = cas
                .iter()
                .map(|(address, (hash, _))| (address.clone(), Value::String(hash.clone())))
                .collect();
            let contents: Map<String, Value> = cas
                .iter()
                .map(|(address, (_, content))| {
                    (
                        address.clone(),
                        Value::String(String::from_utf8_lossy(content).into_owned()),
                    )
                })
                .collect();
            resource = resource.attribute(
                "registry_cas",
                Attribute::new(Value::Object(hashes))
                    .with_payload(Value::Object(contents).to_string()),
            );
        }
        for other in &self.resources {
            if other.address.kind == Kind::File
                && other.host.as_deref() == Some(host.name.as_str())
                && other
                    .attributes
                    .get("restarts_docker")
                    .is_some_and(|value| value.value == Value::Bool(true))
            {
                resource.depends_on.insert(other.address.clone());
            }
        }
        // Nothing configured: swarmform leaves dockerd's configuration alone entirely.
        if resource.attributes.is_empty() {
            return None;
        }
        Some(resource)
    }

    /// The CA certificate, server certificate and server key for a host's TCP API: read from
    /// the configured files, or generated (`generate = true`) and kept in the TLS folder.
    fn tls_material(
        &mut self,
        host: &Host,
        tls: &super::model::TlsFiles,
        tcp: &Spanned<super::model::TcpApi>,
        file: FileId,
        base: &std::path::Path,
    ) -> Option<[Vec<u8>; 3]> {
        let generate = tls.generate.as_ref().is_some_and(|flag| *flag.get_ref());
        let files = [&tls.ca, &tls.cert, &tls.key];
        if generate {
            if let Some(path) = files.into_iter().flatten().next() {
                self.errors.push(
                    Diagnostic::error("`generate = true` and TLS files together")
                        .at(self.at(file, path.span()), "a file here")
                        .help("either give `ca`, `cert` and `key`, or `generate = true` to let swarmform make a CA and certificates"),
                );
                return None;
            }
            let dir = base.join(
                tls.dir
                    .as_ref()
                    .map_or(".swarmform/tls", |dir| dir.get_ref().as_str()),
            );
            let mut names = vec![host.name.clone(), host.config.address.get_ref().clone()];
            if let Some(advertise) = &host.config.advertise_addr
                && advertise.get_ref().parse::<std::net::IpAddr>().is_ok()
            {
                names.push(advertise.get_ref().clone());
            }
            return match crate::tls::server_files(&dir, &host.name, &names) {
                Ok(made) => Some([made.ca, made.cert, made.key]),
                Err(error) => {
                    self.errors.push(
                        Diagnostic::error(format!(
                            "the TLS material for {} could not be made: {error}",
                            host.name
                        ))
                        .at(self.at(file, tcp.span()), "generate = true")
                        .help(format!(
                            "swarmform keeps its CA in `{}`; check that it may write there",
                            dir.display()
                        )),
                    );
                    None
                }
            };
        }
        let [Some(ca), Some(cert), Some(key)] = files else {
            self.errors.push(
                Diagnostic::error("the TCP API's `tls` needs `ca`, `cert` and `key`")
                    .at(self.at(file, tcp.span()), "incomplete `tls`")
                    .help("give all three files, or `tls = { generate = true }` to let swarmform make a CA and certificates"),
            );
            return None;
        };
        let mut contents = Vec::new();
        for path in [ca, cert, key] {
            match std::fs::read(base.join(path.get_ref())) {
                Ok(bytes) => contents.push(bytes),
                Err(error) => self.errors.push(
                    Diagnostic::error(format!("cannot read `{}`: {error}", path.get_ref()))
                        .at(self.at(file, path.span()), "a TLS file for the Docker API")
                        .help(format!("paths are relative to `{}`", base.display())),
                ),
            }
        }
        <[Vec<u8>; 3]>::try_from(contents).ok()
    }

    /// Two resources with one Docker name (a module's network named like the root's).
    fn check_duplicates(&mut self) {
        let mut seen: BTreeMap<(Kind, String), Address> = BTreeMap::new();
        for resource in &self.resources {
            let Some(docker) = &resource.docker_name else {
                continue;
            };
            let kind = match resource.address.kind {
                Kind::Registry => Kind::Stack,
                kind => kind,
            };
            if let Some(other) = seen.insert((kind, docker.clone()), resource.address.clone()) {
                let location = self.locations.get(&resource.address).cloned();
                self.errors.push(
                    Diagnostic::error(format!(
                        "`{other}` and `{}` would both be the Docker object `{docker}`",
                        resource.address
                    ))
                    .at_optional(location, "second declaration")
                    .help("rename one of them"),
                );
            }
        }
    }
}

/// "every host" for a root setting, "`node1`" for a host's own.
fn whose(root: bool, host: &str) -> String {
    if root {
        "every host".to_owned()
    } else {
        format!("`{host}`")
    }
}

fn with_on_change(mut attribute: Attribute, on_change: OnChange) -> Attribute {
    attribute.on_change = on_change;
    attribute
}

/// Why `text` is not a plain `http://` URL with a host, if it is not.
fn http_url_problem(text: &str) -> Option<&'static str> {
    let Ok(uri) = text.parse::<ureq::http::Uri>() else {
        return Some("it does not parse as a URL");
    };
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Some("HTTPS is not supported by the built-in check"),
        _ => return Some("it must start with `http://`"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("it names no host");
    }
    None
}

fn duration_error(duration: &Spanned<String>, file: FileId) -> Diagnostic {
    Diagnostic::error(format!("`{}` is not a duration", duration.get_ref())).at(
        Location::new(file, duration.span()),
        "expected a duration such as `10s`, `5m` or `2160h`",
    )
}

fn insert(context: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = context {
        map.insert(key.to_owned(), value);
    }
}

fn host_context(host: &Host) -> Value {
    json!({
        "name": host.name,
        "address": host.config.address.get_ref(),
        "role": host.config.role.as_str(),
        "labels": host.config.labels.iter().map(|(key, value)| (key.get_ref().clone(), Value::String(value.clone()))).collect::<Map<_, _>>(),
    })
}

/// daemon.json keys swarmform writes itself, with what to use instead.
fn forbidden_daemon_key(key: &str) -> Option<&'static str> {
    match key {
        "hosts" => Some(
            "Debian's docker.service starts dockerd with `-H fd://`, and dockerd refuses to start when daemon.json sets `hosts` too; expose the API with `[daemon.tcp]`, which swarmform writes as a systemd drop-in",
        ),
        "tls" | "tlsverify" | "tlscacert" | "tlscert" | "tlskey" => Some(
            "set `[daemon.tcp] tls = { ca, cert, key }`; swarmform uploads the files and writes these keys",
        ),
        _ => None,
    }
}

impl HostKeyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
        }
    }
}
