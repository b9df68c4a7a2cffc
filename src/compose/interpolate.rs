//! Variable interpolation in compose files, exactly as `docker stack deploy` does it.
//!
//! A port of docker/cli at tag `v28.5.2` (checked against `master` at 28f7560, where these files
//! differ only in their `go:build` line and in using `fmt.Errorf` instead of `pkg/errors`, with
//! identical messages):
//!
//! - `cli/compose/template/template.go`: the pattern and the substitution functions;
//! - `cli/compose/interpolation/interpolation.go`: the walk over the document, the paths and
//!   the error messages;
//! - `cli/compose/loader/interpolate.go`: the paths whose interpolated values are cast
//!   (`interpolateTypeCastMapping`) and the casts (`strconv.Atoi`, `strconv.ParseFloat`, the
//!   YAML 1.1 booleans), with Go's `strconv` error texts;
//! - `cli/compose/loader/loader.go` (`ParseYAML`, `Load`): the top level must be a mapping.
//!
//! # What is supported (and only this: it is all docker/cli supports)
//!
//! Docker's pattern is ``\$(?i:(?P<escaped>\$)|(?P<named>S)|{(?P<braced>S)}|(?P<invalid>))``
//! with `S` = `[_a-z][_a-z0-9]*(?::?[-?][^}]*)?`:
//!
//! - `$$` is a literal `$`;
//! - `$NAME` and `${NAME}`: the value, or an empty string when unset (with the warning
//!   ``The "NAME" variable is not set. Defaulting to a blank string.``, returned, not printed;
//!   docker/cli itself is silent, the wording is docker compose's);
//! - `${NAME:-default}` (default when unset or empty), `${NAME-default}` (when unset);
//! - `${NAME:?message}` (error when unset or empty), `${NAME?message}` (when unset), the error
//!   being `required variable NAME is missing a value: message`;
//! - names match `[_a-z][_a-z0-9]*` case-insensitively, with Go's case folding (so `ſ` U+017F
//!   and the Kelvin sign U+212A count as letters); lookups themselves are case-sensitive;
//! - any other `$` is `Invalid template`, and Docker reports the whole string, not the `$`.
//!
//! Not supported, because docker/cli does not support them: `${NAME:+alt}` / `${NAME+alt}`
//! (an invalid template), nested references (`${A:-${B}}` takes `${B` as the default and
//! leaves the last `}` as text), `${NAME:}`, `${#NAME}`, `${NAME/x/y}`, `${NAME:1}` and the like
//! (all invalid templates). Defaults are not themselves interpolated.
//!
//! # Docker quirks kept on purpose
//!
//! So that a file means here what it means to `docker stack deploy`:
//!
//! - The operator suffix is allowed after an unbraced name too and runs to the next `}` or the
//!   end of the string: `$REGISTRY-mirror/app` is `${REGISTRY-mirror/app}`.
//! - A value is cast only when interpolation changed it: `replicas: "3"` stays a string.
//! - A mapping with any key that is not a string (`1:`, `true:`, `null:`, a tagged key) is what
//!   Go's yaml.v3 decodes to `map[any]any`, which Docker's walk leaves untouched: so does this.
//! - Paths are the keys joined with `.` (list items are `[]`), and the cast patterns are matched
//!   on that string split at `.`: a key containing a `.` shifts the match, as it does in Docker.
//!
//! # Where swarmform is stricter than docker/cli, on purpose
//!
//! Two of docker/cli's quirks deploy a value the file's author did not mean instead of failing;
//! here the reference means what it says (as compose-go, docker compose's loader, reads it):
//!
//! - docker/cli chooses the operator by searching the whole reference for `:-`, then `-`, then
//!   `:?`, then `?`: `${A:?must-be-set}` becomes a default `be-set` for a variable named
//!   `A:?must`, and never fails. Here the operator is what follows the name: it fails when `A`
//!   is unset.
//! - docker/cli lets each later reference in a string clear the error of an earlier one:
//!   `${A:?required} ${B}` or `$1 ${B}` pass. Here the first error stands.
//!
//! Differences that cannot matter for a document Docker accepts: when several values fail, the
//! first in document order is reported (Go walks its maps in random order); tagged values
//! (`!tag value`) are interpolated inside and keep their tag; YAML merge keys (`<<`) must be
//! applied by the caller beforehand (`Value::apply_merge`), as yaml.v3 applies them while
//! parsing; Go's quoting of non-printable characters in messages is approximated for
//! unassigned code points.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_norway::{Mapping, Number, Value};

/// Where values come from. Build one [`Chain`] from several sources in precedence order.
pub trait Lookup {
    /// The value of the variable `name`, `None` when it is unset (an empty value is set).
    fn get(&self, name: &str) -> Option<String>;
}

impl Lookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// Several lookups asked in order: the first that has the variable wins.
#[derive(Default)]
pub struct Chain<'a> {
    layers: Vec<&'a dyn Lookup>,
}

impl<'a> Chain<'a> {
    /// A chain of `layers`, highest precedence first.
    pub fn new(layers: impl IntoIterator<Item = &'a dyn Lookup>) -> Self {
        Chain {
            layers: layers.into_iter().collect(),
        }
    }

    /// Adds a layer of lower precedence than those already there.
    #[must_use]
    pub fn then(mut self, layer: &'a dyn Lookup) -> Self {
        self.layers.push(layer);
        self
    }
}

impl Lookup for Chain<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.layers.iter().find_map(|layer| layer.get(name))
    }
}

/// An interpolated document.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpolated {
    /// The document with every string value interpolated and the typed paths cast.
    pub value: Value,
    /// One ``The "X" variable is not set. Defaulting to a blank string.`` per unset variable
    /// used without a default, in order of first use, without repetitions.
    pub warnings: Vec<String>,
    /// Every variable name that was looked up, set or not.
    pub used: BTreeSet<String>,
}

/// Why interpolation failed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolateError {
    /// The dotted path of the value in the document (`services.api.image`, list items as `[]`:
    /// `services.api.command.[]`); empty for [`interpolate_str`] and for
    /// [`InterpolateErrorKind::TopLevelNotMapping`].
    pub path: String,
    /// What went wrong.
    pub kind: InterpolateErrorKind,
}

/// The kinds of [`InterpolateError`]; `Display` on the error gives Docker's full message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateErrorKind {
    /// A `$` not followed by `$`, a name or `{name…}`; `template` is the whole string, as
    /// Docker reports it.
    InvalidTemplate {
        /// The whole string value.
        template: String,
    },
    /// `${NAME:?message}` with `NAME` unset or empty, or `${NAME?message}` with it unset.
    RequiredVariable {
        /// The variable.
        name: String,
        /// The text after `:?` or `?` (may be empty).
        message: String,
    },
    /// An interpolated value at a typed path did not parse; `reason` is Go's text, e.g.
    /// `strconv.Atoi: parsing "three": invalid syntax` or `invalid boolean: maybe`.
    Cast {
        /// Go's error text.
        reason: String,
    },
    /// The document is not a mapping with string keys (Docker's `ParseYAML` refuses it).
    TopLevelNotMapping,
}

impl InterpolateError {
    /// The `Template` field of Docker's `InvalidTemplateError`, for the two template kinds.
    fn template(&self) -> Option<String> {
        match &self.kind {
            InterpolateErrorKind::InvalidTemplate { template } => Some(template.clone()),
            InterpolateErrorKind::RequiredVariable { name, message } => Some(format!(
                "required variable {name} is missing a value: {message}"
            )),
            InterpolateErrorKind::Cast { .. } | InterpolateErrorKind::TopLevelNotMapping => None,
        }
    }
}

impl fmt::Display for InterpolateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(template) = self.template() {
            if self.path.is_empty() {
                // template.InvalidTemplateError.Error(): what `template.Substitute` returns.
                return write!(f, "Invalid template: {}", go_quote(&template));
            }
            // interpolation.newPathError
            return write!(
                f,
                "invalid interpolation format for {}: {}; you may need to escape any $ with another $",
                self.path,
                go_quote(&template)
            );
        }
        match &self.kind {
            InterpolateErrorKind::Cast { reason } => write!(
                f,
                "error while interpolating {}: failed to cast to expected type: {reason}",
                self.path
            ),
            _ => f.write_str("top-level object must be a mapping"),
        }
    }
}

impl std::error::Error for InterpolateError {}

/// Interpolates every string value of `document` (not its keys), recursively, then casts the
/// values Docker casts (`services.*.deploy.replicas` and the rest of
/// `interpolateTypeCastMapping`) when interpolation changed them.
///
/// # Errors
///
/// The first invalid template, missing required variable or failed cast, with its path; or
/// [`InterpolateErrorKind::TopLevelNotMapping`].
pub fn interpolate(
    document: &Value,
    lookup: &dyn Lookup,
) -> Result<Interpolated, InterpolateError> {
    let top = match document {
        Value::Mapping(top) if string_keyed(top) => top,
        _ => {
            return Err(InterpolateError {
                path: String::new(),
                kind: InterpolateErrorKind::TopLevelNotMapping,
            });
        }
    };
    let mut session = Session::new(lookup);
    let mut out = Mapping::with_capacity(top.len());
    for (key, value) in top {
        let path = key.as_str().unwrap_or_default().to_owned();
        let value = session.walk(value, &path)?;
        out.insert(key.clone(), value);
    }
    Ok(Interpolated {
        value: Value::Mapping(out),
        warnings: session.warnings,
        used: session.used,
    })
}

/// Interpolates one string (no cast): the result and the warnings for unset variables.
///
/// # Errors
///
/// An invalid template or a missing required variable, with an empty path.
pub fn interpolate_str(
    text: &str,
    lookup: &dyn Lookup,
) -> Result<(String, Vec<String>), InterpolateError> {
    let mut session = Session::new(lookup);
    let result = session
        .substitute(text)
        .map_err(|error| error.at(String::new(), text))?;
    Ok((result, session.warnings))
}

/// A template error before it gets its path.
enum TemplateError {
    Invalid,
    Required { name: String, message: String },
}

impl TemplateError {
    fn at(self, path: String, template: &str) -> InterpolateError {
        let kind = match self {
            TemplateError::Invalid => InterpolateErrorKind::InvalidTemplate {
                template: template.to_owned(),
            },
            TemplateError::Required { name, message } => {
                InterpolateErrorKind::RequiredVariable { name, message }
            }
        };
        InterpolateError { path, kind }
    }
}

/// One run: the lookup, and what it saw.
struct Session<'a> {
    lookup: &'a dyn Lookup,
    warnings: Vec<String>,
    used: BTreeSet<String>,
}

impl<'a> Session<'a> {
    fn new(lookup: &'a dyn Lookup) -> Self {
        Session {
            lookup,
            warnings: Vec::new(),
            used: BTreeSet::new(),
        }
    }

    fn get(&mut self, name: &str) -> Option<String> {
        self.used.insert(name.to_owned());
        self.lookup.get(name)
    }

    /// interpolation.recursiveInterpolate
    fn walk(&mut self, value: &Value, path: &str) -> Result<Value, InterpolateError> {
        match value {
            Value::String(text) => {
                let new = self
                    .substitute(text)
                    .map_err(|error| error.at(path.to_owned(), text))?;
                if new == *text {
                    return Ok(value.clone());
                }
                match cast_for(path) {
                    None => Ok(Value::String(new)),
                    Some(cast) => cast.apply(&new).map_err(|reason| InterpolateError {
                        path: path.to_owned(),
                        kind: InterpolateErrorKind::Cast { reason },
                    }),
                }
            }
            // yaml.v3 gives `map[any]any` for these, which Docker's walk does not enter.
            Value::Mapping(mapping) if !string_keyed(mapping) => Ok(value.clone()),
            Value::Mapping(mapping) => {
                let mut out = Mapping::with_capacity(mapping.len());
                for (key, elem) in mapping {
                    let key_text = key.as_str().unwrap_or_default();
                    let elem = self.walk(elem, &format!("{path}.{key_text}"))?;
                    out.insert(key.clone(), elem);
                }
                Ok(Value::Mapping(out))
            }
            Value::Sequence(items) => {
                let path = format!("{path}.[]");
                items
                    .iter()
                    .map(|item| self.walk(item, &path))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Sequence)
            }
            Value::Tagged(tagged) => {
                let mut tagged = tagged.clone();
                tagged.value = self.walk(&tagged.value, path)?;
                Ok(Value::Tagged(tagged))
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(value.clone()),
        }
    }

    /// template.substituteWith with the default pattern and functions, including its error
    /// handling: each reference's outcome replaces the error left by the previous ones.
    fn substitute(&mut self, template: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut error = None;
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            match reference(after) {
                Reference::Escaped => {
                    out.push('$');
                    rest = &after[1..];
                }
                Reference::Substitution { text, consumed } => {
                    let (value, outcome) = self.apply(text);
                    // The first error stands (docker/cli lets a later reference clear it).
                    if error.is_none() {
                        error = outcome;
                    }
                    out.push_str(&value);
                    rest = &after[consumed..];
                }
                Reference::Invalid => {
                    error.get_or_insert(TemplateError::Invalid);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        match error {
            None => Ok(out),
            Some(error) => Err(error),
        }
    }

    /// The operator is what follows the name (`:-`, `-`, `:?`, `?`), then the plain lookup.
    /// (docker/cli searches the whole reference for `:-`, then `-`, then `:?`, then `?`, so a
    /// `-` in a required variable's message turns it into a default: see the module.)
    fn apply(&mut self, substitution: &str) -> (String, Option<TemplateError>) {
        let name_end = substitution
            .find(|c: char| c != '_' && !c.is_alphanumeric())
            .unwrap_or(substitution.len());
        let (name, operator) = substitution.split_at(name_end);
        if let Some(default) = operator.strip_prefix(":-") {
            return match self.get(name) {
                Some(value) if !value.is_empty() => (value, None),
                _ => (default.to_owned(), None),
            };
        }
        if let Some(default) = operator.strip_prefix('-') {
            return (self.get(name).unwrap_or_else(|| default.to_owned()), None);
        }
        for (separator, non_empty) in [(":?", true), ("?", false)] {
            if let Some(message) = operator.strip_prefix(separator) {
                return match self.get(name) {
                    Some(value) if !non_empty || !value.is_empty() => (value, None),
                    _ => (
                        String::new(),
                        Some(TemplateError::Required {
                            name: name.to_owned(),
                            message: message.to_owned(),
                        }),
                    ),
                };
            }
        }
        match self.get(substitution) {
            Some(value) => (value, None),
            None => {
                let warning = format!(
                    "The \"{substitution}\" variable is not set. Defaulting to a blank string."
                );
                if !self.warnings.contains(&warning) {
                    self.warnings.push(warning);
                }
                (String::new(), None)
            }
        }
    }
}

/// What follows one `$`, as Docker's pattern reads it.
enum Reference<'t> {
    /// `$$`
    Escaped,
    /// `$S` or `${S}`: `text` is `S`, `consumed` the bytes after the `$`.
    Substitution { text: &'t str, consumed: usize },
    /// The empty `invalid` group: only the `$` is consumed.
    Invalid,
}

/// Matches the alternatives of Docker's pattern at the text after a `$`.
fn reference(after: &str) -> Reference<'_> {
    if after.starts_with('$') {
        return Reference::Escaped;
    }
    let name = name_len(after);
    if name > 0 {
        let length = name + suffix_len(&after[name..]);
        return Reference::Substitution {
            text: &after[..length],
            consumed: length,
        };
    }
    if let Some(inner) = after.strip_prefix('{') {
        let name = name_len(inner);
        if name > 0 {
            let length = name + suffix_len(&inner[name..]);
            if inner[length..].starts_with('}') {
                return Reference::Substitution {
                    text: &inner[..length],
                    consumed: length + 2,
                };
            }
        }
    }
    Reference::Invalid
}

/// `[_a-z][_a-z0-9]*` under `(?i)`: Go folds `k` with U+212A and `s` with U+017F.
fn name_len(text: &str) -> usize {
    let letter = |c: char| c == '_' || c.is_ascii_alphabetic() || c == '\u{17F}' || c == '\u{212A}';
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if letter(c) => {}
        _ => return 0,
    }
    chars
        .find(|&(_, c)| !(letter(c) || c.is_ascii_digit()))
        .map_or(text.len(), |(index, _)| index)
}

/// `(?::?[-?][^}]*)?`: the operator and its argument, up to the next `}` or the end.
fn suffix_len(text: &str) -> usize {
    let operator = if text.starts_with(":-") || text.starts_with(":?") {
        2
    } else if text.starts_with('-') || text.starts_with('?') {
        1
    } else {
        return 0;
    };
    operator + text[operator..].find('}').unwrap_or(text.len() - operator)
}

fn string_keyed(mapping: &Mapping) -> bool {
    mapping.keys().all(Value::is_string)
}

/// The casts of cli/compose/loader/interpolate.go.
#[derive(Debug, Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// `interpolateTypeCastMapping`, in its source order.
const TYPE_CASTS: &[(&str, Cast)] = &[
    ("services.*.configs.[].mode", Cast::Int),
    ("services.*.secrets.[].mode", Cast::Int),
    ("services.*.healthcheck.retries", Cast::Int),
    ("services.*.healthcheck.disable", Cast::Bool),
    ("services.*.deploy.replicas", Cast::Int),
    ("services.*.deploy.update_config.parallelism", Cast::Int),
    (
        "services.*.deploy.update_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.rollback_config.parallelism", Cast::Int),
    (
        "services.*.deploy.rollback_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.restart_policy.max_attempts", Cast::Int),
    (
        "services.*.deploy.placement.max_replicas_per_node",
        Cast::Int,
    ),
    ("services.*.ports.[].target", Cast::Int),
    ("services.*.ports.[].published", Cast::Int),
    ("services.*.ulimits.*", Cast::Int),
    ("services.*.ulimits.*.hard", Cast::Int),
    ("services.*.ulimits.*.soft", Cast::Int),
    ("services.*.privileged", Cast::Bool),
    ("services.*.oom_score_adj", Cast::Int),
    ("services.*.read_only", Cast::Bool),
    ("services.*.stdin_open", Cast::Bool),
    ("services.*.tty", Cast::Bool),
    ("services.*.volumes.[].read_only", Cast::Bool),
    ("services.*.volumes.[].volume.nocopy", Cast::Bool),
    ("networks.*.external", Cast::Bool),
    ("networks.*.internal", Cast::Bool),
    ("networks.*.attachable", Cast::Bool),
    ("volumes.*.external", Cast::Bool),
    ("secrets.*.external", Cast::Bool),
    ("configs.*.external", Cast::Bool),
];

/// interpolation.Options.getCasterForPath with Path.matches (the patterns never overlap, so
/// Go's random map order does not matter).
fn cast_for(path: &str) -> Option<Cast> {
    let parts: Vec<&str> = path.split('.').collect();
    TYPE_CASTS.iter().find_map(|&(pattern, cast)| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        let matches = pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(wanted, part)| *wanted == "*" || wanted == part);
        matches.then_some(cast)
    })
}

impl Cast {
    fn apply(self, text: &str) -> Result<Value, String> {
        match self {
            Cast::Int => go_atoi(text).map(|n| Value::Number(n.into())),
            Cast::Float => go_parse_float(text).map(|f| Value::Number(Number::from(f))),
            // toBoolean: http://yaml.org/type/bool.html (Go's ToLower and Rust's agree on
            // every input that lowers to one of these words).
            Cast::Bool => match text.to_lowercase().as_str() {
                "y" | "yes" | "true" | "on" => Ok(Value::Bool(true)),
                "n" | "no" | "false" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!("invalid boolean: {text}")),
            },
        }
    }
}

/// Go's `strconv.NumError` text.
fn num_error(function: &str, text: &str, range: bool) -> String {
    let what = if range {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.{function}: parsing {}: {what}", go_quote(text))
}

/// `strconv.Atoi` on a 64-bit platform: an optional sign and decimal digits, checked in order
/// (so an overflow before a bad character is a range error, as in Go).
fn go_atoi(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(num_error("Atoi", text, false));
    }
    let mut magnitude: u64 = 0;
    for byte in digits.bytes() {
        if !byte.is_ascii_digit() {
            return Err(num_error("Atoi", text, false));
        }
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(byte - b'0')))
            .ok_or_else(|| num_error("Atoi", text, true))?;
    }
    let limit = 1u64 << 63;
    if negative {
        if magnitude > limit {
            return Err(num_error("Atoi", text, true));
        }
        Ok(0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).map_err(|_| num_error("Atoi", text, true))
    }
}

/// `strconv.ParseFloat(text, 64)`: Go's float literal syntax (decimal or hexadecimal, `_`
/// between digits, `inf`/`infinity`/`nan` in any case, the first two signed), correctly
/// rounded; a value beyond the largest float is a range error.
fn go_parse_float(text: &str) -> Result<f64, String> {
    let syntax = || num_error("ParseFloat", text, false);
    let bytes = text.as_bytes();
    let (value, consumed, overflow) = if let Some((value, consumed)) = go_special(bytes) {
        (value, consumed, false)
    } else {
        let read = go_read_float(bytes).ok_or_else(syntax)?;
        if read.hex {
            let (value, overflow) = go_atof_hex(read.mantissa, read.exp, read.negative, read.trunc);
            (value, read.consumed, overflow)
        } else {
            // Same grammar once the (already checked) underscores are gone, and both
            // languages round correctly.
            let cleaned: String = text[..read.consumed]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            let value: f64 = cleaned.parse().map_err(|_| syntax())?;
            (value, read.consumed, value.is_infinite())
        }
    };
    if consumed != bytes.len() {
        return Err(syntax());
    }
    if overflow {
        return Err(num_error("ParseFloat", text, true));
    }
    Ok(value)
}

/// strconv.special: a prefix that is a signed `inf`/`infinity` or an unsigned `nan`.
fn go_special(text: &[u8]) -> Option<(f64, usize)> {
    let common = |text: &[u8], word: &[u8]| {
        text.iter()
            .zip(word)
            .take_while(|(a, b)| a.to_ascii_lowercase() == **b)
            .count()
    };
    let (sign, skip) = match text.first()? {
        b'+' => (1.0, 1),
        b'-' => (-1.0, 1),
        b'n' | b'N' => {
            return (common(text, b"nan") == 3).then_some((f64::NAN, 3));
        }
        _ => (1.0, 0),
    };
    let rest = &text[skip..];
    let mut n = common(rest, b"infinity");
    if 3 < n && n < 8 {
        n = 3;
    }
    (n == 3 || n == 8).then_some((sign * f64::INFINITY, skip + n))
}

/// What strconv.readFloat read.
struct ReadFloat {
    mantissa: u64,
    exp: i64,
    negative: bool,
    trunc: bool,
    hex: bool,
    consumed: usize,
}

/// strconv.readFloat: the syntax check, and the mantissa and exponent (used for hex only).
fn go_read_float(s: &[u8]) -> Option<ReadFloat> {
    let lower = |c: u8| c | 0x20;
    let mut i = 0;
    let mut underscores = false;
    let mut negative = false;
    match s.first()? {
        b'+' => i += 1,
        b'-' => {
            i += 1;
            negative = true;
        }
        _ => {}
    }
    let mut base: u64 = 10;
    let mut max_mant_digits = 19;
    let mut exp_char = b'e';
    let mut hex = false;
    if i + 2 < s.len() && s[i] == b'0' && lower(s[i + 1]) == b'x' {
        base = 16;
        max_mant_digits = 16;
        i += 2;
        exp_char = b'p';
        hex = true;
    }
    let (mut saw_dot, mut saw_digits) = (false, false);
    let (mut nd, mut nd_mant, mut dp) = (0i64, 0i64, 0i64);
    let mut mantissa: u64 = 0;
    let mut trunc = false;
    while i < s.len() {
        let c = s[i];
        let digit = if c.is_ascii_digit() {
            Some(u64::from(c - b'0'))
        } else if base == 16 && (b'a'..=b'f').contains(&lower(c)) {
            Some(u64::from(lower(c) - b'a' + 10))
        } else {
            None
        };
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if saw_dot {
                break;
            }
            saw_dot = true;
            dp = nd;
        } else if let Some(digit) = digit {
            saw_digits = true;
            if c == b'0' && nd == 0 {
                // leading zeros
                dp -= 1;
            } else {
                nd += 1;
                if nd_mant < max_mant_digits {
                    mantissa = mantissa * base + digit;
                    nd_mant += 1;
                } else if c != b'0' {
                    trunc = true;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    if !saw_dot {
        dp = nd;
    }
    if base == 16 {
        dp *= 4;
        nd_mant *= 4;
    }
    if i < s.len() && lower(s[i]) == exp_char {
        i += 1;
        let mut exp_sign = 1;
        match s.get(i)? {
            b'+' => i += 1,
            b'-' => {
                i += 1;
                exp_sign = -1;
            }
            _ => {}
        }
        if !s.get(i)?.is_ascii_digit() {
            return None;
        }
        let mut e: i64 = 0;
        while i < s.len() && (s[i].is_ascii_digit() || s[i] == b'_') {
            if s[i] == b'_' {
                underscores = true;
            } else if e < 10000 {
                e = e * 10 + i64::from(s[i] - b'0');
            }
            i += 1;
        }
        dp += e * exp_sign;
    } else if base == 16 {
        // A hexadecimal float needs its exponent.
        return None;
    }
    let exp = if mantissa != 0 { dp - nd_mant } else { 0 };
    if underscores && !go_underscore_ok(&s[..i]) {
        return None;
    }
    Some(ReadFloat {
        mantissa,
        exp,
        negative,
        trunc,
        hex,
        consumed: i,
    })
}

/// strconv.underscoreOK: underscores only between digits, or after a base prefix.
fn go_underscore_ok(s: &[u8]) -> bool {
    let lower = |c: u8| c | 0x20;
    let s = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    // '^' start, '0' digit or base prefix, '_' underscore, '!' anything else
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&lower(c)) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// strconv.atofHex for float64: the value and whether it overflowed to infinity.
fn go_atof_hex(mut mantissa: u64, mut exp: i64, negative: bool, trunc: bool) -> (f64, bool) {
    const MANT_BITS: u32 = 52;
    const BIAS: i64 = -1023;
    const MAX_EXP: i64 = (1 << 11) + BIAS - 2;
    const MIN_EXP: i64 = BIAS + 1;
    exp += i64::from(MANT_BITS);
    while mantissa != 0 && mantissa >> (MANT_BITS + 2) == 0 {
        mantissa <<= 1;
        exp -= 1;
    }
    if trunc {
        mantissa |= 1;
    }
    while mantissa >> (1 + MANT_BITS + 2) != 0 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    while mantissa > 1 && exp < MIN_EXP - 2 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    let mut round = mantissa & 3;
    mantissa >>= 2;
    round |= mantissa & 1;
    exp += 2;
    if round == 3 {
        mantissa += 1;
        if mantissa == 1 << (1 + MANT_BITS) {
            mantissa >>= 1;
            exp += 1;
        }
    }
    if mantissa >> MANT_BITS == 0 {
        exp = BIAS;
    }
    let overflow = exp > MAX_EXP;
    if overflow {
        mantissa = 1 << MANT_BITS;
        exp = MAX_EXP + 1;
    }
    let biased = u64::try_from((exp - BIAS) & 0x7ff).unwrap_or_default();
    let mut bits = (mantissa & ((1 << MANT_BITS) - 1)) | (biased << MANT_BITS);
    if negative {
        bits |= 1 << 63;
    }
    (f64::from_bits(bits), overflow)
}

/// Go's `strconv.Quote` (what `%#v` prints for a string).
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint` (letters, marks, numbers, punctuation, symbols and the ASCII space),
/// without the unassigned code points, which Rust's standard library cannot tell: controls,
/// spaces other than U+0020, line and paragraph separators, format characters and private use
/// are not printable.
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        u32::from(c),
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xE000..=0xF8FF
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..=0x10FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("test YAML parses")
    }

    fn at<'v>(value: &'v Value, path: &str) -> &'v Value {
        path.split('.')
            .fold(value, |value, key| match key.parse::<usize>() {
                Ok(index) => &value[index],
                Err(_) => &value[key],
            })
    }

    fn sub(text: &str, lookup: &BTreeMap<String, String>) -> Result<String, String> {
        interpolate_str(text, lookup)
            .map(|(value, _)| value)
            .map_err(|error| error.to_string())
    }

    /// The variables of docker/cli's template_test.go: FOO set, BAR set and empty.
    fn docker_defaults() -> BTreeMap<String, String> {
        vars(&[("FOO", "first"), ("BAR", "")])
    }

    // `$$` is a literal `$`, and what follows it is not a reference (template_test.go TestEscaped).
    #[test]
    fn escaped_dollar() {
        let env = docker_defaults();
        assert_eq!(sub("$${foo}", &env).as_deref(), Ok("${foo}"));
        assert_eq!(
            sub("cost: $$5 $$$FOO", &env).as_deref(),
            Ok("cost: $5 $first")
        );
    }

    // `$VAR` and `${VAR}`: set, empty (no warning) and unset (blank, with Docker compose's warning).
    #[test]
    fn plain_references() {
        let env = vars(&[("FOO", "first"), ("BAR", "")]);
        assert_eq!(
            interpolate_str("This $FOO var ${FOO}", &env),
            Ok(("This first var first".to_owned(), vec![]))
        );
        assert_eq!(
            interpolate_str("[${BAR}$BAR]", &env),
            Ok(("[]".to_owned(), vec![]))
        );
        assert_eq!(
            interpolate_str("This ${missing} var", &env),
            Ok((
                "This  var".to_owned(),
                vec![
                    "The \"missing\" variable is not set. Defaulting to a blank string.".to_owned()
                ]
            ))
        );
    }

    // `${VAR:-default}` applies when unset or empty; `${VAR-default}` only when unset.
    #[test]
    fn soft_and_hard_defaults() {
        let env = docker_defaults();
        assert_eq!(sub("ok ${missing:-def}", &env).as_deref(), Ok("ok def"));
        assert_eq!(sub("ok ${BAR:-def}", &env).as_deref(), Ok("ok def"));
        assert_eq!(sub("ok ${FOO:-def}", &env).as_deref(), Ok("ok first"));
        assert_eq!(sub("ok ${missing-def}", &env).as_deref(), Ok("ok def"));
        assert_eq!(sub("ok ${BAR-def}", &env).as_deref(), Ok("ok "));
        assert_eq!(sub("ok ${FOO-def}", &env).as_deref(), Ok("ok first"));
        assert_eq!(sub("ok ${missing:-}", &env).as_deref(), Ok("ok "));
        // A default does not warn.
        assert_eq!(
            interpolate_str("${missing:-x}", &env),
            Ok(("x".to_owned(), vec![]))
        );
    }

    // Cases copied from docker/cli cli/compose/template/template_test.go (v28.5.2):
    // TestNonAlphanumericDefault, TestDefaultsForMandatoryVariables, TestMandatoryVariableErrors.
    #[test]
    fn docker_template_test_expectations() {
        let env = docker_defaults();
        assert_eq!(
            sub("ok ${BAR:-/non:-alphanumeric}", &env).as_deref(),
            Ok("ok /non:-alphanumeric")
        );
        assert_eq!(sub("ok ${FOO:?err}", &env).as_deref(), Ok("ok first"));
        assert_eq!(sub("ok ${FOO?err}", &env).as_deref(), Ok("ok first"));
        assert_eq!(sub("ok ${BAR?err}", &env).as_deref(), Ok("ok "));
        for (template, expected) in [
            (
                "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${BAR:?Mandatory Variable Empty}",
                "required variable BAR is missing a value: Mandatory Variable Empty",
            ),
            (
                "not ok ${UNSET_VAR:?}",
                "required variable UNSET_VAR is missing a value: ",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${UNSET_VAR?}",
                "required variable UNSET_VAR is missing a value: ",
            ),
        ] {
            assert_eq!(
                sub(template, &env),
                Err(format!("Invalid template: \"{expected}\"")),
                "{template}"
            );
        }
    }

    // `${VAR:?msg}` fails on unset or empty, `${VAR?msg}` only on unset; a set value passes.
    #[test]
    fn required_forms() {
        let env = vars(&[("SET", "v"), ("EMPTY", "")]);
        assert_eq!(sub("${SET:?no}${SET?no}", &env).as_deref(), Ok("vv"));
        assert_eq!(sub("[${EMPTY?no}]", &env).as_deref(), Ok("[]"));
        let error = interpolate_str("${EMPTY:?must be set}", &env).expect_err("empty is refused");
        assert_eq!(
            error.kind,
            InterpolateErrorKind::RequiredVariable {
                name: "EMPTY".to_owned(),
                message: "must be set".to_owned()
            }
        );
        assert!(interpolate_str("${UNSET?must be set}", &env).is_err());
    }

    // A missing required variable in a document: its path and Docker's exact message.
    #[test]
    fn required_variable_error_has_path() {
        let doc = yaml("services:\n  api:\n    image: \"registry/api:${API_TAG:?set the tag}\"\n");
        let error = interpolate(&doc, &BTreeMap::new()).expect_err("API_TAG is unset");
        assert_eq!(error.path, "services.api.image");
        assert_eq!(
            error.to_string(),
            "invalid interpolation format for services.api.image: \"required variable API_TAG \
             is missing a value: set the tag\"; you may need to escape any $ with another $"
        );
    }

    // Every template docker/cli's TestInvalid rejects, plus `$1`, `${A:}`, `${A:+x}` (no `+`
    // forms in Docker), `${#A}`, a lone `$`; the message quotes the whole string, Go-style.
    #[test]
    fn invalid_templates() {
        let env = docker_defaults();
        for template in [
            "${", "$}", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "$1", "${A:}", "${A:+x}",
            "${A+x}", "${#A}", "${A/x/y}", "${A:1}", "tail $", "$ x", "${FOO",
        ] {
            let error = interpolate_str(template, &env).expect_err(template);
            assert_eq!(
                error.kind,
                InterpolateErrorKind::InvalidTemplate {
                    template: template.to_owned()
                },
                "{template}"
            );
        }
        assert_eq!(
            sub("a\t\"$\"", &env),
            Err(r#"Invalid template: "a\t\"$\"""#.to_owned())
        );
    }

    // docker/cli interpolation_test.go TestInvalidInterpolation: the exact message and path.
    #[test]
    fn invalid_template_in_document() {
        let doc = yaml("servicea:\n  image: ${\n");
        let error = interpolate(&doc, &BTreeMap::new()).expect_err("invalid");
        assert_eq!(
            error.to_string(),
            r#"invalid interpolation format for servicea.image: "${"; you may need to escape any $ with another $"#
        );
    }

    // A list item's path ends in `[]`, as Docker's PathMatchList.
    #[test]
    fn error_path_in_list() {
        let doc = yaml("services:\n  api:\n    command: [run, \"${X?x}\"]\n");
        let error = interpolate(&doc, &BTreeMap::new()).expect_err("X is unset");
        assert_eq!(error.path, "services.api.command.[]");
    }

    // Values are interpolated recursively (interpolation_test.go TestInterpolate); keys are not.
    #[test]
    fn values_not_keys() {
        let env = vars(&[("USER", "jenny"), ("FOO", "bar"), ("KEY", "k")]);
        let doc = yaml(
            "servicea:\n  image: example:${USER}\n  volumes: [\"$FOO:/target\"]\n  logging:\n    \
             driver: ${FOO}\n    options:\n      user: $USER\n  labels:\n    $KEY: ${KEY}\n",
        );
        let out = interpolate(&doc, &env).expect("interpolates");
        let expected = yaml(
            "servicea:\n  image: example:jenny\n  volumes: [\"bar:/target\"]\n  logging:\n    \
             driver: bar\n    options:\n      user: jenny\n  labels:\n    $KEY: k\n",
        );
        assert_eq!(out.value, expected);
        assert!(out.warnings.is_empty());
        let used: Vec<&str> = out.used.iter().map(String::as_str).collect();
        assert_eq!(used, ["FOO", "KEY", "USER"]);
    }

    // A mapping with a non-string key is yaml.v3's map[any]any, which Docker leaves alone.
    #[test]
    fn non_string_keyed_mapping_untouched() {
        let env = vars(&[("X", "x")]);
        let doc = yaml("a:\n  b: $X\n  1: $X\nc: $X\n");
        let out = interpolate(&doc, &env).expect("interpolates");
        assert_eq!(out.value, yaml("a:\n  b: $X\n  1: $X\nc: x\n"));
        assert_eq!(
            interpolate(&yaml("1: $X\n"), &env).map_err(|e| e.to_string()),
            Err("top-level object must be a mapping".to_owned())
        );
        assert!(interpolate(&yaml("[a]"), &env).is_err());
    }

    // Docker's casts: replicas to an int, read_only and external to bools, a ratio to a float,
    // port and ulimit numbers; other paths and unchanged values stay strings.
    #[test]
    fn type_casts() {
        let env = vars(&[("N", "3"), ("RO", "Yes"), ("R", "0.25"), ("OFF", "off")]);
        let doc = yaml(
            "services:\n  web:\n    deploy:\n      replicas: ${N}\n      update_config:\n        \
             max_failure_ratio: $R\n    read_only: ${RO}\n    tty: \"3\"\n    ports:\n      - \
             target: $N\n    ulimits:\n      nproc: $N\n      nofile: {soft: $N, hard: $N}\n    \
             environment:\n      COUNT: $N\nnetworks:\n  front:\n    external: $OFF\n",
        );
        let out = interpolate(&doc, &env).expect("interpolates").value;
        assert_eq!(at(&out, "services.web.deploy.replicas"), &Value::from(3));
        assert_eq!(
            at(&out, "services.web.deploy.update_config.max_failure_ratio"),
            &Value::from(0.25)
        );
        assert_eq!(at(&out, "services.web.read_only"), &Value::Bool(true));
        assert_eq!(at(&out, "services.web.tty"), &Value::from("3"));
        assert_eq!(at(&out, "services.web.ports.0.target"), &Value::from(3));
        assert_eq!(at(&out, "services.web.ulimits.nproc"), &Value::from(3));
        assert_eq!(
            at(&out, "services.web.ulimits.nofile.soft"),
            &Value::from(3)
        );
        assert_eq!(
            at(&out, "services.web.ulimits.nofile.hard"),
            &Value::from(3)
        );
        assert_eq!(
            at(&out, "services.web.environment.COUNT"),
            &Value::from("3")
        );
        assert_eq!(at(&out, "networks.front.external"), &Value::Bool(false));
    }

    // A value that does not parse as its type: Docker's message with Go's strconv text.
    #[test]
    fn failed_casts() {
        let run = |doc: &str, env: &[(&str, &str)]| {
            interpolate(&yaml(doc), &vars(env))
                .map(|_| ())
                .map_err(|error| error.to_string())
        };
        assert_eq!(
            run(
                "services:\n  web:\n    deploy:\n      replicas: $N\n",
                &[("N", "three")]
            ),
            Err(
                "error while interpolating services.web.deploy.replicas: failed to cast to \
                 expected type: strconv.Atoi: parsing \"three\": invalid syntax"
                    .to_owned()
            )
        );
        assert_eq!(
            run("services:\n  web:\n    privileged: $P\n", &[("P", "maybe")]),
            Err(
                "error while interpolating services.web.privileged: failed to cast to \
                 expected type: invalid boolean: maybe"
                    .to_owned()
            )
        );
        assert_eq!(
            run(
                "services:\n  web:\n    deploy:\n      rollback_config:\n        max_failure_ratio: ${R}\n",
                &[("R", "1e400")]
            ),
            Err("error while interpolating services.web.deploy.rollback_config.max_failure_ratio: \
                 failed to cast to expected type: strconv.ParseFloat: parsing \"1e400\": value out of range"
                .to_owned())
        );
    }

    // Warnings come once per unset variable, in order; `used` holds every name looked up.
    #[test]
    fn warnings_and_used() {
        let env = vars(&[("SET", "1")]);
        let doc = yaml("a: $B $A\nb: [\"${A}\", \"${C:-x}\", $SET]\n");
        let out = interpolate(&doc, &env).expect("interpolates");
        assert_eq!(
            out.warnings,
            [
                "The \"B\" variable is not set. Defaulting to a blank string.",
                "The \"A\" variable is not set. Defaulting to a blank string."
            ]
        );
        let used: Vec<&str> = out.used.iter().map(String::as_str).collect();
        assert_eq!(used, ["A", "B", "C", "SET"]);
    }

    // Docker's quirks, kept: the operator after an unbraced name, no nesting. Two are not
    // (see the module): a `-` in a required variable's message, a later reference clearing
    // an earlier error; both fail here.
    #[test]
    fn docker_quirks() {
        let env = vars(&[("REGISTRY", "r.example"), ("B", "b")]);
        // `$REGISTRY-mirror/app` is `${REGISTRY-mirror/app}`.
        assert_eq!(
            sub("$REGISTRY-mirror/app", &env).as_deref(),
            Ok("r.example")
        );
        assert_eq!(
            sub("$NOPE-mirror/app}x", &env).as_deref(),
            Ok("mirror/app}x")
        );
        // A `-` in the message is part of the message (docker/cli: a default `be-set`).
        let error = interpolate_str("${A:?must-be-set}", &env).expect_err("A is unset");
        assert!(error.to_string().contains("must-be-set"), "{error}");
        let out = interpolate(&yaml("x: ${B:?must-be-set}"), &env).expect("B is set");
        assert!(out.used.contains("B"));
        // The first error stands (docker/cli: a later reference clears it).
        assert!(sub("${A:?required} ${B}", &env).is_err());
        assert!(sub("$1 ${B}", &env).is_err());
        assert!(sub("${B} $1", &env).is_err());
        assert!(sub("${A:?required} $$", &env).is_err());
        // No nesting: the default is `${B`, the last `}` stays text.
        assert_eq!(sub("${A:-${B}}", &env).as_deref(), Ok("${B}"));
        assert_eq!(sub("${B:-${A}}", &env).as_deref(), Ok("b}"));
    }

    // Names are matched case-insensitively (Go folding included), looked up case-sensitively.
    #[test]
    fn names() {
        let env = vars(&[("lower_1", "l"), ("_", "u"), ("\u{212A}EY", "kelvin")]);
        assert_eq!(sub("$lower_1.${_}", &env).as_deref(), Ok("l.u"));
        assert_eq!(sub("${\u{212A}EY}", &env).as_deref(), Ok("kelvin"));
        assert_eq!(sub("$LOWER_1", &env).as_deref(), Ok(""));
        assert!(sub("$é", &env).is_err());
    }

    // A chain asks its lookups in order and the first that has the variable wins, even empty.
    #[test]
    fn chained_lookups() {
        let cli = vars(&[("A", "cli"), ("E", "")]);
        let file = vars(&[("A", "file"), ("B", "file"), ("E", "file")]);
        let chain = Chain::new([&cli as &dyn Lookup]).then(&file);
        let (value, _) = interpolate_str("$A $B [$E] $C", &chain).expect("interpolates");
        assert_eq!(value, "cli file [] ");
        assert_eq!(Chain::default().get("A"), None);
    }

    // strconv.Atoi and ParseFloat accept and refuse what Go does.
    #[test]
    fn go_number_parsing() {
        assert_eq!(go_atoi("+42"), Ok(42));
        assert_eq!(go_atoi("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            go_atoi("9223372036854775808"),
            Err(r#"strconv.Atoi: parsing "9223372036854775808": value out of range"#.to_owned())
        );
        assert_eq!(
            go_atoi("99999999999999999999x").map_err(|e| e.ends_with("value out of range")),
            Err(true)
        );
        for bad in ["", "-", "1_000", " 1", "0x10", "1.0"] {
            assert!(go_atoi(bad).is_err(), "{bad:?}");
        }
        assert_eq!(go_parse_float("1_000.5"), Ok(1000.5));
        assert_eq!(go_parse_float("1.e1"), Ok(10.0));
        assert_eq!(go_parse_float(".5"), Ok(0.5));
        assert_eq!(go_parse_float("0x1.8p1"), Ok(3.0));
        assert_eq!(go_parse_float("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(go_parse_float("NaN").is_ok_and(f64::is_nan));
        assert_eq!(go_parse_float("1e-400"), Ok(0.0));
        assert!(go_parse_float("0x1p2000").is_err());
        assert_eq!(go_parse_float("0x1p-1074"), Ok(f64::from_bits(1)));
        assert_eq!(go_parse_float("0x_1p0"), Ok(1.0));
        assert_eq!(go_parse_float("0x1.fffffffffffffp1023"), Ok(f64::MAX));
        assert!(
            go_parse_float("0x1.fffffffffffff8p1023").is_err_and(|e| e.ends_with("out of range"))
        );
        for bad in [
            "", "+nan", "infin", "1_", "_1", "0x1", "1e", "1.5x", "0x", ".",
        ] {
            assert_eq!(
                go_parse_float(bad),
                Err(format!(
                    "strconv.ParseFloat: parsing {}: invalid syntax",
                    go_quote(bad)
                )),
                "{bad:?}"
            );
        }
    }

    // Go's quoting of control and non-printable characters in messages.
    #[test]
    fn go_quoting() {
        assert_eq!(
            go_quote("a\"\\\n\u{1}\u{7f}é\u{a0}\u{200b}"),
            r#""a\"\\\n\x01\x7fé\u00a0\u200b""#
        );
        assert_eq!(go_quote("\u{F0000}"), r#""\U000f0000""#);
    }
}
