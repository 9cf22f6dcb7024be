//! What the overview shows over time, taken from counters the service keeps anyway: a sample of
//! the decision and rule-hit counters at the start of every minute (per-minute figures are the
//! differences), and the last reloads as the reload callback reports them. Nothing here is on
//! the request path.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::reload::{ReloadOutcome, ReloadReport, Trigger};
use crate::server::Metrics;
use crate::time::rfc3339;

/// Minutes the charts cover.
pub const MINUTES: u64 = 60;
/// Reloads the history keeps.
const RELOADS_KEPT: usize = 50;

/// Cumulative counters at one instant: decisions by action, messages hit by (rule, mode).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// By action, in `Verdict::ALL` order.
    pub actions: [u64; 3],
    /// By (rule id, mode).
    pub hits: HashMap<(String, String), u64>,
}

impl Totals {
    /// The counters now.
    pub fn now(metrics: &Metrics) -> Totals {
        let hits = metrics.rule_hit_totals().into_iter().map(|(rule, mode, n)| ((rule, mode), n)).collect();
        Totals { actions: metrics.decision_totals(), hits }
    }
}

/// The counters at the start of a minute.
#[derive(Debug)]
struct Sample {
    minute: u64,
    totals: Totals,
}

/// One reload, as the overview lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadEntry {
    /// When it ended (RFC 3339).
    pub at: String,
    /// `start`, `files` or `signal`.
    pub trigger: &'static str,
    /// `loaded`, `ok`, `unchanged` or `failed`.
    pub outcome: &'static str,
    /// The rule set serving after it.
    pub hash: Option<String>,
    /// The first error (`FILE:LINE:COL: …`) of a failed reload.
    pub error: Option<String>,
    /// How many errors it had.
    pub errors: usize,
}

/// The minute samples and the reload history.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    reloads: Mutex<VecDeque<ReloadEntry>>,
}

/// Per-minute figures over the last `MINUTES` minutes, oldest first.
#[derive(Debug, Serialize)]
pub struct Series {
    /// Each minute's start, Unix seconds.
    pub minutes: Vec<u64>,
    /// Decisions per minute by action, in `Verdict::ALL` order.
    pub actions: [Vec<u64>; 3],
    /// Messages hit per minute by (rule id, mode), for the rules with a hit in the window.
    #[serde(skip)]
    pub hits: HashMap<(String, String), Vec<u64>>,
}

/// The current Unix minute.
pub fn current_minute() -> u64 {
    crate::time::now_ms() / 60_000
}

impl History {
    /// Stores the counters as the start of the current minute.
    pub fn sample(&self, metrics: &Metrics) {
        let minute = current_minute();
        let totals = Totals::now(metrics);
        let Ok(mut samples) = self.samples.lock() else { return };
        if samples.back().is_some_and(|s| s.minute >= minute) {
            return;
        }
        samples.push_back(Sample { minute, totals });
        while samples.len() > MINUTES as usize + 1 {
            samples.pop_front();
        }
    }

    /// The last hour per minute, the current minute counted up to `live`.
    pub fn series(&self, live: &Totals, now: u64) -> Series {
        let samples = self.samples.lock().map(|s| s.iter().map(|s| (s.minute, s.totals.clone())).collect::<Vec<_>>());
        let samples = samples.unwrap_or_default();
        // The counters at the start of minute `m`: the last sample taken at or before it.
        let at = |m: u64| samples.iter().rev().find(|(minute, _)| *minute <= m).map(|(_, t)| t);
        let first = now.saturating_sub(MINUTES - 1);
        let window: Vec<u64> = (first..=now).collect();
        let bounds: Vec<(Option<&Totals>, Option<&Totals>)> =
            window.iter().map(|&m| (at(m), if m == now { Some(live) } else { at(m + 1) })).collect();
        let actions = [0, 1, 2].map(|i| {
            bounds
                .iter()
                .map(|(start, end)| match (start, end) {
                    (Some(s), Some(e)) => e.actions[i].saturating_sub(s.actions[i]),
                    _ => 0,
                })
                .collect()
        });
        let mut hits = HashMap::new();
        for key in live.hits.keys() {
            let per_minute: Vec<u64> = bounds
                .iter()
                .map(|(start, end)| match (start, end) {
                    (Some(s), Some(e)) => {
                        let count = |t: &Totals| t.hits.get(key).copied().unwrap_or(0);
                        count(e).saturating_sub(count(s))
                    }
                    _ => 0,
                })
                .collect();
            if per_minute.iter().any(|&n| n > 0) {
                hits.insert(key.clone(), per_minute);
            }
        }
        Series { minutes: window.iter().map(|m| m * 60).collect(), actions, hits }
    }

    /// The first line of the history: the rule set the service started with.
    pub fn record_start(&self, hash: Option<&str>) {
        self.push_reload(ReloadEntry {
            at: rfc3339(SystemTime::now()),
            trigger: "start",
            outcome: "loaded",
            hash: hash.map(str::to_owned),
            error: None,
            errors: 0,
        });
    }

    /// One reload, from the reload callback.
    pub fn record_reload(&self, report: &ReloadReport) {
        let trigger = match report.trigger {
            Trigger::Files { .. } => "files",
            Trigger::Signal => "signal",
        };
        let (outcome, hash, error, errors) = match &report.outcome {
            ReloadOutcome::Swapped { hash, .. } => ("ok", Some(hash.clone()), None, 0),
            ReloadOutcome::Unchanged { hash } => ("unchanged", Some(hash.clone()), None, 0),
            ReloadOutcome::Failed(err) => (
                "failed",
                None,
                err.first().map(ToString::to_string).or_else(|| Some(err.to_string())),
                err.error_count(),
            ),
        };
        self.push_reload(ReloadEntry { at: rfc3339(SystemTime::now()), trigger, outcome, hash, error, errors });
    }

    fn push_reload(&self, entry: ReloadEntry) {
        let Ok(mut reloads) = self.reloads.lock() else { return };
        reloads.push_front(entry);
        reloads.truncate(RELOADS_KEPT);
    }

    /// The reloads, newest first.
    pub fn reloads(&self) -> Vec<ReloadEntry> {
        self.reloads.lock().map(|r| r.iter().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(actions: [u64; 3], hits: &[(&str, u64)]) -> Totals {
        let hits = hits.iter().map(|(rule, n)| ((rule.to_string(), "enforce".to_string()), *n)).collect();
        Totals { actions, hits }
    }

    #[test]
    fn per_minute_figures_are_differences_of_samples() {
        let history = History::default();
        {
            let mut samples = history.samples.lock().expect("lock");
            samples.push_back(Sample { minute: 100, totals: totals([0, 0, 0], &[]) });
            samples.push_back(Sample { minute: 101, totals: totals([5, 1, 0], &[("a", 1)]) });
            // minute 102 was not sampled (the task was late): 103's sample covers both.
            samples.push_back(Sample { minute: 103, totals: totals([9, 1, 2], &[("a", 3)]) });
        }
        let live = totals([10, 1, 4], &[("a", 4), ("b", 0)]);
        let series = history.series(&live, 103);
        let last = |v: &Vec<u64>| v[v.len() - 4..].to_vec();
        assert_eq!(series.minutes.len(), MINUTES as usize);
        assert_eq!(last(&series.actions[0]), [5, 0, 4, 1]);
        assert_eq!(last(&series.actions[2]), [0, 0, 2, 2]);
        let a = &series.hits[&("a".to_string(), "enforce".to_string())];
        assert_eq!(last(a), [1, 0, 2, 1]);
        assert!(!series.hits.contains_key(&("b".to_string(), "enforce".to_string())), "no hit, no series");
        assert_eq!(series.actions[0][..56].iter().sum::<u64>(), 0, "before the first sample");
    }
}
