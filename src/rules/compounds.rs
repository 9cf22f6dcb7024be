//! Words glued together inside a hashtag or handle (`#fuckthis`, `@bitchface`): whether a
//! keyword found inside one counts as a word of it. Used by the matcher at `strict`, in `word`
//! mode, only for a keyword hit that is not already a whole word and that lies inside the word
//! part of a hashtag or handle (`Normalized::compound_around`), so ordinary messages never get
//! here.
//!
//! Explicit boundaries (camel case `ShitShow`, snake case `bitch_face`, a number `fuck2025`)
//! are word boundaries of their own (`normalize.rs`, "Compounds"). What is left is a lower-case
//! run such as `fuckthis` or `therapistfinder`; such a run counts as holding the keyword only
//! when **every** way of cutting it into dictionary words has the keyword as whole words (itself,
//! or words that make it up: `douche bag` for `douchebag`, `as hole` for `asshole`):
//!
//! - `fuckthis` → `fuck this` only: counts.
//! - `therapistfinder` → `therapist finder` or `the rapist finder`: does not count.
//! - `expertsexchange` → `experts exchange` or `expert sex change`: does not count.
//! - a run that cannot be cut into words at all does not count either.
//!
//! The dictionary is the common-word list (`variants::is_common_word`), the rest of the OS word
//! list (`segment_words.txt`: `shuttlecock`, `retardant`), and the level's own keyword patterns,
//! so a keyword glued to another keyword (`#fuckshit`) still splits. Words of one or two letters
//! come from a short list of real ones (`SHORT_WORDS`).

/// The words of one or two letters a segmentation may use. The common-word list also holds
/// interjections, letters and names (`sh`, `ck`, `ed`), which would read `shitshow` as
/// `sh it show` and so hide every keyword.
const SHORT_WORDS: &[&str] = &[
    "a", "i", "am", "an", "as", "at", "be", "by", "do", "go", "he", "hi", "if", "in", "is", "it", "me", "my", "no",
    "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we",
];

/// The rest of the OS word list (`scripts/gen_collapse_targets.py`), sorted: rarer words that
/// hold a keyword (`shuttlecock`, `retardant`) must be readable as themselves.
static SEGMENT_WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    include_str!("segment_words.txt").lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
});

/// Whether `word` is in the extra segmentation dictionary (`SEGMENT_WORDS`).
pub fn is_segment_word(word: &str) -> bool {
    SEGMENT_WORDS.binary_search(&word).is_ok()
}

/// Longest run segmented, in bytes: beyond it the counts say little and the work grows.
const MAX_RUN: usize = 48;

/// Whether every segmentation of `run` into words (`is_word`, or for one or two letters
/// `SHORT_WORDS`) cuts it at `start` and at `end` (byte offsets into `run`), so that the
/// keyword there is made of whole words of every reading (`douche bag` holds `douchebag`), and
/// there is at least one segmentation.
pub fn every_segmentation_has(run: &str, start: usize, end: usize, is_word: &dyn Fn(&str) -> bool) -> bool {
    if run.len() > MAX_RUN || !run.is_ascii() || start >= end || end > run.len() {
        return false;
    }
    let word = |w: &str| if w.len() <= 2 { SHORT_WORDS.contains(&w) } else { is_word(w) || is_segment_word(w) };
    let counts = |text: &str| segmentations(text, &word);
    let (Some(head), Some(middle), Some(tail)) = (run.get(..start), run.get(start..end), run.get(end..)) else {
        return false;
    };
    let total = counts(run);
    let through = counts(head).saturating_mul(counts(middle).max(1)).saturating_mul(counts(tail));
    total > 0 && total < u64::MAX && through == total
}

/// How many ways `text` splits into words (1 for the empty text), saturating.
fn segmentations(text: &str, word: &dyn Fn(&str) -> bool) -> u64 {
    // ways[j]: segmentations of text[..j].
    let mut ways = vec![0u64; text.len() + 1];
    if let Some(first) = ways.first_mut() {
        *first = 1;
    }
    for j in 1..=text.len() {
        let count = (0..j)
            .filter(|&i| text.get(i..j).is_some_and(word))
            .map(|i| ways.get(i).copied().unwrap_or(0))
            .fold(0, u64::saturating_add);
        if let Some(slot) = ways.get_mut(j) {
            *slot = count;
        }
    }
    ways.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::variants::is_common_word;

    fn check(run: &str, keyword: &str) -> bool {
        let start = run.find(keyword).unwrap();
        let is_word = |w: &str| {
            is_common_word(w) || ["fuck", "rapist", "sex", "shit", "cock", "douchebag", "ashole", "bitch"].contains(&w)
        };
        every_segmentation_has(run, start, start + keyword.len(), &is_word)
    }

    #[test]
    fn a_keyword_counts_only_when_every_reading_has_it() {
        let cases = [
            ("fuckthis", "fuck", true),
            ("shitbitch", "bitch", true),
            ("shitshow", "shit", false), // also `shits how`
            ("therapistfinder", "rapist", false),
            ("expertsexchange", "sex", false),
            ("cockpit", "cock", false),
            ("cocktailhour", "cock", false),
            ("fuckxqzv", "fuck", false),
            ("douchebaglife", "douchebag", true),
            ("youashole", "ashole", true),
        ];
        for (run, keyword, want) in cases {
            assert_eq!(check(run, keyword), want, "{keyword} in {run}");
        }
    }
}
