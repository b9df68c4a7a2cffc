//! Apply and no-op plan against 10, 100 and 1,000 simulated hosts over real SSH on loopback,
//! side by side with a shell script that runs the same remote commands with one OpenSSH `ssh`
//! per host; and an offline plan of 1,000 hosts. Prints wall time, CPU time, SSH round trips
//! per host and peak memory. Not a test: nothing here passes or fails.
//!
//!     cargo bench --bench apply                      # 10, 100, 1000 hosts
//!     SWARMFORM_BENCH_HOSTS=100 cargo bench --bench apply
//!
//! Needs GNU time (`apt-get install time`) for CPU and memory figures, and OpenSSH's client
//! (`apt-get install openssh-client`) for the comparison.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod support;
use support::release_binary;

use swarmform_sim::{Sim, SimOptions};

/// What one measured command cost.
struct Cost {
    wall: f64,
    cpu: f64,
    peak_kib: u64,
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SWARMFORM_BENCH_HOSTS")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|size| size.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10, 100, 1000]);
    let binary = release_binary();
    let gnu_time = Path::new("/usr/bin/time").exists();
    let ssh = Command::new("ssh")
        .arg("-V")
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !gnu_time {
        eprintln!(
            "note: /usr/bin/time is missing (apt-get install time): CPU and memory are not measured"
        );
    }
    println!(
        "swarmform benchmark: {} ({} cores)",
        binary.display(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!();
    println!(
        "{:>6}  {:<28} {:>9} {:>9} {:>10} {:>14}",
        "hosts", "what", "wall s", "cpu s", "peak MiB", "round trips/h"
    );
    for &hosts in &sizes {
        bench_size(&binary, hosts, gnu_time, ssh);
    }
    offline_plan(&binary, 1000, gnu_time);
}

/// Runs `command` under GNU time when available.
fn measure(mut command: Command, gnu_time: bool) -> (Cost, bool) {
    let report = tempfile::NamedTempFile::new().expect("temporary file");
    let mut measured = if gnu_time {
        let mut wrapped = Command::new("/usr/bin/time");
        wrapped
            .arg("-f")
            .arg("%e %U %S %M")
            .arg("-o")
            .arg(report.path())
            .arg(command.get_program());
        wrapped.args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in command.get_envs() {
            if let Some(value) = value {
                wrapped.env(key, value);
            }
        }
        wrapped
    } else {
        std::mem::replace(&mut command, Command::new("true"))
    };
    let started = Instant::now();
    let output = measured.stdin(Stdio::null()).output().expect("run");
    let wall = started.elapsed().as_secs_f64();
    if !output.status.success() {
        eprintln!(
            "command failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut cost = Cost {
        wall,
        cpu: f64::NAN,
        peak_kib: 0,
    };
    if gnu_time {
        let text = std::fs::read_to_string(report.path()).unwrap_or_default();
        let fields: Vec<&str> = text
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if let [_, user, system, peak] = fields.as_slice() {
            cost.cpu =
                user.parse::<f64>().unwrap_or(f64::NAN) + system.parse::<f64>().unwrap_or(f64::NAN);
            cost.peak_kib = peak.parse().unwrap_or(0);
        }
    }
    (cost, output.status.success())
}

fn row(hosts: usize, what: &str, cost: &Cost, round_trips: f64) {
    let peak = if cost.peak_kib == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}", cost.peak_kib as f64 / 1024.0)
    };
    let cpu = if cost.cpu.is_nan() {
        "-".to_owned()
    } else {
        format!("{:.2}", cost.cpu)
    };
    let trips = if round_trips.is_nan() {
        "-".to_owned()
    } else {
        format!("{round_trips:.1}")
    };
    println!(
        "{hosts:>6}  {what:<28} {:>9.2} {cpu:>9} {peak:>10} {trips:>14}",
        cost.wall
    );
}

fn config(sim: &Sim, hosts: usize) -> String {
    let managers = if hosts >= 3 { 3 } else { 1 };
    format!(
        "{}\n[networks.web]\nsubnet = \"10.0.9.0/24\"\n",
        sim.config_hosts_toml(managers)
    )
}

fn swarmform(binary: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(dir).args(args).env("NO_COLOR", "1");
    command
}

/// Every command each host received since `before` (a count per host).
fn commands_since(sim: &Sim, before: &[usize]) -> Vec<Vec<String>> {
    sim.hosts()
        .iter()
        .zip(before)
        .map(|(host, &skip)| sim.commands(&host.name).into_iter().skip(skip).collect())
        .collect()
}

fn counts(sim: &Sim) -> Vec<usize> {
    sim.hosts()
        .iter()
        .map(|host| sim.commands(&host.name).len())
        .collect()
}

/// A bash script: one `ssh` per host, 16 at a time, each running that host's commands.
fn shell_script(sim: &Sim, commands: &[Vec<String>], dir: &Path) -> PathBuf {
    let mut script = String::from("#!/usr/bin/env bash\nset -u\nrun() {\n");
    let _ = writeln!(
        script,
        "  ssh -q -T -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes -p \"$2\" \"root@$1\" \"$3\" < /dev/null > /dev/null 2>&1\n  return 0\n}}\nexport -f run",
        sim.identity_file().display(),
        sim.known_hosts_file().display()
    );
    let mut lines = String::new();
    for (host, host_commands) in sim.hosts().iter().zip(commands) {
        if host_commands.is_empty() {
            continue;
        }
        let joined = host_commands.join(" ; ");
        let _ = writeln!(
            lines,
            "{}\t{}\t{}",
            host.address,
            host.port,
            joined.replace(['\t', '\n'], " ")
        );
    }
    std::fs::write(dir.join("commands.tsv"), lines).expect("write commands");
    script.push_str("while IFS=$'\\t' read -r address port line; do printf '%s\\0%s\\0%s\\0' \"$address\" \"$port\" \"$line\"; done < commands.tsv | xargs -0 -n 3 -P 16 bash -c 'run \"$@\"' _\n");
    let path = dir.join("replay.sh");
    std::fs::write(&path, script).expect("write script");
    path
}

fn bench_size(binary: &Path, hosts: usize, gnu_time: bool, ssh: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let sim = runtime
        .block_on(Sim::start(
            SimOptions::with_hosts(hosts),
            &dir.path().join("sim"),
        ))
        .expect("simulator");
    std::fs::write(dir.path().join("swarmform.toml"), config(&sim, hosts)).expect("config");

    let before = counts(&sim);
    let (apply, ok) = measure(
        swarmform(binary, dir.path(), &["apply", "--auto-approve"]),
        gnu_time,
    );
    let apply_commands = commands_since(&sim, &before);
    let trips = apply_commands.iter().map(Vec::len).sum::<usize>() as f64 / hosts as f64;
    row(
        hosts,
        if ok {
            "swarmform apply"
        } else {
            "swarmform apply (FAILED)"
        },
        &apply,
        trips,
    );

    let before = counts(&sim);
    let (plan, ok) = measure(swarmform(binary, dir.path(), &["plan"]), gnu_time);
    let plan_commands = commands_since(&sim, &before);
    let trips = plan_commands.iter().map(Vec::len).sum::<usize>() as f64 / hosts as f64;
    row(
        hosts,
        if ok {
            "swarmform plan (no-op)"
        } else {
            "swarmform plan (FAILED)"
        },
        &plan,
        trips,
    );

    if ssh {
        // The same commands on a fresh cluster, one OpenSSH `ssh` per host.
        let replay_dir = tempfile::tempdir().expect("temporary folder");
        let fresh = runtime
            .block_on(Sim::start(
                SimOptions::with_hosts(hosts),
                &replay_dir.path().join("sim"),
            ))
            .expect("simulator");
        for (what, commands) in [
            ("ssh script: apply commands", &apply_commands),
            ("ssh script: plan commands", &plan_commands),
        ] {
            let script = shell_script(&fresh, commands, replay_dir.path());
            let mut command = Command::new("bash");
            command.arg(&script).current_dir(replay_dir.path());
            let (cost, _) = measure(command, gnu_time);
            let trips =
                commands.iter().filter(|host| !host.is_empty()).count() as f64 / hosts as f64;
            row(hosts, what, &cost, trips);
        }
        runtime.block_on(fresh.stop());
    }
    runtime.block_on(sim.stop());
}

fn offline_plan(binary: &Path, hosts: usize, gnu_time: bool) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut config = String::from("[networks.web]\nsubnet = \"10.0.9.0/24\"\n");
    for index in 0..hosts {
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
    std::fs::write(dir.path().join("swarmform.toml"), config).expect("config");
    let (cost, _) = measure(
        swarmform(binary, dir.path(), &["plan", "--refresh=false"]),
        gnu_time,
    );
    row(hosts, "offline plan (no SSH)", &cost, f64::NAN);
}
