//! Docker's output formats: Go's JSON encoding, `--format` Go templates over JSON values,
//! tabwriter tables, Go time strings and human durations.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Go's `json.Marshal`: compact, with `<`, `>` and `&` escaped.
pub(crate) fn go_json(value: &Value) -> String {
    go_escape(&serde_json::to_string(value).unwrap_or_default())
}

/// `json.MarshalIndent(value, "", "    ")`, as `docker inspect` prints.
pub(crate) fn go_json_pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return String::new();
    }
    go_escape(&String::from_utf8_lossy(&out))
}

fn go_escape(json: &str) -> String {
    // These characters only occur inside strings in JSON text.
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// An object whose keys are sorted, like Go's encoding of a map (the formatter contexts of
/// `docker ... ls --format '{{json .}}'`).
pub(crate) fn sorted_object(fields: Vec<(&str, Value)>) -> Value {
    let mut fields = fields;
    fields.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect::<Map<String, Value>>(),
    )
}

/// A `BTreeMap<String, String>` as a JSON object.
pub(crate) fn string_map(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect(),
    )
}

/// `k=v,k2=v2` as list formatters print labels.
pub(crate) fn labels_text(map: &std::collections::BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn civil(seconds: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rest / 3600) as u32,
        ((rest % 3600) / 60) as u32,
        (rest % 60) as u32,
    )
}

fn split(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(duration) => (duration.as_secs() as i64, duration.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// Go's RFC 3339 with nanoseconds, as time.Time marshals to JSON: `2024-05-01T10:00:00.5Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let (seconds, nanos) = split(time);
    let (year, month, day, hour, minute, second) = civil(seconds);
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{}Z",
        fraction(nanos)
    )
}

/// Go's `time.Time.String()` in UTC: `2024-05-01 10:00:00.5 +0000 UTC`.
pub(crate) fn go_time_string(time: SystemTime) -> String {
    let (seconds, nanos) = split(time);
    let (year, month, day, hour, minute, second) = civil(seconds);
    format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}{} +0000 UTC",
        fraction(nanos)
    )
}

/// `Thu May 18 08:38:34 2023`, as `docker version` prints build times.
pub(crate) fn ctime(time: SystemTime) -> String {
    let (seconds, _) = split(time);
    let (year, month, day, hour, minute, second) = civil(seconds);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        [seconds.div_euclid(86_400).rem_euclid(7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday} {month_name} {day:2} {hour:02}:{minute:02}:{second:02} {year}")
}

/// go-units' HumanDuration: `Less than a second`, `3 seconds`, `About a minute`, ...
pub(crate) fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 1 {
        return "Less than a second".to_owned();
    }
    if seconds == 1 {
        return "1 second".to_owned();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".to_owned();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (duration.as_secs_f64() / 3600.0 + 0.5) as u64;
    if hours == 1 {
        return "About an hour".to_owned();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    let days = hours / 24;
    if days < 14 {
        return format!("{days} days");
    }
    if days < 60 {
        return format!("{} weeks", days / 7);
    }
    if days < 365 * 2 {
        return format!("{} months", days / 30);
    }
    format!("{} years", days / 365)
}

/// `3 seconds ago` from `since` until now.
pub(crate) fn ago(since: SystemTime) -> String {
    let elapsed = SystemTime::now()
        .duration_since(since)
        .unwrap_or(Duration::ZERO);
    format!("{} ago", human_duration(elapsed))
}

/// Go's tabwriter as the docker CLI configures it (min width 10, padding 3).
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if index + 1 < row.len() {
                widths[index] = widths[index].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if index + 1 < row.len() {
                let width = (widths[index] + 3).max(10);
                for _ in cell.chars().count()..width {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `ManagerStatus` → `MANAGER STATUS`, `ID` → `ID`, `TLSStatus` → `TLS STATUS`.
fn header_for(field: &str) -> String {
    match field {
        "CreatedAt" => return "CREATED".to_owned(),
        "UpdatedAt" => return "UPDATED".to_owned(),
        _ => {}
    }
    let chars: Vec<char> = field.chars().collect();
    let mut out = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if index > 0 && c.is_uppercase() {
            let previous_lower = chars[index - 1].is_lowercase();
            let next_lower = chars.get(index + 1).is_some_and(|n| n.is_lowercase());
            if previous_lower || (chars[index - 1].is_uppercase() && next_lower) {
                out.push(' ');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Prints list items (formatter contexts) with `--format`, `-q` or the default table.
pub(crate) fn print_list(
    items: &[Value],
    format: Option<&str>,
    quiet: bool,
    quiet_field: &str,
    default_table: &str,
) -> Result<String, String> {
    print_list_with_headers(items, format, quiet, quiet_field, default_table, &[])
}

/// [`print_list`] with table headers that differ from the field names (`NETWORK ID`).
pub(crate) fn print_list_with_headers(
    items: &[Value],
    format: Option<&str>,
    quiet: bool,
    quiet_field: &str,
    default_table: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    if quiet {
        let mut out = String::new();
        for item in items {
            out.push_str(&plain(item.get(quiet_field).unwrap_or(&Value::Null)));
            out.push('\n');
        }
        return Ok(out);
    }
    let format = match format {
        Some(format) if !format.is_empty() => format,
        _ => default_table,
    };
    if let Some(body) = format.strip_prefix("table") {
        let body = body.trim_start();
        let template = Template::parse(body)?;
        let header_template = Template::parse(body)?;
        let mut rows = Vec::new();
        rows.push(
            header_template
                .render_headers(headers)
                .split('\t')
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
        for item in items {
            let rendered = template.render(item)?;
            rows.push(rendered.split('\t').map(str::to_owned).collect());
        }
        return Ok(table(&rows));
    }
    let template = Template::parse(format)?;
    let mut out = String::new();
    for item in items {
        out.push_str(&template.render(item)?);
        out.push('\n');
    }
    Ok(out)
}

/// Prints one object (`inspect`, `info`, `version`) with `--format`.
pub(crate) fn print_one(value: &Value, format: &str) -> Result<String, String> {
    match print_one_partial(value, format) {
        (out, None) => Ok(out),
        (_, Some(error)) => Err(error),
    }
}

/// [`print_one`] as the CLI prints a template that fails while it runs: what it wrote
/// before the failing action (and the newline), then the error.
pub(crate) fn print_one_partial(value: &Value, format: &str) -> (String, Option<String>) {
    match Template::parse(format) {
        Err(error) => (String::new(), Some(error)),
        Ok(template) => {
            let mut out = String::new();
            let result = render_nodes(&template.nodes, value, &mut out);
            out.push('\n');
            (out, result.err())
        }
    }
}

/// Go's `fmt.Print` of a value.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_owned(),
        Value::Bool(value) => value.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let is_struct = map
                .keys()
                .all(|key| key.chars().next().is_some_and(char::is_uppercase));
            if is_struct && !map.is_empty() {
                format!(
                    "{{{}}}",
                    map.values().map(plain).collect::<Vec<_>>().join(" ")
                )
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                format!(
                    "map[{}]",
                    entries
                        .iter()
                        .map(|(key, value)| format!("{key}:{}", plain(value)))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(value) => *value,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Vec<Expr>),
    If(Vec<Expr>, Vec<Node>, Vec<Node>),
    Range(Vec<Expr>, Vec<Node>),
}

#[derive(Debug, Clone)]
enum Expr {
    /// `.A.B` (empty for `.`)
    Path(Vec<String>),
    Literal(Value),
    Call(String, Vec<Expr>),
}

/// The subset of Go's text/template that docker formats use: `{{.A.B}}`, `{{json .X}}`,
/// `{{index .Labels "k"}}`, `{{join .X ","}}`, `{{upper}}`/`{{lower}}`/`{{title}}`,
/// `{{println}}`, `{{len}}`, pipelines with `|`, `{{if}}...{{else}}...{{end}}` and
/// `{{range}}...{{end}}`.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let mut literal = rest[..start].to_owned();
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err("template parsing error: template: :1: unclosed action".to_owned());
            };
            let mut action = &after[..end];
            if let Some(trimmed) = action.strip_prefix('-') {
                literal = literal.trim_end().to_owned();
                action = trimmed;
            }
            let mut trim_after = false;
            if let Some(trimmed) = action.strip_suffix('-') {
                trim_after = true;
                action = trimmed;
            }
            pieces.push((literal, Some(action.trim().to_owned())));
            rest = &after[end + 2..];
            if trim_after {
                rest = rest.trim_start();
            }
        }
        pieces.push((rest.to_owned(), None));
        let mut position = 0;
        let nodes = parse_nodes(&pieces, &mut position, &mut String::new(), false)?;
        Ok(Template { nodes })
    }

    pub fn render(&self, value: &Value) -> Result<String, String> {
        let mut out = String::new();
        render_nodes(&self.nodes, value, &mut out)?;
        Ok(out)
    }

    /// The header row of a `table` format: each field action becomes its column name.
    fn render_headers(&self, headers: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Action(exprs) => {
                    if let Some(Expr::Path(path)) = exprs.iter().rev().find_map(|expr| match expr {
                        Expr::Path(path) if !path.is_empty() => Some(Expr::Path(path.clone())),
                        Expr::Call(_, args) => args.iter().find_map(|arg| match arg {
                            Expr::Path(path) if !path.is_empty() => Some(Expr::Path(path.clone())),
                            _ => None,
                        }),
                        _ => None,
                    }) {
                        let field = path.last().map(String::as_str).unwrap_or("");
                        match headers.iter().find(|(name, _)| *name == field) {
                            Some((_, header)) => out.push_str(header),
                            None => out.push_str(&header_for(field)),
                        }
                    }
                }
                Node::If(..) | Node::Range(..) => {}
            }
        }
        out
    }
}

type Piece = (String, Option<String>);

fn parse_nodes(
    pieces: &[Piece],
    position: &mut usize,
    terminator: &mut String,
    nested: bool,
) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while *position < pieces.len() {
        let (literal, action) = &pieces[*position];
        *position += 1;
        if !literal.is_empty() {
            nodes.push(Node::Text(literal.clone()));
        }
        let Some(action) = action else {
            continue;
        };
        if action == "end" || action == "else" {
            if !nested {
                return Err(format!(
                    "template parsing error: template: :1: unexpected {{{{{action}}}}}"
                ));
            }
            *terminator = action.clone();
            return Ok(nodes);
        }
        if let Some(condition) = action.strip_prefix("if ") {
            let condition = parse_pipeline(condition)?;
            let mut end = String::new();
            let then = parse_nodes(pieces, position, &mut end, true)?;
            let otherwise = if end == "else" {
                let mut end = String::new();
                parse_nodes(pieces, position, &mut end, true)?
            } else {
                Vec::new()
            };
            nodes.push(Node::If(condition, then, otherwise));
            continue;
        }
        if let Some(over) = action.strip_prefix("range ") {
            let over = parse_pipeline(over)?;
            let mut end = String::new();
            let body = parse_nodes(pieces, position, &mut end, true)?;
            nodes.push(Node::Range(over, body));
            continue;
        }
        nodes.push(Node::Action(parse_pipeline(action)?));
    }
    if nested {
        return Err("template parsing error: template: :1: unexpected EOF".to_owned());
    }
    Ok(nodes)
}

/// `cmd | cmd`: each command's result is the last argument of the next.
fn parse_pipeline(text: &str) -> Result<Vec<Expr>, String> {
    text.split('|')
        .map(|command| parse_command(command.trim()))
        .collect()
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' || c == '`' {
            let quote = c;
            chars.next();
            let mut token = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == quote {
                    closed = true;
                    break;
                }
                if c == '\\' && quote == '"' {
                    match chars.next() {
                        Some('n') => token.push('\n'),
                        Some('t') => token.push('\t'),
                        Some(other) => token.push(other),
                        None => {}
                    }
                    continue;
                }
                token.push(c);
            }
            if !closed {
                return Err(
                    "template parsing error: template: :1: unterminated quoted string".to_owned(),
                );
            }
            tokens.push(token);
            continue;
        }
        let mut token = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            token.push(c);
            chars.next();
        }
        tokens.push(token);
    }
    Ok(tokens)
}

fn parse_atom(token: &str) -> Result<Expr, String> {
    if let Some(text) = token.strip_prefix('"') {
        return Ok(Expr::Literal(Value::String(text.to_owned())));
    }
    if token == "." {
        return Ok(Expr::Path(Vec::new()));
    }
    if let Some(path) = token.strip_prefix('.') {
        return Ok(Expr::Path(path.split('.').map(str::to_owned).collect()));
    }
    if let Ok(number) = token.parse::<i64>() {
        return Ok(Expr::Literal(Value::from(number)));
    }
    match token {
        "true" => Ok(Expr::Literal(Value::Bool(true))),
        "false" => Ok(Expr::Literal(Value::Bool(false))),
        name => Ok(Expr::Call(name.to_owned(), Vec::new())),
    }
}

fn parse_command(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let Some((first, rest)) = tokens.split_first() else {
        return Err("template parsing error: template: :1: missing value for command".to_owned());
    };
    match parse_atom(first)? {
        Expr::Call(name, _) => {
            if !matches!(
                name.as_str(),
                "json"
                    | "index"
                    | "join"
                    | "upper"
                    | "lower"
                    | "title"
                    | "println"
                    | "len"
                    | "print"
                    | "truncate"
                    | "split"
                    | "pad"
            ) {
                return Err(format!(
                    "template parsing error: template: :1: function \"{name}\" not defined"
                ));
            }
            let args = rest
                .iter()
                .map(|token| parse_atom(token))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::Call(name, args))
        }
        atom if rest.is_empty() => Ok(atom),
        _ => Err(format!(
            "template parsing error: template: :1: can't give argument to non-function {first}"
        )),
    }
}

fn evaluate(expr: &Expr, dot: &Value, piped: Option<Value>) -> Result<Value, String> {
    match expr {
        Expr::Literal(value) => Ok(value.clone()),
        Expr::Path(path) => {
            let mut current = dot.clone();
            for (index, part) in path.iter().enumerate() {
                current = match current {
                    Value::Object(map) => match map.get(part) {
                        Some(value) => value.clone(),
                        None => {
                            let struct_like = map
                                .keys()
                                .all(|key| key.chars().next().is_some_and(char::is_uppercase));
                            if struct_like && !map.is_empty() {
                                return Err(format!(
                                    "template: :1:{}: executing \"\" at <.{}>: can't evaluate field {part} in type {}",
                                    index + 3,
                                    path[..=index].join("."),
                                    "interface {}"
                                ));
                            }
                            Value::Null
                        }
                    },
                    Value::Null => Value::Null,
                    _ => {
                        return Err(format!(
                            "template: :1: executing \"\" at <.{}>: can't evaluate field {part}",
                            path[..=index].join(".")
                        ));
                    }
                };
            }
            Ok(current)
        }
        Expr::Call(name, args) => {
            let mut values = args
                .iter()
                .map(|arg| evaluate(arg, dot, None))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(piped) = piped {
                values.push(piped);
            }
            call(name, &values)
        }
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let text = |index: usize| args.get(index).map(plain).unwrap_or_default();
    Ok(match name {
        "json" => Value::String(go_json(args.first().unwrap_or(&Value::Null))),
        "index" => {
            let mut current = args.first().cloned().unwrap_or(Value::Null);
            for key in &args[1.min(args.len())..] {
                current = match (&current, key) {
                    (Value::Object(map), Value::String(key)) => {
                        map.get(key).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Array(items), Value::Number(number)) => items
                        .get(number.as_u64().unwrap_or(u64::MAX) as usize)
                        .cloned()
                        .ok_or_else(|| {
                            "template: :1: error calling index: index out of range".to_owned()
                        })?,
                    _ => Value::Null,
                };
            }
            current
        }
        "join" => {
            let separator = text(1);
            match args.first() {
                Some(Value::Array(items)) => {
                    Value::String(items.iter().map(plain).collect::<Vec<_>>().join(&separator))
                }
                Some(other) => Value::String(plain(other)),
                None => Value::String(String::new()),
            }
        }
        "split" => Value::Array(
            text(0)
                .split(&text(1))
                .map(|part| Value::String(part.to_owned()))
                .collect(),
        ),
        "upper" => Value::String(text(0).to_uppercase()),
        "lower" => Value::String(text(0).to_lowercase()),
        "title" => {
            let input = text(0);
            let mut out = String::new();
            let mut start = true;
            for c in input.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Value::String(out)
        }
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(plain).collect::<Vec<_>>().join(" ")
        )),
        "print" => Value::String(args.iter().map(plain).collect::<Vec<_>>().join(" ")),
        "len" => Value::from(match args.first() {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Object(map)) => map.len(),
            Some(Value::String(text)) => text.len(),
            _ => 0,
        }),
        "truncate" => {
            let length = args.get(1).and_then(Value::as_u64).unwrap_or(0) as usize;
            Value::String(text(0).chars().take(length).collect())
        }
        "pad" => Value::String(text(0)),
        other => {
            return Err(format!(
                "template parsing error: template: :1: function \"{other}\" not defined"
            ));
        }
    })
}

fn evaluate_pipeline(exprs: &[Expr], dot: &Value) -> Result<Value, String> {
    let mut result = None;
    for expr in exprs {
        let value = evaluate(expr, dot, result.take())?;
        result = Some(value);
    }
    Ok(result.unwrap_or(Value::Null))
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(exprs) => out.push_str(&plain(&evaluate_pipeline(exprs, dot)?)),
            Node::If(condition, then, otherwise) => {
                if truthy(&evaluate_pipeline(condition, dot)?) {
                    render_nodes(then, dot, out)?;
                } else {
                    render_nodes(otherwise, dot, out)?;
                }
            }
            Node::Range(over, body) => match evaluate_pipeline(over, dot)? {
                Value::Array(items) => {
                    for item in &items {
                        render_nodes(body, item, out)?;
                    }
                }
                Value::Object(map) => {
                    for item in map.values() {
                        render_nodes(body, item, out)?;
                    }
                }
                _ => {}
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // `{{json .}}`, paths, functions and `if` render like Go templates do.
    #[test]
    fn templates_render_like_go() {
        let value =
            json!({"ID": "abc", "Spec": {"Labels": {"a": "1"}, "Role": "manager"}, "Self": true});
        let render = |format: &str| {
            Template::parse(format)
                .expect("as set up")
                .render(&value)
                .expect("as set up")
        };
        assert_eq!(render("{{.ID}}"), "abc");
        assert_eq!(render("{{json .Spec.Labels}}"), "{\"a\":\"1\"}");
        assert_eq!(render("{{index .Spec.Labels \"a\"}}"), "1");
        assert_eq!(render("{{.Spec.Labels}}"), "map[a:1]");
        assert_eq!(
            render("{{if .Self}}*{{else}}-{{end}} {{upper .Spec.Role}}"),
            "* MANAGER"
        );
        assert_eq!(render("{{.Spec.Labels.b}}"), "<no value>");
        assert!(Template::parse("{{nope .ID}}").is_err());
    }

    // Go encodes `<`, `>` and `&` in strings; times trim trailing zeros.
    #[test]
    fn go_encodings() {
        assert_eq!(
            go_json(&json!({"a": "<&>"})),
            "{\"a\":\"\\u003c\\u0026\\u003e\"}"
        );
        let time = UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000);
        assert_eq!(rfc3339(time), "2023-11-14T22:13:20.5Z");
        assert_eq!(go_time_string(time), "2023-11-14 22:13:20.5 +0000 UTC");
        assert_eq!(human_duration(Duration::from_secs(75)), "About a minute");
        assert_eq!(header_for("ManagerStatus"), "MANAGER STATUS");
        assert_eq!(header_for("TLSStatus"), "TLS STATUS");
    }

    // Tables pad every column but the last to the widest cell plus 3, at least 10.
    #[test]
    fn tables_pad_like_tabwriter() {
        let rows = vec![
            vec!["ID".to_owned(), "NAME".to_owned(), "X".to_owned()],
            vec!["abcdefghijkl".to_owned(), "web".to_owned(), "".to_owned()],
        ];
        assert_eq!(
            table(&rows),
            "ID             NAME      X\nabcdefghijkl   web       \n"
        );
    }
}
