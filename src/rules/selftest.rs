//! Runs the `examples` and `[[case]]`s that rule files carry and reports every failure with an
//! explanation. Shared by `inflight test` and the test suite, so both judge rules the same way.

use std::path::PathBuf;

use super::model::ExpectedAction;
use super::normalize::normalize;
use super::{Case, Decision, Ruleset, Verdict};
use crate::error::Position;
use crate::state::{MemoryState, Outcome, decide_now};

/// The outcome of running every example and case of a rule set.
#[derive(Debug, Default)]
pub struct Report {
    /// Examples run.
    pub examples_run: usize,
    /// Cases run.
    pub cases_run: usize,
    /// What did not hold.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Whether every example and case held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One example or case that did not hold, with why.
#[derive(Debug)]
pub struct Failure {
    /// The file it is written in.
    pub file: PathBuf,
    /// Where in that file.
    pub position: Position,
    /// `rule "id"` or `case "name"`.
    pub subject: String,
    /// What happened instead, with the answer.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.position.line,
            self.position.col,
            self.subject,
            self.message
        )
    }
}

/// Runs every rule's examples (on the rule's own matcher, conditions ignored) and every case
/// (a whole decision on the case's message).
pub fn run(ruleset: &Ruleset) -> Report {
    let mut report = Report::default();
    for rule in ruleset.rules() {
        let subject = format!("rule \"{}\"", rule.id);
        for example in &rule.examples_match {
            report.examples_run += 1;
            if ruleset.rule_hits_in(&rule.id, &example.text).is_empty() {
                let normalized = normalize(rule.level, &example.text);
                report.failures.push(Failure {
                    file: rule.file.clone(),
                    position: example.position,
                    subject: subject.clone(),
                    message: format!(
                        "examples.match {:?} did not match (normalized at `{}`: {:?})",
                        example.text,
                        rule.level.name(),
                        normalized.text()
                    ),
                });
            }
        }
        for example in &rule.examples_no_match {
            report.examples_run += 1;
            let hits = ruleset.rule_hits_in(&rule.id, &example.text);
            if !hits.is_empty() {
                let found: Vec<String> = hits
                    .iter()
                    .map(|h| {
                        let kind = if h.is_regex { "regex" } else { "keyword" };
                        format!("{:?} at {}..{} by {kind} {:?}", h.text, h.start, h.end, h.pattern)
                    })
                    .collect();
                report.failures.push(Failure {
                    file: rule.file.clone(),
                    position: example.position,
                    subject: subject.clone(),
                    message: format!("examples.no_match {:?} matched: {}", example.text, found.join(", ")),
                });
            }
        }
    }
    for case in &ruleset.cases {
        report.cases_run += 1;
        let (problems, answer) = play_case(ruleset, case);
        if !problems.is_empty() {
            report.failures.push(Failure {
                file: case.file.clone(),
                position: case.position,
                subject: format!("case \"{}\"", case.name),
                message: format!("{}; answer was {}", problems.join("; "), String::from_utf8_lossy(&answer)),
            });
        }
    }
    report
}

/// When a case's first message is sent: a fixed instant, so cases give the same answers on
/// every run (`sender_created_at` in a case is read against it: 2025-01-01T00:00:00Z).
pub const CASE_START_MS: u64 = 1_735_689_600_000;

/// Plays a case's messages on fresh memory state, each at its `at`, and checks the last
/// decision; returns the problems and the last answer.
fn play_case(ruleset: &Ruleset, case: &Case) -> (Vec<String>, Vec<u8>) {
    let store = MemoryState::new(crate::state::DEFAULT_MAX_KEYS, crate::state::DEFAULT_RETENTION_MS);
    let mut last = None;
    for (message, at) in &case.messages {
        last = Some(decide_now(ruleset, message, CASE_START_MS + at, &store));
    }
    match last {
        Some(Outcome::Decided(decision)) => (check_case(case, &decision), decision.answer_json()),
        Some(Outcome::Resent(answer)) => {
            let verdict = match answer.as_slice() {
                b"{}" => Verdict::Allow,
                crate::protocol::DROP_BODY => Verdict::Drop,
                _ => Verdict::Tag,
            };
            let mut problems = Vec::new();
            if let Some(want) = case.expect.action.map(expected_verdict)
                && want != verdict
            {
                problems.push(format!(
                    "expected action {}, got {} (a resend: the first answer)",
                    want.name(),
                    verdict.name()
                ));
            }
            (problems, answer)
        }
        None => (vec!["the case has no message".to_owned()], Vec::new()),
    }
}

fn expected_verdict(action: ExpectedAction) -> Verdict {
    match action {
        ExpectedAction::Allow => Verdict::Allow,
        ExpectedAction::Tag => Verdict::Tag,
        ExpectedAction::Drop => Verdict::Drop,
    }
}

fn check_case(case: &Case, decision: &Decision<'_>) -> Vec<String> {
    let expect = &case.expect;
    let mut problems = Vec::new();
    if let Some(action) = expect.action {
        let want = expected_verdict(action);
        if decision.verdict != want {
            problems.push(format!("expected action {}, got {}", want.name(), decision.verdict.name()));
        }
    }
    let sorted = |list: &[String]| -> Vec<String> {
        let mut list = list.to_vec();
        list.sort_unstable();
        list.dedup();
        list
    };
    let tags = decision.tags();
    if let Some(want) = &expect.tags {
        let want = sorted(want);
        if want != tags {
            problems.push(format!("expected tags {want:?}, got {tags:?}"));
        }
    }
    if let Some(want) = &expect.rules {
        let want = sorted(want);
        let rules = decision.rule_ids();
        if want != rules {
            problems.push(format!("expected rules {want:?}, got {rules:?}"));
        }
    }
    if let Some(want) = expect.score
        && want != decision.score
    {
        problems.push(format!("expected score {want}, got {}", decision.score));
    }
    if let Some(want) = &expect.masked_text
        && Some(want) != decision.masked_text.as_ref()
    {
        problems.push(format!("expected masked_text {want:?}, got {:?}", decision.masked_text));
    }
    problems
}
