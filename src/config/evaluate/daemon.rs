//! The daemon of each host: daemon.json merged from the root's and the host's tables, with
//! registry trust and the TCP API's TLS settings, and the systemd drop-in when one is needed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use toml::Spanned;

use super::Evaluation;
use crate::address::{Address, Kind};
use crate::config::check;
use crate::config::load::{Host, folder_of, toml_to_json};
use crate::config::model::{TcpApi, TlsFiles};
use crate::config::source::{Diagnostic, FileId};
use crate::hash::sha256_tagged;
use crate::resource::{Attribute, OnChange, Resource};

/// Where Debian's dockerd reads its configuration, and where swarmform puts its drop-in.
pub const DAEMON_JSON_PATH: &str = "/etc/docker/daemon.json";
pub const DROP_IN_PATH: &str = "/etc/systemd/system/docker.service.d/swarmform.conf";
pub const TLS_DIR: &str = "/etc/docker/swarmform-tls";

impl Evaluation<'_> {
    /// daemon.json merged for one host, with registry trust and the TCP API's TLS settings,
    /// and the systemd drop-in when one is needed.
    pub(super) fn daemon(&mut self, host: &Host) {
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
                        folder_of(&config.path)
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
        // Root entries, then the host's over them; each checked where it is written.
        let mut environment: BTreeMap<String, String> = BTreeMap::new();
        let tables = [
            root.systemd.as_ref().map(|systemd| (config.root, systemd)),
            host_daemon
                .and_then(|daemon| daemon.systemd.as_ref())
                .map(|systemd| (host.location.file, systemd)),
        ];
        for (file, systemd) in tables.into_iter().flatten() {
            for (name, value) in &systemd.environment {
                if self.check_environment(file, name, value) {
                    environment.insert(name.get_ref().clone(), value.get_ref().clone());
                }
            }
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
            for (name, value) in &environment {
                drop_in.push_str(&environment_line(name, value));
            }
            if !hosts_flags.is_empty() {
                let flags: String = hosts_flags
                    .iter()
                    .map(|flag| format!(" -H {}", exec_argument(flag)))
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
        if !resource.attributes.is_empty() {
            self.add(resource, host.location.clone());
        }
    }

    /// The CA certificate, server certificate and server key for a host's TCP API: read from
    /// the configured files, or generated (`generate = true`) and kept in the TLS folder.
    fn tls_material(
        &mut self,
        host: &Host,
        tls: &TlsFiles,
        tcp: &Spanned<TcpApi>,
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
            let full = base.join(path.get_ref());
            let label = "a TLS file for the Docker API";
            let purpose = crate::config::read::Purpose::HostFile;
            if let Some(bytes) = self.read_file(&full, base, file, path, label, purpose) {
                contents.push(bytes);
            }
        }
        <[Vec<u8>; 3]>::try_from(contents).ok()
    }
}

impl Evaluation<'_> {
    /// Whether one `[daemon.systemd] environment` entry can be a systemd `Environment=`
    /// assignment; an error at the name or the value when it cannot.
    fn check_environment(
        &mut self,
        file: FileId,
        name: &Spanned<String>,
        value: &Spanned<String>,
    ) -> bool {
        if !check::is_environment_name(name.get_ref()) {
            self.errors.push(
                Diagnostic::error(format!(
                    "`{}` is not an environment variable name",
                    check::printable(name.get_ref())
                ))
                .at(
                    self.at(file, name.span()),
                    "systemd takes letters, digits and `_`, not starting with a digit",
                )
                .help("rename it; dockerd reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`"),
            );
            return false;
        }
        if let Some(character) = check::line_breaking(value.get_ref()) {
            self.errors.push(
                Diagnostic::error(format!(
                    "the value of `{}` contains {}",
                    name.get_ref(),
                    check::describe_character(character)
                ))
                .at(
                    self.at(file, value.span()),
                    "an `Environment=` value is one line of printable text",
                )
                .help("the value goes into a systemd drop-in of docker.service, where a line break would start another directive (run as root) and systemd refuses control characters; remove it, and separate several entries with commas (`NO_PROXY = \"localhost,10.0.0.0/8\"`)"),
            );
            return false;
        }
        true
    }
}

/// The `Environment=` line of a systemd unit that sets `name` to `value`, encoded so that
/// systemd reads back exactly that assignment (systemd.syntax(7), systemd.exec(5)): the whole
/// assignment in double quotes, `\` and `"` escaped (C escapes are decoded inside quotes), and
/// `%` doubled (Environment= expands specifiers such as `%n`; it never expands `$`). A tab is
/// written as the escape `\u0009`. The evaluation refuses names systemd does not take and
/// values with other control characters; were one to get here anyway, its `\uXXXX` escape
/// keeps the line one line (systemd then ignores the assignment rather than run anything).
fn environment_line(name: &str, value: &str) -> String {
    let mut line = String::from("Environment=\"");
    for c in name
        .chars()
        .chain(std::iter::once('='))
        .chain(value.chars())
    {
        match c {
            '\\' => line.push_str("\\\\"),
            '"' => line.push_str("\\\""),
            '%' => line.push_str("%%"),
            c if c.is_control() => line.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => line.push(c),
        }
    }
    line.push_str("\"\n");
    line
}

/// One argument of an `ExecStart=` command line, encoded so that systemd reads back exactly
/// `word` (systemd.service(5), "Command lines"): `%` doubled (specifiers) and `$` doubled
/// (variable expansion); a word with anything beyond letters, digits and `_./:@=,+-[]` is
/// double-quoted, with `\` and `"` escaped and control characters as `\uXXXX`. The TCP
/// address, the one word from the config, is an `IP:PORT`; the `%` of an IPv6 scope
/// (`[fe80::1%2]:2376`) is what this guards.
fn exec_argument(word: &str) -> String {
    let bare = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@=,+-[]%$".contains(c));
    let mut out = String::new();
    if !bare {
        out.push('"');
    }
    for c in word.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    if !bare {
        out.push('"');
    }
    out
}

/// "every host" for a root setting, "`node1`" for a host's own.
fn whose(root: bool, host: &str) -> String {
    if root {
        "every host".to_owned()
    } else {
        format!("`{host}`")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    // An assignment is written so that systemd reads back exactly the name and value:
    // quoted, `\` and `"` escaped, `%` doubled (specifiers), `$` and `'` as they are.
    #[test]
    fn environment_lines_follow_systemd_syntax() {
        assert_eq!(
            environment_line("HTTP_PROXY", "http://proxy:3128"),
            "Environment=\"HTTP_PROXY=http://proxy:3128\"\n"
        );
        assert_eq!(
            environment_line("NO_PROXY", r#"a "b" c\d %n $HOME 'e'"#),
            "Environment=\"NO_PROXY=a \\\"b\\\" c\\\\d %%n $HOME 'e'\"\n"
        );
        assert_eq!(environment_line("EMPTY", ""), "Environment=\"EMPTY=\"\n");
    }

    // A control character that got past validation still cannot end the line.
    #[test]
    fn environment_lines_stay_one_line() {
        let line = environment_line("X", "a\nExecStartPre=/bin/touch /tmp/x\r\0");
        assert_eq!(
            line,
            "Environment=\"X=a\\u000aExecStartPre=/bin/touch /tmp/x\\u000d\\u0000\"\n"
        );
        assert_eq!(line.lines().count(), 1);
    }

    // ExecStart= arguments double `%` and `$` and quote anything unusual; an ordinary
    // `tcp://IP:PORT` stays as it was.
    #[test]
    fn exec_arguments_follow_systemd_syntax() {
        assert_eq!(exec_argument("tcp://0.0.0.0:2376"), "tcp://0.0.0.0:2376");
        assert_eq!(exec_argument("tcp://[::1]:2376"), "tcp://[::1]:2376");
        assert_eq!(
            exec_argument("tcp://[fe80::1%2]:2376"),
            "tcp://[fe80::1%%2]:2376"
        );
        assert_eq!(exec_argument("$HOME"), "$$HOME");
        assert_eq!(exec_argument("a b\"c\\"), "\"a b\\\"c\\\\\"");
        assert_eq!(exec_argument(""), "\"\"");
        assert_eq!(exec_argument("a\nb"), "\"a\\u000ab\"");
    }
}
