//! Where the commands' output goes: stdout only for data that could be piped (plans, JSON, DOT,
//! state, pushed references), everything else on stderr. Every command writes through one
//! [`Printer`], and every error is rendered by [`Printer::error`], in one form. Everything it
//! writes goes through the run's redaction registry ([`crate::redact`]), except the one line
//! written by [`Printer::err_line_unredacted`].

use std::fmt::Display;
use std::io::{IsTerminal, StderrLock, StdoutLock, Write};

use crate::redact::{Scrubbed, scrub};

/// The two output streams and whether each is coloured. Copied freely (into a signal handler,
/// into the lab's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printer {
    color_stdout: bool,
    color_stderr: bool,
    stderr_terminal: bool,
}

impl Printer {
    /// Colour when asked for (`--no-color` and `NO_COLOR` unset) and the stream is a terminal.
    pub fn new(color: bool) -> Printer {
        let stderr_terminal = std::io::stderr().is_terminal();
        Printer {
            color_stdout: color && std::io::stdout().is_terminal(),
            color_stderr: color && stderr_terminal,
            stderr_terminal,
        }
    }

    pub fn color_stdout(&self) -> bool {
        self.color_stdout
    }

    pub fn color_stderr(&self) -> bool {
        self.color_stderr
    }

    /// Whether stderr is a terminal (a person reads it), coloured or not: an unlock key is shown
    /// only there, never in a log.
    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_terminal
    }

    // Writes whose failures are ignored: `print!` panics on a closed pipe (`| head`). Each
    // text is scrubbed whole, then written.

    /// Data on stdout, as given (sensitive values scrubbed).
    pub fn out(&self, text: impl Display) {
        let _ = std::io::stdout().write_all(scrub(&text.to_string()).as_bytes());
    }

    /// One line of data on stdout.
    pub fn out_line(&self, text: impl Display) {
        self.out(format_args!("{text}\n"));
    }

    /// A message on stderr, as given (sensitive values scrubbed).
    pub fn err(&self, text: impl Display) {
        let _ = std::io::stderr().write_all(scrub(&text.to_string()).as_bytes());
    }

    /// One line of message on stderr.
    pub fn err_line(&self, text: impl Display) {
        self.err(format_args!("{text}\n"));
    }

    /// One line on stderr, *not* scrubbed. Only for the new unlock key of a swarm this run
    /// autolocked, which the person at the terminal must see once to save it
    /// (`commands::apply::show_unlock_key`); nothing else may use it.
    pub fn err_line_unredacted(&self, text: impl Display) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    /// stdout held for several writes whose failures are ignored (a closed pipe ends nothing),
    /// scrubbed line by line.
    pub fn stdout(&self) -> Scrubbed<StdoutLock<'static>> {
        Scrubbed::new(std::io::stdout().lock())
    }

    /// stderr held for several writes whose failures are ignored, scrubbed line by line.
    pub fn stderr(&self) -> Scrubbed<StderrLock<'static>> {
        Scrubbed::new(std::io::stderr().lock())
    }

    /// An error on stderr: `error: MESSAGE`, its causes, its hints (see [`render`]).
    pub fn error(&self, error: &(dyn std::error::Error + 'static)) {
        self.err(render(error));
    }
}

/// `error: MESSAGE`, then `Caused by:` lines for the chain, then any `hint:` lines the message
/// carries, uv-style.
pub fn render(error: &(dyn std::error::Error + 'static)) -> String {
    let text = error.to_string();
    let (message, hints) = split_hints(&text);
    let mut out = format!("error: {message}\n");
    let mut source = error.source();
    if source.is_some() {
        out.push_str("  Caused by:\n");
    }
    while let Some(cause) = source {
        out.push_str(&format!("    {cause}\n"));
        source = cause.source();
    }
    if let Some(hints) = hints {
        out.push_str(hints);
        out.push('\n');
    }
    out
}

fn split_hints(text: &str) -> (&str, Option<&str>) {
    match text.find("\nhint: ") {
        Some(index) => (&text[..index], Some(&text[index + 1..])),
        None => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer\nhint: do this")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    // An error renders as its message, its causes in order, then the hints its message carries.
    #[test]
    fn renders_causes_then_hints() {
        assert_eq!(
            render(&Outer(Inner)),
            "error: outer\n  Caused by:\n    inner\nhint: do this\n"
        );
        assert_eq!(render(&Inner), "error: inner\n");
    }
}
