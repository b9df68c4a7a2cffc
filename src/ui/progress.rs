//! Progress of an apply: a live line per running vertex on a terminal (indicatif), plain lines
//! otherwise. `-v` adds the remote commands (already redacted) and what they printed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::report::Reporter;
use crate::plan::graph::Vertex;

/// Plain lines on stderr, one per event; what CI logs and pipes see.
pub struct Lines {
    verbose: bool,
    started: Mutex<BTreeMap<Vertex, Instant>>,
}

impl Lines {
    pub fn new(verbose: bool) -> Lines {
        Lines {
            verbose,
            started: Mutex::new(BTreeMap::new()),
        }
    }

    fn elapsed(&self, vertex: &Vertex) -> String {
        let started = self
            .started
            .lock()
            .ok()
            .and_then(|started| started.get(vertex).copied());
        started.map_or_else(String::new, |started| {
            format!(" ({})", seconds(started.elapsed()))
        })
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

impl Reporter for Lines {
    fn started(&self, vertex: &Vertex, description: &str) {
        if let Ok(mut started) = self.started.lock() {
            started.insert(vertex.clone(), Instant::now());
        }
        eprintln!("{vertex}: {description}...");
    }

    fn step(&self, vertex: &Vertex, description: &str) {
        if self.verbose {
            eprintln!("{vertex}: {description}");
        }
    }

    fn command(&self, host: &str, command: &str) {
        if self.verbose {
            eprintln!("  [{host}] $ {command}");
        }
    }

    fn output(&self, host: &str, status: u32, stdout: &str, stderr: &str) {
        if self.verbose {
            for line in stdout.lines().chain(stderr.lines()) {
                eprintln!("  [{host}] {line}");
            }
            if status != 0 {
                eprintln!("  [{host}] exit {status}");
            }
        }
    }

    fn succeeded(&self, vertex: &Vertex) {
        eprintln!("{vertex}: done{}", self.elapsed(vertex));
    }

    fn failed(&self, vertex: &Vertex, error: &str) {
        eprintln!(
            "{vertex}: failed{}: {}",
            self.elapsed(vertex),
            error.lines().next().unwrap_or_default()
        );
    }

    fn skipped(&self, vertex: &Vertex, cause: &Vertex) {
        eprintln!("{vertex}: skipped, because {cause} failed");
    }
}

/// A spinner per running vertex above a line per finished one.
pub struct Live {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<Vertex, (ProgressBar, Instant)>>,
    verbose: bool,
}

impl Live {
    pub fn new(verbose: bool) -> Live {
        Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
            verbose,
        }
    }

    fn finish(&self, vertex: &Vertex, line: String) {
        let bar = self
            .bars
            .lock()
            .ok()
            .and_then(|mut bars| bars.remove(vertex));
        let elapsed = bar
            .as_ref()
            .map(|(_, started)| seconds(started.elapsed()))
            .unwrap_or_default();
        if let Some((bar, _)) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let _ = self.multi.println(line.replace("{elapsed}", &elapsed));
    }
}

impl Reporter for Live {
    fn started(&self, vertex: &Vertex, description: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(vertex.to_string());
        bar.set_message(description.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(vertex.clone(), (bar, Instant::now()));
        }
    }

    fn step(&self, vertex: &Vertex, description: &str) {
        if let Ok(bars) = self.bars.lock()
            && let Some((bar, _)) = bars.get(vertex)
        {
            bar.set_message(description.to_owned());
        }
    }

    fn command(&self, host: &str, command: &str) {
        if self.verbose {
            let _ = self.multi.println(format!("  [{host}] $ {command}"));
        }
    }

    fn output(&self, host: &str, status: u32, stdout: &str, stderr: &str) {
        if self.verbose {
            for line in stdout.lines().chain(stderr.lines()) {
                let _ = self.multi.println(format!("  [{host}] {line}"));
            }
            if status != 0 {
                let _ = self.multi.println(format!("  [{host}] exit {status}"));
            }
        }
    }

    fn succeeded(&self, vertex: &Vertex) {
        self.finish(vertex, format!("✓ {vertex} ({{elapsed}})"));
    }

    fn failed(&self, vertex: &Vertex, error: &str) {
        self.finish(
            vertex,
            format!(
                "✗ {vertex} ({{elapsed}}): {}",
                error.lines().next().unwrap_or_default()
            ),
        );
    }

    fn skipped(&self, vertex: &Vertex, cause: &Vertex) {
        let _ = self
            .multi
            .println(format!("- {vertex}: skipped, because {cause} failed"));
    }
}
