//! YAML written for a YAML 1.1 reader (Docker's compose loader, gopkg.in/yaml): block style,
//! as people and tools expect a compose file to look, with every string double-quoted, so
//! `yes`, `on`, `1_000` or `60:30` stay strings where a plain scalar would be read as a
//! boolean or a (base 60) number. A mapping key is plain only when it is a word no YAML reader
//! takes for anything but a string. serde_norway's writer leaves those strings plain, and JSON
//! (YAML too) reads badly in a log and defeats tools that look for `services:` at a line's
//! start.

use std::fmt::Write as _;

use serde_norway::Value;

/// `value` as a YAML document ending in a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(mapping) if !mapping.is_empty() => block(&mut out, value, 0, false),
        Value::Sequence(sequence) if !sequence.is_empty() => block(&mut out, value, 0, false),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// A non-empty mapping or sequence, one entry a line at `indent`; `continued`: the first line
/// goes on the current one (after a sequence's `- `).
fn block(out: &mut String, value: &Value, indent: usize, continued: bool) {
    let pad = |out: &mut String, index: usize| {
        if index > 0 || !continued {
            out.push_str(&" ".repeat(indent));
        }
    };
    match value {
        Value::Mapping(mapping) => {
            for (index, (key, value)) in mapping.iter().enumerate() {
                pad(out, index);
                out.push_str(&key_text(key));
                out.push(':');
                match value {
                    Value::Mapping(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(out, value, indent + 2, false);
                    }
                    Value::Sequence(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(out, value, indent + 2, false);
                    }
                    Value::Tagged(tagged) => {
                        out.push(' ');
                        tagged_value(out, tagged);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&inline(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Sequence(sequence) => {
            for (index, item) in sequence.iter().enumerate() {
                pad(out, index);
                out.push_str("- ");
                match item {
                    Value::Mapping(inner) if !inner.is_empty() => {
                        block(out, item, indent + 2, true)
                    }
                    Value::Sequence(inner) if !inner.is_empty() => {
                        block(out, item, indent + 2, true);
                    }
                    Value::Tagged(tagged) => tagged_value(out, tagged),
                    scalar => {
                        out.push_str(&inline(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// `!tag value`, the value in flow style after the tag.
fn tagged_value(out: &mut String, tagged: &serde_norway::value::TaggedValue) {
    let _ = writeln!(out, "{} {}", tagged.tag, inline(&tagged.value));
}

/// A value on one line: strings double-quoted (JSON's escapes are YAML's), collections in
/// flow style.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number_text(number),
        Value::String(text) => quoted(text),
        Value::Sequence(sequence) => {
            let items: Vec<String> = sequence.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Mapping(mapping) => {
            let entries: Vec<String> = mapping
                .iter()
                .map(|(key, value)| format!("{}: {}", key_text(key), inline(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, inline(&tagged.value)),
    }
}

fn number_text(number: &serde_norway::Number) -> String {
    if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
        if float.is_nan() {
            return ".nan".to_owned();
        }
        if float.is_infinite() {
            return if float > 0.0 { ".inf" } else { "-.inf" }.to_owned();
        }
        // `{:?}` keeps the point: 1.0 stays a float.
        return format!("{float:?}");
    }
    number.to_string()
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{}\"", text.escape_default()))
}

/// A key plain when it is a word (letters, digits, `_`, `.`, `-`, starting with a letter or
/// `_`) that no YAML 1.1 reader resolves to a boolean or null; any other key as its value.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) if plain_word(text) => text.clone(),
        other => inline(other),
    }
}

fn plain_word(text: &str) -> bool {
    const RESOLVED: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|char| char.is_ascii_alphanumeric() || matches!(char, '_' | '.' | '-'))
        && !RESOLVED.contains(&text.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> (String, Value) {
        let value: Value = serde_norway::from_str(text).expect("YAML");
        let written = to_string(&value);
        let read: Value = serde_norway::from_str(&written).expect("what is written reads back");
        (written, read)
    }

    #[test]
    fn compose_files_are_written_in_block_style_with_quoted_strings() {
        let (written, read) = round_trip(
            "version: \"3.8\"\nservices:\n  web:\n    image: nginx:1\n    ports:\n      - \"60:30\"\n      - target: 80\n        published: 8080\n    environment: {A: \"yes\", B: \"1_000\", \"on\": x}\n    deploy:\n      replicas: 3\n      labels: []\n    command: [\"sh\", \"-c\", \"echo 'a\\nb'\"]\n    healthcheck: {}\n    cpus: 1.0\n    init: true\n    nested: [[1, 2], [3]]\n",
        );
        assert_eq!(
            written,
            r#"version: "3.8"
services:
  web:
    image: "nginx:1"
    ports:
      - "60:30"
      - target: 80
        published: 8080
    environment:
      A: "yes"
      B: "1_000"
      "on": "x"
    deploy:
      replicas: 3
      labels: []
    command:
      - "sh"
      - "-c"
      - "echo 'a\nb'"
    healthcheck: {}
    cpus: 1.0
    init: true
    nested:
      - - 1
        - 2
      - - 3
"#
        );
        let original: Value = serde_norway::from_str(
            "version: \"3.8\"\nservices:\n  web:\n    image: nginx:1\n    ports:\n      - \"60:30\"\n      - target: 80\n        published: 8080\n    environment: {A: \"yes\", B: \"1_000\", \"on\": x}\n    deploy:\n      replicas: 3\n      labels: []\n    command: [\"sh\", \"-c\", \"echo 'a\\nb'\"]\n    healthcheck: {}\n    cpus: 1.0\n    init: true\n    nested: [[1, 2], [3]]\n",
        )
        .expect("YAML");
        assert_eq!(read, original);
    }

    #[test]
    fn keys_and_scalars_a_reader_could_misread_are_quoted() {
        let (written, read) = round_trip(
            "\"yes\": 1\n\"8080\": 2\n\"a b\": 3\n\"x:y\": .inf\nnull-ish: ~\nkey.with-dots_1: \"\"\n",
        );
        assert_eq!(
            written,
            "\"yes\": 1\n\"8080\": 2\n\"a b\": 3\n\"x:y\": .inf\nnull-ish: null\nkey.with-dots_1: \"\"\n"
        );
        assert_eq!(read["yes"].as_u64(), Some(1));
        assert_eq!(read["8080"].as_u64(), Some(2));
        assert_eq!(to_string(&Value::from("on")), "\"on\"\n");
    }
}
