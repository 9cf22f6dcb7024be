//! Runs the `examples` and `[[case]]`s that rule files carry and reports every failure with an
//! explanation. Shared by `inflight test` and the test suite, so both judge rules the same way.

use std::path::PathBuf;

use super::model::ExpectedAction;
use super::normalize::normalize;
use super::{Case, Decision, Ruleset, Verdict};
use crate::error::Position;

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
        let decision = ruleset.evaluate(&case.message);
        let problems = check_case(case, &decision);
        if !problems.is_empty() {
            report.failures.push(Failure {
                file: case.file.clone(),
                position: case.position,
                subject: format!("case \"{}\"", case.name),
                message: format!(
                    "{}; answer was {}",
                    problems.join("; "),
                    String::from_utf8_lossy(&decision.answer_json())
                ),
            });
        }
    }
    report
}

fn check_case(case: &Case, decision: &Decision<'_>) -> Vec<String> {
    let expect = &case.expect;
    let mut problems = Vec::new();
    if let Some(action) = expect.action {
        let want = match action {
            ExpectedAction::Allow => Verdict::Allow,
            ExpectedAction::Tag => Verdict::Tag,
            ExpectedAction::Drop => Verdict::Drop,
        };
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
