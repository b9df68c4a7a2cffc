//! Scrubbing sensitive values out of everything the run shows, logs or stores. A leaf: the
//! config, the plan, the swarm code and the UI share it, and it imports nothing from the rest of
//! the crate.
//!
//! Two tools:
//! - [`redact`] replaces a given list of values in one text; it is part of the *data* where a
//!   config's redacted text is hashed or recorded (compose summaries, a stack's checks).
//! - The run-wide registry: every source of a sensitive value (config variables, inputs,
//!   registry passwords, secret contents, join tokens and unlock keys read live) calls
//!   [`register`]; every output (the printer's stdout and stderr, the tracing subscriber, live
//!   progress, error messages) goes through [`scrub`] or a [`Scrubbed`] writer.
//!
//! Forms registered per value: the value; trimmed of surrounding whitespace; its standard base64
//! (without padding, so padded and unpadded both match); JSON-escaped and shell single-quoted
//! (`'\''`) forms when they differ. A long value (over [`LONG`] bytes, a PEM key, a file) is
//! registered per line of at least [`LINE_MIN`] bytes (PEM armour lines are left out: they are
//! not secret), a line over [`CHUNK`] bytes in pieces, and its base64 in pieces, so the matcher
//! stays small and quick to build whatever the size of the value; a text holding the value holds
//! all its pieces, each scrubbed.
//!
//! Values under [`MIN`] bytes are not registered: scrubbing every `on` or `1` of the output
//! would mangle it and such a value protects nothing. A registered value is scrubbed wherever it
//! appears, even inside a word or where it is an ordinary word (a password `true` masks the word
//! `true`): leaking is worse than over-masking.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;

/// What a sensitive value is replaced with.
pub const MASK: &str = "(sensitive)";

/// Values shorter than this (in bytes) are not registered.
pub const MIN: usize = 4;
/// Values longer than this are registered per line / piece rather than whole.
pub const LONG: usize = 1024;
/// The shortest line of a long value that is registered.
pub const LINE_MIN: usize = 8;
/// The longest piece of a long value's line or base64 that is registered whole.
pub const CHUNK: usize = 256;

/// Replaces every sensitive value in `text` with `(sensitive)`, longest first so a value that
/// contains another is scrubbed whole.
pub fn redact(text: &str, sensitive: &[String]) -> String {
    let mut values: Vec<&String> = sensitive.iter().filter(|value| !value.is_empty()).collect();
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    let mut text = text.to_owned();
    for value in values {
        text = text.replace(value.as_str(), MASK);
    }
    text
}

/// Matchers kept before they are merged into one: each scrub runs every one of them.
const GENERATIONS: usize = 8;

/// The registered patterns and the matchers built from them: the first over what was
/// registered before the first scrub (the config's values), then a small one per batch of
/// values registered later (a join token read during an apply), so a late value never costs a
/// rebuild of the whole automaton (at a hundred hosts' TLS keys, some 3 MB for a moment, while
/// every connection's buffers are in use). Past [`GENERATIONS`] they are merged into one.
#[derive(Default)]
struct Registry {
    patterns: HashSet<Box<str>>,
    /// Registered forms no matcher has yet.
    pending: Vec<Box<str>>,
    /// Each value registered (a long one by its SHA-256), so registering it again costs one
    /// lookup, not its forms. Kept apart from `patterns`: a value that is already a form of
    /// another (`abcd` of `abcd\n`) still needs forms of its own (its base64).
    seen: HashSet<Box<str>>,
    long_seen: HashSet<[u8; 32]>,
    matchers: Vec<Arc<AhoCorasick>>,
    /// A matcher could not be built (past the automaton's size limits).
    unusable: bool,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // A panic elsewhere while holding the lock leaves the registry as it was: keep using it.
    let mut guard = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(guard.get_or_insert_with(Registry::default))
}

/// Registers a sensitive value for the rest of the run: it (and its forms, see the module) is
/// scrubbed from every output from now on. Cheap: the next scrub builds a matcher for what was
/// registered since the last.
pub fn register(value: &str) {
    if value.len() < MIN {
        return;
    }
    // The same value is registered again and again (a secret per host, per evaluation): the
    // second time costs one lookup.
    let long = (value.len() > LONG).then(|| {
        use sha2::Digest;
        <[u8; 32]>::from(sha2::Sha256::digest(value.as_bytes()))
    });
    let seen = with_registry(|registry| match &long {
        Some(digest) => !registry.long_seen.insert(*digest),
        None => !registry.seen.insert(value.into()),
    });
    if seen {
        return;
    }
    let mut forms = Vec::new();
    forms_of(value, &mut forms);
    if forms.is_empty() {
        return;
    }
    with_registry(|registry| {
        for form in forms {
            if !registry.patterns.contains(form.as_str()) {
                let form = form.into_boxed_str();
                registry.pending.push(form.clone());
                registry.patterns.insert(form);
            }
        }
    });
}

/// [`register`] for content that may not be text: registered when it is UTF-8.
pub fn register_bytes(content: &[u8]) {
    if let Ok(text) = std::str::from_utf8(content) {
        register(text);
    }
}

fn push_form(form: &str, forms: &mut Vec<String>) {
    // Duplicates are dropped by the registry's set.
    if form.len() >= MIN {
        forms.push(form.to_owned());
    }
}

fn forms_of(value: &str, forms: &mut Vec<String>) {
    if value.len() < MIN {
        return;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    let encoded = encoded.trim_end_matches('=');
    if value.len() <= LONG {
        push_form(value, forms);
        push_form(value.trim(), forms);
        push_form(encoded, forms);
        if let Ok(json) = serde_json::to_string(value)
            && let Some(inner) = json
                .strip_prefix('"')
                .and_then(|json| json.strip_suffix('"'))
        {
            push_form(inner, forms);
        }
        if value.contains('\'') {
            push_form(&value.replace('\'', r"'\''"), forms);
        }
    } else {
        for piece in pieces(encoded) {
            push_form(piece, forms);
        }
    }
    if value.contains('\n') || value.len() > LONG {
        for line in value.lines().map(str::trim) {
            if line.len() >= LINE_MIN && !line.starts_with("-----") {
                for piece in pieces(line) {
                    push_form(piece, forms);
                }
            }
        }
    }
}

/// `text` in pieces of at most about [`CHUNK`] bytes, cut on character boundaries.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > CHUNK {
        let mut cut = CHUNK;
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// What scrubbing uses now: nothing registered, the matchers, or (past the automaton's size
/// limits, which registering pieces keeps far away) nothing usable, when every text is masked
/// whole rather than shown unscrubbed.
enum Current {
    Nothing,
    Matchers(Vec<Arc<AhoCorasick>>),
    Unusable,
}

fn build<'a>(patterns: impl IntoIterator<Item = &'a Box<str>>) -> Option<Arc<AhoCorasick>> {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns.into_iter().map(|pattern| pattern.as_bytes()))
        .ok()
        .map(Arc::new)
}

/// The matchers over every registered form: one more over the forms registered since the last
/// scrub, or all merged into one when there would be too many.
fn current() -> Current {
    with_registry(|registry| {
        if registry.patterns.is_empty() {
            return Current::Nothing;
        }
        if !registry.pending.is_empty() {
            let built = if registry.matchers.len() >= GENERATIONS {
                registry.matchers.clear();
                build(registry.patterns.iter())
            } else {
                build(registry.pending.iter())
            };
            registry.pending.clear();
            match built {
                Some(matcher) => registry.matchers.push(matcher),
                None => registry.unusable = true,
            }
        }
        if registry.unusable {
            Current::Unusable
        } else {
            Current::Matchers(registry.matchers.clone())
        }
    })
}

/// How many forms are registered (for measurements and tests).
pub fn registered() -> usize {
    with_registry(|registry| registry.patterns.len())
}

/// `text` with every registered value replaced by `(sensitive)`.
pub fn scrub(text: &str) -> String {
    match current() {
        Current::Nothing => text.to_owned(),
        Current::Matchers(matchers) => {
            let bytes = scrub_with(&matchers, text.as_bytes());
            // Patterns are whole UTF-8 strings, so a match never cuts a character.
            String::from_utf8(bytes)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
        }
        Current::Unusable => MASK.to_owned(),
    }
}

/// [`scrub`] for bytes (what a writer is given).
pub fn scrub_bytes(bytes: &[u8]) -> Vec<u8> {
    match current() {
        Current::Nothing => bytes.to_vec(),
        Current::Matchers(matchers) => scrub_with(&matchers, bytes),
        Current::Unusable => {
            let mut out = MASK.as_bytes().to_vec();
            if bytes.ends_with(b"\n") {
                out.push(b'\n');
            }
            out
        }
    }
}

/// `bytes` with what the matchers find masked. With several, every matcher searches the
/// original bytes and the spans they found are masked together (overlapping ones as one), so a
/// value of one generation that contains or overlaps a value of another is masked whole, not
/// cut by the first matcher's mask.
fn scrub_with(matchers: &[Arc<AhoCorasick>], bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    if let [matcher] = matchers {
        matcher.replace_all_with_bytes(bytes, &mut out, |_, _, out| {
            out.extend_from_slice(MASK.as_bytes());
            true
        });
        return out;
    }
    let mut spans: Vec<(usize, usize)> = matchers
        .iter()
        .flat_map(|matcher| {
            matcher
                .find_iter(bytes)
                .map(|found| (found.start(), found.end()))
        })
        .collect();
    spans.sort_unstable();
    let mut at = 0;
    let mut masked: Option<(usize, usize)> = None;
    for (start, end) in spans {
        match &mut masked {
            Some((_, masked_end)) if start < *masked_end => *masked_end = (*masked_end).max(end),
            _ => {
                if let Some((masked_start, masked_end)) = masked.take() {
                    out.extend_from_slice(&bytes[at..masked_start]);
                    out.extend_from_slice(MASK.as_bytes());
                    at = masked_end;
                }
                masked = Some((start, end));
            }
        }
    }
    if let Some((masked_start, masked_end)) = masked {
        out.extend_from_slice(&bytes[at..masked_start]);
        out.extend_from_slice(MASK.as_bytes());
        at = masked_end;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

/// The longest a [`Scrubbed`] writer holds a line without a newline before writing it.
const HOLD: usize = 1 << 20;

/// A writer that scrubs every registered value from what passes through it. It holds bytes up
/// to a newline (so a value split across two writes is still caught), writes on `flush` and
/// when dropped.
pub struct Scrubbed<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Scrubbed<W> {
    pub fn new(inner: W) -> Scrubbed<W> {
        Scrubbed {
            inner,
            pending: Vec::new(),
        }
    }

    fn write_through(&mut self, upto: usize) -> std::io::Result<()> {
        let scrubbed = scrub_bytes(&self.pending[..upto]);
        self.pending.drain(..upto);
        self.inner.write_all(&scrubbed)
    }
}

impl<W: Write> Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let upto = match self.pending.iter().rposition(|&byte| byte == b'\n') {
            Some(newline) => newline + 1,
            None if self.pending.len() > HOLD => self.pending.len(),
            None => return Ok(buf.len()),
        };
        self.write_through(upto)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.write_through(self.pending.len())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Scrubbed<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(list: &[&str]) -> Vec<String> {
        list.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn every_occurrence_is_replaced() {
        assert_eq!(
            redact(
                "user=admin pass=hunter2 again=hunter2",
                &values(&["hunter2"])
            ),
            "user=admin pass=(sensitive) again=(sensitive)"
        );
    }

    // `pw` inside `pw-long` must not leave `(sensitive)-long` behind.
    // A value registered after a scrub gets a matcher of its own; one that contains or overlaps
    // a value of an earlier matcher is still masked whole, and past GENERATIONS the matchers
    // are merged.
    #[test]
    fn values_registered_later_are_scrubbed_whole() {
        register("gen-early-secret-7f3a");
        assert_eq!(scrub("a gen-early-secret-7f3a b"), "a (sensitive) b");
        register("late-gen-early-secret-7f3a-tail");
        register("7f3a-overlap-9c1d");
        assert_eq!(
            scrub("x late-gen-early-secret-7f3a-tail y gen-early-secret-7f3a-overlap-9c1d z"),
            "x (sensitive) y (sensitive) z"
        );
        for index in 0..(GENERATIONS * 2) {
            register(&format!("generation-{index}-secret-e41b"));
            assert_eq!(
                scrub(&format!("[generation-{index}-secret-e41b]")),
                "[(sensitive)]"
            );
        }
        assert_eq!(scrub("gen-early-secret-7f3a"), "(sensitive)");
        assert!(with_registry(|registry| registry.matchers.len()) <= GENERATIONS);
    }

    #[test]
    fn a_value_containing_another_is_scrubbed_whole() {
        assert_eq!(
            redact("token pw-long and pw", &values(&["pw", "pw-long"])),
            "token (sensitive) and (sensitive)"
        );
    }

    #[test]
    fn empty_values_are_ignored() {
        assert_eq!(redact("plain text", &values(&["", "absent"])), "plain text");
    }

    // The registry is global to the process: each test registers values of its own.

    #[test]
    fn registered_values_and_their_forms_are_scrubbed() {
        register("reg-Secret-1");
        register("reg-Secret-1-longer");
        register("  reg-padded\n");
        register("reg-it's");
        let b64 = base64::engine::general_purpose::STANDARD.encode("reg-Secret-1");
        let text =
            format!("a reg-Secret-1 b reg-Secret-1-longer c reg-padded d {b64} e 'reg-it'\\''s'");
        assert_eq!(
            scrub(&text),
            "a (sensitive) b (sensitive) c (sensitive) d (sensitive) e '(sensitive)'"
        );
        assert_eq!(scrub("plain"), "plain");
    }

    // A value that is already a form of another still gets forms of its own.
    #[test]
    fn a_value_already_a_form_of_another_gets_its_own_forms() {
        register("fm-value\n");
        register("fm-value");
        let b64 = base64::engine::general_purpose::STANDARD.encode("fm-value");
        assert_eq!(scrub(&b64).trim_end_matches('='), "(sensitive)");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("ab");
        assert_eq!(scrub("ab cab"), "ab cab");
    }

    #[test]
    fn a_long_value_is_scrubbed_per_line() {
        let key: String = (0..40)
            .map(|line| format!("KEYLINE{line:03}{}\n", "x".repeat(60)))
            .collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{key}-----END PRIVATE KEY-----\n");
        register(&pem);
        let shown = scrub(&format!("got {pem}"));
        assert!(!shown.contains("KEYLINE"), "{shown}");
        assert!(shown.contains("-----BEGIN PRIVATE KEY-----"));
        // One line of it alone, as a log might quote it.
        assert_eq!(
            scrub(&format!("line KEYLINE007{}", "x".repeat(60))),
            "line (sensitive)"
        );
    }

    // A value split across two writes is still caught: the writer holds bytes to a newline.
    #[test]
    fn the_writer_catches_a_value_split_across_writes() {
        register("wr-split-value");
        let mut out = Vec::new();
        {
            let mut writer = Scrubbed::new(&mut out);
            writer
                .write_all(b"x wr-spl")
                .expect("a Vec takes every write");
            writer
                .write_all(b"it-value y\nwr-split-")
                .expect("a Vec takes every write");
            writer.write_all(b"value").expect("a Vec takes every write");
        }
        assert_eq!(
            String::from_utf8(out).expect("UTF-8 in, UTF-8 out"),
            "x (sensitive) y\n(sensitive)"
        );
    }

    // The cost quoted in the final report: `cargo test --release --lib redact::tests::cost --
    // --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost() {
        let started = std::time::Instant::now();
        for index in 0..1000 {
            register(&format!("{index:04}-{}", "s".repeat(59)));
        }
        let registered = started.elapsed();
        let started = std::time::Instant::now();
        let shown = scrub("warm");
        let built = started.elapsed();
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            for index in 0..1000 {
                register(&format!("{index:04}-{}", "s".repeat(59)));
            }
        }
        eprintln!(
            "1,000,000 registrations of known values: {:?}",
            started.elapsed()
        );
        let Current::Matchers(matchers) = current() else {
            panic!("no matcher")
        };
        eprintln!(
            "1000 × 64 B: register {registered:?}, build {built:?}, {} forms, matchers {} KiB ({shown})",
            registered_count(),
            matchers
                .iter()
                .map(|matcher| matcher.memory_usage())
                .sum::<usize>()
                / 1024
        );
        let big: String = (0..8000)
            .map(|line| format!("{line:05}{}\n", "k".repeat(58)))
            .collect();
        let started = std::time::Instant::now();
        register(&big);
        let registered = started.elapsed();
        let started = std::time::Instant::now();
        let _ = scrub("warm");
        let built = started.elapsed();
        let Current::Matchers(matchers) = current() else {
            panic!("no matcher")
        };
        let text = "ordinary output line without anything\n".repeat(25_000);
        let started = std::time::Instant::now();
        let _ = scrub(&text);
        eprintln!(
            "+ 500 KB secret ({} B): register {registered:?}, build {built:?}, {} forms, matcher {} KiB; scrub 1 MB {:?}",
            big.len(),
            registered_count(),
            matchers
                .iter()
                .map(|matcher| matcher.memory_usage())
                .sum::<usize>()
                / 1024,
            started.elapsed()
        );
    }

    fn registered_count() -> usize {
        registered()
    }
}
