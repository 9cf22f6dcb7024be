//! `Ruleset` + `MessageView` → `Decision` (docs/decision.md), and the answer body it implies.
//!
//! Pure: no I/O, no clock, no shared mutable state. Each string a rule reads is normalized once
//! per level in use, searched by that level's matcher, and every hit is mapped back to the
//! original text. Shadow hits are kept in the decision (for logs and metrics) but never shape
//! the answer.

use std::cell::RefCell;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use super::matcher::{LevelMatcher, PatternRef, RawHit};
use super::model::{Field, Mode, RuleAction};
use super::normalize::Normalized;
use super::plan::Prepared;
use super::{Clause, Condition, Rule, Ruleset};
use crate::protocol::{Answer, AnswerMatch, MessageView, TagAnswer};
use crate::state::{CounterAdd, Key, Record, View};

/// How many `matches` an answer carries unless `--max-matches` says otherwise.
pub const DEFAULT_MAX_MATCHES: usize = 50;

/// What the answer does to the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No enforced hit: answer `{}`.
    Allow,
    /// Enforced hits, no drop: answer with tags, score, matches.
    Tag,
    /// `{"action":"do_not_propagate"}`.
    Drop,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 3] = [Verdict::Allow, Verdict::Tag, Verdict::Drop];

    /// The position in [`Verdict::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// `allow`, `tag` or `drop`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Tag => "tag",
            Verdict::Drop => "drop",
        }
    }
}

/// The decision for one message: every hit (enforced and shadow) and the verdict.
#[derive(Debug)]
pub struct Decision<'r> {
    /// The rule set that decided.
    pub ruleset: &'r Ruleset,
    /// Rules that hit, enforced and shadow, in rule-file order.
    pub hits: Vec<RuleHit<'r>>,
    /// Sum of the enforced hits' scores.
    pub score: i64,
    /// What the answer does.
    pub verdict: Verdict,
    /// `data.text` with every enforced `mask` span starred, when such a span exists.
    pub masked_text: Option<String>,
    /// What the decision leaves for the state store (empty for a rule set without state).
    pub state: DecisionState,
    /// For a resend of a message seen within ten minutes: the first answer, given again.
    pub resent: Option<Box<serde_json::value::RawValue>>,
}

/// What a decision means for the state store, and how state took part in it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecisionState {
    /// The message's time (ms since the epoch), as state counted it.
    pub at_ms: u64,
    /// The `counts` of the enforced hits.
    pub adds: Vec<CounterAdd>,
    /// The (sender, `muid`) claimed: a resend gets this decision's answer.
    pub claim: Option<Key>,
    /// The store was unavailable: every rule that needs state was skipped.
    pub skipped: bool,
}

impl DecisionState {
    /// What follows the decision off the request path, given the answer sent.
    pub fn record(&self, answer: &[u8]) -> Record {
        Record { at_ms: self.at_ms, adds: self.adds.clone(), answer: self.claim.map(|k| (k, answer.to_vec())) }
    }
}

/// One rule that hit, and every place it hit.
#[derive(Debug)]
pub struct RuleHit<'r> {
    /// The rule.
    pub rule: &'r Rule,
    /// Where it hit: non-overlapping, leftmost-longest, by field.
    pub spans: Vec<MatchSpan<'r>>,
    /// What state the hit read, for a rule that uses state.
    pub state: Option<StateNote>,
}

/// What a hit read from state: the count of its `rate` or `repeat` (this message included) and
/// its window, and the values its state conditions read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StateNote {
    /// The count of `rate` or `repeat`, this message included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Its window, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_ms: Option<u64>,
    /// Counters read by the conditions, by name, as they stood before the message.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub counters: std::collections::BTreeMap<String, u64>,
    /// `sender_age` read by the conditions, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_age_ms: Option<u64>,
    /// `sender_messages` read by the conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_messages: Option<u64>,
}

/// One hit, with offsets into the original string of its field.
#[derive(Debug, Clone)]
pub struct MatchSpan<'r> {
    /// The field the span is in.
    pub field: Field,
    /// Position in the field's list (attachments, URLs, metadata strings); `None` for `text`.
    pub index: Option<usize>,
    /// Byte offset where it starts in the original string.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// The original words: `original[start..end]`.
    pub text: String,
    /// The keyword or regex that matched, as written in the rule file.
    pub pattern: &'r str,
    /// Whether a regex (not a keyword) matched.
    pub is_regex: bool,
}

impl<'r> Decision<'r> {
    /// Enforced hits only: the ones that shape the answer.
    pub fn enforced(&self) -> impl Iterator<Item = &RuleHit<'r>> {
        self.hits.iter().filter(|h| h.rule.mode == Mode::Enforce)
    }

    /// Shadow hits only: logged and counted, never in the answer.
    pub fn shadow(&self) -> impl Iterator<Item = &RuleHit<'r>> {
        self.hits.iter().filter(|h| h.rule.mode == Mode::Shadow)
    }

    /// The enforced hits' tags, sorted and unique.
    pub fn tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = self.enforced().flat_map(|h| h.rule.tags.iter().map(String::as_str)).collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// The ids of the enforced rules that hit, sorted (each rule hits once per decision).
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.enforced().map(|h| h.rule.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    /// The body CometChat gets (docs/decision.md), with at most [`DEFAULT_MAX_MATCHES`] entries
    /// in `matches`.
    pub fn answer(&self) -> Answer<'_> {
        self.answer_limited(DEFAULT_MAX_MATCHES)
    }

    /// The body CometChat gets, with at most `max_matches` entries in `matches` (`truncated`
    /// says when some were left out): CometChat merges the answer into the message's metadata,
    /// so it must stay small whatever the text.
    pub fn answer_limited(&self, max_matches: usize) -> Answer<'_> {
        if let Some(raw) = &self.resent {
            return Answer::Raw(raw);
        }
        match self.verdict {
            Verdict::Allow => Answer::Allow {},
            Verdict::Drop => Answer::Drop { action: "do_not_propagate" },
            Verdict::Tag => {
                let tags = self.tags();
                let mut hits: Vec<&RuleHit<'_>> = self.enforced().collect();
                hits.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
                let rules = hits.iter().map(|h| h.rule.id.as_str()).collect();
                let mut matches = hits
                    .iter()
                    .flat_map(|h| {
                        h.spans.iter().map(|s| AnswerMatch {
                            rule: &h.rule.id,
                            field: s.field.name(),
                            index: s.index,
                            start: s.start,
                            end: s.end,
                            text: &s.text,
                        })
                    })
                    .take(max_matches.saturating_add(1))
                    .collect::<Vec<_>>();
                let truncated = matches.len() > max_matches;
                matches.truncate(max_matches);
                Answer::Tag(TagAnswer {
                    score: self.score,
                    tags,
                    rules,
                    matches,
                    truncated,
                    masked_text: self.masked_text.as_deref(),
                    ruleset: self.ruleset.hash(),
                })
            }
        }
    }

    /// The answer body as JSON bytes.
    pub fn answer_json(&self) -> Vec<u8> {
        self.answer_json_limited(DEFAULT_MAX_MATCHES)
    }

    /// [`Decision::answer_limited`] as JSON bytes.
    pub fn answer_json_limited(&self, max_matches: usize) -> Vec<u8> {
        // Serializing plain structs of strings and integers into memory cannot fail.
        serde_json::to_vec(&self.answer_limited(max_matches)).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// Per-thread buffers reused across evaluations, so the hot path does not allocate them anew.
#[derive(Default)]
struct Scratch {
    normalized: Normalized,
    raw: Vec<RawHit>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Lends this thread's scratch buffers to `f`; a fresh set when they are already lent (a
/// re-entrant call), so nothing can panic on a busy `RefCell`.
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

impl Ruleset {
    /// Decides a message on empty state (`inflight eval`, examples): every rule whose
    /// conditions hold, on the fields it reads. Timed by the message's `sentAt`, if any.
    pub fn evaluate<'r>(&'r self, msg: &MessageView<'_>) -> Decision<'r> {
        // Only state reads the time: a rule set without state does not parse `sentAt`.
        let at_ms = if self.stateful { msg.unix_ms(crate::message::Attribute::SentAt).unwrap_or(0) } else { 0 };
        self.evaluate_at(msg, at_ms)
    }

    /// Decides a message at `at_ms` (ms since the epoch) on empty state: every window counts the
    /// message alone, every counter is 0, the sender was never seen.
    pub fn evaluate_at<'r>(&'r self, msg: &MessageView<'_>, at_ms: u64) -> Decision<'r> {
        let prepared = self.prepare(msg, at_ms);
        let view = View::fresh(&prepared.query);
        prepared.finish(msg, Some(&view))
    }

    /// The decision standing for a resend answered with `answer` (the first answer): no hits,
    /// the verdict the answer says.
    pub fn resent_decision(&self, answer: &[u8]) -> Decision<'_> {
        let verdict = match answer {
            crate::protocol::ALLOW_BODY => Verdict::Allow,
            crate::protocol::DROP_BODY => Verdict::Drop,
            _ => Verdict::Tag,
        };
        let resent =
            std::str::from_utf8(answer).ok().and_then(|a| serde_json::value::RawValue::from_string(a.to_owned()).ok());
        let state = DecisionState::default();
        Decision { ruleset: self, hits: Vec::new(), score: 0, verdict, masked_text: None, state, resent }
    }

    /// The first half of a decision: matches the message and says what it needs from state
    /// (`Prepared::query`). Pure, like all of evaluation: the time comes in as `at_ms`.
    pub fn prepare<'r>(&'r self, msg: &MessageView<'_>, at_ms: u64) -> Prepared<'r> {
        let spans = with_scratch(|scratch| self.match_spans(msg, scratch));
        super::plan::prepare(self, msg, at_ms, spans)
    }

    fn match_spans<'r>(&'r self, msg: &MessageView<'_>, scratch: &mut Scratch) -> Vec<(u32, MatchSpan<'r>)> {
        let Scratch { normalized, raw } = scratch;
        let mut spans: Vec<(u32, MatchSpan<'r>)> = Vec::new();
        let fields = FieldStrings::new(msg);
        for matcher in &self.levels {
            for &field in &matcher.fields {
                let reads = |rule: u32| {
                    let i = rule as usize;
                    // Conditions are judged where a pattern of the rule occurs, not for every
                    // rule of every message: most messages hit nothing (at 194 rules, judging
                    // them all up front took a tenth of the decision).
                    self.rules.get(i).is_some_and(|r| r.reads(field) && conditions_hold(r, msg))
                };
                fields.for_each(field, |index, original| {
                    let index = (field != Field::Text).then_some(index);
                    self.search_string(matcher, original, field, index, &reads, normalized, raw, &mut spans);
                });
            }
        }
        spans
    }

    /// Searches one original string at one level, resolving `except` and overlaps per rule, and
    /// appends the surviving spans (in original offsets) to `out`.
    #[allow(clippy::too_many_arguments)]
    fn search_string<'r>(
        &'r self,
        matcher: &'r LevelMatcher,
        original: &str,
        field: Field,
        index: Option<usize>,
        wants: &dyn Fn(u32) -> bool,
        normalized: &mut Normalized,
        raw: &mut Vec<RawHit>,
        out: &mut Vec<(u32, MatchSpan<'r>)>,
    ) {
        if original.is_empty() {
            return;
        }
        normalized.normalize_text_into(matcher.level, original);
        raw.clear();
        matcher.search(normalized, wants, raw);
        if raw.is_empty() {
            return;
        }
        // A hit: now the spans need the origin map, which most messages never do.
        normalized.add_origins(matcher.level, original);
        // Per rule: leftmost first, longest first at the same start, then keep what does not
        // overlap an earlier kept hit.
        raw.sort_unstable_by_key(|h| (h.rule, h.start, std::cmp::Reverse(h.end)));
        let text = normalized.text();
        let mut last: Option<(u32, usize)> = None;
        for hit in raw.iter() {
            if let Some((rule, end)) = last
                && rule == hit.rule
                && hit.start < end
            {
                continue;
            }
            let Some(rule) = self.rules.get(hit.rule as usize) else { continue };
            if cancelled_by_except(rule, text, hit.start, hit.end) {
                continue;
            }
            last = Some((hit.rule, hit.end));
            let (start, end) = normalized.original_span(hit.start, hit.end);
            let source = matcher.pattern_source(hit.pattern);
            out.push((
                hit.rule,
                MatchSpan {
                    field,
                    index,
                    start,
                    end,
                    text: original.get(start..end).unwrap_or_default().to_owned(),
                    pattern: source,
                    is_regex: matches!(hit.pattern, PatternRef::Regex(_)),
                },
            ));
        }
    }

    /// The decision from its hits (in rule order): verdict, score, masked text.
    pub(crate) fn decide<'r>(
        &'r self,
        hits: Vec<RuleHit<'r>>,
        msg: &MessageView<'_>,
        state: DecisionState,
    ) -> Decision<'r> {
        let enforced = || hits.iter().filter(|h| h.rule.mode == Mode::Enforce);
        let score = enforced().map(|h| h.rule.score).sum();
        let drop_by_rule = enforced().any(|h| h.rule.action == RuleAction::Drop);
        let drop_by_score = self.drop_score.is_some_and(|limit| enforced().next().is_some() && score >= limit);
        let verdict = if drop_by_rule || drop_by_score {
            Verdict::Drop
        } else if enforced().next().is_some() {
            Verdict::Tag
        } else {
            Verdict::Allow
        };
        let masked_text = if verdict == Verdict::Tag {
            let mask_spans = enforced()
                .filter(|h| h.rule.action == RuleAction::Mask)
                .flat_map(|h| h.spans.iter())
                .filter(|s| s.field == Field::Text)
                .map(|s| (s.start, s.end));
            mask(msg.text.as_deref().unwrap_or_default(), mask_spans)
        } else {
            None
        };
        Decision { ruleset: self, hits, score, verdict, masked_text, state, resent: None }
    }

    /// The spans where one rule hits `text`, ignoring its conditions and fields: what the rule's
    /// own matcher sees. Used by `examples` in rule files.
    pub fn rule_hits_in<'r>(&'r self, rule_id: &str, text: &str) -> Vec<MatchSpan<'r>> {
        let Some(index) = self.rules.iter().position(|r| r.id == rule_id) else { return Vec::new() };
        let Some(rule) = self.rules.get(index) else { return Vec::new() };
        let Some(matcher) = self.levels.iter().find(|m| m.level == rule.level) else { return Vec::new() };
        let wants = |r: u32| r as usize == index;
        let mut out = Vec::new();
        with_scratch(|scratch| {
            self.search_string(
                matcher,
                text,
                Field::Text,
                None,
                &wants,
                &mut scratch.normalized,
                &mut scratch.raw,
                &mut out,
            );
        });
        out.into_iter().map(|(_, s)| s).collect()
    }
}

/// `when`: every key holds; `unless`: the rule is skipped when every key holds. Only the
/// message's own keys: an `unless` with state keys is settled once state is read (`plan`).
pub(crate) fn conditions_hold(rule: &Rule, msg: &MessageView<'_>) -> bool {
    rule.when.as_ref().is_none_or(|c| condition_holds(c, msg))
        && !rule.unless.as_ref().is_some_and(|c| c.state.is_empty() && condition_holds(c, msg))
}

/// Whether the message's own clauses of a condition hold.
pub(crate) fn condition_holds(condition: &Condition, msg: &MessageView<'_>) -> bool {
    condition.clauses.iter().all(|clause| match clause {
        // A condition on a field the message lacks does not hold.
        Clause::AnyOf(attribute, values) => msg.get(*attribute).is_some_and(|a| values.iter().any(|v| v == a)),
        Clause::Present(attribute, want) => msg.get(*attribute).is_some() == *want,
        Clause::HasAttachments(want) => msg.has_attachments() == *want,
        Clause::Mentions(bound) => bound.holds(u64::from(msg.mentions())),
        Clause::Links(bound) => bound.holds(u64::from(msg.links())),
    })
}

/// A hit is cancelled when an `except` phrase occurrence contains it (the Scunthorpe guard).
fn cancelled_by_except(rule: &Rule, text: &str, start: usize, end: usize) -> bool {
    rule.except.iter().any(|phrase| {
        // An occurrence at `p` contains the hit when `end - phrase.len() <= p <= start`. Each
        // candidate is tried on its own: a window cut at `start + phrase.len()` can end inside
        // a character and then finds nothing (`class саt`: the hit `ass` was kept).
        let lowest = end.saturating_sub(phrase.len());
        (lowest..=start).any(|p| text.get(p..).is_some_and(|rest| rest.starts_with(phrase.as_str())))
    })
}

/// `text` with each span replaced by one `*` per user-perceived character; `None` if no span.
fn mask(text: &str, spans: impl Iterator<Item = (usize, usize)>) -> Option<String> {
    let mut spans: Vec<(usize, usize)> = spans.collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (start, end) in spans {
        let start = start.max(pos);
        if start >= end {
            continue;
        }
        out.push_str(text.get(pos..start)?);
        let stars = text.get(start..end)?.graphemes(true).count();
        out.extend(std::iter::repeat_n('*', stars));
        pos = end;
    }
    out.push_str(text.get(pos..)?);
    Some(out)
}

/// The strings of each field of a message, extracted on first use.
struct FieldStrings<'m> {
    msg: &'m MessageView<'m>,
    attachment_names: std::cell::OnceCell<Vec<&'m str>>,
    urls: std::cell::OnceCell<Vec<&'m str>>,
    metadata: std::cell::OnceCell<Vec<String>>,
}

impl<'m> FieldStrings<'m> {
    fn new(msg: &'m MessageView<'m>) -> Self {
        FieldStrings {
            msg,
            attachment_names: Default::default(),
            urls: Default::default(),
            metadata: Default::default(),
        }
    }

    /// Calls `f(index, string)` for each string of `field`, in order.
    fn for_each(&self, field: Field, mut f: impl FnMut(usize, &str)) {
        let strings: &[&str] = match field {
            Field::Text => {
                if let Some(text) = self.msg.text.as_deref() {
                    f(0, text);
                }
                return;
            }
            Field::AttachmentNames => self.attachment_names.get_or_init(|| self.msg.attachment_names().collect()),
            Field::Urls => self.urls.get_or_init(|| self.msg.urls().collect()),
            Field::Metadata => {
                let strings = self.metadata.get_or_init(|| self.msg.metadata.strings());
                strings.iter().enumerate().for_each(|(i, s)| f(i, s));
                return;
            }
        };
        strings.iter().enumerate().for_each(|(i, s)| f(i, s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_index_is_the_position_in_all() {
        for (i, v) in Verdict::ALL.iter().enumerate() {
            assert_eq!(v.index(), i, "{}", v.name());
        }
    }

    #[test]
    fn mask_writes_one_star_per_grapheme() {
        let cases = [
            ("call 555 1234 now", vec![(5, 13)], "call ******** now"),
            ("mail é@x.io ok", vec![(5, 12)], "mail ****** ok"),
            ("flag 🇫🇷 here", vec![(5, 13)], "flag * here"),
            ("ab cd ef", vec![(0, 2), (6, 8)], "** cd **"),
            ("overlap", vec![(0, 4), (2, 6)], "******p"),
        ];
        for (text, spans, want) in cases {
            assert_eq!(mask(text, spans.into_iter()).as_deref(), Some(want), "{text:?}");
        }
        assert_eq!(mask("x", std::iter::empty()), None);
    }
}
