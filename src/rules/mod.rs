//! Rules: files → `model` (parse) → `compile` (validate, build automata) → an immutable
//! `Ruleset` → `eval` (message view → `Decision`). `selftest` runs the examples and cases that
//! rule files carry.

// Crafted input must never panic on the request path (STYLE.md): no unwrap, expect, panic or
// unchecked indexing here outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod compile;
pub mod eval;
pub mod explain;
pub(crate) mod matcher;
pub mod model;
pub mod normalize;
pub mod selftest;
pub mod variants;

use std::path::PathBuf;
use std::time::SystemTime;

pub use compile::{Loaded, PackOverride, load_dir, load_dir_with};
pub use eval::{Decision, MatchSpan, RuleHit, Verdict};
pub use model::{Field, MatchMode, Mode, RuleAction};
pub use normalize::Level;

use crate::error::Position;
use crate::message::{Attribute, MessageView};
use matcher::LevelMatcher;

/// A compiled, immutable rule set: shared by `Arc` between every request and swapped whole on
/// reload. Nothing in it changes after `compile`.
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) hash: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) levels: Vec<LevelMatcher>,
    pub(crate) drop_score: Option<i64>,
    pub(crate) cases: Vec<Case>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) keyword_count: usize,
    pub(crate) regex_count: usize,
    pub(crate) loaded_at: SystemTime,
}

impl Ruleset {
    /// A short content hash of every loaded file, reported in answers as `ruleset`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Every rule, in load order (files by name, rules by position).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// `[policy] drop_score`, when set.
    pub fn drop_score(&self) -> Option<i64> {
        self.drop_score
    }

    /// The pack files loaded, in load order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Distinct keyword patterns across levels (after normalization and de-duplication).
    pub fn keyword_count(&self) -> usize {
        self.keyword_count
    }

    /// Regexes across all rules.
    pub fn regex_count(&self) -> usize {
        self.regex_count
    }

    /// `[[case]]`s across all packs.
    pub fn case_count(&self) -> usize {
        self.cases.len()
    }

    /// When this rule set was compiled.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// The normalization levels some rule uses, in order.
    pub fn levels(&self) -> impl Iterator<Item = Level> + '_ {
        self.levels.iter().map(|l| l.level)
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique across all packs.
    pub id: String,
    /// The pack it came from.
    pub pack: String,
    /// What it is for.
    pub description: Option<String>,
    /// Added on a hit.
    pub score: i64,
    /// Sorted and unique.
    pub tags: Vec<String>,
    /// What an enforced hit does.
    pub action: RuleAction,
    /// Enforce or shadow.
    pub mode: Mode,
    /// The level its keywords, regexes and `except` phrases are normalized at.
    pub level: Level,
    /// How keywords must sit in the text.
    pub match_mode: MatchMode,
    /// The fields it reads.
    pub fields: Vec<Field>,
    pub(crate) when: Option<Condition>,
    pub(crate) unless: Option<Condition>,
    /// `except` phrases, normalized at the rule's level.
    pub(crate) except: Vec<String>,
    /// `examples.match`.
    pub examples_match: Vec<Example>,
    /// `examples.no_match`.
    pub examples_no_match: Vec<Example>,
    /// The file it is written in.
    pub file: PathBuf,
    /// Where in that file.
    pub position: Position,
}

impl Rule {
    /// Whether the rule reads `field`.
    pub fn reads(&self, field: Field) -> bool {
        self.fields.contains(&field)
    }
}

/// An example text with the line it is written on.
#[derive(Debug, Clone)]
pub struct Example {
    /// The example as written.
    pub text: String,
    /// Where it is written.
    pub position: Position,
}

/// A compiled `when` or `unless`: every clause must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone)]
pub(crate) enum Clause {
    /// A string attribute of the message must equal one of these.
    AnyOf(Attribute, Vec<String>),
    /// The message must (true) or must not (false) carry the attribute.
    Present(Attribute, bool),
    HasAttachments(bool),
}

/// A compiled `[[case]]`.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The message it decides.
    pub message: MessageView<'static>,
    /// What the decision must be.
    pub expect: model::Expectation,
    /// The file it is written in.
    pub file: PathBuf,
    /// Where in that file.
    pub position: Position,
}
