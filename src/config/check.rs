//! Small validators shared by the config checks: CIDRs, addresses, durations, modes, labels.

use std::net::IpAddr;

use ipnet::IpNet;

/// Go's `time.ParseDuration` syntax, as Docker's flags take it: `90s`, `1h30m`, `2160h0m0s`.
pub fn is_duration(text: &str) -> bool {
    parse_duration(text).is_some()
}

/// Parses a Go-style duration (no sign): a sequence of numbers with units ns, us, µs, ms, s,
/// m, h.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    let mut seconds = 0.0_f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .filter(|(unit, _)| rest.starts_with(unit))
        .max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit.len()..];
        seconds += number * scale;
    }
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let network: IpNet = text
        .parse()
        .map_err(|_| format!("`{text}` is not a CIDR block such as `10.0.9.0/24`"))?;
    if network.trunc() != network {
        return Err(format!(
            "`{text}` has host bits set; the network is `{}`",
            network.trunc()
        ));
    }
    Ok(network)
}

pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an IP address"))
}

/// `IP:PORT` or `IP` (Docker's `--listen-addr` and the TCP API address).
pub fn is_socket_address(text: &str, port_required: bool) -> bool {
    if text.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    !port_required && text.parse::<IpAddr>().is_ok()
}

/// An IP address or a network interface name (Docker accepts both for `--advertise-addr`),
/// optionally with `:PORT`.
pub fn is_advertise_address(text: &str) -> bool {
    if is_socket_address(text, false) {
        return true;
    }
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => text,
    };
    !host.is_empty()
        && host.len() <= 15
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A file mode in octal: `0644`, `600`.
pub fn parse_mode(text: &str) -> Option<u32> {
    if !(3..=4).contains(&text.len()) {
        return None;
    }
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
}

/// Docker label keys: no whitespace, no `=`, no control character, not empty.
pub fn is_label_key(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || c == '=')
        && line_breaking(text).is_none()
}

/// Docker object names (networks, secrets, configs, services): `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn is_docker_name(text: &str, max: usize) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && text.len() <= max
}

/// A user or group name for a file's owner.
pub fn is_account_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The first character of `text` that no one-line field can hold as written: a control
/// character other than tab (newline, CR, NUL, escape, NEL, ...), or U+2028 and U+2029, which
/// YAML 1.1 parsers (libyaml, the Go YAML Docker reads compose files with) take as line breaks.
pub fn line_breaking(text: &str) -> Option<char> {
    text.chars().find(|c| breaks_lines(*c))
}

fn breaks_lines(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

/// How a message names a character [`line_breaking`] found: `a newline (\n)`, `a NUL byte`.
pub fn describe_character(c: char) -> String {
    match c {
        '\n' => "a newline (\\n)".to_owned(),
        '\r' => "a carriage return (\\r)".to_owned(),
        '\0' => "a NUL byte".to_owned(),
        '\u{2028}' => "a line separator (U+2028)".to_owned(),
        '\u{2029}' => "a paragraph separator (U+2029)".to_owned(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

/// `text` as a message may quote it: every character [`line_breaking`] finds written as an
/// escape, so a hostile value cannot end a line or move the cursor of the terminal it is
/// printed on.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if breaks_lines(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// An environment variable name as systemd accepts it in `Environment=`:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_environment_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What is wrong with `path` as the path of a file swarmform writes on a host, if anything:
/// it must be absolute, name a file (not end in `/`), stay one line, and never climb with a
/// `..` component.
pub fn host_path_problem(path: &str) -> Option<String> {
    if let Some(c) = line_breaking(path) {
        return Some(format!("it contains {}", describe_character(c)));
    }
    if !path.starts_with('/') {
        return Some("it is not absolute".to_owned());
    }
    if path.ends_with('/') {
        return Some("it names a folder, not a file".to_owned());
    }
    if path.split('/').any(|component| component == "..") {
        return Some("it climbs out of its folder with `..`".to_owned());
    }
    None
}

/// The message for a path [`host_path_problem`] refuses, quoting the path printably; the
/// validation and the steps that write or remove the path say it alike.
pub fn unusable_host_path(path: &str) -> Option<String> {
    host_path_problem(path)
        .map(|problem| format!("`{}` is not a usable file path: {problem}", printable(path)))
}

/// An IP address or a DNS name: dot-separated labels of letters, digits, `-` and `_` (not
/// starting with `-`), at most 253 characters. A host's `address` also names the folder of a
/// hosted registry's CA on every host (`/etc/docker/certs.d/ADDRESS:PORT/`).
pub fn is_host_address(text: &str) -> bool {
    if text.parse::<IpAddr>().is_ok() {
        return true;
    }
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        })
}

/// A word a remote command takes as an operand, not an option: not empty, not starting with
/// `-`, one line without whitespace (an image reference, a registry URL).
pub fn is_operand(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && !text.contains(char::is_whitespace)
        && line_breaking(text).is_none()
}

/// A package name apt-get installs, with an optional `=VERSION`, `/RELEASE` or `:ARCH`:
/// letters, digits and `+.-_~:=/`, starting with a letter or digit (never an option).
pub fn is_package_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphanumeric())
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-' | '_' | '~' | ':' | '=' | '/')
        })
}

/// What stops a file from being written at `path` (atomically, through a temporary file
/// beside it), as a message and a help line; `written` is the path as the config spells it.
/// Unlike the other checks this one reads the file system: it creates and removes a temporary
/// file in the folder.
pub fn unwritable_file(path: &std::path::Path, written: &str) -> Option<(String, String)> {
    let written = std::path::Path::new(written);
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    let folder_written = written
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    match std::fs::metadata(folder) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Some((
                format!("the folder `{}` does not exist", folder_written.display()),
                format!(
                    "create it (`mkdir -p {}`; mode 0700 keeps it private), or name a file in a folder that exists",
                    folder_written.display()
                ),
            ));
        }
        Err(error) => {
            return Some((
                format!(
                    "the folder `{}` cannot be read: {error}",
                    folder_written.display()
                ),
                "check its permissions, or name a file in another folder".to_owned(),
            ));
        }
        Ok(metadata) if !metadata.is_dir() => {
            return Some((
                format!("`{}` is not a folder", folder_written.display()),
                "name a file in a folder".to_owned(),
            ));
        }
        Ok(_) => {}
    }
    if path.is_dir() {
        return Some((
            format!("`{}` is a folder, not a file", written.display()),
            "name a file, such as `unlock.key` inside it".to_owned(),
        ));
    }
    match crate::state::temporary_beside(path) {
        Ok(_) => None,
        Err(error) => Some((
            format!(
                "the folder `{}` is not writable by this user: {error}",
                folder_written.display()
            ),
            format!(
                "make it writable (`chmod u+w {}`), or name a file in another folder",
                folder_written.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Durations follow Go's syntax, which is what Docker's flags parse.
    #[test]
    fn durations_follow_go_syntax() {
        for good in ["5s", "2160h0m0s", "1.5h", "300ms", "1h30m"] {
            assert!(is_duration(good), "{good}");
        }
        for bad in ["", "5", "s", "5 s", "5d", "-1s"] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert_eq!(
            parse_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
    }

    // CIDRs must name a network, not an address inside one.
    #[test]
    fn cidrs_refuse_host_bits() {
        assert!(parse_cidr("10.0.9.0/24").is_ok());
        assert!(
            parse_cidr("10.0.9.1/24")
                .expect_err("host bits")
                .contains("10.0.9.0/24")
        );
        assert!(parse_cidr("10.0.9.0").is_err());
    }

    // Advertise addresses may be IPs, IP:PORT or interface names.
    #[test]
    fn advertise_addresses_accept_interfaces() {
        for good in ["10.0.0.1", "10.0.0.1:2377", "eth0", "enp0s3:2377"] {
            assert!(is_advertise_address(good), "{good}");
        }
        for bad in ["", "a b", "averyveryverylonginterfacename"] {
            assert!(!is_advertise_address(bad), "{bad}");
        }
    }

    // Modes are three or four octal digits.
    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("600"), Some(0o600));
        assert_eq!(parse_mode("0999"), None);
        assert_eq!(parse_mode("64"), None);
    }

    // Line breaks and control characters are found, ordinary text (with spaces, tabs, quotes
    // and non-ASCII letters) is not; messages show them as escapes.
    #[test]
    fn line_breaking_characters_are_found_and_shown_escaped() {
        for (text, found) in [
            ("a\nb", '\n'),
            ("a\r\nb", '\r'),
            ("a\0b", '\0'),
            ("a\u{1b}[2J", '\u{1b}'),
            ("a\u{85}b", '\u{85}'),
            ("a\u{2028}b", '\u{2028}'),
        ] {
            assert_eq!(line_breaking(text), Some(found), "{text:?}");
        }
        assert_eq!(line_breaking("http://proxy:3128/ 'é' \"$x\" %n\t"), None);
        assert_eq!(
            printable("a\nb\r\0\u{1b}\u{2028}é"),
            "a\\nb\\r\\0\\u{1b}\\u{2028}é"
        );
        assert_eq!(describe_character('\n'), "a newline (\\n)");
        assert_eq!(describe_character('\u{7f}'), "the control character U+007F");
    }

    // Environment names are what systemd and POSIX shells accept.
    #[test]
    fn environment_names_are_posix_names() {
        for good in ["HTTP_PROXY", "_x", "a1"] {
            assert!(is_environment_name(good), "{good}");
        }
        for bad in ["", "1A", "A=B", "A B", "A\nB", "É", "A-B"] {
            assert!(!is_environment_name(bad), "{bad:?}");
        }
    }

    // Host paths are absolute, one line, and never climb with `..`.
    #[test]
    fn host_paths_are_absolute_and_do_not_climb() {
        for good in [
            "/etc/motd",
            "/srv/it's a file",
            "/etc/docker/certs.d/r:5000/ca.crt",
            "/a/..b/c..",
        ] {
            assert_eq!(host_path_problem(good), None, "{good}");
        }
        for bad in [
            "etc/motd",
            "../../etc/shadow",
            "/etc/../shadow",
            "/etc/ssl/..",
            "/etc/",
            "/etc/motd\n",
            "/a\0b",
            "",
        ] {
            assert!(host_path_problem(bad).is_some(), "{bad:?}");
        }
    }

    // Host addresses are IP addresses or DNS names, nothing a path or a shell could misread.
    #[test]
    fn host_addresses_are_ips_or_dns_names() {
        for good in [
            "192.0.2.11",
            "2001:db8::1",
            "m2.example.com",
            "lab-manager1",
            "engine.node10",
            "my_host",
        ] {
            assert!(is_host_address(good), "{good}");
        }
        for bad in [
            "",
            "../../etc",
            "a/b",
            "a b",
            "a\nb",
            "-oProxyCommand=x",
            "a..b",
            "x'; touch y",
        ] {
            assert!(!is_host_address(bad), "{bad:?}");
        }
    }

    // Operands and package names can never be read as options.
    #[test]
    fn operands_and_packages_are_never_options() {
        assert!(is_operand("registry.example.com:5000"));
        assert!(is_operand("local/registry:2"));
        for bad in ["", "--help", "a b", "a\nb"] {
            assert!(!is_operand(bad), "{bad:?}");
        }
        for good in [
            "docker.io",
            "docker-ce=5:24.0.7-1~debian.12~bookworm",
            "containerd.io",
            "docker.io/bookworm-backports",
            "libc6:arm64",
        ] {
            assert!(is_package_name(good), "{good}");
        }
        for bad in [
            "",
            "-oAPT::Update::Pre-Invoke::=touch /tmp/x",
            "a b",
            "a;b",
            "a\nb",
        ] {
            assert!(!is_package_name(bad), "{bad:?}");
        }
    }
}
