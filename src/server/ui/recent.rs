//! The recent traffic (`--ui-recent N`): the last N `before_message` bodies, in memory only, for
//! the Draft page's replay. Filled by the webhook, so a push never waits: each slot has its own
//! lock, a push only `try_lock`s its slot, and when a reader holds it the body is skipped (and
//! counted) rather than making a request wait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web::Bytes;

/// One slot: the body last kept there and its arrival number. The buffer is reused, so after the
/// first round a push allocates nothing (and frees nothing another thread allocated).
#[derive(Debug, Default)]
struct Slot {
    seq: u64,
    filled: bool,
    body: Vec<u8>,
}

/// A ring of the last bodies, by arrival.
#[derive(Debug)]
pub struct Recent {
    slots: Box<[Mutex<Slot>]>,
    /// The sequence number of the next body.
    next: AtomicU64,
    /// Bodies not kept because their slot was being read.
    skipped: AtomicU64,
}

impl Recent {
    /// A ring of `capacity` bodies (at least one).
    pub fn new(capacity: usize) -> Recent {
        let slots = (0..capacity.max(1)).map(|_| Mutex::default()).collect();
        Recent { slots, next: AtomicU64::new(0), skipped: AtomicU64::new(0) }
    }

    /// How many bodies it holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Keeps a copy of `body` in place of the oldest one. A copy into the slot's own buffer, not
    /// the request's: that may be a slice of a larger read buffer, which N of would pin far more
    /// memory.
    pub fn push(&self, body: &[u8]) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let index = (seq % self.slots.len() as u64) as usize;
        let Some(slot) = self.slots.get(index) else { return };
        match slot.try_lock() {
            // A slower push of an older body (seq − N) may arrive after this one: keep the newer.
            Ok(mut kept) if !kept.filled || kept.seq < seq => {
                kept.body.clear();
                kept.body.extend_from_slice(body);
                kept.seq = seq;
                kept.filled = true;
            }
            Ok(_) => {}
            Err(_) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every body kept, oldest first.
    pub fn snapshot(&self) -> Vec<Bytes> {
        let mut kept: Vec<(u64, Bytes)> = self
            .slots
            .iter()
            .filter_map(|slot| {
                let slot = slot.lock().ok()?;
                slot.filled.then(|| (slot.seq, Bytes::copy_from_slice(&slot.body)))
            })
            .collect();
        kept.sort_unstable_by_key(|(seq, _)| *seq);
        kept.into_iter().map(|(_, body)| body).collect()
    }

    /// How many bodies it holds now.
    pub fn len(&self) -> usize {
        (self.next.load(Ordering::Relaxed).min(self.slots.len() as u64)) as usize
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies not kept because a reader held their slot.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_n_in_arrival_order() {
        let ring = Recent::new(3);
        assert!(ring.is_empty());
        for i in 0..5 {
            ring.push(format!("m{i}").as_bytes());
        }
        let kept: Vec<&[u8]> = Vec::new();
        let snapshot = ring.snapshot();
        let kept = snapshot.iter().map(|b| &b[..]).fold(kept, |mut v, b| {
            v.push(b);
            v
        });
        assert_eq!(kept, [&b"m2"[..], b"m3", b"m4"]);
        assert_eq!((ring.len(), ring.capacity(), ring.skipped()), (3, 3, 0));
    }

    #[test]
    fn a_push_never_waits_for_a_reader() {
        let ring = Recent::new(1);
        let held = ring.slots[0].lock().expect("lock");
        ring.push(b"while read");
        drop(held);
        assert_eq!(ring.skipped(), 1);
        assert!(ring.snapshot().is_empty());
    }
}
