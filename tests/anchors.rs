//! The project's copy of the bench-anchors plug-in (`benches/anchors/swarmform.sh`) keeps
//! writing a config this swarmform accepts: run with `SWARMFORM_PREPARE=1` in a stand-in of
//! the harness (its `lib/common.sh` helpers, its workload's compose files), it writes the
//! config for 3 hosts and `swarmform validate` passes on it.

use std::path::Path;
use std::process::Command;

const COMMON: &str = r#"PB_KEY=$PB/keys/id_ed25519
PB_KNOWN_HOSTS=$PB/keys/known_hosts
pb_die() { echo "ERROR: $*" >&2; exit 1; }
pb_check_n() { [[ "$1" =~ ^[0-9]+$ ]] || pb_die "N must be an integer"; }
"#;

const APP: &str = "version: \"3.8\"\nservices:\n  web:\n    image: nginx:1.25-alpine\n    networks: [pb_front]\nnetworks:\n  pb_front: {external: true}\n";
const MONITORING: &str = "version: \"3.8\"\nservices:\n  agent:\n    image: prom/node-exporter:v1.7.0\n    networks: [pb_mon]\n    deploy:\n      mode: global\nnetworks:\n  pb_mon: {external: true}\n";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, text).expect("write");
}

#[test]
fn the_bench_plug_in_writes_a_config_that_validates() {
    let pb = tempfile::tempdir().expect("temporary folder");
    let pb = pb.path();
    write(&pb.join("lib/common.sh"), COMMON);
    write(&pb.join("workload/compose/app.yml"), APP);
    write(&pb.join("workload/compose/monitoring.yml"), MONITORING);
    write(&pb.join("keys/id_ed25519"), "not read by validate\n");
    write(&pb.join("keys/known_hosts"), "");
    write(
        &pb.join("run/hosts-3.txt"),
        "127.0.10.1\n127.0.10.2\n127.0.10.3\n",
    );
    let plug_in = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/anchors/swarmform.sh"),
    )
    .expect("the plug-in");
    let tool = pb.join("tools/swarmform.sh");
    write(&tool, &plug_in.replace("@PB@", &pb.display().to_string()));
    let output = Command::new("bash")
        .arg(&tool)
        .arg("3")
        .env("SWARMFORM_BIN", env!("CARGO_BIN_EXE_swarmform"))
        .env("SWARMFORM_PREPARE", "1")
        .env_remove("SWARMFORM_CONFIG")
        .env_remove("SWARMFORM_STATE")
        .output()
        .expect("bash");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let config =
        std::fs::read_to_string(pb.join("run/swarmform/N3/swarmform.toml")).expect("the config");
    for table in ["[hosts.node3]", "[networks.pb_mon]", "[stacks.monitoring]"] {
        assert!(config.contains(table), "{table} missing:\n{config}");
    }
}
