//! Variables: their values from defaults, `SWARMFORM_VAR_NAME`, `--var-file` and `--var`,
//! typed like their defaults; and the value helpers loading and evaluation share (TOML to
//! JSON, strings rendered as templates, sensitive strings collected).

use std::ops::Range;

use indexmap::IndexMap;
use serde_json::Value;

use super::{Options, Variable, display_path, name_error, unquoted_toml_error};
use crate::address::is_name;
use crate::config::model::{Name, Table, VariableDecl};
use crate::config::read::{self, Purpose, Quote};
use crate::config::source::{Diagnostic, FileId, Location, Sources};
use crate::config::template;

/// Precedence, lowest first: default, `SWARMFORM_VAR_NAME`, `--var-file`, `--var`.
pub(super) fn resolve_variables(
    options: &Options,
    sources: &mut Sources,
    root: FileId,
    declared: &Table<VariableDecl>,
    errors: &mut Vec<Diagnostic>,
) -> (IndexMap<String, Variable>, Vec<String>) {
    let mut values: IndexMap<String, Option<Value>> = IndexMap::new();
    for (name, declaration) in declared {
        if !is_name(name.get_ref()) {
            errors.push(name_error("variable", name, root));
            continue;
        }
        values.insert(
            name.get_ref().clone(),
            declaration.default.as_ref().map(toml_to_json),
        );
    }
    let find = |name: &str| declared.iter().find(|(key, _)| key.get_ref() == name);
    for (key, text) in &options.env {
        if let Some(name) = key.strip_prefix("SWARMFORM_VAR_")
            && let Some((_, declaration)) = find(name)
        {
            values.insert(name.to_owned(), Some(typed(declaration, text)));
        }
    }
    for path in &options.var_files {
        // Named on the command line, so a pipe is fine: `--var-file /dev/stdin`, `<(command)`.
        let read = read::bytes_or_pipe(path, Purpose::Config)
            .and_then(|content| read::text(sources, content, display_path(path)));
        let what = format!("the variable file `{}`", path.display());
        let file = match read {
            Ok(file) => file,
            Err(error) => {
                errors.push(error.diagnostic(sources, &what, None, "", Quote::No, None));
                continue;
            }
        };
        match toml::from_str::<IndexMap<Name, toml::Value>>(sources.text(file)) {
            Ok(table) => {
                for (name, value) in table {
                    if find(name.get_ref()).is_none() {
                        // Named, not quoted: the line may hold a password.
                        let at = Location::new(file, name.span()).position(sources);
                        errors.push(
                            Diagnostic::error(format!(
                                "variable `{}` at {at} is not declared",
                                name.get_ref()
                            ))
                            .help(declare(name.get_ref())),
                        );
                    } else {
                        values.insert(name.into_inner(), Some(toml_to_json(&value)));
                    }
                }
            }
            Err(error) => errors.push(unquoted_toml_error(
                sources,
                file,
                &error,
                &what,
                None,
                "",
                "a variable file holds `NAME = VALUE` lines in TOML; it is not quoted, as it may hold sensitive values: open it at that position",
            )),
        }
    }
    for assignment in &options.vars {
        let Some((name, text)) = assignment.split_once('=') else {
            errors.push(
                Diagnostic::error(format!("`--var {assignment}` is not NAME=VALUE"))
                    .help("write `--var name=value`"),
            );
            continue;
        };
        match find(name) {
            Some((_, declaration)) => {
                values.insert(name.to_owned(), Some(typed(declaration, text)));
            }
            None => errors.push(undeclared(name)),
        }
    }
    let mut variables = IndexMap::new();
    let mut sensitive_values = Vec::new();
    for (name, declaration) in declared {
        let Some(value) = values.get(name.get_ref()) else {
            continue;
        };
        match value {
            Some(value) => {
                if declaration.sensitive {
                    collect_strings(value, &mut sensitive_values);
                }
                variables.insert(
                    name.get_ref().clone(),
                    Variable { value: value.clone(), sensitive: declaration.sensitive },
                );
            }
            None => errors.push(
                Diagnostic::error(format!("variable `{}` has no value", name.get_ref()))
                    .at(Location::new(root, name.span()), "declared here without a default")
                    .help(format!(
                        "pass `--var {0}=VALUE`, set `SWARMFORM_VAR_{0}`, put it in a `--var-file`, or give it a `default`",
                        name.get_ref()
                    )),
            ),
        }
    }
    (variables, sensitive_values)
}

fn undeclared(name: &str) -> Diagnostic {
    Diagnostic::error(format!("variable `{name}` is not declared")).help(declare(name))
}

fn declare(name: &str) -> String {
    format!("declare it in the config as `[variables.{name}]`")
}

/// A value from the command line or environment takes the type of the declared default.
fn typed(declaration: &VariableDecl, text: &str) -> Value {
    let parsed = match &declaration.default {
        Some(toml::Value::Integer(_)) => text.parse::<i64>().ok().map(Value::from),
        Some(toml::Value::Float(_)) => text.parse::<f64>().ok().map(Value::from),
        Some(toml::Value::Boolean(_)) => text.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The strings of a sensitive value, each also registered with the run's redaction registry
/// (`crate::redact::register`): from now on no output shows it.
pub fn collect_strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) if !text.is_empty() => {
            crate::redact::register(text);
            into.push(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
        Value::Object(map) => map.values().for_each(|item| collect_strings(item, into)),
        Value::Number(number) => {
            let text = number.to_string();
            crate::redact::register(&text);
            into.push(text);
        }
        _ => {}
    }
}

pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Float(number) => Value::from(*number),
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), toml_to_json(value)))
                .collect(),
        ),
    }
}

/// Renders every string inside `value` as a template against `context` (so module inputs and
/// stack vars can say `"{{var.tag}}"`).
pub fn render_strings(
    value: &toml::Value,
    context: &Value,
    sources: &mut Sources,
    file: FileId,
    span: Range<usize>,
) -> Result<Value, Diagnostic> {
    let json = toml_to_json(value);
    render_json_strings(json, context, sources, file, &span)
}

fn render_json_strings(
    value: Value,
    context: &Value,
    sources: &mut Sources,
    file: FileId,
    span: &Range<usize>,
) -> Result<Value, Diagnostic> {
    Ok(match value {
        Value::String(text) if text.contains("{{") => {
            let snippet = sources.add(sources.path(file).to_path_buf(), text);
            let rendered =
                template::render_snippet(sources, snippet, context).map_err(|mut error| {
                    error.location = Some(Location::new(file, span.clone()));
                    error
                })?;
            Value::String(rendered)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| render_json_strings(item, context, sources, file, span))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| {
                    Ok((
                        key,
                        render_json_strings(item, context, sources, file, span)?,
                    ))
                })
                .collect::<Result<_, Diagnostic>>()?,
        ),
        other => other,
    })
}
