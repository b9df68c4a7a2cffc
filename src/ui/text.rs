//! The plan as terminal text, Terraform's layout: warnings, one block per change, the summary.

use super::attributes::{self, Layout};
use super::color::{Color, paint};
use crate::address::{Address, Kind};
use crate::plan::{Action, Change, HostFacts, Mode, Plan, Step, Summary, SwarmState};
use crate::swarm::EngineStep;

/// The plan as a person reads it in a terminal. `color` adds ANSI colours (green `+`, yellow
/// `~`, red `-`); without it the text says exactly the same. Ends with a newline.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut lines = Vec::new();
    for warning in &plan.warnings {
        lines.push(format!(
            "{} {}",
            paint("Warning:", Color::BoldYellow, color),
            warning.summary
        ));
        lines.extend(warning.detail.lines().map(|line| indent(2, line)));
        lines.push(String::new());
    }
    // A plan without changes stays one line; its hosts are in the JSON.
    if !plan.hosts.is_empty() && plan.has_changes() {
        lines.push("Hosts:".to_owned());
        lines.extend(host_rows(plan).iter().map(|row| indent(2, &row.join("  "))));
        lines.push(String::new());
    }
    if plan.has_changes() {
        lines.push("swarmform will perform the following actions:".to_owned());
        lines.push(String::new());
        for change in plan
            .changes
            .iter()
            .filter(|change| change.action != Action::NoOp)
        {
            lines.extend(block(change, color));
            lines.push(String::new());
        }
    } else {
        lines.push(no_changes(plan.mode).to_owned());
        lines.push(String::new());
    }
    for note in notes(plan) {
        lines.push(note);
        lines.push(String::new());
    }
    if plan.has_changes() {
        lines.push(format!("Plan: {}", summary(plan.summary())));
    } else {
        lines.pop();
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// One change: what happens and why, then its attributes and steps.
fn block(change: &Change, color: bool) -> Vec<String> {
    let address = &change.address;
    let mut lines = vec![format!("  # {address} {}", consequence(change))];
    lines.extend(
        change
            .reasons
            .iter()
            .map(|reason| format!("  # ({reason})")),
    );
    lines.push(format!("  {} {address} {{", symbol(change.action, color)));
    let layout = Layout {
        indent: 6,
        diff_indent: 8,
        color,
    };
    lines.extend(attributes::render(&attributes::lines(change), layout));
    if !change.steps.is_empty() {
        lines.push("      steps:".to_owned());
        for (number, step) in (1..).zip(&change.steps) {
            lines.push(format!("        {number}. {}", step.describe()));
        }
    }
    lines.push("  }".to_owned());
    lines
}

/// The end of `# ADDRESS ...`, Terraform's wording.
pub fn consequence(change: &Change) -> &'static str {
    match change.action {
        Action::NoOp => "is unchanged",
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace if change.create_before_destroy => {
            "will be replaced (the new one is created before the old one is destroyed)"
        }
        Action::Replace => "will be replaced",
        Action::Delete => "will be destroyed",
    }
}

/// `Action::symbol`, painted: `-/+` takes the colours of both its halves.
fn symbol(action: Action, color: bool) -> String {
    match action {
        Action::NoOp => action.symbol().to_owned(),
        Action::Create => paint("+", Color::Green, color),
        Action::Update => paint("~", Color::Yellow, color),
        Action::Replace => format!(
            "{}/{}",
            paint("-", Color::Red, color),
            paint("+", Color::Green, color)
        ),
        Action::Delete => paint("-", Color::Red, color),
    }
}

/// What a plan without changes says.
pub fn no_changes(mode: Mode) -> &'static str {
    match mode {
        Mode::Normal => "No changes. The cluster matches the configuration.",
        Mode::Destroy => "No changes. Nothing to destroy.",
    }
}

/// The notes on what the plan did not look at: a `--target` restriction, a skipped refresh.
pub fn notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(managers) = &plan.managers {
        notes.push(format!("Fault tolerance: {}.", managers.sentence()));
    }
    if !plan.targets.is_empty() {
        notes.push(format!(
            "Note: this plan is restricted to --target {}; the rest of the configuration was not planned.",
            plan.targets.join(", ")
        ));
    }
    if !plan.refreshed {
        notes.push(
            "Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked."
                .to_owned(),
        );
    }
    notes
}

/// One row per host, its cells padded so the columns line up (the last cell of each row is
/// not padded): name, then OS, architecture, Docker and swarm, or why it was not reached.
pub fn host_rows(plan: &Plan) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = plan
        .hosts
        .iter()
        .map(|facts| host_cells(plan, facts))
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter(|row| row.len() > column + 1)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.into_iter()
        .map(|row| {
            let last = row.len().saturating_sub(1);
            row.into_iter()
                .enumerate()
                .map(|(column, cell)| {
                    if column == last {
                        cell
                    } else {
                        format!("{cell:width$}", width = widths[column])
                    }
                })
                .collect()
        })
        .collect()
}

/// A host's cells, unpadded.
pub fn host_cells(plan: &Plan, facts: &HostFacts) -> Vec<String> {
    let mut cells = vec![facts.host.clone()];
    if let Some(reason) = &facts.unreachable {
        cells.push(format!("unreachable: {reason}"));
        return cells;
    }
    cells.push(facts.os.clone().unwrap_or_else(|| "unknown OS".to_owned()));
    cells.push(facts.arch.clone().unwrap_or_default());
    cells.push(docker_cell(plan, facts));
    if let Some(swarm) = swarm_cell(facts) {
        cells.push(swarm);
    }
    if let Some(hostname) = facts.hostname.as_ref().filter(|name| **name != facts.host) {
        cells.push(format!("hostname: {hostname}"));
    }
    cells
}

/// `Docker 20.10.24`, `Docker: not installed (will be installed)`, ...
pub fn docker_cell(plan: &Plan, facts: &HostFacts) -> String {
    if let Some(version) = &facts.docker_version {
        return format!("Docker {version}");
    }
    if facts.docker_installed {
        return "Docker: dockerd not answering".to_owned();
    }
    let installs = plan
        .change(&Address::new(Kind::Engine, facts.host.clone()))
        .is_some_and(|change| {
            change
                .steps
                .iter()
                .any(|step| matches!(step, Step::Engine(EngineStep::InstallEngine { .. })))
        });
    if installs {
        "Docker: not installed (will be installed)".to_owned()
    } else {
        "Docker: not installed".to_owned()
    }
}

/// `swarm: active, manager`; `None` when dockerd did not say.
pub fn swarm_cell(facts: &HostFacts) -> Option<String> {
    let state = facts.swarm?;
    Some(if state == SwarmState::Inactive {
        format!("swarm: {}", state.as_str())
    } else {
        format!(
            "swarm: {}, {}",
            state.as_str(),
            if facts.manager { "manager" } else { "worker" }
        )
    })
}

/// `A to add, C to change, D to destroy.`
pub fn summary(summary: Summary) -> String {
    format!(
        "{} to add, {} to change, {} to destroy.",
        summary.add, summary.change, summary.destroy
    )
}

fn indent(width: usize, line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!("{:width$}{line}", "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixture;

    #[test]
    fn a_plan_reads_like_terraform() {
        // Warnings come first, then one block per change in plan order (no-ops left out), each
        // with its reasons, aligned attributes, diffs and numbered steps, then the summary.
        let expected = r#"Warning: the swarm has 2 managers
  Raft needs a majority: with 2 managers, losing either stops the swarm.
  Use 1, 3 or 5 managers.

swarmform will perform the following actions:

  # daemon.node1 will be updated in place
  # (restarts dockerd on node1)
  ~ daemon.node1 {
      ~ daemon_json:
        --- daemon_json (before)
        +++ daemon_json (after)
        @@ -1,4 +1,4 @@
         {
           "log-driver": "json-file",
        -  "log-level": "info"
        +  "log-level": "debug"
         }
      ~ live_restore = false -> true
      # (1 unchanged attribute hidden)
      steps:
        1. write /etc/docker/daemon.json (mode 0644, owner root)
        2. systemctl daemon-reload and restart dockerd (the node drained meanwhile)
  }

  # node.node3 will be destroyed
  - node.node3 {
      - availability = "active" -> null
      - labels       = {"zone":"b"} -> null
      - role         = "worker" -> null
      steps:
        1. drain and wait until its tasks have moved (from node1)
        2. docker swarm leave
        3. docker node rm (from node1)
  }

  # network.maiev will be created
  + network.maiev {
      + attachable = true
      + driver     = "overlay"
      + id         = (known after apply)
      + subnet     = "10.0.9.0/24"
      steps:
        1. docker network create maiev (on node1)
  }

  # secret.db will be replaced (the new one is created before the old one is destroyed)
  # (a swarm secret's content cannot change in place)
  -/+ secret.db {
      ~ content_hash = (sensitive) -> (sensitive) # forces replacement
      ~ version      = 1 -> 2
      # (1 unchanged attribute hidden)
      steps:
        1. docker secret create db_v2 (on node1)
        2. docker secret rm db_v1 (on node1)
  }

Plan: 2 to add, 1 to change, 2 to destroy.
"#;
        assert_eq!(plan_text(&fixture::plan(), false), expected);
    }

    #[test]
    fn text_attributes_of_created_and_deleted_resources_diff_from_and_to_nothing() {
        // A created text attribute is all `+` lines from an empty text; a deleted one all `-`.
        let mut plan = fixture::empty_plan();
        let mut attribute = fixture::attribute("content", None, Some("a\nb\n".into()));
        attribute.text = true;
        let mut created = fixture::change(&fixture::plan(), "network.maiev").clone();
        created.attributes = vec![attribute.clone()];
        created.steps.clear();
        let mut deleted = fixture::change(&fixture::plan(), "node.node3").clone();
        (attribute.before, attribute.after) = (attribute.after, None);
        deleted.attributes = vec![attribute];
        deleted.steps.clear();
        plan.changes = vec![created, deleted];
        let expected = "swarmform will perform the following actions:

  # network.maiev will be created
  + network.maiev {
      + content:
        --- content (before)
        +++ content (after)
        @@ -0,0 +1,2 @@
        +a
        +b
  }

  # node.node3 will be destroyed
  - node.node3 {
      - content:
        --- content (before)
        +++ content (after)
        @@ -1,2 +0,0 @@
        -a
        -b
  }

Plan: 1 to add, 0 to change, 1 to destroy.
";
        assert_eq!(plan_text(&plan, false), expected);
    }

    #[test]
    fn sensitive_values_never_appear() {
        // Neither hash of a sensitive attribute is printed, with or without colour.
        for color in [false, true] {
            let text = plan_text(&fixture::plan(), color);
            assert!(!text.contains(fixture::SECRET_HASH_BEFORE), "{text}");
            assert!(!text.contains(fixture::SECRET_HASH_AFTER), "{text}");
            assert!(!text.contains("1b4f0e98"), "{text}");
        }
    }

    #[test]
    fn sensitive_text_attributes_print_no_diff() {
        // A sensitive text attribute shows `(sensitive)` and never a diff of its content.
        let mut plan = fixture::plan();
        for change in &mut plan.changes {
            for attribute in &mut change.attributes {
                if attribute.name == "daemon_json" {
                    attribute.sensitive = true;
                }
            }
        }
        let text = plan_text(&plan, false);
        assert!(
            text.contains("      ~ daemon_json  = (sensitive) -> (sensitive)\n"),
            "{text}"
        );
        assert!(!text.contains("log-level"), "{text}");
    }

    #[test]
    fn no_changes_says_so_in_each_mode() {
        // A plan of no-ops prints one sentence, worded for the mode, and no summary line.
        let mut plan = fixture::empty_plan();
        assert_eq!(
            plan_text(&plan, false),
            "No changes. The cluster matches the configuration.\n"
        );
        plan.mode = Mode::Destroy;
        assert_eq!(plan_text(&plan, false), "No changes. Nothing to destroy.\n");
    }

    #[test]
    fn targets_and_a_skipped_refresh_are_noted_before_the_summary() {
        // Restricted or unrefreshed plans say so just above the `Plan:` line.
        let mut plan = fixture::plan();
        plan.targets = vec!["network.maiev".to_owned(), "module.edge".to_owned()];
        plan.refreshed = false;
        let text = plan_text(&plan, false);
        let ending = "  }

Note: this plan is restricted to --target network.maiev, module.edge; the rest of the configuration was not planned.

Note: the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.

Plan: 2 to add, 1 to change, 2 to destroy.
";
        assert!(text.ends_with(ending), "{text}");
    }

    #[test]
    fn colour_paints_the_symbols() {
        // With colour, the change symbols are painted; the words stay the same once stripped.
        let plan = fixture::plan();
        let colored = plan_text(&plan, true);
        assert!(colored.contains("  \x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m secret.db {\n"));
        assert!(colored.contains("      \x1b[33m~\x1b[0m version      = 1 -> 2\n"));
        assert!(colored.contains("        \x1b[32m+  \"log-level\": \"debug\"\x1b[0m\n"));
        assert_eq!(strip_ansi(&colored), plan_text(&plan, false));
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("\x1b[") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('m').expect("escape ends with m");
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }

    // Hosts come after the warnings, one aligned line each; an unreachable host says why, a
    // host without Docker says whether the plan installs it.
    #[test]
    fn hosts_are_shown_aligned_before_the_changes() {
        use crate::plan::{HostFacts, Step, SwarmState};
        let mut plan = fixture::plan();
        let debian = |host: &str| HostFacts {
            host: host.to_owned(),
            os: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
            arch: Some("x86_64".to_owned()),
            hostname: Some(host.to_owned()),
            ..HostFacts::default()
        };
        plan.hosts = vec![
            HostFacts {
                docker_installed: true,
                docker_version: Some("20.10.24".to_owned()),
                swarm: Some(SwarmState::Active),
                manager: true,
                ..debian("node1")
            },
            HostFacts {
                host: "node4".to_owned(),
                unreachable: Some("connection refused".to_owned()),
                ..HostFacts::default()
            },
            HostFacts {
                hostname: Some("pi".to_owned()),
                ..debian("node10")
            },
        ];
        plan.changes[0].steps = vec![Step::Engine(EngineStep::InstallEngine {
            packages: vec!["docker.io".to_owned()],
        })];
        plan.changes[0].address = "engine.node10".parse().expect("address");
        let text = plan_text(&plan, false);
        let expected = "  Use 1, 3 or 5 managers.

Hosts:
  node1   Debian GNU/Linux 12 (bookworm)  x86_64  Docker 20.10.24                            swarm: active, manager
  node4   unreachable: connection refused
  node10  Debian GNU/Linux 12 (bookworm)  x86_64  Docker: not installed (will be installed)  hostname: pi

swarmform will perform the following actions:
";
        assert!(text.contains(expected), "{text}");
    }
}
