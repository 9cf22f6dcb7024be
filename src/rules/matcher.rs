//! The compiled matcher of one normalization level: every keyword of every rule at that level in
//! one Aho-Corasick automaton, every regex in one multi-pattern prefilter, and the map from each
//! pattern to the rules that own it.
//!
//! Searched through `&self` only, so one compiled matcher serves every worker thread. A search
//! reports raw hits (normalized offsets, before `except` and overlap resolution); `eval` turns
//! them into rule hits on the original text.

use aho_corasick::automaton::Automaton;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, MatchKind};
use regex::{Regex, RegexBuilder};
use regex_automata::meta;
use regex_automata::{Input, PatternSet};
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::compounds::{COMMON_COST, RARE_COST, every_segmentation_has};
use super::model::{Field, MatchMode};
use super::normalize::{Level, Normalized, is_word_char};
use super::variants::{
    is_common_word, masked_fits, masked_letters, masked_phrase, masked_phrase_at, punctuation_beside_a_word,
};

/// Which rules own a keyword pattern, and how they spelled it.
#[derive(Debug)]
pub(crate) struct KeywordOwner {
    pub rule: u32,
    pub mode: MatchMode,
    /// The keyword as written in the rule file (for explanations).
    pub source: String,
    /// A censored variant (`fck` for `fuck`): it hits only where strict removed a symbol
    /// inside it (`Normalized::removed_inside`).
    pub censored: bool,
    /// The keyword was written with an apostrophe, so its hit may cross one strict removed.
    pub apostrophe: bool,
}

/// A keyword a masked word (`f**k`) may stand for: its letters as `standard` writes them,
/// leetspeak undone, and the pattern and owner that explain the hit.
#[derive(Debug)]
pub(crate) struct MaskedKeyword {
    letters: Vec<char>,
    /// For a keyword of several words (`kill yourself`): each word's letters and strict form
    /// (`variants::masked_phrase`); empty for a single word.
    phrase: Vec<(Vec<char>, String)>,
    pattern: u32,
    owner: u32,
}

/// Whether the apostrophe-like characters strict removes inside words appear in `s`.
fn has_apostrophe(s: &str) -> bool {
    s.contains(['\'', '\u{2019}', '\u{2018}', '\u{02BC}', '\u{00B4}', '`'])
}

#[derive(Debug)]
pub(crate) struct RegexPattern {
    pub rule: u32,
    /// The regex as written.
    pub source: String,
    /// Built the first time it is needed: when the service readies a rule set before swapping
    /// it in ([`crate::rules::Ruleset::compile_regexes`], on the reload thread), or, for the
    /// CLI, when the prefilter first flags it. Compiling a pack holds none of them: 300 Unicode-aware regexes take about 29 MiB
    /// and 140 ms, most of a 50k pack's compile peak and a third of its time. `None` if it
    /// cannot be built, which validation at load rules out.
    /// Shared by `Arc` so that a reload that keeps this regex keeps its build (and the caches
    /// it warmed): [`LevelMatcher::keep_unchanged_regexes`].
    compiled: OnceLock<Option<Arc<Regex>>>,
    /// The capture group named `hit`, when the regex has one: it sets the reported span (and
    /// what a mask covers), so a regex can look at context it does not report, such as the
    /// character before a link.
    pub hit_group: Option<usize>,
}

impl RegexPattern {
    /// The compiled regex, built now if it was not yet.
    pub fn regex(&self) -> Option<&Regex> {
        let build = || match RegexBuilder::new(&self.source).size_limit(REGEX_SIZE_LIMIT).build() {
            Ok(regex) => Some(Arc::new(regex)),
            Err(e) => {
                tracing::error!(regex = %self.source, error = %e, "a regex validated at load does not compile: it never matches");
                None
            }
        };
        self.compiled.get_or_init(build).as_deref()
    }

    /// Whether it was built already (or found not to build).
    pub fn is_built(&self) -> bool {
        self.compiled.get().is_some()
    }
}

/// The compiled size limit of each regex (the `regex` crate's default is 10 MiB).
pub(crate) const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// The index of the capture group named `hit` in `hir`, if any.
fn hit_group(hir: &Hir) -> Option<usize> {
    match hir.kind() {
        HirKind::Capture(cap) if cap.name.as_deref() == Some(HIT_GROUP) => usize::try_from(cap.index).ok(),
        HirKind::Capture(cap) => hit_group(&cap.sub),
        HirKind::Repetition(rep) => hit_group(&rep.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().find_map(hit_group),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => None,
    }
}

/// The name of the capture group that sets a regex's reported span.
pub(crate) const HIT_GROUP: &str = "hit";

/// What a raw hit was found by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatternRef {
    /// Index into `LevelMatcher::keyword_owners[pattern]`: (pattern, owner index).
    Keyword(u32, u32),
    /// Index into `LevelMatcher::regexes`.
    Regex(u32),
}

/// One occurrence of one rule's pattern in a normalized string, before `except` and overlaps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawHit {
    pub rule: u32,
    pub start: usize,
    pub end: usize,
    pub pattern: PatternRef,
}

/// Everything needed to search the text of one normalization level.
#[derive(Debug)]
pub(crate) struct LevelMatcher {
    pub level: Level,
    keywords: Option<KeywordAutomaton>,
    /// Pattern id → owners. A keyword shared by several rules is one pattern.
    pub keyword_owners: Vec<Vec<KeywordOwner>>,
    /// Keywords of `strict` word-mode rules that a masked word may stand for.
    masked: Vec<MaskedKeyword>,
    /// At `strict`: the single-word keywords and their forms, words of the dictionary (with the
    /// common words) for segmenting hashtags and handles.
    segment_words: HashSet<String>,
    /// At `strict`: the patterns that are split variants of a keyword (`bi tch`: a space, not
    /// written in the keyword), also searched with a spaced dash or full stop for the space.
    split_variants: HashSet<u32>,
    /// At `strict`: the single-word variants (`shita` from `shitter`, `phuck`), read like rare
    /// words there, so a variant does not make the best reading of a hashtag on its own.
    segment_variants: HashSet<String>,
    /// Every regex of the level at once, with Unicode word boundaries removed: a superset of what
    /// the real regexes match, which the lazy DFA can run on any text. Only the regexes it flags
    /// are run for real.
    ///
    /// Shared by `Arc`: a reload that leaves the level's regexes as they were keeps it, and with
    /// it the lazy DFA states each worker has built ([`LevelMatcher::keep_unchanged_regexes`]).
    prefilter: Option<Arc<meta::Regex>>,
    pub regexes: Vec<RegexPattern>,
    /// The fields some rule of this level reads, so evaluation skips the others.
    pub fields: Vec<Field>,
}

/// Every keyword pattern of a level in one automaton, and how it is searched.
#[derive(Debug)]
enum KeywordAutomaton {
    /// Every keyword must start where a word starts (`word` and `prefix` modes): the automaton
    /// is walked anchored from each place a word can start, and a walk ends at the first byte
    /// no keyword continues with. Most words leave the automaton after a byte or two, in states
    /// near its root that stay in cache, where an unanchored search walks every byte through
    /// the whole automaton (measured on the 5k pack: about half the keyword search time).
    WordStarts {
        /// A contiguous NFA: walked this way it is as fast as a full DFA (1.06 against 1.10 µs
        /// a decision on the 5k pack, 1.12 against 1.16 µs on the 50k one, `inflight bench`),
        /// at a fraction of the memory (the 50k pack compiles in 82 MiB, not 121 MiB).
        automaton: Box<aho_corasick::nfa::contiguous::NFA>,
        /// Some keyword starts with a non-word character (`$$$`, `#tag`), so a walk also starts
        /// at non-word characters.
        from_non_word: bool,
        /// When every keyword is in `word` mode below `strict`: the first words of the keywords,
        /// so a walk starts only at a word that may be one.
        first_words: Option<FirstWords>,
    },
    /// Some keyword may start inside a word (`suffix` and `substring` modes): one overlapping
    /// search over the whole text.
    Anywhere(AhoCorasick),
}

/// A bit per hash of each keyword's first word (`free` of `free money`), about sixteen bits a
/// word so one word in sixteen that is none passes. A `word`-mode keyword starts where a whole
/// text word equals its first word, so a walk starts only where the text word's bit is set:
/// one probe of a table that stays in cache (16 KiB for 5,000 keywords, 128 KiB for 50,000),
/// where a walk costs a few reads of an automaton of megabytes. It keeps the search of 50,000
/// keywords about as fast as that of 5,000.
#[derive(Debug)]
struct FirstWords {
    bits: Vec<u64>,
    /// `bits.len() * 64 - 1`: a power of two less one.
    mask: u64,
}

impl FirstWords {
    fn new<'a>(words: impl ExactSizeIterator<Item = &'a str>) -> FirstWords {
        let size = (words.len() * 16).next_power_of_two().max(4096);
        let mut filter = FirstWords { bits: vec![0; size / 64], mask: size as u64 - 1 };
        for word in words {
            let bit = word_hash(word.as_bytes()) & filter.mask;
            if let Some(slot) = filter.bits.get_mut((bit / 64) as usize) {
                *slot |= 1 << (bit % 64);
            }
        }
        filter
    }

    fn may_start(&self, word: &[u8]) -> bool {
        let bit = word_hash(word) & self.mask;
        self.bits.get((bit / 64) as usize).is_some_and(|slot| slot & (1 << (bit % 64)) != 0)
    }
}

/// FNV-1a: words are short, and this needs no table or crate.
fn word_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The text's first word: up to its first non-word character.
fn first_word(text: &str) -> &str {
    text.split(|c: char| !is_word_char(c)).next().unwrap_or(text)
}

/// Collects the patterns of one level before they are compiled.
#[derive(Debug)]
pub(crate) struct LevelBuilder {
    level: Level,
    keyword_ids: std::collections::HashMap<String, usize>,
    keyword_patterns: Vec<String>,
    keyword_owners: Vec<Vec<KeywordOwner>>,
    /// (rule, keyword as written, its normalized pattern) for masked words.
    masked: Vec<(u32, String, String)>,
    /// Ids of the patterns added as keywords or forms (`add_keyword`), not only as variants.
    keyword_ids_plain: HashSet<usize>,
    regexes: Vec<RegexPattern>,
    regex_hirs: Vec<Hir>,
}

/// The lazy DFA's cache per thread for the regex prefilter. The 2 MiB default thrashes with a
/// few hundred patterns in one set (measured: ~10.7 µs → ~1.7 µs per message at 64 MiB).
const PREFILTER_CACHE_BYTES: usize = 64 << 20;
/// Keyword patterns up to which an unanchored keyword automaton is a full DFA (about 5 MiB at
/// 5,000).
const DFA_MAX_PATTERNS: usize = 10_000;
/// Upper bound on the prefilter's compiled size, so a huge pack fails at load, not in memory.
const PREFILTER_NFA_LIMIT: usize = 256 << 20;

impl LevelBuilder {
    pub fn new(level: Level) -> Self {
        LevelBuilder {
            level,
            keyword_ids: Default::default(),
            keyword_patterns: Vec::new(),
            keyword_owners: Vec::new(),
            masked: Vec::new(),
            keyword_ids_plain: HashSet::new(),
            regexes: Vec::new(),
            regex_hirs: Vec::new(),
        }
    }

    /// Lets a masked word (`f**k`) whose shape fits `written` (a keyword or one of its forms)
    /// hit `rule`, explained by `pattern`, a keyword pattern the rule already added.
    pub fn add_masked(&mut self, rule: u32, written: &str, pattern: &str) {
        self.masked.push((rule, written.to_owned(), pattern.to_owned()));
    }

    /// Adds a normalized keyword for `rule`. The same rule adding the same pattern twice is
    /// recorded once.
    pub fn add_keyword(&mut self, normalized: String, rule: u32, mode: MatchMode, source: &str) {
        let id = self.keyword_ids.get(&normalized).copied().unwrap_or(self.keyword_patterns.len());
        self.keyword_ids_plain.insert(id);
        self.add_variant(normalized, rule, mode, source, false);
    }

    /// Adds a pattern for `rule`; `censored` patterns hit only where strict removed a symbol.
    /// The first pattern a rule adds for a text wins, so a rule's own keyword keeps explaining
    /// itself when a variant of another keyword has the same text.
    pub fn add_variant(&mut self, normalized: String, rule: u32, mode: MatchMode, source: &str, censored: bool) {
        let next = self.keyword_patterns.len();
        let id = *self.keyword_ids.entry(normalized.clone()).or_insert(next);
        if id == next {
            self.keyword_patterns.push(normalized);
            // Most keywords have one owner: room for one, not the four a first push reserves
            // (4.6 MiB on the 50k pack).
            self.keyword_owners.push(Vec::with_capacity(1));
        }
        let Some(owners) = self.keyword_owners.get_mut(id) else { return };
        match owners.iter_mut().find(|o| o.rule == rule) {
            // The same text reached plainly too: it hits without a removed symbol.
            Some(existing) => existing.censored &= censored,
            None => owners.push(KeywordOwner {
                rule,
                mode,
                source: source.to_owned(),
                censored,
                apostrophe: has_apostrophe(source),
            }),
        }
    }

    /// Adds a validated regex (compiled on first use) and its parsed form for the prefilter.
    pub fn add_regex(&mut self, source: &str, hir: &Hir, rule: u32) {
        self.regex_hirs.push(strip_unicode_word_boundaries(hir));
        let hit_group = hit_group(hir);
        self.regexes.push(RegexPattern { rule, source: source.to_owned(), compiled: OnceLock::new(), hit_group });
    }

    pub fn build(self) -> Result<LevelMatcher, String> {
        let keywords = if self.keyword_patterns.is_empty() { None } else { Some(self.keyword_automaton()?) };
        let prefilter = if self.regex_hirs.is_empty() {
            None
        } else {
            let config = meta::Config::new()
                .match_kind(regex_automata::MatchKind::All)
                .hybrid_cache_capacity(PREFILTER_CACHE_BYTES)
                .nfa_size_limit(Some(PREFILTER_NFA_LIMIT));
            let re = meta::Regex::builder()
                .configure(config)
                .build_many_from_hir(&self.regex_hirs)
                .map_err(|e| format!("the regexes of level {} together are too large: {e}", self.level.name()))?;
            Some(Arc::new(re))
        };
        let masked = self.masked_keywords();
        let (mut segment_words, mut segment_variants, mut split_variants) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        if self.level == Level::Strict {
            let spaced = self.keyword_patterns.iter().enumerate().filter(|(_, p)| p.contains(' '));
            // Not a keyword as written, nor a censored phrase (`ps of` from `p*ss off`, which
            // `P.S. off` would give).
            let censored = |id: usize| self.keyword_owners.get(id).is_none_or(|o| o.iter().any(|o| o.censored));
            split_variants = spaced
                .filter(|&(id, _)| !self.keyword_ids_plain.contains(&id) && !censored(id))
                .map(|(id, _)| id as u32)
                .collect();
            for (id, pattern) in self.keyword_patterns.iter().enumerate().filter(|(_, p)| !p.contains(' ')) {
                let words =
                    if self.keyword_ids_plain.contains(&id) { &mut segment_words } else { &mut segment_variants };
                words.insert(pattern.clone());
            }
        }
        Ok(LevelMatcher {
            level: self.level,
            keywords,
            keyword_owners: self.keyword_owners,
            masked,
            segment_words,
            segment_variants,
            split_variants,
            prefilter,
            regexes: self.regexes,
            fields: Vec::new(),
        })
    }
}

impl LevelBuilder {
    /// The automaton over every keyword pattern. Standard semantics, so overlapping search sees
    /// every occurrence of every pattern: rules are resolved separately, and one rule's long
    /// keyword must not hide another rule's short one.
    fn keyword_automaton(&self) -> Result<KeywordAutomaton, String> {
        let error = |e: aho_corasick::BuildError| format!("keyword automaton for level {}: {e}", self.level.name());
        let starts_words =
            self.keyword_owners.iter().flatten().all(|o| matches!(o.mode, MatchMode::Word | MatchMode::Prefix));
        let patterns = &self.keyword_patterns;
        if !starts_words {
            // A full DFA is the fastest unanchored search, but grows to tens of MiB for large
            // packs; past the threshold the contiguous NFA keeps memory small.
            let kind = (patterns.len() <= DFA_MAX_PATTERNS).then_some(AhoCorasickKind::DFA);
            let ac =
                AhoCorasickBuilder::new().match_kind(MatchKind::Standard).kind(kind).build(patterns).map_err(error)?;
            return Ok(KeywordAutomaton::Anywhere(ac));
        }
        let automaton = aho_corasick::nfa::contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map_err(error)?;
        let automaton = Box::new(automaton);
        let from_non_word = patterns.iter().any(|p| p.chars().next().is_some_and(|c| !is_word_char(c)));
        let whole_words = self.level != Level::Strict
            && !from_non_word
            && self.keyword_owners.iter().flatten().all(|o| o.mode == MatchMode::Word);
        let first_words = whole_words.then(|| FirstWords::new(patterns.iter().map(|p| first_word(p))));
        Ok(KeywordAutomaton::WordStarts { automaton, from_non_word, first_words })
    }

    /// Resolves `add_masked` entries to their pattern and owner.
    fn masked_keywords(&self) -> Vec<MaskedKeyword> {
        let mut out = Vec::new();
        for (rule, written, pattern) in &self.masked {
            let (letters, phrase) = match (masked_letters(written), masked_phrase(written)) {
                (Some(letters), _) => (letters, Vec::new()),
                (None, Some(phrase)) => (Vec::new(), phrase),
                (None, None) => continue,
            };
            let Some(&id) = self.keyword_ids.get(pattern) else { continue };
            let owner = self.keyword_owners.get(id).and_then(|o| o.iter().position(|o| o.rule == *rule));
            if let Some(owner) = owner {
                out.push(MaskedKeyword { letters, phrase, pattern: id as u32, owner: owner as u32 });
            }
        }
        out
    }
}

impl LevelMatcher {
    /// Finds every keyword and regex occurrence in `normalized` (text normalized at this level)
    /// for the rules `wants` accepts, appending them to `out`. Keyword hits are checked against
    /// their rule's match mode here, on the normalized text and its soft boundaries.
    pub fn search(&self, normalized: &Normalized, wants: &dyn Fn(u32) -> bool, out: &mut Vec<RawHit>) {
        let text = normalized.text();
        if let Some(keywords) = &self.keywords {
            let mut found = |pattern: usize, start: usize, end: usize| {
                self.push_keyword_hits(pattern, (start, end), normalized, wants, out);
            };
            self.find_keywords(keywords, text, Some(normalized), &mut found);
            self.search_spaced_splits(keywords, normalized, wants, out);
        }
        self.search_masked(normalized, wants, out);
        if let Some(prefilter) = &self.prefilter {
            // Most messages match no regex: one cheap leftmost search settles that before the
            // overlapping search that names every candidate.
            let input = Input::new(text);
            if !prefilter.is_match(input.clone()) {
                return;
            }
            let mut candidates = PatternSet::new(prefilter.pattern_len());
            prefilter.which_overlapping_matches(&input, &mut candidates);
            for id in candidates.iter() {
                let Some(pattern) = self.regexes.get(id.as_usize()) else { continue };
                if !wants(pattern.rule) {
                    continue;
                }
                let Some(regex) = pattern.regex() else { continue };
                let mut push = |start: usize, end: usize| {
                    // An empty match marks no words; it is warned about at load time.
                    if start < end {
                        out.push(RawHit {
                            rule: pattern.rule,
                            start,
                            end,
                            pattern: PatternRef::Regex(id.as_usize() as u32),
                        });
                    }
                };
                match pattern.hit_group {
                    None => regex.find_iter(text).for_each(|m| push(m.start(), m.end())),
                    // A match whose `hit` group took no part reports nothing.
                    Some(group) => {
                        regex.captures_iter(text).filter_map(|c| c.get(group)).for_each(|m| push(m.start(), m.end()))
                    }
                }
            }
        }
    }

    /// Takes over what `serving` (the same level of the rule set serving) already built for
    /// the regexes this one has too: each regex as built, and when the level's regexes are the
    /// same ones in the same order, the prefilter. A fresh prefilter starts with empty lazy DFA
    /// caches: on the 50k pack's 300 regexes the first ten messages after a swap took 0.4 ms
    /// each, the next ninety 0.08 ms and the next nine hundred 0.02 ms, against 0.007 ms warm
    /// (a mean, measured). Most edits change keywords, and those keep the warm one.
    pub(crate) fn keep_unchanged_regexes(&mut self, serving: &LevelMatcher) {
        if self.level != serving.level {
            return;
        }
        let same_sources = self.regexes.len() == serving.regexes.len()
            && self.regexes.iter().zip(&serving.regexes).all(|(a, b)| a.source == b.source);
        if same_sources {
            self.prefilter.clone_from(&serving.prefilter);
        }
        let built: HashMap<&str, &Arc<Regex>> =
            serving.regexes.iter().filter_map(|r| Some((r.source.as_str(), r.compiled.get()?.as_ref()?))).collect();
        for regex in &self.regexes {
            if let Some(&kept) = built.get(regex.source.as_str()) {
                let _ = regex.compiled.set(Some(Arc::clone(kept)));
            }
        }
    }

    /// Whether a keyword may start at `offset` although a word character precedes it: at
    /// `strict`, a boundary strict found inside a run (`is_boundary`) or anywhere inside a
    /// hashtag or handle (`sits` segments those).
    fn may_start_inside_word(&self, normalized: &Normalized, offset: usize) -> bool {
        self.level == Level::Strict
            && (normalized.is_boundary(offset) || normalized.compound_around(offset, offset).is_some())
    }

    /// Every keyword occurrence in `text`, as `found(pattern, start, end)`. With `normalized`
    /// (whose text `text` is), a walk of a word-start automaton begins only where a keyword may
    /// start; without it (a rewritten copy of the text), at every character.
    fn find_keywords(
        &self,
        keywords: &KeywordAutomaton,
        text: &str,
        normalized: Option<&Normalized>,
        found: &mut impl FnMut(usize, usize, usize),
    ) {
        let (automaton, from_non_word, first_words) = match keywords {
            KeywordAutomaton::Anywhere(ac) => {
                ac.find_overlapping_iter(text).for_each(|m| found(m.pattern().as_usize(), m.start(), m.end()));
                return;
            }
            KeywordAutomaton::WordStarts { automaton, from_non_word, first_words } => {
                (automaton, *from_non_word, first_words.as_ref().filter(|_| normalized.is_some()))
            }
        };
        let mut walk = |start: usize| walk_anchored(&**automaton, text, start, found);
        if let Some(first_words) = first_words {
            for (start, word) in words(text) {
                if first_words.may_start(word) {
                    walk(start);
                }
            }
            return;
        }
        let mut prev_word = false;
        for (start, c) in text.char_indices() {
            let word = is_word_char(c);
            let starts = !prev_word || normalized.is_none_or(|n| self.may_start_inside_word(n, start));
            if starts && (word || from_non_word || normalized.is_none()) {
                walk(start);
            }
            prev_word = word;
        }
    }

    /// The owners of keyword `pattern` that accept its hit at `span` of the normalized text
    /// (wanted, sitting as their mode requires, a removed symbol inside a censored variant, no
    /// apostrophe crossed), as raw hits.
    fn push_keyword_hits(
        &self,
        pattern: usize,
        (start, end): (usize, usize),
        normalized: &Normalized,
        wants: &dyn Fn(u32) -> bool,
        out: &mut Vec<RawHit>,
    ) {
        let Some(owners) = self.keyword_owners.get(pattern) else { return };
        for (i, owner) in owners.iter().enumerate() {
            if wants(owner.rule)
                && self.sits(owner.mode, normalized, start, end)
                && (!owner.censored || normalized.removed_inside(start, end))
                && (owner.apostrophe || !normalized.apostrophe_inside(start, end))
            {
                out.push(RawHit {
                    rule: owner.rule,
                    start,
                    end,
                    pattern: PatternRef::Keyword(pattern as u32, i as u32),
                });
            }
        }
    }

    /// Split variants (`bi tch`, `dick head`) whose pieces stand apart by a spaced dash or a full
    /// stop (`bi - tch`, `dick. head`): searched again in a copy of the text where each such
    /// separator between two words is one space, only when the text has one, and kept only where
    /// they cross one. Three patterns per split would double the bundled rules' patterns.
    fn search_spaced_splits(
        &self,
        keywords: &KeywordAutomaton,
        normalized: &Normalized,
        wants: &dyn Fn(u32) -> bool,
        out: &mut Vec<RawHit>,
    ) {
        let text = normalized.text();
        if self.split_variants.is_empty() || !(text.contains(". ") || text.contains(" - ")) {
            return;
        }
        let Some((spaced, map)) = separators_as_spaces(text) else { return };
        self.find_keywords(keywords, &spaced, None, &mut |pattern, spaced_start, spaced_end| {
            let (Some(&start), Some(&end)) = (map.get(spaced_start), map.get(spaced_end)) else { return };
            if self.split_variants.contains(&(pattern as u32)) && end - start != spaced_end - spaced_start {
                self.push_keyword_hits(pattern, (start, end), normalized, wants, out);
            }
        });
    }

    /// Whether a keyword hit sits as its mode requires: `mode_holds`, or in `word` mode at
    /// `strict`, a keyword every best reading of a hashtag or handle has (`#fuckthis`,
    /// `compounds`): the level's keywords and forms read like common words, its variants like
    /// rare ones.
    fn sits(&self, mode: MatchMode, normalized: &Normalized, start: usize, end: usize) -> bool {
        if mode_holds(mode, normalized, start, end) {
            return true;
        }
        if mode != MatchMode::Word || self.level != Level::Strict {
            return false;
        }
        let Some((lo, hi)) = normalized.compound_around(start, end) else { return false };
        let Some(run) = normalized.text().get(lo..hi) else { return false };
        let word_cost = |w: &str| {
            if is_common_word(w) || self.segment_words.contains(w) {
                Some(COMMON_COST)
            } else {
                self.segment_variants.contains(w).then_some(RARE_COST)
            }
        };
        every_segmentation_has(run, start - lo, end - lo, &word_cost)
    }

    /// Masked words (`f**k`, `b***h`) whose shape fits a keyword of a strict word-mode rule.
    fn search_masked(&self, normalized: &Normalized, wants: &dyn Fn(u32) -> bool, out: &mut Vec<RawHit>) {
        let words = normalized.masked_words();
        for (anchor, word) in words.iter().enumerate().filter(|(_, w)| !punctuation_beside_a_word(normalized, w)) {
            for keyword in &self.masked {
                let span = if keyword.phrase.is_empty() {
                    masked_fits(&word.shape, &keyword.letters).then_some((word.start, word.end))
                } else {
                    masked_phrase_at(normalized, words, anchor, &keyword.phrase)
                };
                let Some((start, end)) = span else { continue };
                let owner =
                    self.keyword_owners.get(keyword.pattern as usize).and_then(|o| o.get(keyword.owner as usize));
                let Some(owner) = owner else { continue };
                if wants(owner.rule) && mode_holds(owner.mode, normalized, start, end) {
                    out.push(RawHit {
                        rule: owner.rule,
                        start,
                        end,
                        pattern: PatternRef::Keyword(keyword.pattern, keyword.owner),
                    });
                }
            }
        }
    }

    /// The pattern as the operator wrote it.
    pub fn pattern_source(&self, pattern: PatternRef) -> &str {
        match pattern {
            PatternRef::Keyword(p, o) => self
                .keyword_owners
                .get(p as usize)
                .and_then(|owners| owners.get(o as usize))
                .map_or("", |o| o.source.as_str()),
            PatternRef::Regex(i) => self.regexes.get(i as usize).map_or("", |r| r.source.as_str()),
        }
    }

    pub fn keyword_pattern_count(&self) -> usize {
        self.keyword_owners.len()
    }
}

/// The words of `text` (runs of word characters) with their byte offsets. ASCII bytes are
/// judged without decoding.
fn words(text: &str) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = text.as_bytes();
    let word_char_at = move |i: usize| -> Option<(bool, usize)> {
        let &b = bytes.get(i)?;
        if b.is_ascii() {
            return Some((b.is_ascii_alphanumeric(), 1));
        }
        let c = text.get(i..)?.chars().next()?;
        Some((is_word_char(c), c.len_utf8()))
    };
    let mut at = 0;
    std::iter::from_fn(move || {
        // Skip to the next word character, then to the end of its run.
        loop {
            let (word, len) = word_char_at(at)?;
            if word {
                break;
            }
            at += len;
        }
        let start = at;
        while let Some((true, len)) = word_char_at(at) {
            at += len;
        }
        Some((start, bytes.get(start..at).unwrap_or_default()))
    })
}

/// Walks `automaton` anchored at byte `start` of `text` and reports each keyword that begins
/// there: `found(pattern, start, end)`. Stops at the first byte no keyword continues with.
fn walk_anchored<A: Automaton>(automaton: &A, text: &str, start: usize, found: &mut impl FnMut(usize, usize, usize)) {
    let Ok(mut state) = automaton.start_state(Anchored::Yes) else { return };
    let Some(rest) = text.as_bytes().get(start..) else { return };
    for (i, &byte) in rest.iter().enumerate() {
        state = automaton.next_state(Anchored::Yes, state, byte);
        if !automaton.is_special(state) {
            continue;
        }
        if automaton.is_dead(state) {
            return;
        }
        if automaton.is_match(state) {
            let len = i + 1;
            // A match state also names the keywords that end here but began later (suffixes,
            // kept for unanchored searches); those are found from their own start.
            for m in 0..automaton.match_len(state) {
                let pattern = automaton.match_pattern(state, m);
                if automaton.pattern_len(pattern) == len {
                    found(pattern.as_usize(), start, start + len);
                }
            }
        }
    }
}

/// `text` with every spaced dash or full stop between two words (`bi - tch`, `dick. head`)
/// written as one space, and for each of its bytes (and its end) the offset in `text`; `None`
/// when there is no such separator.
fn separators_as_spaces(text: &str) -> Option<(String, Vec<usize>)> {
    let mut spaced = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut prev: Option<char> = None;
    let mut found = false;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        let rest = text.get(i..).unwrap_or("");
        let separator = [". ", " - "].into_iter().find(|s| rest.starts_with(s));
        let next_is_word = |len: usize| rest.get(len..).and_then(|r| r.chars().next()).is_some_and(is_word_char);
        if let Some(sep) = separator.filter(|s| prev.is_some_and(is_word_char) && next_is_word(s.len())) {
            spaced.push(' ');
            map.push(i);
            // Skip the rest of the separator (ASCII, one byte a character).
            for _ in 1..sep.len() {
                chars.next();
            }
            prev = Some(' ');
            found = true;
            continue;
        }
        spaced.push(c);
        map.extend(i..i + c.len_utf8());
        prev = Some(c);
    }
    map.push(text.len());
    found.then_some((spaced, map))
}

/// Whether a keyword occurrence at `[start, end)` of the normalized text sits as its mode
/// requires. A word starts or ends at a non-word character, the text's edge, or a soft boundary:
/// where `strict` joined spelled-out letters, so the one-letter word in `what a c u n t` (→
/// `what acunt`) does not hide `cunt`. Accepted with it: `f u c k i n g` holds the word `fuck`,
/// and `s c u n t h o r p e` spelled letter by letter holds `cunt`; normally written words have
/// no soft boundaries (normalize.rs module doc).
pub(crate) fn mode_holds(mode: MatchMode, normalized: &Normalized, start: usize, end: usize) -> bool {
    let text = normalized.text();
    let starts_word = || {
        !text.get(..start).and_then(|s| s.chars().next_back()).is_some_and(is_word_char)
            || normalized.is_boundary(start)
    };
    let ends_word =
        || !text.get(end..).and_then(|s| s.chars().next()).is_some_and(is_word_char) || normalized.is_boundary(end);
    match mode {
        MatchMode::Substring => true,
        MatchMode::Word => starts_word() && ends_word(),
        MatchMode::Prefix => starts_word(),
        MatchMode::Suffix => ends_word(),
    }
}

/// Removes Unicode word-boundary assertions, which make the lazy DFA give up on non-ASCII text.
/// Dropping an assertion only widens what a pattern matches, so the result is a superset.
fn strip_unicode_word_boundaries(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Look(look) => match look {
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode => Hir::empty(),
            _ => hir.clone(),
        },
        HirKind::Repetition(rep) => {
            let mut rep = rep.clone();
            rep.sub = Box::new(strip_unicode_word_boundaries(&rep.sub));
            Hir::repetition(rep)
        }
        HirKind::Capture(cap) => strip_unicode_word_boundaries(&cap.sub),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(strip_unicode_word_boundaries).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(strip_unicode_word_boundaries).collect()),
        HirKind::Class(Class::Unicode(class)) => Hir::class(Class::Unicode(ascii_part_and_any_non_ascii(class))),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(Class::Bytes(_)) => hir.clone(),
    }
}

/// A class with a non-ASCII part (`\W`, `\d`, `\s` and the like in Unicode mode) is widened to
/// its ASCII part plus every non-ASCII character: still a superset, and its automaton stays
/// small (for 300 regexes, prefilter build 150 ms → 5 ms, memory 17.7 → 1.3 MiB, measured).
fn ascii_part_and_any_non_ascii(class: &ClassUnicode) -> ClassUnicode {
    if class.ranges().iter().all(|r| r.end().is_ascii()) {
        return class.clone();
    }
    let mut ascii: Vec<ClassUnicodeRange> = class
        .ranges()
        .iter()
        .filter(|r| r.start().is_ascii())
        .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\u{7F}')))
        .collect();
    ascii.push(ClassUnicodeRange::new('\u{80}', char::MAX));
    ClassUnicode::new(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::normalize::normalize;

    /// A rule set from `files`, compiled as a reload does (its regexes not built yet).
    fn serving(files: &[(&str, &str)]) -> crate::rules::Ruleset {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write rules");
        }
        crate::rules::load_dir(dir.path()).expect("rules load").ruleset
    }

    fn rule_hits(ruleset: &crate::rules::Ruleset, text: &str) -> Vec<String> {
        let decision = ruleset.evaluate(&crate::message::MessageView::with_text(text));
        decision.hits.iter().map(|h| h.rule.id.clone()).collect()
    }

    #[test]
    fn a_reload_keeps_the_regexes_it_did_not_change() {
        let links = r#"[[rule]]
id = "links.shortener"
regex = ['bit\.ly/\w+', '(?i)free\s+money']
"#;
        let old =
            serving(&[("links.toml", links), ("words.toml", "[[rule]]\nid = \"w.one\"\nkeywords = [\"apple\"]\n")]);
        old.compile_regexes();
        let old_level = old.levels.first().expect("one level");
        // A keyword added, in a rule before the regex rule: rule numbers shift, regexes do not.
        let mut keywords_edited = serving(&[
            ("a.toml", "[[rule]]\nid = \"a.first\"\nkeywords = [\"pear\"]\n"),
            ("links.toml", links),
            ("words.toml", "[[rule]]\nid = \"w.one\"\nkeywords = [\"apple\", \"plum\"]\n"),
        ]);
        keywords_edited.keep_unchanged_regexes(&old);
        let level = keywords_edited.levels.first().expect("one level");
        let (kept, was) = (level.prefilter.as_ref().expect("prefilter"), old_level.prefilter.as_ref().expect("old"));
        assert!(Arc::ptr_eq(kept, was), "same regexes: the prefilter is kept");
        for (new, old) in level.regexes.iter().zip(&old_level.regexes) {
            let (new, old) = (new.compiled.get().and_then(Option::as_ref), old.compiled.get().and_then(Option::as_ref));
            assert!(new.zip(old).is_some_and(|(a, b)| Arc::ptr_eq(a, b)), "each regex is kept as built");
        }
        assert_eq!(rule_hits(&keywords_edited, "see bit.ly/x for FREE  money"), ["links.shortener"]);
        assert_eq!(rule_hits(&keywords_edited, "a pear"), ["a.first"]);

        // One regex changed: a new prefilter; the unchanged regex is still kept.
        let mut regex_edited = serving(&[(
            "links.toml",
            "[[rule]]\nid = \"links.shortener\"\nregex = ['bit\\.ly/\\w+', 'tinyurl\\.com']\n",
        )]);
        regex_edited.keep_unchanged_regexes(&old);
        let level = regex_edited.levels.first().expect("one level");
        assert!(!Arc::ptr_eq(level.prefilter.as_ref().expect("prefilter"), was), "other regexes: a new prefilter");
        let built = |i: usize| level.regexes.get(i).and_then(|r| r.compiled.get()).and_then(Option::as_ref);
        let old_first = old_level.regexes.first().and_then(|r| r.compiled.get()).and_then(Option::as_ref);
        assert!(built(0).zip(old_first).is_some_and(|(a, b)| Arc::ptr_eq(a, b)), "bit.ly kept");
        assert!(built(1).is_none(), "tinyurl is new: built later (compile_regexes), not taken");
        regex_edited.compile_regexes();
        let level = regex_edited.levels.first().expect("one level");
        assert!(level.regexes.iter().all(RegexPattern::is_built), "compile_regexes builds the new one");
        let kept = level.regexes.first().and_then(|r| r.compiled.get()).and_then(Option::as_ref);
        assert!(kept.zip(old_first).is_some_and(|(a, b)| Arc::ptr_eq(a, b)), "and leaves the kept one as it was");
        assert_eq!(rule_hits(&regex_edited, "tinyurl.com/a or FREE money"), ["links.shortener"]);
        assert!(rule_hits(&regex_edited, "free money").is_empty());
    }

    #[test]
    fn modes_are_judged_on_word_characters() {
        let cases = [
            (MatchMode::Word, "a cat sat", 2, 5, true),
            (MatchMode::Word, "concat", 3, 6, false),
            (MatchMode::Word, "cats", 0, 3, false),
            (MatchMode::Prefix, "cats", 0, 3, true),
            (MatchMode::Prefix, "scat", 1, 4, false),
            (MatchMode::Suffix, "scat", 1, 4, true),
            (MatchMode::Suffix, "cats", 0, 3, false),
            (MatchMode::Substring, "concatenate", 3, 6, true),
            (MatchMode::Word, "été cat!", 6, 9, true),
            (MatchMode::Word, "écat", 2, 5, false),
        ];
        for (mode, text, s, e, want) in cases {
            assert_eq!(mode_holds(mode, &normalize(Level::None, text), s, e), want, "{mode:?} {text:?} {s}..{e}");
        }
    }

    /// Strict's soft boundaries count as word boundaries; nothing else changes.
    #[test]
    fn soft_boundaries_are_word_boundaries_at_strict() {
        let cases = [
            // (mode, original, keyword as normalized, want)
            (MatchMode::Word, "what a c u n t", "cunt", true),
            (MatchMode::Word, "you are a f u c k i n g idiot", "fucking", true),
            // A spelled-out word keeps its own boundaries (issue 15): `f u c k i n g` is the word
            // `fucking`, not `fuck`, just as `fucking` typed plainly is.
            (MatchMode::Word, "you are a f u c k i n g idiot", "fuck", false),
            (MatchMode::Word, "I s h i t you not", "shit", true),
            (MatchMode::Word, "a s s h o l e", "ashole", true),
            // The Scunthorpe leak closed: spelled out letter by letter it is still one word.
            (MatchMode::Word, "s c u n t h o r p e", "cunt", false),
            (MatchMode::Word, "S-C-U-N-T-H-O-R-P-E", "cunt", false),
            (MatchMode::Word, "c.a.s.i.n.o.s", "casino", false),
            (MatchMode::Word, "f u c k", "fuck", true),
            (MatchMode::Word, "Scunthorpe", "cunt", false),
            (MatchMode::Word, "cocktail", "cock", false),
            (MatchMode::Word, "what acunt", "cunt", false),
            (MatchMode::Prefix, "what a c u n t s", "cunt", true),
            (MatchMode::Prefix, "what acunts", "cunt", false),
            // After the leading one-letter word the run is one word: `cuntsx`.
            (MatchMode::Suffix, "a c u n t s x", "cunts", false),
            (MatchMode::Suffix, "acuntsx", "cunts", false),
            (MatchMode::Prefix, "s.h.i.t.head", "head", true),
            (MatchMode::Prefix, "shithead", "head", false),
        ];
        for (mode, original, keyword, want) in cases {
            let n = normalize(Level::Strict, original);
            let start = n.text().find(keyword).unwrap_or_else(|| panic!("{keyword:?} not in {:?}", n.text()));
            let got = mode_holds(mode, &n, start, start + keyword.len());
            assert_eq!(got, want, "{mode:?} {keyword:?} in {original:?} → {:?}", n.text());
        }
    }

    #[test]
    fn search_finds_a_word_after_a_glued_one_letter_word() {
        let mut b = LevelBuilder::new(Level::Strict);
        b.add_keyword("cunt".to_owned(), 0, MatchMode::Word, "cunt");
        let m = b.build().unwrap();
        let mut out = Vec::new();
        m.search(&normalize(Level::Strict, "what a c u n t"), &|_| true, &mut out);
        assert_eq!(out.iter().map(|h| (h.start, h.end)).collect::<Vec<_>>(), [(6, 10)]);
        out.clear();
        m.search(&normalize(Level::Strict, "Scunthorpe"), &|_| true, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn prefilter_is_a_superset_on_non_ascii_text() {
        let pattern = r"\bfree\b";
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        let mut b = LevelBuilder::new(Level::Basic);
        b.add_regex(pattern, &hir, 0);
        let m = b.build().unwrap();
        let mut out = Vec::new();
        m.search(&normalize(Level::Basic, "это free деньги"), &|_| true, &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        m.search(&normalize(Level::Basic, "этоfreeденьги"), &|_| true, &mut out);
        assert!(out.is_empty(), "\\b must still hold between Cyrillic letters: {out:?}");
    }
}
