//! Words glued together inside a hashtag or handle (`#fuckthis`, `@bitchface`): whether a
//! keyword found inside one counts as a word of it. Used by the matcher at `strict`, in `word`
//! mode, only for a keyword hit that is not already a whole word and that lies inside the word
//! part of a hashtag or handle (`Normalized::compound_around`), so ordinary messages never get
//! here.
//!
//! Explicit boundaries (camel case `ShitShow`, snake case `bitch_face`, a number `fuck2025`)
//! are word boundaries of their own (`normalize.rs`, "Compounds"). What is left is a lower-case
//! run such as `fuckthis` or `therapistfinder`; such a run counts as holding the keyword only
//! when **every** way of cutting it into dictionary words has the keyword as one of the words:
//!
//! - `fuckthis` → `fuck this` only: counts.
//! - `therapistfinder` → `therapist finder` or `the rapist finder`: does not count.
//! - `expertsexchange` → `experts exchange` or `expert sex change`: does not count.
//! - a run that cannot be cut into words at all does not count either.
//!
//! The dictionary is the common-word list (`variants::is_common_word`) plus the level's own
//! keyword patterns, so a keyword glued to another keyword (`#fuckshit`) still splits.

/// The words of one or two letters a segmentation may use. The common-word list also holds
/// interjections, letters and names (`sh`, `ck`, `ed`), which would read `shitshow` as
/// `sh it show` and so hide every keyword.
const SHORT_WORDS: &[&str] = &[
    "a", "i", "am", "an", "as", "at", "be", "by", "do", "go", "he", "hi", "if", "in", "is", "it", "me", "my", "no",
    "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we",
];

/// Longest run segmented, in bytes: beyond it the counts say little and the work grows.
const MAX_RUN: usize = 48;

/// Whether every segmentation of `run` into words (`is_word`, or for one or two letters
/// `SHORT_WORDS`) has a word exactly at
/// `[start, end)` (byte offsets into `run`), and there is at least one segmentation.
pub fn every_segmentation_has(run: &str, start: usize, end: usize, is_word: &dyn Fn(&str) -> bool) -> bool {
    if run.len() > MAX_RUN || !run.is_ascii() || start >= end || end > run.len() {
        return false;
    }
    let word = |w: &str| if w.len() <= 2 { SHORT_WORDS.contains(&w) } else { is_word(w) };
    let piece = |a: usize, b: usize| run.get(a..b).is_some_and(word);
    let n = run.len();
    // before[i]: segmentations of run[..i]; after[i]: of run[i..]. Saturating: only equality of
    // the two counts below matters, and runs are short.
    let mut before = vec![0u64; n + 1];
    let mut after = vec![0u64; n + 1];
    if let Some(first) = before.first_mut() {
        *first = 1;
    }
    if let Some(last) = after.last_mut() {
        *last = 1;
    }
    for j in 1..=n {
        let count =
            (0..j).filter(|&i| piece(i, j)).map(|i| before.get(i).copied().unwrap_or(0)).fold(0, u64::saturating_add);
        if let Some(slot) = before.get_mut(j) {
            *slot = count;
        }
    }
    for i in (0..n).rev() {
        let count = (i + 1..=n)
            .filter(|&j| piece(i, j))
            .map(|j| after.get(j).copied().unwrap_or(0))
            .fold(0, u64::saturating_add);
        if let Some(slot) = after.get_mut(i) {
            *slot = count;
        }
    }
    let total = before.get(n).copied().unwrap_or(0);
    let through = before.get(start).copied().unwrap_or(0).saturating_mul(after.get(end).copied().unwrap_or(0));
    total > 0 && total < u64::MAX && piece(start, end) && through == total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::variants::is_common_word;

    fn check(run: &str, keyword: &str) -> bool {
        let start = run.find(keyword).unwrap();
        let is_word = |w: &str| is_common_word(w) || ["fuck", "rapist", "sex", "shit", "cock"].contains(&w);
        every_segmentation_has(run, start, start + keyword.len(), &is_word)
    }

    #[test]
    fn a_keyword_counts_only_when_every_reading_has_it() {
        let cases = [
            ("fuckthis", "fuck", true),
            ("fuckshit", "shit", true),
            ("shitshow", "shit", true),
            ("therapistfinder", "rapist", false),
            ("expertsexchange", "sex", false),
            ("cockpit", "cock", false),
            ("cocktailhour", "cock", false),
            ("fuckxqzv", "fuck", false),
        ];
        for (run, keyword, want) in cases {
            assert_eq!(check(run, keyword), want, "{keyword} in {run}");
        }
    }
}
