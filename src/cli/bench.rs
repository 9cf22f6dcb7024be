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

// The reference lives with the benches (`floor/*` in benches/engine.rs) and is compiled here too,
// so `--compare` measures the very same kernel.
#[path = "../../benches/floor.rs"]
mod floor;
use floor::{Floor, FloorScratch};

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
    /// Also time the floor kernel (the simplest engine that finds the same rules:
    /// `benches/floor.rs`) on the same messages, check that it finds the same rules, and print
    /// inflight's time over the floor's.
    #[arg(long)]
    pub compare: bool,
    /// JSON lines of messages (`-` reads stdin).
    pub file: PathBuf,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}

/// Samples kept at most per engine; a pass that would pass it is the last, so memory stays
/// bounded.
const MAX_SAMPLES: usize = 20_000_000;

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.rules.load()?;
    let ruleset = &loaded.ruleset;
    let messages = read_messages(&args.file)?;
    if messages.is_empty() {
        anyhow::bail!("no message to time in {}", args.file.display());
    }
    let floor = match args.compare {
        true => Some(Floor::new(ruleset).map_err(|e| anyhow::anyhow!("--compare: {e}"))?),
        false => None,
    };
    let agreement = floor.as_ref().map(|floor| Agreement::of(ruleset, floor, &messages));
    let mut engines = vec![Engine {
        name: "inflight",
        what: "evaluate + answer JSON",
        run: Box::new(|msg| {
            black_box(ruleset.evaluate(black_box(msg)).answer_json());
        }),
    }];
    if let Some(floor) = &floor {
        let (mut scratch, mut hit) = (FloorScratch::default(), Vec::new());
        engines.push(Engine {
            name: "floor",
            what: "basic + keywords + regex set",
            run: Box::new(move |msg| {
                floor.rules_hit(black_box(msg.text.as_deref().unwrap_or_default()), &mut scratch, &mut hit);
                black_box(hit.len());
            }),
        });
    }
    let hit = agreement.as_ref().map(|a| a.floor_hit.as_slice());
    let timed = time_engines(&mut engines, &messages, hit, Duration::from_secs_f64(args.seconds));
    if args.json {
        outln!("{}", serde_json::to_string(&json_report(&timed, agreement.as_ref(), messages.len()))?);
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
        for t in &timed {
            print_timed(t, timed.len() > 1)?;
        }
        if let (Some(agreement), [ours, floor]) = (&agreement, timed.as_slice()) {
            print_comparison(ours, floor, agreement, messages.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One way of deciding a message, timed.
struct Engine<'a> {
    name: &'static str,
    /// What one sample covers.
    what: &'static str,
    run: Box<dyn FnMut(&MessageView<'static>) + 'a>,
}

/// An engine's samples.
struct Timed {
    name: &'static str,
    what: &'static str,
    stats: Stats,
    /// Mean ns per message over the messages without a hit and over those with one, when the
    /// floor said which hit.
    by_hit: Option<[f64; 2]>,
    passes: u64,
    warm_passes: u64,
    measured: Duration,
}

/// Warms every engine up for a quarter of `target` (at least one pass each), then times whole
/// passes, the engines taking turns pass by pass (so machine noise falls on all of them alike),
/// each until it has `target` of measured time.
fn time_engines(
    engines: &mut [Engine<'_>],
    messages: &[MessageView<'static>],
    hit: Option<&[bool]>,
    target: Duration,
) -> Vec<Timed> {
    let mut warm_passes = vec![0u64; engines.len()];
    for (engine, passes) in engines.iter_mut().zip(&mut warm_passes) {
        let warm_start = Instant::now();
        while *passes == 0 || warm_start.elapsed() < target / 4 {
            messages.iter().for_each(|msg| (engine.run)(msg));
            *passes += 1;
        }
    }
    let mut samples: Vec<Vec<u64>> =
        engines.iter().map(|_| Vec::with_capacity(messages.len().min(MAX_SAMPLES))).collect();
    let mut measured = vec![Duration::ZERO; engines.len()];
    let mut passes = vec![0u64; engines.len()];
    loop {
        let mut ran = false;
        for (((engine, samples), measured), passes) in
            engines.iter_mut().zip(&mut samples).zip(&mut measured).zip(&mut passes)
        {
            if *passes == 0 || (*measured < target && samples.len() + messages.len() <= MAX_SAMPLES) {
                *measured += time_pass(&mut engine.run, messages, samples);
                *passes += 1;
                ran = true;
            }
        }
        if !ran {
            break;
        }
    }
    engines
        .iter()
        .zip(samples.iter_mut().zip(measured))
        .zip(warm_passes.into_iter().zip(passes))
        .map(|((engine, (samples, measured)), (warm_passes, passes))| Timed {
            name: engine.name,
            what: engine.what,
            by_hit: hit.map(|hit| mean_by_hit(samples, hit)),
            stats: Stats::of(samples),
            passes,
            warm_passes,
            measured,
        })
        .collect()
}

/// Mean of `samples` (message `i % hit.len()` each) over the messages without and with a hit.
fn mean_by_hit(samples: &[u64], hit: &[bool]) -> [f64; 2] {
    let mut sums = [(0u128, 0u64); 2];
    for (sample, &hit) in samples.iter().zip(hit.iter().cycle()) {
        let sum = &mut sums[usize::from(hit)];
        sum.0 += u128::from(*sample);
        sum.1 += 1;
    }
    sums.map(|(total, count)| total as f64 / count.max(1) as f64)
}

fn print_timed(t: &Timed, named: bool) -> std::io::Result<()> {
    let name = if named { format!("{:<10}", t.name) } else { String::new() };
    outln!(
        "{name}passes       {} measured ({} evaluations, {:.2} s) after {} warm-up",
        t.passes,
        thousands(t.stats.count),
        t.measured.as_secs_f64(),
        t.warm_passes
    );
    outln!("{name}throughput   {} messages/s on one core", thousands(t.stats.per_sec().round() as u64));
    outln!(
        "{name}per message  p50 {} ns   p99 {} ns   max {} ns   ({})",
        thousands(t.stats.p50),
        thousands(t.stats.p99),
        thousands(t.stats.max),
        t.what
    );
    Ok(())
}

fn print_comparison(ours: &Timed, floor: &Timed, agreement: &Agreement, messages: usize) -> std::io::Result<()> {
    let difference = agreement.first_difference.as_deref().map(|d| format!("; first difference: {d}"));
    outln!(
        "same rules   {} of {} messages{}",
        thousands(agreement.same as u64),
        thousands(messages as u64),
        difference.unwrap_or_default()
    );
    outln!(
        "ratio        inflight ÷ floor: {:.2} in time per message ({:.2} at p50)",
        ours.stats.mean_ns() / floor.stats.mean_ns(),
        ours.stats.p50 as f64 / floor.stats.p50.max(1) as f64
    );
    if let (Some(ours), Some(floor)) = (ours.by_hit, floor.by_hit) {
        let hits = agreement.floor_hit.iter().filter(|&&h| h).count();
        for (i, (name, count)) in [("no rule hit", messages - hits), ("a rule hit", hits)].into_iter().enumerate() {
            outln!(
                "  {name:<12} {} messages: inflight {:.0} ns, floor {:.0} ns, ratio {:.2}",
                thousands(count as u64),
                ours[i],
                floor[i],
                ours[i] / floor[i].max(1.0)
            );
        }
    }
    Ok(())
}

fn json_report(timed: &[Timed], agreement: Option<&Agreement>, messages: usize) -> serde_json::Value {
    let mut report = match timed.first() {
        Some(ours) => serde_json::to_value(ours.stats.to_json(messages)).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    if let (Some(agreement), [ours, floor], serde_json::Value::Object(map)) = (agreement, timed, &mut report) {
        let ratio = ours.stats.mean_ns() / floor.stats.mean_ns();
        map.insert("floor".into(), serde_json::to_value(floor.stats.to_json(messages)).unwrap_or_default());
        map.insert("ratio_to_floor".into(), serde_json::json!((ratio * 100.0).round() / 100.0));
        map.insert("same_rules".into(), serde_json::json!(agreement.same));
    }
    report
}

/// Whether inflight and the floor kernel find the same rules on each message's text.
struct Agreement {
    /// Messages on which they agree.
    same: usize,
    /// The first message on which they do not, described.
    first_difference: Option<String>,
    /// Per message: whether the floor found a rule.
    floor_hit: Vec<bool>,
}

impl Agreement {
    /// Compares on the text alone, since the floor has no conditions: inflight decides a
    /// message holding just the text, and every rule that hit (enforced or shadow) counts.
    fn of(ruleset: &Ruleset, floor: &Floor, messages: &[MessageView<'static>]) -> Agreement {
        let mut scratch = FloorScratch::default();
        let (mut floor_rules, mut same, mut first_difference) = (Vec::new(), 0, None);
        let mut floor_hit = Vec::with_capacity(messages.len());
        for msg in messages {
            let text = msg.text.as_deref().unwrap_or_default();
            floor.rules_hit(text, &mut scratch, &mut floor_rules);
            floor_hit.push(!floor_rules.is_empty());
            let decision = ruleset.evaluate(&MessageView::with_text(text));
            let mut ours: Vec<u32> = decision
                .hits
                .iter()
                .filter_map(|h| ruleset.rules().iter().position(|r| std::ptr::eq(r, h.rule)))
                .filter_map(|i| u32::try_from(i).ok())
                .collect();
            ours.sort_unstable();
            if ours == floor_rules {
                same += 1;
            } else if first_difference.is_none() {
                let ids = |rules: &[u32]| -> Vec<&str> {
                    rules.iter().filter_map(|&i| ruleset.rules().get(i as usize)).map(|r| r.id.as_str()).collect()
                };
                first_difference = Some(format!("{text:?}: inflight {:?}, floor {:?}", ids(&ours), ids(&floor_rules)));
            }
        }
        Agreement { same, first_difference, floor_hit }
    }
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
fn time_pass(
    run: &mut dyn FnMut(&MessageView<'static>),
    messages: &[MessageView<'static>],
    samples: &mut Vec<u64>,
) -> Duration {
    let mut total = Duration::ZERO;
    for msg in messages {
        let start = Instant::now();
        run(black_box(msg));
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

    /// Mean time per message, in nanoseconds.
    fn mean_ns(&self) -> f64 {
        self.total_ns as f64 / self.count.max(1) as f64
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
