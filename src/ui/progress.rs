//! Progress of an apply: a live line per running vertex on a terminal (indicatif), plain lines
//! otherwise. `-v` adds the remote commands (their secret words redacted) and what they printed. Plain
//! lines go through the [`Printer`]; live lines and spinner messages through [`println`] and
//! [`crate::redact::scrub`]: both scrub the run's sensitive values.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::printer::Printer;
use crate::apply::report::Reporter;
use crate::plan::graph::Vertex;

/// Plain lines on stderr, one per event; what CI logs and pipes see.
pub struct Lines {
    printer: Printer,
    verbose: bool,
    started: Mutex<BTreeMap<Vertex, Instant>>,
}

impl Lines {
    pub fn new(printer: Printer, verbose: bool) -> Lines {
        Lines {
            printer,
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

/// A line above the live bars, scrubbed of the run's sensitive values.
fn println(multi: &MultiProgress, line: impl AsRef<str>) {
    let _ = multi.println(crate::redact::scrub(line.as_ref()));
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

impl Reporter for Lines {
    fn started(&self, vertex: &Vertex, description: &str) {
        if let Ok(mut started) = self.started.lock() {
            started.insert(vertex.clone(), Instant::now());
        }
        self.printer
            .err_line(format_args!("{vertex}: {description}..."));
    }

    fn step(&self, vertex: &Vertex, description: &str) {
        if self.verbose {
            self.printer
                .err_line(format_args!("{vertex}: {description}"));
        }
    }

    fn command(&self, host: &str, command: &str) {
        if self.verbose {
            self.printer
                .err_line(format_args!("  [{host}] $ {command}"));
        }
    }

    fn output(&self, host: &str, status: u32, stdout: &str, stderr: &str) {
        if self.verbose {
            for line in stdout.lines().chain(stderr.lines()) {
                self.printer.err_line(format_args!("  [{host}] {line}"));
            }
            if status != 0 {
                self.printer
                    .err_line(format_args!("  [{host}] exit {status}"));
            }
        }
    }

    fn succeeded(&self, vertex: &Vertex) {
        self.printer
            .err_line(format_args!("{vertex}: done{}", self.elapsed(vertex)));
    }

    fn failed(&self, vertex: &Vertex, error: &str) {
        self.printer.err_line(format_args!(
            "{vertex}: failed{}: {}",
            self.elapsed(vertex),
            error.lines().next().unwrap_or_default()
        ));
    }

    fn skipped(&self, vertex: &Vertex, cause: &Vertex) {
        self.printer
            .err_line(format_args!("{vertex}: skipped, because {cause} failed"));
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
        println(&self.multi, line.replace("{elapsed}", &elapsed));
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
        bar.set_message(crate::redact::scrub(description));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(vertex.clone(), (bar, Instant::now()));
        }
    }

    fn step(&self, vertex: &Vertex, description: &str) {
        if let Ok(bars) = self.bars.lock()
            && let Some((bar, _)) = bars.get(vertex)
        {
            bar.set_message(crate::redact::scrub(description));
        }
    }

    fn command(&self, host: &str, command: &str) {
        if self.verbose {
            println(&self.multi, format!("  [{host}] $ {command}"));
        }
    }

    fn output(&self, host: &str, status: u32, stdout: &str, stderr: &str) {
        if self.verbose {
            for line in stdout.lines().chain(stderr.lines()) {
                println(&self.multi, format!("  [{host}] {line}"));
            }
            if status != 0 {
                println(&self.multi, format!("  [{host}] exit {status}"));
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
        println(
            &self.multi,
            format!("- {vertex}: skipped, because {cause} failed"),
        );
    }
}

/// Per-host transfer state for the byte-progress reporters.
struct Transfer {
    started: Instant,
    total: Option<u64>,
    sent: u64,
    /// When the last plain progress line was printed.
    reported: Instant,
}

impl Transfer {
    fn new(total: Option<u64>) -> Transfer {
        let now = Instant::now();
        Transfer {
            started: now,
            total,
            sent: 0,
            reported: now,
        }
    }

    /// `12.0 MiB / 300.0 MiB (4.0 MiB/s)`, or without the total when it is unknown.
    fn progress(&self) -> String {
        let rate = self.sent as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let sent = indicatif::BinaryBytes(self.sent);
        match self.total {
            Some(total) => format!(
                "{sent} / {} ({}/s)",
                indicatif::BinaryBytes(total),
                indicatif::BinaryBytes(rate as u64)
            ),
            None => format!("{sent} ({}/s)", indicatif::BinaryBytes(rate as u64)),
        }
    }

    /// `sent 12.0 MiB in 3.0s (4.0 MiB/s)`.
    fn summary(&self) -> String {
        let elapsed = self.started.elapsed();
        let rate = self.sent as f64 / elapsed.as_secs_f64().max(0.001);
        format!(
            "sent {} in {} ({}/s)",
            indicatif::BinaryBytes(self.sent),
            seconds(elapsed),
            indicatif::BinaryBytes(rate as u64)
        )
    }
}

/// How often [`TransferLines`] prints a host's progress while it sends.
const TRANSFER_LINE_INTERVAL: Duration = Duration::from_secs(10);

/// Transfers as plain lines: a start, progress every 10 s, what Docker said, the end.
pub struct TransferLines {
    printer: Printer,
    transfers: Mutex<BTreeMap<String, Transfer>>,
}

impl TransferLines {
    pub fn new(printer: Printer) -> TransferLines {
        TransferLines {
            printer,
            transfers: Mutex::new(BTreeMap::new()),
        }
    }
}

impl crate::apply::report::TransferReporter for TransferLines {
    fn started(&self, host: &str, what: &str, total: Option<u64>) {
        if let Ok(mut transfers) = self.transfers.lock() {
            transfers.insert(host.to_owned(), Transfer::new(total));
        }
        match total {
            Some(total) => self.printer.err_line(format_args!(
                "{host}: sending {what} ({})...",
                indicatif::BinaryBytes(total)
            )),
            None => self
                .printer
                .err_line(format_args!("{host}: sending {what}...")),
        }
    }

    fn sent(&self, host: &str, bytes: u64) {
        let line = self.transfers.lock().ok().and_then(|mut transfers| {
            let transfer = transfers.get_mut(host)?;
            transfer.sent = bytes;
            if transfer.reported.elapsed() < TRANSFER_LINE_INTERVAL {
                return None;
            }
            transfer.reported = Instant::now();
            Some(transfer.progress())
        });
        if let Some(line) = line {
            self.printer.err_line(format_args!("{host}: {line}"));
        }
    }

    fn message(&self, host: &str, text: &str) {
        self.printer.err_line(format_args!("{host}: {text}"));
    }

    fn finished(&self, host: &str, error: Option<&str>) {
        let summary = self
            .transfers
            .lock()
            .ok()
            .and_then(|mut transfers| transfers.remove(host))
            .map(|transfer| transfer.summary())
            .unwrap_or_default();
        match error {
            None => self
                .printer
                .err_line(format_args!("{host}: done, {summary}")),
            Some(error) => self.printer.err_line(format_args!(
                "{host}: failed: {}",
                error.lines().next().unwrap_or_default()
            )),
        }
    }
}

/// Transfers on a terminal: a bar per host (bytes, total, rate), lines above it for what
/// Docker said and for finished hosts.
pub struct TransferLive {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, (ProgressBar, Transfer)>>,
}

impl TransferLive {
    pub fn new() -> TransferLive {
        TransferLive {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Default for TransferLive {
    fn default() -> TransferLive {
        TransferLive::new()
    }
}

impl crate::apply::report::TransferReporter for TransferLive {
    fn started(&self, host: &str, what: &str, total: Option<u64>) {
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {wide_msg}",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{spinner} {prefix} {binary_bytes} {binary_bytes_per_sec} {wide_msg}",
            ),
        };
        let bar = self.multi.add(bar);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(host.to_owned());
        bar.set_message(crate::redact::scrub(what));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(host.to_owned(), (bar, Transfer::new(total)));
        }
    }

    fn sent(&self, host: &str, bytes: u64) {
        if let Ok(mut bars) = self.bars.lock()
            && let Some((bar, transfer)) = bars.get_mut(host)
        {
            transfer.sent = bytes;
            bar.set_position(bytes);
        }
    }

    fn message(&self, host: &str, text: &str) {
        println(&self.multi, format!("  {host}: {text}"));
    }

    fn finished(&self, host: &str, error: Option<&str>) {
        let entry = self.bars.lock().ok().and_then(|mut bars| bars.remove(host));
        let summary = entry
            .as_ref()
            .map(|(_, transfer)| transfer.summary())
            .unwrap_or_default();
        if let Some((bar, _)) = entry {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        println(
            &self.multi,
            match error {
                None => format!("✓ {host}: {summary}"),
                Some(error) => format!("✗ {host}: {}", error.lines().next().unwrap_or_default()),
            },
        );
    }
}
