//! The plan as a GitHub pull-request comment: a summary and a table a reviewer can scan, and the
//! attribute diffs folded into `<details>` blocks.

use super::attributes::{self, Layout};
use super::text::{docker_cell, no_changes, notes, summary, swarm_cell};
use crate::plan::{Action, Change, Plan};

/// The plan as GitHub-flavoured markdown, ending with a newline.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut blocks = vec!["### swarmform plan".to_owned()];
    for warning in &plan.warnings {
        blocks.push(quote(
            &format!("**Warning:** {}", inline(&warning.summary)),
            &warning.detail,
        ));
    }
    if plan.has_changes() {
        if !plan.hosts.is_empty() {
            blocks.push(hosts_table(plan));
        }
        blocks.extend(notes(plan).iter().map(|note| note_quote(note)));
        blocks.push(format!("**Plan:** {}", summary(plan.summary())));
        let changes: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|change| change.action != Action::NoOp)
            .collect();
        blocks.push(table(&changes));
        blocks.extend(changes.into_iter().filter_map(details));
    } else {
        blocks.push(no_changes(plan.mode).to_owned());
        blocks.extend(notes(plan).iter().map(|note| note_quote(note)));
    }
    let mut markdown = blocks.join("\n\n");
    markdown.push('\n');
    markdown
}

/// The word for an action in the table and the `<summary>` lines.
fn word(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "destroy",
    }
}

/// `| Action | Address | Reasons |`, one row per change.
fn table(changes: &[&Change]) -> String {
    let mut rows = vec![
        "| Action | Address | Reasons |".to_owned(),
        "| --- | --- | --- |".to_owned(),
    ];
    for change in changes {
        let reasons: Vec<String> = change.reasons.iter().map(|reason| cell(reason)).collect();
        rows.push(format!(
            "| `{}` {} | `{}` | {} |",
            change.action.symbol(),
            word(change.action),
            cell(&change.address.to_string()),
            reasons.join("<br>"),
        ));
    }
    rows.join("\n")
}

/// `| Host | OS | Arch | Docker | Swarm |`, one row per host.
fn hosts_table(plan: &Plan) -> String {
    let mut rows = vec![
        "| Host | OS | Arch | Docker | Swarm |".to_owned(),
        "| --- | --- | --- | --- | --- |".to_owned(),
    ];
    for facts in &plan.hosts {
        let mut host = format!("`{}`", cell(&facts.host));
        if let Some(hostname) = facts.hostname.as_ref().filter(|name| **name != facts.host) {
            host.push_str(&format!(" (hostname `{}`)", cell(hostname)));
        }
        if let Some(reason) = &facts.unreachable {
            rows.push(format!("| {host} | unreachable: {} | | | |", cell(reason)));
            continue;
        }
        rows.push(format!(
            "| {host} | {} | {} | {} | {} |",
            cell(facts.os.as_deref().unwrap_or("unknown")),
            cell(facts.arch.as_deref().unwrap_or("")),
            cell(&docker_cell(plan, facts)),
            cell(&swarm_cell(facts).unwrap_or_default()),
        ));
    }
    rows.join("\n")
}

/// A folded block with the change's attribute lines as a `diff` and its steps as a list; `None`
/// when it has neither.
fn details(change: &Change) -> Option<String> {
    let layout = Layout {
        indent: 0,
        diff_indent: 0,
        color: false,
    };
    let lines = attributes::render(&attributes::lines(change), layout);
    if lines.is_empty() && change.steps.is_empty() {
        return None;
    }
    let mut parts = vec![format!(
        "<details><summary><code>{}</code> ({})</summary>",
        html(&change.address.to_string()),
        word(change.action)
    )];
    if !lines.is_empty() {
        parts.push(fenced("diff", &lines.join("\n")));
    }
    if !change.steps.is_empty() {
        parts.push("Steps:".to_owned());
        let steps: Vec<String> = (1..)
            .zip(&change.steps)
            .map(|(number, step)| format!("{number}. {}", inline(&step.describe())))
            .collect();
        parts.push(steps.join("\n"));
    }
    parts.push("</details>".to_owned());
    Some(parts.join("\n\n"))
}

/// `body` in a fenced code block whose fence is longer than any run of backticks inside it.
fn fenced(language: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for character in body.chars() {
        run = if character == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{language}\n{body}\n{fence}")
}

/// A blockquote: the first line, then `detail` (already plain text) as a second paragraph.
fn quote(first: &str, detail: &str) -> String {
    let mut lines = vec![format!("> {first}")];
    if !detail.is_empty() {
        lines.push(">".to_owned());
        lines.extend(
            detail
                .lines()
                .map(|line| format!("> {}", inline(line)).trim_end().to_owned()),
        );
    }
    lines.join("\n")
}

/// A text note (`Note: ...`) as a quoted, bold-labelled markdown note.
fn note_quote(note: &str) -> String {
    let body = note.strip_prefix("Note: ").unwrap_or(note);
    quote(&format!("**Note:** {}", inline(body)), "")
}

/// Free text for running markdown: `<` and `>` become entities outside code spans, so words
/// like `<none>` are not swallowed as HTML; code spans are left as written.
fn inline(text: &str) -> String {
    escape(text, false)
}

/// Free text for a table cell: as [`inline`], and `|` escaped even inside code spans (GitHub
/// splits cells before it parses code spans).
fn cell(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, in_table: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for character in text.chars() {
        match character {
            '`' => {
                in_code = !in_code;
                out.push('`');
            }
            '|' if in_table => out.push_str("\\|"),
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// Text inside an HTML element.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Mode;
    use crate::ui::fixture;

    #[test]
    fn the_comment_opens_with_warnings_the_summary_and_a_table() {
        // Heading, warning quote, summary line and one table row per change other than no-ops.
        let markdown = plan_markdown(&fixture::plan());
        let opening = "### swarmform plan

> **Warning:** the swarm has 2 managers
>
> Raft needs a majority: with 2 managers, losing either stops the swarm.
> Use 1, 3 or 5 managers.

**Plan:** 2 to add, 1 to change, 2 to destroy.

| Action | Address | Reasons |
| --- | --- | --- |
| `~` update | `daemon.node1` | restarts dockerd on node1 |
| `-` destroy | `node.node3` |  |
| `+` create | `network.maiev` |  |
| `-/+` replace | `secret.db` | a swarm secret's content cannot change in place |

";
        assert!(markdown.starts_with(opening), "{markdown}");
        assert!(!markdown.contains("engine.node1"), "{markdown}");
    }

    #[test]
    fn each_change_folds_its_diff_and_steps_into_details() {
        // A `<details>` block holds a blank line after `<summary>`, a `diff` fence with the
        // text renderer's attribute lines and unified diffs, then the numbered steps.
        let markdown = plan_markdown(&fixture::plan());
        let daemon = r#"<details><summary><code>daemon.node1</code> (update)</summary>

```diff
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
```

Steps:

1. write /etc/docker/daemon.json (mode 0644, owner root)
2. systemctl daemon-reload and restart dockerd (the node drained meanwhile)

</details>"#;
        assert!(markdown.contains(daemon), "{markdown}");
        let secret = r#"<details><summary><code>secret.db</code> (replace)</summary>

```diff
~ content_hash = (sensitive) -> (sensitive) # forces replacement
~ version      = 1 -> 2
# (1 unchanged attribute hidden)
```
"#;
        assert!(markdown.contains(secret), "{markdown}");
        assert!(markdown.contains("<details><summary><code>network.maiev</code> (create)</summary>\n\n```diff\n+ attachable = true\n"));
        assert!(markdown.contains("<details><summary><code>node.node3</code> (destroy)</summary>\n\n```diff\n- availability = \"active\" -> null\n"));
        assert_eq!(markdown.matches("<details>").count(), 4);
        assert_eq!(markdown.matches("</details>").count(), 4);
        assert!(markdown.ends_with("</details>\n"));
    }

    #[test]
    fn sensitive_values_never_appear() {
        // Neither hash of the secret's content is in the comment.
        let markdown = plan_markdown(&fixture::plan());
        assert!(
            !markdown.contains(fixture::SECRET_HASH_BEFORE),
            "{markdown}"
        );
        assert!(!markdown.contains(fixture::SECRET_HASH_AFTER), "{markdown}");
    }

    #[test]
    fn no_changes_is_one_sentence_under_the_heading() {
        // A plan of no-ops gives the heading and the sentence, nothing else.
        let mut plan = fixture::empty_plan();
        assert_eq!(
            plan_markdown(&plan),
            "### swarmform plan\n\nNo changes. The cluster matches the configuration.\n"
        );
        plan.mode = Mode::Destroy;
        assert_eq!(
            plan_markdown(&plan),
            "### swarmform plan\n\nNo changes. Nothing to destroy.\n"
        );
    }

    #[test]
    fn notes_are_quoted_above_the_summary() {
        // A `--target` restriction and a skipped refresh show as quoted notes.
        let mut plan = fixture::plan();
        plan.targets = vec!["network.maiev".to_owned()];
        plan.refreshed = false;
        let markdown = plan_markdown(&plan);
        let notes = "> **Note:** this plan is restricted to --target network.maiev; the rest of the configuration was not planned.

> **Note:** the live cluster was not read (--refresh=false); the plan compares the configuration with the state file only, and the hosts' facts (OS, Docker, swarm membership) were not read or checked.

**Plan:**";
        assert!(markdown.contains(notes), "{markdown}");
    }

    #[test]
    fn free_text_cannot_break_the_markup() {
        // Pipes cannot split a table cell, `<...>` is not swallowed as HTML, code spans stay
        // as written, and a fence outgrows the backticks inside it.
        assert_eq!(cell("a | b `x|y`"), "a \\| b `x\\|y`");
        assert_eq!(inline("tag <none> `<none>`"), "tag &lt;none&gt; `<none>`");
        assert_eq!(
            fenced("diff", "+ a = \"```\""),
            "````diff\n+ a = \"```\"\n````"
        );
    }
}
