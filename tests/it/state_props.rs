//! The state backends on random sequences: the memory backend against a naive reference (every
//! event kept with its time, every count summed from scratch), and the Redis backend (a real
//! `redis-server`) against the memory backend.

use std::collections::HashMap;

use inflight::state::redis::RedisState;
use inflight::state::similar::{SLOTS, Signature};
use inflight::state::{
    CounterAdd, Duplicate, Key, MemoryState, Query, RESEND_WINDOW_MS, Record, SIMILAR_HISTORY, SenderSeen, SimilarOp,
    State, View, WindowOp,
};
use proptest::prelude::*;

use crate::support::RedisServer;

/// A key's window is fixed (as a rule's is): within = WINDOWS[key % 4].
const WINDOWS: [u64; 4] = [1000, 2000, 3000, 5000];
const RETENTION_MS: u64 = 4000;
const START_MS: u64 = 1_700_000_000_000;
const TEXTS: [&str; 4] =
    ["free nitro for everyone here", "free nitro for everyone there", "hello", "free nitro for everybody here"];

#[derive(Clone, Debug)]
struct Step {
    pause_ms: u64,
    windows: Vec<u8>,
    similar: Vec<(u8, u8)>,
    counters: Vec<u8>,
    sender: Option<u8>,
    claim: Option<u8>,
    adds: Vec<(u8, u8)>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u64..1500,
        proptest::collection::vec(0u8..6, 0..3),
        proptest::collection::vec((0u8..3, 0u8..4), 0..2),
        proptest::collection::vec(0u8..4, 0..2),
        proptest::option::of(0u8..3),
        proptest::option::weighted(0.15, 0u8..40),
        proptest::collection::vec((0u8..4, 1u8..4), 0..2),
    )
        .prop_map(|(pause_ms, mut windows, similar, mut counters, sender, claim, adds)| {
            // One op per key and message, as rules make them.
            windows.sort_unstable();
            windows.dedup();
            counters.sort_unstable();
            counters.dedup();
            let mut seen = Vec::new();
            let similar = similar
                .into_iter()
                .filter(|(k, _)| {
                    !seen.contains(k) && {
                        seen.push(*k);
                        true
                    }
                })
                .collect();
            Step { pause_ms, windows, similar, counters, sender, claim, adds }
        })
}

fn query(step: &Step, at_ms: u64) -> Query {
    let window = |k: u8| WindowOp { key: Key(100 + u128::from(k)), within_ms: WINDOWS[usize::from(k) % 4] };
    Query {
        at_ms,
        claim: step.claim.map(|c| Key(300 + u128::from(c))),
        sender: step.sender.map(|s| Key(400 + u128::from(s))),
        windows: step.windows.iter().map(|&k| window(k)).collect(),
        similar: step
            .similar
            .iter()
            .map(|&(k, t)| SimilarOp {
                key: Key(500 + u128::from(k)),
                within_ms: WINDOWS[usize::from(k) % 4],
                slots_needed: (0.7 * SLOTS as f64).ceil() as u32,
                signature: Signature::of(TEXTS[usize::from(t)]),
            })
            .collect(),
        counters: step
            .counters
            .iter()
            .map(|&k| WindowOp { key: Key(200 + u128::from(k)), within_ms: WINDOWS[usize::from(k) % 4] })
            .collect(),
    }
}

fn record(step: &Step, at_ms: u64, view: &View) -> Record {
    Record {
        at_ms,
        adds: step
            .adds
            .iter()
            .map(|&(k, n)| CounterAdd {
                key: Key(200 + u128::from(k)),
                window_ms: WINDOWS[usize::from(k) % 4],
                amount: u64::from(n),
            })
            .collect(),
        answer: step
            .claim
            .filter(|_| view.duplicate.is_none())
            .map(|c| (Key(300 + u128::from(c)), format!("answer {at_ms}").into_bytes())),
    }
}

/// Every event with its time; counts summed from scratch at each read.
#[derive(Default)]
struct Reference {
    events: HashMap<Key, Vec<(u64, u64)>>,
    texts: HashMap<Key, Vec<(u64, Signature)>>,
    senders: HashMap<Key, (u64, u64, u64)>,
    claims: HashMap<Key, (u64, Option<Vec<u8>>)>,
}

impl Reference {
    fn sum(&self, key: Key, at_ms: u64, within_ms: u64) -> u64 {
        let oldest = at_ms.saturating_sub(within_ms) / 1000;
        self.events.get(&key).map_or(0, |e| e.iter().filter(|(t, _)| t / 1000 >= oldest).map(|(_, n)| n).sum())
    }

    fn exchange(&mut self, q: &Query) -> View {
        let now = q.at_ms;
        if let Some(key) = q.claim {
            if let Some((at, answer)) = self.claims.get(&key)
                && now - at < RESEND_WINDOW_MS
            {
                let duplicate = answer.clone().map_or(Duplicate::Pending, Duplicate::Answer);
                return View { duplicate: Some(duplicate), ..View::default() };
            }
            self.claims.insert(key, (now, None));
        }
        let sender = q.sender.and_then(|key| {
            let before = self.senders.get(&key).filter(|(_, last, _)| now - last <= RETENTION_MS).copied();
            let (first, n) = before.map_or((now, 1), |(f, _, n)| (f, n + 1));
            self.senders.insert(key, (first, now, n));
            before.map(|(first_ms, _, messages)| SenderSeen { first_ms, messages })
        });
        let windows = q
            .windows
            .iter()
            .map(|w| {
                self.events.entry(w.key).or_default().push((now, 1));
                self.sum(w.key, now, w.within_ms)
            })
            .collect();
        let similar = q
            .similar
            .iter()
            .map(|s| {
                let oldest = now.saturating_sub(s.within_ms) / 1000;
                let texts = self.texts.entry(s.key).or_default();
                let recent = texts.iter().rev().take(SIMILAR_HISTORY);
                let same = recent
                    .filter(|(t, sig)| t / 1000 >= oldest && sig.agreeing(&s.signature) >= s.slots_needed)
                    .count();
                texts.push((now, s.signature.clone()));
                same as u64 + 1
            })
            .collect();
        let counters = q.counters.iter().map(|c| self.sum(c.key, now, c.within_ms)).collect();
        View { duplicate: None, sender, windows, similar, counters }
    }

    fn record(&mut self, r: &Record) {
        for add in &r.adds {
            self.events.entry(add.key).or_default().push((r.at_ms, add.amount));
        }
        if let Some((key, answer)) = &r.answer
            && let Some(claim) = self.claims.get_mut(key)
        {
            claim.1 = Some(answer.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn memory_counts_as_the_naive_reference(steps in proptest::collection::vec(step(), 1..60)) {
        let memory = MemoryState::new(1_000_000, RETENTION_MS);
        let mut reference = Reference::default();
        let mut at = START_MS;
        for (i, step) in steps.iter().enumerate() {
            at += step.pause_ms;
            let q = query(step, at);
            let (got, want) = (memory.exchange_now(&q), reference.exchange(&q));
            prop_assert_eq!(&got, &want, "step {}", i);
            let r = record(step, at, &got);
            memory.record_now(&r);
            reference.record(&r);
        }
    }
}

#[test]
fn redis_counts_as_memory() {
    let redis = RedisServer::start(&[]);
    let store = RedisState::start(&redis.url(), std::time::Duration::from_millis(500), RETENTION_MS).expect("url");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.is_degraded() {
        assert!(std::time::Instant::now() < deadline, "redis never became reachable");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            redis.cli(&["FLUSHALL"]);
            let memory = MemoryState::new(1_000_000, RETENTION_MS);
            let mut at = START_MS;
            for (i, step) in steps.iter().enumerate() {
                at += step.pause_ms;
                let q = query(step, at);
                let want = memory.exchange_now(&q);
                let got = runtime.block_on(store.exchange(q)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&got, &want, "step {}", i);
                let r = record(step, at, &want);
                memory.record_now(&r);
                store.record(r);
                // The record is fire-and-forget: let it land before the next exchange.
                runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(2)).await });
            }
            Ok(())
        })
        .unwrap();
}
