//! The engine kind: Docker installed from the distribution's packages, or required.

use serde::{Deserialize, Serialize};

use crate::change::Action;
use crate::ssh::{RemoteCommand, Script};

use super::Work;
use super::context::*;
use super::{KindStep, PrimitiveStep, Proposal, Step, StepError};

pub(super) async fn wait_for_docker(context: &Context, host: &str) -> Result<(), StepError> {
    let script = Script::new(docker(&["info", "--format", "{{json .ServerVersion}}"]));
    context
        .wait(&format!("dockerd on `{host}` to answer"), || async {
            let output = context.run(host, &script).await?;
            // An empty version is no answer: with dockerd down Docker 23 and later format
            // `""`, and Docker 26 exits 0 doing it.
            let answered = output.success() && !matches!(output.stdout_text().trim(), "" | "\"\"");
            Ok(if answered {
                Ok(())
            } else {
                Err(output.stderr_text().trim().to_owned())
            })
        })
        .await
}

/// The engine's steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum EngineStep {
    /// Install the distribution's Docker packages, enable and start dockerd.
    InstallEngine { packages: Vec<String> },
    /// Check that Docker is installed and answering; fail with a hint when it is not.
    RequireEngine,
}

impl KindStep for EngineStep {
    const TAGS: &'static [&'static str] = &["install_engine", "require_engine"];

    fn describe(&self) -> String {
        match self {
            EngineStep::InstallEngine { packages } => format!(
                "install {} from the distribution's packages, enable and start dockerd (a login user other than root joins the docker group)",
                packages.join(", ")
            ),
            EngineStep::RequireEngine => "check that dockerd is installed and answering".to_owned(),
        }
    }
}

impl EngineStep {
    pub(super) async fn run(
        &self,
        context: &Context,
        work: &Work,
    ) -> Result<Option<String>, StepError> {
        let host = work.host.clone().unwrap_or_default();
        match self {
            // This run's facts saw dockerd answer a moment ago.
            EngineStep::RequireEngine if context.docker_answered(&host) => Ok(None),
            EngineStep::RequireEngine => {
                let script =
                    Script::new(docker(&["version", "--format", "{{json .Server.Version}}"]));
                context
                    .check(&host, &script, Some("install Docker on the host, or set `[engine] install = \"if-missing\"` to let swarmform install the distribution's packages"))
                    .await?;
                Ok(None)
            }
            EngineStep::InstallEngine { .. } if context.docker_answered(&host) => {
                join_docker_group(context, &host).await?;
                Ok(None)
            }
            EngineStep::InstallEngine { packages } => {
                let present = context
                    .run(
                        &host,
                        &Script::new(RemoteCommand::new("command").args(["-v", "docker"])),
                    )
                    .await?;
                if !present.success() {
                    let install = Script::new(RemoteCommand::new("apt-get").args(["update", "-q"]))
                        .and(
                            RemoteCommand::new("env")
                                .args([
                                    "DEBIAN_FRONTEND=noninteractive",
                                    "apt-get",
                                    "install",
                                    "-y",
                                    "-q",
                                    "--no-install-recommends",
                                ])
                                .args(packages.iter().cloned()),
                        )
                        .and(RemoteCommand::new("systemctl").args(["enable", "--now", "docker"]));
                    context
                        .check(&host, &install, Some("the host needs apt and its package mirror; install Docker by hand and use `[engine] install = \"require\"` otherwise"))
                        .await?;
                }
                wait_for_docker(context, &host).await?;
                join_docker_group(context, &host).await?;
                Ok(None)
            }
        }
    }
}

/// A login user other than root may then run `docker` by hand (from its next login).
async fn join_docker_group(context: &Context, host: &str) -> Result<(), StepError> {
    if let Some(user) = context.pool.user(host).filter(|user| *user != "root") {
        let group = Script::new(
            RemoteCommand::new("usermod")
                .args(["-aG", "docker"])
                .arg(user.to_owned()),
        );
        context.check(host, &group, None).await?;
    }
    Ok(())
}

/// What an engine change takes: install or require Docker when the host is first configured;
/// nothing is uninstalled.
pub fn steps(change: &Proposal) -> Vec<Step> {
    match change.action {
        Action::Create if change.after_str("install").as_deref() == Some("if-missing") => {
            vec![
                EngineStep::InstallEngine {
                    packages: change.list("packages", false),
                }
                .into(),
            ]
        }
        Action::Create => vec![EngineStep::RequireEngine.into()],
        Action::Delete => vec![
            PrimitiveStep::Forget {
                why: "the Docker engine stays installed".to_owned(),
            }
            .into(),
        ],
        _ => Vec::new(),
    }
}
