//! `docker load`, `docker image ls`, `docker image inspect`, `docker tag` and `docker push`
//! against each host's local image store, and registries that exist as swarm services
//! publishing their port.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::flags::{Flags, require_args, require_exact};
use super::format::{ago, go_time_string, print_list_with_headers, rfc3339, sorted_object};
use super::service::print_inspect;
use super::swarm::{PublishMode, TaskState};
use super::{Ctx, daemon_error};
use crate::Sim;
use crate::exec::Output;
use crate::hash::sha256_tagged;
use crate::world::{Image, World};

const IMAGE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// `docker image SUBCOMMAND`.
pub(crate) fn image(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::ok(
            "\nUsage:  docker image COMMAND\n\nManage images\n\nCommands:\n  build       Build an image from a Dockerfile\n  history     Show the history of an image\n  import      Import the contents from a tarball to create a filesystem image\n  inspect     Display detailed information on one or more images\n  load        Load an image from a tar archive or STDIN\n  ls          List images\n  prune       Remove unused images\n  pull        Pull an image or a repository from a registry\n  push        Push an image or a repository to a registry\n  rm          Remove one or more images\n  save        Save one or more images to a tar archive (streamed to STDOUT by default)\n  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n\nRun 'docker image COMMAND --help' for more information on a command.\n",
        );
    };
    match sub {
        "load" => load(ctx, rest, "docker image load"),
        "ls" | "list" => list(ctx, rest, "docker image ls"),
        "inspect" => inspect(ctx, rest),
        "tag" => tag(ctx, rest, "docker image tag"),
        "push" => push(ctx, rest, "docker image push"),
        "build" | "history" | "import" | "prune" | "pull" | "rm" | "save" => {
            Output::error(format!("simulator: docker image {sub} is not supported"), 1)
        }
        other => Output::error(
            format!("docker: 'image {other}' is not a docker command.\nSee 'docker --help'"),
            1,
        ),
    }
}

/// Whether `docker load` / `docker image load` with these arguments reads standard input.
pub(crate) fn load_reads_stdin(args: &[&str]) -> bool {
    !args.iter().any(|arg| {
        matches!(*arg, "-i" | "--input") || arg.starts_with("--input=") || arg.starts_with("-i")
    })
}

/// A parsed image reference: `[DOMAIN/]PATH[:TAG][@DIGEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    /// `127.0.1.1:5000`, or `docker.io` when the name has none.
    domain: String,
    /// `local/app`; `library/busybox` for official images on Docker Hub.
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    fn parse(text: &str) -> Result<Reference, String> {
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_owned())),
            None => (text, None),
        };
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(index) => (
                &name[..last_slash + index],
                Some(name[last_slash + index + 1..].to_owned()),
            ),
            None => (name, None),
        };
        if name.is_empty() || tag.as_deref() == Some("") {
            return Err("invalid reference format".to_owned());
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("invalid reference format: repository name must be lowercase".to_owned());
        }
        let valid = path.split('/').all(|component| {
            !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
        if !valid {
            return Err("invalid reference format".to_owned());
        }
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The name as the CLI shows it: `busybox`, `local/app`, `127.0.1.1:5000/app`.
    fn familiar_name(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// `NAME:TAG`, with `latest` when no tag was given.
    fn familiar_tagged(&self) -> String {
        format!(
            "{}:{}",
            self.familiar_name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }
}

/// `repo:tag` split at the tag's colon.
fn split_tag(reference: &str) -> (&str, &str) {
    let last_slash = reference.rfind('/').map_or(0, |index| index + 1);
    match reference[last_slash..].rfind(':') {
        Some(index) => (
            &reference[..last_slash + index],
            &reference[last_slash + index + 1..],
        ),
        None => (reference, "latest"),
    }
}

/// The image `reference` names: a tag (`:latest` when none), a full or short ID.
fn find(images: &[Image], reference: &str) -> Option<usize> {
    if let Ok(parsed) = Reference::parse(reference)
        && parsed.digest.is_none()
    {
        let wanted = parsed.familiar_tagged();
        if let Some(index) = images
            .iter()
            .position(|image| image.repo_tags.contains(&wanted))
        {
            return Some(index);
        }
    }
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let matching: Vec<usize> = images
        .iter()
        .enumerate()
        .filter(|(_, image)| image.id["sha256:".len()..].starts_with(hex))
        .map(|(index, _)| index)
        .collect();
    match matching.as_slice() {
        [index] => Some(*index),
        _ => None,
    }
}

/// go-units' HumanSize: three significant digits, decimal units (`1.24MB`, `5.6kB`).
fn human_size(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let integer_digits = if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let text = format!("{value:.*}", 3 - integer_digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

/// One `docker save` manifest entry.
#[derive(serde::Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// `docker load [-i FILE] [-q]`: a `docker save` tarball from standard input or a file.
pub(crate) fn load(ctx: &mut Ctx<'_>, args: &[&str], path: &str) -> Output {
    let flags = match Flags::parse(path, &["input,i=", "quiet,q"], args, true) {
        Ok(flags) => flags,
        Err(output) => return output,
    };
    if !flags.args.is_empty() {
        return super::flags::argument_count(
            path,
            "[OPTIONS]",
            "Load an image from a tar archive or STDIN",
            "0 arguments",
        );
    }
    let data = match flags.value("input") {
        Some(file) => match ctx.world.hosts[ctx.host].fs.read(file) {
            Ok(file) => file.content.clone(),
            Err(_) => {
                return Output::error(format!("open {file}: no such file or directory"), 1);
            }
        },
        None => std::mem::take(&mut ctx.stdin),
    };
    if let Err(output) = ctx.require_daemon() {
        return output;
    }
    let import_dir = format!(
        "/var/lib/docker/tmp/docker-import-{}",
        100_000_000 + ctx.world.rng.below(4_000_000_000)
    );
    let files = match untar(&data) {
        Ok(files) => files,
        Err(message) => {
            return Output::error(
                format!("Error processing tar file(exit status 1): {message}"),
                1,
            );
        }
    };
    let Some(manifest) = files.get("manifest.json") else {
        // Without manifest.json the daemon falls back to the legacy format, which needs
        // `repositories`.
        return Output::error(
            format!("open {import_dir}/repositories: no such file or directory"),
            1,
        );
    };
    let entries: Vec<ManifestEntry> = match serde_json::from_slice(manifest) {
        Ok(entries) => entries,
        Err(error) if error.is_eof() => return Output::error("unexpected end of JSON input", 1),
        Err(_) => {
            return Output::error(
                "json: cannot unmarshal manifest.json into Go value of type []tarexport.manifestItem",
                1,
            );
        }
    };
    let mut out = Output::default();
    for entry in entries {
        let Some(config) = files.get(entry.config.as_str()) else {
            return out
                .with_stderr(format!(
                    "open {import_dir}/{}: no such file or directory\n",
                    entry.config
                ))
                .with_status(1);
        };
        let mut layers = Vec::new();
        let mut size = 0;
        for layer in &entry.layers {
            let Some(content) = files.get(layer.as_str()) else {
                return out
                    .with_stderr(format!(
                        "open {import_dir}/{layer}: no such file or directory\n"
                    ))
                    .with_status(1);
            };
            layers.push(sha256_tagged(content));
            size += content.len() as u64;
        }
        let id = sha256_tagged(config);
        let images = &mut ctx.world.hosts[ctx.host].images;
        let index = match images.iter().position(|image| image.id == id) {
            Some(index) => index,
            None => {
                images.push(Image {
                    id: id.clone(),
                    repo_tags: Vec::new(),
                    repo_digests: Vec::new(),
                    layers,
                    size,
                    created: SystemTime::now(),
                });
                images.len() - 1
            }
        };
        let tags = entry.repo_tags.unwrap_or_default();
        if tags.is_empty() {
            out.stdout
                .extend_from_slice(format!("Loaded image ID: {id}\n").as_bytes());
        }
        for tag in tags {
            let normalized = match Reference::parse(&tag) {
                Ok(reference) => reference.familiar_tagged(),
                Err(error) => return out.with_stderr(format!("{error}\n")).with_status(1),
            };
            for (other_index, other) in images.iter_mut().enumerate() {
                if other_index != index && other.repo_tags.contains(&normalized) {
                    other.repo_tags.retain(|existing| existing != &normalized);
                    out.stdout.extend_from_slice(
                        format!(
                            "The image {normalized} already exists, renaming the old one with ID {} to empty string\n",
                            other.id
                        )
                        .as_bytes(),
                    );
                }
            }
            if !images[index].repo_tags.contains(&normalized) {
                images[index].repo_tags.push(normalized.clone());
            }
            out.stdout
                .extend_from_slice(format!("Loaded image: {normalized}\n").as_bytes());
        }
    }
    out
}

/// The files of a tar archive, or Go's archive/tar error for a broken one.
fn untar(data: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    use std::io::Read;

    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(data);
    let entries = archive.entries().map_err(|error| tar_error(&error))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| tar_error(&error))?;
        let size = entry.size();
        let name = entry
            .path()
            .map_err(|error| tar_error(&error))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|error| tar_error(&error))?;
        if content.len() as u64 != size {
            return Err("unexpected EOF".to_owned());
        }
        if entry.header().entry_type().is_file() {
            files.insert(name, content);
        }
    }
    Ok(files)
}

fn tar_error(error: &std::io::Error) -> String {
    let text = error.to_string();
    if error.kind() == std::io::ErrorKind::UnexpectedEof
        || text.contains("entire block")
        || text.contains("EOF")
    {
        "unexpected EOF".to_owned()
    } else {
        "archive/tar: invalid tar header".to_owned()
    }
}

/// The formatter context of one `docker image ls` row.
fn list_item(image: &Image, tag: Option<&str>, truncate: bool) -> Value {
    let (repository, tag) = match tag {
        Some(reference) => split_tag(reference),
        None => ("<none>", "<none>"),
    };
    let id = if truncate {
        image.id["sha256:".len()..][..12].to_owned()
    } else {
        image.id.clone()
    };
    let size = human_size(image.size);
    sorted_object(vec![
        ("Containers", json!("N/A")),
        ("CreatedAt", json!(go_time_string(image.created))),
        ("CreatedSince", json!(ago(image.created))),
        ("Digest", json!("<none>")),
        ("ID", json!(id)),
        ("Repository", json!(repository)),
        ("SharedSize", json!("N/A")),
        ("Size", json!(size)),
        ("Tag", json!(tag)),
        ("UniqueSize", json!("N/A")),
        ("VirtualSize", json!(size)),
    ])
}

/// `docker image ls [REPOSITORY[:TAG]]`, also `docker images`.
pub(crate) fn list(ctx: &mut Ctx<'_>, args: &[&str], path: &str) -> Output {
    let result = (|| {
        let flags = Flags::parse(
            path,
            &[
                "quiet,q",
                "format=",
                "filter,f=*",
                "no-trunc",
                "all,a",
                "digests",
            ],
            args,
            true,
        )?;
        ctx.require_daemon()?;
        let truncate = !flags.bool("no-trunc");
        let wanted = flags.args.first().map(String::as_str);
        let mut items = Vec::new();
        for image in ctx.world.hosts[ctx.host].images.iter().rev() {
            if image.repo_tags.is_empty() {
                if wanted.is_none() {
                    items.push(list_item(image, None, truncate));
                }
                continue;
            }
            for reference in &image.repo_tags {
                let (repository, tag) = split_tag(reference);
                let matches = match wanted.map(split_tag) {
                    None => true,
                    Some((name, wanted_tag)) => {
                        name == repository
                            && (wanted_tag == tag || !wanted.is_some_and(|w| w.contains(':')))
                    }
                };
                if matches {
                    items.push(list_item(image, Some(reference), truncate));
                }
            }
        }
        let text = print_list_with_headers(
            &items,
            flags.value("format"),
            flags.bool("quiet"),
            "ID",
            IMAGE_TABLE,
            &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")],
        )
        .map_err(|error| Output::error(error, 1))?;
        Ok(Output::ok(text))
    })();
    result.unwrap_or_else(|output: Output| output)
}

fn inspect_item(image: &Image) -> Value {
    json!({
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": "",
        "Comment": "",
        "Created": rfc3339(image.created),
        "Container": "",
        "DockerVersion": "",
        "Author": "",
        "Architecture": "amd64",
        "Os": "linux",
        "Size": image.size,
        "VirtualSize": image.size,
        "RootFS": { "Type": "layers", "Layers": image.layers },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    })
}

/// `docker image inspect IMAGE...`.
fn inspect(ctx: &mut Ctx<'_>, args: &[&str]) -> Output {
    let path = "docker image inspect";
    let result = (|| {
        let flags = Flags::parse(path, &["format,f="], args, true)?;
        require_args(
            path,
            "[OPTIONS] IMAGE [IMAGE...]",
            "Display detailed information on one or more images",
            &flags.args,
            1,
        )?;
        ctx.require_daemon()?;
        let engine = ctx.engine();
        let images = &ctx.world.hosts[ctx.host].images;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for reference in &flags.args {
            match find(images, reference) {
                Some(index) => found.push(inspect_item(&images[index])),
                None => missing.push(reference.clone()),
            }
        }
        let mut out = print_inspect(&found, flags.value("format"), Output::default())?;
        if !missing.is_empty() {
            for reference in missing {
                // The daemon's words from 26 on keep the image's own `No such image`.
                let prefix = if engine.daemon_not_found() {
                    "Error response from daemon"
                } else {
                    "Error"
                };
                out.stderr.extend_from_slice(
                    format!("{prefix}: No such image: {reference}\n").as_bytes(),
                );
            }
            out.status = 1;
        }
        Ok(out)
    })();
    result.unwrap_or_else(|output: Output| output)
}

/// `docker tag SOURCE TARGET`.
pub(crate) fn tag(ctx: &mut Ctx<'_>, args: &[&str], path: &str) -> Output {
    let result = (|| {
        let flags = Flags::parse(path, &[], args, true)?;
        require_exact(
            path,
            "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
            "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
            &flags.args,
            2,
        )?;
        let target = Reference::parse(&flags.args[1]).map_err(|error| {
            Output::error(
                format!(
                    "Error parsing reference: \"{}\" is not a valid repository/tag: {error}",
                    flags.args[1]
                ),
                1,
            )
        })?;
        if target.digest.is_some() {
            return Err(daemon_error(
                "refusing to create a tag with a digest reference",
            ));
        }
        ctx.require_daemon()?;
        let source = &flags.args[0];
        let images = &mut ctx.world.hosts[ctx.host].images;
        let Some(index) = find(images, source) else {
            let shown = Reference::parse(source)
                .map(|reference| reference.familiar_tagged())
                .unwrap_or_else(|_| source.clone());
            return Err(daemon_error(&format!("No such image: {shown}")));
        };
        let target = target.familiar_tagged();
        for image in images.iter_mut() {
            image.repo_tags.retain(|existing| existing != &target);
        }
        images[index].repo_tags.push(target);
        Ok(Output::default())
    })();
    result.unwrap_or_else(|output: Output| output)
}

/// How a registry service answers at an address.
struct Listening {
    tls: bool,
    basic_auth: bool,
}

/// The registry service listening at `domain` (`HOST:PORT`): a service of a swarm publishing
/// PORT, with a running task on the host at HOST (host mode) or any node at HOST (ingress).
fn listening(world: &World, domain: &str) -> Option<Listening> {
    let (host, port) = domain.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host_at = |index: usize| world.hosts[index].address.to_string() == host;
    for cluster in world.clusters.values() {
        for service in &cluster.services {
            let Some(published) = service
                .spec
                .ports
                .iter()
                .find(|published| published.published == Some(port))
            else {
                continue;
            };
            let running_on: Vec<usize> = cluster
                .tasks
                .iter()
                .filter(|task| task.service == service.id && task.state == TaskState::Running)
                .filter_map(|task| task.node.as_deref())
                .filter_map(|node| cluster.node(node))
                .map(|node| node.host)
                .collect();
            let reachable = match published.mode {
                PublishMode::Host => running_on.iter().any(|index| host_at(*index)),
                PublishMode::Ingress => {
                    !running_on.is_empty()
                        && cluster
                            .nodes
                            .iter()
                            .any(|node| node.ready && host_at(node.host))
                }
            };
            if reachable {
                let has_secret = |target: &str| {
                    service
                        .spec
                        .secrets
                        .iter()
                        .any(|secret| secret.target == target)
                };
                return Some(Listening {
                    tls: has_secret("registry_tls_cert"),
                    basic_auth: has_secret("registry_htpasswd"),
                });
            }
        }
    }
    None
}

/// Whether this host's dockerd talks plain HTTP to `domain`: listed in `insecure-registries`,
/// or on a loopback address (Docker's built-in `127.0.0.0/8`).
fn insecure(ctx: &Ctx<'_>, domain: &str) -> bool {
    let host = domain.rsplit_once(':').map_or(domain, |(host, _)| host);
    let listed = ctx.world.hosts[ctx.host]
        .daemon_config
        .get("insecure-registries")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|entry| entry.as_str() == Some(domain)));
    listed
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|address| address.is_loopback())
}

/// `docker push NAME[:TAG]`.
pub(crate) fn push(ctx: &mut Ctx<'_>, args: &[&str], path: &str) -> Output {
    let result = (|| {
        let flags = Flags::parse(
            path,
            &["all-tags,a", "disable-content-trust", "quiet,q"],
            args,
            true,
        )?;
        require_exact(
            path,
            "[OPTIONS] NAME[:TAG]",
            "Push an image or a repository to a registry",
            &flags.args,
            1,
        )?;
        let reference =
            Reference::parse(&flags.args[0]).map_err(|error| Output::error(error, 1))?;
        ctx.require_daemon()?;
        let mut out = Output::default();
        if reference.tag.is_none() {
            out.stdout.extend_from_slice(b"Using default tag: latest\n");
        }
        let name = reference.familiar_name();
        let tagged = reference.familiar_tagged();
        let domain = reference.domain.clone();
        out.stdout.extend_from_slice(
            format!(
                "The push refers to repository [{}/{}]\n",
                domain, reference.path
            )
            .as_bytes(),
        );
        let Some(index) = ctx.world.hosts[ctx.host]
            .images
            .iter()
            .position(|image| image.repo_tags.contains(&tagged))
        else {
            return Ok(out
                .with_stderr(format!(
                    "An image does not exist locally with the tag: {name}\n"
                ))
                .with_status(1));
        };
        let plain_http = insecure(ctx, &domain);
        let scheme = if plain_http { "http" } else { "https" };
        let Some(registry) = listening(ctx.world, &domain) else {
            let message = if domain == "docker.io" {
                "denied: requested access to the resource is denied".to_owned()
            } else {
                format!(
                    "Get \"{scheme}://{domain}/v2/\": dial tcp {domain}: connect: connection refused"
                )
            };
            return Ok(out.with_stderr(format!("{message}\n")).with_status(1));
        };
        if !registry.tls && !plain_http {
            return Ok(out
                .with_stderr(format!(
                    "Get \"https://{domain}/v2/\": http: server gave HTTP response to HTTPS client\n"
                ))
                .with_status(1));
        }
        if registry.tls
            && !ctx.world.hosts[ctx.host]
                .fs
                .exists(&format!("/etc/docker/certs.d/{domain}/ca.crt"))
        {
            return Ok(out
                .with_stderr(format!(
                    "Get \"https://{domain}/v2/\": x509: certificate signed by unknown authority\n"
                ))
                .with_status(1));
        }
        let image = ctx.world.hosts[ctx.host].images[index].clone();
        for layer in &image.layers {
            out.stdout
                .extend_from_slice(format!("{}: Preparing\n", short(layer)).as_bytes());
        }
        if registry.basic_auth
            && !super::logins(&ctx.world.hosts[ctx.host].fs)
                .iter()
                .any(|(server, _)| server == &domain)
        {
            return Ok(out
                .with_stderr("no basic auth credentials\n")
                .with_status(1));
        }
        let stored = ctx.world.registries.entry(domain.clone()).or_default();
        for layer in &image.layers {
            out.stdout
                .extend_from_slice(format!("{}: Pushed\n", short(layer)).as_bytes());
        }
        let manifest_size = 200 + 200 * image.layers.len();
        let digest = sha256_tagged(format!("{}{}", image.id, reference.path).as_bytes());
        let (_, tag) = split_tag(&tagged);
        stored.insert(format!("{}:{tag}", reference.path), digest.clone());
        out.stdout.extend_from_slice(
            format!("{tag}: digest: {digest} size: {manifest_size}\n").as_bytes(),
        );
        let repo_digest = format!("{name}@{digest}");
        let image = &mut ctx.world.hosts[ctx.host].images[index];
        if !image.repo_digests.contains(&repo_digest) {
            image.repo_digests.push(repo_digest);
        }
        Ok(out)
    })();
    result.unwrap_or_else(|output: Output| output)
}

/// The 12 hex digits a progress line shows for a layer.
fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

impl Sim {
    /// The `repo:tag` references in `host`'s local image store (`docker image ls`), sorted.
    pub fn images(&self, host: &str) -> Vec<String> {
        let world = self.shared.world();
        let mut references: Vec<String> = world
            .host_index(host)
            .map(|index| {
                world.hosts[index]
                    .images
                    .iter()
                    .flat_map(|image| image.repo_tags.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        references.sort();
        references
    }

    /// The `repository:tag` references pushed to the registry at `address` (`HOST:PORT`), sorted.
    pub fn registry_images(&self, address: &str) -> Vec<String> {
        let world = self.shared.world();
        world
            .registries
            .get(address)
            .map(|stored| stored.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Rng, ed25519_key};
    use crate::world::Host;
    use crate::{SimHostSpec, docker};

    /// A `docker save` tarball of one image with one layer, tagged `tags`.
    fn saved(tags: &[&str], layer: &[u8]) -> Vec<u8> {
        let config = format!("{{\"architecture\":\"amd64\",\"layer\":{}}}", layer.len());
        let config_name = format!("{}.json", &crate::hash::sha256_hex(config.as_bytes()));
        let manifest =
            json!([{ "Config": config_name, "RepoTags": tags, "Layers": ["abc/layer.tar"] }]);
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in [
            ("abc/layer.tar", layer.to_vec()),
            (config_name.as_str(), config.into_bytes()),
            ("manifest.json", manifest.to_string().into_bytes()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, content.as_slice())
                .expect("append");
        }
        builder.into_inner().expect("tar")
    }

    fn world() -> World {
        let mut rng = Rng::new();
        let key = ed25519_key(&mut rng, "node1");
        let host = Host::new(
            SimHostSpec::new("node1"),
            "127.0.1.1".parse().expect("address"),
            22,
            key,
            &mut rng,
        );
        World::new(rng, vec![host])
    }

    fn docker(world: &mut World, args: &[&str], stdin: &[u8]) -> Output {
        docker::run(world, 0, args, stdin.to_vec())
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("utf-8")
    }

    // `docker load` reads a `docker save` tarball and prints one line per tag; a second load of
    // a tag moves it and says so; tag, inspect and ls see the store; broken tarballs fail with
    // the daemon's messages.
    #[test]
    fn load_tag_inspect_and_list() {
        let mut world = world();
        let loaded = docker(
            &mut world,
            &["load"],
            &saved(&["local/app:1", "local/app:latest"], b"layer one"),
        );
        assert_eq!(
            (loaded.status, text(&loaded.stdout)),
            (
                0,
                "Loaded image: local/app:1\nLoaded image: local/app:latest\n"
            )
        );
        let again = docker(
            &mut world,
            &["load"],
            &saved(&["local/app:1"], b"the second layer"),
        );
        assert_eq!(again.status, 0);
        assert!(
            text(&again.stdout).starts_with(
                "The image local/app:1 already exists, renaming the old one with ID sha256:"
            ),
            "{again:?}"
        );
        assert!(text(&again.stdout).ends_with(" to empty string\nLoaded image: local/app:1\n"));
        let tagged = docker(
            &mut world,
            &["tag", "local/app", "127.0.1.1:5000/local/app:latest"],
            b"",
        );
        assert_eq!(tagged, Output::default());
        let missing = docker(&mut world, &["tag", "nope", "x:1"], b"");
        assert_eq!(
            (missing.status, text(&missing.stderr)),
            (
                1,
                "Error response from daemon: No such image: nope:latest\n"
            )
        );
        let inspected = docker(
            &mut world,
            &[
                "image",
                "inspect",
                "--format",
                "{{json .RepoTags}}",
                "local/app:latest",
            ],
            b"",
        );
        assert_eq!(
            text(&inspected.stdout),
            "[\"local/app:latest\",\"127.0.1.1:5000/local/app:latest\"]\n"
        );
        let absent = docker(&mut world, &["image", "inspect", "nope:1"], b"");
        assert_eq!(
            (absent.status, text(&absent.stdout), text(&absent.stderr)),
            (1, "[]\n", "Error: No such image: nope:1\n")
        );
        let listed = docker(
            &mut world,
            &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
            b"",
        );
        assert_eq!(
            text(&listed.stdout),
            "local/app:1\nlocal/app:latest\n127.0.1.1:5000/local/app:latest\n"
        );
        let mut truncated = saved(&["local/app:2"], b"layer three");
        truncated.truncate(1000);
        let broken = docker(&mut world, &["load"], &truncated);
        assert_eq!(
            (broken.status, text(&broken.stderr)),
            (
                1,
                "Error processing tar file(exit status 1): unexpected EOF\n"
            )
        );
        let garbage = docker(&mut world, &["load"], &[b'x'; 2048]);
        assert_eq!(
            text(&garbage.stderr),
            "Error processing tar file(exit status 1): archive/tar: invalid tar header\n"
        );
        let empty = docker(&mut world, &["load"], b"");
        assert!(text(&empty.stderr).starts_with("open /var/lib/docker/tmp/docker-import-"));
        assert!(text(&empty.stderr).ends_with("/repositories: no such file or directory\n"));
    }

    // `docker push` to an address where no registry service listens is refused the way the
    // daemon reports a refused connection (plain HTTP: loopback registries are insecure).
    #[test]
    fn push_without_a_registry_is_refused() {
        let mut world = world();
        docker(
            &mut world,
            &["load"],
            &saved(&["127.0.1.1:5000/app:1"], b"layer"),
        );
        let pushed = docker(&mut world, &["push", "127.0.1.1:5000/app:1"], b"");
        assert_eq!(
            (pushed.status, text(&pushed.stdout), text(&pushed.stderr)),
            (
                1,
                "The push refers to repository [127.0.1.1:5000/app]\n",
                "Get \"http://127.0.1.1:5000/v2/\": dial tcp 127.0.1.1:5000: connect: connection refused\n"
            )
        );
        let unknown = docker(&mut world, &["push", "127.0.1.1:5000/other:1"], b"");
        assert_eq!(
            text(&unknown.stderr),
            "An image does not exist locally with the tag: 127.0.1.1:5000/other\n"
        );
    }

    // References normalise like the docker CLI's: Hub names gain `library/` and `latest`,
    // registry names keep their domain.
    #[test]
    fn references() {
        let hub = Reference::parse("busybox").expect("valid");
        assert_eq!(hub.domain, "docker.io");
        assert_eq!(hub.path, "library/busybox");
        assert_eq!(hub.familiar_tagged(), "busybox:latest");
        let local = Reference::parse("127.0.1.1:5000/local/app:1").expect("valid");
        assert_eq!(local.domain, "127.0.1.1:5000");
        assert_eq!(local.path, "local/app");
        assert_eq!(local.tag.as_deref(), Some("1"));
        assert_eq!(local.familiar_tagged(), "127.0.1.1:5000/local/app:1");
        assert!(Reference::parse("Upper/case").is_err());
        assert_eq!(
            split_tag("127.0.1.1:5000/app"),
            ("127.0.1.1:5000/app", "latest")
        );
        assert_eq!(human_size(1_240_000), "1.24MB");
        assert_eq!(human_size(700), "700B");
        assert_eq!(human_size(5_600), "5.6kB");
        assert_eq!(human_size(12_000_000), "12MB");
    }
}
