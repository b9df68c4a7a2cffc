//! Remote commands. SSH carries one command line, not an argv, so every word is quoted here and
//! nowhere else: [`Script::render`] is the one function that turns commands into the line a host
//! runs.

use std::borrow::Cow;
use std::fmt;

/// One program with its arguments and optional redirections. Arguments marked secret (a join
/// token) are shown as `(sensitive)` by [`Script::display`].
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    words: Vec<Word>,
    redirect: Option<Redirect>,
}

#[derive(Clone, PartialEq, Eq)]
struct Word {
    text: String,
    secret: bool,
}

#[derive(Clone, PartialEq, Eq)]
enum Redirect {
    /// `> PATH`
    Write(String),
    /// `>> PATH`
    Append(String),
}

impl RemoteCommand {
    pub fn new(program: impl Into<String>) -> RemoteCommand {
        RemoteCommand {
            words: vec![Word {
                text: program.into(),
                secret: false,
            }],
            redirect: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> RemoteCommand {
        self.words.push(Word {
            text: arg.into(),
            secret: false,
        });
        self
    }

    pub fn args<I, S>(mut self, args: I) -> RemoteCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// An argument that must never be logged (a join token).
    pub fn secret_arg(mut self, arg: impl Into<String>) -> RemoteCommand {
        self.words.push(Word {
            text: arg.into(),
            secret: true,
        });
        self
    }

    /// `> PATH`: standard output replaces the file.
    pub fn write_to(mut self, path: impl Into<String>) -> RemoteCommand {
        self.redirect = Some(Redirect::Write(path.into()));
        self
    }

    /// `>> PATH`: standard output is appended to the file.
    pub fn append_to(mut self, path: impl Into<String>) -> RemoteCommand {
        self.redirect = Some(Redirect::Append(path.into()));
        self
    }

    /// The program and arguments, unquoted (for the simulator and tests).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|word| word.text.as_str())
    }

    fn render(&self, out: &mut String, redact: bool) {
        for (index, word) in self.words.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            if redact && word.secret {
                out.push_str("(sensitive)");
            } else {
                out.push_str(&quote(&word.text));
            }
        }
        match &self.redirect {
            Some(Redirect::Write(path)) => {
                out.push_str(" > ");
                out.push_str(&quote(path));
            }
            Some(Redirect::Append(path)) => {
                out.push_str(" >> ");
                out.push_str(&quote(path));
            }
            None => {}
        }
    }
}

impl fmt::Debug for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.render(&mut out, true);
        f.write_str(&out)
    }
}

/// How a command joins the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joiner {
    /// `&&`: run when the previous succeeded.
    And,
    /// `||`: run when the previous failed.
    Or,
}

/// Commands joined by `&&` and `||`, run by one shell on the host, with optional standard
/// input. Standard input is never logged: it carries secret and file contents.
#[derive(Clone, PartialEq, Eq)]
pub struct Script {
    commands: Vec<(Joiner, RemoteCommand)>,
    stdin: Option<Vec<u8>>,
}

impl Script {
    pub fn new(command: RemoteCommand) -> Script {
        Script {
            commands: vec![(Joiner::And, command)],
            stdin: None,
        }
    }

    /// `... && command`
    pub fn and(mut self, command: RemoteCommand) -> Script {
        self.commands.push((Joiner::And, command));
        self
    }

    /// `... || command`
    pub fn or(mut self, command: RemoteCommand) -> Script {
        self.commands.push((Joiner::Or, command));
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Script {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn stdin_bytes(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    pub fn commands(&self) -> impl Iterator<Item = &RemoteCommand> {
        self.commands.iter().map(|(_, command)| command)
    }

    /// The command line the host runs. With `sudo`, the whole line runs as root through
    /// `sudo -n sh -c LINE` (`-n`: fail instead of asking for a password).
    pub fn render(&self, sudo: bool) -> String {
        let line = self.line(false);
        if sudo {
            format!("sudo -n sh -c {}", quote(&line))
        } else {
            line
        }
    }

    /// The command line with secret arguments replaced by `(sensitive)`, for logs and errors.
    pub fn display(&self) -> String {
        self.line(true)
    }

    fn line(&self, redact: bool) -> String {
        let mut out = String::new();
        for (index, (joiner, command)) in self.commands.iter().enumerate() {
            if index > 0 {
                out.push_str(match joiner {
                    Joiner::And => " && ",
                    Joiner::Or => " || ",
                });
            }
            command.render(&mut out, redact);
        }
        out
    }
}

impl From<RemoteCommand> for Script {
    fn from(command: RemoteCommand) -> Script {
        Script::new(command)
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())?;
        if let Some(stdin) = &self.stdin {
            write!(f, " <(stdin: {} bytes)", stdin.len())?;
        }
        Ok(())
    }
}

/// POSIX shell quoting: words of safe characters stay bare, everything else is single-quoted
/// with `'` written as `'\''`.
pub fn quote(word: &str) -> Cow<'_, str> {
    shell_escape::unix::escape(Cow::Borrowed(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every word is quoted, so a user string with shell syntax stays one inert argument.
    #[test]
    fn hostile_arguments_stay_single_words() {
        let script = Script::new(
            RemoteCommand::new("docker")
                .args(["network", "create", "--label"])
                .arg("note=$(reboot); rm -rf / `x` 'q'")
                .arg("web"),
        );
        assert_eq!(
            script.render(false),
            r#"docker network create --label 'note=$(reboot); rm -rf / `x` '\''q'\''' web"#
        );
    }

    // sudo wraps the whole line in one quoted `sh -c` argument.
    #[test]
    fn sudo_wraps_the_whole_line() {
        let script = Script::new(RemoteCommand::new("mkdir").args(["-p", "/etc/docker"]))
            .and(RemoteCommand::new("cat").write_to("/etc/docker/daemon.json"));
        assert_eq!(
            script.render(true),
            r#"sudo -n sh -c 'mkdir -p /etc/docker && cat > /etc/docker/daemon.json'"#
        );
    }

    // Secret arguments are redacted from the displayed form but present in the rendered one.
    #[test]
    fn secrets_are_redacted_for_display_only() {
        let script = Script::new(
            RemoteCommand::new("docker")
                .args(["swarm", "join", "--token"])
                .secret_arg("SWMTKN-1-abc")
                .arg("10.0.0.1:2377"),
        )
        .stdin(b"password".to_vec());
        assert!(script.render(false).contains("SWMTKN-1-abc"));
        assert_eq!(
            script.display(),
            "docker swarm join --token (sensitive) '10.0.0.1:2377'"
        );
        let debug = format!("{script:?}");
        assert!(
            !debug.contains("SWMTKN") && !debug.contains("password"),
            "{debug}"
        );
    }

    // `||` and appends render as the shell expects.
    #[test]
    fn or_and_append() {
        let line = "10.0.0.5 registry.lab";
        let script =
            Script::new(RemoteCommand::new("grep").args(["-qxF", "--", line, "/etc/hosts"])).or(
                RemoteCommand::new("printf")
                    .args(["%s\\n", line])
                    .append_to("/etc/hosts"),
            );
        assert_eq!(
            script.render(false),
            r#"grep -qxF -- '10.0.0.5 registry.lab' /etc/hosts || printf '%s\n' '10.0.0.5 registry.lab' >> /etc/hosts"#
        );
    }
}
