//! Rules: files → `model` (parse) → `compile` (validate, build automata) → an immutable
//! `Ruleset` → `eval` (message view → `Decision`). `selftest` runs the examples and cases that
//! rule files carry.

// Crafted input must never panic on the request path (STYLE.md): no unwrap, expect, panic or
// unchecked indexing here outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod compile;
pub mod compounds;
pub mod eval;
pub mod explain;
pub(crate) mod matcher;
pub mod model;
pub mod normalize;
pub mod plan;
pub mod selftest;
pub(crate) mod stateful;
pub mod variants;

use std::path::PathBuf;
use std::time::SystemTime;

pub use compile::{Loaded, PackOverride, load_dir, load_dir_with};
pub use eval::{Decision, DecisionState, MatchSpan, RuleHit, StateNote, Verdict};
pub use model::{Field, MatchMode, Mode, RuleAction};
pub use normalize::Level;
pub use plan::Prepared;

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
    /// `[counters.NAME]` across all packs, by name.
    pub(crate) counters: Vec<CounterSpec>,
    /// Whether any rule uses state (`rate`, `repeat`, `counts`, or a condition on `counter`,
    /// `sender_age` or `sender_messages`). When not, nothing here touches state.
    pub(crate) stateful: bool,
    /// Whether some rule has no keywords, lists or regex (it hits on its conditions alone).
    pub(crate) patternless: bool,
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

    /// Whether some rule uses state: only then does a message cost a state exchange.
    pub fn uses_state(&self) -> bool {
        self.stateful
    }

    /// The declared counters.
    pub fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    /// Builds every regex now: compiling a rule set leaves them to their first use (see
    /// `matcher::RegexPattern`), so the service calls this on the reload thread before a rule
    /// set serves, and no request ever builds one.
    ///
    /// The regexes are built on every core at once (300 Unicode-aware ones take ~120 ms on one):
    /// this is most of what a reload adds after the compile, so it is the save → answer time. The
    /// helper threads inherit the calling thread's priority (nice 19 on the reload thread) and
    /// allocate from its jemalloc arena, so the built regexes sit with the rest of the rule set
    /// and go back to the system with it.
    pub fn compile_regexes(&self) {
        // Those a reload took over already built (`keep_unchanged_regexes`) need no thread.
        let regexes: Vec<&matcher::RegexPattern> =
            self.levels.iter().flat_map(|level| &level.regexes).filter(|regex| !regex.is_built()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let build_rest = || {
            while let Some(regex) = regexes.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                let _ = regex.regex();
            }
        };
        let helpers = std::thread::available_parallelism().map_or(1, usize::from).min(regexes.len()).saturating_sub(1);
        let arena = crate::memory::thread_arena();
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                let spawned = std::thread::Builder::new().name("inflight-regexes".into()).spawn_scoped(scope, || {
                    crate::memory::use_arena(arena);
                    build_rest();
                });
                if spawned.is_err() {
                    // No thread to spare: this one builds them all.
                    break;
                }
            }
            build_rest();
        });
    }

    /// Takes over from `serving` (the rule set serving now) the regexes it already built that
    /// this one has too, per level (see `matcher::LevelMatcher::keep_unchanged_regexes`): the
    /// reload calls it before `compile_regexes`, which then builds only the new ones.
    pub fn keep_unchanged_regexes(&mut self, serving: &Ruleset) {
        for level in &mut self.levels {
            if let Some(old) = serving.levels.iter().find(|old| old.level == level.level) {
                level.keep_unchanged_regexes(old);
            }
        }
    }

    /// Every keyword and regex of every rule, as compiled: what a reference matcher needs to
    /// find the same rules (the floor kernel of `benches/floor.rs`). A keyword shared by
    /// several rules is listed once per rule; variants strict adds are listed like keywords.
    pub fn patterns(&self) -> Vec<RulePattern<'_>> {
        let mut out = Vec::new();
        for matcher in &self.levels {
            for owners in &matcher.keyword_owners {
                for owner in owners.iter().filter(|o| !o.censored) {
                    out.push(RulePattern {
                        rule: owner.rule as usize,
                        level: matcher.level,
                        pattern: PatternKind::Keyword { written: &owner.source, mode: owner.mode },
                    });
                }
            }
            for regex in &matcher.regexes {
                out.push(RulePattern {
                    rule: regex.rule as usize,
                    level: matcher.level,
                    pattern: PatternKind::Regex(regex.source.as_str()),
                });
            }
        }
        out
    }
}

/// One keyword or regex of one rule ([`Ruleset::patterns`]).
#[derive(Debug, Clone, Copy)]
pub struct RulePattern<'r> {
    /// The rule's index in [`Ruleset::rules`].
    pub rule: usize,
    /// The normalization level the rule matches at.
    pub level: Level,
    /// The pattern.
    pub pattern: PatternKind<'r>,
}

/// A keyword (as written, with its match mode) or a regex (its source).
#[derive(Debug, Clone, Copy)]
pub enum PatternKind<'r> {
    /// A keyword or list entry as the rule file writes it.
    Keyword {
        /// As written.
        written: &'r str,
        /// How it must sit in the text.
        mode: MatchMode,
    },
    /// A regex's source.
    Regex(&'r str),
}

/// A declared `[counters.NAME]`.
#[derive(Debug, Clone)]
pub struct CounterSpec {
    /// Its name.
    pub name: String,
    /// Whose counter it is.
    pub per: Per,
    /// Its sliding window, in milliseconds.
    pub window_ms: u64,
}

/// Whose messages a window or counter counts: the message's key of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// (app, sender uid).
    Sender,
    /// (app, receiver type, receiver uid or guid).
    Receiver,
    /// (app, conversationId).
    Conversation,
    /// The app (`repeat`'s `any`).
    App,
}

impl Per {
    /// The name in rule files (`any` for `App` in `repeat`).
    pub fn name(self) -> &'static str {
        match self {
            Per::Sender => "sender",
            Per::Receiver => "receiver",
            Per::Conversation => "conversation",
            Per::App => "app",
        }
    }
}

/// A compiled `rate`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Whose messages count.
    pub per: Per,
    /// The rule hits when the count, this message included, is above this.
    pub more_than: u64,
    /// The window, in milliseconds.
    pub within_ms: u64,
}

/// A compiled `repeat`.
#[derive(Debug, Clone, Copy)]
pub struct Repeat {
    /// Where the same text counts (`App` for `any`).
    pub per: Per,
    /// The rule hits when the count, this message included, is above this.
    pub more_than: u64,
    /// The window, in milliseconds.
    pub within_ms: u64,
    /// The Jaccard index at or above which texts count as the same; 1.0: identical.
    pub similar: f64,
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
    /// `rate`.
    pub rate: Option<Rate>,
    /// `repeat`.
    pub repeat: Option<Repeat>,
    /// `counts`: (index into the rule set's counters, amount) per enforced hit.
    pub counts: Vec<(usize, u64)>,
    /// Whether the rule has keywords, lists or regexes (without, it hits on its conditions,
    /// `rate` and `repeat` alone).
    pub has_patterns: bool,
}

impl Rule {
    /// Whether the rule reads `field`.
    pub fn reads(&self, field: Field) -> bool {
        self.fields.contains(&field)
    }

    /// Whether the rule reads state to decide (`rate`, `repeat`, or a state condition): such
    /// a rule is skipped when the state store is unavailable.
    pub fn needs_state(&self) -> bool {
        self.rate.is_some()
            || self.repeat.is_some()
            || [&self.when, &self.unless].into_iter().flatten().any(|c| !c.state.is_empty())
    }

    /// Whether the rule reads or writes state (`needs_state`, or `counts`).
    pub fn uses_state(&self) -> bool {
        self.needs_state() || !self.counts.is_empty()
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

/// A compiled `when` or `unless`: every clause must hold, the message's own and the state's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    pub clauses: Vec<Clause>,
    pub state: Vec<StateClause>,
}

impl Condition {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.state.is_empty()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Clause {
    /// A string attribute of the message must equal one of these.
    AnyOf(Attribute, Vec<String>),
    /// The message must (true) or must not (false) carry the attribute.
    Present(Attribute, bool),
    HasAttachments(bool),
    /// Distinct users mentioned, within bounds.
    Mentions(Bound),
    /// URLs, within bounds.
    Links(Bound),
}

/// A condition read from state.
#[derive(Debug, Clone)]
pub(crate) enum StateClause {
    /// The counter (an index into the rule set's counters), before this message.
    Counter(usize, Bound),
    /// Milliseconds since the sender was first seen (or created, the older).
    SenderAge(Bound),
    /// Messages recorded from the sender before this one.
    SenderMessages(Bound),
}

/// `{ at_least = N }`, `{ less_than = N }` or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    pub at_least: Option<u64>,
    pub less_than: Option<u64>,
}

impl Bound {
    pub fn holds(self, value: u64) -> bool {
        self.at_least.is_none_or(|n| value >= n) && self.less_than.is_none_or(|n| value < n)
    }
}

/// A compiled `[[case]]`.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The messages it plays, each with its offset from the first in milliseconds; the
    /// decision of the last one is checked.
    pub messages: Vec<(MessageView<'static>, u64)>,
    /// What the decision must be.
    pub expect: model::Expectation,
    /// The file it is written in.
    pub file: PathBuf,
    /// Where in that file.
    pub position: Position,
}
