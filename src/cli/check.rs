//! `inflight check`: load and compile; print every error and warning with file:line.

use std::process::ExitCode;

use super::RulesArg;
use crate::rules::{Rule, load_dir};

/// What a rule counts or reads, in one phrase: `rate 5 per sender within 10s`, ….
fn describe_state(rule: &Rule, counters: &[crate::rules::CounterSpec]) -> String {
    let mut parts = Vec::new();
    let secs = |ms: u64| if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") };
    if let Some(rate) = rule.rate {
        parts.push(format!(
            "rate: more than {} per {} within {}",
            rate.more_than,
            rate.per.name(),
            secs(rate.within_ms)
        ));
    }
    if let Some(repeat) = rule.repeat {
        let per = if repeat.per == crate::rules::Per::App { "any" } else { repeat.per.name() };
        parts.push(format!(
            "repeat: more than {} per {per} within {} (similar {})",
            repeat.more_than,
            secs(repeat.within_ms),
            repeat.similar
        ));
    }
    if rule.needs_state() && rule.rate.is_none() && rule.repeat.is_none() {
        parts.push("reads state in its conditions".to_owned());
    }
    if !rule.counts.is_empty() {
        let names: Vec<String> = rule
            .counts
            .iter()
            .map(|(c, n)| format!("{} +{n}", counters.get(*c).map_or("?", |c| c.name.as_str())))
            .collect();
        parts.push(format!("counts: {}", names.join(", ")));
    }
    parts.join("; ")
}

pub fn run(args: &RulesArg) -> anyhow::Result<ExitCode> {
    match load_dir(&args.dir) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                outln!("{w}");
            }
            let rs = &loaded.ruleset;
            for rule in rs.rules().iter().filter(|r| r.uses_state()) {
                outln!("state: rule \"{}\" ({}) {}", rule.id, rule.file.display(), describe_state(rule, rs.counters()));
            }
            outln!(
                "ok: {} rules, {} keywords, {} regexes, {} cases in {} files; ruleset {}{}",
                rs.rules().len(),
                rs.keyword_count(),
                rs.regex_count(),
                rs.case_count(),
                rs.files().len(),
                rs.hash(),
                if loaded.warnings.is_empty() {
                    String::new()
                } else {
                    format!(" ({} warnings)", loaded.warnings.len())
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            for d in &err.0 {
                outln!("{d}");
            }
            outln!("failed: {} error(s) in {}", err.error_count(), args.dir.display());
            Ok(ExitCode::from(1))
        }
    }
}
