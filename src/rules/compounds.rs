//! Words glued together inside a hashtag or handle (`#fuckthis`, `@bitchface`): whether a
//! keyword found inside one counts as a word of it. Used by the matcher at `strict`, in `word`
//! mode, only for a keyword hit that is not already a whole word and that lies inside the word
//! part of a hashtag or handle (`Normalized::compound_around`), so ordinary messages never get
//! here.
//!
//! Explicit boundaries (camel case `ShitShow`, snake case `bitch_face`, a number `fuck2025`)
//! are word boundaries of their own (`normalize.rs`, "Compounds"). What is left is a lower-case
//! run such as `fuckthis` or `therapistfinder`; such a run counts as holding the keyword only
//! when **every best** way of cutting it into dictionary words has the keyword as whole words
//! (itself, or words that make it up: `douche bag` for `douchebag`, `as hole` for `asshole`).
//! A reading costs one per word, two per rarer word (one only the OS word list has: `reface`,
//! `asst`); the best readings are those of the lowest cost, so fewer words win and a rare word
//! does not make a reading of its own:
//!
//! - `fuckthis` → `fuck this` only: counts.
//! - `whoreface` → `whore face` (2) beats `who reface` (3): counts; `dumbassthis` (`dumbasthis`
//!   once collapsed) → `dumbas this` (2) beats `dumb as this` (3): counts.
//! - `therapistfinder` → `therapist finder` (2) beats `the rapist finder` (3): does not count.
//! - `expertsexchange` → `experts exchange` (2) beats `expert sex change` (3): does not count.
//! - `shitshow` → `shit show` or `shits how`, equally good: does not count.
//! - a run that cannot be cut into words at all does not count either.
//!
//! The dictionary is the common-word list (`variants::is_common_word`), the rest of the OS word
//! list (`segment_words.txt`: `shuttlecock`, `retardant`; rare words), and the level's own
//! keywords and forms (common) and their variants (rare: `shita` from `shitter` must not make
//! `#shiitakerisotto` read `shita keri soto`), so a keyword glued to another keyword still
//! splits. Words of one or two letters come from a short list of real ones (`SHORT_WORDS`).

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

/// What one word costs a reading: a common word, a keyword or a real one- or two-letter word
/// costs 1; a rarer word of the OS list costs 2, so a reading that needs one (`who reface`,
/// `dumb asst his`) never beats a reading in common words with as many words, and a reading with
/// fewer words beats one with more (`therapist finder` over `the rapist finder`).
pub const COMMON_COST: u32 = 1;
/// What a rarer word costs a reading (`COMMON_COST`).
pub const RARE_COST: u32 = 2;

/// Whether every best reading of `run` (a segmentation into words of the lowest total cost, see
/// `COMMON_COST`) cuts it at `start` and at `end` (byte offsets into `run`), so that the keyword
/// there is made of whole words of it (`douche bag` holds `douchebag`), and there is a reading.
/// `word_cost` prices the caller's words (the common words and the keywords at `COMMON_COST`,
/// keyword variants such as `shita` at `RARE_COST`); `segment_words.txt` adds the rarer words.
pub fn every_segmentation_has(run: &str, start: usize, end: usize, word_cost: &dyn Fn(&str) -> Option<u32>) -> bool {
    if run.len() > MAX_RUN || !run.is_ascii() || start >= end || end > run.len() {
        return false;
    }
    let cost = |w: &str| match w.len() {
        0..=2 => SHORT_WORDS.contains(&w).then_some(COMMON_COST),
        _ => word_cost(w).or_else(|| is_segment_word(w).then_some(RARE_COST)),
    };
    let best = |text: &str| best_readings(text, &cost);
    let (Some(head), Some(middle), Some(tail)) = (run.get(..start), run.get(start..end), run.get(end..)) else {
        return false;
    };
    let (Some(total), Some(head), Some(middle), Some(tail)) = (best(run), best(head), best(middle), best(tail)) else {
        return false;
    };
    let through = head.count.saturating_mul(middle.count).saturating_mul(tail.count);
    head.cost + middle.cost + tail.cost == total.cost && total.count < u64::MAX && through == total.count
}

/// The lowest cost of a reading and how many readings have it (saturating).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Best {
    cost: u32,
    count: u64,
}

/// The best readings of `text` (cost 0, one reading for the empty text), or `None` when it
/// cannot be cut into words.
fn best_readings(text: &str, cost: &dyn Fn(&str) -> Option<u32>) -> Option<Best> {
    // best[j]: the best readings of text[..j].
    let mut best: Vec<Option<Best>> = vec![None; text.len() + 1];
    if let Some(first) = best.first_mut() {
        *first = Some(Best { cost: 0, count: 1 });
    }
    for j in 1..=text.len() {
        let mut here: Option<Best> = None;
        for i in 0..j {
            let (Some(Some(before)), Some(word)) = (best.get(i).copied(), text.get(i..j).and_then(cost)) else {
                continue;
            };
            let reading = Best { cost: before.cost + word, count: before.count };
            here = match here {
                Some(h) if h.cost < reading.cost => Some(h),
                Some(h) if h.cost == reading.cost => {
                    Some(Best { cost: h.cost, count: h.count.saturating_add(reading.count) })
                }
                _ => Some(reading),
            };
        }
        if let Some(slot) = best.get_mut(j) {
            *slot = here;
        }
    }
    best.last().copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::variants::is_common_word;

    fn check(run: &str, keyword: &str) -> bool {
        let start = run.find(keyword).unwrap();
        let keywords =
            ["fuck", "rapist", "sex", "shit", "shits", "cock", "douchebag", "ashole", "bitch", "whore", "dumbas"];
        let word_cost = |w: &str| {
            if is_common_word(w) || keywords.contains(&w) {
                Some(COMMON_COST)
            } else {
                // Variants of `shit` and `fuck` (`shitter` → `shita`).
                ["shita", "phuck"].contains(&w).then_some(RARE_COST)
            }
        };
        every_segmentation_has(run, start, start + keyword.len(), &word_cost)
    }

    /// Issue 15: the best readings decide (fewest words, common words before rare ones), so a
    /// reading through a rare word (`who reface`) no longer hides the keyword.
    #[test]
    fn a_keyword_counts_only_when_every_best_reading_has_it() {
        let cases = [
            ("fuckthis", "fuck", true),
            ("shitbitch", "bitch", true),
            ("shitshow", "shit", false),       // also `shits how`, as good a reading
            ("whoreface", "whore", true),      // `who reface` needs the rare `reface`
            ("dumbasthis", "dumbas", true),    // `dumb as this` has more words
            ("shitakerisoto", "shit", false),  // `shitake risoto`, `shit a keri soto`
            ("shitakerisoto", "shita", false), // a variant is no common word
            ("phuckthis", "phuck", true),
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
