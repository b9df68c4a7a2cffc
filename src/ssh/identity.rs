//! Private keys: identity files (decrypted with `SWARMFORM_SSH_PASSPHRASE` or a passphrase typed
//! on the terminal, once per file per run) and ssh-agent.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::keys::{PrivateKey, decode_secret_key};
use zeroize::Zeroizing;

use super::error::SshError;
use crate::config::read::ReadError;

/// The environment variable holding the passphrase of encrypted identity files.
pub const PASSPHRASE_VARIABLE: &str = "SWARMFORM_SSH_PASSPHRASE";

/// The keys OpenSSH tries when none is configured, in its order (after ssh-agent).
pub const DEFAULT_IDENTITY_FILES: &[&str] = &["id_ed25519", "id_ecdsa", "id_rsa"];

/// What authentication takes from the process: read once when the pool is made, so tests can
/// set it without touching the process environment.
#[derive(Clone, Default)]
pub struct Environment {
    pub passphrase: Option<Zeroizing<String>>,
    /// Standard input is a terminal: a passphrase may be asked for.
    pub can_prompt: bool,
    /// `SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
    /// Where `~/.ssh/id_*` are looked for.
    pub home: Option<PathBuf>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "(sensitive)"),
            )
            .field("can_prompt", &self.can_prompt)
            .field("agent_socket", &self.agent_socket)
            .field("home", &self.home)
            .finish()
    }
}

impl Environment {
    pub fn from_process() -> Environment {
        Environment {
            passphrase: std::env::var(PASSPHRASE_VARIABLE).ok().map(Zeroizing::new),
            can_prompt: std::io::stdin().is_terminal(),
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|socket| !socket.is_empty())
                .map(PathBuf::from),
            home: std::env::home_dir(),
        }
    }

    /// `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`, those that exist.
    pub fn default_identity_files(&self) -> Vec<PathBuf> {
        let Some(home) = &self.home else {
            return Vec::new();
        };
        DEFAULT_IDENTITY_FILES
            .iter()
            .map(|name| home.join(".ssh").join(name))
            .filter(|path| path.is_file())
            .collect()
    }
}

/// Identity files read so far, so each is read (and its passphrase asked) once per run however
/// many hosts use it. Failures are kept too: a wrong passphrase is not asked again per host.
pub struct Keys {
    environment: Environment,
    loaded: tokio::sync::Mutex<HashMap<PathBuf, Result<Arc<PrivateKey>, SshError>>>,
}

impl Keys {
    pub fn new(environment: Environment) -> Keys {
        Keys {
            environment,
            loaded: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The key in `path`, decrypted. Concurrent callers wait for the first one, so a passphrase
    /// is asked at most once.
    pub async fn load(&self, path: &Path) -> Result<Arc<PrivateKey>, SshError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(result) = loaded.get(path) {
            return result.clone();
        }
        let owned = path.to_path_buf();
        let passphrase = self.environment.passphrase.clone();
        let can_prompt = self.environment.can_prompt;
        // Decrypting runs bcrypt-pbkdf and prompting blocks: both off the async threads.
        let result = tokio::task::spawn_blocking(move || load_key(&owned, passphrase, can_prompt))
            .await
            .unwrap_or_else(|error| {
                Err(SshError::KeyFile {
                    path: path.to_path_buf(),
                    detail: format!("reading it failed: {error}"),
                })
            })
            .map(Arc::new);
        loaded.insert(path.to_path_buf(), result.clone());
        result
    }
}

fn load_key(
    path: &Path,
    passphrase: Option<Zeroizing<String>>,
    can_prompt: bool,
) -> Result<PrivateKey, SshError> {
    let key_file_error = |detail: String| SshError::KeyFile {
        path: path.to_path_buf(),
        detail,
    };
    // Through the config's reader: a FIFO or a device named as the key is refused, not waited on.
    let bytes = Zeroizing::new(
        crate::config::read::bytes(path, crate::config::read::Purpose::Config).map_err(
            |error| {
                key_file_error(match error {
                    ReadError::Io(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        "there is no such file".to_owned()
                    }
                    ReadError::Io(error)
                        if error.kind() == std::io::ErrorKind::PermissionDenied =>
                    {
                        "permission denied".to_owned()
                    }
                    other => other.to_string(),
                })
            },
        )?,
    );
    let text = Zeroizing::new(
        std::str::from_utf8(&bytes)
            .map_err(|_| key_file_error("it is not a text key file".to_owned()))?
            .to_owned(),
    );
    let error = match decode_secret_key(&text, None) {
        Ok(key) => return Ok(key),
        Err(error) => error,
    };
    let encrypted = matches!(error, russh::keys::Error::KeyIsEncrypted)
        || text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED");
    if !encrypted {
        return Err(key_file_error(format!(
            "it is not a private key in a format swarmform reads (OpenSSH, PEM or PKCS#8): {error}"
        )));
    }
    let (passphrase, source) = match passphrase {
        Some(passphrase) => (passphrase, PASSPHRASE_VARIABLE.to_owned()),
        None if can_prompt => {
            let typed = rpassword::prompt_password(format!(
                "Enter passphrase for key '{}': ",
                path.display()
            ))
            .map_err(|_| SshError::Passphrase {
                path: path.to_path_buf(),
            })?;
            (Zeroizing::new(typed), "the passphrase typed".to_owned())
        }
        None => {
            return Err(SshError::Passphrase {
                path: path.to_path_buf(),
            });
        }
    };
    decode_secret_key(&text, Some(&passphrase))
        .map_err(|_| key_file_error(format!("{source} does not decrypt it")))
}

/// How a key shows in an authentication failure: `ssh-ed25519 SHA256:...`.
pub fn describe(key: &russh::keys::PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        super::host_key::fingerprint(key)
    )
}
