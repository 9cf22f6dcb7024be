//! Extra patterns of a `strict` word-mode keyword, for the evasions strict normalization alone
//! cannot undo: self-censoring (`f*ck` → `fck`), extra leetspeak, a vowel written as `v` for `u`,
//! and one split (`fu ck`). Each variant is checked against the common-word lists shipped in
//! this folder, so no variant is an ordinary word. Used by `compile` for rules at `strict` in
//! `word` mode.

use std::sync::LazyLock;

use super::compounds::is_segment_word;
use super::normalize::{Level, is_word_char, leet_char, normalize_keyword};

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
/// Shortest piece of a split keyword: one letter (`fuc k`, `b itch`). The guard below still
/// refuses a split whose pieces are both words, and `a` and `i` count as words there.
const SPLIT_MIN_PART: usize = 1;

/// Common English words and names as `strict` writes them, sorted
/// (`scripts/gen_common_words.py`, from SCOWL): a variant that is one of them, or a split into two
/// of them, would hit ordinary messages.
static COMMON_WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| word_list(include_str!("common_words.txt")));
/// Abbreviations of three letters or more, likewise: a shortened keyword is often an acronym
/// (`scm` from `scum`). Not used for the pieces of a split, which two-letter abbreviations would
/// veto wholesale (`ck`, `nt`).
static COMMON_ABBREVIATIONS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| word_list(include_str!("common_abbreviations.txt")));

/// Common words that strict's collapsing makes from other words (`as` from `ass`), sorted
/// (`scripts/gen_collapse_targets.py`): `inflight check` warns about a keyword that becomes one.
static COLLAPSE_TARGETS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| word_list(include_str!("collapse_targets.txt")));

/// Whether `word` is a common word that strict's collapsing can make out of another word.
pub fn is_collapse_target(word: &str) -> bool {
    COLLAPSE_TARGETS.binary_search(&word).is_ok()
}

fn word_list(text: &'static str) -> Vec<&'static str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// Whether `word` (normalized at `strict`) is a common English word or name: the list, plus
/// the one-letter words `a` and `i`.
pub fn is_common_word(word: &str) -> bool {
    matches!(word, "a" | "i") || COMMON_WORDS.binary_search(&word).is_ok()
}

/// A whole variant is refused when it is a common word, a common abbreviation, or any other
/// word of the OS word list (`compounds::is_segment_word`: `diked` would otherwise be `dicked`
/// spelled `dik`).
fn is_common(variant: &str) -> bool {
    is_common_word(variant) || COMMON_ABBREVIATIONS.binary_search(&variant).is_ok() || is_segment_word(variant)
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

    for variant in phonetic_spellings(&letters) {
        let variant = normalize_keyword(Level::Strict, &variant);
        if variant.chars().count() >= VARIANT_MIN_LEN && !is_common(&variant) {
            push(variant, false);
        }
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

/// Shortest keyword a masked word can stand for: `s**t` fits too many short words.
const MASKED_MIN_LETTERS: usize = 4;

/// Whether a masked word's shape (`f??k`) fits a keyword's letters: same length, and every
/// visible letter where the keyword has it.
pub fn masked_fits(shape: &str, letters: &[char]) -> bool {
    shape.chars().count() == letters.len() && shape.chars().zip(letters).all(|(s, &k)| s == '?' || s == k)
}

/// A keyword's letters for `masked_fits`: `standard` form with leetspeak undone, or `None` when
/// it is not a single word of `MASKED_MIN_LETTERS` letters or more.
pub fn masked_letters(keyword: &str) -> Option<Vec<char>> {
    let standard = normalize_keyword(Level::Standard, keyword);
    let letters: Vec<char> = standard.chars().map(leet_char).collect();
    (letters.len() >= MASKED_MIN_LETTERS && letters.iter().all(|c| c.is_alphabetic())).then_some(letters)
}

/// Sound-alike respellings of a keyword (strict letters), each rule applied everywhere it fits,
/// in every combination: `f` → `ph` (`phuck`), `ph` → `f`, `ck` → `k` (`fuk`, `dik`), a final
/// `ck` → `q` (`fuq`), a hard `c` → `k` (`kunt`, `kok`), `s` → `z` (`azzhole`, `titz`), a final
/// `er` → `a` (`wanka`, `fucka`), `i` → `ia` and `io` before `tch` (`biatch`, `biotch`), `qu` →
/// `kw`. Chosen over folding the text (`ph` → `f` in every message) because a fold changes
/// what every strict rule and regex reads and conflates ordinary words (`phase`/`fase`,
/// `kick`/`kik`); a variant only adds a pattern, checked against the common-word lists.
fn phonetic_spellings(letters: &[char]) -> Vec<String> {
    let word: String = letters.iter().collect();
    let rules: [fn(&str) -> Option<String>; 9] = [
        |w| w.contains('f').then(|| w.replace('f', "ph")),
        |w| w.contains("ph").then(|| w.replace("ph", "f")),
        |w| w.contains("ck").then(|| w.replace("ck", "k")),
        |w| w.strip_suffix("ck").map(|stem| format!("{stem}q")),
        |w| hard_c_as_k(w),
        |w| w.contains('s').then(|| w.replace('s', "z")),
        |w| w.strip_suffix("er").map(|stem| format!("{stem}a")),
        |w| w.contains("itch").then(|| w.replace("itch", "iatch")),
        |w| w.contains("qu").then(|| w.replace("qu", "kw")),
    ];
    let mut out: Vec<String> = vec![word.clone()];
    for rule in rules {
        let more: Vec<String> = out.iter().filter_map(|w| rule(w)).collect();
        out.extend(more);
    }
    if word.contains("itch") {
        out.push(word.replace("itch", "iotch"));
    }
    out.retain(|w| *w != word);
    out.sort();
    out.dedup();
    out
}

/// `c` written `k` where it sounds so: before `a`, `o`, `u`, a consonant or at the end.
fn hard_c_as_k(word: &str) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut changed = false;
    let out: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let next = chars.get(i + 1).copied();
            let hard = c == 'c' && !matches!(next, Some('e' | 'i' | 'y' | 'h' | 'k'));
            changed |= hard;
            if hard { 'k' } else { c }
        })
        .collect();
    changed.then_some(out)
}

/// The regular English inflections of a single-word keyword, as written (not normalized):
/// plural (`bitches`, `pussies`), `-ed`, `-ing`, `-in` (`fuckin`), `-er`, `-ers` and `-y`, with a
/// final `e` dropped (`whoring`) and a final consonant doubled after one vowel (`shitty`,
/// `shitting`). The possessive needs no form: an apostrophe is a word boundary (`bitch's`).
///
/// Guarded like the variants: a form other than the plural that is a common English word is
/// not made (`cock` gives no `cocky`, `cocked` or `cocking`), since it usually means something
/// else; a plural is as innocent or as rude as its singular (`cocks`, `bitches`), unless the
/// keyword itself collapses into a common word and its plural does too (`ass` → `as`, `asses` →
/// `ases`, the word `assess`). Only letters
/// `a`–`z`, three or more; multi-word keywords get none.
pub fn english_forms(keyword: &str) -> Vec<String> {
    let word = keyword.trim().to_lowercase();
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return Vec::new();
    }
    let is_vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    let bytes = word.as_bytes();
    let last = bytes.last().copied().unwrap_or(b'a');
    let before_last = bytes.len().checked_sub(2).and_then(|i| bytes.get(i)).copied().unwrap_or(b'a');
    let consonant_y = last == b'y' && !is_vowel(before_last);
    // Every character is ASCII, so dropping the last byte keeps a valid string.
    let head = word.get(..word.len() - 1).unwrap_or_default();
    let plural = if word.ends_with(['s', 'x', 'z']) || word.ends_with("sh") || word.ends_with("ch") {
        format!("{word}es")
    } else if consonant_y {
        format!("{head}ies")
    } else {
        format!("{word}s")
    };
    // The stem a suffix starting with a vowel attaches to.
    let third_last = bytes.len().checked_sub(3).and_then(|i| bytes.get(i)).copied().unwrap_or(b'a');
    let doubles =
        !is_vowel(last) && !matches!(last, b'w' | b'x' | b'y') && is_vowel(before_last) && !is_vowel(third_last);
    let stem = if last == b'e' && before_last != b'e' {
        head.to_owned()
    } else if doubles {
        format!("{word}{}", char::from(last))
    } else {
        word.clone()
    };
    // Even the plural is refused for a keyword that strict already collapses into a common word
    // (`ass` → `as`), when the plural collapses into one too (`asses` → `ases`, also `assess`).
    let collapsed = normalize_keyword(Level::Strict, &plural);
    let keyword_collides = is_collapse_target(&normalize_keyword(Level::Strict, &word));
    let refused = keyword_collides && collapsed != plural && is_common_word(&collapsed);
    let mut out = if refused { Vec::new() } else { vec![plural] };
    let y_stem = if consonant_y { format!("{head}i") } else { stem.clone() };
    for form in [
        format!("{y_stem}ed"),
        format!("{stem}ing"),
        format!("{stem}in"),
        format!("{y_stem}er"),
        format!("{y_stem}ers"),
        format!("{stem}y"),
    ] {
        if !is_common_word(&normalize_keyword(Level::Strict, &form)) && !out.contains(&form) {
            out.push(form);
        }
    }
    out.retain(|f| *f != word);
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
        // A shortened form keeps three characters.
        assert!(!has("cock", "ck"));
    }

    /// One-letter pieces are split off (issue 15: `fuc k`, `b itch`), unless both pieces are
    /// words, `a` and `i` included (`a nal` would be refused, so would `sh it`).
    #[test]
    fn one_letter_pieces_unless_both_pieces_are_words() {
        assert!(has("fuck", "f uck") && has("fuck", "fuc k") && has("bitch", "b itch"));
        assert!(!has("shit", "sh it") && !has("whore", "who re"));
    }

    #[test]
    fn phonetic_spellings_and_english_forms() {
        for (keyword, variant) in [
            ("fuck", "phuck"),
            ("fuck", "fuk"),
            ("fuck", "phuk"),
            ("fuck", "fuq"),
            ("cunt", "kunt"),
            ("bitch", "biatch"),
            ("wanker", "wanka"),
            ("asshole", "azhole"),
        ] {
            assert!(has(keyword, variant), "{keyword} → {variant}: {:?}", strict_variants(keyword));
        }
        let forms = |k: &str| english_forms(k);
        assert_eq!(forms("shit"), ["shits", "shitted", "shitting", "shittin", "shitter", "shitters", "shitty"]);
        assert!(forms("bitch").contains(&"bitches".to_owned()) && forms("pussy").contains(&"pussies".to_owned()));
        assert!(forms("whore").contains(&"whoring".to_owned()));
        // Guarded: forms that are other common words are not made; plurals always are.
        let cock = forms("cock");
        assert!(
            cock.contains(&"cocks".to_owned())
                && !cock.iter().any(|f| ["cocky", "cocked", "cocking"].contains(&f.as_str()))
        );
        assert!(!forms("ass").contains(&"assess".to_owned()) && !forms("ass").contains(&"asses".to_owned()));
        assert!(forms("free money").is_empty() && forms("été").is_empty());
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
