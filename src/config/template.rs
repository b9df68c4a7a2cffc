//! Handlebars templates in strict mode: an unknown variable is an error pointing at the
//! template's line and column, never an empty string in a deployed file.
//!
//! Nothing is HTML-escaped: compose files and configs are YAML and plain text. A file that
//! lands on a host ([`render`]) is checked instead: `{{x}}` writes a value as it is, so a value
//! with a line break or a control character (which could add a YAML key to a compose file or a
//! line to a config) is an error at that expression, pointing to `{{json x}}` (a quoted
//! string, valid YAML) and `{{{x}}}` (the lines as they are, on purpose).

use std::sync::LazyLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;

use super::check;
use super::source::{Diagnostic, FileId, Location, Sources};

/// For files that land on hosts: `{{x}}` values are checked.
static REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| registry(checked_escape));

/// For strings inside the config (`vars`, module inputs): their values are checked where they
/// are finally written, so a multi-line value may pass through them.
static SNIPPETS: LazyLock<Handlebars<'static>> = LazyLock::new(|| registry(handlebars::no_escape));

fn registry(escape: fn(&str) -> String) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(escape);
    registry.register_helper("json", Box::new(json_helper));
    registry
}

/// Put before a `{{x}}` value that holds a line break: [`CheckedOutput`] refuses any write
/// that carries it, which makes handlebars stop with the expression's line and column. NUL
/// cannot come from a template's own text that validates, and nothing with it is ever written.
const LINE_BREAK_MARK: &str = "\u{0}swarmform:line-break\u{0}";

/// The escape function of [`REGISTRY`]: ordinary values unchanged, byte for byte; a value with
/// a line break or a control character marked.
fn checked_escape(text: &str) -> String {
    if check::line_breaking(text).is_some() {
        format!("{LINE_BREAK_MARK}{text}")
    } else {
        text.to_owned()
    }
}

/// The error a marked write becomes: which character the value held.
#[derive(Debug)]
struct LineBreak(char);

impl std::fmt::Display for LineBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a value with {}", check::describe_character(self.0))
    }
}

impl std::error::Error for LineBreak {}

/// The rendered text, refusing marked values.
#[derive(Default)]
struct CheckedOutput(Vec<u8>);

impl std::io::Write for CheckedOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mark = LINE_BREAK_MARK.as_bytes();
        if let Some(at) = bytes.windows(mark.len()).position(|window| window == mark) {
            let value = String::from_utf8_lossy(&bytes[at + mark.len()..]);
            let character = check::line_breaking(&value).unwrap_or('\n');
            return Err(std::io::Error::other(LineBreak(character)));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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

/// Renders the template held in `file`, a file that lands on a host, with `context`: a `{{x}}`
/// whose value holds a line break or a control character is an error at it.
pub fn render(sources: &Sources, file: FileId, context: &Value) -> Result<String, Diagnostic> {
    let text = sources.text(file);
    refuse_deep_nesting(sources, file)?;
    let mut output = CheckedOutput::default();
    REGISTRY
        .render_template_to_write(text, context, &mut output)
        .map_err(|error| diagnostic(sources, file, context, &error))?;
    String::from_utf8(output.0).map_err(|_| {
        Diagnostic::error("the template rendered text that is not UTF-8")
            .at(Location::new(file, 0..0), "in this template")
    })
}

/// Renders a template string inside the config (`file` holds it): a value in `vars` or a
/// module input. What it renders to is checked where it is written to a host.
pub fn render_snippet(
    sources: &Sources,
    file: FileId,
    context: &Value,
) -> Result<String, Diagnostic> {
    let text = sources.text(file);
    refuse_deep_nesting(sources, file)?;
    SNIPPETS
        .render_template(text, context)
        .map_err(|error| diagnostic(sources, file, context, &error))
}

/// A handlebars error as a diagnostic at the template's line and column.
fn diagnostic(
    sources: &Sources,
    file: FileId,
    context: &Value,
    error: &handlebars::RenderError,
) -> Diagnostic {
    let line_break = match error.reason() {
        RenderErrorReason::IOError(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<LineBreak>())
            .map(|LineBreak(character)| *character),
        _ => None,
    };
    if let Some(character) = line_break {
        let span = error
            .line_no
            .zip(error.column_no)
            .map_or(0..0, |(line, column)| {
                expression(sources, file, line, column)
            });
        let written = sources.text(file).get(span.clone()).unwrap_or("{{...}}");
        return Diagnostic::error(format!(
            "the value of `{written}` contains {}",
            check::describe_character(character)
        ))
        .at(Location::new(file, span), "`{{x}}` writes a value as one line of text")
        .help("a line break written here could add a YAML key or a line of configuration; write `{{json x}}` for a quoted string (valid YAML and JSON), or `{{{x}}}` to write the value's lines as they are when the file should have them");
    }
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
        Some((line, column)) => diagnostic.at(
            Location::new(file, expression(sources, file, line, column)),
            "used here",
        ),
        None => diagnostic.at(Location::new(file, 0..0), "in this template"),
    }
}

/// The bytes of the expression at a 1-based line and column, up to its `}}`.
fn expression(
    sources: &Sources,
    file: FileId,
    line: usize,
    column: usize,
) -> std::ops::Range<usize> {
    let text = sources.text(file);
    let start = sources.offset(file, line, column);
    let end = text
        .get(start..)
        .and_then(|rest| rest.find("}}"))
        .map_or(start, |index| start + index + 2);
    start..end
}

/// An error at the first subexpression nested deeper than [`MAX_SUBEXPRESSION_DEPTH`] in the
/// template `file`, before handlebars spends minutes on it.
fn refuse_deep_nesting(sources: &Sources, file: FileId) -> Result<(), Diagnostic> {
    match too_deep(sources.text(file)) {
        None => Ok(()),
        Some(offset) => Err(Diagnostic::error(format!(
            "subexpressions nested deeper than {MAX_SUBEXPRESSION_DEPTH} levels in template"
        ))
        .at(Location::new(file, sources.char_at(file, offset)), "too deep")
        .help("handlebars renders each level in twice the time; compute the value in a variable instead")),
    }
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

    // A `{{x}}` value with a line break or a control character is an error at that
    // expression (inside blocks too) naming the character, never the value; `{{json x}}` and
    // `{{{x}}}` write it, quoted or as it is.
    #[test]
    fn line_breaks_in_plain_values_are_errors_at_the_expression() {
        let context = json!({"vars": {"note": "x\nprivileged: true", "items": ["ok", "a\r\nb"]}});
        let (sources, file) = source("labels:\n  note: {{vars.note}}\n");
        let diagnostic = render(&sources, file, &context).expect_err("a newline");
        assert_eq!(
            diagnostic.message,
            "the value of `{{vars.note}}` contains a newline (\\n)"
        );
        assert_eq!(diagnostic.position(&sources), "web.yml.hbs:2:9");
        assert!(
            !format!("{diagnostic:?}").contains("privileged"),
            "{diagnostic:?}"
        );

        let (sources, file) = source("list:\n{{#each vars.items}}\n  - {{this}}\n{{/each}}\n");
        let diagnostic = render(&sources, file, &context).expect_err("a CR");
        assert!(
            diagnostic.message.contains("carriage return"),
            "{diagnostic:?}"
        );
        assert_eq!(diagnostic.position(&sources), "web.yml.hbs:3:5");

        let (sources, file) = source("note: {{lookup vars \"note\"}}\n");
        let diagnostic = render(&sources, file, &context).expect_err("through a helper");
        assert_eq!(diagnostic.position(&sources), "web.yml.hbs:1:7");

        let (sources, file) = source("note: {{json vars.note}}\nraw: {{{vars.note}}}\n");
        assert_eq!(
            render(&sources, file, &context).expect("quoted or raw"),
            "note: \"x\\nprivileged: true\"\nraw: x\nprivileged: true\n"
        );
    }

    // Values without line breaks render byte for byte, tabs, quotes and `%` included; strings
    // inside the config may carry a multi-line value on to where it is written.
    #[test]
    fn ordinary_values_render_unchanged_and_snippets_pass_lines_on() {
        let context = json!({"value": "a\tb 'c' \"d\" %n $e é"});
        let (sources, file) = source("v={{value}}\n");
        assert_eq!(
            render(&sources, file, &context).expect("renders"),
            "v=a\tb 'c' \"d\" %n $e é\n"
        );
        let (sources, file) = source("{{value}}");
        assert_eq!(
            render_snippet(&sources, file, &json!({"value": "first\nsecond"})).expect("a snippet"),
            "first\nsecond"
        );
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
