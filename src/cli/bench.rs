//! `inflight bench`: time the evaluation of each message in process (docs/cli.md).
//!
//! The messages are parsed once and kept in memory (see [`super::jsonl`] for the line shapes), so
//! only the engine is timed. A timed sample is one message's `evaluate` plus `answer_json`: the
//! work the service does between parsing a body and writing the answer. After warm-up passes
//! (filling caches and the per-thread scratch), whole passes over the messages run until
//! `--seconds` of measured time have gone by. `messages_per_sec` is the number of samples over
//! their summed time (one core, timer overhead excluded as far as `Instant` allows); p50/p99/max
//! are nearest-rank over every sample.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::RulesArg;
use super::jsonl::{Entry, Input, parse_line};
use super::replay::thousands;
use crate::protocol::MessageView;
use crate::rules::Ruleset;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub rules: RulesArg,
    /// Measured time to reach, in seconds (whole passes; at least one).
    #[arg(long, default_value_t = 2.0, value_parser = seconds)]
    pub seconds: f64,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// JSON lines of messages (`-` reads stdin).
    pub file: PathBuf,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}

/// Samples kept at most; a pass that would pass it is the last, so memory stays bounded.
const MAX_SAMPLES: usize = 20_000_000;

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.rules.load()?;
    let ruleset = &loaded.ruleset;
    let messages = read_messages(&args.file)?;
    if messages.is_empty() {
        anyhow::bail!("no message to time in {}", args.file.display());
    }
    let target = Duration::from_secs_f64(args.seconds);

    // Warm up for a quarter of the measured time, and at least one pass.
    let warm_start = Instant::now();
    let mut warm_passes = 0u64;
    while warm_passes == 0 || warm_start.elapsed() < target / 4 {
        for msg in &messages {
            black_box(ruleset.evaluate(black_box(msg)).answer_json());
        }
        warm_passes += 1;
    }

    let mut samples: Vec<u64> = Vec::with_capacity(messages.len().min(MAX_SAMPLES));
    let mut measured = Duration::ZERO;
    let mut passes = 0u64;
    while passes == 0 || (measured < target && samples.len() + messages.len() <= MAX_SAMPLES) {
        measured += time_pass(ruleset, &messages, &mut samples);
        passes += 1;
    }
    let stats = Stats::of(&mut samples);

    if args.json {
        outln!("{}", serde_json::to_string(&stats.to_json(messages.len()))?);
    } else {
        outln!(
            "ruleset      {} ({} rules, {} keywords, {} regexes) from {}",
            ruleset.hash(),
            ruleset.rules().len(),
            thousands(ruleset.keyword_count() as u64),
            ruleset.regex_count(),
            args.rules.dir.display()
        );
        outln!("messages     {} from {}", thousands(messages.len() as u64), args.file.display());
        outln!(
            "passes       {passes} measured ({} evaluations, {:.2} s) after {warm_passes} warm-up",
            thousands(stats.count),
            measured.as_secs_f64()
        );
        outln!("throughput   {} messages/s on one core", thousands(stats.per_sec().round() as u64));
        outln!(
            "per message  p50 {} ns   p99 {} ns   max {} ns   (evaluate + answer JSON)",
            thousands(stats.p50),
            thousands(stats.p99),
            thousands(stats.max)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every evaluable line, owned; bad lines and other triggers are reported on stderr and left out.
fn read_messages(path: &std::path::Path) -> anyhow::Result<Vec<MessageView<'static>>> {
    let mut input = Input::open(path)?;
    let mut messages = Vec::new();
    let mut not_evaluated = 0u64;
    while let Some((line, text)) = input.next_line().with_context(|| format!("cannot read {}", path.display()))? {
        match text.and_then(parse_line) {
            Ok(Entry::Message(msg)) => messages.push(msg.into_owned()),
            Ok(Entry::NotEvaluated(_)) => not_evaluated += 1,
            Err(error) => eprintln!("{}:{line}: {error} (skipped)", path.display()),
        }
    }
    if not_evaluated > 0 {
        eprintln!("note: {not_evaluated} line(s) with a trigger other than before_message left out");
    }
    Ok(messages)
}

/// One pass, each message timed on its own; returns the summed sample time.
fn time_pass(ruleset: &Ruleset, messages: &[MessageView<'static>], samples: &mut Vec<u64>) -> Duration {
    let mut total = Duration::ZERO;
    for msg in messages {
        let start = Instant::now();
        black_box(ruleset.evaluate(black_box(msg)).answer_json());
        let took = start.elapsed();
        total += took;
        samples.push(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    }
    total
}

struct Stats {
    count: u64,
    total_ns: u128,
    p50: u64,
    p99: u64,
    max: u64,
}

#[derive(Serialize)]
struct StatsJson {
    messages: usize,
    messages_per_sec: f64,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

impl Stats {
    /// Nearest-rank percentiles; sorts `samples`.
    fn of(samples: &mut [u64]) -> Stats {
        samples.sort_unstable();
        let rank = |q: f64| {
            let n = samples.len();
            let i = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
            samples.get(i).copied().unwrap_or(0)
        };
        Stats {
            count: samples.len() as u64,
            total_ns: samples.iter().map(|&n| u128::from(n)).sum(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or(0),
        }
    }

    fn per_sec(&self) -> f64 {
        // A clock too coarse to see a message counts each as 1 ns rather than dividing by zero.
        self.count as f64 * 1e9 / (self.total_ns.max(1) as f64)
    }

    fn to_json(&self, messages: usize) -> StatsJson {
        StatsJson {
            messages,
            messages_per_sec: (self.per_sec() * 10.0).round() / 10.0,
            p50_ns: self.p50,
            p99_ns: self.p99,
            max_ns: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let cases: &[(&[u64], [u64; 3])] = &[
            (&[5], [5, 5, 5]),
            (&[3, 1, 2], [2, 3, 3]),
            (&[10, 20, 30, 40], [20, 40, 40]),
            (&(1..=100).collect::<Vec<_>>(), [50, 99, 100]),
            (&(1..=1000).rev().collect::<Vec<_>>(), [500, 990, 1000]),
        ];
        for (samples, [p50, p99, max]) in cases {
            let mut s = samples.to_vec();
            let stats = Stats::of(&mut s);
            assert_eq!((stats.p50, stats.p99, stats.max), (*p50, *p99, *max), "{samples:?}");
            assert_eq!(stats.count, samples.len() as u64);
        }
    }

    #[test]
    fn seconds_are_checked() {
        for good in ["0", "0.5", "2", "3600"] {
            assert!(seconds(good).is_ok(), "{good}");
        }
        for bad in ["-1", "nan", "inf", "x", "3601"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }
}
