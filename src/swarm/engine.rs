//! The Docker engine on a host: installed from the distribution's packages, or required.

use super::StepError;
use super::context::*;
use crate::ssh::Script;

pub(super) async fn wait_for_docker(context: &Context, host: &str) -> Result<(), StepError> {
    let script = Script::new(docker(&["info", "--format", "{{json .ServerVersion}}"]));
    context
        .wait(&format!("dockerd on `{host}` to answer"), || async {
            let output = context.run(host, &script).await?;
            Ok(if output.success() {
                Ok(())
            } else {
                Err(output.stderr_text().trim().to_owned())
            })
        })
        .await
}
