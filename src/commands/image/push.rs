//! `swarmform image push IMAGE`: the image loaded on a hosted registry's node, then tagged and
//! pushed from there.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::super::error::Error;
use super::super::workspace::LoadedConfig;
use super::{ImageError, Workspace, docker, loaded_references, open_error, said, stream_load};
use crate::address::Kind;
use crate::apply::report::TransferReporter;
use crate::cli::{ImagePushArgs, Tarball};
use crate::ssh::{Pool, Script};

/// A hosted registry of the config: its address, the node it runs on, and the address stacks
/// use for it (computed once, by `config::desired`).
struct Registry {
    address: crate::address::Address,
    node: String,
    endpoint: String,
}

/// Every `[registries.NAME]` with a `node`, from the evaluated config.
fn hosted_registries(loaded: &LoadedConfig) -> Vec<Registry> {
    loaded
        .desired
        .resources
        .iter()
        .filter(|resource| resource.address.kind == Kind::Registry)
        .filter_map(|resource| {
            let text = |name: &str| {
                resource
                    .attributes
                    .get(name)
                    .and_then(|attribute| attribute.value.as_str())
                    .map(str::to_owned)
            };
            Some(Registry {
                address: resource.address.clone(),
                node: text("node")?,
                endpoint: text("address")?,
            })
        })
        .collect()
}

/// The registry `--registry` names (a name, or a full address for a module's), or the only one.
fn choose_registry(
    registries: Vec<Registry>,
    wanted: Option<&str>,
) -> Result<Registry, ImageError> {
    let names: Vec<String> = registries
        .iter()
        .map(|registry| match &registry.address.module {
            None => registry.address.name.clone(),
            Some(_) => registry.address.to_string(),
        })
        .collect();
    match wanted {
        Some(wanted) => registries
            .into_iter()
            .find(|registry| {
                (registry.address.module.is_none() && registry.address.name == wanted)
                    || registry.address.to_string() == wanted
            })
            .ok_or_else(|| {
                if names.is_empty() {
                    ImageError::NoRegistry
                } else {
                    ImageError::UnknownRegistry {
                        name: wanted.to_owned(),
                        names,
                    }
                }
            }),
        None => {
            let mut registries = registries;
            match registries.len() {
                0 => Err(ImageError::NoRegistry),
                1 => Ok(registries.remove(0)),
                _ => Err(ImageError::WhichRegistry { names }),
            }
        }
    }
}

/// `NAME:TAG` with `latest` added when no tag is given.
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// The reference in the cluster's registry: the image's name without any registry domain of
/// its own, under the registry's address (`ghcr.io/a/b:1` → `ADDRESS/a/b:1`).
fn pushed_reference(endpoint: &str, image: &str) -> String {
    let path = match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => image,
    };
    format!("{endpoint}/{path}")
}

/// `swarmform image push IMAGE`.
pub(super) fn run(
    workspace: &Workspace,
    args: &ImagePushArgs,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), Error> {
    let loaded = workspace.config()?;
    let registry = choose_registry(hosted_registries(loaded), args.registry.as_deref())?;
    let state = workspace.state().load()?;
    let deployed = state
        .as_ref()
        .and_then(|state| state.resource(&registry.address))
        .is_some_and(|resource| !resource.pending);
    if !deployed {
        return Err(ImageError::NotDeployed {
            address: registry.address.to_string(),
            node: registry.node.clone(),
        }
        .into());
    }
    let tarball = Path::new(&args.image);
    let source = if args.image == "-" {
        Tarball::Stdin
    } else if tarball.is_file() {
        Tarball::File(tarball.to_path_buf())
    } else {
        if args.image.contains('@') {
            return Err(ImageError::Digest {
                image: args.image.clone(),
            }
            .into());
        }
        check_local_image(&args.image)?;
        // Only this tag: `docker save NAME` would save every tag of the repository.
        let image = with_tag(&args.image);
        return push_from_docker(workspace, state.as_ref(), &registry, &image, reporter);
    };
    let pool = workspace.pool(state.as_ref())?;
    let runtime = workspace.runtime()?;
    let node = registry.node.clone();
    let result = runtime.block_on(async {
        let result = async {
            let (what, total) = match &source {
                Tarball::File(path) => (
                    format!("`{}`", path.display()),
                    Some(std::fs::metadata(path).map_err(open_error(path))?.len()),
                ),
                Tarball::Stdin => ("standard input".to_owned(), None),
            };
            reporter.started(&node, &what, total);
            let output = match &source {
                Tarball::File(path) => {
                    let file = tokio::fs::File::open(path)
                        .await
                        .map_err(open_error(path))?;
                    stream_load(&pool, &node, file, reporter.as_ref()).await?
                }
                Tarball::Stdin => {
                    stream_load(&pool, &node, tokio::io::stdin(), reporter.as_ref()).await?
                }
            };
            let references = loaded_references(&output.stdout_text());
            if references.is_empty() {
                return Err(ImageError::Untagged {
                    host: node.clone(),
                    said: said(&output),
                });
            }
            tag_and_push(&pool, &registry, &references, reporter.as_ref()).await
        }
        .await;
        reporter.finished(
            &node,
            result.as_ref().err().map(ToString::to_string).as_deref(),
        );
        pool.close().await;
        result
    })?;
    print_pushed(workspace, &result);
    Ok(())
}

/// The pushed references, on stdout: what a script deploys.
fn print_pushed(workspace: &Workspace, references: &[String]) {
    let mut stdout = workspace.printer().stdout();
    for reference in references {
        let _ = writeln!(stdout, "{reference}");
    }
}

/// `docker image inspect IMAGE` here: a missing image fails before anything is sent.
fn check_local_image(image: &str) -> Result<(), ImageError> {
    let output = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Id}}", image])
        .stdin(Stdio::null())
        .output()
        .map_err(ImageError::NoDocker)?;
    if output.status.success() {
        return Ok(());
    }
    Err(ImageError::NoLocalImage {
        image: image.to_owned(),
        message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

/// `docker save IMAGE` here, its standard output streamed into `docker load` on the registry's
/// node, then tagged and pushed there.
fn push_from_docker(
    workspace: &Workspace,
    state: Option<&crate::state::State>,
    registry: &Registry,
    image: &str,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), Error> {
    let pool = workspace.pool(state)?;
    let runtime = workspace.runtime()?;
    let node = registry.node.clone();
    let pushed = runtime.block_on(async {
        let result = async {
            let mut child = tokio::process::Command::new("docker")
                .args(["save", image])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(ImageError::NoDocker)?;
            let stdout = child.stdout.take();
            let mut stderr = child.stderr.take();
            let errors = tokio::spawn(async move {
                let mut text = String::new();
                if let Some(stderr) = stderr.as_mut() {
                    let _ = stderr.read_to_string(&mut text).await;
                }
                text
            });
            reporter.started(&node, &format!("`docker save {image}`"), None);
            let streamed = match stdout {
                Some(stdout) => stream_load(&pool, &node, stdout, reporter.as_ref()).await,
                None => Err(ImageError::Save {
                    image: image.to_owned(),
                    message: "no standard output".to_owned(),
                }),
            };
            let status = child.wait().await.map_err(ImageError::NoDocker)?;
            let message = errors.await.unwrap_or_default();
            // A failed save explains a failed load better than the load does.
            if !status.success() {
                return Err(ImageError::Save {
                    image: image.to_owned(),
                    message: message.trim().to_owned(),
                });
            }
            let output = streamed?;
            let references = loaded_references(&output.stdout_text());
            if !references.iter().any(|reference| reference == image) {
                return Err(ImageError::NotLoaded {
                    image: image.to_owned(),
                    host: node.clone(),
                    said: said(&output),
                });
            }
            tag_and_push(&pool, registry, &[image.to_owned()], reporter.as_ref()).await
        }
        .await;
        reporter.finished(
            &node,
            result.as_ref().err().map(ToString::to_string).as_deref(),
        );
        pool.close().await;
        result
    })?;
    print_pushed(workspace, &pushed);
    Ok(())
}

/// On the registry's node: `docker tag IMAGE ADDRESS/IMAGE` and `docker push ADDRESS/IMAGE`
/// for each image; returns the pushed references.
async fn tag_and_push(
    pool: &Pool,
    registry: &Registry,
    images: &[String],
    reporter: &dyn TransferReporter,
) -> Result<Vec<String>, ImageError> {
    let node = &registry.node;
    let mut pushed = Vec::new();
    for image in images {
        reporter.message(node, &format!("Loaded image: {image}"));
        let target = pushed_reference(&registry.endpoint, image);
        let tag = Script::new(docker(&["tag", image, &target]));
        let output = pool.run(node, &tag).await?;
        if !output.success() {
            return Err(ImageError::Remote {
                host: node.clone(),
                what: format!("docker tag {image} {target}"),
                message: said(&output),
                hint: None,
            });
        }
        reporter.message(node, &format!("pushing {target}"));
        let push = Script::new(docker(&["push", &target]));
        let output = pool.run(node, &push).await?;
        if !output.success() {
            let message = said(&output);
            let hint = push_hint(&message, registry);
            return Err(ImageError::Remote {
                host: node.clone(),
                what: format!("docker push {target}"),
                message,
                hint,
            });
        }
        let digest = output
            .stdout_text()
            .lines()
            .filter_map(|line| line.split_once(": digest: "))
            .filter_map(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
            .next_back();
        reporter.message(
            node,
            &match digest {
                Some(digest) => format!("pushed {target} ({digest})"),
                None => format!("pushed {target}"),
            },
        );
        pushed.push(target);
    }
    Ok(pushed)
}

/// What to do about a refused push, from Docker's message.
fn push_hint(message: &str, registry: &Registry) -> Option<String> {
    let node = &registry.node;
    let endpoint = &registry.endpoint;
    let address = &registry.address;
    if message.contains("connection refused") || message.contains("no route to host") {
        Some(format!(
            "nothing answers at {endpoint}: `swarmform plan` shows whether `{address}` needs applying, and `swarmform exec --hosts {node} -- docker service ps --no-trunc SERVICE` why its task is not running"
        ))
    } else if message.contains("HTTP response to HTTPS client") || message.contains("x509") {
        Some(format!(
            "`{node}`'s dockerd does not trust {endpoint}: `trusted_by` must include `{node}`; run `swarmform apply` to write its daemon settings"
        ))
    } else if message.contains("basic auth") || message.contains("unauthorized") {
        Some(format!(
            "the registry asks for a login: log in on `{node}` (`docker login {endpoint}`) and push again"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The pushed name drops a registry domain of the image's own and keeps its path and tag.
    #[test]
    fn references() {
        assert_eq!(with_tag("local/app"), "local/app:latest");
        assert_eq!(with_tag("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(with_tag("app:1"), "app:1");
        assert_eq!(
            pushed_reference("10.0.0.1:5000", "local/app:1"),
            "10.0.0.1:5000/local/app:1"
        );
        assert_eq!(
            pushed_reference("10.0.0.1:5000", "ghcr.io/a/b:1"),
            "10.0.0.1:5000/a/b:1"
        );
        assert_eq!(
            loaded_references("Loaded image: a:1\nLoaded image ID: sha256:00\nLoaded image: b:2\n"),
            ["a:1", "b:2"]
        );
    }
}
