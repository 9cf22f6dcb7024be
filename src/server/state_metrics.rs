//! The state store's metrics (docs/service.md): exchanges by backend and result, their latency,
//! keys held and evicted (memory), and whether the store is degraded (the alert's signal).

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::state::{BackendKind, Store};

/// From 10 µs (a memory exchange) to 250 ms (past any sane `--state-timeout`).
const STATE_BUCKETS: &[f64] =
    &[1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25];

/// Every state metric.
#[derive(Debug)]
pub struct StateMetrics {
    operations: IntCounterVec,
    seconds: HistogramVec,
    keys: IntGaugeVec,
    evictions: IntCounter,
    degraded: IntGauge,
}

impl StateMetrics {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<StateMetrics, prometheus::Error> {
        let operations = IntCounterVec::new(
            Opts::new(
                "inflight_state_operations_total",
                "State exchanges by backend and result (ok, timeout, unavailable, error)",
            ),
            &["backend", "result"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new("inflight_state_seconds", "Time of one state exchange (one round trip)")
                .buckets(STATE_BUCKETS.to_vec()),
            &["backend"],
        )?;
        let keys =
            IntGaugeVec::new(Opts::new("inflight_state_keys", "Keys the state store holds (memory)"), &["backend"])?;
        let evictions = IntCounter::new(
            "inflight_state_evictions_total",
            "Keys the memory store evicted to stay within --state-max-keys",
        )?;
        let degraded = IntGauge::new(
            "inflight_state_degraded",
            "1 while the state store is unavailable: rules that need state are skipped",
        )?;
        r.register(Box::new(operations.clone()))?;
        r.register(Box::new(seconds.clone()))?;
        r.register(Box::new(keys.clone()))?;
        r.register(Box::new(evictions.clone()))?;
        r.register(Box::new(degraded.clone()))?;
        Ok(StateMetrics { operations, seconds, keys, evictions, degraded })
    }

    /// Counts one exchange and its time.
    pub fn record_op(&self, backend: BackendKind, result: &str, took: std::time::Duration) {
        if let Ok(c) = self.operations.get_metric_with_label_values(&[backend.name(), result]) {
            c.inc();
        }
        if let Ok(h) = self.seconds.get_metric_with_label_values(&[backend.name()]) {
            h.observe(took.as_secs_f64());
        }
    }

    /// Brings the gauges up to the store (on each scrape).
    pub fn observe(&self, store: &Store) {
        self.degraded.set(i64::from(store.is_degraded()));
        if let Some((keys, evictions)) = store.keys_and_evictions() {
            if let Ok(g) = self.keys.get_metric_with_label_values(&[store.kind().name()]) {
                g.set(i64::try_from(keys).unwrap_or(i64::MAX));
            }
            let seen = self.evictions.get();
            if evictions > seen {
                self.evictions.inc_by(evictions - seen);
            }
        }
    }
}
