//! What a host says about itself: `docker info`'s swarm section.

use serde_json::Value;

use super::{Context, StepError, docker};
use crate::ssh::Script;

/// `docker info --format '{{json .Swarm}}'`, the fields swarmform reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwarmInfo {
    pub node_id: String,
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    pub local_node_state: String,
    /// True on managers.
    pub control_available: bool,
    pub cluster_id: String,
}

impl SwarmInfo {
    pub fn parse(text: &str) -> Option<SwarmInfo> {
        let value: Value = serde_json::from_str(text.trim()).ok()?;
        let text = |value: &Value, key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some(SwarmInfo {
            node_id: text(&value, "NodeID"),
            local_node_state: text(&value, "LocalNodeState"),
            control_available: value
                .get("ControlAvailable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            cluster_id: value
                .get("Cluster")
                .map(|cluster| text(cluster, "ID"))
                .unwrap_or_default(),
        })
    }
}

pub async fn swarm_info(context: &Context, host: &str) -> Result<SwarmInfo, StepError> {
    let script = Script::new(docker(&["info", "--format", "{{json .Swarm}}"]));
    let output = context.check(host, &script, None).await?;
    SwarmInfo::parse(&output.stdout_text()).ok_or_else(|| StepError::Unexpected {
        host: host.to_owned(),
        command: script.display(),
        detail: format!(
            "not the JSON of `docker info`: {}",
            output.stdout_text().trim()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fields come from Docker's own JSON names.
    #[test]
    fn parses_docker_info_swarm_json() {
        let info = SwarmInfo::parse(
            r#"{"NodeID":"abc","NodeAddr":"10.0.0.1","LocalNodeState":"active","ControlAvailable":true,"Error":"","RemoteManagers":null,"Cluster":{"ID":"xyz"}}"#,
        )
        .expect("parses");
        assert_eq!(info.node_id, "abc");
        assert_eq!(info.cluster_id, "xyz");
        assert!(info.control_available);
        let inactive = SwarmInfo::parse(
            r#"{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false}"#,
        )
        .expect("parses");
        assert_eq!(inactive.local_node_state, "inactive");
        assert_eq!(inactive.cluster_id, "");
    }
}
