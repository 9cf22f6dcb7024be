//! Prometheus metrics of the service, in its own `Registry`: requests, decisions, rule hits,
//! latencies, reloads and the rule set serving. Written on the request path (cheap, pre-resolved
//! counters), by the reload task (`record_reload`), and read by `GET /metrics`.
//!
//! Label values are bounded: triggers outside a fixed list count as `other`, outcomes and actions
//! are enums, rule ids come from the loaded rule files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::reload::{ReloadOutcome, ReloadReport};
use crate::rules::{Decision, Ruleset, Verdict};

/// The `trigger` label of `inflight_requests_total`. Names outside this list count as `Other`,
/// so a sender cannot grow the label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    BeforeMessage,
    AfterMessage,
    MessageDeliveryReceipt,
    MessageReadReceipt,
    /// v2's main message event.
    MessageSent,
    /// Any other trigger name (the other v2 events among them).
    Other,
    /// No trigger: the field is absent, or the body was never read (401, 413, 400).
    None,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::BeforeMessage,
        Trigger::AfterMessage,
        Trigger::MessageDeliveryReceipt,
        Trigger::MessageReadReceipt,
        Trigger::MessageSent,
        Trigger::Other,
        Trigger::None,
    ];

    pub fn of(name: Option<&str>) -> Trigger {
        match name {
            None => Trigger::None,
            Some("before_message") => Trigger::BeforeMessage,
            Some("after_message") => Trigger::AfterMessage,
            Some("message_delivery_receipt") => Trigger::MessageDeliveryReceipt,
            Some("message_read_receipt") => Trigger::MessageReadReceipt,
            Some("message_sent") => Trigger::MessageSent,
            Some(_) => Trigger::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Trigger::BeforeMessage => "before_message",
            Trigger::AfterMessage => "after_message",
            Trigger::MessageDeliveryReceipt => "message_delivery_receipt",
            Trigger::MessageReadReceipt => "message_read_receipt",
            Trigger::MessageSent => "message_sent",
            Trigger::Other => "other",
            Trigger::None => "none",
        }
    }
}

/// How a webhook request ended: the `outcome` label of `inflight_requests_total`. Each outcome
/// has one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `200`: a `before_message` decided by the rules.
    Decided,
    /// `200 {}`: another trigger, acknowledged and not matched.
    Ignored,
    /// `200`, fail-mode body: no rule set is loaded.
    NotReady,
    /// `200`, fail-mode body: evaluation failed (a panic, caught).
    Failed,
    /// `400`: the body is not a JSON object, or could not be read.
    BadRequest,
    /// `401`: Basic auth is configured and the credential is missing or wrong.
    Unauthorized,
    /// `413`: the body is over `--max-body`.
    TooLarge,
    /// `408`: the body did not arrive within `--client-timeout`.
    TimedOut,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Decided,
        Outcome::Ignored,
        Outcome::NotReady,
        Outcome::Failed,
        Outcome::BadRequest,
        Outcome::Unauthorized,
        Outcome::TooLarge,
        Outcome::TimedOut,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Decided => "decided",
            Outcome::Ignored => "ignored",
            Outcome::NotReady => "not_ready",
            Outcome::Failed => "failed",
            Outcome::BadRequest => "bad_request",
            Outcome::Unauthorized => "unauthorized",
            Outcome::TooLarge => "too_large",
            Outcome::TimedOut => "timed_out",
        }
    }
}

/// The `result` label of `inflight_reloads_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    /// A new rule set was swapped in.
    Ok,
    /// The files did not compile; the old rule set keeps serving.
    Failed,
    /// The files compiled to the rule set already serving.
    Unchanged,
}

impl ReloadResult {
    const ALL: [ReloadResult; 3] = [ReloadResult::Ok, ReloadResult::Failed, ReloadResult::Unchanged];

    pub fn label(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Failed => "failed",
            ReloadResult::Unchanged => "unchanged",
        }
    }
}

/// Evaluation takes microseconds; the buckets resolve that range.
const EVAL_BUCKETS: &[f64] =
    &[1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 0.1];
/// A whole request (body read, parse, evaluate, serialize), up to CometChat's 2 s budget.
const REQUEST_BUCKETS: &[f64] =
    &[1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 0.5, 2.0];
/// Compiling a rules folder, and from a file event to the swap (debounce included).
const RELOAD_BUCKETS: &[f64] = &[1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Every metric of the service. Shared by `Arc` between the server and the reload task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `[trigger][outcome]`, flattened; resolved once so a request does no label lookup.
    requests: Vec<IntCounter>,
    /// By `Verdict`: allow, tag, drop.
    decisions: [IntCounter; 3],
    rule_hits: IntCounterVec,
    /// `rule_hits` resolved for the rule set last seen, rebuilt when the rule set changes.
    hit_counters: ArcSwapOption<HitCounters>,
    eval_seconds: Histogram,
    request_seconds: Histogram,
    reloads: [IntCounter; 3],
    reload_compile_seconds: Histogram,
    reload_apply_seconds: Histogram,
    ruleset_info: IntGaugeVec,
    rules: IntGauge,
    keywords: IntGauge,
    loaded_at: Gauge,
    /// Decision-log lines by result: written, dropped (queue full or write failed).
    decision_log_lines: [IntCounter; 2],
}

/// One counter per rule of a rule set, labelled with the rule's id and mode.
#[derive(Debug)]
struct HitCounters {
    ruleset: String,
    by_rule: HashMap<String, IntCounter>,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests_vec = IntCounterVec::new(
            Opts::new("inflight_requests_total", "Webhook requests by trigger and outcome"),
            &["trigger", "outcome"],
        )?;
        let mut requests = Vec::with_capacity(Trigger::ALL.len() * Outcome::ALL.len());
        for trigger in Trigger::ALL {
            for outcome in Outcome::ALL {
                requests.push(requests_vec.get_metric_with_label_values(&[trigger.label(), outcome.label()])?);
            }
        }
        let decisions_vec = IntCounterVec::new(
            Opts::new("inflight_decisions_total", "before_message decisions by action (allow, tag, drop)"),
            &["action"],
        )?;
        let decisions = [
            decisions_vec.get_metric_with_label_values(&[Verdict::Allow.name()])?,
            decisions_vec.get_metric_with_label_values(&[Verdict::Tag.name()])?,
            decisions_vec.get_metric_with_label_values(&[Verdict::Drop.name()])?,
        ];
        let rule_hits = IntCounterVec::new(
            Opts::new("inflight_rule_hits_total", "Messages a rule hit, by rule id and mode (enforce, shadow)"),
            &["rule", "mode"],
        )?;
        let eval_seconds = Histogram::with_opts(
            HistogramOpts::new("inflight_evaluation_seconds", "Time to evaluate one message against the rule set")
                .buckets(EVAL_BUCKETS.to_vec()),
        )?;
        let request_seconds = Histogram::with_opts(
            HistogramOpts::new("inflight_request_seconds", "Time to answer one webhook request, body read included")
                .buckets(REQUEST_BUCKETS.to_vec()),
        )?;
        let reloads_vec = IntCounterVec::new(
            Opts::new("inflight_reloads_total", "Rule reloads by result (ok, failed, unchanged)"),
            &["result"],
        )?;
        let mut reloads = Vec::with_capacity(3);
        for result in ReloadResult::ALL {
            reloads.push(reloads_vec.get_metric_with_label_values(&[result.label()])?);
        }
        let reloads: [IntCounter; 3] =
            reloads.try_into().map_err(|_| prometheus::Error::Msg("reload labels".into()))?;
        let reload_compile_seconds = Histogram::with_opts(
            HistogramOpts::new("inflight_reload_compile_seconds", "Time to read and compile the rules folder")
                .buckets(RELOAD_BUCKETS.to_vec()),
        )?;
        let reload_apply_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "inflight_reload_apply_seconds",
                "Time from a file event (or SIGHUP) to the new rule set serving",
            )
            .buckets(RELOAD_BUCKETS.to_vec()),
        )?;
        let ruleset_info = IntGaugeVec::new(
            Opts::new("inflight_ruleset_info", "The rule set serving: 1 on the series labelled with its hash"),
            &["hash"],
        )?;
        let rules = IntGauge::new("inflight_ruleset_rules", "Rules in the rule set serving")?;
        let keywords = IntGauge::new("inflight_ruleset_keywords", "Distinct keyword patterns in the rule set serving")?;
        let loaded_at =
            Gauge::new("inflight_ruleset_loaded_at_seconds", "When the rule set serving was loaded, Unix seconds")?;

        let decision_log_vec = IntCounterVec::new(
            Opts::new("inflight_decision_log_lines_total", "Decision-log lines by result (written, dropped)"),
            &["result"],
        )?;
        let decision_log_lines = [
            decision_log_vec.get_metric_with_label_values(&["written"])?,
            decision_log_vec.get_metric_with_label_values(&["dropped"])?,
        ];
        registry.register(Box::new(decision_log_vec))?;
        registry.register(Box::new(requests_vec))?;
        registry.register(Box::new(decisions_vec))?;
        registry.register(Box::new(rule_hits.clone()))?;
        registry.register(Box::new(eval_seconds.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(reloads_vec))?;
        registry.register(Box::new(reload_compile_seconds.clone()))?;
        registry.register(Box::new(reload_apply_seconds.clone()))?;
        registry.register(Box::new(ruleset_info.clone()))?;
        registry.register(Box::new(rules.clone()))?;
        registry.register(Box::new(keywords.clone()))?;
        registry.register(Box::new(loaded_at.clone()))?;

        Ok(Metrics {
            registry,
            requests,
            decisions,
            rule_hits,
            hit_counters: ArcSwapOption::empty(),
            eval_seconds,
            request_seconds,
            reloads,
            reload_compile_seconds,
            reload_apply_seconds,
            ruleset_info,
            rules,
            keywords,
            loaded_at,
            decision_log_lines,
        })
    }

    /// Brings the decision-log counters up to the sink's own counts (read on each scrape: the
    /// writer thread counts with atomics and knows nothing of metrics).
    pub fn observe_decision_log(&self, counts: super::SinkCounts) {
        for (counter, now) in self.decision_log_lines.iter().zip([counts.written, counts.dropped]) {
            let seen = counter.get();
            if now > seen {
                counter.inc_by(now - seen);
            }
        }
    }

    /// The registry, for a component that adds its own metrics (the decision log, say).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one webhook request and its whole duration.
    pub fn record_request(&self, trigger: Trigger, outcome: Outcome, took: Duration) {
        // Discriminants are positions in `ALL` (checked by a test), so this is the table built in `new`.
        let index = trigger as usize * Outcome::ALL.len() + outcome as usize;
        if let Some(counter) = self.requests.get(index) {
            counter.inc();
        }
        self.request_seconds.observe(took.as_secs_f64());
    }

    /// Counts a decision: its action, its evaluation time, and every rule that hit (shadow too).
    pub fn record_decision(&self, decision: &Decision<'_>, eval: Duration) {
        let action = match decision.verdict {
            Verdict::Allow => &self.decisions[0],
            Verdict::Tag => &self.decisions[1],
            Verdict::Drop => &self.decisions[2],
        };
        action.inc();
        self.eval_seconds.observe(eval.as_secs_f64());
        if decision.hits.is_empty() {
            return;
        }
        // `load` (not `load_full`): no shared reference count is touched on this path.
        let cached = self.hit_counters.load();
        let rebuilt;
        let counters = match cached.as_deref() {
            Some(c) if c.ruleset == decision.ruleset.hash() => c,
            _ => {
                rebuilt = self.rebuild_hit_counters(decision.ruleset);
                &*rebuilt
            }
        };
        for hit in &decision.hits {
            if let Some(counter) = counters.by_rule.get(&hit.rule.id) {
                counter.inc();
            }
        }
    }

    /// Resolves one counter per rule of `ruleset`, on its first hit after a reload.
    fn rebuild_hit_counters(&self, ruleset: &Ruleset) -> Arc<HitCounters> {
        // Two requests may both rebuild after a reload; they resolve the same series, so
        // whichever store wins counts the same.
        let by_rule = ruleset
            .rules()
            .iter()
            .filter_map(|rule| {
                let counter = self.rule_hits.get_metric_with_label_values(&[&rule.id, rule.mode.name()]).ok()?;
                Some((rule.id.clone(), counter))
            })
            .collect();
        let built = Arc::new(HitCounters { ruleset: ruleset.hash().to_owned(), by_rule });
        self.hit_counters.store(Some(Arc::clone(&built)));
        built
    }

    /// Counts one reload attempt. `compile` is the time to read and compile the folder (when it
    /// was compiled), `event_to_swap` the time from the file event or SIGHUP to the new set
    /// serving (for a swap).
    pub fn record_reload(&self, result: ReloadResult, compile: Option<Duration>, event_to_swap: Option<Duration>) {
        let counter = match result {
            ReloadResult::Ok => &self.reloads[0],
            ReloadResult::Failed => &self.reloads[1],
            ReloadResult::Unchanged => &self.reloads[2],
        };
        counter.inc();
        if let Some(compile) = compile {
            self.reload_compile_seconds.observe(compile.as_secs_f64());
        }
        if let Some(took) = event_to_swap {
            self.reload_apply_seconds.observe(took.as_secs_f64());
        }
    }

    /// `record_reload` for what the reload thread reports (`reload::spawn_watcher`'s callback).
    pub fn record_reload_report(&self, report: &ReloadReport) {
        match &report.outcome {
            ReloadOutcome::Swapped { compile, .. } => {
                self.record_reload(ReloadResult::Ok, Some(*compile), report.since_first_event)
            }
            ReloadOutcome::Unchanged { .. } => self.record_reload(ReloadResult::Unchanged, None, None),
            ReloadOutcome::Failed(_) => self.record_reload(ReloadResult::Failed, None, None),
        }
    }

    /// Sets the rule set gauges (info, rules, keywords, loaded at) to `ruleset`, or clears them
    /// when none is loaded. `/metrics` calls it on every scrape, so they follow reloads.
    pub fn observe_ruleset(&self, ruleset: Option<&Ruleset>) {
        self.ruleset_info.reset();
        match ruleset {
            Some(rs) => {
                if let Ok(info) = self.ruleset_info.get_metric_with_label_values(&[rs.hash()]) {
                    info.set(1);
                }
                self.rules.set(i64::try_from(rs.rules().len()).unwrap_or(i64::MAX));
                self.keywords.set(i64::try_from(rs.keyword_count()).unwrap_or(i64::MAX));
                self.loaded_at.set(unix_seconds(rs.loaded_at()));
            }
            None => {
                self.rules.set(0);
                self.keywords.set(0);
                self.loaded_at.set(0.0);
            }
        }
    }

    /// Every metric in the Prometheus text format.
    pub fn encode(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The `Content-Type` of `encode`'s output.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trigger_and_outcome_has_its_own_counter() {
        let m = Metrics::new().expect("metrics");
        m.record_request(Trigger::Other, Outcome::TooLarge, Duration::from_micros(3));
        m.record_request(Trigger::BeforeMessage, Outcome::Decided, Duration::from_micros(3));
        m.record_request(Trigger::BeforeMessage, Outcome::Decided, Duration::from_micros(3));
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"inflight_requests_total{outcome="too_large",trigger="other"} 1"#), "{text}");
        assert!(text.contains(r#"inflight_requests_total{outcome="decided",trigger="before_message"} 2"#), "{text}");
        assert!(text.contains(r#"inflight_requests_total{outcome="decided",trigger="after_message"} 0"#), "{text}");
        assert!(text.contains("inflight_request_seconds_count 3"), "{text}");
    }

    #[test]
    fn label_tables_follow_declaration_order() {
        // `record_request` indexes its table by discriminant.
        for (i, t) in Trigger::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t:?}");
        }
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i, "{o:?}");
        }
    }

    #[test]
    fn unknown_trigger_names_share_one_label() {
        let cases = [
            (None, "none"),
            (Some("before_message"), "before_message"),
            (Some("message_read_receipt"), "message_read_receipt"),
            (Some("group_created"), "other"),
            (Some("x".repeat(10_000).as_str()), "other"),
            (Some("Before_Message"), "other"),
        ]
        .map(|(name, label)| (name.map(str::to_owned), label));
        for (name, label) in cases {
            assert_eq!(Trigger::of(name.as_deref()).label(), label, "{name:?}");
        }
    }

    #[test]
    fn reloads_count_by_result() {
        let m = Metrics::new().expect("metrics");
        m.record_reload(ReloadResult::Ok, Some(Duration::from_millis(5)), Some(Duration::from_millis(300)));
        m.record_reload(ReloadResult::Failed, None, None);
        m.record_reload(ReloadResult::Failed, None, None);
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"inflight_reloads_total{result="ok"} 1"#), "{text}");
        assert!(text.contains(r#"inflight_reloads_total{result="failed"} 2"#), "{text}");
        assert!(text.contains(r#"inflight_reloads_total{result="unchanged"} 0"#), "{text}");
        assert!(text.contains("inflight_reload_compile_seconds_count 1"), "{text}");
        assert!(text.contains("inflight_reload_apply_seconds_count 1"), "{text}");
    }
}
