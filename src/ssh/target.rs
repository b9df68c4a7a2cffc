//! Where and how to reach each host: the config's SSH settings merged with `~/.ssh/config`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2_config::{HostParams, ParseRule, SshConfig};

use crate::config::check::parse_duration;
use crate::config::load::{Config, Host};
use crate::config::model::{HostKeyPolicy, SshSettings};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Everything needed to reach one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    /// The config's host name: used in messages and for the state's host keys.
    pub name: String,
    /// IP or DNS name.
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Tried in order, then ssh-agent. Empty: ssh-agent, then `~/.ssh/id_ed25519`, `id_ecdsa`,
    /// `id_rsa` where they exist.
    pub identity_files: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub known_hosts: PathBuf,
    pub jump: Option<JumpHost>,
    /// Run every command through `sudo -n`.
    pub sudo: bool,
    /// Around TCP connect plus the SSH handshake, and around each authentication step.
    pub connect_timeout: Duration,
    /// Around each command.
    pub command_timeout: Duration,
    /// Key exchange algorithms in order of preference; empty: `algorithms::DEFAULT_KEY_EXCHANGE`.
    pub key_exchange: Vec<String>,
}

/// A host the connection goes through (OpenSSH's ProxyJump): swarmform logs in to it, then opens
/// a direct-tcpip channel to the target. Its host key is checked like the target's, under the
/// name `ADDRESS (jump host)`, against the target's known_hosts file and policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JumpHost {
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
}

impl JumpHost {
    /// How messages and the state name it.
    pub fn name(&self) -> String {
        format!("{} (jump host)", self.address)
    }
}

/// The hosts of `config`, each with its SSH settings merged field by field: the host's
/// `[hosts.X.ssh]`, then the root `[ssh]`, then `~/.ssh/config` (its `Host` patterns matched
/// against the host's address, first value wins as in OpenSSH; HostName, User, Port,
/// IdentityFile, ProxyJump), then the defaults (user root, port 22, `~/.ssh/known_hosts`, strict
/// host keys, sudo when the user is not root). Relative paths in the root `[ssh]` are relative to
/// the config file's folder, those in a host's table to the folder of the file declaring the
/// host; `~/` is `home`.
pub fn targets(config: &Config, home: &Path) -> Result<Vec<HostTarget>, String> {
    let ssh_config = load_ssh_config(home)?;
    let root_dir = config.path.parent().unwrap_or(Path::new("."));
    config
        .hosts
        .iter()
        .map(|host| target(host, &config.ssh, root_dir, home, ssh_config.as_ref()))
        .collect()
}

fn target(
    host: &Host,
    root: &SshSettings,
    root_dir: &Path,
    home: &Path,
    ssh_config: Option<&SshConfig>,
) -> Result<HostTarget, String> {
    let name = &host.name;
    let empty = SshSettings::default();
    let own = host.config.ssh.as_ref().unwrap_or(&empty);
    let configured_address = host.config.address.get_ref().as_str();
    let params = ssh_config.map(|ssh_config| ssh_config.query(configured_address));
    let params = params.as_ref();

    let address = params
        .and_then(|params| params.host_name.clone())
        .unwrap_or_else(|| configured_address.to_owned());
    let user = own
        .user
        .clone()
        .or_else(|| root.user.clone())
        .or_else(|| params.and_then(|params| params.user.clone()))
        .unwrap_or_else(|| "root".to_owned());
    let port = own
        .port
        .or(root.port)
        .or_else(|| params.and_then(|params| params.port))
        .unwrap_or(22);
    let identity_files = match (&own.identity_file, &root.identity_file) {
        (Some(path), _) => vec![resolve(path.get_ref(), &host.dir, home)],
        (None, Some(path)) => vec![resolve(path.get_ref(), root_dir, home)],
        (None, None) => params.map(existing_identity_files).unwrap_or_default(),
    };
    let known_hosts = match (&own.known_hosts, &root.known_hosts) {
        (Some(path), _) => resolve(path.get_ref(), &host.dir, home),
        (None, Some(path)) => resolve(path.get_ref(), root_dir, home),
        (None, None) => home.join(".ssh").join("known_hosts"),
    };
    let host_key_policy = own
        .host_key_policy
        .or(root.host_key_policy)
        .unwrap_or(HostKeyPolicy::Strict);
    let jump_spec = match own.jump_host.as_ref().or(root.jump_host.as_ref()) {
        Some(spec) => Some(spec.get_ref().clone()),
        None => match params.and_then(|params| params.proxy_jump.as_ref()) {
            Some(hops) if hops.len() > 1 => {
                return Err(format!(
                    "host `{name}`: ~/.ssh/config gives ProxyJump `{}` for `{configured_address}`, and swarmform supports a single jump host\nhint: set `jump_host` under [ssh] or [hosts.{name}.ssh], or `jump_host = \"none\"`",
                    hops.join(",")
                ));
            }
            Some(hops) => hops.first().cloned(),
            None => None,
        },
    };
    let jump = match jump_spec {
        Some(spec) => jump_host(&spec, &user, &identity_files, ssh_config)
            .map_err(|detail| format!("host `{name}`: {detail}"))?,
        None => None,
    };
    let sudo = own.sudo.or(root.sudo).unwrap_or(user != "root");
    let connect_timeout =
        duration(own, root, |ssh| &ssh.connect_timeout, name)?.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let command_timeout =
        duration(own, root, |ssh| &ssh.command_timeout, name)?.unwrap_or(DEFAULT_COMMAND_TIMEOUT);
    let key_exchange: Vec<String> = own
        .key_exchange
        .as_ref()
        .or(root.key_exchange.as_ref())
        .map(|names| names.iter().map(|name| name.get_ref().clone()).collect())
        .unwrap_or_default();
    super::algorithms::check_key_exchange(&key_exchange).map_err(|unknown| {
        format!(
            "host `{name}`: unknown key exchange algorithm `{unknown}`\nhint: the known ones are: {}",
            super::algorithms::known_key_exchanges().join(", ")
        )
    })?;

    Ok(HostTarget {
        name: name.clone(),
        address,
        port,
        user,
        identity_files,
        host_key_policy,
        known_hosts,
        jump,
        sudo,
        connect_timeout,
        command_timeout,
        key_exchange,
    })
}

fn duration(
    own: &SshSettings,
    root: &SshSettings,
    field: impl Fn(&SshSettings) -> &Option<toml::Spanned<String>>,
    host: &str,
) -> Result<Option<Duration>, String> {
    match field(own).as_ref().or(field(root).as_ref()) {
        Some(text) => parse_duration(text.get_ref()).map(Some).ok_or_else(|| {
            format!(
                "host `{host}`: `{}` is not a duration\nhint: write durations like `10s` or `5m`",
                text.get_ref()
            )
        }),
        None => Ok(None),
    }
}

/// `[user@]host[:port]` (or `ssh://[user@]host[:port]`, or `none`), resolved through
/// `~/.ssh/config` like OpenSSH resolves a ProxyJump host. The user defaults to the config's
/// User for it, then to the target's user; the keys to its IdentityFile, then the target's.
fn jump_host(
    spec: &str,
    target_user: &str,
    target_identity_files: &[PathBuf],
    ssh_config: Option<&SshConfig>,
) -> Result<Option<JumpHost>, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (user, alias, port) = parse_jump(spec)?;
    let params = ssh_config.map(|ssh_config| ssh_config.query(&alias));
    let params = params.as_ref();
    let identity_files = params
        .map(existing_identity_files)
        .filter(|files| !files.is_empty())
        .unwrap_or_else(|| target_identity_files.to_vec());
    Ok(Some(JumpHost {
        address: params
            .and_then(|params| params.host_name.clone())
            .unwrap_or_else(|| alias.clone()),
        port: port
            .or_else(|| params.and_then(|params| params.port))
            .unwrap_or(22),
        user: user
            .or_else(|| params.and_then(|params| params.user.clone()))
            .unwrap_or_else(|| target_user.to_owned()),
        identity_files,
    }))
}

/// Splits `[user@]host[:port]`; an IPv6 address with a port is written `[ADDRESS]:PORT`.
fn parse_jump(spec: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let bad = || {
        format!(
            "`{spec}` is not a jump host\nhint: write it as `[user@]host[:port]`, e.g. `admin@bastion.example.com:2222`"
        )
    };
    let rest = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, rest) = match rest.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_owned()), rest),
        Some(_) => return Err(bad()),
        None => (None, rest),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else if rest.matches(':').count() == 1 {
        let (host, port) = rest.split_once(':').ok_or_else(bad)?;
        (host, Some(port))
    } else {
        (rest, None)
    };
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(bad)?,
        ),
        None => None,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((user, host.to_owned(), port))
}

/// IdentityFile entries that exist: OpenSSH skips missing ones silently, and so do we.
fn existing_identity_files(params: &HostParams) -> Vec<PathBuf> {
    params
        .identity_file
        .iter()
        .flatten()
        .filter(|path| path.is_file())
        .cloned()
        .collect()
}

/// `~/x` → `home/x`; a relative path joins `dir`.
fn resolve(text: &str, dir: &Path, home: &Path) -> PathBuf {
    if text == "~" {
        home.to_path_buf()
    } else if let Some(rest) = text.strip_prefix("~/") {
        home.join(rest)
    } else {
        dir.join(text)
    }
}

/// `~/.ssh/config`, if there is one.
fn load_ssh_config(home: &Path) -> Result<Option<SshConfig>, String> {
    let path = home.join(".ssh").join("config");
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read `{}`: {error}", path.display())),
    };
    SshConfig::default()
        .home_dir(home)
        .parse(
            &mut BufReader::new(file),
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .map(Some)
        .map_err(|error| format!("cannot parse `{}`: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{Options, load};
    use crate::config::source::Sources;

    /// Loads `config` from `dir/swarmform.toml` and returns the targets with `home`.
    fn targets_of(dir: &Path, config: &str, home: &Path) -> Result<Vec<HostTarget>, String> {
        let path = dir.join("swarmform.toml");
        std::fs::write(&path, config).expect("write config");
        let mut sources = Sources::default();
        let options = Options {
            path,
            ..Options::default()
        };
        let loaded = load(&options, &mut sources).unwrap_or_else(|errors| {
            panic!(
                "{}",
                errors
                    .iter()
                    .map(|error| error.render(&sources, false))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        targets(&loaded.config, home)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(path, text).expect("write");
    }

    // With nothing configured anywhere, a host is reached as root on port 22 with strict host
    // keys, ~/.ssh/known_hosts, ssh-agent and the default keys, no sudo, 10 s and 10 min.
    #[test]
    fn defaults() {
        let dir = tempfile::tempdir().expect("dir");
        let home = tempfile::tempdir().expect("home");
        let targets = targets_of(
            dir.path(),
            "[hosts.node1]\naddress = \"10.0.0.1\"\nrole = \"manager\"\n",
            home.path(),
        )
        .expect("targets");
        assert_eq!(
            targets,
            [HostTarget {
                name: "node1".into(),
                address: "10.0.0.1".into(),
                port: 22,
                user: "root".into(),
                identity_files: vec![],
                host_key_policy: HostKeyPolicy::Strict,
                known_hosts: home.path().join(".ssh/known_hosts"),
                jump: None,
                sudo: false,
                connect_timeout: Duration::from_secs(10),
                command_timeout: Duration::from_secs(600),
                key_exchange: vec![],
            }]
        );
    }

    // ~/.ssh/config is read with OpenSSH's rules: the first matching value wins, `*` and `?`
    // patterns match, HostName replaces the address, IdentityFile entries that exist are used,
    // and ProxyJump names a jump host that is itself resolved through the file.
    #[test]
    fn ssh_config_is_applied() {
        let dir = tempfile::tempdir().expect("dir");
        let home = tempfile::tempdir().expect("home");
        write(&home.path().join(".ssh/id_lab"), "key");
        write(
            &home.path().join(".ssh/config"),
            "Host node?.lab\n  HostName 10.0.0.11\n  User pi\n  Port 2200\n  IdentityFile ~/.ssh/id_lab\n  IdentityFile ~/.ssh/missing\n  ProxyJump admin@bastion\n\nHost node1.lab\n  HostName 10.0.0.1\n\nHost *.lab\n  User ignored\n  Port 1\n\nHost bastion\n  HostName 192.0.2.1\n  Port 2222\n",
        );
        let targets = targets_of(
            dir.path(),
            "[hosts.node1]\naddress = \"node1.lab\"\nrole = \"manager\"\n",
            home.path(),
        )
        .expect("targets");
        let target = &targets[0];
        // The first block's HostName wins over the later, more specific one.
        assert_eq!(target.address, "10.0.0.11");
        assert_eq!(target.user, "pi");
        assert_eq!(target.port, 2200);
        assert_eq!(target.identity_files, [home.path().join(".ssh/id_lab")]);
        assert!(target.sudo, "a user other than root uses sudo by default");
        assert_eq!(
            target.jump,
            Some(JumpHost {
                address: "192.0.2.1".into(),
                port: 2222,
                user: "admin".into(),
                identity_files: vec![home.path().join(".ssh/id_lab")],
            })
        );
    }

    // A host's own [hosts.X.ssh] beats the root [ssh], which beats ~/.ssh/config; relative paths
    // are relative to the config's folder and `~/` to the home.
    #[test]
    fn precedence_and_paths() {
        let dir = tempfile::tempdir().expect("dir");
        let home = tempfile::tempdir().expect("home");
        write(
            &home.path().join(".ssh/config"),
            "Host *\n  User fromsshconfig\n  Port 2022\n  ProxyJump jump.example:2200\n",
        );
        let config = r#"
[ssh]
user = "deploy"
identity_file = "keys/id_ed25519"
known_hosts = "~/lab/known_hosts"
host_key_policy = "accept-new"
connect_timeout = "3s"
key_exchange = ["mlkem768x25519-sha256", "curve25519-sha256"]

[hosts.node1]
address = "10.0.0.1"
role = "manager"

[hosts.node2]
address = "10.0.0.2"
[hosts.node2.ssh]
user = "root"
port = 2223
identity_file = "/abs/id"
jump_host = "none"
command_timeout = "1m"
"#;
        let targets = targets_of(dir.path(), config, home.path()).expect("targets");
        let (node1, node2) = (&targets[0], &targets[1]);
        assert_eq!(node1.user, "deploy");
        assert_eq!(node1.port, 2022);
        assert_eq!(node1.identity_files, [dir.path().join("keys/id_ed25519")]);
        assert_eq!(node1.known_hosts, home.path().join("lab/known_hosts"));
        assert_eq!(node1.host_key_policy, HostKeyPolicy::AcceptNew);
        assert_eq!(node1.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            node1.key_exchange,
            ["mlkem768x25519-sha256", "curve25519-sha256"]
        );
        assert!(node1.sudo);
        let jump = node1.jump.as_ref().expect("jump from ~/.ssh/config");
        // `Host *` matches the jump host too, so its User applies, as in OpenSSH.
        assert_eq!(
            (jump.address.as_str(), jump.port, jump.user.as_str()),
            ("jump.example", 2200, "fromsshconfig")
        );
        assert_eq!(jump.identity_files, node1.identity_files);

        assert_eq!(node2.user, "root");
        assert_eq!(node2.port, 2223);
        assert_eq!(node2.identity_files, [PathBuf::from("/abs/id")]);
        assert_eq!(
            node2.jump, None,
            "`none` turns off the jump host of ~/.ssh/config"
        );
        assert_eq!(node2.command_timeout, Duration::from_secs(60));
        assert!(!node2.sudo);
    }

    // Jump host specs accept a user, a port, IPv6 brackets and the ssh:// form; junk is refused.
    #[test]
    fn jump_specs() {
        assert_eq!(parse_jump("bastion"), Ok((None, "bastion".into(), None)));
        assert_eq!(
            parse_jump("admin@10.0.0.9:2222"),
            Ok((Some("admin".into()), "10.0.0.9".into(), Some(2222)))
        );
        assert_eq!(
            parse_jump("ssh://u@[2001:db8::1]:22"),
            Ok((Some("u".into()), "2001:db8::1".into(), Some(22)))
        );
        assert_eq!(
            parse_jump("2001:db8::1"),
            Ok((None, "2001:db8::1".into(), None))
        );
        assert!(parse_jump("host:notaport").is_err());
        assert!(parse_jump("@host").is_err());
        assert!(parse_jump("host:0").is_err());
    }

    // An unknown key exchange name is refused with the list of known ones.
    #[test]
    fn unknown_key_exchange_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let home = tempfile::tempdir().expect("home");
        let error = targets_of(
            dir.path(),
            "[ssh]\nkey_exchange = [\"sntrup761x25519-sha512\"]\n[hosts.node1]\naddress = \"10.0.0.1\"\nrole = \"manager\"\n",
            home.path(),
        )
        .expect_err("refused");
        assert!(error.contains("`sntrup761x25519-sha512`"), "{error}");
        assert!(error.contains("curve25519-sha256"), "{error}");
    }
}
