//! Running local programs (the docker CLI, mmdebstrap, ssh-keygen): their output, or an error
//! that names the command and carries its stderr.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use super::error::LabError;

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    words: Vec<String>,
    directory: Option<std::path::PathBuf>,
}

impl Program {
    pub(crate) fn new(program: &str) -> Program {
        Program {
            words: vec![program.to_owned()],
            directory: None,
        }
    }

    pub(crate) fn docker() -> Program {
        Program::new("docker")
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<str>) -> Program {
        self.words.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Program
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.words
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    pub(crate) fn current_dir(mut self, directory: &Path) -> Program {
        self.directory = Some(directory.to_owned());
        self
    }

    /// The command as a user would type it, each word quoted for a POSIX shell.
    pub(crate) fn display(&self) -> String {
        self.words
            .iter()
            .map(|word| shell_escape::unix::escape(Cow::Borrowed(word.as_str())).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.words[0]);
        command.args(&self.words[1..]);
        if let Some(directory) = &self.directory {
            command.current_dir(directory);
        }
        command
    }

    /// Runs it to the end; its stdout (trimmed) when it exits 0.
    pub(crate) fn output(&self) -> Result<String, LabError> {
        let output = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.spawn_error(source))?;
        self.result(&output)
    }

    /// Runs it like [`Program::output`], but gives up after `limit`: the program is killed and
    /// the error says how long it ran and `hint` (a docker CLI waiting on a dockerd that stopped
    /// answering must not hang the lab for ever).
    pub(crate) fn output_within(
        &self,
        limit: std::time::Duration,
        hint: &str,
    ) -> Result<String, LabError> {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        let started = std::time::Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() < limit => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Ok(None) | Err(_) => {
                    kill(&mut child);
                    return Err(LabError::Failed {
                        command: self.display(),
                        status: format!("still running after {} s, killed", limit.as_secs()),
                        stderr: String::new(),
                        hint: Some(hint.to_owned()),
                    });
                }
            }
        }
        let output = child
            .wait_with_output()
            .map_err(|source| self.spawn_error(source))?;
        self.result(&output)
    }

    /// Runs it to the end; whether it exited 0 (a program that cannot start counts as a no).
    pub(crate) fn succeeds(&self) -> bool {
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Runs it with `input` as its standard input; its stdout (trimmed) when it exits 0.
    pub(crate) fn output_with_input(&self, input: &Path) -> Result<String, LabError> {
        let file = File::open(input).map_err(|source| LabError::Io {
            path: input.to_owned(),
            operation: "read",
            source,
        })?;
        let output = self
            .command()
            .stdin(file)
            .output()
            .map_err(|source| self.spawn_error(source))?;
        self.result(&output)
    }

    /// `self | next`: this program's stdout feeds `next`'s stdin. This program's stderr goes to
    /// `log` (shown when it fails); the result is `next`'s stdout.
    pub(crate) fn pipe(&self, next: &Program, log: &Path) -> Result<String, LabError> {
        let log_file = File::create(log).map_err(|source| LabError::Io {
            path: log.to_owned(),
            operation: "create",
            source,
        })?;
        let mut first = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        let Some(stdout) = first.stdout.take() else {
            kill(&mut first);
            return Err(self.spawn_error(std::io::Error::other("no stdout pipe")));
        };
        let second = next
            .command()
            .stdin(stdout)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let second = match second {
            Ok(second) => second,
            Err(source) => {
                kill(&mut first);
                return Err(next.spawn_error(source));
            }
        };
        // Wait for the consumer first: if it dies early, the producer gets EPIPE and ends too.
        let second_output = second
            .wait_with_output()
            .map_err(|source| next.spawn_error(source))?;
        let first_status = first.wait().map_err(|source| self.spawn_error(source))?;
        if !first_status.success() {
            let stderr = std::fs::read_to_string(log).unwrap_or_default();
            return Err(self.failed(first_status, &stderr));
        }
        if !second_output.status.success() {
            return Err(next.failed(
                second_output.status,
                &String::from_utf8_lossy(&second_output.stderr),
            ));
        }
        Ok(String::from_utf8_lossy(&second_output.stdout)
            .trim()
            .to_owned())
    }

    fn spawn_error(&self, source: std::io::Error) -> LabError {
        LabError::Spawn {
            command: self.display(),
            source,
        }
    }

    /// A finished run's stdout (trimmed) when it exited 0, else the error with its stderr.
    fn result(&self, output: &std::process::Output) -> Result<String, LabError> {
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(self.failed(output.status, &String::from_utf8_lossy(&output.stderr)))
        }
    }

    fn failed(&self, status: ExitStatus, stderr: &str) -> LabError {
        LabError::Failed {
            command: self.display(),
            status: status_text(status),
            stderr: stderr.to_owned(),
            hint: None,
        }
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn status_text(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// Whether `program` is on PATH.
pub(crate) fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|directory| directory.join(program).is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A command is shown as a shell would read it, so it can be copied and run by hand.
    #[test]
    fn display_quotes_words() {
        let program = Program::docker()
            .args(["run", "--device-cgroup-rule", "a *:* rwm"])
            .arg("CMD [\"/sbin/init\"]");
        assert_eq!(
            program.display(),
            r#"docker run --device-cgroup-rule 'a *:* rwm' 'CMD ["/sbin/init"]'"#
        );
    }

    // A failing command's error names it, its exit status and its stderr.
    #[test]
    fn failure_names_the_command() {
        let error = Program::new("sh")
            .args(["-c", "echo oops >&2; exit 3"])
            .output()
            .expect_err("the command fails");
        let text = error.to_string();
        assert!(text.starts_with("`sh -c 'echo oops >&2; exit 3'` failed (exit status 3)"));
        assert!(text.ends_with("\n    oops"), "{text}");
    }

    // In a pipeline the producer's failure is reported with its own log, not as the consumer's.
    #[test]
    fn pipe_reports_the_failing_side() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = dir.path().join("log");
        let output = Program::new("sh")
            .args(["-c", "echo hello"])
            .pipe(&Program::new("cat"), &log)
            .expect("the pipe works");
        assert_eq!(output, "hello");
        let error = Program::new("sh")
            .args(["-c", "echo broken >&2; exit 1"])
            .pipe(&Program::new("cat"), &log)
            .expect_err("the producer fails");
        assert!(error.to_string().contains("broken"), "{error}");
    }

    #[test]
    fn a_program_that_does_not_finish_in_time_is_killed_with_a_hint() {
        let error = Program::new("sleep")
            .arg("30")
            .output_within(std::time::Duration::from_secs(1), "restart it")
            .expect_err("sleep 30 outlives a 1 s limit")
            .to_string();
        assert_eq!(
            error,
            "`sleep 30` failed (still running after 1 s, killed)\nhint: restart it"
        );
    }

    #[test]
    fn a_program_that_finishes_in_time_gives_its_output() {
        let output = Program::new("echo")
            .arg("done")
            .output_within(std::time::Duration::from_secs(30), "unused")
            .expect("echo finishes");
        assert_eq!(output, "done");
    }
}
