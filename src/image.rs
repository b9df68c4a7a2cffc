//! `swarmform image load` and `swarmform image push`: images reach the hosts as `docker save`
//! tarballs streamed over SSH into `docker load` (never read whole into memory), either on the
//! chosen hosts, or on a hosted registry's node, which then tags and pushes them: that node's
//! dockerd trusts the registry through the daemon settings swarmform wrote, where the local
//! machine's does not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::address::Kind;
use crate::apply::report::TransferReporter;
use crate::cli::{ImageCommand, ImageLoadArgs, ImagePushArgs, Tarball};
use crate::error::{Error, OperateError};
use crate::operate::{pool, runtime, selected_hosts};
use crate::run::{LoadedConfig, Workspace};
use crate::ssh::{Output, Pool, RemoteCommand, Script, SshError, StreamError};

/// What `image load` and `image push` can fail with. Wording lives here; Docker's own message
/// is quoted as it came.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Swarmform(#[from] Error),

    #[error("unknown host{} {}\nhint: declared hosts: {declared}", if names.len() == 1 { "" } else { "s" }, quoted(names))]
    UnknownHosts {
        names: Vec<String>,
        declared: String,
    },

    #[error("cannot read `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the config declares no hosted registry\nhint: add a `[registries.NAME]` with `node = \"HOST\"`, apply it, then push; without a registry, `swarmform image load` puts a tarball on the hosts"
    )]
    NoRegistry,

    #[error(
        "the config declares several hosted registries: {}\nhint: choose one with `--registry NAME`",
        quoted(names)
    )]
    WhichRegistry { names: Vec<String> },

    #[error(
        "no hosted registry `{name}` in the config\nhint: hosted registries: {}",
        quoted(names)
    )]
    UnknownRegistry { name: String, names: Vec<String> },

    #[error(
        "`{address}` is not deployed yet (the state does not record it)\nhint: run `swarmform apply` first; it starts the registry on `{node}`"
    )]
    NotDeployed { address: String, node: String },

    #[error(
        "`{image}` names an image by digest; push takes a tag\nhint: tag it locally (`docker tag IMAGE NAME:TAG`) and push the tag"
    )]
    Digest { image: String },

    #[error(
        "cannot run the local `docker` client\nhint: install it, or pass the path of a `docker save` tarball instead of an image name"
    )]
    NoDocker(#[source] std::io::Error),

    #[error(
        "`{image}` is not a local image: {message}\nhint: build or pull it here first, or pass the path of a `docker save` tarball"
    )]
    NoLocalImage { image: String, message: String },

    #[error("`docker save {image}` failed: {message}")]
    Save { image: String, message: String },

    #[error(
        "the tarball holds no tagged image (`docker load` on `{host}` said: {said})\nhint: save a tag (`docker save -o FILE NAME:TAG`), not an image ID"
    )]
    Untagged { host: String, said: String },

    #[error("`docker load` of `{image}` did not report it on `{host}` (it said: {said})")]
    NotLoaded {
        image: String,
        host: String,
        said: String,
    },

    #[error("`{what}` failed on `{host}`: {message}{}", hint.as_ref().map(|hint| format!("\nhint: {hint}")).unwrap_or_default())]
    Remote {
        host: String,
        what: String,
        message: String,
        hint: Option<String>,
    },

    /// Boxed, like the other SSH-carrying variants: every `Result` stays small.
    #[error(transparent)]
    Ssh(Box<SshError>),

    #[error("sending the image to `{host}` failed")]
    Transfer {
        host: String,
        #[source]
        source: Box<StreamError>,
    },

    #[error("{}", if failed == total { format!("no host loaded `{tarball}`") } else { format!("{failed} of {total} hosts did not load `{tarball}`; the others did") })]
    LoadFailed {
        failed: usize,
        total: usize,
        tarball: String,
    },
}

impl From<SshError> for ImageError {
    fn from(error: SshError) -> ImageError {
        ImageError::Ssh(Box::new(error))
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs an `image` command; its own errors are printed here (exit 1), config and state errors
/// go back to `run` like every command's.
pub(crate) fn run(workspace: &Workspace, command: &ImageCommand) -> Result<ExitCode, Error> {
    let reporter = reporter(workspace);
    let result = match command {
        ImageCommand::Load(args) => load(workspace, args, reporter),
        ImageCommand::Push(args) => push(workspace, args, reporter),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ImageError::Swarmform(error)) => Err(error),
        Err(error) => {
            eprint!("{}", crate::error::render(&error));
            Ok(ExitCode::FAILURE)
        }
    }
}

fn reporter(workspace: &Workspace) -> Arc<dyn TransferReporter> {
    if workspace.color_stderr {
        Arc::new(crate::ui::progress::TransferLive::new())
    } else {
        Arc::new(crate::ui::progress::TransferLines::new())
    }
}

fn docker(words: &[&str]) -> RemoteCommand {
    RemoteCommand::new("docker").args(words.iter().copied())
}

/// Docker's message: its stderr, else its stdout, trimmed.
fn said(output: &Output) -> String {
    let stderr = output.stderr_text();
    let text = if stderr.trim().is_empty() {
        output.stdout_text()
    } else {
        stderr
    };
    text.trim().to_owned()
}

/// The references a `docker load` reported (`Loaded image: NAME:TAG`).
fn loaded_references(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Loaded image: "))
        .map(|reference| reference.trim().to_owned())
        .collect()
}

fn open_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Open {
        path: path.to_path_buf(),
        source,
    }
}

/// `swarmform image load TARBALL`: every chosen host in parallel, each reading the file itself
/// (or its own pipe fed from standard input).
fn load(
    workspace: &Workspace,
    args: &ImageLoadArgs,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), ImageError> {
    let loaded = workspace.load(&args.vars)?;
    check_host_names(&loaded, &args.hosts)?;
    let hosts = selected_hosts(&loaded, &args.hosts, args.role);
    if hosts.is_empty() {
        return Err(Error::from(OperateError::NoHosts).into());
    }
    let source = &args.tarball;
    let total = match source {
        Tarball::File(path) => Some(std::fs::metadata(path).map_err(open_error(path))?.len()),
        Tarball::Stdin => None,
    };
    if let Tarball::File(path) = source {
        // Fail once here rather than once per host.
        std::fs::File::open(path).map_err(open_error(path))?;
    }
    let state = workspace.state.load().map_err(Error::from)?;
    let pool = pool(&loaded, state.as_ref())?;
    let runtime = runtime()?;
    let what = match source {
        Tarball::File(path) => format!("`{}`", path.display()),
        Tarball::Stdin => "standard input".to_owned(),
    };
    let results = runtime.block_on(async {
        // Standard input can be read once: it is copied to one pipe per host, all at once.
        let (parallelism, mut pipes, feeder) = match source {
            Tarball::File(_) => (args.parallelism.max(1), Vec::new(), None),
            Tarball::Stdin => {
                let (readers, writers): (Vec<_>, Vec<_>) =
                    hosts.iter().map(|_| tokio::io::duplex(256 * 1024)).unzip();
                (
                    hosts.len(),
                    readers,
                    Some(tokio::spawn(feed_stdin(writers))),
                )
            }
        };
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism));
        let mut tasks = tokio::task::JoinSet::new();
        pipes.reverse();
        for host in &hosts {
            let pipe = pipes.pop();
            let path = match source {
                Tarball::File(path) => Some(path.clone()),
                Tarball::Stdin => None,
            };
            let pool = Arc::clone(&pool);
            let reporter = Arc::clone(&reporter);
            let semaphore = Arc::clone(&semaphore);
            let host = host.clone();
            let what = what.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await;
                reporter.started(&host, &what, total);
                let result = match (path, pipe) {
                    (Some(path), _) => match tokio::fs::File::open(&path).await {
                        Ok(file) => load_one(&pool, &host, file, reporter.as_ref()).await,
                        Err(source) => Err(ImageError::Open { path, source }),
                    },
                    (None, Some(pipe)) => load_one(&pool, &host, pipe, reporter.as_ref()).await,
                    (None, None) => Ok(()),
                };
                let message = result.as_ref().err().map(ToString::to_string);
                reporter.finished(&host, message.as_deref());
                (host, result)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(result) = joined {
                results.push(result);
            }
        }
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        pool.close().await;
        results
    });
    let failed: Vec<&(String, Result<(), ImageError>)> = results
        .iter()
        .filter(|(_, result)| result.is_err())
        .collect();
    if failed.is_empty() {
        eprintln!(
            "\nLoaded {what} on {} host{}.",
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" }
        );
        return Ok(());
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr);
    for host in &hosts {
        if let Some((_, Err(error))) = results.iter().find(|(name, _)| name == host) {
            let _ = write!(stderr, "{}", crate::error::render(error));
        }
    }
    Err(ImageError::LoadFailed {
        failed: failed.len(),
        total: hosts.len(),
        tarball: args.tarball.to_string(),
    })
}

/// Copies standard input to every pipe; a pipe whose host stopped reading is dropped.
async fn feed_stdin(mut writers: Vec<tokio::io::DuplexStream>) {
    let mut stdin = tokio::io::stdin();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let count = match stdin.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let mut open = Vec::with_capacity(writers.len());
        for mut writer in writers {
            if writer.write_all(&buffer[..count]).await.is_ok() {
                open.push(writer);
            }
        }
        if open.is_empty() {
            return;
        }
        writers = open;
    }
    for mut writer in writers {
        let _ = writer.shutdown().await;
    }
}

fn check_host_names(loaded: &LoadedConfig, names: &[String]) -> Result<(), ImageError> {
    let unknown: Vec<String> = names
        .iter()
        .filter(|name| loaded.config.host(name).is_none())
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ImageError::UnknownHosts {
        names: unknown,
        declared: loaded.config.host_names(),
    })
}

/// Streams `input` into `docker load` on `host` and reports what it loaded.
async fn load_one<R>(
    pool: &Pool,
    host: &str,
    input: R,
    reporter: &dyn TransferReporter,
) -> Result<(), ImageError>
where
    R: AsyncRead + Unpin + Send,
{
    let output = stream_load(pool, host, input, reporter).await?;
    for line in output
        .stdout_text()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        reporter.message(host, line.trim());
    }
    Ok(())
}

/// `docker load` on `host` with `input` streamed in; Docker's refusal becomes the error.
async fn stream_load<R>(
    pool: &Pool,
    host: &str,
    input: R,
    reporter: &dyn TransferReporter,
) -> Result<Output, ImageError>
where
    R: AsyncRead + Unpin + Send,
{
    let sent = |bytes: u64| reporter.sent(host, bytes);
    let script = Script::new(docker(&["load"]));
    let output = pool
        .run_streaming(host, &script, input, &sent)
        .await
        .map_err(|source| ImageError::Transfer {
            host: host.to_owned(),
            source: Box::new(source),
        })?;
    if !output.success() {
        return Err(ImageError::Remote {
            host: host.to_owned(),
            what: "docker load".to_owned(),
            message: said(&output),
            hint: Some("is the file a `docker save` tarball, and whole?".to_owned()),
        });
    }
    Ok(output)
}

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
fn push(
    workspace: &Workspace,
    args: &ImagePushArgs,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), ImageError> {
    let loaded = workspace.load(&args.vars)?;
    let registry = choose_registry(hosted_registries(&loaded), args.registry.as_deref())?;
    let state = workspace.state.load().map_err(Error::from)?;
    let deployed = state
        .as_ref()
        .and_then(|state| state.resource(&registry.address))
        .is_some_and(|resource| !resource.pending);
    if !deployed {
        return Err(ImageError::NotDeployed {
            address: registry.address.to_string(),
            node: registry.node.clone(),
        });
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
            });
        }
        check_local_image(&args.image)?;
        // Only this tag: `docker save NAME` would save every tag of the repository.
        let image = with_tag(&args.image);
        return push_from_docker(&loaded, state.as_ref(), &registry, &image, reporter);
    };
    let pool = pool(&loaded, state.as_ref())?;
    let runtime = runtime()?;
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
    print_pushed(&result);
    Ok(())
}

fn print_pushed(references: &[String]) {
    let mut stdout = std::io::stdout().lock();
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
    loaded: &LoadedConfig,
    state: Option<&crate::state::State>,
    registry: &Registry,
    image: &str,
    reporter: Arc<dyn TransferReporter>,
) -> Result<(), ImageError> {
    let pool = pool(loaded, state)?;
    let runtime = runtime()?;
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
    print_pushed(&pushed);
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
