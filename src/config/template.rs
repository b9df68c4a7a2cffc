//! Handlebars templates in strict mode: an unknown variable is an error pointing at the
//! template's line and column, never an empty string in a deployed file.

use std::sync::LazyLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;

use super::source::{Diagnostic, FileId, Location, Sources};

static REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    // Compose files and configs are YAML and plain text, not HTML.
    registry.register_escape_fn(handlebars::no_escape);
    registry.register_helper("json", Box::new(json_helper));
    registry
});

/// `{{json value}}`: the value as JSON, which is also valid YAML (lists, maps, quoted strings).
fn json_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    let text = serde_json::to_string(value.value())
        .map_err(|error| RenderErrorReason::Other(error.to_string()))?;
    out.write(&text)?;
    Ok(())
}

/// How deep subexpressions (`(helper …)` inside `{{…}}`) may nest. Handlebars takes twice as
/// long to render each level deeper (26 levels: minutes in a debug build); templates need few.
const MAX_SUBEXPRESSION_DEPTH: usize = 8;

/// Renders the template held in `file` with `context`.
pub fn render(sources: &Sources, file: FileId, context: &Value) -> Result<String, Diagnostic> {
    let text = sources.text(file);
    if let Some(offset) = too_deep(text) {
        return Err(Diagnostic::error(format!(
            "subexpressions nested deeper than {MAX_SUBEXPRESSION_DEPTH} levels in template"
        ))
        .at(Location::new(file, sources.char_at(file, offset)), "too deep")
        .help("handlebars renders each level in twice the time; compute the value in a variable instead"));
    }
    REGISTRY.render_template(text, context).map_err(|error| {
        let (message, position) = match error.reason() {
            RenderErrorReason::MissingVariable(path) => (
                format!(
                    "unknown variable `{}` in template",
                    path.as_deref().unwrap_or("?")
                ),
                error.line_no.zip(error.column_no),
            ),
            RenderErrorReason::TemplateError(template_error) => (
                format!("invalid template: {}", template_error.reason()),
                template_error.pos(),
            ),
            other => (
                format!("template failed to render: {other}"),
                error.line_no.zip(error.column_no),
            ),
        };
        let available = describe_keys(context);
        let diagnostic = Diagnostic::error(message).help(format!(
            "templates are rendered in strict mode; the names available here are: {available}"
        ));
        match position {
            Some((line, column)) => {
                let start = sources.offset(file, line, column);
                let end = text[start..]
                    .find("}}")
                    .map_or(start, |index| start + index + 2);
                diagnostic.at(Location::new(file, start..end), "used here")
            }
            None => diagnostic.at(Location::new(file, 0..0), "in this template"),
        }
    })
}

/// The offset of the first `(` nested deeper than [`MAX_SUBEXPRESSION_DEPTH`] inside a
/// mustache (quoted strings and comments left out).
fn too_deep(text: &str) -> Option<usize> {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let start = text.len() - rest.len() + open;
        let inside = &text[start + 2..];
        if inside.starts_with('!') {
            let end = if inside.starts_with("!--") {
                "--}}"
            } else {
                "}}"
            };
            rest = inside
                .find(end)
                .map_or("", |close| &inside[close + end.len()..]);
            continue;
        }
        let (mut depth, mut quote) = (0, None);
        let mut close = inside.len();
        for (index, byte) in inside.bytes().enumerate() {
            match (quote, byte) {
                (Some(open), _) if byte == open => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(byte),
                (None, b'(') => {
                    depth += 1;
                    if depth > MAX_SUBEXPRESSION_DEPTH {
                        return Some(start + 2 + index);
                    }
                }
                (None, b')') => depth = usize::saturating_sub(depth, 1),
                (None, b'}') if inside[index..].starts_with("}}") => {
                    close = index + 2;
                    break;
                }
                _ => {}
            }
        }
        rest = &inside[close..];
    }
    None
}

/// `var.tag, var.replicas, vars.port` — the top two levels of the context, for hints.
fn describe_keys(context: &Value) -> String {
    let mut names = Vec::new();
    if let Value::Object(map) = context {
        for (key, value) in map {
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    names.extend(inner.keys().map(|name| format!("{key}.{name}")));
                }
                _ => names.push(key.clone()),
            }
        }
    }
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn source(text: &str) -> (Sources, FileId) {
        let mut sources = Sources::default();
        let file = sources.add("web.yml.hbs".into(), text.to_owned());
        (sources, file)
    }

    // Variables render verbatim: no HTML escaping in YAML.
    #[test]
    fn renders_without_html_escaping() {
        let (sources, file) = source("image: {{var.image}}\nlist: {{json vars.ports}}\n");
        let text = render(
            &sources,
            file,
            &json!({"var": {"image": "a/b:1<2>&"}, "vars": {"ports": [80, 443]}}),
        )
        .expect("renders");
        assert_eq!(text, "image: a/b:1<2>&\nlist: [80,443]\n");
    }

    // An unknown variable is an error at its line and column, with the names that exist.
    #[test]
    fn unknown_variables_are_errors_with_position() {
        let (sources, file) = source("services:\n  web:\n    image: {{var.tag}}\n");
        let diagnostic =
            render(&sources, file, &json!({"var": {"image": "x"}})).expect_err("strict");
        assert!(diagnostic.message.contains("`var.tag`"), "{diagnostic:?}");
        assert_eq!(diagnostic.position(&sources), "web.yml.hbs:3:12");
        assert!(
            diagnostic
                .help
                .as_deref()
                .unwrap_or("")
                .contains("var.image"),
            "{diagnostic:?}"
        );
    }

    // A malformed template is an error naming where it broke.
    #[test]
    fn malformed_templates_are_errors() {
        let (sources, file) = source("a: {{#if x}}\n");
        let diagnostic = render(&sources, file, &json!({"x": true})).expect_err("malformed");
        assert!(
            diagnostic.message.starts_with("invalid template"),
            "{diagnostic:?}"
        );
        assert!(diagnostic.location.is_some());
    }

    // Subexpressions nest up to the limit; one level deeper is an error at its `(`, returned at
    // once (handlebars would take minutes at 26 levels); parentheses in strings and comments
    // do not count.
    #[test]
    fn deeply_nested_subexpressions_are_refused() {
        let nested = |depth: usize| {
            format!(
                "x: {{{{json {}1{}}}}}\n",
                "(json ".repeat(depth),
                ")".repeat(depth)
            )
        };
        let (sources, file) = source(&nested(MAX_SUBEXPRESSION_DEPTH));
        let text = render(&sources, file, &json!({})).expect("renders");
        assert!(text.starts_with("x: \"\\\""), "{text}");
        for depth in [MAX_SUBEXPRESSION_DEPTH + 1, 100] {
            let (sources, file) = source(&nested(depth));
            let diagnostic = render(&sources, file, &json!({})).expect_err("too deep");
            assert!(
                diagnostic.message.contains("nested deeper than 8"),
                "{diagnostic:?}"
            );
            // `x: {{json ` and eight `(json ` before it.
            let column = 11 + 6 * MAX_SUBEXPRESSION_DEPTH;
            assert_eq!(
                diagnostic.position(&sources),
                format!("web.yml.hbs:1:{column}")
            );
        }
        let (sources, file) = source(&format!(
            "{{{{!-- {} --}}}}{{{{json \"{}\"}}}}\n",
            "(".repeat(20),
            "(".repeat(20)
        ));
        assert!(render(&sources, file, &json!({})).is_ok());
    }
}
