//! Recorded messages decided under one rule set, or under two side by side: decisions by action,
//! messages hit by rule, and every message whose answer would change. Shared by `inflight
//! replay` (which reads a JSON-lines file) and the console's Draft replay (which reads the
//! recent traffic kept in memory), so both show the same numbers for the same messages.
//!
//! Choices the contract leaves open, written once here for both:
//! - `Tally::hits` counts messages (not spans) each rule hit, shadow hits included.
//! - Two answers differ when anything but `ruleset` differs (`same_answer`). `rules_added` /
//!   `rules_removed` compare the enforced rules that hit (a drop answer does not name them, the
//!   decision does).
//! - `Summary` splits the differences: `newly_dropped` (not a drop before, a drop after),
//!   `newly_allowed` (not `{}` before, `{}` after), `changed` (every other difference), so the
//!   three add up to the number of differences.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::rules::{Decision, Mode, Ruleset, Verdict};

/// Decisions by action and messages hit by rule, for one rule set.
#[derive(Debug)]
pub struct Tally<'r> {
    /// The rule set counted.
    pub ruleset: &'r Ruleset,
    /// Rule id → position in `ruleset.rules()`.
    pub index: HashMap<&'r str, usize>,
    /// Decisions by verdict, in the order of `Verdict::ALL`.
    pub actions: [u64; 3],
    /// Messages hit, by position in `ruleset.rules()`.
    pub hits: Vec<u64>,
}

impl<'r> Tally<'r> {
    /// An empty tally of `ruleset`.
    pub fn new(ruleset: &'r Ruleset) -> Self {
        let index = ruleset.rules().iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
        Tally { ruleset, index, actions: [0; 3], hits: vec![0; ruleset.rules().len()] }
    }

    /// Counts one decision made by this tally's rule set.
    pub fn count(&mut self, decision: &Decision<'_>) {
        if let Some(n) = self.actions.get_mut(decision.verdict.index()) {
            *n += 1;
        }
        for hit in &decision.hits {
            if let Some(count) = self.index.get(hit.rule.id.as_str()).and_then(|&i| self.hits.get_mut(i)) {
                *count += 1;
            }
        }
    }

    /// Decisions with this verdict.
    pub fn action(&self, verdict: Verdict) -> u64 {
        self.actions.get(verdict.index()).copied().unwrap_or(0)
    }

    /// Messages the rule `id` hit; `None` when this rule set has no such rule.
    pub fn hits_of(&self, id: &str) -> Option<u64> {
        self.index.get(id).and_then(|&i| self.hits.get(i)).copied()
    }

    /// The mode of the rule `id`, when this rule set has it.
    pub fn mode_of(&self, id: &str) -> Option<Mode> {
        self.index.get(id).and_then(|&i| self.ruleset.rules().get(i)).map(|r| r.mode)
    }
}

/// Whether two decisions answer the same: their serialized answers, without `ruleset`, are
/// equal, so a field added to answers is compared without anyone remembering to. Only two tag
/// answers need serializing; the others are constant.
pub fn same_answer(a: &Decision<'_>, b: &Decision<'_>) -> bool {
    if a.verdict != b.verdict {
        return false;
    }
    if a.verdict != Verdict::Tag {
        return true;
    }
    let comparable = |d: &Decision<'_>| {
        let mut answer = serde_json::to_value(d.answer()).unwrap_or_default();
        if let Some(fields) = answer.as_object_mut() {
            fields.remove("ruleset");
        }
        answer
    };
    comparable(a) == comparable(b)
}

/// One message whose answer differs between two rule sets.
#[derive(Debug, Clone)]
pub struct Difference {
    /// Where the message came from (a line number, counting from 1).
    pub line: usize,
    /// The verdict under the first rule set.
    pub before: Verdict,
    /// The verdict under the second.
    pub after: Verdict,
    /// Enforced rules that hit only after.
    pub rules_added: Vec<String>,
    /// Enforced rules that hit only before.
    pub rules_removed: Vec<String>,
}

impl Difference {
    /// The difference between `old` and `new`, the decisions of one message.
    pub fn new(line: usize, old: &Decision<'_>, new: &Decision<'_>) -> Self {
        let (was, now) = (old.rule_ids(), new.rule_ids());
        let only = |a: &[&str], b: &[&str]| -> Vec<String> {
            a.iter().filter(|id| b.binary_search(id).is_err()).map(|id| (*id).to_owned()).collect()
        };
        Difference {
            line,
            before: old.verdict,
            after: new.verdict,
            rules_added: only(&now, &was),
            rules_removed: only(&was, &now),
        }
    }

    /// The `differences[]` entry of `replay --json`.
    pub fn to_json(&self, old: &Decision<'_>, new: &Decision<'_>) -> DifferenceJson {
        DifferenceJson {
            line: self.line,
            before: raw_answer(old),
            after: raw_answer(new),
            rules_added: self.rules_added.clone(),
            rules_removed: self.rules_removed.clone(),
        }
    }
}

/// A difference as `replay --json` writes it: both answers as sent.
#[derive(Debug, Serialize)]
pub struct DifferenceJson {
    /// The message's line.
    pub line: usize,
    /// The answer under the first rule set.
    pub before: Box<RawValue>,
    /// The answer under the second.
    pub after: Box<RawValue>,
    /// Enforced rules that hit only after.
    pub rules_added: Vec<String>,
    /// Enforced rules that hit only before.
    pub rules_removed: Vec<String>,
}

/// The differences, split by what they do to the message.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Not dropped before, dropped after.
    pub newly_dropped: u64,
    /// Not `{}` before, `{}` after.
    pub newly_allowed: u64,
    /// Every other difference.
    pub changed: u64,
}

impl Summary {
    /// Counts one difference.
    pub fn count(&mut self, d: &Difference) {
        if d.after == Verdict::Drop && d.before != Verdict::Drop {
            self.newly_dropped += 1;
        } else if d.after == Verdict::Allow && d.before != Verdict::Allow {
            self.newly_allowed += 1;
        } else {
            self.changed += 1;
        }
    }

    /// Every difference counted.
    pub fn total(&self) -> u64 {
        self.newly_dropped + self.newly_allowed + self.changed
    }
}

/// A message's text cut to `max` characters, with `…` where it was cut: how a changed message is
/// quoted in a report.
pub fn cut_text(text: &str, max: usize) -> String {
    let mut cut: String = text.chars().take(max).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// A one-line account of a decision: verdict, score, tags, enforced rules, matched words.
pub fn digest(d: &Decision<'_>) -> String {
    let mut s = format!("{:<5}", d.verdict.name());
    if d.verdict == Verdict::Allow {
        return s.trim_end().to_owned();
    }
    let _ = write!(s, " score {}", d.score);
    let tags = d.tags();
    if !tags.is_empty() {
        let _ = write!(s, "  tags {}", tags.join(", "));
    }
    let _ = write!(s, "  rules {}", d.rule_ids().join(", "));
    let words: Vec<String> = d.enforced().flat_map(|h| h.spans.iter().map(|m| format!("{:?}", m.text))).collect();
    let shown = words.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = if words.len() > 5 { format!(" and {} more", words.len() - 5) } else { String::new() };
    let _ = write!(s, "  matched {shown}{more}");
    if d.masked_text.is_some() {
        s.push_str("  (masked)");
    }
    s
}

/// The answer body as raw JSON.
fn raw_answer(d: &Decision<'_>) -> Box<RawValue> {
    // `answer_json` is serde_json output, hence valid UTF-8 JSON; `{}` is a fallback never taken.
    String::from_utf8(d.answer_json())
        .ok()
        .and_then(|s| RawValue::from_string(s).ok())
        .unwrap_or_else(|| RawValue::from_string("{}".to_owned()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_partitions_differences() {
        let cases = [
            (Verdict::Allow, Verdict::Drop, [1, 0, 0]),
            (Verdict::Tag, Verdict::Drop, [1, 0, 0]),
            (Verdict::Tag, Verdict::Allow, [0, 1, 0]),
            (Verdict::Drop, Verdict::Allow, [0, 1, 0]),
            (Verdict::Allow, Verdict::Tag, [0, 0, 1]),
            (Verdict::Drop, Verdict::Tag, [0, 0, 1]),
            (Verdict::Tag, Verdict::Tag, [0, 0, 1]),
        ];
        for (before, after, want) in cases {
            let mut sum = Summary::default();
            sum.count(&Difference { line: 1, before, after, rules_added: vec![], rules_removed: vec![] });
            assert_eq!([sum.newly_dropped, sum.newly_allowed, sum.changed], want, "{before:?} → {after:?}");
        }
    }
}
