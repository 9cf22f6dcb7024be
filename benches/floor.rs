//! The floor kernel: the simplest engine that finds the same rules as inflight on a pack whose
//! rules all match keywords in `word` mode and regexes at `normalize = "basic"` (the benchmark
//! corpus). It is the cost of the algorithm itself, the reference `decide/5k` is held to:
//!
//! - the `basic` normalization of the text (inflight's own, without the origin map);
//! - one Aho-Corasick automaton over every keyword, searched overlapping, each occurrence kept
//!   when it sits on word boundaries;
//! - one `RegexSet` over every regex, as written.
//!
//! Its answer is the set of rules that hit: no spans, no conditions, no `except`, no JSON.
//! Compiled into the benches (`floor/*` in `benches/engine.rs`) and into `inflight bench
//! --compare`, which runs both on the same messages and checks that they find the same rules.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

use inflight::rules::normalize::{Normalized, is_word_char, normalize_keyword};
use inflight::rules::{Level, MatchMode, PatternKind, Ruleset};

/// Keyword patterns up to which the automaton is a full DFA, as inflight builds its own: the
/// reference gets the faster automaton too.
const DFA_MAX_PATTERNS: usize = 10_000;

/// The regex set's compiled size limit (the crate's default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 256 << 20;

/// The lazy DFA's cache per thread (the crate's default is 2 MiB).
const REGEX_CACHE_BYTES: usize = 64 << 20;

/// The compiled floor kernel of one rule set.
#[derive(Debug)]
pub struct Floor {
    keywords: AhoCorasick,
    /// Pattern id → the rules that own the keyword.
    keyword_rules: Vec<Vec<u32>>,
    regexes: RegexSet,
    /// Regex index → its rule.
    regex_rules: Vec<u32>,
}

/// Per-thread buffers reused across messages.
#[derive(Debug, Default)]
pub struct FloorScratch {
    normalized: Normalized,
}

impl Floor {
    /// Builds the kernel for `ruleset`, or says why it cannot stand for it: every rule must be at
    /// `basic` and every keyword in `word` mode.
    pub fn new(ruleset: &Ruleset) -> Result<Floor, String> {
        let mut keyword_ids = std::collections::HashMap::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        let mut regexes = Vec::new();
        let mut regex_rules = Vec::new();
        for p in ruleset.patterns() {
            let rule = u32::try_from(p.rule).map_err(|_| "too many rules".to_owned())?;
            let id = ruleset.rules().get(p.rule).map_or("?", |r| r.id.as_str());
            if p.level != Level::Basic {
                return Err(format!("rule {id:?} matches at {}, the floor kernel only at basic", p.level.name()));
            }
            match p.pattern {
                PatternKind::Keyword { written, mode: MatchMode::Word } => {
                    let normalized = normalize_keyword(Level::Basic, written);
                    let next = keywords.len();
                    let at = *keyword_ids.entry(normalized.clone()).or_insert(next);
                    if at == next {
                        keywords.push(normalized);
                        keyword_rules.push(Vec::new());
                    }
                    if let Some(rules) = keyword_rules.get_mut(at)
                        && !rules.contains(&rule)
                    {
                        rules.push(rule);
                    }
                }
                PatternKind::Keyword { mode, .. } => {
                    return Err(format!("rule {id:?} has a keyword in {mode:?} mode, the floor kernel only word"));
                }
                PatternKind::Regex(source) => {
                    regexes.push(source.to_owned());
                    regex_rules.push(rule);
                }
            }
        }
        let kind = (keywords.len() <= DFA_MAX_PATTERNS).then_some(AhoCorasickKind::DFA);
        let keywords = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(kind)
            .build(&keywords)
            .map_err(|e| format!("keyword automaton: {e}"))?;
        // 300 Unicode-aware regexes pass the default 10 MiB limit, and thrash the default 2 MiB
        // lazy DFA cache: the limits inflight gives its own prefilter, so the reference is tuned.
        let regexes = RegexSetBuilder::new(&regexes)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_CACHE_BYTES)
            .build()
            .map_err(|e| format!("regex set: {e}"))?;
        Ok(Floor { keywords, keyword_rules, regexes, regex_rules })
    }

    /// The rules that hit `text`, as indexes into `Ruleset::rules`, sorted and unique.
    pub fn rules_hit(&self, text: &str, scratch: &mut FloorScratch, out: &mut Vec<u32>) {
        out.clear();
        scratch.normalized.normalize_text_into(Level::Basic, text);
        let text = scratch.normalized.text();
        for m in self.keywords.find_overlapping_iter(text) {
            let before = text.get(..m.start()).and_then(|s| s.chars().next_back());
            let after = text.get(m.end()..).and_then(|s| s.chars().next());
            if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
                continue;
            }
            if let Some(rules) = self.keyword_rules.get(m.pattern().as_usize()) {
                out.extend_from_slice(rules);
            }
        }
        for i in self.regexes.matches(text).iter() {
            if let Some(&rule) = self.regex_rules.get(i) {
                out.push(rule);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}
