//! `image load` and `image push` through the real binary, against simulated Docker hosts behind
//! real SSH servers in this test process (`swarmform_sim`).

use std::path::{Path, PathBuf};

use crate::support::Test;

/// A registry swarmform runs on node1; stacks reach it at node1's address, port 5000.
const REGISTRY: &str = "\n[registries.hub]\nnode = \"node1\"\n";

/// The address of the registry of [`REGISTRY`]: node1's, port 5000.
fn registry_address(cluster: &Test) -> String {
    format!("{}:5000", cluster.sim().hosts()[0].address)
}

/// `docker image ls` on `host` through `swarmform exec`, as `REPOSITORY:TAG` lines.
fn image_ls(cluster: &Test, host: &str) -> Vec<String> {
    let ran = cluster
        .run(&[
            "exec",
            "--hosts",
            host,
            "--",
            "docker",
            "image",
            "ls",
            "--format",
            "{{json .}}",
        ])
        .success();
    ran.stdout()
        .lines()
        .skip(1)
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("json row");
            format!(
                "{}:{}",
                row["Repository"].as_str().unwrap_or_default(),
                row["Tag"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// A `docker save` tarball: manifest.json, the image config and one layer, tagged `tags`. The
/// layer holds `size` bytes so transfers span many SSH packets.
fn saved_image(tags: &[&str], size: usize) -> Vec<u8> {
    let mut layer_files = tar::Builder::new(Vec::new());
    let content: Vec<u8> = (0..size).map(|index| (index * 7 % 251) as u8).collect();
    append(&mut layer_files, "bin/app", &content);
    let layer = layer_files.into_inner().expect("layer");
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/app"] },
        "rootfs": { "type": "layers", "diff_ids": [swarmform::hash::sha256_tagged(&layer)] },
    })
    .to_string();
    let config_name = format!("{}.json", swarmform::hash::sha256_hex(config.as_bytes()));
    let layer_name = format!("{}/layer.tar", swarmform::hash::sha256_hex(&layer));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": tags,
        "Layers": [layer_name],
    }])
    .to_string();
    let mut archive = tar::Builder::new(Vec::new());
    append(&mut archive, &layer_name, &layer);
    append(&mut archive, &config_name, config.as_bytes());
    append(&mut archive, "manifest.json", manifest.as_bytes());
    archive.into_inner().expect("tarball")
}

fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .expect("append to the tarball");
}

// A tarball is streamed into `docker load` on every host; each host's image store then holds
// the image, progress and Docker's `Loaded image` line appear on stderr per host.
#[test]
fn load_puts_the_image_on_every_host() {
    let cluster = Test::with_hosts(3, 1);
    cluster.write("app.tar", saved_image(&["local/app:1"], 3 * 1024 * 1024));
    let ran = cluster.run(&["image", "load", "app.tar"]).success();
    let stderr = ran.stderr();
    for host in ["node1", "node2", "node3"] {
        assert!(
            stderr.contains(&format!("{host}: sending `app.tar` (3.00 MiB)...")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{host}: Loaded image: local/app:1\n")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{host}: done, sent 3.00 MiB in ")),
            "{stderr}"
        );
        assert_eq!(cluster.sim().images(host), ["local/app:1"]);
        assert_eq!(image_ls(&cluster, host), ["local/app:1"]);
    }
    assert!(
        stderr.ends_with("\nLoaded `app.tar` on 3 hosts.\n"),
        "{stderr}"
    );
    assert_eq!(ran.stdout(), "");
}

// `--role worker` and `--hosts` choose the hosts; an unknown host name is refused before
// anything is sent.
#[test]
fn role_and_hosts_choose_where_it_loads() {
    let cluster = Test::with_hosts(3, 1);
    cluster.write("app.tar", saved_image(&["local/app:1"], 4096));
    cluster
        .run(&["image", "load", "app.tar", "--role", "worker"])
        .success();
    assert!(cluster.sim().images("node1").is_empty());
    assert_eq!(cluster.sim().images("node2"), ["local/app:1"]);
    assert_eq!(cluster.sim().images("node3"), ["local/app:1"]);

    cluster.write("other.tar", saved_image(&["local/other:2"], 4096));
    cluster
        .run(&["image", "load", "other.tar", "--hosts", "node1"])
        .success();
    assert_eq!(cluster.sim().images("node1"), ["local/other:2"]);
    assert_eq!(cluster.sim().images("node2"), ["local/app:1"]);

    let ran = cluster
        .run(&["image", "load", "other.tar", "--hosts", "node1,node9"])
        .failure();
    assert!(
        ran.stderr()
            .starts_with("error: unknown host `node9`\nhint: declared hosts: node1, node2, node3"),
        "{}",
        ran.stderr()
    );
    assert!(
        !cluster
            .sim()
            .commands("node1")
            .iter()
            .any(|line| line.contains("other.tar"))
    );
}

// A truncated tarball fails on every host with Docker's own message, a summary, and exit 1.
#[test]
fn a_corrupt_tarball_fails_with_dockers_message() {
    let cluster = Test::with_hosts(3, 1);
    let mut tarball = saved_image(&["local/app:1"], 100_000);
    tarball.truncate(50_000);
    cluster.write("bad.tar", &tarball);
    let ran = cluster
        .run(&["image", "load", "bad.tar", "--role", "worker"])
        .failure();
    let stderr = ran.stderr();
    for host in ["node2", "node3"] {
        assert!(
            stderr.contains(&format!(
                "error: `docker load` failed on `{host}`: Error processing tar file(exit status 1): unexpected EOF\nhint: is the file a `docker save` tarball, and whole?\n"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{host}: failed: `docker load` failed")),
            "{stderr}"
        );
        assert!(cluster.sim().images(host).is_empty());
    }
    assert!(
        stderr.ends_with("error: no host loaded `bad.tar`\n"),
        "{stderr}"
    );
}

// `-` streams standard input to every chosen host at once.
#[test]
fn load_reads_standard_input() {
    let cluster = Test::with_hosts(3, 1);
    let tarball = saved_image(&["local/app:3"], 200_000);
    let ran = cluster
        .swarmform(&["image", "load", "-", "--role", "worker"])
        .stdin(tarball)
        .run()
        .success();
    assert!(
        ran.stderr().contains("node2: sending standard input..."),
        "{}",
        ran.stderr()
    );
    assert_eq!(cluster.sim().images("node2"), ["local/app:3"]);
    assert_eq!(cluster.sim().images("node3"), ["local/app:3"]);
    assert!(cluster.sim().images("node1").is_empty());
}

// A tarball pushed to the registry `apply` deployed lands in it under the registry's address;
// the pushed reference is the only output on stdout.
#[test]
fn push_a_tarball_to_the_deployed_registry() {
    let cluster = Test::with_hosts(3, 1).workloads(REGISTRY);
    cluster.apply();
    cluster.write("app.tar", saved_image(&["local/app:1"], 500_000));
    let ran = cluster.run(&["image", "push", "app.tar"]).success();
    let address = registry_address(&cluster);
    assert_eq!(ran.stdout(), format!("{address}/local/app:1\n"));
    let stderr = ran.stderr();
    assert!(
        stderr.contains("node1: sending `app.tar` (493.50 KiB)..."),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("node1: pushing {address}/local/app:1\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("node1: pushed {address}/local/app:1 (sha256:")),
        "{stderr}"
    );
    assert_eq!(cluster.sim().registry_images(&address), ["local/app:1"]);
    let commands = cluster.sim().commands("node1");
    assert!(commands.contains(&format!("docker tag 'local/app:1' '{address}/local/app:1'")));
    assert!(commands.contains(&format!("docker push '{address}/local/app:1'")));
}

// Before `apply` has deployed the registry, a push is refused with the hint to apply first,
// and nothing is sent.
#[test]
fn push_before_the_registry_exists_says_to_apply() {
    let cluster = Test::with_hosts(3, 1).workloads(REGISTRY);
    cluster.write("app.tar", saved_image(&["local/app:1"], 4096));
    let ran = cluster.run(&["image", "push", "app.tar"]).failure();
    assert_eq!(
        ran.stderr(),
        "error: `registry.hub` is not deployed yet (the state does not record it)\nhint: run `swarmform apply` first; it starts the registry on `node1`\n"
    );
    assert!(cluster.sim().commands("node1").is_empty());
}

// When the registry's service is gone, Docker's refused connection is the error, with what to
// check.
#[test]
fn a_refused_push_reports_dockers_message() {
    let cluster = Test::with_hosts(3, 1).workloads(REGISTRY);
    cluster.apply();
    cluster
        .run(&[
            "exec", "--hosts", "node1", "--", "docker", "service", "rm", "hub",
        ])
        .success();
    cluster.write("app.tar", saved_image(&["local/app:1"], 4096));
    let ran = cluster.run(&["image", "push", "app.tar"]).failure();
    let address = registry_address(&cluster);
    let stderr = ran.stderr();
    assert!(
        stderr.contains(&format!(
            "error: `docker push {address}/local/app:1` failed on `node1`: Get \"http://{address}/v2/\": dial tcp {address}: connect: connection refused\nhint: nothing answers at {address}: `swarmform plan` shows whether `registry.hub` needs applying"
        )),
        "{stderr}"
    );
    let stderr = stderr.replace(&address, "[REGISTRY]");
    cluster.redacted(|| insta::assert_snapshot!(stderr, @r#"
    node1: sending `app.tar` (9.00 KiB)...
    node1: Loaded image: local/app:1
    node1: pushing [REGISTRY]/local/app:1
    node1: failed: `docker push [REGISTRY]/local/app:1` failed on `node1`: Get "http://[REGISTRY]/v2/": dial tcp [REGISTRY]: connect: connection refused
    error: `docker push [REGISTRY]/local/app:1` failed on `node1`: Get "http://[REGISTRY]/v2/": dial tcp [REGISTRY]: connect: connection refused
    hint: nothing answers at [REGISTRY]: `swarmform plan` shows whether `registry.hub` needs applying, and `swarmform exec --hosts node1 -- docker service ps --no-trunc SERVICE` why its task is not running
    "#));
    assert_eq!(ran.stdout(), "");
    assert!(cluster.sim().registry_images(&address).is_empty());
}

/// A `docker` client stand-in: `image inspect` knows only `local/app:1`, `save` prints the
/// tarball at `tarball`; every call is logged to `calls`.
fn fake_docker(dir: &Path, tarball: &Path, calls: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{calls}'\ncase \"$1 $2\" in\n  'image inspect')\n    for last; do :; done\n    if [ \"$last\" = local/app:1 ]; then echo '\"sha256:0123\"'; exit 0; fi\n    echo \"Error: No such image: $last\" >&2; exit 1 ;;\n  'save local/app:1') cat '{tarball}' ;;\n  *) echo \"unexpected: $*\" >&2; exit 2 ;;\nesac\n",
        calls = calls.display(),
        tarball = tarball.display()
    );
    let path = bin.join("docker");
    std::fs::write(&path, script).expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

// A local image is saved with the `docker` found on PATH (only the asked tag), streamed to the
// registry's node and pushed; an image the local docker does not have fails with its message.
#[test]
fn push_saves_a_local_image_with_docker() {
    let cluster = Test::with_hosts(3, 1).workloads(REGISTRY);
    cluster.apply();
    cluster.write("saved.tar", saved_image(&["local/app:1"], 100_000));
    let bin = fake_docker(
        cluster.dir(),
        &cluster.path("saved.tar"),
        &cluster.path("calls"),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ran = cluster
        .swarmform(&["image", "push", "local/app:1"])
        .env("PATH", &path)
        .run()
        .success();
    let address = registry_address(&cluster);
    assert_eq!(ran.stdout(), format!("{address}/local/app:1\n"));
    assert!(
        ran.stderr()
            .contains("node1: sending `docker save local/app:1`..."),
        "{}",
        ran.stderr()
    );
    assert_eq!(cluster.sim().registry_images(&address), ["local/app:1"]);
    assert_eq!(
        std::fs::read_to_string(cluster.path("calls")).expect("calls"),
        "image inspect --format {{json .Id}} local/app:1\nsave local/app:1\n"
    );

    let ran = cluster
        .swarmform(&["image", "push", "local/nope"])
        .env("PATH", &path)
        .run()
        .failure();
    assert_eq!(
        ran.stderr(),
        "error: `local/nope` is not a local image: Error: No such image: local/nope\nhint: build or pull it here first, or pass the path of a `docker save` tarball\n"
    );
}

// With two hosted registries, `--registry` must say which one; an unknown name lists them.
#[test]
fn several_registries_need_a_name() {
    let config = format!(
        "{}\n[registries.hub]\nnode = \"node1\"\n\n[registries.cache]\nnode = \"node2\"\nport = 5001\n",
        crate::support::SMALL
    );
    let ran = Test::new()
        .config(&config)
        .file("web.yml", crate::support::SMALL_COMPOSE)
        .run(&["image", "push", "app.tar"])
        .failure();
    assert_eq!(
        ran.stderr(),
        "error: the config declares several hosted registries: `cache`, `hub`\nhint: choose one with `--registry NAME`\n"
    );
    let ran = Test::new()
        .config(&config)
        .file("web.yml", crate::support::SMALL_COMPOSE)
        .run(&["image", "push", "app.tar", "--registry", "mirror"])
        .failure();
    assert_eq!(
        ran.stderr(),
        "error: no hosted registry `mirror` in the config\nhint: hosted registries: `cache`, `hub`\n"
    );
}
