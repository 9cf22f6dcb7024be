//! The memory backend: one process's state, lost on restart.
//!
//! Keys live in shards, each an LRU map behind its own mutex, so concurrent requests contend only
//! when their keys share a shard (no global lock on the request path). The bound
//! (`--state-max-keys`) is global: an atomic count of keys; inserting past it first evicts the
//! least recently used key of the shard being written (exact LRU within the shard, one of 64
//! shards for large bounds, one shard below 8,192 keys, so small bounds evict in exact LRU
//! order). Evictions are counted.
//!
//! Windows are kept as per-second buckets (`(second, count)`, oldest first), pruned whenever the
//! key is touched; first-seen times and message counts expire `retention` after the sender's
//! last message, resend answers after ten minutes: all lazily, when read.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use lru::LruCache;

use super::similar::Signature;
use super::{
    Duplicate, Key, Query, RESEND_WINDOW_MS, Record, SIMILAR_HISTORY, SenderSeen, State, StateError, View,
    oldest_second, second_of,
};

/// Keys per shard above which the map is split into more shards (up to [`MAX_SHARDS`]).
const KEYS_PER_SHARD: usize = 4096;
/// Shards for large bounds: far more than cores, so two requests rarely meet on one lock.
const MAX_SHARDS: usize = 64;

/// The memory backend.
#[derive(Debug)]
pub struct MemoryState {
    shards: Vec<Mutex<LruCache<u128, Entry>>>,
    max_keys: usize,
    retention_ms: u64,
    keys: AtomicUsize,
    evictions: AtomicU64,
}

/// What one key holds.
#[derive(Debug)]
enum Entry {
    /// Per-second counts, oldest first.
    Window(Vec<(u32, u32)>),
    /// Recent texts' signatures with their second, newest last.
    Similar(VecDeque<(u32, Box<Signature>)>),
    /// A sender: first seen, last message, messages recorded.
    Sender { first_ms: u64, last_ms: u64, messages: u64 },
    /// A (sender, muid) claimed at `at_ms`, with the answer once known.
    Claim { at_ms: u64, answer: Option<Box<[u8]>> },
}

impl MemoryState {
    /// A store bounded to `max_keys` keys (at least 1), keeping senders `retention_ms`.
    pub fn new(max_keys: usize, retention_ms: u64) -> MemoryState {
        let max_keys = max_keys.max(1);
        let shards = (max_keys / (2 * KEYS_PER_SHARD)).clamp(1, MAX_SHARDS);
        MemoryState {
            shards: (0..shards).map(|_| Mutex::new(LruCache::unbounded())).collect(),
            max_keys,
            retention_ms,
            keys: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Keys held now.
    pub fn keys(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    /// Keys evicted to stay within the bound, since start.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The exchange, on the calling thread (microseconds: no I/O).
    pub fn exchange_now(&self, query: &Query) -> View {
        let now = query.at_ms;
        if let Some(key) = query.claim
            && let Some(duplicate) = self.claim(key, now)
        {
            return View { duplicate: Some(duplicate), ..View::default() };
        }
        let sender = query.sender.and_then(|key| self.see_sender(key, now));
        let windows = query.windows.iter().map(|w| self.count_in(w.key, now, w.within_ms, 1)).collect();
        let similar = query.similar.iter().map(|s| self.count_similar(s, now)).collect();
        let counters = query.counters.iter().map(|c| self.count_in(c.key, now, c.within_ms, 0)).collect();
        View { duplicate: None, sender, windows, similar, counters }
    }

    /// Applies a record on the calling thread.
    pub fn record_now(&self, record: &Record) {
        for add in &record.adds {
            let amount = u32::try_from(add.amount).unwrap_or(u32::MAX);
            self.count_in(add.key, record.at_ms, add.window_ms, amount);
        }
        if let Some((key, answer)) = &record.answer {
            self.with(*key, |entry| {
                if let Some(Entry::Claim { answer: slot, .. }) = entry {
                    *slot = Some(answer.clone().into_boxed_slice());
                }
            });
        }
    }

    /// Runs `f` on the key's entry (`None`: absent; setting it inserts, clearing it removes),
    /// holding only that key's shard.
    fn with<T>(&self, key: Key, f: impl FnOnce(&mut Option<Entry>) -> T) -> T {
        let shard = (key.0 as usize) % self.shards.len();
        let Some(lock) = self.shards.get(shard) else {
            return f(&mut None);
        };
        // A poisoned shard (a panic while held) still holds consistent entries: every update
        // below is a single assignment.
        let mut map = lock.lock().unwrap_or_else(|p| p.into_inner());
        // An existing key is updated in place (`get_mut` also makes it the most recent): no
        // node is freed and allocated again, as a pop and a push would.
        if let Some(entry) = map.get_mut(&key.0) {
            // `Vec::new()` does not allocate: a placeholder while `f` holds the entry.
            let mut slot = Some(std::mem::replace(entry, Entry::Window(Vec::new())));
            let out = f(&mut slot);
            match slot {
                Some(updated) => *entry = updated,
                None => {
                    map.pop(&key.0);
                    self.keys.fetch_sub(1, Ordering::Relaxed);
                }
            }
            return out;
        }
        let mut slot = None;
        let out = f(&mut slot);
        if let Some(entry) = slot {
            self.make_room(&mut map);
            self.keys.fetch_add(1, Ordering::Relaxed);
            map.push(key.0, entry);
        }
        out
    }

    /// Evicts this shard's least recently used keys until one more fits under the bound.
    fn make_room(&self, map: &mut LruCache<u128, Entry>) {
        while self.keys.load(Ordering::Relaxed) >= self.max_keys {
            if map.pop_lru().is_none() {
                // Every key is in other shards: this one goes a little over, once.
                return;
            }
            self.keys.fetch_sub(1, Ordering::Relaxed);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Claims (sender, muid); the duplicate when it was claimed within the resend window.
    fn claim(&self, key: Key, now: u64) -> Option<Duplicate> {
        self.with(key, |entry| {
            if let Some(Entry::Claim { at_ms, answer }) = entry
                && now.saturating_sub(*at_ms) < RESEND_WINDOW_MS
            {
                return Some(answer.as_ref().map_or(Duplicate::Pending, |a| Duplicate::Answer(a.to_vec())));
            }
            *entry = Some(Entry::Claim { at_ms: now, answer: None });
            None
        })
    }

    /// The sender as it stood, then this message counted.
    fn see_sender(&self, key: Key, now: u64) -> Option<SenderSeen> {
        let retention = self.retention_ms;
        self.with(key, |entry| {
            let before = match entry {
                Some(Entry::Sender { first_ms, last_ms, messages }) if now.saturating_sub(*last_ms) <= retention => {
                    Some(SenderSeen { first_ms: *first_ms, messages: *messages })
                }
                _ => None,
            };
            let (first_ms, messages) = before.map_or((now, 1), |b| (b.first_ms.min(now), b.messages + 1));
            *entry = Some(Entry::Sender { first_ms, last_ms: now, messages });
            before
        })
    }

    /// Adds `amount` at `now` (0: only reads) and returns the sum within the window.
    fn count_in(&self, key: Key, now: u64, within_ms: u64, amount: u32) -> u64 {
        let second = sec32(second_of(now));
        let oldest = sec32(oldest_second(now, within_ms));
        self.with(key, |entry| {
            let mut buckets = match entry.take() {
                Some(Entry::Window(b)) => b,
                _ => Vec::new(),
            };
            buckets.retain(|(s, _)| *s >= oldest);
            if amount > 0 {
                match buckets.iter_mut().find(|(s, _)| *s == second) {
                    Some((_, n)) => *n = n.saturating_add(amount),
                    None => {
                        let at = buckets.partition_point(|(s, _)| *s < second);
                        buckets.insert(at, (second, amount));
                    }
                }
            }
            let total = buckets.iter().map(|(_, n)| u64::from(*n)).sum();
            if !buckets.is_empty() {
                *entry = Some(Entry::Window(buckets));
            }
            total
        })
    }

    /// Earlier texts within the window at least as similar, plus this one; then records it.
    fn count_similar(&self, op: &super::SimilarOp, now: u64) -> u64 {
        let second = sec32(second_of(now));
        let oldest = sec32(oldest_second(now, op.within_ms));
        self.with(op.key, |entry| {
            let mut texts = match entry.take() {
                Some(Entry::Similar(t)) => t,
                _ => VecDeque::new(),
            };
            texts.retain(|(s, _)| *s >= oldest);
            let same = texts.iter().filter(|(_, sig)| sig.agreeing(&op.signature) >= op.slots_needed).count();
            texts.push_back((second, Box::new(op.signature.clone())));
            while texts.len() > SIMILAR_HISTORY {
                texts.pop_front();
            }
            *entry = Some(Entry::Similar(texts));
            same as u64 + 1
        })
    }
}

/// Seconds since the epoch fit 32 bits until 2106; later ones stick at the end.
fn sec32(second: u64) -> u32 {
    u32::try_from(second).unwrap_or(u32::MAX)
}

impl State for MemoryState {
    async fn exchange(&self, query: Query) -> Result<View, StateError> {
        Ok(self.exchange_now(&query))
    }

    fn record(&self, record: Record) {
        self.record_now(&record);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CounterAdd, WindowOp};
    use super::*;

    fn window(key: u128, within_ms: u64) -> WindowOp {
        WindowOp { key: Key(key), within_ms }
    }

    #[test]
    fn a_window_counts_this_message_and_forgets_old_ones() {
        let s = MemoryState::new(100, 1000);
        let q = |at_ms| Query { at_ms, windows: vec![window(1, 2000)], ..Query::default() };
        let counts: Vec<u64> =
            [0, 500, 1500, 2999, 4000, 10_000].iter().map(|&t| s.exchange_now(&q(t)).windows[0]).collect();
        // At 4000 the window reaches back to second 2: the messages at 2999 and 4000.
        assert_eq!(counts, [1, 2, 3, 4, 2, 1]);
    }

    #[test]
    fn counters_read_before_and_add_after() {
        let s = MemoryState::new(100, 1000);
        let read = Query { at_ms: 1000, counters: vec![window(7, 60_000)], ..Query::default() };
        assert_eq!(s.exchange_now(&read).counters, [0]);
        s.record_now(&Record {
            at_ms: 1000,
            adds: vec![CounterAdd { key: Key(7), window_ms: 60_000, amount: 2 }],
            answer: None,
        });
        assert_eq!(s.exchange_now(&read).counters, [2]);
    }

    #[test]
    fn a_resend_gets_the_first_answer_and_records_nothing() {
        let s = MemoryState::new(100, 1000);
        let q = |at_ms| Query { at_ms, claim: Some(Key(9)), windows: vec![window(1, 60_000)], ..Query::default() };
        assert_eq!(s.exchange_now(&q(0)).windows, [1]);
        assert_eq!(s.exchange_now(&q(10)).duplicate, Some(Duplicate::Pending));
        s.record_now(&Record { at_ms: 0, adds: vec![], answer: Some((Key(9), b"{}".to_vec())) });
        assert_eq!(s.exchange_now(&q(20)).duplicate, Some(Duplicate::Answer(b"{}".to_vec())));
        // Ten minutes on, it is a new message.
        let later = s.exchange_now(&q(RESEND_WINDOW_MS + 1));
        assert_eq!((later.duplicate, later.windows), (None, vec![1]));
    }

    #[test]
    fn the_bound_evicts_the_least_recently_used_key() {
        let s = MemoryState::new(3, 1000);
        for k in 1..=3 {
            s.exchange_now(&Query { at_ms: 0, windows: vec![window(k, 1000)], ..Query::default() });
        }
        // Touch 1, then add 4: 2 is the least recently used.
        s.exchange_now(&Query { at_ms: 0, windows: vec![window(1, 1000)], ..Query::default() });
        s.exchange_now(&Query { at_ms: 0, windows: vec![window(4, 1000)], ..Query::default() });
        assert_eq!((s.keys(), s.evictions()), (3, 1));
        let again =
            |k| s.exchange_now(&Query { at_ms: 0, windows: vec![window(k, 1000)], ..Query::default() }).windows[0];
        assert_eq!(again(1), 3, "1 was kept");
        assert_eq!(again(2), 1, "2 was evicted");
    }

    #[test]
    fn senders_are_forgotten_after_the_retention() {
        let s = MemoryState::new(100, 10_000);
        let q = |at_ms| Query { at_ms, sender: Some(Key(5)), ..Query::default() };
        assert_eq!(s.exchange_now(&q(1000)).sender, None);
        assert_eq!(s.exchange_now(&q(2000)).sender, Some(SenderSeen { first_ms: 1000, messages: 1 }));
        assert_eq!(s.exchange_now(&q(11_000)).sender, Some(SenderSeen { first_ms: 1000, messages: 2 }));
        assert_eq!(s.exchange_now(&q(21_001)).sender, None, "over 10 s after its last message");
    }
}
