//! What rules remember across messages (docs/rules.md, "Rules that remember"): one exchange per
//! message with a state store, and the store's two backends.
//!
//! The request flow stays one way. Evaluation is pure: `Ruleset::prepare` matches the message
//! and says what it needs from state (a [`Query`]: the windows to count this message in, the
//! counters to read, the sender to record, the resend to recognise); the store answers with a
//! [`View`] in ONE exchange, in which everything is recorded and read atomically; then
//! `Prepared::finish` decides with that view, and the `counts` of enforced hits and the answer
//! for resends follow as a [`Record`], off the request path. A rule set without state keys has no
//! query and never reaches this module.
//!
//! Keys are 128-bit stable hashes of what they identify (rule id or counter name, and the
//! sender, receiver, conversation or app): fixed-size whatever the uids, equal across replicas
//! and releases.

pub mod memory;
pub mod redis;
pub mod similar;

use std::fmt;

pub use memory::MemoryState;

use crate::message::MessageView;
use crate::rules::{Decision, Prepared, Ruleset};
pub use similar::Signature;

/// How long a (sender, `muid`) pair is remembered: a resend within this gets the first answer.
pub const RESEND_WINDOW_MS: u64 = 10 * 60 * 1000;
/// `--state-retention`'s default: first-seen times and message counts, after a sender's last
/// message.
pub const DEFAULT_RETENTION_MS: u64 = 30 * 86_400_000;
/// `--state-max-keys`' default.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;
/// `--state-timeout`'s default, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 50;
/// How many earlier texts a `similar < 1.0` repeat compares with, per scope: the newest ones.
pub const SIMILAR_HISTORY: usize = 128;

/// A key of the state store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub u128);

impl Key {
    /// The key of `parts` under `kind` (a one-letter namespace): FNV-1a over 128 bits, each part
    /// followed by a separator so `("ab","c")` and `("a","bc")` differ.
    pub fn of(kind: u8, parts: &[&str]) -> Key {
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
        let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        let mut add = |b: u8| {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        };
        add(kind);
        for part in parts {
            part.bytes().for_each(&mut add);
            add(0xff);
        }
        Key(h)
    }

    /// The key in Redis: a prefix and 32 hex digits.
    pub fn redis_name(self) -> String {
        format!("inflight:{:032x}", self.0)
    }
}

/// What one message needs from state: recorded and read in one atomic exchange.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// The message's time, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// (sender, `muid`): claimed for [`RESEND_WINDOW_MS`]; when already claimed the exchange
    /// records nothing and answers [`View::duplicate`].
    pub claim: Option<Key>,
    /// The sender: read its first-seen time and message count, then count this message.
    pub sender: Option<Key>,
    /// Windows that count this message, and read their count (this message included).
    pub windows: Vec<WindowOp>,
    /// Near-duplicate windows (`similar < 1.0`): count the earlier texts at least that similar,
    /// plus this one, then record this one.
    pub similar: Vec<SimilarOp>,
    /// Counters to read (as they stood before this message).
    pub counters: Vec<WindowRead>,
}

impl Query {
    /// Whether there is anything to ask.
    pub fn is_empty(&self) -> bool {
        self.claim.is_none()
            && self.sender.is_none()
            && self.windows.is_empty()
            && self.similar.is_empty()
            && self.counters.is_empty()
    }
}

/// A window that counts this message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowOp {
    /// The window's key.
    pub key: Key,
    /// How far back it reaches, in milliseconds.
    pub within_ms: u64,
}

/// A window read without recording (a counter).
pub type WindowRead = WindowOp;

/// A near-duplicate window.
#[derive(Clone, Debug, PartialEq)]
pub struct SimilarOp {
    /// The scope's key.
    pub key: Key,
    /// How far back it reaches, in milliseconds.
    pub within_ms: u64,
    /// How many of the signature's slots must agree for two texts to count as the same.
    pub slots_needed: u32,
    /// This text's signature.
    pub signature: Signature,
}

/// What the store answered: one entry per op of the query, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The (sender, `muid`) was seen within [`RESEND_WINDOW_MS`]: nothing was recorded.
    pub duplicate: Option<Duplicate>,
    /// The sender as it stood before this message; `None`: never seen (or not asked).
    pub sender: Option<SenderSeen>,
    /// Counts of `Query::windows`, this message included.
    pub windows: Vec<u64>,
    /// Counts of `Query::similar`, this message included.
    pub similar: Vec<u64>,
    /// Values of `Query::counters`, before this message.
    pub counters: Vec<u64>,
}

impl View {
    /// What an empty store answers: every window counts this message alone, every counter is
    /// 0, no sender was seen. `inflight eval` and `Ruleset::evaluate` decide on it.
    pub fn fresh(query: &Query) -> View {
        View {
            duplicate: None,
            sender: None,
            windows: vec![1; query.windows.len()],
            similar: vec![1; query.similar.len()],
            counters: vec![0; query.counters.len()],
        }
    }
}

/// A resend seen before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Duplicate {
    /// The answer given the first time.
    Answer(Vec<u8>),
    /// The first one is still being decided (a resend within milliseconds): decided without
    /// state, recording nothing.
    Pending,
}

/// What the store knew of a sender before this message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderSeen {
    /// When inflight first recorded the sender (ms since the epoch).
    pub first_ms: u64,
    /// How many messages it recorded from the sender.
    pub messages: u64,
}

/// What follows a decision, off the request path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The decision's time (ms since the epoch).
    pub at_ms: u64,
    /// Counter additions from the `counts` of enforced hits.
    pub adds: Vec<CounterAdd>,
    /// The answer to give a resend of this (sender, `muid`).
    pub answer: Option<(Key, Vec<u8>)>,
}

impl Record {
    /// Whether there is nothing to record.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.answer.is_none()
    }
}

/// One `counts` addition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterAdd {
    /// The counter's key (its name and the message's key of its `per`).
    pub key: Key,
    /// The counter's window, in milliseconds.
    pub window_ms: u64,
    /// What to add.
    pub amount: u64,
}

/// Why an exchange with the store failed: the message is decided without state rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not connected (Redis down, not reachable, not started yet).
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// Slower than `--state-timeout`.
    #[error("state store slower than the {0} ms budget")]
    TimedOut(u64),
    /// The store answered with an error (out of memory, a script error).
    #[error("state store error: {0}")]
    Failed(String),
}

impl StateError {
    /// The metric label of the result.
    pub fn label(&self) -> &'static str {
        match self {
            StateError::Unavailable(_) => "unavailable",
            StateError::TimedOut(_) => "timeout",
            StateError::Failed(_) => "error",
        }
    }
}

/// The bucket (second) a time falls in: windows count whole seconds, so a window may reach up
/// to 1 s further back than `within`, never less far.
pub fn second_of(at_ms: u64) -> u64 {
    at_ms / 1000
}

/// The oldest second a window of `within_ms` ending at `at_ms` includes.
pub fn oldest_second(at_ms: u64, within_ms: u64) -> u64 {
    at_ms.saturating_sub(within_ms) / 1000
}

/// Which backend, for logs and metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// In this process.
    Memory,
    /// Redis.
    Redis,
}

impl BackendKind {
    /// `memory` or `redis`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Redis => "redis",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state store: one exchange per message that needs state, and the record that follows.
pub trait State: Send + Sync {
    /// Records and reads what `query` says, atomically, in one round trip.
    fn exchange(&self, query: Query) -> impl Future<Output = Result<View, StateError>> + Send;
    /// Applies a record; never makes the caller wait for a network.
    fn record(&self, record: Record);
}

/// A message decided with a state store at hand.
#[derive(Debug)]
pub enum Outcome<'r> {
    /// Decided now.
    Decided(Decision<'r>),
    /// A resend of a (sender, `muid`) seen within ten minutes: the first answer, nothing changed.
    Resent(Vec<u8>),
}

/// Decides one message at `at_ms` with the memory store, as the service does with its store:
/// prepare, one exchange (none for a rule set without state), finish, record. `[[case]]`
/// sequences and `inflight replay` decide through this.
pub fn decide_now<'r>(ruleset: &'r Ruleset, msg: &MessageView<'_>, at_ms: u64, store: &MemoryState) -> Outcome<'r> {
    decide_with(ruleset, msg, at_ms, |q| store.exchange_now(q), |r| store.record_now(&r))
}

/// [`decide_now`] with the exchange and the record passed in (the service times them).
pub fn decide_with<'r>(
    ruleset: &'r Ruleset,
    msg: &MessageView<'_>,
    at_ms: u64,
    exchange: impl FnOnce(&Query) -> View,
    record: impl FnOnce(Record),
) -> Outcome<'r> {
    let prepared = ruleset.prepare(msg, at_ms);
    if !ruleset.uses_state() || prepared.query.is_empty() {
        let decision = prepared.finish(msg, Some(&View::default()));
        record_after(&decision, record);
        return Outcome::Decided(decision);
    }
    let view = exchange(&prepared.query);
    let outcome = settle(prepared, msg, Some(view));
    if let Outcome::Decided(decision) = &outcome {
        record_after(decision, record);
    }
    outcome
}

/// A prepared message with what the store answered (`None`: the store was unavailable): the
/// first answer for a resend, or the decision. The memory path ([`decide_with`]) and the Redis
/// path of the service both settle through here.
pub fn settle<'r>(prepared: Prepared<'r>, msg: &MessageView<'_>, view: Option<View>) -> Outcome<'r> {
    match view {
        Some(View { duplicate: Some(Duplicate::Answer(answer)), .. }) => Outcome::Resent(answer),
        Some(view) if view.duplicate.is_none() => Outcome::Decided(prepared.finish(msg, Some(&view))),
        // Unavailable, or the first of two resends still being decided: decided without the
        // rules that need state (and nothing to record).
        _ => Outcome::Decided(prepared.finish(msg, None)),
    }
}

/// Hands what follows a decision to `apply`, unless there is nothing (the answer is serialized
/// only when a resend may need it).
pub fn record_after(decision: &Decision<'_>, apply: impl FnOnce(Record)) {
    let state = &decision.state;
    if state.adds.is_empty() && state.claim.is_none() {
        return;
    }
    apply(state.record(&decision.answer_json()));
}

/// The store `inflight serve` uses: one of the two backends.
#[derive(Debug)]
pub enum Store {
    /// `--state memory`.
    Memory(MemoryState),
    /// `--state redis://…`.
    Redis(redis::RedisState),
}

impl Store {
    /// Which backend.
    pub fn kind(&self) -> BackendKind {
        match self {
            Store::Memory(_) => BackendKind::Memory,
            Store::Redis(_) => BackendKind::Redis,
        }
    }

    /// The memory backend, whose exchange needs no waiting.
    pub fn memory(&self) -> Option<&MemoryState> {
        match self {
            Store::Memory(m) => Some(m),
            Store::Redis(_) => None,
        }
    }

    /// Whether the store is unavailable now (rules that need state are skipped).
    pub fn is_degraded(&self) -> bool {
        match self {
            Store::Memory(_) => false,
            Store::Redis(r) => r.is_degraded(),
        }
    }

    /// Keys held and keys evicted, for a store that knows them (memory).
    pub fn keys_and_evictions(&self) -> Option<(usize, u64)> {
        self.memory().map(|m| (m.keys(), m.evictions()))
    }

    /// One exchange (see [`State::exchange`]).
    pub async fn exchange(&self, query: Query) -> Result<View, StateError> {
        match self {
            Store::Memory(m) => Ok(m.exchange_now(&query)),
            Store::Redis(r) => r.exchange(query).await,
        }
    }

    /// What follows a decision (see [`State::record`]).
    pub fn record(&self, record: Record) {
        match self {
            Store::Memory(m) => m.record_now(&record),
            Store::Redis(r) => r.record(record),
        }
    }
}

/// `--state`: where state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateSpec {
    /// In this process.
    Memory,
    /// A Redis URL, `redis://HOST:PORT[/DB]`.
    Redis(String),
}

impl std::str::FromStr for StateSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "memory" {
            Ok(StateSpec::Memory)
        } else if s.starts_with("redis://") || s.starts_with("rediss://") {
            Ok(StateSpec::Redis(s.to_owned()))
        } else {
            Err(format!("{s:?}: expected `memory` or `redis://HOST:PORT[/DB]`"))
        }
    }
}
