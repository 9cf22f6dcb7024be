//! `inflight replay`: run recorded messages through a rules folder and summarize the decisions;
//! with `--against`, run them through a second folder too and show every message whose answer
//! would change (docs/cli.md).
//!
//! The input is streamed (see [`super::jsonl`] for the line shapes): one line in memory at a time,
//! so a day of traffic replays in constant memory apart from the reported errors and differences.
//!
//! Tallies and differences come from [`crate::replay`], shared with the console's Draft replay.
//!
//! Choices the contract leaves open (more in [`crate::replay`]):
//! - `messages` counts the lines evaluated. A webhook body with another trigger than
//!   `before_message` is not evaluated and not counted; the human report names how many there
//!   were, and `--json` says it on stderr so stdout stays the documented object.
//! - `rules` lists every rule of `--rules`, those that never hit with 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::RulesArg;
use super::jsonl::{Entry, Input, LineError, Logged, parse_line_logged};
use crate::message::Attribute;
use crate::protocol::MessageView;
use crate::replay::{Difference, DifferenceJson, Summary, Tally, cut_text, digest, same_answer};
use crate::rules::{Decision, Ruleset, Verdict};
use crate::state::{DEFAULT_MAX_KEYS, DEFAULT_RETENTION_MS, MemoryState, Outcome, decide_now};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub rules: RulesArg,
    /// A second rules folder: show every message whose answer would differ under it.
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
    /// Print one JSON report instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// JSON lines to replay (`-` reads stdin).
    pub file: PathBuf,
}

/// How many errors the human report lists before saying how many more there are.
const ERRORS_SHOWN: usize = 20;

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let before = args.rules.load()?;
    let after = match &args.against {
        Some(dir) => Some(RulesArg { dir: dir.clone() }.load()?),
        None => None,
    };
    let mut input = Input::open(&args.file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    let mut before_tally = Tally::new(&before.ruleset);
    let mut after_tally = after.as_ref().map(|a| Tally::new(&a.ruleset));
    let mut report = Report::default();
    // Each rule set counts on its own fresh state, as if it had served this traffic.
    let before_state = Replayer::default();
    let after_state = Replayer::default();
    let mut clock = Clock::default();
    while let Some((line, text)) = input.next_line().with_context(|| format!("cannot read {}", args.file.display()))? {
        let (msg, logged) = match text.and_then(parse_line_logged) {
            Ok((Entry::Message(msg), logged)) => (msg, logged),
            Ok((Entry::NotEvaluated(trigger), _)) => {
                *report.not_evaluated.entry(trigger.as_deref().unwrap_or("(none)").to_owned()).or_default() += 1;
                continue;
            }
            Err(error) => {
                report.errors.push(LineError { line, error });
                continue;
            }
        };
        report.messages += 1;
        let at_ms = clock.time_of(&msg, logged);
        let old = before_state.decide(&before.ruleset, &msg, at_ms, logged);
        before_tally.count(&old);
        if let Some(tally) = after_tally.as_mut() {
            let new = after_state.decide(tally.ruleset, &msg, at_ms, logged);
            tally.count(&new);
            if !same_answer(&old, &new) {
                let diff = Difference::new(line, &old, &new);
                report.summary.count(&diff);
                if args.json {
                    report.differences.push(diff.to_json(&old, &new));
                } else {
                    out.write_all(describe_difference(&diff, &msg, &old, &new).as_bytes())?;
                }
            }
        }
    }

    if args.json {
        if !report.not_evaluated.is_empty() {
            eprintln!(
                "note: {} line(s) with a trigger other than before_message were not evaluated ({})",
                report.not_evaluated.values().sum::<u64>(),
                report.triggers()
            );
        }
        serde_json::to_writer(&mut out, &report.to_json(&before_tally, after_tally.is_some()))?;
        writeln!(out)?;
    } else {
        let sources = Sources { file: &args.file, rules: &args.rules.dir, against: args.against.as_deref() };
        out.write_all(report.describe(&sources, &before_tally, after_tally.as_ref()).as_bytes())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The memory state one rule set counts on during a replay.
struct Replayer {
    store: MemoryState,
}

impl Default for Replayer {
    fn default() -> Self {
        Replayer { store: MemoryState::new(DEFAULT_MAX_KEYS, DEFAULT_RETENTION_MS) }
    }
}

impl Replayer {
    /// Decides as the service did: on this rule set's state, at the line's time; a line the
    /// service decided while its store was unavailable is decided without state again.
    fn decide<'r>(&self, ruleset: &'r Ruleset, msg: &MessageView<'_>, at_ms: u64, logged: Logged) -> Decision<'r> {
        if logged.degraded && ruleset.uses_state() {
            return ruleset.prepare(msg, at_ms).finish(msg, None);
        }
        match decide_now(ruleset, msg, at_ms, &self.store) {
            Outcome::Decided(decision) => decision,
            Outcome::Resent(answer) => ruleset.resent_decision(&answer),
        }
    }
}

/// The time of each line: its `ts` (a decision-log line), else its `sentAt` when plausible,
/// else the time of the line before (0 before any): file order is the order of events.
#[derive(Default)]
struct Clock {
    last_ms: u64,
}

/// `sentAt` outside these Unix seconds (before 2001-09-09, after 2199) is taken for a broken
/// client clock and ignored.
const PLAUSIBLE_SENT_AT: std::ops::Range<u64> = 1_000_000_000_000..7_258_118_400_000;

impl Clock {
    fn time_of(&mut self, msg: &MessageView<'_>, logged: Logged) -> u64 {
        let sent = msg.unix_ms(Attribute::SentAt).filter(|ms| PLAUSIBLE_SENT_AT.contains(ms));
        if let Some(at) = logged.ts_ms.or(sent) {
            self.last_ms = at;
        }
        self.last_ms
    }
}

/// The human lines for one difference: where, what was said, both answers, the rule change.
fn describe_difference(diff: &Difference, msg: &MessageView<'_>, old: &Decision<'_>, new: &Decision<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "line {}  {}", diff.line, abbreviate(msg.text.as_deref(), 72));
    let (was, now) = (digest(old), digest(new));
    if was == now {
        // Same verdict, score, tags and words: the difference is in a position or field.
        let _ = writeln!(s, "    before  {}", String::from_utf8_lossy(&old.answer_json()));
        let _ = writeln!(s, "    after   {}", String::from_utf8_lossy(&new.answer_json()));
    } else {
        let _ = writeln!(s, "    before  {was}");
        let _ = writeln!(s, "    after   {now}");
    }
    if !diff.rules_added.is_empty() || !diff.rules_removed.is_empty() {
        let added = diff.rules_added.iter().map(|r| format!("+{r}"));
        let removed = diff.rules_removed.iter().map(|r| format!("-{r}"));
        let _ = writeln!(s, "    rules   {}", added.chain(removed).collect::<Vec<_>>().join(" "));
    }
    s
}

/// The text quoted on one line, cut to `max` characters.
fn abbreviate(text: Option<&str>, max: usize) -> String {
    let Some(text) = text else { return "(no text)".to_owned() };
    format!("{:?}", cut_text(text, max))
}

#[derive(Default)]
struct Report {
    messages: u64,
    /// Lines not evaluated, by trigger.
    not_evaluated: BTreeMap<String, u64>,
    errors: Vec<LineError>,
    differences: Vec<DifferenceJson>,
    summary: Summary,
}

/// `--json`: the object of docs/cli.md.
#[derive(Serialize)]
struct ReportJson<'a> {
    messages: u64,
    errors: Vec<ErrorJson<'a>>,
    actions: ActionsJson,
    rules: BTreeMap<&'a str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    differences: Option<&'a [DifferenceJson]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a Summary>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    line: usize,
    error: &'a str,
}

#[derive(Serialize)]
struct ActionsJson {
    allow: u64,
    tag: u64,
    drop: u64,
}

/// Where the report's inputs came from, for its header.
struct Sources<'a> {
    file: &'a Path,
    rules: &'a Path,
    against: Option<&'a Path>,
}

impl Report {
    /// `after_message 2, message_delivery_receipt 1`.
    fn triggers(&self) -> String {
        self.not_evaluated.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ")
    }

    fn to_json<'a>(&'a self, tally: &'a Tally<'_>, compared: bool) -> ReportJson<'a> {
        let count = |v: Verdict| tally.actions.get(v.index()).copied().unwrap_or(0);
        let (allow, tag, drop) = (count(Verdict::Allow), count(Verdict::Tag), count(Verdict::Drop));
        ReportJson {
            messages: self.messages,
            errors: self.errors.iter().map(|e| ErrorJson { line: e.line, error: &e.error }).collect(),
            actions: ActionsJson { allow, tag, drop },
            rules: tally.ruleset.rules().iter().zip(&tally.hits).map(|(r, &n)| (r.id.as_str(), n)).collect(),
            differences: compared.then_some(self.differences.as_slice()),
            summary: compared.then_some(&self.summary),
        }
    }

    /// The human summary: inputs, decisions by action, hits by rule, differences, errors.
    fn describe(&self, sources: &Sources<'_>, before: &Tally<'_>, after: Option<&Tally<'_>>) -> String {
        let mut s = String::new();
        if after.is_some() && self.summary.total() > 0 {
            s.push('\n');
        }
        let set = |t: &Tally<'_>, dir: &Path| {
            format!("{} (ruleset {}, {} rules)", dir.display(), t.ruleset.hash(), t.ruleset.rules().len())
        };
        let _ = writeln!(s, "rules     {}", set(before, sources.rules));
        if let (Some(t), Some(dir)) = (after, sources.against) {
            let _ = writeln!(s, "against   {}", set(t, dir));
        }
        let _ = write!(
            s,
            "input     {}: {} messages, {} errors",
            sources.file.display(),
            thousands(self.messages),
            thousands(self.errors.len() as u64)
        );
        if !self.not_evaluated.is_empty() {
            let n = self.not_evaluated.values().sum();
            let _ = write!(s, ", {} not evaluated (trigger {})", thousands(n), self.triggers());
        }
        s.push_str("\n\n");

        s.push_str(&actions_table(self.messages, before, after));
        s.push('\n');
        s.push_str(&rules_table(before, after));

        if after.is_some() {
            let sum = &self.summary;
            let _ = writeln!(
                s,
                "\ndifferences: {} messages answered differently (newly dropped {}, newly allowed {}, otherwise changed {})",
                thousands(sum.total()),
                thousands(sum.newly_dropped),
                thousands(sum.newly_allowed),
                thousands(sum.changed)
            );
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\nerrors (lines skipped):");
            for e in self.errors.iter().take(ERRORS_SHOWN) {
                let _ = writeln!(s, "  {e}");
            }
            if self.errors.len() > ERRORS_SHOWN {
                let _ = writeln!(s, "  … and {} more (--json lists all)", self.errors.len() - ERRORS_SHOWN);
            }
        }
        s
    }
}

fn actions_table(messages: u64, before: &Tally<'_>, after: Option<&Tally<'_>>) -> String {
    let mut s = String::new();
    let pct = |n: u64| if messages == 0 { 0.0 } else { n as f64 * 100.0 / messages as f64 };
    match after {
        None => {
            let _ = writeln!(s, "decisions");
            for (name, n) in Verdict::ALL.map(Verdict::name).iter().zip(before.actions) {
                let _ = writeln!(s, "  {name:<8}{:>12}  {:>5.1}%", thousands(n), pct(n));
            }
        }
        Some(after) => {
            let _ = writeln!(s, "decisions {:>12}  {:>12}", "before", "after");
            for ((name, b), a) in Verdict::ALL.map(Verdict::name).iter().zip(before.actions).zip(after.actions) {
                let _ = writeln!(s, "  {name:<8}{:>12}  {:>12}", thousands(b), thousands(a));
            }
        }
    }
    s
}

/// Messages hit per rule, most hit first; rules that never hit are named on one line.
fn rules_table(before: &Tally<'_>, after: Option<&Tally<'_>>) -> String {
    struct Row<'a> {
        id: &'a str,
        mode: String,
        before: Option<u64>,
        after: Option<u64>,
    }
    let mut ids: Vec<&str> = before.ruleset.rules().iter().map(|r| r.id.as_str()).collect();
    if let Some(after) = after {
        ids.extend(after.ruleset.rules().iter().map(|r| r.id.as_str()).filter(|id| !before.index.contains_key(id)));
    }
    let mut rows: Vec<Row<'_>> = ids
        .into_iter()
        .map(|id| {
            let (old, new) = (before.mode_of(id), after.and_then(|a| a.mode_of(id)));
            let mode = match (old, new) {
                (Some(o), Some(n)) if o != n => format!("{}→{}", o.name(), n.name()),
                (Some(m), _) | (None, Some(m)) => m.name().to_owned(),
                (None, None) => String::new(),
            };
            Row { id, mode, before: before.hits_of(id), after: after.and_then(|a| a.hits_of(id)) }
        })
        .collect();
    let (hit, never): (Vec<Row<'_>>, Vec<Row<'_>>) =
        rows.drain(..).partition(|r| r.before.unwrap_or(0) > 0 || r.after.unwrap_or(0) > 0);
    let mut hit = hit;
    hit.sort_by(|a, b| {
        (b.before.unwrap_or(0), b.after.unwrap_or(0))
            .cmp(&(a.before.unwrap_or(0), a.after.unwrap_or(0)))
            .then(a.id.cmp(b.id))
    });

    let mut s = String::new();
    let width = hit.iter().map(|r| r.id.chars().count()).max().unwrap_or(0).max(20);
    let count = |n: Option<u64>| n.map_or("-".to_owned(), thousands);
    if after.is_some() {
        let _ = writeln!(s, "hits by rule (messages; shadow included)");
        let _ = writeln!(s, "  {:<width$}  {:<15} {:>10}  {:>10}", "rule", "mode", "before", "after");
    } else {
        let _ = writeln!(s, "hits by rule (messages; shadow included)");
        let _ = writeln!(s, "  {:<width$}  {:<15} {:>10}", "rule", "mode", "hits");
    }
    if hit.is_empty() {
        let _ = writeln!(s, "  (no rule hit)");
    }
    for r in &hit {
        let _ = write!(s, "  {:<width$}  {:<15} {:>10}", r.id, r.mode, count(r.before));
        if after.is_some() {
            let _ = write!(s, "  {:>10}", count(r.after));
        }
        s.push('\n');
    }
    if !never.is_empty() {
        let names: Vec<&str> = never.iter().map(|r| r.id).collect();
        let _ = writeln!(s, "never hit: {}", names.join(", "));
    }
    s
}

/// `1234567` → `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (123_456, "123,456"), (1_234_567, "1,234,567")];
        for (n, want) in cases {
            assert_eq!(thousands(n), want);
        }
    }

    #[test]
    fn abbreviate_cuts_by_characters() {
        let cases = [
            (None, 5, "(no text)"),
            (Some("short"), 5, "\"short\""),
            (Some("longer text"), 6, "\"longer…\""),
            (Some("ééééééé"), 3, "\"ééé…\""),
            (Some("a\nb"), 5, "\"a\\nb\""),
        ];
        for (text, max, want) in cases {
            assert_eq!(abbreviate(text, max), want, "{text:?}");
        }
    }
}
