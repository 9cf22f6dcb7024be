//! Near-duplicate texts for `repeat = { similar = … }` below 1.0: MinHash signatures of the sets of
//! character 5-grams.
//!
//! The contract's measure is the Jaccard index of the two texts' 5-gram sets (after the rule's
//! normalization). Comparing sets costs memory and time per stored text; a MinHash signature of
//! [`SLOTS`] slots estimates it: the share of slots on which two signatures agree is an unbiased
//! estimate of the index, with a standard deviation of `sqrt(J(1-J)/64)`, at most 0.0625
//! (J = 0.5), and 0.04 at J = 0.9. Each slot keeps the 16 low bits of its minimum (b-bit
//! MinHash), so two different minima agree by chance once in 65,536: a negligible bias. The
//! test below measures the error on generated pairs.

/// Slots per signature.
pub const SLOTS: usize = 64;
/// Characters per gram.
pub const GRAM: usize = 5;

/// A text's MinHash signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature(pub [u16; SLOTS]);

impl Signature {
    /// The signature of `text`'s character 5-grams (a text shorter than 5 characters is one gram).
    pub fn of(text: &str) -> Signature {
        let mut mins = [u64::MAX; SLOTS];
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        let grams = starts.len().saturating_sub(GRAM).max(1);
        for g in 0..grams {
            let from = starts.get(g).copied().unwrap_or(0);
            let to = starts.get(g + GRAM).copied().unwrap_or(text.len());
            let h = mix(fnv(text.get(from..to).unwrap_or_default().as_bytes()));
            for (slot, min) in mins.iter_mut().enumerate() {
                // One hash, permuted per slot by an odd multiplier and a mix: independent enough
                // for MinHash, and 64 multiplications instead of 64 hashes of the gram.
                let v = mix(h ^ SEEDS.get(slot).copied().unwrap_or(0));
                if v < *min {
                    *min = v;
                }
            }
        }
        Signature(mins.map(|m| m as u16))
    }

    /// How many slots agree with `other`.
    pub fn agreeing(&self, other: &Signature) -> u32 {
        self.0.iter().zip(other.0.iter()).filter(|(a, b)| a == b).count() as u32
    }

    /// The signature as bytes (big-endian slots), as Redis stores it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|s| s.to_be_bytes()).collect()
    }
}

/// The slots that must agree for an index of at least `similar`.
pub fn slots_needed(similar: f64) -> u32 {
    (similar * SLOTS as f64).ceil().clamp(1.0, SLOTS as f64) as u32
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const SEEDS: [u64; SLOTS] = {
    let mut seeds = [0u64; SLOTS];
    let mut i = 0;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while i < SLOTS {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        seeds[i] = x;
        i += 1;
    }
    seeds
};

/// The exact Jaccard index of two texts' 5-gram sets (for tests and documentation).
pub fn jaccard(a: &str, b: &str) -> f64 {
    use std::collections::HashSet;
    let grams = |t: &str| -> HashSet<String> {
        let chars: Vec<char> = t.chars().collect();
        if chars.len() <= GRAM {
            return [chars.iter().collect()].into_iter().collect();
        }
        chars.windows(GRAM).map(|w| w.iter().collect()).collect()
    };
    let (x, y) = (grams(a), grams(b));
    let union = x.union(&y).count();
    if union == 0 { 1.0 } else { x.intersection(&y).count() as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_agree_everywhere_and_unrelated_ones_nowhere_much() {
        let a = Signature::of("win a free iphone now at example dot com");
        assert_eq!(a.agreeing(&Signature::of("win a free iphone now at example dot com")), SLOTS as u32);
        let b = Signature::of("are we still meeting for lunch tomorrow?");
        assert!(a.agreeing(&b) < 8, "{}", a.agreeing(&b));
        assert_eq!(Signature::of("hi").agreeing(&Signature::of("hi")), SLOTS as u32);
    }

    #[test]
    fn the_estimate_is_within_its_documented_error() {
        // Pairs with a known index: a base text and copies with k words replaced.
        let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
        let base = words.join(" ");
        let mut errors = Vec::new();
        for k in 0..40 {
            for shift in 0..5 {
                let mut other = words.clone();
                for j in 0..k {
                    other[(j * 7 + shift) % 40] = format!("x{j}y{shift}");
                }
                let other = other.join(" ");
                let exact = jaccard(&base, &other);
                let estimate = Signature::of(&base).agreeing(&Signature::of(&other)) as f64 / SLOTS as f64;
                errors.push((estimate - exact).abs());
            }
        }
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let worst = errors.iter().cloned().fold(0.0, f64::max);
        assert!(mean < 0.06, "mean absolute error {mean}");
        assert!(worst < 0.25, "worst error {worst}");
    }
}
