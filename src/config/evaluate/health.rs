//! `[stacks.NAME.health]`: an HTTP or command check after a deploy, checked, with its defaults.

use serde_json::{Map, Value};
use toml::Spanned;

use super::{Evaluation, duration_error};
use crate::config::check;
use crate::config::load::render_strings;
use crate::config::model::HealthConfig;
use crate::config::source::{Diagnostic, FileId};

impl Evaluation<'_> {
    /// `[stacks.NAME.health]`, checked, with its defaults (10 tries, 3s apart, 5s each).
    pub(super) fn stack_health(
        &mut self,
        health: &Spanned<HealthConfig>,
        context: &Value,
        file: FileId,
    ) -> Option<Value> {
        let span = health.span();
        let health = health.get_ref();
        let errors = self.errors.len();
        let mut check = Map::new();
        let render = |evaluation: &mut Self, text: &Spanned<String>| -> Option<String> {
            match render_strings(
                &toml::Value::String(text.get_ref().clone()),
                context,
                evaluation.sources,
                file,
                text.span(),
            ) {
                Ok(Value::String(rendered)) => Some(rendered),
                Ok(_) => None,
                Err(error) => {
                    evaluation.errors.push(error);
                    None
                }
            }
        };
        match (&health.http, &health.command) {
            (Some(_), Some(_)) | (None, None) => {
                self.errors.push(
                    Diagnostic::error("a health check needs exactly one of `http` and `command`")
                        .at(self.at(file, span.clone()), "this health check")
                        .help("`http = \"http://HOST:PORT/path\"` is checked from this machine; `command = [\"curl\", \"-fsS\", \"http://localhost:8080/\"]` with `host = \"NAME\"` runs on that host"),
                );
            }
            (Some(url), None) => {
                if let Some(rendered) = render(self, url) {
                    match http_url_problem(&rendered) {
                        None => {
                            check.insert("http".to_owned(), Value::from(rendered));
                        }
                        Some(problem) => self.errors.push(
                            Diagnostic::error(format!("`{rendered}` is not a URL swarmform can check: {problem}"))
                                .at(self.at(file, url.span()), "this URL")
                                .help("write `http://HOST:PORT/PATH`; for HTTPS, run `curl -fsS https://…` on a host with `command` and `host`"),
                        ),
                    }
                }
                if let Some(status) = &health.expect_status {
                    if (100..=599).contains(status.get_ref()) {
                        check.insert("expect_status".to_owned(), Value::from(*status.get_ref()));
                    } else {
                        self.errors.push(
                            Diagnostic::error(format!(
                                "`{}` is not an HTTP status",
                                status.get_ref()
                            ))
                            .at(self.at(file, status.span()), "expected 100 to 599"),
                        );
                    }
                }
                if let Some(contains) = &health.contains {
                    check.insert(
                        "contains".to_owned(),
                        Value::from(contains.get_ref().clone()),
                    );
                }
            }
            (None, Some(command)) => {
                let mut words = Vec::new();
                for word in command.get_ref() {
                    let spanned = Spanned::new(command.span(), word.clone());
                    if let Some(rendered) = render(self, &spanned) {
                        words.push(Value::from(rendered));
                    }
                }
                if command.get_ref().is_empty() {
                    self.errors.push(
                        Diagnostic::error("the health check's `command` is empty")
                            .at(self.at(file, command.span()), "no words"),
                    );
                }
                check.insert("command".to_owned(), Value::Array(words));
                match &health.host {
                    Some(host) if self.config.host(host.get_ref()).is_some() => {
                        check.insert("host".to_owned(), Value::from(host.get_ref().clone()));
                    }
                    Some(host) => self.errors.push(self.unknown_host(host, file)),
                    None => self.errors.push(
                        Diagnostic::error("a command health check needs `host`")
                            .at(self.at(file, command.span()), "run where?")
                            .help("`host = \"node1\"` runs the command on node1 over SSH"),
                    ),
                }
                for (key, value) in [
                    (
                        "expect_status",
                        health.expect_status.as_ref().map(Spanned::span),
                    ),
                    ("contains", health.contains.as_ref().map(Spanned::span)),
                ] {
                    if let Some(value) = value {
                        self.errors.push(
                            Diagnostic::error(format!("`{key}` applies to `http` checks only"))
                                .at(self.at(file, value), "remove this"),
                        );
                    }
                }
            }
        }
        let retries = health
            .retries
            .as_ref()
            .map_or(10, |retries| *retries.get_ref());
        if retries == 0
            && let Some(spanned) = &health.retries
        {
            self.errors.push(
                Diagnostic::error("`retries` must be at least 1")
                    .at(self.at(file, spanned.span()), "the number of attempts"),
            );
        }
        check.insert("retries".to_owned(), Value::from(retries));
        for (key, value, default) in [
            ("interval", &health.interval, "3s"),
            ("timeout", &health.timeout, "5s"),
        ] {
            let text = match value {
                Some(text) if check::is_duration(text.get_ref()) => text.get_ref().clone(),
                Some(text) => {
                    self.errors.push(duration_error(text, file));
                    continue;
                }
                None => default.to_owned(),
            };
            check.insert(key.to_owned(), Value::from(text));
        }
        (self.errors.len() == errors).then_some(Value::Object(check))
    }
}

/// Why `text` is not a plain `http://` URL with a host, if it is not.
fn http_url_problem(text: &str) -> Option<&'static str> {
    let Ok(uri) = text.parse::<ureq::http::Uri>() else {
        return Some("it does not parse as a URL");
    };
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Some("HTTPS is not supported by the built-in check"),
        _ => return Some("it must start with `http://`"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("it names no host");
    }
    None
}
