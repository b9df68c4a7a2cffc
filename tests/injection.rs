//! The injection corpus: hostile values (shell syntax, a systemd directive after a newline,
//! systemd specifiers, a YAML key after a newline, NUL, CR and CRLF, path traversal) placed in
//! every config field that lands on a host. Each either is refused by `validate`, naming
//! file:line:column, or arrives on the simulated host exactly as written, encoded by its
//! format's rules (systemd.syntax quoting, JSON, YAML, shell quoting).

use crate::support::Test;

/// Shell syntax that runs `touch` if any quoting breaks (the simulator's shell splits `;`).
const SHELL: &str = "x'; touch /tmp/pwned; echo '$(touch /tmp/x) `touch /tmp/y` \" \\";
/// The systemd finding: a newline ends the `Environment=` line and starts a root command.
const SYSTEMD_NEWLINE: &str = "http://proxy:3128\nExecStartPre=/bin/touch /tmp/pwned";
/// systemd specifiers (`%n` is the unit's name), quotes, a backslash and `$` in one value.
const SPECIFIERS: &str = "http://proxy:3128/%n%h\"\\$HOME'; touch /tmp/pwned; '";
/// A YAML key after a newline.
const YAML_NEWLINE: &str = "x\nprivileged: true";
const NUL: &str = "a\u{0}b";
const CR: &str = "a\rb";
const CRLF: &str = "a\r\nb";
const TRAVERSAL: &str = "../../etc/shadow";

/// One manager, nothing else, to append a hostile field to.
const ONE: &str = "[hosts.node1]\naddress = \"192.0.2.11\"\nrole = \"manager\"\n";

/// `text` as a TOML basic string, control characters escaped.
fn toml(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A field and a hostile value in it, with the files the config reads.
struct Case {
    name: &'static str,
    config: String,
    files: Vec<(&'static str, String)>,
}

fn case(name: &'static str, config: String) -> Case {
    Case {
        name,
        config,
        files: Vec::new(),
    }
}

/// A stack or file template `{{vars.value}}` holding `value`.
fn template_case(name: &'static str, kind: &str, value: &str) -> Case {
    let (config, file, text) = match kind {
        "stack" => (
            format!(
                "[stacks.web]\ntemplate = \"web.yml.hbs\"\nvars = {{ value = {} }}\n",
                toml(value)
            ),
            "web.yml.hbs",
            "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    deploy:\n      labels:\n        note: {{vars.value}}\n".to_owned(),
        ),
        _ => (
            format!(
                "[files.motd]\npath = \"/etc/motd\"\ntemplate = \"motd.hbs\"\nvars = {{ value = {} }}\n",
                toml(value)
            ),
            "motd.hbs",
            "Welcome to {{host.name}}.\nNote: {{vars.value}}\n".to_owned(),
        ),
    };
    Case {
        name,
        config,
        files: vec![(file, text)],
    }
}

/// Every hostile value a field's format cannot hold, each in its own config.
fn refused() -> Vec<Case> {
    let environment = |key: &str, value: &str| {
        format!(
            "[daemon.systemd.environment]\n{} = {}\n",
            toml(key),
            toml(value)
        )
    };
    let file_path = |path: &str| format!("[files.f]\npath = {}\ncontent = \"x\"\n", toml(path));
    let file_line =
        |line: &str| format!("[files.f]\npath = \"/etc/hosts\"\nline = {}\n", toml(line));
    let address = |address: &str| {
        format!(
            "[hosts.node1]\naddress = {}\nrole = \"manager\"\n",
            toml(address)
        )
    };
    let login = |field: &str, value: &str| {
        let (username, url) = match field {
            "username" => (value, "registry.example.com"),
            _ => ("deploy", value),
        };
        format!(
            "[registries.hub]\nurl = {}\nusername = {}\npassword_env = \"HUB_PASSWORD\"\n",
            toml(url),
            toml(username)
        )
    };
    vec![
        // systemd drop-in: Environment= values and names.
        case("systemd value: newline then ExecStartPre=", environment("HTTP_PROXY", SYSTEMD_NEWLINE)),
        case("systemd value: NUL", environment("HTTP_PROXY", NUL)),
        case("systemd value: CRLF", environment("HTTP_PROXY", CRLF)),
        case(
            "systemd value of a host: newline",
            format!("[hosts.node1.daemon.systemd.environment]\nNO_PROXY = {}\n", toml(SYSTEMD_NEWLINE)),
        ),
        case("systemd name: shell syntax", environment(SHELL, "x")),
        case("systemd name: newline", environment("A\nExecStartPre", "x")),
        case("systemd name: `=`", environment("A=B", "x")),
        case("systemd name: leading digit", environment("1A", "x")),
        // Files: paths on the host.
        case("file path: relative traversal", file_path(TRAVERSAL)),
        case("file path: `..` inside", file_path("/etc/ssl/../shadow")),
        case("file path: ending in `..`", file_path("/etc/ssl/..")),
        case("file path: newline", file_path("/etc/motd\n/etc/shadow")),
        case("file path: NUL", file_path("/etc/motd\u{0}.d")),
        case("file path: CR", file_path("/etc/motd\r")),
        // Files: one line of a line file.
        case("file line: newline", file_line(YAML_NEWLINE)),
        case("file line: NUL", file_line(NUL)),
        case("file line: CR", file_line(CR)),
        case("file line: CRLF", file_line(CRLF)),
        case(
            "file owner: shell syntax",
            format!("[files.f]\npath = \"/etc/motd\"\ncontent = \"x\"\nowner = {}\n", toml(SHELL)),
        ),
        // Templates: `{{x}}` of a value with a line break or a control character.
        template_case("compose template: newline then a YAML key", "stack", YAML_NEWLINE),
        template_case("compose template: CRLF", "stack", CRLF),
        template_case("compose template: NUL", "stack", NUL),
        template_case("compose template: U+2028", "stack", "x\u{2028}privileged: true"),
        template_case("file template: newline", "file", SYSTEMD_NEWLINE),
        template_case("file template: CR", "file", CR),
        // Host addresses (they name registry certificate folders on every host).
        case("host address: shell syntax", address(SHELL)),
        case("host address: traversal", address(TRAVERSAL)),
        case("host address: newline", address("192.0.2.11\n192.0.2.12")),
        case("host address: NUL", address("192.0.2.11\u{0}")),
        // Labels: words of `docker node update` and `docker network create`.
        case(
            "node label value: NUL",
            format!("{}labels = {{ note = {} }}\n", address("192.0.2.11"), toml(NUL)),
        ),
        case(
            "network label key: an escape sequence",
            format!("[networks.web]\nlabels = {{ {} = \"x\" }}\n", toml("\u{1b}[2J")),
        ),
        // External registries: `docker login` and the auth it stores.
        case("registry username: `:`", login("username", "deploy:admin")),
        case("registry username: newline", login("username", "deploy\nadmin")),
        case("registry url: shell syntax", login("url", SHELL)),
        case("registry url: newline", login("url", "registry.example.com\nevil.example.com")),
        case("registry url: an option", login("url", "--help")),
        // Hosted registries: the image is the last word of `docker service create`.
        case(
            "registry image: shell syntax",
            format!("[registries.hub]\nnode = \"node1\"\nimage = {}\n", toml(SHELL)),
        ),
        // The Docker packages apt-get installs.
        case(
            "engine package: an apt option",
            "[engine]\ninstall = \"if-missing\"\npackages = [\"docker.io\", \"-oAPT::Update::Pre-Invoke::=touch /tmp/pwned\"]\n".to_owned(),
        ),
        case(
            "engine package: shell syntax",
            format!("[engine]\ninstall = \"if-missing\"\npackages = [{}]\n", toml(SHELL)),
        ),
    ]
}

// Each hostile value a field's format cannot hold is refused by `validate` with exit code 1
// and an error at its file:line:column that says what to do; nothing is planned.
#[test]
fn validate_refuses_what_a_sink_cannot_hold() {
    let mut accepted = Vec::new();
    let mut transcript = String::new();
    for case in refused() {
        let config = if case.config.starts_with("[hosts.node1]\naddress") {
            case.config.clone()
        } else {
            format!("{ONE}\n{}", case.config)
        };
        let mut test = Test::new().config(&config).env("HUB_PASSWORD", "hunter2");
        for (name, text) in &case.files {
            test = test.file(name, text);
        }
        let run = test.run(&["validate"]);
        let stderr = run.stderr();
        if run.code() != Some(1) || !stderr.contains(" --> ") {
            accepted.push(format!(
                "{}: exit code {:?}\n{stderr}",
                case.name,
                run.code()
            ));
        }
        transcript.push_str(&format!("## {}\n{stderr}\n", case.name));
    }
    assert!(
        accepted.is_empty(),
        "not refused with a location:\n\n{}",
        accepted.join("\n")
    );
    insta::assert_snapshot!("refused", transcript);
}

/// The simulated host's config: every field that takes a hostile value it must encode.
fn encoded_workloads() -> String {
    format!(
        r#"
[hosts.node1.labels]
note = {shell}
lines = {newline}

[daemon.systemd.environment]
HTTP_PROXY = {specifiers}
NO_PROXY = {shell}

[daemon.json]
labels = [{label_shell}, {label_newline}, {label_nul}, {label_crlf}]

[files.oddly_named]
path = {odd_path}
content = {content}

[files.hosts_line]
path = "/etc/hosts"
line = {hosts_line}

[files.rendered]
path = "/etc/swarmform-test/rendered.conf"
template = "rendered.hbs"
vars = {{ shell = {shell}, multi = "first\nsecond", yaml = {yaml} }}

[registries.hub]
node = "node1"
image = "local/registry:2"
notifications = [{{ name = {yaml}, url = {hook} }}]

[stacks.web]
template = "web.yml.hbs"
vars = {{ note = {yaml}, shell = {shell} }}
"#,
        shell = toml(SHELL),
        label_shell = toml(&format!("shell={SHELL}")),
        label_newline = toml(&format!("newline={SYSTEMD_NEWLINE}")),
        label_nul = toml(&format!("nul={NUL}")),
        label_crlf = toml(&format!("crlf={CRLF}")),
        newline = toml(SYSTEMD_NEWLINE),
        specifiers = toml(SPECIFIERS),
        odd_path = toml(ODD_PATH),
        content = toml(&format!("{SHELL}\n{SYSTEMD_NEWLINE}{NUL}{CRLF}")),
        hosts_line = toml(&hosts_line()),
        yaml = toml(YAML_NEWLINE),
        hook = toml(&format!("http://hooks.example/{SHELL}")),
    )
}

/// A path with shell syntax in it, which stays one quoted word.
const ODD_PATH: &str = "/srv/it's $(touch x) `y`; z/a b.txt";

fn hosts_line() -> String {
    format!("10.0.0.5 registry.lab # {SHELL}")
}

const RENDERED: &str = "shell={{vars.shell}}\nraw={{{vars.multi}}}\njson={{json vars.yaml}}\n";

const WEB: &str = "version: \"3.8\"\nservices:\n  web:\n    image: local/busybox:1\n    deploy:\n      labels:\n        note: {{json vars.note}}\n        shell: {{json vars.shell}}\n";

/// The `Environment=` assignments of a unit file as systemd reads them: each line's value
/// unquoted with C escapes decoded (systemd.syntax), then `%%` turned into `%` (the only
/// specifier an encoded value may hold). `None` for a line systemd would not read as one
/// assignment.
fn systemd_environment(unit: &str) -> Vec<Option<(String, String)>> {
    unit.lines()
        .filter_map(|line| line.strip_prefix("Environment="))
        .map(|quoted| {
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            let mut unquoted = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => unquoted.push(chars.next()?),
                    '"' => return None,
                    '%' => {
                        if chars.next()? != '%' {
                            return None;
                        }
                        unquoted.push('%');
                    }
                    c => unquoted.push(c),
                }
            }
            let (key, value) = unquoted.split_once('=')?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

// Hostile values the formats can hold arrive on the host exactly as written: the systemd
// drop-in's `Environment=` quoted by systemd.syntax (`%n` stays `%n`, not the unit's name),
// daemon.json and the registry config serialised, a compose value written with `{{json x}}`,
// a file's path, content and line through quoted commands, node labels as quoted words; no
// quoting breaks anywhere (nothing ran `touch`).
#[test]
fn what_a_sink_can_hold_lands_encoded() {
    let cluster = Test::with_hosts(1, 1)
        .workloads(&encoded_workloads())
        .file("rendered.hbs", RENDERED)
        .file("web.yml.hbs", WEB);
    cluster.apply();
    let snapshot = cluster.snapshot();
    let host = snapshot.host("node1").expect("node1");

    let drop_in = host
        .file("/etc/systemd/system/docker.service.d/swarmform.conf")
        .expect("the drop-in")
        .text();
    assert!(
        drop_in.contains(
            "Environment=\"HTTP_PROXY=http://proxy:3128/%%n%%h\\\"\\\\$HOME'; touch /tmp/pwned; '\"\n"
        ),
        "{drop_in}"
    );
    assert_eq!(
        systemd_environment(&drop_in),
        vec![
            Some(("HTTP_PROXY".to_owned(), SPECIFIERS.to_owned())),
            Some(("NO_PROXY".to_owned(), SHELL.to_owned())),
        ],
        "{drop_in}"
    );
    assert_eq!(
        drop_in
            .lines()
            .filter(|line| line.starts_with("Exec"))
            .count(),
        0,
        "{drop_in}"
    );

    let daemon: serde_json::Value = serde_json::from_str(&host.daemon_config).expect("JSON");
    assert_eq!(
        daemon["labels"],
        serde_json::json!([
            format!("shell={SHELL}"),
            format!("newline={SYSTEMD_NEWLINE}"),
            format!("nul={NUL}"),
            format!("crlf={CRLF}")
        ]),
        "{}",
        host.daemon_config
    );

    let odd = host.file(ODD_PATH).expect("the oddly named file");
    assert_eq!(odd.text(), format!("{SHELL}\n{SYSTEMD_NEWLINE}{NUL}{CRLF}"));
    let hosts = host.file("/etc/hosts").expect("/etc/hosts").text();
    assert!(hosts.lines().any(|line| line == hosts_line()), "{hosts}");
    assert_eq!(
        host.file("/etc/swarmform-test/rendered.conf")
            .expect("the rendered file")
            .text(),
        format!(
            "shell={SHELL}\nraw=first\nsecond\njson={}\n",
            serde_json::to_string(YAML_NEWLINE).expect("JSON")
        )
    );

    let node = host.node.as_ref().expect("node1's node");
    assert_eq!(node.labels.get("note").map(String::as_str), Some(SHELL));
    assert_eq!(
        node.labels.get("lines").map(String::as_str),
        Some(SYSTEMD_NEWLINE)
    );

    let swarm = snapshot.swarm().expect("the swarm");
    let web = swarm.service("web_web").expect("the web service");
    assert_eq!(
        web.labels.get("note").map(String::as_str),
        Some(YAML_NEWLINE)
    );
    assert_eq!(web.labels.get("shell").map(String::as_str), Some(SHELL));
    assert!(!web.labels.contains_key("privileged"), "{:?}", web.labels);

    let state: serde_json::Value = serde_json::from_str(&cluster.state_text()).expect("state");
    let registry = state["resources"]
        .as_array()
        .and_then(|resources| {
            resources
                .iter()
                .find(|resource| resource["address"] == "registry.hub")
        })
        .expect("registry.hub in the state");
    let config: serde_json::Value =
        serde_norway::from_str(registry["attributes"]["config"].as_str().expect("config"))
            .expect("the registry config is YAML");
    assert_eq!(
        config["notifications"]["endpoints"][0]["name"],
        serde_json::json!(YAML_NEWLINE)
    );
    assert_eq!(
        config["notifications"]["endpoints"][0]["url"],
        serde_json::json!(format!("http://hooks.example/{SHELL}"))
    );
    assert!(config.get("privileged").is_none(), "{config}");

    for touched in ["/tmp/pwned", "/tmp/x", "/tmp/y"] {
        assert!(host.file(touched).is_none(), "{touched} was made");
    }
}
