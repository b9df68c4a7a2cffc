//! Saved plans (`plan -out FILE`): the plan as data plus what it was made against, so `apply`
//! can refuse it once the state or the config moved on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::Plan;
use crate::config::desired::Desired;
use crate::hash::sha256_tagged;
use crate::state::StateError;

const FORMAT: &str = "swarmform-plan";
const FORMAT_VERSION: u32 = 1;

/// A plan file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the plan file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a swarmform plan file: {detail}\nhint: make one with `swarmform plan -out {}`", path.display(), path.display())]
    Invalid { path: PathBuf, detail: String },

    /// Written like the state, so it fails like the state.
    #[error(transparent)]
    Write(#[from] StateError),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always `swarmform-plan`.
    pub format: String,
    pub format_version: u32,
    pub swarmform_version: String,
    /// A hash of every desired resource's attributes (sensitive ones are already hashes):
    /// `apply` re-reads the config and refuses the plan if this differs.
    pub desired_digest: String,
    pub plan: Plan,
}

impl SavedPlan {
    pub fn new(plan: Plan, desired: &Desired) -> SavedPlan {
        SavedPlan {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            swarmform_version: env!("CARGO_PKG_VERSION").to_owned(),
            desired_digest: desired_digest(desired),
            plan,
        }
    }

    /// Written like the state: atomically, mode 0600.
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|error| SavedPlanError::Invalid {
                path: path.to_owned(),
                detail: error.to_string(),
            })?;
        bytes.push(b'\n');
        crate::state::write_atomically(path, &bytes)?;
        Ok(())
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let bytes = std::fs::read(path).map_err(|source| SavedPlanError::Read {
            path: path.to_owned(),
            source,
        })?;
        let plan_file = |detail: String| SavedPlanError::Invalid {
            path: path.to_owned(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| plan_file(error.to_string()))?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(FORMAT) {
            return Err(plan_file(
                "it has no `\"format\": \"swarmform-plan\"`".to_owned(),
            ));
        }
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) {
            return Err(plan_file(format!(
                "it has format version {version}, newer than this swarmform reads ({FORMAT_VERSION})"
            )));
        }
        serde_json::from_value(value).map_err(|error| plan_file(error.to_string()))
    }
}

/// A stable hash of what the config asks for.
pub fn desired_digest(desired: &Desired) -> String {
    let resources: Vec<serde_json::Value> = desired
        .resources
        .iter()
        .map(|resource| {
            serde_json::json!({
                "address": resource.address.to_string(),
                "attributes": resource.attributes.iter().map(|(name, attribute)| (name.clone(), attribute.value.clone())).collect::<serde_json::Map<_, _>>(),
                "depends_on": resource.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    sha256_tagged(serde_json::Value::Array(resources).to_string().as_bytes())
}
