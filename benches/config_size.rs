//! How `validate` and an offline `plan --refresh=false` scale with the size of the config.
//! Generates configs in a temporary folder and times the release binary on each: 1,000 hosts ×
//! 1,000 stacks (each with its compose file) × 1,000 networks × 1,000 secrets; 10,000 hosts; a
//! compose file holding a 30,000-deep YAML list; a config with 10,000 errors. Prints wall time
//! and the child's peak memory (getrusage through GNU time when installed). Not a test: nothing
//! here passes or fails on time.
//!
//!     cargo bench --bench config_size
//!     SWARMFORM_BENCH_CASES=hosts,errors cargo bench --bench config_size
//!
//! Cases are `all`, `hosts`, `deep`, `errors`; each command is stopped after
//! `SWARMFORM_BENCH_TIMEOUT` seconds (120 by default; exit 124 in the table).
//! `SWARMFORM_BENCH_KEEP=DIR` writes each case's config to `DIR/CASE` and keeps it, to profile
//! the binary on it (`perf record target/release/swarmform validate` there).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

mod support;
use support::release_binary;

fn main() {
    let only: Option<Vec<String>> = std::env::var("SWARMFORM_BENCH_CASES")
        .ok()
        .map(|text| text.split(',').map(|case| case.trim().to_owned()).collect());
    let wanted = |case: &str| {
        only.as_ref()
            .is_none_or(|only| only.iter().any(|c| c == case))
    };
    let binary = release_binary();
    let gnu_time = Path::new("/usr/bin/time").exists();
    if !gnu_time {
        eprintln!(
            "note: /usr/bin/time is missing (apt-get install time): peak memory is not measured"
        );
    }
    println!(
        "swarmform config size benchmark: {} ({} cores)",
        binary.display(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!();
    println!(
        "{:<44} {:<10} {:>8} {:>9} {:>6}",
        "case", "command", "wall s", "peak MiB", "exit"
    );
    let cases: [Case; 4] = [
        (
            "all",
            "1,000 hosts, stacks, networks, secrets",
            everything_1000,
        ),
        ("hosts", "10,000 hosts", hosts_10000),
        ("deep", "compose with a 30,000-deep YAML list", deep_yaml),
        ("errors", "10,000 errors", errors_10000),
    ];
    for (key, title, generate) in cases {
        if !wanted(key) {
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        let dir = match std::env::var_os("SWARMFORM_BENCH_KEEP") {
            Some(keep) => {
                let kept = Path::new(&keep).join(key);
                std::fs::create_dir_all(&kept).expect("SWARMFORM_BENCH_KEEP folder");
                kept
            }
            None => dir.path().to_owned(),
        };
        generate(&dir);
        for args in [&["validate"][..], &["plan", "--refresh=false"][..]] {
            let (wall, peak, code, stderr_len) = measure(&binary, &dir, args, gnu_time);
            let peak = peak.map_or("-".to_owned(), |kib| format!("{:.1}", kib as f64 / 1024.0));
            println!(
                "{title:<44} {:<10} {wall:>8.2} {peak:>9} {code:>6}",
                args[0]
            );
            if std::env::var_os("SWARMFORM_BENCH_VERBOSE").is_some() {
                println!("    stderr: {stderr_len} bytes");
            }
        }
    }
}

/// A case's key (for `SWARMFORM_BENCH_CASES`), its title, and what writes its config.
type Case = (&'static str, &'static str, fn(&Path));

/// Runs the binary in `dir`: wall seconds, peak KiB (GNU time), exit code, stderr length.
fn measure(
    binary: &Path,
    dir: &Path,
    args: &[&str],
    gnu_time: bool,
) -> (f64, Option<u64>, i32, usize) {
    let report = tempfile::NamedTempFile::new().expect("temporary file");
    // coreutils' `timeout` bounds a case that went super-linear (exit 124).
    let limit = std::env::var("SWARMFORM_BENCH_TIMEOUT").unwrap_or_else(|_| "120".to_owned());
    let mut command = if gnu_time {
        let mut command = Command::new("/usr/bin/time");
        command.arg("-f").arg("%M").arg("-o").arg(report.path());
        command
    } else {
        Command::new("env")
    };
    command.arg("timeout").arg(&limit).arg(binary);
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let started = Instant::now();
    let output = command.output().expect("run swarmform");
    let wall = started.elapsed().as_secs_f64();
    let peak = gnu_time
        .then(|| std::fs::read_to_string(report.path()).ok())
        .flatten()
        .and_then(|text| text.lines().last()?.trim().parse().ok());
    (
        wall,
        peak,
        output.status.code().unwrap_or(-1),
        output.stderr.len(),
    )
}

fn host(config: &mut String, index: usize) {
    let role = if index < 3 { "manager" } else { "worker" };
    let _ = writeln!(
        config,
        "\n[hosts.node{index}]\naddress = \"10.{}.{}.{}\"\nrole = \"{role}\"\nlabels = {{ rack = \"r{}\" }}",
        index / 65536,
        (index / 256) % 256,
        index % 256,
        index % 10
    );
}

fn everything_1000(dir: &Path) {
    let count = 1000;
    let mut config = String::new();
    for index in 0..count {
        host(&mut config, index);
    }
    for index in 0..count {
        let _ = writeln!(
            config,
            "\n[networks.net{index}]\nsubnet = \"10.{}.{}.0/24\"",
            100 + index / 256,
            index % 256
        );
        std::fs::write(
            dir.join(format!("secret{index}.txt")),
            format!("value {index}\n"),
        )
        .expect("secret file");
        let _ = writeln!(
            config,
            "\n[secrets.secret{index}]\nfile = \"secret{index}.txt\""
        );
        let compose = format!(
            "services:\n  app:\n    image: nginx:1.{index}\n    networks: [net{index}]\n    secrets: [secret{index}]\n    deploy:\n      replicas: 2\nnetworks:\n  net{index}:\n    external: true\nsecrets:\n  secret{index}:\n    external: true\n"
        );
        std::fs::write(dir.join(format!("stack{index}.yml")), compose).expect("compose file");
        let _ = writeln!(
            config,
            "\n[stacks.stack{index}]\ncompose = \"stack{index}.yml\"\ndepends_on = [\"network.net{index}\", \"secret.secret{index}\"]"
        );
    }
    std::fs::write(dir.join("swarmform.toml"), config).expect("config");
}

fn hosts_10000(dir: &Path) {
    let mut config = String::new();
    for index in 0..10_000 {
        host(&mut config, index);
    }
    std::fs::write(dir.join("swarmform.toml"), config).expect("config");
}

fn deep_yaml(dir: &Path) {
    let mut config = String::new();
    host(&mut config, 0);
    config.push_str("\n[stacks.deep]\ncompose = \"deep.yml\"\n");
    let depth = 30_000;
    let compose = format!(
        "services:\n  app:\n    image: nginx\n    command: {}1{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    std::fs::write(dir.join("deep.yml"), compose).expect("compose file");
    std::fs::write(dir.join("swarmform.toml"), config).expect("config");
}

fn errors_10000(dir: &Path) {
    // Each stack depends on a network nobody declares: one error per stack, spread over the
    // whole file, so each diagnostic's line and column is far from the start.
    let mut config = String::new();
    host(&mut config, 0);
    std::fs::write(dir.join("app.yml"), "services:\n  app:\n    image: nginx\n").expect("compose");
    for index in 0..10_000 {
        let _ = writeln!(
            config,
            "\n[stacks.stack{index}]\ncompose = \"app.yml\"\ndepends_on = [\"network.missing{index}\"]"
        );
    }
    std::fs::write(dir.join("swarmform.toml"), config).expect("config");
}
