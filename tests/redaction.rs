//! One redaction for every output: a config using every kind of sensitive value the config
//! supports, run through each command with `-v`, `-vv` and `RUST_LOG=trace`; no value (raw or
//! base64) reaches stdout, stderr, the state, its backup or a saved plan.

use base64::Engine;

use crate::support::{Run, Test};

/// A sensitive variable (default) used in a health check command, a stack template and a
/// secret's template.
const TOKEN: &str = "hc-tok-5c1e9a7b-sensitive";
/// A sensitive variable given through `SWARMFORM_VAR_api_key`.
const API_KEY: &str = "env-api-key-0d4f7e21";
/// A secret's file.
const FILE_SECRET: &str = "file-secret-8b3f61d2";
/// An external registry's password (`password_env`).
const REGISTRY_PASSWORD: &str = "ghcr-pass-4e7a9c13";
/// A hosted registry's htpasswd line (bcrypt).
const HTPASSWD: &str = "bot:$2y$05$Qm9ndXNTYWx0Rm9yVGVzdHMu3h7oCk0ZbJq1s9Vx2e8m4Lw6Yp0aK";

const WORKLOADS: &str = r#"
[variables.token]
default = "hc-tok-5c1e9a7b-sensitive"
sensitive = true

[variables.api_key]
sensitive = true

[daemon.tcp]
tls = { generate = true }

[swarm]
autolock = true

[networks.web]
subnet = "10.0.9.0/24"
attachable = true

[secrets.db]
file = "db.txt"

[secrets.api]
template = "api.hbs"
vars = { key = "{{var.api_key}}" }

[registries.hub]
node = "node1"
image = "local/registry:2"
htpasswd = "htpasswd"

[registries.ghcr]
url = "ghcr.io"
username = "bot"
password_env = "GHCR_TOKEN"

[stacks.web]
template = "web.yml.hbs"
vars = { token = "{{var.token}}" }

[stacks.web.health]
command = ["test", "-n", "{{var.token}}"]
host = "node1"
"#;

const WEB: &str = r#"version: "3.8"
services:
  web:
    image: local/busybox:1
    command: ["httpd", "-f", "-p", "8080"]
    environment:
      TOKEN: {{vars.token}}
    networks: [web]
    secrets: [db, api]
networks:
  web:
    external: true
    name: {{networks.web}}
secrets:
  db:
    external: true
    name: {{secrets.db}}
  api:
    external: true
    name: {{secrets.api}}
"#;

/// How each command is run: its flags and environment.
const VARIANTS: [(&str, Option<&str>); 3] = [("-v", None), ("-vv", None), ("-v", Some("trace"))];

struct Collected {
    test: Test,
    /// Every byte of stdout and stderr of every run, with the command line before each.
    output: String,
}

impl Collected {
    fn run(&mut self, args: &[&str], verbose: &str, log: Option<&str>) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.push(verbose);
        let mut invocation = self.test.swarmform(&full);
        if let Some(level) = log {
            invocation = invocation.env("RUST_LOG", level);
        }
        let run = invocation.run();
        self.output.push_str(&format!(
            "\n=== {full:?} RUST_LOG={log:?} exit {:?}\n{}{}",
            run.code(),
            run.stdout(),
            run.stderr()
        ));
        run
    }

    fn every_variant(&mut self, args: &[&str]) {
        for (verbose, log) in VARIANTS {
            let run = self.run(args, verbose, log);
            assert_eq!(run.code(), Some(0), "{args:?}: {}", run.stderr());
        }
    }
}

/// Every file under `dir` (the state, its backup, saved plans, generated TLS material), read
/// as text where it is text.
fn files_under(dir: &std::path::Path, into: &mut Vec<(std::path::PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, into);
        } else if let Ok(bytes) = std::fs::read(&path) {
            into.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
}

#[test]
fn no_sensitive_value_reaches_any_output_or_file() {
    let test = Test::with_hosts(2, 1)
        .workloads(WORKLOADS)
        .file("db.txt", format!("{FILE_SECRET}\n"))
        .file("api.hbs", "api_key={{vars.key}}\n")
        .file("htpasswd", format!("{HTPASSWD}\n"))
        .file("web.yml.hbs", WEB)
        .env("SWARMFORM_VAR_api_key", API_KEY)
        .env("GHCR_TOKEN", REGISTRY_PASSWORD);
    let mut collected = Collected {
        test,
        output: String::new(),
    };

    collected.every_variant(&["validate"]);
    collected.every_variant(&["plan"]);
    collected.every_variant(&["plan", "--json"]);
    let saved = collected.run(&["plan", "-out", "saved.plan"], "-v", Some("trace"));
    assert_eq!(saved.code(), Some(0), "{}", saved.stderr());
    collected.every_variant(&["show", "saved.plan"]);
    // The first apply runs everything, the health check among it, with `-v` (the commands)
    // and the transport's trace logs.
    let applied = collected.run(&["apply", "saved.plan"], "-v", Some("trace"));
    assert_eq!(applied.code(), Some(0), "{}", applied.stderr());
    // No-op applies.
    collected.every_variant(&["apply", "--auto-approve"]);
    collected.every_variant(&["show"]);
    collected.every_variant(&["state", "list"]);
    collected.every_variant(&["refresh"]);
    let snapshot = collected.test.snapshot();
    let swarm = &snapshot.swarms[0];
    let unlock_key = swarm.unlock_key.clone().expect("the swarm is autolocked");
    let (worker_token, manager_token) = (swarm.worker_token.clone(), swarm.manager_token.clone());
    let state = collected.test.state_text();
    let destroyed = collected.run(&["destroy", "--auto-approve"], "-v", Some("trace"));
    assert_eq!(destroyed.code(), Some(0), "{}", destroyed.stderr());

    let mut files = Vec::new();
    files_under(collected.test.dir(), &mut files);
    files.push(("state before destroy".into(), state));
    // TLS private keys swarmform generated: each line of them is sensitive too.
    let mut sensitive: Vec<String> = [
        TOKEN,
        API_KEY,
        FILE_SECRET,
        REGISTRY_PASSWORD,
        HTPASSWD,
        &unlock_key,
        &worker_token,
        &manager_token,
    ]
    .iter()
    .map(|value| (*value).to_owned())
    .collect();
    for (path, text) in &files {
        if text.contains("PRIVATE KEY-----") {
            sensitive.extend(
                text.lines()
                    .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
                    .map(str::to_owned),
            );
            assert!(path.exists(), "{path:?}");
        }
    }
    assert!(
        sensitive.len() > 8,
        "the generated TLS keys were found: {:?}",
        files.iter().map(|(path, _)| path).collect::<Vec<_>>()
    );
    let outputs = collected.output.clone();
    for value in &sensitive {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        let encoded = encoded.trim_end_matches('=');
        for form in [value.as_str(), encoded] {
            let count = outputs.matches(form).count();
            assert_eq!(count, 0, "`{form}` was shown {count} times:\n{outputs}");
            for (path, text) in &files {
                // The generated key files themselves, and the simulator's own records, hold
                // the values by design.
                if is_own_file(path) {
                    continue;
                }
                assert!(!text.contains(form), "`{form}` is in {path:?}:\n{text}");
            }
        }
    }

    // Not vacuous: the runs showed the health check's command line (`-v`) and its trace field,
    // both scrubbed, and the files checked include the state, its backup and the saved plan.
    assert!(
        applied.stderr().contains("$ test -n (sensitive)"),
        "{}",
        applied.stderr()
    );
    assert!(
        applied
            .stderr()
            .lines()
            .any(|line| line.contains("command=") && line.contains("test -n (sensitive)")),
        "{}",
        applied.stderr()
    );
    let names: Vec<String> = files
        .iter()
        .map(|(path, _)| path.display().to_string())
        .collect();
    for wanted in [
        "swarmform.state.json",
        "swarmform.state.json.backup",
        "saved.plan",
    ] {
        assert!(
            names.iter().any(|name| name.ends_with(wanted)),
            "{wanted} not among {names:?}"
        );
    }
}

/// Files that hold sensitive values by design: the config and its inputs, TLS material
/// swarmform generated for the user, and the simulator's records of the hosts. What swarmform
/// records (the state, its backup, saved plans) is checked.
fn is_own_file(path: &std::path::Path) -> bool {
    let name = path.display().to_string();
    !(name.ends_with(".state.json") || name.ends_with(".backup") || name.ends_with(".plan"))
}
