//! Unified diffs of multi-line text attributes, shared by every renderer so a reviewer sees the
//! same hunks in the terminal, in JSON and in a pull-request comment.

use serde_json::Value;
use similar::TextDiff;

use crate::plan::AttributeChange;

/// The unified diff from `before` to `after`, with three lines of context and a header naming
/// the attribute. Empty when the texts are equal. Every line ends with a newline.
pub fn unified(name: &str, before: &str, after: &str) -> String {
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{name} (before)"), &format!("{name} (after)"))
        .to_string()
}

/// The diff a renderer prints for `attribute` instead of `before -> after`: `Some` only for a
/// non-sensitive text attribute whose value is known, is a string (or absent, read as empty)
/// on both sides, and changed.
pub fn attribute_diff(attribute: &AttributeChange) -> Option<String> {
    if !attribute.text || attribute.sensitive || attribute.unknown_after {
        return None;
    }
    let before = text_or_empty(attribute.before.as_ref())?;
    let after = text_or_empty(attribute.after.as_ref())?;
    let diff = unified(&attribute.name, before, after);
    (!diff.is_empty()).then_some(diff)
}

fn text_or_empty(value: Option<&Value>) -> Option<&str> {
    match value {
        None => Some(""),
        Some(Value::String(text)) => Some(text),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_becomes_one_hunk_with_context_and_a_header() {
        // A one-line change shows up as a removal and an addition between its context lines.
        let diff = unified("daemon_json", "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(
            diff,
            "--- daemon_json (before)\n\
             +++ daemon_json (after)\n\
             @@ -1,3 +1,3 @@\n \
             a\n\
             -b\n\
             +B\n \
             c\n"
        );
    }

    #[test]
    fn only_known_non_sensitive_text_attributes_get_a_diff() {
        // Sensitive, unknown, non-string and unchanged text attributes fall back to plain values.
        let text = AttributeChange {
            name: "daemon_json".to_owned(),
            before: None,
            after: Some(Value::from("{}\n")),
            unknown_after: false,
            sensitive: false,
            text: true,
            forces_replacement: false,
        };
        assert_eq!(
            attribute_diff(&text).as_deref(),
            Some("--- daemon_json (before)\n+++ daemon_json (after)\n@@ -0,0 +1 @@\n+{}\n")
        );
        let sensitive = AttributeChange {
            sensitive: true,
            ..text.clone()
        };
        let unknown = AttributeChange {
            unknown_after: true,
            ..text.clone()
        };
        let number = AttributeChange {
            after: Some(Value::from(3)),
            ..text.clone()
        };
        let unchanged = AttributeChange {
            before: text.after.clone(),
            ..text.clone()
        };
        let plain = AttributeChange {
            text: false,
            ..text
        };
        for attribute in [sensitive, unknown, number, unchanged, plain] {
            assert_eq!(attribute_diff(&attribute), None, "{attribute:?}");
        }
    }

    #[test]
    fn equal_texts_give_an_empty_diff() {
        // Nothing changed means no header either, so callers can test for emptiness.
        assert_eq!(unified("x", "same\n", "same\n"), "");
    }

    #[test]
    fn text_without_a_final_newline_is_marked() {
        // The last line of a text lacking its newline is flagged, as diff(1) does, and the
        // output still ends with a newline.
        let diff = unified("x", "", "only");
        assert!(
            diff.ends_with("+only\n\\ No newline at end of file\n"),
            "{diff}"
        );
    }
}
