//! Which algorithms swarmform offers in the SSH handshake.
//!
//! Key exchange: russh (like OpenSSH 9.9+) prefers the post-quantum `mlkem768x25519-sha256`,
//! which costs about 0.27 s of client CPU per connection against 0.01 s for
//! `curve25519-sha256`. With a hundred hosts that is half a minute spent in handshakes, so our
//! default starts with curve25519; `key_exchange` under [ssh] changes the order.

use std::borrow::Cow;

use russh::keys::{Algorithm, PublicKey};
use russh::{Preferred, kex};

/// The default key exchange order.
pub const DEFAULT_KEY_EXCHANGE: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group14-sha256",
];

/// The names `key_exchange` accepts, in russh's order.
pub fn known_key_exchanges() -> Vec<&'static str> {
    kex::ALL_KEX_ALGORITHMS
        .iter()
        .map(|name| name.as_ref())
        .filter(|name| *name != kex::NONE.as_ref())
        .collect()
}

/// russh's name for a key exchange algorithm; `Err` carries the unknown name.
fn key_exchange(name: &str) -> Result<kex::Name, String> {
    kex::ALL_KEX_ALGORITHMS
        .iter()
        .find(|known| known.as_ref() == name && **known != &kex::NONE)
        .map(|known| **known)
        .ok_or_else(|| name.to_owned())
}

/// Checks configured names; `Err` carries the first unknown one.
pub fn check_key_exchange(names: &[String]) -> Result<(), String> {
    names
        .iter()
        .try_for_each(|name| key_exchange(name).map(drop))
}

/// The algorithm lists for one connection: `key_exchange` (empty: [`DEFAULT_KEY_EXCHANGE`]),
/// plus the pseudo-algorithms russh needs as a client (`ext-info-c`, which makes the server
/// tell which RSA signatures it accepts, and OpenSSH's strict key exchange against the Terrapin
/// attack). Host key algorithms the host is already known by come first, as OpenSSH orders
/// them, so a host with keys of several types presents the one known_hosts records.
pub fn preferred(
    key_exchange_names: &[String],
    known_keys: &[PublicKey],
) -> Result<Preferred, String> {
    let names: Vec<&str> = if key_exchange_names.is_empty() {
        DEFAULT_KEY_EXCHANGE.to_vec()
    } else {
        key_exchange_names.iter().map(String::as_str).collect()
    };
    let mut kex_list = names
        .into_iter()
        .map(key_exchange)
        .collect::<Result<Vec<_>, _>>()?;
    kex_list.push(kex::EXTENSION_SUPPORT_AS_CLIENT);
    kex_list.push(kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT);

    let is_known = |algorithm: &Algorithm| {
        known_keys.iter().any(|key| {
            let known = key.algorithm();
            known == *algorithm || (known.is_rsa() && matches!(algorithm, Algorithm::Rsa { .. }))
        })
    };
    let (mut keys, others): (Vec<Algorithm>, Vec<Algorithm>) = Preferred::DEFAULT
        .key
        .iter()
        .cloned()
        .partition(|algorithm| is_known(algorithm));
    keys.extend(others);

    Ok(Preferred {
        kex: Cow::Owned(kex_list),
        key: Cow::Owned(keys),
        ..Preferred::DEFAULT
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The default offers curve25519 first, never the costly post-quantum exchange, and keeps the
    // client extension markers russh needs.
    #[test]
    fn default_starts_with_curve25519() {
        let preferred = preferred(&[], &[]).expect("default");
        let names: Vec<&str> = preferred.kex.iter().map(|name| name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                "ecdh-sha2-nistp256",
                "diffie-hellman-group14-sha256",
                "ext-info-c",
                "kex-strict-c-v00@openssh.com",
            ]
        );
    }

    // A configured order is used as given; an unknown name is refused, and so is `none`.
    #[test]
    fn configured_names_map_to_russh() {
        let preferred = preferred(&["mlkem768x25519-sha256".to_owned()], &[]).expect("known");
        assert_eq!(preferred.kex[0].as_ref(), "mlkem768x25519-sha256");
        assert_eq!(
            check_key_exchange(&[
                "curve25519-sha256".to_owned(),
                "sntrup761x25519-sha512".to_owned()
            ]),
            Err("sntrup761x25519-sha512".to_owned())
        );
        assert!(check_key_exchange(&["none".to_owned()]).is_err());
        assert!(known_key_exchanges().contains(&"ecdh-sha2-nistp256"));
        assert!(!known_key_exchanges().contains(&"none"));
    }
}
