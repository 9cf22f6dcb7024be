//! The state half of a decision (docs/rules.md, "Rules that remember"): after matching, which
//! windows the message counts in and which state it reads (a [`Query`]), then, given what the
//! store answered (a [`View`]), which rules hit.
//!
//! Order inside one message, as the contract fixes it: conditions read counters and the sender
//! as they stood before the message; `rate` and `repeat` count the message itself. A `rate` or
//! `repeat` counts the messages that passed the rule's other tests that the message alone
//! settles: its `when` keys of the message (not of state), an `unless` without state keys, and
//! its keywords/regex when it has any. State conditions then gate the hit: a message counts in
//! a flood window even when `sender_age` later exempts the rule. Shadow rules count too; only
//! their `counts` are never added (see `finish`).

use super::eval::{Decision, DecisionState, MatchSpan, RuleHit, StateNote, condition_holds, conditions_hold};
use super::{Per, Rule, Ruleset, StateClause};
use crate::message::{Attribute, MessageView};
use crate::rules::Mode;
use crate::state::similar::{Signature, slots_needed};
use crate::state::{CounterAdd, Key, Query, SimilarOp, View, WindowOp};

/// A matched message waiting for state: `query` says what to ask, `finish` decides.
#[derive(Debug)]
pub struct Prepared<'r> {
    ruleset: &'r Ruleset,
    spans: Vec<(u32, MatchSpan<'r>)>,
    /// Per rule: the message's own tests passed (conditions of the message, patterns).
    passed: Vec<bool>,
    /// Per rule that needs state: where its counts sit in the query.
    slots: Vec<RuleSlots>,
    /// Per declared counter: its key for this message and its slot among the reads.
    counter_keys: Vec<Option<Key>>,
    counter_reads: Vec<Option<usize>>,
    /// The account's creation time (ms), when the payload carries it.
    created_ms: Option<u64>,
    /// What to ask the state store; empty for a rule set without state.
    pub query: Query,
}

#[derive(Debug, Default, Clone, Copy)]
struct RuleSlots {
    rule: usize,
    /// The `rate` window among `Query::windows`.
    rate: Option<usize>,
    /// The `repeat` count.
    repeat: Option<RepeatSlot>,
}

#[derive(Debug, Clone, Copy)]
enum RepeatSlot {
    /// Identical texts: a window among `Query::windows`.
    Exact(usize),
    /// Near-duplicates: among `Query::similar`.
    Similar(usize),
}

/// The message's key of `per`: `None` when it lacks the field. At most three parts, on the stack.
fn per_parts<'m>(per: Per, msg: &'m MessageView<'_>) -> Option<([&'m str; 3], usize)> {
    let app = msg.get(Attribute::AppId).unwrap_or_default();
    Some(match per {
        Per::Sender => ([app, msg.get(Attribute::Sender)?, ""], 2),
        Per::Receiver => {
            ([app, msg.get(Attribute::ReceiverType).unwrap_or_default(), msg.get(Attribute::Receiver)?], 3)
        }
        Per::Conversation => ([app, msg.get(Attribute::Conversation)?, ""], 2),
        Per::App => ([app, "", ""], 1),
    })
}

fn key_of(kind: u8, name: &str, per: Per, msg: &MessageView<'_>, extra: Option<&str>) -> Option<Key> {
    let (key_parts, n) = per_parts(per, msg)?;
    let mut parts = [""; 6];
    parts[0] = name;
    parts[1] = per.name();
    let mut len = 2;
    for part in key_parts.iter().take(n).copied().chain(extra) {
        if let Some(slot) = parts.get_mut(len) {
            *slot = part;
            len += 1;
        }
    }
    Some(Key::of(kind, parts.get(..len).unwrap_or_default()))
}

/// Matches done; builds what to ask the store.
pub(crate) fn prepare<'r>(
    ruleset: &'r Ruleset,
    msg: &MessageView<'_>,
    at_ms: u64,
    spans: Vec<(u32, MatchSpan<'r>)>,
) -> Prepared<'r> {
    // Only a rule set with state or pattern-less rules needs to know which rules passed; the
    // others are decided from their spans alone, as before state existed (no extra work).
    let mut passed = Vec::new();
    if ruleset.uses_state() || ruleset.patternless {
        // A rule with patterns passed when it hit (its conditions were applied before matching):
        // only the pattern-less ones need their conditions looked at here.
        passed = ruleset.rules().iter().map(|r| !r.has_patterns && conditions_hold(r, msg)).collect();
        for (rule, _) in &spans {
            if let Some(p) = passed.get_mut(*rule as usize) {
                *p = true;
            }
        }
    }
    let mut prepared = Prepared {
        ruleset,
        spans,
        passed,
        slots: Vec::new(),
        counter_keys: Vec::new(),
        counter_reads: Vec::new(),
        created_ms: msg.unix_ms(Attribute::SenderCreatedAt),
        query: Query { at_ms, ..Query::default() },
    };
    if ruleset.uses_state() {
        prepared.plan_state(msg);
    }
    prepared
}

impl<'r> Prepared<'r> {
    /// Fills the query: the resend claim, the sender, each rule's windows, the counters read.
    fn plan_state(&mut self, msg: &MessageView<'_>) {
        let ruleset = self.ruleset;
        let sender = msg.get(Attribute::Sender);
        let app = msg.get(Attribute::AppId).unwrap_or_default();
        self.query.sender = sender.map(|s| Key::of(b's', &[app, s]));
        self.query.claim = sender.zip(msg.get(Attribute::Muid)).map(|(s, m)| Key::of(b'm', &[app, s, m]));
        self.counter_keys = ruleset.counters().iter().map(|c| key_of(b'c', &c.name, c.per, msg, None)).collect();
        self.counter_reads = vec![None; ruleset.counters().len()];
        for (index, rule) in ruleset.rules().iter().enumerate() {
            if !rule.needs_state() {
                continue;
            }
            let mut slots = RuleSlots { rule: index, ..RuleSlots::default() };
            let passed = self.passed.get(index).copied().unwrap_or(false);
            if passed {
                self.plan_windows(rule, msg, &mut slots);
            }
            for clause in [&rule.when, &rule.unless].into_iter().flatten().flat_map(|c| c.state.iter()) {
                if let StateClause::Counter(counter, _) = clause {
                    self.read_counter(*counter);
                }
            }
            self.slots.push(slots);
        }
    }

    /// The windows of a rule whose other tests passed: its `rate`, its `repeat`. A message
    /// without the field a key needs (or without text, for `repeat`) is not counted.
    fn plan_windows(&mut self, rule: &Rule, msg: &MessageView<'_>, slots: &mut RuleSlots) {
        if let Some(rate) = rule.rate
            && let Some(key) = key_of(b'r', &rule.id, rate.per, msg, None)
        {
            slots.rate = Some(self.query.windows.len());
            self.query.windows.push(WindowOp { key, within_ms: rate.within_ms });
        }
        let Some(repeat) = rule.repeat else { return };
        let normalized = msg.text.as_deref().map(|t| super::normalize::normalize_keyword(rule.level, t));
        let Some(text) = normalized.as_deref().filter(|t| !t.trim().is_empty()) else { return };
        if repeat.similar >= 1.0 {
            if let Some(key) = key_of(b'p', &rule.id, repeat.per, msg, Some(text)) {
                slots.repeat = Some(RepeatSlot::Exact(self.query.windows.len()));
                self.query.windows.push(WindowOp { key, within_ms: repeat.within_ms });
            }
        } else if let Some(key) = key_of(b'q', &rule.id, repeat.per, msg, None) {
            slots.repeat = Some(RepeatSlot::Similar(self.query.similar.len()));
            let op = SimilarOp {
                key,
                within_ms: repeat.within_ms,
                slots_needed: slots_needed(repeat.similar),
                signature: Signature::of(text),
            };
            self.query.similar.push(op);
        }
    }

    fn read_counter(&mut self, counter: usize) {
        if self.counter_reads.get(counter).is_some_and(Option::is_some) {
            return;
        }
        let (Some(Some(key)), Some(spec)) = (self.counter_keys.get(counter), self.ruleset.counters().get(counter))
        else {
            return;
        };
        let read = WindowOp { key: *key, within_ms: spec.window_ms };
        if let Some(slot) = self.counter_reads.get_mut(counter) {
            *slot = Some(self.query.counters.len());
        }
        self.query.counters.push(read);
    }
}

impl<'r> Prepared<'r> {
    /// The second half of a decision, with what the store answered (`None`: it was unavailable,
    /// and every rule that needs state is skipped, in `when` and `unless` alike).
    pub fn finish(self, msg: &MessageView<'_>, view: Option<&View>) -> Decision<'r> {
        let ruleset = self.ruleset;
        let mut spans = self.spans;
        spans.sort_by_key(|(rule, s)| (*rule, s.field as u8, s.index, s.start));
        let mut grouped: Vec<RuleHit<'r>> = Vec::new();
        for (rule, span) in spans {
            let Some(r) = ruleset.rules.get(rule as usize) else { continue };
            match grouped.last_mut() {
                Some(h) if std::ptr::eq(h.rule, r) => h.spans.push(span),
                _ => grouped.push(RuleHit { rule: r, spans: vec![span], state: None }),
            }
        }
        let mut state = DecisionState { at_ms: self.query.at_ms, ..DecisionState::default() };
        if !ruleset.uses_state() && !ruleset.patternless {
            return ruleset.decide(grouped, msg, state);
        }
        let reads = Reads {
            view,
            counters: ruleset.counters(),
            prepared_counters: &self.counter_reads,
            created_ms: self.created_ms,
            msg,
            at_ms: self.query.at_ms,
        };
        let mut grouped = grouped.into_iter().peekable();
        let mut slots = self.slots.iter().peekable();
        let mut hits = Vec::new();
        for (index, rule) in ruleset.rules.iter().enumerate() {
            let spanned = grouped.next_if(|h| std::ptr::eq(h.rule, rule));
            let slot = slots.next_if(|s| s.rule == index);
            let passed = self.passed.get(index).copied().unwrap_or(false);
            if !passed {
                continue;
            }
            let note = match slot {
                Some(slot) => match reads.gate(rule, slot) {
                    Some(note) => Some(note),
                    None => continue,
                },
                None => None,
            };
            let mut hit = spanned.unwrap_or(RuleHit { rule, spans: Vec::new(), state: None });
            hit.state = note;
            hits.push(hit);
        }
        if view.is_some() {
            state.claim = self.query.claim;
            state.adds = counter_adds(&hits, &self.counter_keys, ruleset);
        } else {
            state.skipped = ruleset.uses_state();
        }
        ruleset.decide(hits, msg, state)
    }
}

/// The `counts` of the enforced hits, for the message's key of each counter.
fn counter_adds(hits: &[RuleHit<'_>], keys: &[Option<Key>], ruleset: &Ruleset) -> Vec<CounterAdd> {
    let enforced = hits.iter().filter(|h| h.rule.mode == Mode::Enforce);
    enforced
        .flat_map(|h| h.rule.counts.iter())
        .filter_map(|&(counter, amount)| {
            let key = keys.get(counter).copied().flatten()?;
            let window_ms = ruleset.counters().get(counter)?.window_ms;
            Some(CounterAdd { key, window_ms, amount })
        })
        .collect()
}

/// What the store answered, read for one rule at a time.
struct Reads<'a, 'm> {
    view: Option<&'a View>,
    counters: &'a [super::CounterSpec],
    prepared_counters: &'a [Option<usize>],
    created_ms: Option<u64>,
    msg: &'a MessageView<'m>,
    at_ms: u64,
}

impl Reads<'_, '_> {
    /// Whether a rule that needs state hits (its message tests passed): its state conditions
    /// hold, its `unless` does not, its `rate` and `repeat` are over their limits. The note of
    /// what it read when it hits.
    fn gate(&self, rule: &Rule, slot: &RuleSlots) -> Option<StateNote> {
        let view = self.view?;
        let mut note = StateNote::default();
        if let Some(when) = &rule.when {
            for clause in &when.state {
                if !self.holds(clause, view, &mut note)? {
                    return None;
                }
            }
        }
        if let Some(unless) = rule.unless.as_ref().filter(|u| !u.state.is_empty())
            && condition_holds(unless, self.msg)
        {
            let mut ignored = StateNote::default();
            let all = unless.state.iter().all(|c| self.holds(c, view, &mut ignored) == Some(true));
            if all {
                return None;
            }
        }
        if let Some(rate) = rule.rate {
            let count = view.windows.get(slot.rate?).copied()?;
            if count <= rate.more_than {
                return None;
            }
            (note.count, note.within_ms) = (Some(count), Some(rate.within_ms));
        }
        if let Some(repeat) = rule.repeat {
            let count = match slot.repeat? {
                RepeatSlot::Exact(i) => view.windows.get(i).copied()?,
                RepeatSlot::Similar(i) => view.similar.get(i).copied()?,
            };
            if count <= repeat.more_than {
                return None;
            }
            if note.count.is_none() {
                (note.count, note.within_ms) = (Some(count), Some(repeat.within_ms));
            }
        }
        Some(note)
    }

    /// Whether a state clause holds (`None`: it cannot, the message lacks its key), noting the
    /// value read.
    fn holds(&self, clause: &StateClause, view: &View, note: &mut StateNote) -> Option<bool> {
        let has_sender = self.msg.get(Attribute::Sender).is_some();
        match clause {
            StateClause::Counter(counter, bound) => {
                let slot = self.prepared_counters.get(*counter).copied().flatten()?;
                let value = view.counters.get(slot).copied()?;
                let name = self.name_of(*counter);
                note.counters.insert(name, value);
                Some(bound.holds(value))
            }
            StateClause::SenderAge(bound) => {
                if !has_sender {
                    return None;
                }
                let first = view.sender.map(|s| s.first_ms);
                let oldest = match (first, self.created_ms) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let age = oldest.map_or(0, |t| self.at_ms.saturating_sub(t));
                note.sender_age_ms = Some(age);
                Some(bound.holds(age))
            }
            StateClause::SenderMessages(bound) => {
                if !has_sender {
                    return None;
                }
                let n = view.sender.map_or(0, |s| s.messages);
                note.sender_messages = Some(n);
                Some(bound.holds(n))
            }
        }
    }

    fn name_of(&self, counter: usize) -> String {
        self.counters.get(counter).map(|c| c.name.clone()).unwrap_or_default()
    }
}
