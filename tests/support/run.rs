//! A run of the binary: one being prepared ([`Invocation`]) and one that ended ([`Run`]).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A swarmform run being prepared by [`crate::support::Test::swarmform`].
pub struct Invocation {
    command: Command,
    stdin: Option<Vec<u8>>,
    dir: String,
}

impl Invocation {
    pub(super) fn new(command: Command, dir: &Path) -> Invocation {
        Invocation {
            command,
            stdin: None,
            dir: dir.display().to_string(),
        }
    }

    /// Sets an environment variable for this run alone.
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.command.env(key, value);
        self
    }

    /// Bytes to pipe to the run's standard input, which is then closed.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Invocation {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs it to its end.
    pub fn run(mut self) -> Run {
        let Some(bytes) = self.stdin else {
            let output = self.command.output().expect("run swarmform");
            return Run::new(output, self.dir);
        };
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swarmform");
        let mut stdin = child.stdin.take().expect("stdin");
        // Written beside the wait, so a run that prints before it reads cannot stall on a full
        // pipe.
        let writer = std::thread::spawn(move || stdin.write_all(&bytes));
        let output = child.wait_with_output().expect("wait for swarmform");
        writer
            .join()
            .expect("the stdin writer")
            .expect("write stdin");
        Run::new(output, self.dir)
    }
}

/// What a swarmform run left: its streams and exit code.
pub struct Run {
    output: Output,
    /// The test's folder, shown as `[TEMP]` in the streams.
    dir: String,
}

impl Run {
    fn new(output: Output, dir: String) -> Run {
        Run { output, dir }
    }

    /// stdout, with the test's folder as `[TEMP]`.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).replace(&self.dir, "[TEMP]")
    }

    /// stderr, with the test's folder as `[TEMP]`.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).replace(&self.dir, "[TEMP]")
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts exit code `code`, showing both streams when it differs.
    pub fn status(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn success(self) -> Run {
        self.status(0)
    }

    pub fn failure(self) -> Run {
        self.status(1)
    }
}

/// Waits for `child` at most `timeout`, reading its streams meanwhile; SIGKILLs it then
/// (`Err`, with what it printed so far).
pub(super) fn finish_within(mut child: Child, timeout: Duration, dir: &Path) -> Result<Run, Run> {
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|stream| Box::new(stream) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|stream| Box::new(stream) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for swarmform") {
            break (status, false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break (child.wait().expect("reap swarmform"), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    };
    let run = Run::new(output, dir.display().to_string());
    if timed_out { Err(run) } else { Ok(run) }
}
