//! Running a parsed command line: and-or lists, pipelines, redirections, the programs that wrap
//! other programs (`sudo`, `sh -c`, `env`, `timeout`) and `sleep`. Everything else is a
//! synchronous program in [`super::programs`], run with the world locked.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use super::fs::{DEFAULT_UMASK, Fs, FsError};
use super::programs;
use super::server::Shared;
use super::shell::{self, Connector, Flavor, Pipeline, RedirectOp, Script, Simple};

/// What a command (or a whole line) produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: u32,
}

impl Output {
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Output {
        Output {
            stdout: stdout.into(),
            stderr: Vec::new(),
            status: 0,
        }
    }

    pub fn status(status: u32) -> Output {
        Output {
            stdout: Vec::new(),
            stderr: Vec::new(),
            status,
        }
    }

    /// `message` on stderr (a newline is added if missing) and `status`.
    pub fn error(message: impl Into<String>, status: u32) -> Output {
        let mut message = message.into();
        if !message.ends_with('\n') {
            message.push('\n');
        }
        Output {
            stdout: Vec::new(),
            stderr: message.into_bytes(),
            status,
        }
    }

    pub fn with_status(mut self, status: u32) -> Output {
        self.status = status;
        self
    }

    pub fn with_stderr(mut self, message: impl AsRef<str>) -> Output {
        self.stderr.extend_from_slice(message.as_ref().as_bytes());
        self
    }
}

/// The standard input a client sends on the channel, available once the client sends EOF.
/// The first command that reads it gets all of it; later readers get nothing.
pub(crate) enum Stdin {
    Pending(oneshot::Receiver<Vec<u8>>),
    Ready(Vec<u8>),
    Taken,
}

impl Stdin {
    pub fn new(receiver: oneshot::Receiver<Vec<u8>>) -> Stdin {
        Stdin::Pending(receiver)
    }

    pub async fn take(&mut self) -> Vec<u8> {
        match std::mem::replace(self, Stdin::Taken) {
            Stdin::Pending(receiver) => receiver.await.unwrap_or_default(),
            Stdin::Ready(bytes) => bytes,
            Stdin::Taken => Vec::new(),
        }
    }

    /// The first `limit` bytes, the rest left for the next reader (`head -c N` reads no
    /// further than it needs, so the commands after it in the line read on from there).
    pub async fn take_prefix(&mut self, limit: usize) -> Vec<u8> {
        let mut bytes = self.take().await;
        let rest = bytes.split_off(limit.min(bytes.len()));
        *self = Stdin::Ready(rest);
        bytes
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs a line as root's login shell (bash) runs what sshd hands it.
pub(crate) async fn run_command_line(
    shared: &Shared,
    host: usize,
    line: &str,
    mut stdin: Stdin,
) -> Output {
    run_line(shared, host, line, Flavor::Bash, DEFAULT_UMASK, &mut stdin).await
}

fn run_line<'a>(
    shared: &'a Shared,
    host: usize,
    line: &'a str,
    flavor: Flavor,
    umask: u32,
    stdin: &'a mut Stdin,
) -> BoxFuture<'a, Output> {
    Box::pin(async move {
        let script = match shell::parse(line) {
            Ok(script) => script,
            Err(error) => return Output::error(shell::syntax_error(flavor, &error), 2),
        };
        let mut interpreter = Interpreter {
            shared,
            host,
            flavor,
            umask,
            exited: false,
        };
        interpreter.script(&script, stdin).await
    })
}

struct Interpreter<'a> {
    shared: &'a Shared,
    host: usize,
    flavor: Flavor,
    /// This shell's umask (inherited by the shells it starts).
    umask: u32,
    /// `exit` ran: the rest of the line is skipped.
    exited: bool,
}

/// Where a file descriptor writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sink {
    Stdout,
    Stderr,
    Null,
    File(String),
}

impl Interpreter<'_> {
    async fn script(&mut self, script: &Script, stdin: &mut Stdin) -> Output {
        let mut out = Output::default();
        for item in &script.items {
            let mut status = self.pipeline(&item.first, &mut out, stdin).await;
            for (connector, pipeline) in &item.rest {
                if self.exited {
                    break;
                }
                let run = match connector {
                    Connector::And => status == 0,
                    Connector::Or => status != 0,
                };
                if run {
                    status = self.pipeline(pipeline, &mut out, stdin).await;
                }
            }
            out.status = status;
            if self.exited {
                break;
            }
        }
        out
    }

    async fn pipeline(&mut self, pipeline: &Pipeline, out: &mut Output, stdin: &mut Stdin) -> u32 {
        let mut input = None;
        let mut status = 0;
        let last = pipeline.commands.len().saturating_sub(1);
        for (index, command) in pipeline.commands.iter().enumerate() {
            let result = self.simple(command, input.take(), stdin).await;
            out.stderr.extend_from_slice(&result.stderr);
            if index < last {
                input = Some(result.stdout);
            } else {
                out.stdout.extend_from_slice(&result.stdout);
            }
            status = result.status;
        }
        if pipeline.negate {
            status = u32::from(status == 0);
        }
        status
    }

    async fn simple(
        &mut self,
        command: &Simple,
        pipe: Option<Vec<u8>>,
        stdin: &mut Stdin,
    ) -> Output {
        let words: Vec<String> = command
            .words
            .iter()
            .skip_while(|word| shell::is_assignment(word))
            .cloned()
            .collect();
        let mut sinks = [Sink::Stdout, Sink::Stdout, Sink::Stderr];
        let mut input = pipe;
        {
            let mut world = self.shared.world();
            let fs = &mut world.hosts[self.host].fs;
            for redirect in &command.redirects {
                let fd = redirect.fd as usize;
                match redirect.op {
                    RedirectOp::Write | RedirectOp::Append => {
                        let sink = if redirect.target == "/dev/null" {
                            Sink::Null
                        } else {
                            if let Err(error) = fs.check_creatable(&redirect.target) {
                                return self.cannot_create(&redirect.target, error);
                            }
                            let path = Fs::normalize(&redirect.target);
                            if redirect.op == RedirectOp::Write || !fs.is_file(&path) {
                                let _ = fs.write_with_umask(&path, b"", false, self.umask);
                            }
                            Sink::File(path)
                        };
                        if let Some(slot) = sinks.get_mut(fd) {
                            *slot = sink;
                        }
                    }
                    RedirectOp::Read => match fs.read(&redirect.target) {
                        Ok(file) => input = Some(file.content.clone()),
                        Err(error) => return self.cannot_open(&redirect.target, error),
                    },
                    RedirectOp::Duplicate => {
                        let source = redirect.target.parse::<usize>().unwrap_or(1);
                        if fd < sinks.len() && source < sinks.len() && fd > 0 {
                            sinks[fd] = sinks[source].clone();
                        }
                    }
                }
            }
        }
        if words.is_empty() {
            return Output::default();
        }
        let result = self.execute(&words, input, stdin).await;
        let mut out = Output::status(result.status);
        self.deliver(&sinks[1], result.stdout, &mut out);
        self.deliver(&sinks[2], result.stderr, &mut out);
        out
    }

    fn deliver(&self, sink: &Sink, bytes: Vec<u8>, out: &mut Output) {
        if bytes.is_empty() {
            return;
        }
        match sink {
            Sink::Stdout => out.stdout.extend_from_slice(&bytes),
            Sink::Stderr => out.stderr.extend_from_slice(&bytes),
            Sink::Null => {}
            Sink::File(path) => {
                let mut world = self.shared.world();
                let _ = world.hosts[self.host].fs.write(path, &bytes, true);
            }
        }
    }

    fn cannot_create(&self, path: &str, error: FsError) -> Output {
        match self.flavor {
            Flavor::Dash => {
                let reason = match error {
                    FsError::IsADirectory => "Is a directory",
                    FsError::NotFound | FsError::NotADirectory => "Directory nonexistent",
                };
                Output::error(format!("sh: 1: cannot create {path}: {reason}"), 2)
            }
            Flavor::Bash => Output::error(format!("bash: line 1: {path}: {}", error.describe()), 1),
        }
    }

    fn cannot_open(&self, path: &str, error: FsError) -> Output {
        match self.flavor {
            Flavor::Dash => Output::error(format!("sh: 1: cannot open {path}: No such file"), 2),
            Flavor::Bash => Output::error(format!("bash: line 1: {path}: {}", error.describe()), 1),
        }
    }

    fn execute<'s>(
        &'s mut self,
        words: &'s [String],
        input: Option<Vec<u8>>,
        stdin: &'s mut Stdin,
    ) -> BoxFuture<'s, Output> {
        Box::pin(async move {
            let program = programs::program_name(&words[0]);
            let args = &words[1..];
            match program {
                "sudo" => {
                    let mut rest = args;
                    while let Some(first) = rest.first() {
                        match first.as_str() {
                            "-u" | "-g" | "-C" | "-D" | "-h" | "-p" | "-U" => {
                                rest = rest.get(2..).unwrap_or(&[]);
                            }
                            "--" => {
                                rest = &rest[1..];
                                break;
                            }
                            flag if flag.starts_with('-') => rest = &rest[1..],
                            _ => break,
                        }
                    }
                    if rest.is_empty() {
                        return Output::error(
                            "usage: sudo -h | -K | -k | -V\nusage: sudo -v [-ABknS] [-g group] [-h host] [-p prompt] [-u user]\nusage: sudo [-ABbEHknPS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-R directory] [-T timeout] [-u user] [VAR=value] [-i|-s] [<command>]",
                            1,
                        );
                    }
                    let rest: Vec<String> = rest
                        .iter()
                        .skip_while(|word| shell::is_assignment(word))
                        .cloned()
                        .collect();
                    self.execute(&rest, input, stdin).await
                }
                "sh" | "dash" | "bash" => {
                    let flavor = if program == "bash" {
                        Flavor::Bash
                    } else {
                        Flavor::Dash
                    };
                    self.shell(flavor, args, input, stdin).await
                }
                "env" => {
                    let mut rest = args;
                    while let Some(first) = rest.first() {
                        if first == "-i" || first == "-" {
                            rest = &rest[1..];
                        } else if first == "-u" {
                            rest = rest.get(2..).unwrap_or(&[]);
                        } else if shell::is_assignment(first) {
                            rest = &rest[1..];
                        } else {
                            break;
                        }
                    }
                    if rest.is_empty() {
                        return Output::ok(
                            "HOME=/root\nLOGNAME=root\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nSHELL=/bin/bash\nUSER=root\n",
                        );
                    }
                    self.execute(rest, input, stdin).await
                }
                "nohup" | "exec" | "time" if !args.is_empty() => {
                    self.execute(args, input, stdin).await
                }
                "timeout" => {
                    let mut rest = args;
                    while rest.first().is_some_and(|word| word.starts_with('-')) {
                        let takes_value = matches!(rest[0].as_str(), "-s" | "-k");
                        rest = rest.get(if takes_value { 2 } else { 1 }..).unwrap_or(&[]);
                    }
                    match rest.get(1..) {
                        Some(command) if !command.is_empty() => {
                            self.execute(command, input, stdin).await
                        }
                        _ => Output::error(
                            "timeout: missing operand\nTry 'timeout --help' for more information.",
                            125,
                        ),
                    }
                }
                "sleep" => match args.first().map(|arg| parse_sleep(arg)) {
                    Some(Some(duration)) => {
                        tokio::time::sleep(duration).await;
                        Output::default()
                    }
                    Some(None) => Output::error(
                        format!(
                            "sleep: invalid time interval '{}'\nTry 'sleep --help' for more information.",
                            args[0]
                        ),
                        1,
                    ),
                    None => Output::error(
                        "sleep: missing operand\nTry 'sleep --help' for more information.",
                        1,
                    ),
                },
                "umask" => match args.first() {
                    None => Output::ok(format!("{:04o}\n", self.umask)),
                    Some(mask) => match u32::from_str_radix(mask, 8) {
                        Ok(mask) if mask <= 0o777 => {
                            self.umask = mask;
                            Output::default()
                        }
                        _ => Output::error(
                            format!("{} umask: Illegal number: {mask}", self.flavor.prefix()),
                            2,
                        ),
                    },
                },
                "exit" => {
                    self.exited = true;
                    Output::status(args.first().and_then(|arg| arg.parse().ok()).unwrap_or(0))
                }
                _ => {
                    let data = if programs::reads_stdin(words) {
                        Some(match (input, programs::reads_at_most(words)) {
                            (Some(bytes), _) => bytes,
                            (None, Some(limit)) => stdin.take_prefix(limit).await,
                            (None, None) => stdin.take().await,
                        })
                    } else {
                        None
                    };
                    let (output, settles_at) = {
                        let mut world = self.shared.world();
                        let output = programs::run(
                            &mut world,
                            self.host,
                            words,
                            data,
                            self.flavor,
                            self.umask,
                        );
                        let joined = output.status == 0
                            && words.first().is_some_and(|word| word == "docker")
                            && words.iter().any(|word| word == "join");
                        let host = &world.hosts[self.host];
                        let settles_at = host
                            .swarm
                            .as_ref()
                            .and_then(|member| member.settles_at)
                            .filter(|_| joined);
                        (output, settles_at)
                    };
                    // A join answers once the node is in (see `Host::join_takes`).
                    if let Some(settles_at) = settles_at {
                        tokio::time::sleep_until(settles_at.into()).await;
                    }
                    output
                }
            }
        })
    }

    /// `sh -c LINE`, `sh FILE`, or `sh` / `sh -s` reading the script from stdin.
    async fn shell(
        &mut self,
        flavor: Flavor,
        args: &[String],
        input: Option<Vec<u8>>,
        stdin: &mut Stdin,
    ) -> Output {
        let name = match flavor {
            Flavor::Bash => "bash",
            Flavor::Dash => "sh",
        };
        let mut index = 0;
        let mut command = None;
        while index < args.len() {
            let arg = &args[index];
            if arg == "-c" {
                match args.get(index + 1) {
                    Some(line) => command = Some(line.clone()),
                    None => {
                        return Output::error(format!("{name}: 0: -c requires an argument"), 2);
                    }
                }
                break;
            }
            if arg.starts_with('-') && arg.len() > 1 {
                if arg.contains('c') {
                    // `-ec LINE` and the like.
                    match args.get(index + 1) {
                        Some(line) => command = Some(line.clone()),
                        None => {
                            return Output::error(format!("{name}: 0: -c requires an argument"), 2);
                        }
                    }
                    break;
                }
                index += 1;
                continue;
            }
            break;
        }
        let mut own_stdin;
        let nested_stdin: &mut Stdin = match input {
            Some(bytes) => {
                own_stdin = Stdin::Ready(bytes);
                &mut own_stdin
            }
            None => stdin,
        };
        if let Some(line) = command {
            return run_line(
                self.shared,
                self.host,
                &line,
                flavor,
                self.umask,
                nested_stdin,
            )
            .await;
        }
        let script = match args.get(index) {
            Some(path) => {
                let world = self.shared.world();
                match world.hosts[self.host].fs.read(path) {
                    Ok(file) => String::from_utf8_lossy(&file.content).into_owned(),
                    Err(_) => {
                        return Output::error(
                            format!("{name}: 0: cannot open {path}: No such file"),
                            2,
                        );
                    }
                }
            }
            None => String::from_utf8_lossy(&nested_stdin.take().await).into_owned(),
        };
        let mut empty = Stdin::Taken;
        run_line(
            self.shared,
            self.host,
            &script,
            flavor,
            self.umask,
            &mut empty,
        )
        .await
    }
}

/// `sleep`'s argument: seconds with an optional `s`, `m`, `h` or `d` suffix.
fn parse_sleep(arg: &str) -> Option<Duration> {
    let (number, unit) = match arg.char_indices().last()? {
        (index, c @ ('s' | 'm' | 'h' | 'd')) => (&arg[..index], c),
        _ => (arg, 's'),
    };
    let value: f64 = number.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let seconds = match unit {
        'm' => value * 60.0,
        'h' => value * 3600.0,
        'd' => value * 86400.0,
        _ => value,
    };
    Some(Duration::from_secs_f64(seconds))
}
