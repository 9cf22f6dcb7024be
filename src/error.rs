//! Diagnostics for rule files: one `Diagnostic` per problem, naming file, line, column and rule.
//!
//! Loading collects every diagnostic of a run before refusing (STYLE.md: "collect all of them,
//! then report"), so an operator fixes a whole edit at once instead of one error per try.

use std::fmt;
use std::path::{Path, PathBuf};

/// Whether a diagnostic refuses the rule set or only warns about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The rules do not load.
    Error,
    /// The rules load; something looks wrong.
    Warning,
}

/// One problem found while loading rules: `FILE:LINE:COL: error: rule "id": what is wrong`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based; 0 when the problem is about the file as a whole (e.g. it cannot be read).
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub col: usize,
    /// The rule it is about, when there is one.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos` of `file`.
    pub fn error(file: &Path, pos: Position, rule: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, pos, rule, message)
    }

    /// A warning at `pos` of `file`.
    pub fn warning(file: &Path, pos: Position, rule: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, pos, rule, message)
    }

    fn new(severity: Severity, file: &Path, pos: Position, rule: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            file: file.to_path_buf(),
            line: pos.line,
            col: pos.col,
            rule: rule.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Whether this stops the rules from loading.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col.max(1))?;
        }
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {kind}: ")?;
        if let Some(rule) = &self.rule {
            write!(f, "rule \"{rule}\": ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// A 1-based line and column in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl Position {
    /// The line and column of byte `offset` in `source` (columns count characters).
    pub fn of_offset(source: &str, offset: usize) -> Self {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Position { line, col }
    }
}

/// Where each line of a file starts, so many positions in one file cost a binary search each
/// instead of a scan from the top (a 50,000-keyword pack asks for 50,000 of them).
#[derive(Clone, Debug)]
pub struct LineIndex<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// An index of `source`'s lines.
    pub fn new(source: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { source, line_starts }
    }

    /// The same as `Position::of_offset(source, offset)`.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.source.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = line.checked_sub(1).and_then(|l| self.line_starts.get(l)).copied().unwrap_or(0);
        let col = self.source.get(line_start..offset).map_or(0, |s| s.chars().count()) + 1;
        Position { line: line.max(1), col }
    }
}

/// Every diagnostic of a failed load (errors first), as one error value.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct LoadError(pub Vec<Diagnostic>);

impl LoadError {
    /// The first error, for one-line summaries (`/readyz`, logs).
    pub fn first(&self) -> Option<&Diagnostic> {
        self.0.iter().find(|d| d.is_error())
    }

    /// How many of the diagnostics are errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_char_columns() {
        let src = "a = 1\nbé = 2\n";
        let cases = [(0, 1, 1), (4, 1, 5), (6, 2, 1), (9, 2, 3), (100, 3, 1)];
        for (offset, line, col) in cases {
            assert_eq!(Position::of_offset(src, offset), Position { line, col }, "offset {offset}");
        }
    }

    #[test]
    fn line_index_agrees_with_scanning() {
        let src = "a = 1\nbé = 2\n\nlast";
        let index = LineIndex::new(src);
        for offset in 0..=src.len() + 2 {
            if src.is_char_boundary(offset.min(src.len())) {
                assert_eq!(index.position(offset), Position::of_offset(src, offset), "offset {offset}");
            }
        }
    }

    #[test]
    fn display_names_file_line_column_and_rule() {
        let d = Diagnostic::error(
            Path::new("rules/spam.toml"),
            Position { line: 14, col: 9 },
            Some("spam.links"),
            "invalid regex: unclosed group",
        );
        assert_eq!(d.to_string(), "rules/spam.toml:14:9: error: rule \"spam.links\": invalid regex: unclosed group");
    }
}
