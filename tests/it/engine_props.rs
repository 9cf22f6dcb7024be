//! Property test of the compiled rule engine against a naive reference (docs/normalization.md, docs/decision.md).
//!
//! Random small rule sets are written as TOML, loaded with `inflight::rules::load_dir` exactly as
//! the service loads them, and evaluated on random texts full of what normalization must handle
//! (confusables, fullwidth, zero-width and combining characters, leetspeak, punctuation). The
//! reference evaluates each rule on its own, by plain scanning, from the contract's words: every
//! occurrence of every normalized keyword whose match mode holds (a word boundary being a
//! non-word character, the text's edge or one of strict's soft boundaries), every non-empty regex match,
//! minus hits inside an `except` phrase, then leftmost-longest without overlaps, mapped back to
//! the original text. At `strict`, a word-mode keyword also matches as each of its variants
//! (`inflight::rules::variants::strict_variants`: `m*ney`, `mo ney`), a masked word whose shape
//! fits it (`m**ey`), and inside a hashtag or handle wherever every segmentation of the run
//! around it has it (`#moneyback`); and no keyword hit crosses an apostrophe strict removed
//! inside a word. Both must report the same rules and the same spans.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use inflight::protocol::MessageView;
use inflight::rules::compounds::{COMMON_COST, RARE_COST, every_segmentation_has};
use inflight::rules::normalize::{Level, Normalized, is_word_char, normalize, normalize_keyword};
use inflight::rules::variants::{
    is_common_word, masked_fits, masked_letters, masked_phrase, masked_phrase_at, punctuation_beside_a_word,
    strict_variants,
};
use proptest::prelude::*;
use regex::Regex;

/// Keywords: a small vocabulary so hits are frequent, with spaces (strict's space-less variant),
/// repeated letters (strict's collapsing), non-ASCII letters and short ones.
const KEYWORDS: &[&str] =
    &["free", "money", "free money", "cat", "ass", "cash", "été", "ab", "hello world", "spam", "mon", "see"];
/// Except phrases that contain (or sit next to) the keywords above.
const EXCEPTS: &[&str] = &["free money back", "no free", "cats", "scat", "class", "spam free", "a cat"];
/// Simple regexes, including Unicode word boundaries (which the prefilter strips), a pattern
/// that can match the empty string, digits and Cyrillic.
const REGEXES: &[&str] = &[r"fre+", r"\bcat\b", r"\d{2,}", r"m.n", r"(?:ab)+", r"e*", r"\w+y\b", r"[а-я]+", r"\bs\w*"];
const MODES: &[&str] = &["word", "prefix", "suffix", "substring"];
const LEVELS: &[Level] = &[Level::None, Level::Basic, Level::Standard, Level::Strict];

#[derive(Debug, Clone)]
struct RuleSpec {
    keywords: Vec<&'static str>,
    mode: &'static str,
    level: Level,
    except: Option<&'static str>,
    regex: Option<&'static str>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop::sample::subsequence(KEYWORDS, 1..=4),
        prop::sample::select(MODES),
        prop::sample::select(LEVELS),
        prop::option::of(prop::sample::select(EXCEPTS)),
        prop::option::weighted(0.4, prop::sample::select(REGEXES)),
    )
        .prop_map(|(keywords, mode, level, except, regex)| RuleSpec { keywords, mode, level, except, regex })
}

/// Pieces of text: vocabulary words in several disguises, and the characters normalization
/// treats specially.
fn token() -> impl Strategy<Value = String> {
    const WORDS: &[&str] = &[
        "free",
        "FREE",
        "Free",
        "fr33",
        "freeee",
        "f r e e",
        "f.r.e.e",
        // Spelled-out words, which strict joins to one-letter words next to them.
        "c a t",
        "c.a.t",
        "a s s",
        "s p a m",
        "money",
        "m0ney",
        "MONEY",
        // Strict's variants of word-mode keywords: a starred vowel, `v` for `u`, a split, an
        // edge symbol.
        "m*ney",
        "mo ney",
        "sp am",
        "c!sh",
        "spm",
        "(ash",
        "mvney",
        // Masked words, hashtags, compounds and apostrophes (strict: `m**ey`, `#freemoney`,
        // `spam_free`, `FreeMoney`, `see'n`).
        "m**ey",
        "s##m",
        "#",
        "spam_money",
        "FreeMoney",
        "see'n",
        "cat",
        "cats",
        "scat",
        "CAT",
        "ass",
        "class",
        "cash",
        "été",
        "ÉTÉ",
        "ete",
        "ab",
        "abab",
        "hello",
        "world",
        "helloworld",
        "spam",
        "spammy",
        "mon",
        "see",
        "seee",
        "no",
        "back",
        "a",
        "x",
        "y",
    ];
    const OTHERS: &[&str] = &[
        // Cyrillic and Greek look-alikes, fullwidth, other letters.
        "frее",
        "саt",
        "аss",
        "ΑΒ",
        "οк",
        "Ｆｒｅｅ",
        "ｃａｔ",
        "ñ",
        "ü",
        "ß",
        "ø",
        "д",
        "я",
        "λ",
        "中",
        "😀",
        // Zero-width and combining characters.
        "\u{200B}",
        "\u{200D}",
        "\u{0301}",
        "\u{0308}",
        "e\u{0301}",
        // Punctuation, digits, whitespace.
        ".",
        ",",
        "!",
        "-",
        "_",
        "*",
        "'",
        "@",
        "$",
        "0",
        "1",
        "3",
        "4",
        "5",
        "7",
        "42",
        "  ",
        "\t",
    ];
    prop_oneof![
        5 => prop::sample::select(WORDS).prop_map(str::to_owned),
        3 => prop::sample::select(OTHERS).prop_map(str::to_owned),
        4 => Just(" ".to_owned()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..16).prop_map(|t| t.concat())
}

/// A TOML basic string: JSON's escapes are all valid in TOML.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn write_rules(specs: &[RuleSpec]) -> String {
    let mut toml = String::new();
    for (i, spec) in specs.iter().enumerate() {
        let keywords: Vec<String> = spec.keywords.iter().map(|k| toml_string(k)).collect();
        let _ = writeln!(toml, "[[rule]]\nid = \"r{i}\"\nkeywords = [{}]", keywords.join(", "));
        let _ = writeln!(toml, "match = \"{}\"\nnormalize = \"{}\"", spec.mode, spec.level.name());
        if let Some(except) = spec.except {
            let _ = writeln!(toml, "except = [{}]", toml_string(except));
        }
        if let Some(regex) = spec.regex {
            let _ = writeln!(toml, "regex = [{}]", toml_string(regex));
        }
        toml.push('\n');
    }
    toml
}

/// (start, end, original text) of each hit, per rule id.
type Hits = BTreeMap<String, Vec<(usize, usize, String)>>;

/// A word starts (ends) at the text's edge, after (before) a non-word character, or at a soft
/// boundary, where strict joined spelled-out letters.
fn mode_holds(mode: &str, normalized: &Normalized, start: usize, end: usize) -> bool {
    let text = normalized.text();
    let starts = !text[..start].chars().next_back().is_some_and(is_word_char) || normalized.is_boundary(start);
    let ends = !text[end..].chars().next().is_some_and(is_word_char) || normalized.is_boundary(end);
    match mode {
        "word" => starts && ends,
        "prefix" => starts,
        "suffix" => ends,
        _ => true,
    }
}

/// Every occurrence of `needle` in `text`, overlapping, at every char boundary.
fn occurrences<'a>(text: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.char_indices().map(|(i, _)| i).filter(move |&i| text[i..].starts_with(needle))
}

/// A normalized keyword or phrase, plus at `strict` its form without spaces (normalized again, so
/// letter runs meeting at the join collapse as they would in text).
fn with_spaceless(level: Level, phrase: &str) -> Vec<String> {
    let normalized = normalize_keyword(level, phrase);
    let mut out = vec![normalized.clone()];
    if level == Level::Strict && normalized.contains(' ') {
        out.push(normalize_keyword(level, &normalized.replace(' ', "")));
    }
    out
}

/// A keyword's patterns: its normalized forms, plus at strict in word mode its variants.
/// (pattern, censored: counts only where strict removed a symbol inside the hit)
fn patterns(spec: &RuleSpec, keyword: &str) -> Vec<(String, bool)> {
    let mut patterns: Vec<(String, bool)> =
        with_spaceless(spec.level, keyword).into_iter().map(|p| (p, false)).collect();
    if spec.level == Level::Strict && spec.mode == "word" {
        patterns.extend(strict_variants(keyword).into_iter().map(|v| (v.text, v.censored)));
    }
    patterns
}

/// Strict's dictionary for hashtags and handles besides the word lists: the single-word keyword
/// patterns of every strict rule (common words' cost), and their variants (rare words' cost).
fn segment_words(specs: &[RuleSpec]) -> (Vec<String>, Vec<String>) {
    let strict: Vec<&RuleSpec> = specs.iter().filter(|s| s.level == Level::Strict).collect();
    let single = |p: &String| !p.contains(' ');
    let keywords: Vec<String> = strict
        .iter()
        .flat_map(|s| s.keywords.iter().flat_map(move |k| with_spaceless(s.level, k)))
        .filter(single)
        .collect();
    let variants: Vec<String> = strict
        .iter()
        .flat_map(|s| s.keywords.iter().flat_map(move |k| patterns(s, k)))
        .map(|(p, _)| p)
        .filter(|p| single(p) && !keywords.contains(p))
        .collect();
    (keywords, variants)
}

/// A word-mode hit at strict that is not a whole word still counts inside a hashtag or handle
/// when every best segmentation of the run around it has it.
fn glued(
    spec: &RuleSpec,
    normalized: &Normalized,
    words: &(Vec<String>, Vec<String>),
    start: usize,
    end: usize,
) -> bool {
    if spec.level != Level::Strict || spec.mode != "word" {
        return false;
    }
    let Some((lo, hi)) = normalized.compound_around(start, end) else { return false };
    let (keywords, variants) = words;
    let word_cost = |w: &str| {
        if is_common_word(w) || keywords.iter().any(|p| p == w) {
            Some(COMMON_COST)
        } else {
            variants.iter().any(|p| p == w).then_some(RARE_COST)
        }
    };
    every_segmentation_has(&normalized.text()[lo..hi], start - lo, end - lo, &word_cost)
}

/// The contract, one rule at a time, by brute force.
fn reference(specs: &[RuleSpec], original: &str) -> Hits {
    let mut all = Hits::new();
    let words = segment_words(specs);
    for (i, spec) in specs.iter().enumerate() {
        let normalized = normalize(spec.level, original);
        let text = normalized.text();
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for keyword in &spec.keywords {
            for (pattern, censored) in patterns(spec, keyword) {
                for start in occurrences(text, &pattern) {
                    let end = start + pattern.len();
                    let sits =
                        mode_holds(spec.mode, &normalized, start, end) || glued(spec, &normalized, &words, start, end);
                    if sits
                        && (!censored || normalized.removed_inside(start, end))
                        && (keyword.contains('\'') || !normalized.apostrophe_inside(start, end))
                    {
                        hits.push((start, end));
                    }
                }
            }
            // A masked word (`m**ey`, `(ash`) whose shape fits the keyword, at strict in word mode,
            // unless it is a word with punctuation beside it (`(ash` for `ash`).
            if spec.level == Level::Strict
                && spec.mode == "word"
                && let Some(letters) = masked_letters(keyword)
            {
                for word in normalized.masked_words() {
                    if masked_fits(&word.shape, &letters)
                        && !punctuation_beside_a_word(&normalized, word)
                        && mode_holds(spec.mode, &normalized, word.start, word.end)
                    {
                        hits.push((word.start, word.end));
                    }
                }
            }
            // A phrase whose words are masked or typed (`k!|l yourself`), anchored at its first
            // masked word.
            if spec.level == Level::Strict
                && spec.mode == "word"
                && let Some(phrase) = masked_phrase(keyword)
            {
                let words = normalized.masked_words();
                for (anchor, word) in words.iter().enumerate() {
                    if !punctuation_beside_a_word(&normalized, word)
                        && let Some((start, end)) = masked_phrase_at(&normalized, words, anchor, &phrase)
                        && mode_holds(spec.mode, &normalized, start, end)
                    {
                        hits.push((start, end));
                    }
                }
            }
        }
        if let Some(regex) = spec.regex {
            let regex = Regex::new(regex).expect("fixed regexes compile");
            hits.extend(regex.find_iter(text).filter(|m| !m.is_empty()).map(|m| (m.start(), m.end())));
        }
        let excepts: Vec<String> = spec.except.map(|e| with_spaceless(spec.level, e)).unwrap_or_default();
        hits.retain(|&(start, end)| {
            !excepts.iter().any(|phrase| occurrences(text, phrase).any(|p| p <= start && p + phrase.len() >= end))
        });
        hits.sort_by_key(|&(start, end)| (start, Reverse(end)));
        let mut kept: Vec<(usize, usize, String)> = Vec::new();
        let mut last_end = 0;
        for (start, end) in hits {
            if !kept.is_empty() && start < last_end {
                continue;
            }
            last_end = end;
            let (a, b) = normalized.original_span(start, end);
            kept.push((a, b, original[a..b].to_owned()));
        }
        if !kept.is_empty() {
            kept.sort();
            all.insert(format!("r{i}"), kept);
        }
    }
    all
}

fn engine(ruleset: &inflight::rules::Ruleset, original: &str) -> Hits {
    let view = MessageView::with_text(original);
    let decision = ruleset.evaluate(&view);
    let mut all = Hits::new();
    for hit in &decision.hits {
        let mut spans: Vec<(usize, usize, String)> =
            hit.spans.iter().map(|s| (s.start, s.end, s.text.clone())).collect();
        spans.sort();
        all.insert(hit.rule.id.clone(), spans);
    }
    all
}

/// Loads `specs` from a temporary folder and compares engine and reference on every text.
fn compare(specs: &[RuleSpec], texts: &[String]) -> Result<(), TestCaseError> {
    let toml = write_rules(specs);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.toml"), &toml).expect("write rules");
    let loaded = match inflight::rules::load_dir(dir.path()) {
        Ok(l) => l,
        Err(e) => return Err(TestCaseError::fail(format!("rules do not load: {e}\n{toml}"))),
    };
    for original in texts {
        let want = reference(specs, original);
        let got = engine(&loaded.ruleset, original);
        prop_assert_eq!(
            &got,
            &want,
            "text {:?}\nnormalized: {:?}\nrules:\n{}",
            original,
            specs.iter().map(|s| normalize(s.level, original).text().to_owned()).collect::<Vec<_>>(),
            toml
        );
    }
    Ok(())
}

fn spec(keywords: &[&'static str], mode: &'static str, level: Level, except: Option<&'static str>) -> RuleSpec {
    RuleSpec { keywords: keywords.to_vec(), mode, level, except, regex: None }
}

/// Inputs the random search once found, kept as named cases with the hits they must give (the
/// file-based regression store is off: it would write outside `tests/it/`).
#[test]
fn known_cases() {
    type Case = (&'static str, RuleSpec, &'static str, &'static [(usize, usize, &'static str)]);
    let cases: &[Case] = &[
        (
            // The except window was cut at `start + phrase.len()`, inside `с` (2 bytes), so it
            // found nothing and the hit `ass` inside `class` was kept. Fixed in eval.rs
            // `cancelled_by_except`.
            "except phrase followed by a multi-byte char",
            spec(&["ass"], "suffix", Level::Basic, Some("class")),
            "class саt",
            &[],
        ),
        (
            "except phrase before a euro sign",
            spec(&["free"], "word", Level::Standard, Some("no free")),
            "no free €",
            &[],
        ),
        (
            "except elsewhere keeps the hit",
            spec(&["free"], "word", Level::Standard, Some("no free")),
            "free €",
            &[(0, 4, "free")],
        ),
        (
            "strict joins spaced letters",
            spec(&["free money"], "word", Level::Strict, None),
            "get f r e e m o n e y!",
            &[(4, 21, "f r e e m o n e y")],
        ),
        (
            // `what acunt` at strict: the one-letter word is glued to the spelled-out one, which
            // still starts at a soft boundary.
            "one-letter word before spelled-out letters",
            spec(&["cunt"], "word", Level::Strict, None),
            "what a c u n t",
            &[(7, 14, "c u n t")],
        ),
        (
            "spelled-out word inside a sentence",
            spec(&["fucking"], "word", Level::Strict, None),
            "you are a f u c k i n g idiot",
            &[(10, 23, "f u c k i n g")],
        ),
        (
            // Issue 15: a spelled-out word keeps its own boundaries, `fucking` holds no `fuck`.
            "a spelled-out word is one word",
            spec(&["fuck"], "word", Level::Strict, None),
            "you are a f u c k i n g idiot",
            &[],
        ),
        (
            "capital I glued to a spelled-out word",
            spec(&["shit"], "word", Level::Strict, None),
            "I s h i t you not",
            &[(2, 9, "s h i t")],
        ),
        (
            "collapsed letters across the run",
            spec(&["asshole"], "word", Level::Strict, None),
            "a s s h o l e",
            &[(0, 13, "a s s h o l e")],
        ),
        ("punctuation-joined letters", spec(&["cat"], "prefix", Level::Strict, None), "a.c.a.t.s", &[(2, 7, "c.a.t")]),
        (
            // Issue 15: the leak closed.
            "spelled letter by letter, a place name does not hit",
            spec(&["cunt"], "word", Level::Strict, None),
            "s c u n t h o r p e",
            &[],
        ),
        ("a place name written normally does not", spec(&["cunt"], "word", Level::Strict, None), "Scunthorpe", &[]),
        // An apostrophe is a word boundary at strict as at standard (issue 15), no hit crosses it.
        ("an apostrophe is a word boundary", spec(&["don"], "word", Level::Strict, None), "don't", &[(0, 3, "don")]),
        ("no hit crosses an apostrophe", spec(&["whore"], "word", Level::Strict, None), "who're you", &[]),
        (
            "a grawlix stays symbols",
            spec(&["cash"], "substring", Level::Strict, None),
            "@#$%! c@$h",
            &[(6, 10, "c@$h")],
        ),
        ("a masked word fits", spec(&["money"], "word", Level::Strict, None), "no m**ey!", &[(3, 8, "m**ey")]),
        ("a fully starred word does not", spec(&["money"], "word", Level::Strict, None), "m****", &[]),
        ("a hashtag's only reading", spec(&["money"], "word", Level::Strict, None), "#moneyback", &[(1, 6, "money")]),
        ("camel case", spec(&["spam"], "word", Level::Strict, None), "NoSpamHere", &[(2, 6, "Spam")]),
        ("soft boundaries are strict only", spec(&["cunt"], "word", Level::Standard, None), "what acunt", &[]),
        ("a starred vowel at strict", spec(&["money"], "word", Level::Strict, None), "no m*ney!", &[(3, 8, "m*ney")]),
        ("a split keyword at strict", spec(&["money"], "word", Level::Strict, None), "mo ney", &[(0, 6, "mo ney")]),
        ("v for u at strict", spec(&["fuck"], "word", Level::Strict, None), "fvck it", &[(0, 4, "fvck")]),
        ("a leading ( for c at strict", spec(&["cunt"], "word", Level::Strict, None), "a (unt", &[(2, 6, "(unt")]),
        ("variants are word mode only", spec(&["money"], "prefix", Level::Strict, None), "m*ney mo ney", &[]),
        ("no variants below strict", spec(&["money"], "word", Level::Standard, None), "m*ney mo ney", &[]),
        // `ash` is a common word, so `cash` gets no `(ash`; `dumbass` split as `dumb as` neither.
        ("a variant that is a common word", spec(&["cash"], "word", Level::Strict, None), "(ash", &[]),
        ("a split into two common words", spec(&["dumbass"], "word", Level::Strict, None), "as dumb as a rock", &[]),
    ];
    let mut failures = Vec::new();
    for (name, spec, text, want) in cases {
        let specs = std::slice::from_ref(spec);
        let want: Hits = if want.is_empty() {
            Hits::new()
        } else {
            Hits::from([("r0".to_owned(), want.iter().map(|&(s, e, t)| (s, e, t.to_owned())).collect())])
        };
        if reference(specs, text) != want {
            failures.push(format!("{name}: the reference gives {:?}, want {want:?}", reference(specs, text)));
        }
        if let Err(e) = compare(specs, &[(*text).to_owned()]) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

proptest! {
    // Each case writes and loads a rule set from disk, so each checks several texts.
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_naive_reference(
        specs in prop::collection::vec(rule_spec(), 1..=4),
        texts in prop::collection::vec(text(), 8),
    ) {
        compare(&specs, &texts)?;
    }
}
