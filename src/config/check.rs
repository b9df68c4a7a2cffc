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

/// Docker label keys: no whitespace, no `=`, not empty.
pub fn is_label_key(text: &str) -> bool {
    !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == '=')
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
}
