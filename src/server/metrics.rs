//! Prometheus metrics of the service, in its own `Registry`: requests, decisions, rule hits,
//! latencies, reloads and the rule set serving. Written on the request path (cheap, pre-resolved
//! counters), by the reload task (`record_reload_report`), and read by `GET /metrics`.
//!
//! Label values are bounded: triggers outside a fixed list count as `other`, outcomes and actions
//! are enums, rule ids come from the loaded rule files, and the series of a rule that a reload
//! removed are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use prometheus::core::Collector;
use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::reload::{ReloadOutcome, ReloadReport};
use crate::rules::{Decision, Ruleset, Verdict};

/// The `trigger` label of `inflight_requests_total`: which webhook event a request carried (not
/// to be confused with `reload::Trigger`, why a reload ran). Names outside this list count as `Other`,
/// so a sender cannot grow the label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookTrigger {
    /// `before_message`: the one trigger that is decided.
    BeforeMessage,
    /// `after_message`.
    AfterMessage,
    /// `message_delivery_receipt`.
    MessageDeliveryReceipt,
    /// `message_read_receipt`.
    MessageReadReceipt,
    /// v2's main message event.
    MessageSent,
    /// Any other trigger name (the other v2 events among them).
    Other,
    /// No trigger: the field is absent, or the body was never read (401, 413, 400).
    None,
}

impl WebhookTrigger {
    /// Every trigger, in label order.
    pub const ALL: [WebhookTrigger; 7] = [
        WebhookTrigger::BeforeMessage,
        WebhookTrigger::AfterMessage,
        WebhookTrigger::MessageDeliveryReceipt,
        WebhookTrigger::MessageReadReceipt,
        WebhookTrigger::MessageSent,
        WebhookTrigger::Other,
        WebhookTrigger::None,
    ];

    /// The trigger of a body's `trigger` value (`other` for any unknown one).
    pub fn of(name: Option<&str>) -> WebhookTrigger {
        match name {
            None => WebhookTrigger::None,
            Some("before_message") => WebhookTrigger::BeforeMessage,
            Some("after_message") => WebhookTrigger::AfterMessage,
            Some("message_delivery_receipt") => WebhookTrigger::MessageDeliveryReceipt,
            Some("message_read_receipt") => WebhookTrigger::MessageReadReceipt,
            Some("message_sent") => WebhookTrigger::MessageSent,
            Some(_) => WebhookTrigger::Other,
        }
    }

    /// The `trigger` label.
    pub fn label(self) -> &'static str {
        match self {
            WebhookTrigger::BeforeMessage => "before_message",
            WebhookTrigger::AfterMessage => "after_message",
            WebhookTrigger::MessageDeliveryReceipt => "message_delivery_receipt",
            WebhookTrigger::MessageReadReceipt => "message_read_receipt",
            WebhookTrigger::MessageSent => "message_sent",
            WebhookTrigger::Other => "other",
            WebhookTrigger::None => "none",
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
    /// `200`, fail-mode body: a field is longer than `--max-field-bytes`, so it was not matched.
    Oversized,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 9] = [
        Outcome::Decided,
        Outcome::Ignored,
        Outcome::NotReady,
        Outcome::Failed,
        Outcome::BadRequest,
        Outcome::Unauthorized,
        Outcome::TooLarge,
        Outcome::TimedOut,
        Outcome::Oversized,
    ];

    /// The `outcome` label.
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
            Outcome::Oversized => "oversized",
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

/// `inflight_decisions_total`'s `action` labels, in `verdict_index` order.
const ACTIONS: [Verdict; 3] = [Verdict::Allow, Verdict::Tag, Verdict::Drop];

fn verdict_index(verdict: Verdict) -> usize {
    match verdict {
        Verdict::Allow => 0,
        Verdict::Tag => 1,
        Verdict::Drop => 2,
    }
}

/// `inflight_reloads_total`'s `result` labels, in `reload_index` order.
const RELOAD_RESULTS: [&str; 3] = ["ok", "failed", "unchanged"];

fn reload_index(outcome: &ReloadOutcome) -> usize {
    match outcome {
        ReloadOutcome::Swapped { .. } => 0,
        ReloadOutcome::Failed(_) => 1,
        ReloadOutcome::Unchanged { .. } => 2,
    }
}

/// `inflight_decision_log_lines_total`'s `result` labels: written, dropped.
const LOG_RESULTS: [&str; 2] = ["written", "dropped"];

/// `[trigger][outcome]`, flattened.
fn request_index(trigger: WebhookTrigger, outcome: Outcome) -> usize {
    // Discriminants are positions in `ALL` (checked by a test).
    trigger as usize * Outcome::ALL.len() + outcome as usize
}

/// The counters of one labelled family, resolved once per label set so that counting does no
/// label lookup; looked up by the position of the label set (the `*_index` functions above).
#[derive(Debug)]
struct Resolved(Vec<IntCounter>);

impl Resolved {
    fn new<'a, const N: usize>(
        family: &IntCounterVec,
        label_sets: impl IntoIterator<Item = [&'a str; N]>,
    ) -> Result<Resolved, prometheus::Error> {
        let counters = label_sets.into_iter().map(|labels| family.get_metric_with_label_values(&labels));
        Ok(Resolved(counters.collect::<Result<_, _>>()?))
    }

    fn get(&self, index: usize) -> Option<&IntCounter> {
        self.0.get(index)
    }

    fn inc(&self, index: usize) {
        if let Some(counter) = self.get(index) {
            counter.inc();
        }
    }
}

/// Every metric of the service. Shared by `Arc` between the server and the reload task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Resolved,
    decisions: Resolved,
    rule_hits: IntCounterVec,
    /// `rule_hits` resolved for the rule set last seen, rebuilt when the rule set changes.
    hit_counters: ArcSwapOption<HitCounters>,
    eval_seconds: Histogram,
    request_seconds: Histogram,
    reloads: Resolved,
    reload_compile_seconds: Histogram,
    reload_apply_seconds: Histogram,
    reload_failing: IntGauge,
    ruleset: RulesetGauges,
    decision_log_lines: Resolved,
    /// The state store's metrics.
    pub state: super::state_metrics::StateMetrics,
}

/// What the rule set serving is: its hash, sizes and load time.
#[derive(Debug)]
struct RulesetGauges {
    info: IntGaugeVec,
    rules: IntGauge,
    keywords: IntGauge,
    loaded_at: Gauge,
}

impl RulesetGauges {
    fn new(r: &Registry) -> Result<RulesetGauges, prometheus::Error> {
        Ok(RulesetGauges {
            info: register(
                r,
                IntGaugeVec::new(
                    Opts::new("inflight_ruleset_info", "The rule set serving: 1 on the series labelled with its hash"),
                    &["hash"],
                )?,
            )?,
            rules: register(r, IntGauge::new("inflight_ruleset_rules", "Rules in the rule set serving")?)?,
            keywords: register(
                r,
                IntGauge::new("inflight_ruleset_keywords", "Distinct keyword patterns in the rule set serving")?,
            )?,
            loaded_at: register(
                r,
                Gauge::new("inflight_ruleset_loaded_at_seconds", "When the rule set serving was loaded, Unix seconds")?,
            )?,
        })
    }
}

/// One counter per rule of a rule set, labelled with the rule's id and mode.
#[derive(Debug)]
struct HitCounters {
    ruleset: String,
    by_rule: HashMap<String, IntCounter>,
}

/// Registers `metric` and hands it back.
fn register<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Result<Histogram, prometheus::Error> {
    register(registry, Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?)
}

impl Metrics {
    /// Registers every metric in a registry of its own.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let requests = counter_vec(
            r,
            "inflight_requests_total",
            "Webhook requests by trigger and outcome",
            &["trigger", "outcome"],
        )?;
        let requests = Resolved::new(
            &requests,
            WebhookTrigger::ALL.iter().flat_map(|t| Outcome::ALL.iter().map(|o| [t.label(), o.label()])),
        )?;
        let decisions = counter_vec(
            r,
            "inflight_decisions_total",
            "before_message decisions by action (allow, tag, drop)",
            &["action"],
        )?;
        let decisions = Resolved::new(&decisions, ACTIONS.map(|v| [v.name()]))?;
        let reloads =
            counter_vec(r, "inflight_reloads_total", "Rule reloads by result (ok, failed, unchanged)", &["result"])?;
        let reloads = Resolved::new(&reloads, RELOAD_RESULTS.map(|l| [l]))?;
        let log_lines = counter_vec(
            r,
            "inflight_decision_log_lines_total",
            "Decision-log lines by result (written, dropped)",
            &["result"],
        )?;
        let decision_log_lines = Resolved::new(&log_lines, LOG_RESULTS.map(|l| [l]))?;
        Ok(Metrics {
            rule_hits: counter_vec(
                r,
                "inflight_rule_hits_total",
                "Messages a rule hit, by rule id and mode (enforce, shadow)",
                &["rule", "mode"],
            )?,
            hit_counters: ArcSwapOption::empty(),
            eval_seconds: histogram(
                r,
                "inflight_evaluation_seconds",
                "Time to evaluate one message against the rule set",
                EVAL_BUCKETS,
            )?,
            request_seconds: histogram(
                r,
                "inflight_request_seconds",
                "Time to answer one webhook request, body read included",
                REQUEST_BUCKETS,
            )?,
            reload_compile_seconds: histogram(
                r,
                "inflight_reload_compile_seconds",
                "Time to read and compile the rules folder",
                RELOAD_BUCKETS,
            )?,
            reload_apply_seconds: histogram(
                r,
                "inflight_reload_apply_seconds",
                "Time from a file event (or SIGHUP) to the new rule set serving",
                RELOAD_BUCKETS,
            )?,
            reload_failing: register(
                r,
                IntGauge::new(
                    "inflight_reload_failing",
                    "1 while the last reload failed (the previous rule set serves)",
                )?,
            )?,
            ruleset: RulesetGauges::new(r)?,
            state: super::state_metrics::StateMetrics::new(r)?,
            registry,
            requests,
            decisions,
            reloads,
            decision_log_lines,
        })
    }

    /// Brings the decision-log counters up to the sink's own counts (read on each scrape: the
    /// writer thread counts with atomics and knows nothing of metrics).
    pub fn observe_decision_log(&self, counts: super::SinkCounts) {
        for (index, now) in [counts.written, counts.dropped].into_iter().enumerate() {
            if let Some(counter) = self.decision_log_lines.get(index) {
                let seen = counter.get();
                if now > seen {
                    counter.inc_by(now - seen);
                }
            }
        }
    }

    /// Counts one webhook request and its whole duration.
    pub fn record_request(&self, trigger: WebhookTrigger, outcome: Outcome, took: Duration) {
        self.requests.inc(request_index(trigger, outcome));
        self.request_seconds.observe(took.as_secs_f64());
    }

    /// Counts a decision: its action, its evaluation time, and every rule that hit (shadow too).
    pub fn record_decision(&self, decision: &Decision<'_>, eval: Duration) {
        self.decisions.inc(verdict_index(decision.verdict));
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

    /// Counts one reload (what `reload::spawn_watcher`'s callback reports): by result, with the
    /// compile time and, for a swap, the time from the file event or SIGHUP to the new set serving.
    pub fn record_reload_report(&self, report: &ReloadReport) {
        self.reloads.inc(reload_index(&report.outcome));
        if let ReloadOutcome::Swapped { compile, .. } = &report.outcome {
            self.reload_compile_seconds.observe(compile.as_secs_f64());
            if let Some(took) = report.since_first_event {
                self.reload_apply_seconds.observe(took.as_secs_f64());
            }
        }
    }

    /// Sets `inflight_reload_failing` from the reload status (on each scrape).
    pub fn observe_reload_failing(&self, failing: bool) {
        self.reload_failing.set(i64::from(failing));
    }

    /// Sets the rule set gauges (info, rules, keywords, loaded at) to `ruleset`, or clears them
    /// when none is loaded, and drops the hit series of rules it does not have. Called on every
    /// scrape and after each reload, so they follow reloads.
    pub fn observe_ruleset(&self, ruleset: Option<&Ruleset>) {
        self.ruleset.info.reset();
        match ruleset {
            Some(rs) => {
                if let Ok(info) = self.ruleset.info.get_metric_with_label_values(&[rs.hash()]) {
                    info.set(1);
                }
                self.ruleset.rules.set(i64::try_from(rs.rules().len()).unwrap_or(i64::MAX));
                self.ruleset.keywords.set(i64::try_from(rs.keyword_count()).unwrap_or(i64::MAX));
                self.ruleset.loaded_at.set(unix_seconds(rs.loaded_at()));
                self.forget_removed_rules(rs);
            }
            None => {
                self.ruleset.rules.set(0);
                self.ruleset.keywords.set(0);
                self.ruleset.loaded_at.set(0.0);
            }
        }
    }

    /// Drops the `inflight_rule_hits_total` series whose (rule, mode) `ruleset` does not have, so
    /// renamed rules do not grow the label set forever. A request still deciding with the old set
    /// may bring one back; the next scrape drops it again.
    fn forget_removed_rules(&self, ruleset: &Ruleset) {
        let current: HashSet<(&str, &str)> = ruleset.rules().iter().map(|r| (r.id.as_str(), r.mode.name())).collect();
        for family in self.rule_hits.collect() {
            for metric in family.get_metric() {
                let label = |name: &str| metric.get_label().iter().find(|l| l.name() == name).map(|l| l.value());
                let (Some(rule), Some(mode)) = (label("rule"), label("mode")) else { continue };
                if !current.contains(&(rule, mode)) {
                    let _ = self.rule_hits.remove_label_values(&[rule, mode]);
                }
            }
        }
    }

    /// `before_message` decisions so far, by action in `Verdict::ALL` order (the console's
    /// overview samples these; nothing extra is counted for it).
    pub fn decision_totals(&self) -> [u64; 3] {
        ACTIONS.map(|v| self.decisions.get(verdict_index(v)).map_or(0, IntCounter::get))
    }

    /// Messages hit so far, by (rule id, mode), for every rule with a series.
    pub fn rule_hit_totals(&self) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for family in self.rule_hits.collect() {
            for metric in family.get_metric() {
                let label = |name: &str| metric.get_label().iter().find(|l| l.name() == name).map(|l| l.value());
                let (Some(rule), Some(mode)) = (label("rule"), label("mode")) else { continue };
                // Counter values are integers kept as f64 by the client library.
                out.push((rule.to_owned(), mode.to_owned(), metric.get_counter().get_value() as u64));
            }
        }
        out
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
        m.record_request(WebhookTrigger::Other, Outcome::TooLarge, Duration::from_micros(3));
        m.record_request(WebhookTrigger::BeforeMessage, Outcome::Decided, Duration::from_micros(3));
        m.record_request(WebhookTrigger::BeforeMessage, Outcome::Decided, Duration::from_micros(3));
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"inflight_requests_total{outcome="too_large",trigger="other"} 1"#), "{text}");
        assert!(text.contains(r#"inflight_requests_total{outcome="decided",trigger="before_message"} 2"#), "{text}");
        assert!(text.contains(r#"inflight_requests_total{outcome="decided",trigger="after_message"} 0"#), "{text}");
        assert!(text.contains("inflight_request_seconds_count 3"), "{text}");
    }

    #[test]
    fn index_functions_follow_the_label_tables() {
        for (i, verdict) in ACTIONS.iter().enumerate() {
            assert_eq!(verdict_index(*verdict), i, "{verdict:?}");
        }
        let m = Metrics::new().expect("metrics");
        m.record_reload_report(&report(ReloadOutcome::Unchanged { hash: "h".into() }));
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"inflight_reloads_total{result="unchanged"} 1"#), "{text}");
    }

    #[test]
    fn label_tables_follow_declaration_order() {
        // `record_request` indexes its table by discriminant.
        for (i, t) in WebhookTrigger::ALL.iter().enumerate() {
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
            assert_eq!(WebhookTrigger::of(name.as_deref()).label(), label, "{name:?}");
        }
    }

    fn report(outcome: ReloadOutcome) -> ReloadReport {
        let trigger = crate::reload::Trigger::Signal;
        ReloadReport { trigger, outcome, since_first_event: Some(Duration::from_millis(300)) }
    }

    #[test]
    fn reloads_count_by_result() {
        let m = Metrics::new().expect("metrics");
        let swapped = ReloadOutcome::Swapped { hash: "h".into(), warnings: 0, compile: Duration::from_millis(5) };
        m.record_reload_report(&report(swapped));
        let failed = || ReloadOutcome::Failed(crate::error::LoadError(Vec::new()));
        m.record_reload_report(&report(failed()));
        m.record_reload_report(&report(failed()));
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"inflight_reloads_total{result="ok"} 1"#), "{text}");
        assert!(text.contains(r#"inflight_reloads_total{result="failed"} 2"#), "{text}");
        assert!(text.contains(r#"inflight_reloads_total{result="unchanged"} 0"#), "{text}");
        assert!(text.contains("inflight_reload_compile_seconds_count 1"), "{text}");
        assert!(text.contains("inflight_reload_apply_seconds_count 1"), "{text}");
    }
}
