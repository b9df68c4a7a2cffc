//! The unlock key of an autolocked swarm: read live once per run, kept in `unlock_key_file`
//! or shown once, never stored in the state.

use crate::ssh::Script;

use super::StepError;
use super::context::*;
use super::node::answering_manager;

/// Whether the swarm `manager` belongs to locks its managers when they restart.
pub(super) async fn autolocked(context: &Context, manager: &str) -> Result<bool, StepError> {
    let script = Script::new(docker(&[
        "info",
        "--format",
        "{{json .Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}",
    ]));
    let output = context.check(manager, &script, None).await?;
    Ok(output.stdout_text().trim() == "true")
}

/// The swarm's unlock key, read live from a manager once per run and scrubbed from all output.
pub(super) async fn unlock_key(context: &Context, manager: &str) -> Result<String, StepError> {
    if let Some(key) = context.unlock_key.lock().ok().and_then(|key| key.clone()) {
        return Ok(key);
    }
    let script = Script::new(docker(&["swarm", "unlock-key", "-q"]));
    let output = context.check(manager, &script, None).await?;
    let key = output.stdout_text().trim().to_owned();
    if key.is_empty() {
        return Err(StepError::Unexpected {
            host: manager.to_owned(),
            command: script.display(),
            detail: "no unlock key".to_owned(),
        });
    }
    context.remember_secret(&key);
    if let Ok(mut cached) = context.unlock_key.lock() {
        *cached = Some(key.clone());
    }
    Ok(key)
}

/// The unlock key for a manager that is locked already (an earlier run was interrupted between
/// its restart and its unlock): the config's `unlock_key_file`, else another manager.
pub(super) async fn unlock_key_elsewhere(
    context: &Context,
    locked: &str,
) -> Result<String, StepError> {
    if let Some(key) = context.unlock_key.lock().ok().and_then(|key| key.clone()) {
        return Ok(key);
    }
    let from_file = context
        .settings
        .unlock_key_file
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .filter(|key| !key.is_empty());
    if let Some(key) = from_file {
        context.remember_secret(&key);
        return Ok(key);
    }
    match answering_manager(context, locked).await? {
        Some(manager) => unlock_key(context, &manager).await,
        None => Err(StepError::Refused(format!(
            "`{locked}` is locked and no other manager answers to read the unlock key from\nhint: run `docker swarm unlock` on {locked} with the key, or set `unlock_key_file` under `[swarm]`"
        ))),
    }
}

/// Writes the unlock key to the config's `unlock_key_file` (0600) when it names one and the
/// file does not hold it yet; `new` marks a key this run created, to be shown once.
pub(super) async fn keep_unlock_key(
    context: &Context,
    manager: &str,
    new: bool,
) -> Result<(), StepError> {
    let key = unlock_key(context, manager).await?;
    let path = context.settings.unlock_key_file.clone();
    let mut written_to = None;
    if let Some(path) = &path {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current.trim() != key {
            if let Err(error) = crate::state::write_atomically(path, format!("{key}\n").as_bytes())
            {
                return Err(keep_unlock_key_elsewhere(
                    context, manager, key, path, &error,
                ));
            }
            written_to = Some(path.clone());
        }
    }
    if (new || written_to.is_some())
        && let Ok(mut shown) = context.new_unlock_key.lock()
    {
        *shown = Some(NewUnlockKey {
            key,
            written_to,
            not_written_to: None,
        });
    }
    Ok(())
}

/// `unlock_key_file` could not be written (its folder went away or became read-only after
/// `validate`): the key is kept where it cannot be lost, in the fallback file beside the state,
/// or shown on the terminal once the apply ends, and nothing more starts. Returns the step's
/// error, which says where the key is.
pub(super) fn keep_unlock_key_elsewhere(
    context: &Context,
    manager: &str,
    key: String,
    path: &std::path::Path,
    error: &crate::state::StateError,
) -> StepError {
    context.halt();
    let cause = |error: &crate::state::StateError| {
        std::error::Error::source(error).map_or_else(|| error.to_string(), ToString::to_string)
    };
    let failed = format!(
        "the unlock key could not be written to `{}`: {}",
        path.display(),
        cause(error)
    );
    let kept = match &context.unlock_key_fallback {
        Some(fallback) => {
            match crate::state::write_atomically(fallback, format!("{key}\n").as_bytes()) {
                Ok(()) => Ok(Some(fallback.clone())),
                Err(fallback_error) => Err(format!(
                    "{failed}; nor to `{}`: {}; the apply stops here\nhint: read the key on a terminal with `swarmform exec --hosts {manager} -- docker swarm unlock-key -q` and keep it safe, make `{}` writable, then apply again",
                    fallback.display(),
                    cause(&fallback_error),
                    path.display()
                )),
            }
        }
        None => Ok(None),
    };
    let message = match &kept {
        Ok(Some(fallback)) => format!(
            "{failed}; it was written to `{}` (mode 0600) instead, and the apply stops here\nhint: move it to `{}` once that folder exists and is writable (or keep it safe elsewhere), then apply again",
            fallback.display(),
            path.display()
        ),
        Ok(None) => format!(
            "{failed}; it is shown below, once, and the apply stops here\nhint: keep it safe, make the folder of `{}` writable, then apply again",
            path.display()
        ),
        Err(message) => message.clone(),
    };
    if let (Ok(written_to), Ok(mut shown)) = (kept, context.new_unlock_key.lock()) {
        *shown = Some(NewUnlockKey {
            key,
            written_to,
            not_written_to: Some(path.to_owned()),
        });
    }
    StepError::Refused(message)
}
