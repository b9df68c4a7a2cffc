//! The attribute lines of one change (`+ name = VALUE`, `~ name = BEFORE -> AFTER`, text diffs),
//! built once and laid out by the text and markdown renderers so both say the same thing.

use serde_json::Value;

use super::color::{Color, paint};
use super::diff::attribute_diff;
use crate::plan::{Action, AttributeChange, Change};

/// What a renderer prints for a value that is only known once the change is applied.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";
/// What every renderer prints instead of a sensitive value (which is a content hash).
pub const SENSITIVE: &str = "(sensitive)";

/// The sign in front of an attribute line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Add,
    Change,
    Remove,
}

impl Sign {
    fn symbol(self) -> &'static str {
        match self {
            Sign::Add => "+",
            Sign::Change => "~",
            Sign::Remove => "-",
        }
    }

    fn color(self) -> Color {
        match self {
            Sign::Add => Color::Green,
            Sign::Change => Color::Yellow,
            Sign::Remove => Color::Red,
        }
    }
}

/// One attribute line, before layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `SIGN name = VALUE`, where `VALUE` may read `BEFORE -> AFTER`.
    Value {
        sign: Sign,
        name: String,
        value: String,
        forces_replacement: bool,
    },
    /// `SIGN name:` followed by a unified diff.
    Diff {
        sign: Sign,
        name: String,
        diff: String,
        forces_replacement: bool,
    },
    /// `# (N unchanged attributes hidden)`.
    Hidden(usize),
}

/// The lines shown for `change`: every known attribute of a creation or deletion, only the
/// changed attributes of an update or replacement (then a count of the hidden ones), nothing for
/// a no-op.
pub fn lines(change: &Change) -> Vec<Line> {
    match change.action {
        Action::NoOp => Vec::new(),
        Action::Create => change
            .attributes
            .iter()
            .flat_map(|attribute| {
                if attribute.unknown_after {
                    return vec![value_line(
                        attribute,
                        Sign::Add,
                        KNOWN_AFTER_APPLY.to_owned(),
                        false,
                    )];
                }
                let Some(after) = attribute.after.as_ref() else {
                    return Vec::new();
                };
                if let Some(lines) = nested_lines(attribute, None, Some(after)) {
                    return lines;
                }
                vec![diff_or_value(
                    attribute,
                    Sign::Add,
                    format_value(attribute, after),
                    false,
                )]
            })
            .collect(),
        Action::Delete => change
            .attributes
            .iter()
            .flat_map(|attribute| {
                let Some(before) = attribute.before.as_ref() else {
                    return Vec::new();
                };
                if let Some(lines) = nested_lines(attribute, Some(before), None) {
                    return lines;
                }
                let value = format!("{} -> null", format_value(attribute, before));
                vec![diff_or_value(attribute, Sign::Remove, value, false)]
            })
            .collect(),
        Action::Update | Action::Replace => {
            let mut lines: Vec<Line> = change
                .changed_attributes()
                .flat_map(|attribute| {
                    if !attribute.unknown_after
                        && let Some(lines) = nested_lines(
                            attribute,
                            attribute.before.as_ref(),
                            attribute.after.as_ref(),
                        )
                    {
                        return lines;
                    }
                    changed_line(attribute).into_iter().collect()
                })
                .collect();
            let hidden = change.attributes.len() - change.changed_attributes().count();
            if hidden > 0 {
                lines.push(Line::Hidden(hidden));
            }
            lines
        }
    }
}

/// The line of one changed attribute of an update or a replacement.
fn changed_line(attribute: &AttributeChange) -> Option<Line> {
    let forces = attribute.forces_replacement;
    let format = |value| format_value(attribute, value);
    let (sign, value) = match (&attribute.before, &attribute.after, attribute.unknown_after) {
        (None, _, true) => (Sign::Add, KNOWN_AFTER_APPLY.to_owned()),
        (Some(before), _, true) => (
            Sign::Change,
            format!("{} -> {KNOWN_AFTER_APPLY}", format(before)),
        ),
        (None, Some(after), false) => (Sign::Add, format(after)),
        (Some(before), None, false) => (Sign::Remove, format!("{} -> null", format(before))),
        (Some(before), Some(after), false) => (
            Sign::Change,
            format!("{} -> {}", format(before), format(after)),
        ),
        (None, None, false) => return None,
    };
    Some(diff_or_value(attribute, sign, value, forces))
}

/// An object of objects (a stack's `services`) shown one line per changed field,
/// `~ services.web_web.replicas = 3 -> 2`, rather than as one long JSON line. `None` for any
/// other attribute.
fn nested_lines(
    attribute: &AttributeChange,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Option<Vec<Line>> {
    let nested = |value: Option<&Value>| {
        value
            .and_then(Value::as_object)
            .is_some_and(|object| object.values().any(Value::is_object))
    };
    let shape_fits = |value: Option<&Value>| value.is_none_or(Value::is_object);
    if attribute.sensitive
        || attribute.text
        || !(nested(before) || nested(after))
        || !shape_fits(before)
        || !shape_fits(after)
    {
        return None;
    }
    let mut leaves: std::collections::BTreeMap<String, (Option<&Value>, Option<&Value>)> =
        std::collections::BTreeMap::new();
    let mut old = Vec::new();
    let mut new = Vec::new();
    if let Some(before) = before {
        flatten(&attribute.name, before, &mut old);
    }
    if let Some(after) = after {
        flatten(&attribute.name, after, &mut new);
    }
    for (path, value) in old {
        leaves.entry(path).or_default().0 = Some(value);
    }
    for (path, value) in new {
        leaves.entry(path).or_default().1 = Some(value);
    }
    let forces = attribute.forces_replacement;
    Some(
        leaves
            .into_iter()
            .filter_map(|(name, (before, after))| {
                let (sign, value) = match (before, after) {
                    (Some(before), Some(after)) if before == after => return None,
                    (Some(before), Some(after)) => (Sign::Change, format!("{before} -> {after}")),
                    (None, Some(after)) => (Sign::Add, after.to_string()),
                    (Some(before), None) => (Sign::Remove, format!("{before} -> null")),
                    (None, None) => return None,
                };
                Some(Line::Value {
                    sign,
                    name,
                    value,
                    forces_replacement: forces,
                })
            })
            .collect(),
    )
}

/// `(path, leaf)` for every non-object value under `value`; an empty object is a leaf.
fn flatten<'a>(path: &str, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match value.as_object() {
        Some(object) if !object.is_empty() => {
            for (key, value) in object {
                flatten(&format!("{path}.{key}"), value, out);
            }
        }
        _ => out.push((path.to_owned(), value)),
    }
}

fn diff_or_value(attribute: &AttributeChange, sign: Sign, value: String, forces: bool) -> Line {
    match attribute_diff(attribute) {
        Some(diff) => Line::Diff {
            sign,
            name: attribute.name.clone(),
            diff,
            forces_replacement: forces,
        },
        None => value_line(attribute, sign, value, forces),
    }
}

fn value_line(attribute: &AttributeChange, sign: Sign, value: String, forces: bool) -> Line {
    Line::Value {
        sign,
        name: attribute.name.clone(),
        value,
        forces_replacement: forces,
    }
}

/// A value as plan text shows it: strings quoted with JSON escaping, numbers and booleans bare,
/// arrays and objects as compact JSON, and `(sensitive)` for any value of a sensitive attribute.
pub fn format_value(attribute: &AttributeChange, value: &Value) -> String {
    if attribute.sensitive {
        SENSITIVE.to_owned()
    } else {
        // `Value`'s `Display` is `serde_json::to_string` without the `Result`: serialising a
        // `Value` cannot fail.
        value.to_string()
    }
}

/// Where the lines go: `indent` spaces before each attribute line, `diff_indent` before each
/// line of a unified diff; `color` paints the signs and the diff lines.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub indent: usize,
    pub diff_indent: usize,
    pub color: bool,
}

/// `lines` laid out, one string per output line, `=` aligned across the value lines.
pub fn render(lines: &[Line], layout: Layout) -> Vec<String> {
    let width = lines
        .iter()
        .filter_map(|line| match line {
            Line::Value { name, .. } => Some(name.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(layout.indent);
    let forces = |yes: bool| if yes { " # forces replacement" } else { "" };
    let mut out = Vec::new();
    for line in lines {
        match line {
            Line::Value {
                sign,
                name,
                value,
                forces_replacement,
            } => out.push(format!(
                "{indent}{} {name:<width$} = {value}{}",
                paint(sign.symbol(), sign.color(), layout.color),
                forces(*forces_replacement),
            )),
            Line::Diff {
                sign,
                name,
                diff,
                forces_replacement,
            } => {
                out.push(format!(
                    "{indent}{} {name}:{}",
                    paint(sign.symbol(), sign.color(), layout.color),
                    forces(*forces_replacement),
                ));
                out.extend(diff_lines(diff, layout));
            }
            Line::Hidden(count) => {
                let noun = if *count == 1 {
                    "attribute"
                } else {
                    "attributes"
                };
                out.push(format!("{indent}# ({count} unchanged {noun} hidden)"));
            }
        }
    }
    out
}

/// The lines of a unified diff, indented, with added lines green and removed lines red (the
/// `---`/`+++` header stays plain).
fn diff_lines(diff: &str, layout: Layout) -> impl Iterator<Item = String> {
    let indent = " ".repeat(layout.diff_indent);
    diff.lines().enumerate().map(move |(index, line)| {
        let color = match line.as_bytes().first() {
            _ if index < 2 => None,
            Some(b'+') => Some(Color::Green),
            Some(b'-') => Some(Color::Red),
            _ => None,
        };
        match color {
            Some(color) => format!("{indent}{}", paint(line, color, layout.color)),
            None => format!("{indent}{line}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixture;

    #[test]
    fn updates_show_only_changed_attributes_and_count_the_rest() {
        // An update lists its changed attributes, then says how many unchanged ones it hid.
        let plan = fixture::plan();
        let change = fixture::change(&plan, "secret.db");
        let lines = render(
            &lines(change),
            Layout {
                indent: 0,
                diff_indent: 2,
                color: false,
            },
        );
        assert_eq!(
            lines,
            [
                "~ content_hash = (sensitive) -> (sensitive) # forces replacement",
                "~ version      = 1 -> 2",
                "# (1 unchanged attribute hidden)",
            ]
        );
    }

    #[test]
    fn an_object_of_objects_shows_one_line_per_changed_field() {
        // A stack's services: each changed field on its own line, added and removed services
        // field by field, unchanged fields not at all.
        let attribute = AttributeChange {
            name: "services".to_owned(),
            before: Some(serde_json::json!({
                "s_web": {"image": "web:1", "replicas": 3},
                "s_old": {"image": "old:1", "replicas": 1},
            })),
            after: Some(serde_json::json!({
                "s_web": {"image": "web:1", "replicas": 2},
                "s_new": {"image": "new:1", "replicas": "global"},
            })),
            unknown_after: false,
            sensitive: false,
            text: false,
            forces_replacement: false,
        };
        let lines = nested_lines(
            &attribute,
            attribute.before.as_ref(),
            attribute.after.as_ref(),
        )
        .expect("nested");
        let layout = Layout {
            indent: 0,
            diff_indent: 0,
            color: false,
        };
        assert_eq!(
            render(&lines, layout),
            [
                "+ services.s_new.image    = \"new:1\"",
                "+ services.s_new.replicas = \"global\"",
                "- services.s_old.image    = \"old:1\" -> null",
                "- services.s_old.replicas = 1 -> null",
                "~ services.s_web.replicas = 3 -> 2",
            ]
        );
        // A flat object (node labels) stays on one line.
        let labels = AttributeChange {
            name: "labels".to_owned(),
            before: Some(serde_json::json!({"zone": "a"})),
            after: Some(serde_json::json!({"zone": "b"})),
            ..attribute
        };
        assert!(nested_lines(&labels, labels.before.as_ref(), labels.after.as_ref()).is_none());
    }

    #[test]
    fn values_are_json_and_sensitive_values_are_hidden() {
        // Strings are quoted and escaped like JSON, other scalars bare, compound values compact.
        let attribute = AttributeChange {
            name: "x".to_owned(),
            before: None,
            after: None,
            unknown_after: false,
            sensitive: false,
            text: false,
            forces_replacement: false,
        };
        let cases = [
            (Value::from("a \"b\"\n"), r#""a \"b\"\n""#),
            (Value::from(3), "3"),
            (Value::from(true), "true"),
            (Value::Null, "null"),
            (serde_json::json!(["a", {"b": 1}]), r#"["a",{"b":1}]"#),
        ];
        for (value, expected) in cases {
            assert_eq!(format_value(&attribute, &value), expected);
        }
        let sensitive = AttributeChange {
            sensitive: true,
            ..attribute
        };
        assert_eq!(
            format_value(&sensitive, &Value::from("sha256:ab")),
            "(sensitive)"
        );
    }

    #[test]
    fn colour_paints_signs_and_diff_lines_but_not_diff_headers() {
        // With colour on, `+` is green, `-` red and `~` yellow; `---`/`+++` headers stay plain.
        let lines = [
            Line::Value {
                sign: Sign::Change,
                name: "a".to_owned(),
                value: "1 -> 2".to_owned(),
                forces_replacement: false,
            },
            Line::Diff {
                sign: Sign::Change,
                name: "b".to_owned(),
                diff: "--- b (before)\n+++ b (after)\n@@ -1 +1 @@\n-x\n+y\n".to_owned(),
                forces_replacement: false,
            },
        ];
        let layout = Layout {
            indent: 0,
            diff_indent: 0,
            color: true,
        };
        assert_eq!(
            render(&lines, layout),
            [
                "\x1b[33m~\x1b[0m a = 1 -> 2",
                "\x1b[33m~\x1b[0m b:",
                "--- b (before)",
                "+++ b (after)",
                "@@ -1 +1 @@",
                "\x1b[31m-x\x1b[0m",
                "\x1b[32m+y\x1b[0m",
            ]
        );
    }
}
