//! `inflight check`: load and compile; print every error and warning with file:line.

use std::process::ExitCode;

use super::RulesArg;
use crate::rules::load_dir;

pub fn run(args: &RulesArg) -> anyhow::Result<ExitCode> {
    match load_dir(&args.dir) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{w}");
            }
            let rs = &loaded.ruleset;
            println!(
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
                println!("{d}");
            }
            println!("failed: {} error(s) in {}", err.error_count(), args.dir.display());
            Ok(ExitCode::from(1))
        }
    }
}
