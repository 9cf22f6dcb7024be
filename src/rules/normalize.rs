//! Text → normalized text plus a map back to the original bytes (INTERFACE.md §3).
//!
//! Placeholder while the full levels are written: lowercase only.

use serde::Deserialize;

/// How much a rule's text (and its keywords) is normalized before matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Basic,
    #[default]
    Standard,
    Strict,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::None, Level::Basic, Level::Standard, Level::Strict];

    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Basic => "basic",
            Level::Standard => "standard",
            Level::Strict => "strict",
        }
    }
}

/// A normalized string and, for each of its bytes, the byte range of the original it came from.
#[derive(Debug, Default, Clone)]
pub struct Normalized {
    text: String,
    origin: Vec<(u32, u32)>,
}

impl Normalized {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn normalize_into(&mut self, level: Level, original: &str) {
        self.text.clear();
        self.origin.clear();
        for (i, c) in original.char_indices() {
            let end = (i + c.len_utf8()) as u32;
            let before = self.text.len();
            if level == Level::None {
                self.text.push(c);
            } else {
                self.text.extend(c.to_lowercase());
            }
            for _ in before..self.text.len() {
                self.origin.push((i as u32, end));
            }
        }
    }

    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.origin.get(start).map_or(0, |o| o.0);
        let last = end.checked_sub(1).and_then(|e| self.origin.get(e)).map_or(first, |o| o.1);
        (first as usize, last as usize)
    }
}

pub fn normalize(level: Level, original: &str) -> Normalized {
    let mut n = Normalized::new();
    n.normalize_into(level, original);
    n
}

pub fn normalize_keyword(level: Level, keyword: &str) -> String {
    normalize(level, keyword).text
}

pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}
