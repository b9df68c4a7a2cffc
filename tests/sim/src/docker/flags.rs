//! Command-line flags the way the docker CLI (cobra/pflag) parses them, with its error wording
//! and exit status 125 for usage errors.

use std::collections::HashMap;

use crate::exec::Output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
    Multi,
}

struct Spec {
    long: String,
    short: Option<char>,
    kind: Kind,
}

/// Parsed flags and positional arguments.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: HashMap<String, Vec<String>>,
    bools: HashMap<String, bool>,
    pub args: Vec<String>,
}

impl Flags {
    /// Parses `argv` for the command `path` (`docker node ls`) against `specs`: `"name"` is a
    /// boolean, `"name="` takes a value, `"name=*"` may repeat, and `",x"` adds a shorthand
    /// (`"quiet,q"`, `"filter,f=*"`). Without `interspersed`, the first positional argument
    /// ends the flags (`docker service create ... IMAGE ARGS`).
    pub fn parse(
        path: &str,
        specs: &[&str],
        argv: &[&str],
        interspersed: bool,
    ) -> Result<Flags, Output> {
        let specs: Vec<Spec> = specs.iter().map(|spec| parse_spec(spec)).collect();
        let mut flags = Flags::default();
        let mut index = 0;
        let mut only_args = false;
        while index < argv.len() {
            let arg = argv[index];
            index += 1;
            if only_args || arg == "-" || !arg.starts_with('-') {
                flags.args.push(arg.to_owned());
                if !interspersed {
                    only_args = true;
                }
                continue;
            }
            if arg == "--" {
                only_args = true;
                continue;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (long, None),
                };
                if name == "help" {
                    return Err(Output::ok(format!("Usage:  {path} [OPTIONS]\n")));
                }
                let Some(spec) = specs.iter().find(|spec| spec.long == name) else {
                    return Err(usage_error(path, &format!("unknown flag: --{name}")));
                };
                match spec.kind {
                    Kind::Bool => {
                        let value = match inline {
                            None => true,
                            Some("true" | "1" | "t" | "T" | "TRUE" | "True") => true,
                            Some("false" | "0" | "f" | "F" | "FALSE" | "False") => false,
                            Some(other) => {
                                return Err(usage_error(
                                    path,
                                    &format!(
                                        "invalid argument \"{other}\" for \"--{name}\" flag: strconv.ParseBool: parsing \"{other}\": invalid syntax"
                                    ),
                                ));
                            }
                        };
                        flags.bools.insert(spec.long.clone(), value);
                    }
                    Kind::Value | Kind::Multi => {
                        let value = match inline {
                            Some(value) => value.to_owned(),
                            None => match argv.get(index) {
                                Some(value) => {
                                    index += 1;
                                    (*value).to_owned()
                                }
                                None => {
                                    return Err(usage_error(
                                        path,
                                        &format!("flag needs an argument: --{name}"),
                                    ));
                                }
                            },
                        };
                        flags.push(spec, value);
                    }
                }
                continue;
            }
            // Shorthands, possibly grouped (`-qf`), possibly with the value attached (`-fNAME`).
            let shorts: Vec<char> = arg[1..].chars().collect();
            let mut position = 0;
            while position < shorts.len() {
                let c = shorts[position];
                position += 1;
                if c == 'h' && !specs.iter().any(|spec| spec.short == Some('h')) {
                    return Err(Output::ok(format!("Usage:  {path} [OPTIONS]\n")));
                }
                let Some(spec) = specs.iter().find(|spec| spec.short == Some(c)) else {
                    return Err(usage_error(
                        path,
                        &format!("unknown shorthand flag: '{c}' in {arg}"),
                    ));
                };
                match spec.kind {
                    Kind::Bool => {
                        flags.bools.insert(spec.long.clone(), true);
                    }
                    Kind::Value | Kind::Multi => {
                        let rest: String = shorts[position..].iter().collect();
                        let value = if !rest.is_empty() {
                            position = shorts.len();
                            rest.strip_prefix('=').unwrap_or(&rest).to_owned()
                        } else {
                            match argv.get(index) {
                                Some(value) => {
                                    index += 1;
                                    (*value).to_owned()
                                }
                                None => {
                                    return Err(usage_error(
                                        path,
                                        &format!("flag needs an argument: '{c}' in -{c}"),
                                    ));
                                }
                            }
                        };
                        flags.push(spec, value);
                    }
                }
            }
        }
        Ok(flags)
    }

    fn push(&mut self, spec: &Spec, value: String) {
        let entry = self.values.entry(spec.long.clone()).or_default();
        if spec.kind == Kind::Value {
            entry.clear();
        }
        entry.push(value);
    }

    pub fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    /// Whether a boolean flag was given at all, and its value.
    pub fn bool_given(&self, name: &str) -> Option<bool> {
        self.bools.get(name).copied()
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|values| values.last())
            .map(String::as_str)
    }

    pub fn values(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name) || self.bools.contains_key(name)
    }

    /// `key=value` filters (`--filter desired-state=running`).
    pub fn filters(&self) -> Vec<(String, String)> {
        self.values("filter")
            .iter()
            .map(|filter| match filter.split_once('=') {
                Some((key, value)) => (key.to_owned(), value.to_owned()),
                None => (filter.clone(), String::new()),
            })
            .collect()
    }
}

fn parse_spec(spec: &str) -> Spec {
    let (names, kind) = if let Some(names) = spec.strip_suffix("=*") {
        (names, Kind::Multi)
    } else if let Some(names) = spec.strip_suffix('=') {
        (names, Kind::Value)
    } else {
        (spec, Kind::Bool)
    };
    let (long, short) = match names.split_once(',') {
        Some((long, short)) => (long, short.chars().next()),
        None => (names, None),
    };
    Spec {
        long: long.to_owned(),
        short,
        kind,
    }
}

/// A usage error: `MESSAGE\nSee 'PATH --help'.` and status 125.
pub(crate) fn usage_error(path: &str, message: &str) -> Output {
    Output::error(format!("{message}\nSee '{path} --help'."), 125)
}

/// `"PATH" requires exactly N argument(s).` with the usage line, status 1.
pub(crate) fn argument_count(
    path: &str,
    usage: &str,
    description: &str,
    requirement: &str,
) -> Output {
    Output::error(
        format!(
            "\"{path}\" requires {requirement}.\nSee '{path} --help'.\n\nUsage:  {path} {usage}\n\n{description}"
        ),
        1,
    )
}

/// `"docker node inspect" requires at least 1 argument.` when `args` is empty.
pub(crate) fn require_args(
    path: &str,
    usage: &str,
    description: &str,
    args: &[String],
    minimum: usize,
) -> Result<(), Output> {
    if args.len() < minimum {
        let requirement = if minimum == 1 {
            "at least 1 argument".to_owned()
        } else {
            format!("at least {minimum} arguments")
        };
        return Err(argument_count(path, usage, description, &requirement));
    }
    Ok(())
}

pub(crate) fn require_exact(
    path: &str,
    usage: &str,
    description: &str,
    args: &[String],
    count: usize,
) -> Result<(), Output> {
    if args.len() != count {
        let requirement = if count == 1 {
            "exactly 1 argument".to_owned()
        } else {
            format!("exactly {count} arguments")
        };
        return Err(argument_count(path, usage, description, &requirement));
    }
    Ok(())
}

/// `key=value` pairs of `--label` style flags (a bare key has an empty value).
pub(crate) fn key_values(values: &[String]) -> std::collections::BTreeMap<String, String> {
    values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (value.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Long, short, grouped, `=`-joined and repeated flags parse like pflag; unknown ones fail
    // with status 125.
    #[test]
    fn flags_parse_like_pflag() {
        let flags = Flags::parse(
            "docker node ls",
            &["quiet,q", "format=", "filter,f=*"],
            &[
                "-q",
                "--format={{json .}}",
                "-f",
                "role=manager",
                "--filter",
                "name=x",
                "extra",
            ],
            true,
        )
        .expect("as set up");
        assert!(flags.bool("quiet"));
        assert_eq!(flags.value("format"), Some("{{json .}}"));
        assert_eq!(flags.values("filter"), ["role=manager", "name=x"]);
        assert_eq!(flags.args, ["extra"]);
        let error =
            Flags::parse("docker node ls", &["quiet,q"], &["--nope"], true).expect_err("it fails");
        assert_eq!(error.status, 125);
        assert_eq!(
            String::from_utf8(error.stderr).expect("as set up"),
            "unknown flag: --nope\nSee 'docker node ls --help'.\n"
        );
        let flags = Flags::parse(
            "docker service create",
            &["name="],
            &["--name", "web", "nginx", "--port", "80"],
            false,
        )
        .expect("as set up");
        assert_eq!(flags.args, ["nginx", "--port", "80"]);
    }
}
