//! Extra patterns of a `strict` word-mode keyword, for the evasions strict normalization alone
//! cannot undo: self-censoring (`f*ck` → `fck`), extra leetspeak, a vowel written as `v` for `u`,
//! and one split (`fu ck`). Each variant is checked against the common-word lists shipped in
//! this folder, so no variant is an ordinary word. Used by `compile` for rules at `strict` in
//! `word` mode.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::compounds::is_segment_word;
use super::normalize::{
    Level, MaskedWord, Normalized, is_edge_letter_symbol, is_word_char, leet_char, normalize_keyword,
};

/// One extra pattern of a `strict` keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictVariant {
    /// The pattern, normalized at `strict`.
    pub text: String,
    /// A shortened form that also shortens a common word (`sht`: `shot`, `shut`; `cnt`:
    /// "can't"): it counts only where strict removed a symbol inside the hit (`sh*t`), since the
    /// same letters typed plainly are ordinary shorthand.
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

/// `chars` (a keyword's strict letters, or its `v` form) with one inner vowel left out, and with
/// every inner vowel left out (`mthrfckr`, as people type it plainly), normalized at `strict`:
/// those of `VARIANT_MIN_LEN` characters or more that are no common word, each with whether it
/// is censored-only (`shortens_a_frequent_word` of `keyword`).
fn shortened_forms(chars: &[char], keyword: &str) -> Vec<(String, bool)> {
    let inner = 1..chars.len().saturating_sub(1);
    let mut forms: Vec<Vec<char>> = Vec::new();
    for i in inner.clone().filter(|&i| chars.get(i).is_some_and(|&c| is_vowel(c))) {
        let mut without = chars.to_vec();
        without.remove(i);
        forms.push(without);
    }
    forms.push(
        chars.iter().enumerate().filter(|&(i, &c)| !(inner.contains(&i) && is_vowel(c))).map(|(_, &c)| c).collect(),
    );
    forms
        .iter()
        .map(|form| normalize_keyword(Level::Strict, &form.iter().collect::<String>()))
        .filter(|variant| variant.chars().count() >= VARIANT_MIN_LEN && !is_common(variant))
        .map(|variant| {
            let censored = shortens_a_frequent_word(&variant, keyword);
            (variant, censored)
        })
        .collect()
}

/// The most frequent English words (SCOWL sizes 10 and 20, `scripts/gen_common_words.py`) by
/// `skeleton`, for `shortens_a_frequent_word`: the words chat shortens by leaving vowels out.
static FREQUENT_BY_SKELETON: LazyLock<HashMap<String, Vec<&'static str>>> = LazyLock::new(|| {
    let mut map: HashMap<String, Vec<&'static str>> = HashMap::new();
    for word in word_list(include_str!("frequent_words.txt")) {
        map.entry(skeleton(word)).or_default().push(word);
    }
    map
});

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// A word without its inner vowels (`shit` → `sht`, `where` → `whre`): the first and last
/// characters stay. Two words one of which shortens the other have the same skeleton.
fn skeleton(word: &str) -> String {
    let count = word.chars().count();
    word.chars().enumerate().filter(|&(i, c)| i == 0 || i + 1 == count || !is_vowel(c)).map(|(_, c)| c).collect()
}

/// Whether `short` is `word` with some inner vowels left out (`whre` of `where`).
fn shortens(short: &str, word: &str) -> bool {
    let count = word.chars().count();
    let mut want = short.chars().peekable();
    for (i, c) in word.chars().enumerate() {
        if want.peek() == Some(&c) {
            want.next();
        } else if i == 0 || i + 1 == count || !is_vowel(c) {
            return false;
        }
    }
    want.next().is_none()
}

/// Whether a keyword with inner vowels left out (`variant`) is also a frequent word other than
/// `keyword` with inner vowels left out: `sht` is `shot` or `shut` as much as `shit`, `cnt` is
/// `count` or "can't", `whre` "where". Such a variant is kept for censored text only (`sh*t`);
/// the others (`fck`, `mthrfckr`, `dckhd`) stand for nothing else people shorten and count typed
/// plainly. Only the most frequent words are asked: a rarer word (`posy`, `jacks`, `bestrid`) is
/// not what a plain `pssy`, `jckss` or `bstrd` in chat is short for.
fn shortens_a_frequent_word(variant: &str, keyword: &str) -> bool {
    FREQUENT_BY_SKELETON
        .get(&skeleton(variant))
        .is_some_and(|words| words.iter().any(|&w| w != keyword && shortens(variant, w)))
}

/// The extra patterns a `match = "word"` keyword gets at `strict`, already normalized at `strict`,
/// without the keyword's own form and without repeats. They undo evasions that strict
/// normalization cannot undo in the text, because what was removed or changed there is gone:
///
/// - **A vowel left out** (each interior `a e i o u`, one at a time): strict removes punctuation
///   inside a word, so a starred-out or symbol-written vowel (`f*ck`, `sh!t`, `b|tch`,
///   `w^nker`) arrives as `fck`, `sht`, `btch`, `wnker`; and **every inner vowel left out**
///   (`mthrfckr`, `dckhd`). A shortened form that also shortens another common word (`sht`:
///   `shot`; `cnt`: `count`; `whre`: `where`, frequent words) counts only where strict removed a symbol inside
///   it (`StrictVariant::censored`); the others count typed plainly too (`fck`, `bstrd`).
/// - **`u` written `v`** (`fvck`, `pvssy`), and that form with a vowel left out (`dvmb*ss`).
/// - **An edge vowel starred** (`*sshole`, `whor*`) and **a leading `c` written `(`** (`(unt`):
///   strict keeps punctuation at a word's edge, so these patterns keep the symbol and only
///   match where it is written.
/// - **Split once** by a space (`fu ck`, `bit ch`, `mother fucker`), at every point
///   (`split_variants`); the matcher reads a spaced dash or full stop as that space (`bi - tch`).
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
    if normalized.contains(' ') {
        return phrase_variants(keyword);
    }
    if letters.len() < VARIANT_MIN_KEYWORD || !letters.iter().all(|&c| is_word_char(c)) {
        return Vec::new();
    }
    let mut out: Vec<StrictVariant> = Vec::new();
    let mut push = |text: String, censored: bool| {
        if text != normalized && !out.iter().any(|v| v.text == text) {
            out.push(StrictVariant { text, censored });
        }
    };
    let again = |chars: &[char]| normalize_keyword(Level::Strict, &chars.iter().collect::<String>());
    let mut forms = vec![letters.clone()];
    if letters.contains(&'u') {
        let v_form: Vec<char> = letters.iter().map(|&c| if c == 'u' { 'v' } else { c }).collect();
        let variant = again(&v_form);
        if !is_common(&variant) {
            push(variant, false);
        }
        forms.push(v_form);
    }
    for (variant, censored) in forms.iter().flat_map(|form| shortened_forms(form, &normalized)) {
        push(variant, censored);
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

    for variant in split_variants(keyword, &letters) {
        push(variant, false);
    }
    out
}

/// The variants of a keyword of several words (`kill yourself`, `piss off`): one word with a
/// vowel starred out, censored (`kill y*urself`, `p*ss off`: strict removes the star, so they
/// count only where it removed one), or with a vowel at its edge starred, which strict keeps
/// (`piss *ff`). The other words give the context a lone shortened word lacks, so a word of three
/// letters is shortened too (`pss` in `p*ss off`); and for two words, splits (`two_word_splits`).
/// No sound-alikes or plain shortenings: phrases are rarely respelled word by word.
fn phrase_variants(keyword: &str) -> Vec<StrictVariant> {
    let standard = normalize_keyword(Level::Standard, keyword);
    let words: Vec<Vec<char>> = standard.split(' ').map(|w| w.chars().collect()).collect();
    if words.iter().any(|w| !w.iter().all(|&c| is_word_char(c))) {
        return Vec::new();
    }
    let own = normalize_keyword(Level::Strict, keyword);
    let mut out: Vec<StrictVariant> = Vec::new();
    for (i, word) in words.iter().enumerate().filter(|(_, w)| w.len() >= 3) {
        let mut changed: Vec<(Vec<char>, bool)> = Vec::new();
        for j in (1..word.len() - 1).filter(|&j| word.get(j).is_some_and(|&c| is_vowel(c))) {
            let mut without = word.clone();
            without.remove(j);
            changed.push((without, true));
        }
        for j in [0, word.len() - 1].into_iter().filter(|&j| word.get(j).is_some_and(|&c| is_vowel(c))) {
            let mut starred = word.clone();
            if let Some(c) = starred.get_mut(j) {
                *c = '*';
            }
            changed.push((starred, false));
        }
        for (new_word, censored) in changed {
            let phrase: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(k, w)| if k == i { new_word.iter().collect() } else { w.iter().collect() })
                .collect();
            let text = normalize_keyword(Level::Strict, &phrase.join(" "));
            if text != own && !out.iter().any(|v| v.text == text) {
                out.push(StrictVariant { text, censored });
            }
        }
    }
    for text in two_word_splits(&words) {
        if text != own && !out.iter().any(|v| v.text == text) {
            out.push(StrictVariant { text, censored: false });
        }
    }
    out
}

/// A keyword of two words with one or both words split once (`kil l yourself`, `ki ll y
/// ourself`, `p iss o ff`; the matcher also reads a spaced dash or full stop for a split's
/// space), each split as `split_variants` makes it (not both pieces words: `your self` is
/// refused). Only two words: the variants multiply with every word split.
fn two_word_splits(words: &[Vec<char>]) -> Vec<String> {
    let [first, second] = words else { return Vec::new() };
    let options = |word: &Vec<char>| {
        let word: String = word.iter().collect();
        let strict = normalize_keyword(Level::Strict, &word);
        let letters: Vec<char> = strict.chars().collect();
        std::iter::once(strict).chain(split_variants(&word, &letters)).collect::<Vec<String>>()
    };
    let (a, b) = (options(first), options(second));
    // The first pair is the phrase as written.
    a.iter()
        .flat_map(|x| b.iter().map(move |y| normalize_keyword(Level::Strict, &format!("{x} {y}"))))
        .skip(1)
        .collect()
}

/// A keyword split once by a space (`fu ck`, `bi tch`, `dick head`), normalized at `strict`,
/// unless both pieces are common words (`as hole`, `who re`). The split is made before repeated
/// letters collapse when the keyword is a plain word (`pus sy`). The matcher also reads a spaced
/// dash or a full stop for the space (`bi - tch`, `dick. head`).
fn split_variants(keyword: &str, letters: &[char]) -> Vec<String> {
    let standard = normalize_keyword(Level::Standard, keyword);
    let base: Vec<char> =
        if standard.chars().all(is_word_char) { standard.chars().collect() } else { letters.to_vec() };
    let mut out = Vec::new();
    for k in 1..base.len() {
        let (left, right) = base.split_at(k);
        let (left, right): (String, String) = (left.iter().collect(), right.iter().collect());
        let variant = normalize_keyword(Level::Strict, &format!("{left} {right}"));
        let Some((a, b)) = variant.split_once(' ') else { continue };
        let long_enough = a.chars().count() >= SPLIT_MIN_PART && b.chars().count() >= SPLIT_MIN_PART;
        if !long_enough || b.contains(' ') || (is_common_word(a) && is_common_word(b)) {
            continue;
        }
        out.push(variant);
    }
    out
}

/// Shortest keyword a masked word can stand for: `s**t` fits too many short words.
const MASKED_MIN_LETTERS: usize = 4;

/// Whether a masked word's shape (`f??k`, `d|(k`, `s|v+`) fits a keyword's letters: same
/// length, and every visible letter where the keyword has it. A `?` hides any letter; the
/// symbols strict keeps in a shape stand for one letter each (`|` for `i` or `l`, `(` for `c`,
/// `^` for `a`, at an edge `+` for `t` and `!` for `i`), and `v` may be a `u` (`fvck`).
pub fn masked_fits(shape: &str, letters: &[char]) -> bool {
    let fits = |s: char, k: char| {
        s == '?'
            || s == k
            || matches!((s, k), ('|' | '!', 'i') | ('|', 'l') | ('(', 'c') | ('^', 'a') | ('+', 't') | ('v', 'u'))
    };
    shape.chars().count() == letters.len() && shape.chars().zip(letters).all(|(s, &k)| fits(s, k))
}

/// Whether a masked word is an ordinary word with a symbol at its edge and nothing removed inside
/// (`(rap`, `hot+`): the symbol is punctuation there, not a letter (`(unt` and `slu+` are no
/// words), so the word stands for no keyword.
pub fn punctuation_beside_a_word(normalized: &Normalized, word: &MaskedWord) -> bool {
    let Some(text) = normalized.text().get(word.start..word.end) else { return false };
    let letters = text.trim_matches(|c| is_edge_letter_symbol(c) || c == '!');
    letters.len() != text.len()
        && letters.len() >= 3
        && !normalized.removed_inside(word.start, word.end)
        && is_common_word(letters)
}

/// A keyword of several words as masked words may spell it (`k!|l yovrse|f`, `k||| yourse|f`):
/// each word's letters for `masked_fits`, and each word as `strict` writes it, for the words
/// typed plainly between them. `None` for a single word or one with other characters.
pub fn masked_phrase(keyword: &str) -> Option<Vec<(Vec<char>, String)>> {
    let standard = normalize_keyword(Level::Standard, keyword);
    let words: Vec<(Vec<char>, String)> = standard
        .split(' ')
        .map(|w| (w.chars().map(leet_char).collect::<Vec<char>>(), normalize_keyword(Level::Strict, w)))
        .collect();
    let letters_only = words.iter().all(|(l, _)| !l.is_empty() && l.iter().all(|c| c.is_alphabetic()));
    (words.len() > 1 && letters_only).then_some(words)
}

/// Where the phrase `words` (`masked_phrase`) stands in the text with `masked[anchor]` as its
/// first masked word: the words before it typed plainly, the ones after it plain or masked, one
/// space between each. The span in the normalized text, or `None`.
pub fn masked_phrase_at(
    normalized: &Normalized,
    masked: &[MaskedWord],
    anchor: usize,
    words: &[(Vec<char>, String)],
) -> Option<(usize, usize)> {
    let text = normalized.text();
    let first = masked.get(anchor)?;
    let is_word_end = |at: usize| !text.get(at..).and_then(|r| r.chars().next()).is_some_and(is_word_char);
    let is_word_start = |at: usize| !text.get(..at).and_then(|r| r.chars().next_back()).is_some_and(is_word_char);
    'anchor: for j in (0..words.len()).filter(|&j| words.get(j).is_some_and(|(l, _)| masked_fits(&first.shape, l))) {
        // Before the anchor: plain words only, so each hit has one anchor.
        let mut start = first.start;
        for (_, plain) in words.iter().take(j).rev() {
            let Some(before) = start.checked_sub(plain.len() + 1) else { continue 'anchor };
            let typed = text.get(before..start).and_then(|t| t.strip_suffix(' '));
            if typed != Some(plain.as_str()) || !is_word_start(before) {
                continue 'anchor;
            }
            start = before;
        }
        let mut end = first.end;
        for (letters, plain) in words.iter().skip(j + 1) {
            if text.get(end..end + 1) != Some(" ") {
                continue 'anchor;
            }
            let next = end + 1;
            let masked_next = masked.iter().find(|m| m.start == next && masked_fits(&m.shape, letters));
            end = match masked_next {
                Some(m) => m.end,
                None if text.get(next..).is_some_and(|r| r.starts_with(plain.as_str()))
                    && is_word_end(next + plain.len()) =>
                {
                    next + plain.len()
                }
                None => continue 'anchor,
            };
        }
        return Some((start, end));
    }
    None
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
            ("dickhead", "dick head"),
            ("bitch", "b itch"),
            ("motherfucker", "mother fucker"),
            ("B1TCH", "btch"),
            ("Ｆｕｃｋ", "fck"),
        ];
        let missing: Vec<_> = cases.iter().filter(|(k, v)| !has(k, v)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// Issue 15: a phrase gets one word with a vowel starred, censored unless the star stays.
    #[test]
    fn a_phrase_gets_one_starred_vowel_per_variant() {
        let variants = strict_variants("piss off");
        let find = |text: &str| variants.iter().find(|v| v.text == text).map(|v| v.censored);
        assert_eq!(find("ps of"), Some(true)); // p*ss off
        assert_eq!(find("pis *f"), Some(false)); // piss *ff
        let kys = strict_variants("kill yourself");
        assert!(kys.iter().any(|v| v.text == "kil yurself" && v.censored), "{kys:?}");
        assert!(kys.iter().any(|v| v.text == "kil yourslf" && v.censored), "{kys:?}");
        // Splits of one or both words (two words only), unless both pieces are words.
        let plain = |vs: &[StrictVariant], t: &str| vs.iter().any(|v| v.text == t && !v.censored);
        assert!(plain(&kys, "ki l y ourself") && plain(&kys, "kil l you rself") && plain(&variants, "p is o f"));
        assert!(!kys.iter().any(|v| v.text == "kil your self"), "{kys:?}");
        // Nothing else typed plainly: no sound-alike, no plain shortening; a split differs from
        // the phrase in its spaces only (and in a letter doubled across a cut: `of f`).
        fn split_or_marked(v: &StrictVariant, own: &str) -> bool {
            let joined = |t: &str| normalize_keyword(Level::Strict, &t.replace(' ', ""));
            v.censored || v.text.contains('*') || joined(&v.text) == joined(own)
        }
        assert!(variants.iter().all(|v| split_or_marked(v, "pis of")), "{variants:?}");
        assert!(kys.iter().all(|v| split_or_marked(v, "kil yourself")), "{kys:?}");
        assert!(strict_variants("double your bitcoin").iter().all(|v| v.censored || v.text.contains('*')));
    }

    /// Issue 15, `vowels_dropped`: a plainly typed shortening counts unless a common word
    /// shortens to it as well (`sht`: `shot`; `cnt`: `count`; `whre`: `where`; `rtrd`: `retired`).
    #[test]
    fn a_shortening_no_common_word_shares_counts_typed_plainly() {
        let censored = |keyword: &str, variant: &str| {
            strict_variants(keyword).iter().find(|v| v.text == variant).map(|v| v.censored)
        };
        for (keyword, variant) in [
            ("fuck", "fck"),
            ("motherfucker", "mthrfckr"),
            ("dickhead", "dckhd"),
            ("bastard", "bstrd"),
            ("pussy", "psy"),
        ] {
            assert_eq!(censored(keyword, variant), Some(false), "{keyword} → {variant}");
        }
        for (keyword, variant) in
            [("shit", "sht"), ("cunt", "cnt"), ("whore", "whre"), ("bitch", "btch"), ("retard", "rtrd")]
        {
            assert_eq!(censored(keyword, variant), Some(true), "{keyword} → {variant}");
        }
        assert!(shortens("whre", "where") && !shortens("whre", "whorl") && !shortens("wher", "where"));
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
    fn short_and_symbol_keywords_get_none() {
        for keyword in ["ass", "cum", "free", "c++", "(ok)", "a.b", "c++ code"] {
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
