//! One fuzz input is a small project: files written into a folder, then validated by the code
//! `swarmform validate` runs ([`swarmform::commands::validate::check`]), with its report and a
//! valid config's plan and graph rendered to text.
//!
//! The input is the root `swarmform.toml`, then any number of files, each after a line
//! `--- PATH` (the line ends with a newline; the newline before it belongs to the delimiter, so
//! a file keeps its own last newline):
//!
//! ```text
//! [hosts.node1]
//! address = "192.0.2.11"
//!
//! --- stacks/app.yml
//! version: "3.8"
//! ```
//!
//! Paths are relative, at most four parts of ASCII letters, digits, `.`, `_` and `-` (not `.`
//! or `..`), at most 16 files, each named once: every file lands inside the folder. The folder
//! is emptied before each input.
//!
//! swarmform reads and writes the files its config names, wherever they are: an input whose
//! TOML names a local file (an include, a compose file, a template, a secret file, a module
//! source, TLS material or its folder…) outside the folder (absolute, `~`, `..`, or built by
//! `{{…}}`) is skipped, so a run never reads or writes anything but the folder.
//!
//! This file is also compiled into the integration tests (`tests/fuzz.rs`), which replay the
//! seed corpus and the regressions through [`run`].

use std::path::Path;

use swarmform::commands::validate::check;
use swarmform::config::load::Options;

/// The line that starts a file, after a newline.
const DELIMITER: &[u8] = b"\n--- ";
const MAX_FILES: usize = 16;
const MAX_PARTS: usize = 4;

/// The keys whose string values swarmform reads or writes as local paths.
const PATH_KEYS: &[&str] = &[
    "include",
    "identity_file",
    "known_hosts",
    "unlock_key_file",
    "ca",
    "cert",
    "key",
    "dir",
    "file",
    "template",
    "compose",
    "source",
    "htpasswd",
    "password_file",
];

/// The files of one input: `(path, contents)`, the root `swarmform.toml` first. `None` when
/// the input does not follow the format.
pub fn parse(data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut pieces = split(data, DELIMITER).into_iter();
    let root = pieces.next().unwrap_or_default();
    let mut files = vec![("swarmform.toml".to_owned(), root.to_vec())];
    for piece in pieces {
        let (name, contents) = match piece.iter().position(|byte| *byte == b'\n') {
            Some(newline) => (&piece[..newline], &piece[newline + 1..]),
            None => (piece, &piece[piece.len()..]),
        };
        let name = std::str::from_utf8(name).ok()?;
        if !is_path(name) || files.iter().any(|(known, _)| known == name) {
            return None;
        }
        files.push((name.to_owned(), contents.to_vec()));
        if files.len() > MAX_FILES {
            return None;
        }
    }
    Some(files)
}

/// The input format for `files`, the root first: what [`parse`] reads back.
pub fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (index, (name, contents)) in files.iter().enumerate() {
        if index > 0 {
            data.extend_from_slice(DELIMITER);
            data.extend_from_slice(name.as_bytes());
            data.push(b'\n');
        }
        data.extend_from_slice(contents);
    }
    data
}

fn split<'a>(data: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while let Some(index) = rest
        .windows(delimiter.len())
        .position(|window| window == delimiter)
    {
        pieces.push(&rest[..index]);
        rest = &rest[index + delimiter.len()..];
    }
    pieces.push(rest);
    pieces
}

fn is_path(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() <= MAX_PARTS
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.len() <= 40
                && *part != "."
                && *part != ".."
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
        })
}

/// Whether every local path the files' TOML names stays inside the project folder.
fn stays_inside(files: &[(String, Vec<u8>)]) -> bool {
    files.iter().all(|(_, contents)| {
        match std::str::from_utf8(contents)
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
        {
            Some(table) => table_stays_inside(&table),
            // Not TOML: swarmform cannot read a path out of it either.
            None => true,
        }
    })
}

fn table_stays_inside(table: &toml::Table) -> bool {
    table.iter().all(|(key, value)| {
        if PATH_KEYS.contains(&key.as_str()) && !value_stays_inside(value) {
            return false;
        }
        nested_stays_inside(value)
    })
}

fn nested_stays_inside(value: &toml::Value) -> bool {
    match value {
        toml::Value::Table(table) => table_stays_inside(table),
        toml::Value::Array(items) => items.iter().all(nested_stays_inside),
        _ => true,
    }
}

/// A path key's value: every string in it is a relative path that does not climb.
fn value_stays_inside(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(path) => {
            !(path.starts_with('/')
                || path.starts_with('~')
                || path.contains("..")
                || path.contains("{{"))
        }
        toml::Value::Array(items) => items.iter().all(value_stays_inside),
        toml::Value::Table(table) => table.values().all(value_stays_inside),
        _ => true,
    }
}

/// Writes the input's files into `dir` (emptied first) and validates them as
/// `swarmform validate` does; returns everything rendered: the report, plain and coloured, and
/// for a valid config its plan (text, JSON, markdown) and graph (DOT). `None` for an input
/// that is not a project (see the module's documentation); panics only if swarmform does.
pub fn run(data: &[u8], dir: &Path) -> Option<String> {
    let files = parse(data)?;
    if !stays_inside(&files) {
        return None;
    }
    write(&files, dir).ok()?;
    let options = Options {
        path: dir.join("swarmform.toml"),
        ..Options::default()
    };
    let validation = match check(&options) {
        Ok(validation) => validation,
        Err(error) => return Some(format!("error: {error}\n")),
    };
    let mut text = validation.report(false);
    text.push_str(&validation.report(true));
    if let Some(valid) = &validation.valid {
        text.push_str(&swarmform::ui::plan_text(&valid.plan, false));
        text.push_str(&swarmform::ui::plan_json(&valid.plan));
        text.push_str(&swarmform::ui::plan_markdown(&valid.plan));
        text.push_str(&valid.graph.dot(&valid.plan));
        for vertex in valid.graph.order() {
            text.push_str(&format!("{vertex:?}\n"));
        }
    }
    Some(text)
}

fn write(files: &[(String, Vec<u8>)], dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    std::fs::create_dir_all(dir)?;
    for (name, contents) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A packed project parses back into the same files, last newlines kept.
    #[test]
    fn pack_and_parse_round_trip() {
        let files = vec![
            ("swarmform.toml".to_owned(), b"a = 1\n".to_vec()),
            ("stacks/app.yml".to_owned(), b"x: y\n\n".to_vec()),
            ("secret".to_owned(), b"no newline".to_vec()),
            ("empty".to_owned(), Vec::new()),
        ];
        assert_eq!(parse(&pack(&files)), Some(files));
    }

    // Paths that would leave the folder, or TOML naming a file outside it, are no project.
    #[test]
    fn inputs_stay_inside_the_folder() {
        for name in ["../x", "/etc/passwd", "a//b", ".", "a/../b", "a/b/c/d/e"] {
            assert_eq!(parse(format!("\n--- {name}\nx").as_bytes()), None, "{name}");
        }
        for toml in [
            "include = [\"/etc/hosts\"]",
            "[secrets.s]\nfile = \"../s\"",
            "[hosts.h.daemon.tcp.tls]\ngenerate = true\ndir = \"/tmp/x\"",
            "[stacks.s]\ncompose = \"{{var.p}}\"",
            "[modules.m]\nsource = \"~/m\"",
        ] {
            let files = parse(toml.as_bytes()).expect("parses");
            assert!(!stays_inside(&files), "{toml}");
        }
        let files = parse(b"[files.f]\npath = \"/etc/motd\"\nsource = \"motd\"\n").expect("parses");
        assert!(stays_inside(&files));
    }
}
