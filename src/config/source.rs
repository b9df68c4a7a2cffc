//! The files a config is read from, and diagnostics that point into them.

use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// An index into [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(usize);

/// Every file read while loading a config (the root file, includes, module files, templates,
/// compose files), kept so diagnostics can quote them.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<(PathBuf, String)>,
    /// Per file, the byte offset where each line starts (the first is 0): positions and
    /// snippets are found by binary search, never by scanning the text from its start.
    line_starts: Vec<Vec<usize>>,
}

impl Sources {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        self.files.push((path, text));
        self.line_starts.push(starts);
        FileId(self.files.len() - 1)
    }

    /// The 0-based index of the line holding byte `offset`.
    fn line_index(&self, file: FileId, offset: usize) -> usize {
        self.line_starts[file.0]
            .partition_point(|start| *start <= offset)
            .saturating_sub(1)
    }

    /// The whole lines `span` (already snapped) touches, as a byte range of the text, and the
    /// 1-based number of the first: what a snippet quotes.
    fn lines_of(&self, file: FileId, span: &Range<usize>) -> (Range<usize>, usize) {
        let starts = &self.line_starts[file.0];
        let len = self.text(file).len();
        // The empty line after a final newline is no line to the renderer: a span at the end
        // of the file belongs to the last line, as when it was handed the whole file.
        let line = |offset: usize| {
            let index = self.line_index(file, offset);
            if index > 0 && starts[index] == len {
                index - 1
            } else {
                index
            }
        };
        let first = line(span.start);
        let last = line(span.end.saturating_sub(1).max(span.start));
        let end = starts.get(last + 1).copied().unwrap_or(len);
        (starts[first]..end.max(span.end), first + 1)
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.files[file.0].0
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0].1
    }

    /// 1-based line and column of a byte offset (one inside a character counts as that
    /// character's start; one past the end as the end).
    pub fn line_column(&self, file: FileId, offset: usize) -> (usize, usize) {
        let text = self.text(file);
        let offset = floor_boundary(text, offset);
        let line = self.line_index(file, offset);
        let line_start = self.line_starts[file.0][line];
        (line + 1, text[line_start..offset].chars().count() + 1)
    }

    /// The byte offset of a 1-based line and column (as YAML and handlebars report them).
    pub fn offset(&self, file: FileId, line: usize, column: usize) -> usize {
        let text = self.text(file);
        let starts = &self.line_starts[file.0];
        let line_start = starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(text.len());
        let rest = &text[line_start.min(text.len())..];
        let column_offset: usize = rest
            .chars()
            .take_while(|c| *c != '\n')
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        line_start + column_offset
    }

    /// The span of the character that starts at `offset`: one byte, or two to four for a
    /// multi-byte character; empty at the end of the file. A parser that names one position
    /// (YAML's line and column) is quoted with this span, never `offset..offset + 1`.
    pub fn char_at(&self, file: FileId, offset: usize) -> Range<usize> {
        let text = self.text(file);
        let start = floor_boundary(text, offset);
        let width = text[start..].chars().next().map_or(0, char::len_utf8);
        start..start + width
    }
}

/// `span` made safe to slice `text` with: within the text, on character boundaries (a start
/// inside a character moves back to its start, an end inside one forward to its end), and not
/// reversed. Spans come from several parsers and from our own arithmetic; the renderer slices
/// the text with them, so every span is snapped here first.
fn snap(text: &str, span: &Range<usize>) -> Range<usize> {
    let end = ceil_boundary(text, span.end);
    let start = floor_boundary(text, span.start.min(end));
    start..end
}

/// The largest character boundary at or before `offset` (the end of the text past it).
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The smallest character boundary at or after `offset` (the end of the text past it).
fn ceil_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: FileId,
    pub span: Range<usize>,
}

impl Location {
    pub fn new(file: FileId, span: Range<usize>) -> Location {
        Location { file, span }
    }

    /// `file:line:column`.
    pub fn position(&self, sources: &Sources) -> String {
        let (line, column) = sources.line_column(self.file, self.span.start);
        format!("{}:{line}:{column}", sources.path(self.file).display())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One error or warning about the config. `message` is the headline; `label` sits under the
/// quoted snippet and says what was expected there; `help` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    pub label: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            label: String::new(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, location: Location, label: impl Into<String>) -> Diagnostic {
        self.location = Some(location);
        self.label = label.into();
        self
    }

    pub fn at_optional(self, location: Option<Location>, label: impl Into<String>) -> Diagnostic {
        match location {
            Some(location) => self.at(location, label),
            None => self,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column`, or the empty string for a diagnostic about no file.
    pub fn position(&self, sources: &Sources) -> String {
        self.location
            .as_ref()
            .map_or_else(String::new, |location| location.position(sources))
    }

    /// The diagnostic with the quoted snippet, rustc-style:
    ///
    /// ```text
    /// error: unknown host `node9`
    ///  --> swarmform.toml:12:11
    ///    |
    /// 12 | bootstrap = "node9"
    ///    |             ^^^^^^^ no host of that name is declared under [hosts]
    ///    |
    ///    = help: declared hosts: node1, node2
    /// ```
    pub fn render(&self, sources: &Sources, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level.primary_title(self.message.as_str());
        let path;
        let mut group = match &self.location {
            Some(location) => {
                path = sources.path(location.file).display().to_string();
                let text = sources.text(location.file);
                let span = snap(text, &location.span);
                // Only the lines the span touches go to the renderer, which would otherwise
                // walk the whole file for each diagnostic.
                let (lines, first_line) = sources.lines_of(location.file, &span);
                title.element(
                    Snippet::source(&text[lines.clone()])
                        .path(path.as_str())
                        .line_start(first_line)
                        .fold(true)
                        .annotation(
                            AnnotationKind::Primary
                                .span(span.start - lines.start..span.end - lines.start)
                                .label(self.label.as_str()),
                        ),
                )
            }
            None => Group::with_title(title),
        };
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        renderer.render(&[group])
    }
}

/// Diagnostics as the commands print them: each with its snippet, followed by a blank line.
pub fn render_all(sources: &Sources, diagnostics: &[Diagnostic], color: bool) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| format!("{}\n\n", diagnostic.render(sources, color)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Line and column are 1-based and count characters, not bytes, so they match editors.
    #[test]
    fn offsets_map_to_lines_and_columns_and_back() {
        let mut sources = Sources::default();
        let file = sources.add("a.toml".into(), "x = 1\né = \"y\"\n".to_owned());
        assert_eq!(sources.line_column(file, 0), (1, 1));
        let offset = sources.text(file).find('"').expect("quote");
        assert_eq!(sources.line_column(file, offset), (2, 5));
        assert_eq!(sources.offset(file, 2, 5), offset);
    }

    // A diagnostic quotes the file at the offending snippet and names file:line:column.
    #[test]
    fn diagnostics_render_with_position_snippet_and_help() {
        let mut sources = Sources::default();
        let file = sources.add(
            "swarmform.toml".into(),
            "[swarm]\nbootstrap = \"node9\"\n".to_owned(),
        );
        let start = sources.text(file).find("\"node9\"").expect("snippet");
        let diagnostic = Diagnostic::error("unknown host `node9`")
            .at(
                Location::new(file, start..start + 7),
                "not declared under [hosts]",
            )
            .help("declared hosts: node1");
        let text = diagnostic.render(&sources, false);
        assert!(text.contains("error: unknown host `node9`"), "{text}");
        assert!(text.contains("swarmform.toml:2:13"), "{text}");
        assert!(text.contains("bootstrap = \"node9\""), "{text}");
        assert!(
            text.contains("^^^^^^^ not declared under [hosts]"),
            "{text}"
        );
        assert!(text.contains("help: declared hosts: node1"), "{text}");
        assert_eq!(diagnostic.position(&sources), "swarmform.toml:2:13");
    }

    // Whatever span a parser or our arithmetic hands over (inside a multi-byte character,
    // reversed, past the end, on a CRLF line, in an empty file), the diagnostic renders and
    // names a position inside the file.
    #[test]
    fn any_span_renders() {
        let texts = [
            "",
            "\n",
            "x",
            "a = \"é\"\n",
            "€uro: x\nb: ￿\n",
            "emoji: 😀\n😀",
            "crlf: 1\r\nnext: é\r\n\r\n",
            "lone\rcr\té\n\n\n",
            "\u{feff}bom: x\n",
            "e\u{301}\u{200d}👩‍👩‍👧 wide 漢字\n",
        ];
        for text in texts {
            let mut sources = Sources::default();
            let file = sources.add("f.yml".into(), text.to_owned());
            for start in 0..text.len() + 3 {
                for end in 0..text.len() + 3 {
                    let diagnostic = Diagnostic::warning("w")
                        .at(Location::new(file, start..end), "here")
                        .help("h");
                    for color in [false, true] {
                        let rendered = diagnostic.render(&sources, color);
                        assert!(
                            rendered.contains("f.yml:"),
                            "{text:?} {start}..{end}: {rendered}"
                        );
                    }
                    let (line, column) = sources.line_column(file, start);
                    assert!(line >= 1 && column >= 1);
                    let span = sources.char_at(file, start);
                    assert!(
                        text.get(span.clone()).is_some(),
                        "{text:?} {start}: {span:?}"
                    );
                    assert!(text[span].chars().count() <= 1);
                }
            }
        }
    }
}
