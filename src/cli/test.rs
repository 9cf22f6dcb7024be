//! `inflight test`: run every `examples` and `[[case]]`; print failures with the explanation.

use std::process::ExitCode;

use super::RulesArg;
use crate::rules::selftest;

pub fn run(args: &RulesArg) -> anyhow::Result<ExitCode> {
    let loaded = args.load()?;
    let report = selftest::run(&loaded.ruleset);
    for failure in &report.failures {
        outln!("FAIL {failure}");
    }
    let total = report.examples_run + report.cases_run;
    let failed = report.failures.len();
    outln!(
        "{} passed, {failed} failed ({} examples, {} cases; ruleset {})",
        total - failed,
        report.examples_run,
        report.cases_run,
        loaded.ruleset.hash()
    );
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
