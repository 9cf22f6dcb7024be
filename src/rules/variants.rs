//! Extra patterns of a `strict` word-mode keyword, for the evasions strict normalization alone
//! cannot undo: self-censoring (`f*ck` → `fck`), extra leetspeak, a vowel written as `v` for `u`,
//! and one split (`fu ck`). Each variant is checked against the common-word lists shipped in
//! this folder, so no variant is an ordinary word. Used by `compile` for rules at `strict` in
//! `word` mode.

use std::sync::LazyLock;

use super::normalize::{Level, is_word_char, normalize_keyword};

/// One extra pattern of a `strict` keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictVariant {
    /// The pattern, normalized at `strict`.
    pub text: String,
    /// A shortened form (`fck`): it counts only where strict removed a symbol inside the hit
    /// (`f*ck`), since the same letters typed plainly are often ordinary shorthand (`cnt`).
    pub censored: bool,
}

/// Shortest keyword (in characters, once normalized at `strict`) that gets `strict_variants`:
/// below it a dropped letter or a split leaves too little to tell words apart.
const VARIANT_MIN_KEYWORD: usize = 4;
/// Shortest shortened form kept (`fck` from `fuck`; `cock` without its `o` is `ck`, not kept).
const VARIANT_MIN_LEN: usize = 3;
/// Shortest piece of a split keyword. A one-letter piece is an initial or a one-letter word as
/// often as an evasion: `anal` split as `ana l` would hit `Ana L. Smith`.
const SPLIT_MIN_PART: usize = 2;

/// Common English words and names as `strict` writes them, sorted
/// (`scripts/gen_common_words.py`, from SCOWL): a variant that is one of them, or a split into two
/// of them, would hit ordinary messages.
static COMMON_WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| word_list(include_str!("common_words.txt")));
/// Abbreviations of three letters or more, likewise: a shortened keyword is often an acronym
/// (`scm` from `scum`). Not used for the pieces of a split, which two-letter abbreviations would
/// veto wholesale (`ck`, `nt`).
static COMMON_ABBREVIATIONS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| word_list(include_str!("common_abbreviations.txt")));

fn word_list(text: &'static str) -> Vec<&'static str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

fn is_common_word(word: &str) -> bool {
    COMMON_WORDS.binary_search(&word).is_ok()
}

/// A whole variant is refused when it is a common word or a common abbreviation.
fn is_common(variant: &str) -> bool {
    is_common_word(variant) || COMMON_ABBREVIATIONS.binary_search(&variant).is_ok()
}

/// The extra patterns a `match = "word"` keyword gets at `strict`, already normalized at `strict`,
/// without the keyword's own form and without repeats. They undo evasions that strict
/// normalization cannot undo in the text, because what was removed or changed there is gone:
///
/// - **A vowel left out** (each interior `a e i o u`, one at a time): strict removes punctuation
///   inside a word, so a starred-out or symbol-written vowel (`f*ck`, `sh!t`, `b|tch`,
///   `w^nker`) arrives as `fck`, `sht`, `btch`, `wnker`.
/// - **`u` written `v`** (`fvck`, `pvssy`), and that form with a vowel left out (`dvmb*ss`).
/// - **An edge vowel starred** (`*sshole`, `whor*`) and **a leading `c` written `(`** (`(unt`):
///   strict keeps punctuation at a word's edge, so these patterns keep the symbol and only
///   match where it is written.
/// - **Split once by a space** (`fu ck`, `bit ch`, `mother fucker`), at every point that
///   leaves two pieces of at least two characters. The split is made in the keyword before
///   repeated letters collapse, so `pussy` also gives `pus sy`.
///
/// Limits, for precision's sake: only single-word keywords of four or more characters; one
/// change per variant; a shortened form of three or more characters. A variant that is a common
/// English word, name or abbreviation (`bollocks` → `blocks`, `cocaine` → `caine`, `scum` →
/// `scm`, `crap` → `(rap`), or a split whose two pieces both are common words or names (`pen is`,
/// `hero in`, `as hole`, `who re`), is not made. Consonants written as symbols inside a word
/// (`fu(k`, `s|ut`) are not undone: leaving a consonant out makes ordinary words too easily
/// (`meth` → `meh`, `slag` → `sag`). The caller uses them for `word` mode only: in the other
/// modes a shortened form would hit inside longer words (`ans` from `anus` in `answer`).
/// EVASION.md measures what they catch and what they cost.
pub fn strict_variants(keyword: &str) -> Vec<StrictVariant> {
    let normalized = normalize_keyword(Level::Strict, keyword);
    let letters: Vec<char> = normalized.chars().collect();
    if letters.len() < VARIANT_MIN_KEYWORD || !letters.iter().all(|&c| is_word_char(c)) {
        return Vec::new();
    }
    let mut out: Vec<StrictVariant> = Vec::new();
    let mut push = |text: String, censored: bool| {
        if text != normalized && !out.iter().any(|v| v.text == text) {
            out.push(StrictVariant { text, censored });
        }
    };
    let is_vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u');
    let again = |chars: &[char]| normalize_keyword(Level::Strict, &chars.iter().collect::<String>());
    let shortened = |chars: &[char], push: &mut dyn FnMut(String, bool)| {
        for i in 1..chars.len().saturating_sub(1) {
            if chars.get(i).is_some_and(|&c| is_vowel(c)) {
                let mut without = chars.to_vec();
                without.remove(i);
                let variant = again(&without);
                if variant.chars().count() >= VARIANT_MIN_LEN && !is_common(&variant) {
                    push(variant, true);
                }
            }
        }
    };

    shortened(&letters, &mut push);
    if letters.contains(&'u') {
        let v_form: Vec<char> = letters.iter().map(|&c| if c == 'u' { 'v' } else { c }).collect();
        let variant = again(&v_form);
        if !is_common(&variant) {
            push(variant, false);
        }
        shortened(&v_form, &mut push);
    }

    // An edge letter written as a symbol strict keeps at a word's edge.
    let mut edge = |symbol: char, rest: &[char], symbol_first: bool| {
        let rest = again(rest);
        if rest.chars().count() >= VARIANT_MIN_LEN && !is_common(&rest) {
            push(if symbol_first { format!("{symbol}{rest}") } else { format!("{rest}{symbol}") }, false);
        }
    };
    if let [first, rest @ ..] = letters.as_slice() {
        if is_vowel(*first) {
            edge('*', rest, true);
        }
        if *first == 'c' {
            edge('(', rest, true);
        }
    }
    if let [rest @ .., last] = letters.as_slice()
        && is_vowel(*last)
    {
        edge('*', rest, false);
    }

    // Splits, made before repeats collapse when the keyword is a plain word (`pus sy`).
    let standard = normalize_keyword(Level::Standard, keyword);
    let base: Vec<char> = if standard.chars().all(is_word_char) { standard.chars().collect() } else { letters.clone() };
    for k in 1..base.len() {
        let (left, right) = base.split_at(k);
        let joined: String = left.iter().chain([' '].iter()).chain(right).collect();
        let variant = normalize_keyword(Level::Strict, &joined);
        let Some((a, b)) = variant.split_once(' ') else { continue };
        let long_enough = a.chars().count() >= SPLIT_MIN_PART && b.chars().count() >= SPLIT_MIN_PART;
        if long_enough && !b.contains(' ') && !(is_common_word(a) && is_common_word(b)) {
            push(variant, false);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(keyword: &str, variant: &str) -> bool {
        strict_variants(keyword).iter().any(|v| v.text == variant)
    }

    #[test]
    fn variants_undo_self_censoring_extra_leetspeak_and_splits() {
        let cases = [
            ("fuck", "fck"),
            ("fuck", "fvck"),
            ("fuck", "fu ck"),
            ("shit", "sht"),
            ("bitch", "btch"),
            ("bitch", "bi tch"),
            ("bitch", "bit ch"),
            ("wanker", "wnker"),
            ("dumbass", "dvmbs"),
            ("cunt", "(unt"),
            ("asshole", "*shole"),
            ("asshole", "ashol*"),
            ("pussy", "pus sy"),
            ("motherfucker", "mother fucker"),
            ("B1TCH", "btch"),
            ("Ｆｕｃｋ", "fck"),
        ];
        let missing: Vec<_> = cases.iter().filter(|(k, v)| !has(k, v)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// Each of these is an ordinary word or phrase, so no keyword may turn into it.
    #[test]
    fn no_variant_is_a_common_word() {
        let cases = [
            ("bollocks", "blocks"),
            ("penis", "pens"),
            ("penis", "pen is"),
            ("heroin", "heron"),
            ("heroin", "hero in"),
            ("cocaine", "caine"),
            ("jackass", "jacks"),
            ("jackass", "jack as"),
            ("dumbass", "dumb as"),
            ("asshole", "as hole"),
            ("whore", "who re"),
            ("shit", "sh it"),
            ("bullshit", "buls hit"),
            ("crap", "(rap"),
            ("rape", "rap*"),
            ("scum", "scm"),
            ("twat", "twt"),
        ];
        let made: Vec<_> = cases.iter().filter(|(k, v)| has(k, v)).collect();
        assert!(made.is_empty(), "{made:?}");
    }

    #[test]
    fn short_multi_word_and_symbol_keywords_get_none() {
        for keyword in ["ass", "cum", "free", "free money", "kill yourself", "c++", "(ok)", "a.b"] {
            assert_eq!(strict_variants(keyword), Vec::<StrictVariant>::new(), "{keyword}");
        }
        // One-letter pieces are never split off, and a shortened form keeps three characters.
        assert!(!has("fuck", "f uck") && !has("fuck", "fuc k"));
        assert!(!has("cock", "ck"));
    }

    #[test]
    fn variants_are_normalized_distinct_and_not_the_keyword() {
        for keyword in ["fuck", "motherfucker", "pussy", "asshole", "douchebag", "Bastard", "m0ney", "привет"] {
            let variants = strict_variants(keyword);
            let own = normalize_keyword(Level::Strict, keyword);
            for (i, v) in variants.iter().enumerate() {
                assert_eq!(normalize_keyword(Level::Strict, &v.text), v.text, "{keyword}: {v:?} is not normalized");
                assert_ne!(v.text, own, "{keyword}");
                assert!(!variants[..i].iter().any(|w| w.text == v.text), "{keyword}: {v:?} twice");
            }
        }
    }

    /// The lists are searched by bisection and compared with normalized variants.
    #[test]
    fn common_word_lists_are_sorted_and_normalized() {
        for (name, list, least) in [("words", &COMMON_WORDS, 30_000), ("abbreviations", &COMMON_ABBREVIATIONS, 3_000)] {
            assert!(list.len() > least, "{name}: {}", list.len());
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{name}: not sorted or not distinct");
            let odd: Vec<_> = list.iter().filter(|w| normalize_keyword(Level::Strict, w) != **w).take(5).collect();
            assert!(odd.is_empty(), "{name}: {odd:?}");
        }
        assert!(is_common_word("blocks") && is_common_word("sh") && !is_common_word("fck"));
        assert!(is_common("scm") && !is_common_word("scm"));
    }
}
