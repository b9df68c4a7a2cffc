//! The images the lab needs, built from local files once and reused: the node images (Debian
//! with systemd and sshd, with or without docker.io) `local/busybox:1` and `local/registry:2`. No registry is
//! needed: the node image comes from Debian's package mirror through mmdebstrap or debootstrap
//! and `docker import`, unless `debian:bookworm` is already a local image, when the Dockerfile in
//! templates/lab/ is used.

use std::path::Path;
use std::time::Instant;

use super::error::LabError;
use super::process::{Program, installed};
use super::{LABEL, Log};

pub(crate) const MIRROR: &str = "http://deb.debian.org/debian";
pub(crate) const BUSYBOX: &str = "local/busybox:1";
pub(crate) const REGISTRY: &str = "local/registry:2";
const DOCKERFILE_BASE: &str = "debian:bookworm";
/// Every node has these; the Docker flavour adds docker.io.
const PACKAGES: &str = "openssh-server,systemd-sysv,iproute2,procps,ca-certificates,curl";

/// templates/lab/, compiled in so an installed binary can build the lab anywhere.
const TEMPLATES: [(&str, &str); 5] = [
    ("Dockerfile", include_str!("../../templates/lab/Dockerfile")),
    (
        "prepare-rootfs.sh",
        include_str!("../../templates/lab/prepare-rootfs.sh"),
    ),
    (
        "docker-from-sid.sh",
        include_str!("../../templates/lab/docker-from-sid.sh"),
    ),
    ("sshd.conf", include_str!("../../templates/lab/sshd.conf")),
    (
        "ssh-host-keys.service",
        include_str!("../../templates/lab/ssh-host-keys.service"),
    ),
];

/// The Docker a lab node runs, as the Debian mirror serves it (testbed.md §5): bookworm's
/// docker.io 20.10, trixie's 26.1, or trixie with sid's docker.io 28.5 through a pinned source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Docker {
    V20,
    V26,
    V28,
}

impl Docker {
    pub(crate) const ALL: [Docker; 3] = [Docker::V20, Docker::V26, Docker::V28];

    /// `20`, `20.10`, `26`, `26.1`, `28`, `28.5`.
    pub(crate) fn parse(text: &str) -> Option<Docker> {
        Docker::ALL
            .into_iter()
            .find(|docker| text == docker.major() || text == docker.minor())
    }

    pub(crate) fn major(self) -> &'static str {
        match self {
            Docker::V20 => "20",
            Docker::V26 => "26",
            Docker::V28 => "28",
        }
    }

    fn minor(self) -> &'static str {
        match self {
            Docker::V20 => "20.10",
            Docker::V26 => "26.1",
            Docker::V28 => "28.5",
        }
    }

    fn suite(self) -> &'static str {
        match self {
            Docker::V20 => "bookworm",
            Docker::V26 | Docker::V28 => "trixie",
        }
    }
}

/// A node image: with Docker installed, or bare (swarmform installs Docker itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Flavor {
    Docker(Docker),
    Bare,
}

impl Flavor {
    pub(crate) const ALL: [Flavor; 4] = [
        Flavor::Docker(Docker::V20),
        Flavor::Docker(Docker::V26),
        Flavor::Docker(Docker::V28),
        Flavor::Bare,
    ];

    pub(crate) fn image(self) -> &'static str {
        match self {
            Flavor::Docker(Docker::V20) => "swarmform-lab/node:bookworm",
            Flavor::Docker(Docker::V26) => "swarmform-lab/node:trixie",
            Flavor::Docker(Docker::V28) => "swarmform-lab/node:trixie-docker28",
            Flavor::Bare => "swarmform-lab/node:bookworm-bare",
        }
    }

    fn suite(self) -> &'static str {
        match self {
            Flavor::Docker(docker) => docker.suite(),
            Flavor::Bare => "bookworm",
        }
    }

    /// What mmdebstrap installs besides [`PACKAGES`]: trixie's CLI is its own package. Docker
    /// 28 comes after, from sid (`docker-from-sid.sh`).
    fn extra_packages(self) -> &'static str {
        match self {
            Flavor::Docker(Docker::V20) => "docker.io",
            Flavor::Docker(Docker::V26) => "docker.io,docker-cli",
            Flavor::Docker(Docker::V28) | Flavor::Bare => "",
        }
    }

    fn packages(self) -> String {
        match self.extra_packages() {
            "" => PACKAGES.to_owned(),
            extra => format!("{PACKAGES},{extra}"),
        }
    }

    /// The words after the image in `docker create`: trixie's systemd 257 boots on a machine
    /// that mounts cgroup v1 (as these do) only when told so on its command line, which
    /// systemd reads from its own argv in a container (testbed.md §5). Nothing on cgroup v2.
    pub(crate) fn init_command(self) -> &'static [&'static str] {
        let cgroup_v1 = !Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        if self.suite() == "trixie" && cgroup_v1 {
            &[
                "/sbin/init",
                "systemd.unified_cgroup_hierarchy=0",
                "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1",
            ]
        } else {
            &[]
        }
    }
}

pub(crate) fn exists(image: &str) -> bool {
    Program::docker()
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .succeeds()
}

/// The node image, built unless it exists.
pub(crate) fn ensure_node_image(flavor: Flavor, build: &Path, log: &Log) -> Result<(), LabError> {
    let image = flavor.image();
    if exists(image) {
        log.line(format!("Node image `{image}`: present, reused."));
        return Ok(());
    }
    let started = Instant::now();
    let snippets = build.join("templates");
    write_templates(&snippets)?;
    let suite = flavor.suite();
    let method = if suite == "bookworm" && exists(DOCKERFILE_BASE) {
        log.line(format!(
            "Node image `{image}`: building from templates/lab/Dockerfile ({DOCKERFILE_BASE} is present)…"
        ));
        Program::docker()
            .args(["build", "--quiet", "--build-arg"])
            .arg(format!(
                "PACKAGES={}",
                flavor.extra_packages().replace(',', " ")
            ))
            .args(["--tag", image])
            .arg(snippets.to_string_lossy())
            .output()?;
        "docker build"
    } else if installed("mmdebstrap") {
        log.line(format!(
            "Node image `{image}`: bootstrapping Debian {suite} with mmdebstrap from {MIRROR} (about 30-60 s{})…",
            if flavor == Flavor::Docker(Docker::V28) { ", then sid's docker.io" } else { "" }
        ));
        let hook = |script: &str| {
            format!(
                "--customize-hook=sh {} \"$1\" {}",
                shell_word(&snippets.join(script)),
                shell_word(&snippets)
            )
        };
        let mut mmdebstrap = Program::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet"])
            .arg(format!("--include={}", flavor.packages()));
        if flavor == Flavor::Docker(Docker::V28) {
            mmdebstrap = mmdebstrap.arg(hook("docker-from-sid.sh"));
        }
        mmdebstrap
            .arg(hook("prepare-rootfs.sh"))
            .args([suite, "-", MIRROR])
            .pipe(
                &import(image, &["/sbin/init"]),
                &build.join("mmdebstrap.log"),
            )?;
        "mmdebstrap + docker import"
    } else if suite == "bookworm" && installed("debootstrap") {
        log.line(format!(
            "Node image `{image}`: bootstrapping Debian {suite} with debootstrap from {MIRROR} (about 60-90 s)…"
        ));
        let rootfs = build.join("rootfs");
        remove_tree(&rootfs)?;
        let result = debootstrap(flavor, &rootfs, &snippets, build, image);
        remove_tree(&rootfs)?;
        result?;
        "debootstrap + docker import"
    } else {
        return Err(LabError::NoBootstrapTool {
            image: image.to_owned(),
            suite,
        });
    };
    log.line(format!(
        "Node image `{image}`: built with {method} in {:.1}s.",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn debootstrap(
    flavor: Flavor,
    rootfs: &Path,
    snippets: &Path,
    build: &Path,
    image: &str,
) -> Result<(), LabError> {
    Program::new("debootstrap")
        .args(["--variant=minbase"])
        .arg(format!("--include={}", flavor.packages()))
        .args([flavor.suite()])
        .arg(rootfs.to_string_lossy())
        .arg(MIRROR)
        .output()?;
    Program::new("sh")
        .arg(snippets.join("prepare-rootfs.sh").to_string_lossy())
        .arg(rootfs.to_string_lossy())
        .arg(snippets.to_string_lossy())
        .output()?;
    tar(rootfs).pipe(&import(image, &["/sbin/init"]), &build.join("tar.log"))?;
    Ok(())
}

/// `local/busybox:1`: Debian's busybox-static, `/bin/busybox` plus a link per applet.
pub(crate) fn ensure_busybox(build: &Path, log: &Log) -> Result<(), LabError> {
    if exists(BUSYBOX) {
        log.line(format!("Image `{BUSYBOX}`: present, reused."));
        return Ok(());
    }
    let started = Instant::now();
    let work = build.join("busybox");
    let extracted = debian_package("busybox-static", &work)?;
    let rootfs = work.join("rootfs");
    for directory in ["bin", "etc", "tmp", "root", "var/www"] {
        create_dir(&rootfs.join(directory))?;
    }
    let busybox = rootfs.join("bin/busybox");
    copy(&extracted.join("bin/busybox"), &busybox)?;
    let applets = Program::new(&busybox.to_string_lossy())
        .arg("--list")
        .output()?;
    for applet in applets.lines().map(str::trim) {
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = rootfs.join("bin").join(applet);
        std::os::unix::fs::symlink("busybox", &link).map_err(|source| LabError::Io {
            path: link,
            operation: "create the link",
            source,
        })?;
    }
    write_files(
        &rootfs,
        &[
            ("etc/passwd", PASSWD),
            ("etc/group", GROUP),
            (
                "var/www/index.html",
                "<!doctype html><title>swarmform lab</title><p>busybox httpd answers.</p>\n",
            ),
        ],
    )?;
    tar(&rootfs).pipe(&import(BUSYBOX, &["sh"]), &work.join("tar.log"))?;
    remove_tree(&work)?;
    log.line(format!(
        "Image `{BUSYBOX}`: built from Debian's busybox-static in {:.1}s.",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `local/registry:2`: the Docker registry (distribution) from Debian's docker-registry package,
/// with the C library it links against, laid out like the official image (config at
/// /etc/docker/registry/config.yml, data in /var/lib/registry, port 5000), so swarmform's
/// hosted registry runs in a lab that cannot reach Docker Hub.
pub(crate) fn ensure_registry(build: &Path, log: &Log) -> Result<(), LabError> {
    if exists(REGISTRY) {
        log.line(format!("Image `{REGISTRY}`: present, reused."));
        return Ok(());
    }
    let started = Instant::now();
    let work = build.join("registry");
    let extracted = debian_package("docker-registry", &work)?;
    let rootfs = work.join("rootfs");
    for directory in ["usr/bin", "etc/docker/registry", "var/lib/registry", "tmp"] {
        create_dir(&rootfs.join(directory))?;
    }
    let binary = extracted.join("usr/bin/docker-registry");
    copy(&binary, &rootfs.join("usr/bin/registry"))?;
    copy(
        &extracted.join("etc/docker/registry/config.yml"),
        &rootfs.join("etc/docker/registry/config.yml"),
    )?;
    // The binary is linked against glibc: copy what `ldd` names (the machine runs the same
    // Debian release as the package).
    let libraries = Program::new("ldd").arg(binary.to_string_lossy()).output()?;
    for library in libraries
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let source = Path::new(library);
        let relative = source.strip_prefix("/").unwrap_or(source);
        let target = rootfs.join(relative);
        if let Some(parent) = target.parent() {
            create_dir(parent)?;
        }
        // Follow the link: the image gets the library itself under the name the binary asks for.
        copy(
            &std::fs::canonicalize(source).unwrap_or_else(|_| source.to_owned()),
            &target,
        )?;
    }
    write_files(&rootfs, &[("etc/passwd", PASSWD), ("etc/group", GROUP)])?;
    tar(&rootfs).pipe(
        &import(
            REGISTRY,
            &[
                "/usr/bin/registry",
                "serve",
                "/etc/docker/registry/config.yml",
            ],
        ),
        &work.join("tar.log"),
    )?;
    remove_tree(&work)?;
    log.line(format!(
        "Image `{REGISTRY}`: built from Debian's docker-registry in {:.1}s.",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Downloads a package from the machine's apt sources into `work` and unpacks it; returns the
/// unpacked tree. `work` is emptied first.
fn debian_package(package: &str, work: &Path) -> Result<std::path::PathBuf, LabError> {
    remove_tree(work)?;
    let download = work.join("download");
    create_dir(&download)?;
    Program::new("apt-get")
        .args(["download", package])
        .current_dir(&download)
        .output()
        .map_err(|error| {
            error.with_hint(
                "apt needs its package lists first: `apt-get update` (`.ci/lab-setup` runs it)",
            )
        })?;
    let deb = std::fs::read_dir(&download)
        .map_err(|source| LabError::Io {
            path: download.clone(),
            operation: "list",
            source,
        })?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|extension| extension == "deb"))
        .ok_or_else(|| LabError::Io {
            path: download.clone(),
            operation: "find the downloaded .deb in",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
    let extracted = work.join("extracted");
    Program::new("dpkg-deb")
        .arg("-x")
        .arg(deb.to_string_lossy())
        .arg(extracted.to_string_lossy())
        .output()?;
    Ok(extracted)
}

fn copy(from: &Path, to: &Path) -> Result<(), LabError> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|source| LabError::Io {
            path: to.to_owned(),
            operation: "write",
            source,
        })
}

fn write_files(rootfs: &Path, files: &[(&str, &str)]) -> Result<(), LabError> {
    for (name, content) in files {
        let path = rootfs.join(name);
        std::fs::write(&path, content).map_err(|source| LabError::Io {
            path,
            operation: "write",
            source,
        })?;
    }
    Ok(())
}

/// `docker image rm` of the images the lab built that exist; returns their names.
pub(crate) fn remove_all() -> Result<Vec<&'static str>, LabError> {
    let present: Vec<&'static str> = Flavor::ALL
        .iter()
        .map(|flavor| flavor.image())
        .chain([BUSYBOX, REGISTRY])
        .filter(|image| exists(image))
        .collect();
    if !present.is_empty() {
        Program::docker()
            .args(["image", "rm"])
            .args(&present)
            .output()?;
    }
    Ok(present)
}

fn import(image: &str, command: &[&str]) -> Program {
    Program::docker()
        .args(["import", "--change"])
        .arg(format!(
            "CMD {}",
            serde_json::to_string(command).unwrap_or_default()
        ))
        .arg("--change")
        .arg(format!("LABEL {LABEL}=1"))
        .args(["-", image])
}

fn tar(rootfs: &Path) -> Program {
    Program::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(rootfs.to_string_lossy())
        .args(["-c", "."])
}

fn write_templates(directory: &Path) -> Result<(), LabError> {
    create_dir(directory)?;
    for (name, content) in TEMPLATES {
        let path = directory.join(name);
        std::fs::write(&path, content).map_err(|source| LabError::Io {
            path,
            operation: "write",
            source,
        })?;
    }
    Ok(())
}

fn shell_word(path: &Path) -> String {
    shell_escape::unix::escape(path.to_string_lossy()).into_owned()
}

fn create_dir(path: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(path).map_err(|source| LabError::Io {
        path: path.to_owned(),
        operation: "create the folder",
        source,
    })
}

fn remove_tree(path: &Path) -> Result<(), LabError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LabError::Io {
            path: path.to_owned(),
            operation: "remove",
            source,
        }),
    }
}
