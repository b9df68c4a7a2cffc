//! A certificate authority for the Docker API over TCP, kept on the machine running swarmform
//! the way docker-machine kept one: a CA, a server certificate per host, and a client
//! certificate for the operator. Private keys live in files of mode 0600 next to the config and
//! never enter the state (which holds hashes only) or any output.
//!
//! Layout of the folder (default `.swarmform/tls/` next to the config):
//!
//! ```text
//! ca.pem  ca-key.pem                                         the CA
//! client/ca.pem client/cert.pem client/key.pem               for DOCKER_CERT_PATH
//! hosts/HOST/cert.pem hosts/HOST/key.pem hosts/HOST/names    a host's server certificate
//! ```
//!
//! `names` records the names and addresses a server certificate was made for: when they change
//! (a new address), the certificate is made again. Everything else is made once and reused.

use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// What a host's daemon needs: the CA certificate, its server certificate and key (PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerFiles {
    pub ca: Vec<u8>,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for ServerFiles {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerFiles")
            .field("ca", &self.ca.len())
            .field("cert", &self.cert.len())
            .field("key", &"(sensitive)")
            .finish()
    }
}

/// Why the CA folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot {operation} `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        source: std::io::Error,
    },
    #[error("`{}` is not a key or certificate swarmform can use: {source}", path.display())]
    Invalid { path: PathBuf, source: rcgen::Error },
}

const CA_NAME: &str = "swarmform Docker API CA";
const CA_YEARS: i32 = 10;
const LEAF_YEARS: i32 = 3;

/// The server files for `host`, made on first use. `names` are the DNS names and IP
/// addresses the host is reached by (its address, its name in the config).
pub fn server_files(dir: &Path, host: &str, names: &[String]) -> Result<ServerFiles, TlsError> {
    let (ca_params, ca_key) = ensure_ca(dir)?;
    let ca_pem = read(&dir.join("ca.pem"))?;
    ensure_client(dir, &ca_params, &ca_key, &ca_pem)?;

    let host_dir = dir.join("hosts").join(host);
    let mut names: Vec<String> = names
        .iter()
        .cloned()
        .chain(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .collect();
    names.sort();
    names.dedup();
    let recorded = fs::read_to_string(host_dir.join("names")).unwrap_or_default();
    let wanted = names.join("\n") + "\n";
    let cert_path = host_dir.join("cert.pem");
    let key_path = host_dir.join("key.pem");
    if recorded != wanted || !cert_path.exists() || !key_path.exists() {
        create_dir(&host_dir)?;
        let key = generate_key(&key_path)?;
        let mut params = leaf_params(host, ExtendedKeyUsagePurpose::ServerAuth);
        params.subject_alt_names = names
            .iter()
            .map(|name| san(name))
            .collect::<Result<_, _>>()
            .map_err(|source| TlsError::Invalid {
                path: cert_path.clone(),
                source,
            })?;
        let issuer = Issuer::new(ca_params, &ca_key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|source| TlsError::Invalid {
                path: cert_path.clone(),
                source,
            })?;
        write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
        write(&cert_path, cert.pem().as_bytes(), 0o644)?;
        write(&host_dir.join("names"), wanted.as_bytes(), 0o644)?;
    }
    Ok(ServerFiles {
        ca: ca_pem,
        cert: read(&cert_path)?,
        key: read(&key_path)?,
    })
}

/// The CA's parameters (always the same, so an existing CA key signs with them) and key.
fn ensure_ca(dir: &Path) -> Result<(CertificateParams, KeyPair), TlsError> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca-key.pem");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let this_year = current_year();
    params.not_before = rcgen::date_time_ymd(this_year, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year + CA_YEARS, 1, 1);
    if key_path.exists() && cert_path.exists() {
        let text = String::from_utf8_lossy(&read(&key_path)?).into_owned();
        let key = KeyPair::from_pem(&text).map_err(|source| TlsError::Invalid {
            path: key_path.clone(),
            source,
        })?;
        return Ok((params, key));
    }
    create_dir(dir)?;
    let key = generate_key(&key_path)?;
    let cert = params
        .self_signed(&key)
        .map_err(|source| TlsError::Invalid {
            path: cert_path.clone(),
            source,
        })?;
    write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    // A new CA invalidates every certificate it did not sign.
    let _ = fs::remove_dir_all(dir.join("hosts"));
    let _ = fs::remove_dir_all(dir.join("client"));
    Ok((params, key))
}

/// The operator's client certificate, for `DOCKER_CERT_PATH=DIR/client DOCKER_TLS_VERIFY=1`.
fn ensure_client(
    dir: &Path,
    ca_params: &CertificateParams,
    ca_key: &KeyPair,
    ca_pem: &[u8],
) -> Result<(), TlsError> {
    let client = dir.join("client");
    let cert_path = client.join("cert.pem");
    let key_path = client.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok(());
    }
    create_dir(&client)?;
    let key = generate_key(&key_path)?;
    let params = leaf_params("swarmform client", ExtendedKeyUsagePurpose::ClientAuth);
    let issuer = Issuer::from_params(ca_params, ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|source| TlsError::Invalid {
            path: cert_path.clone(),
            source,
        })?;
    write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    write(&client.join("ca.pem"), ca_pem, 0o644)
}

fn leaf_params(common_name: &str, usage: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let this_year = current_year();
    params.not_before = rcgen::date_time_ymd(this_year, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year + LEAF_YEARS, 1, 1);
    params
}

fn san(name: &str) -> Result<SanType, rcgen::Error> {
    match name.parse::<std::net::IpAddr>() {
        Ok(address) => Ok(SanType::IpAddress(address)),
        Err(_) => Ok(SanType::DnsName(name.to_owned().try_into()?)),
    }
}

fn generate_key(path: &Path) -> Result<KeyPair, TlsError> {
    KeyPair::generate().map_err(|source| TlsError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The calendar year now (UTC), from the system clock.
fn current_year() -> i32 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    // Days since 1970-01-01 to a civil year (Howard Hinnant's algorithm).
    let days = i64::try_from(seconds / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let year = year_of_era + era * 400 + i64::from(month_index >= 10);
    i32::try_from(year).unwrap_or(2026)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        operation: "read",
        source,
    })
}

fn create_dir(path: &Path) -> Result<(), TlsError> {
    fs::create_dir_all(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        operation: "create the folder",
        source,
    })?;
    fs::set_permissions(path, Permissions::from_mode(0o700)).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        operation: "set the permissions of",
        source,
    })
}

fn write(path: &Path, content: &[u8], mode: u32) -> Result<(), TlsError> {
    crate::state::write_atomically(path, content).map_err(|error| TlsError::Io {
        path: path.to_owned(),
        operation: "write",
        source: std::io::Error::other(error.to_string()),
    })?;
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        operation: "set the permissions of",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The CA is made once; a host's certificate is made again only when its names change; the
    // keys are 0600 and the certificates chain to the CA (checked with openssl when present).
    #[test]
    fn a_ca_and_server_certificates_are_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let tls = dir.path().join("tls");
        let names = ["10.0.0.1".to_owned(), "node1".to_owned()];
        let first = server_files(&tls, "node1", &names).expect("made");
        let again = server_files(&tls, "node1", &names).expect("reused");
        assert_eq!(first, again, "nothing is made twice");
        let moved = server_files(&tls, "node1", &["10.0.0.9".to_owned()]).expect("made again");
        assert_ne!(first.cert, moved.cert);
        assert_eq!(first.ca, moved.ca);
        for key in ["ca-key.pem", "client/key.pem", "hosts/node1/key.pem"] {
            let mode = fs::metadata(tls.join(key))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        assert!(String::from_utf8_lossy(&moved.key).contains("PRIVATE KEY"));
        assert!(
            !format!("{moved:?}").contains("PRIVATE"),
            "Debug hides the key"
        );
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok()
        {
            for cert in ["hosts/node1/cert.pem", "client/cert.pem"] {
                let verified = std::process::Command::new("openssl")
                    .args(["verify", "-CAfile"])
                    .arg(tls.join("ca.pem"))
                    .arg(tls.join(cert))
                    .output()
                    .expect("openssl");
                assert!(
                    verified.status.success(),
                    "{cert}: {}",
                    String::from_utf8_lossy(&verified.stderr)
                );
            }
            let text = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(tls.join("hosts/node1/cert.pem"))
                .output()
                .expect("openssl");
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(text.contains("IP Address:10.0.0.9"), "{text}");
            assert!(text.contains("TLS Web Server Authentication"), "{text}");
        }
    }

    #[test]
    fn the_year_comes_from_the_clock() {
        assert!((2024..2200).contains(&current_year()));
    }
}
