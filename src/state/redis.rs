//! The Redis backend: state shared by every replica pointed at one Redis, surviving restarts.
//!
//! One message that needs state costs one round trip: a Lua script (sent by `EVALSHA`, loaded
//! once per Redis start) claims the resend key, reads and counts the sender, records the
//! message in each window and reads its count, reads the counters, all atomically. The `counts`
//! additions and the answer kept for resends follow in one pipeline that the request does not
//! wait for. Every key expires with its window (plus the 1 s of bucketing), senders with
//! `--state-retention`, resend answers after ten minutes.
//!
//! Connections live on a thread of their own (a current-thread Tokio runtime): the webhook's
//! workers hand it each exchange and wait at most `--state-timeout`. The first failure marks the
//! store degraded (logged once); while degraded no request waits for Redis at all, and a probe
//! (`PING`, every [`PROBE_EVERY`]) brings it back on the first success. So a slow or dead Redis
//! costs a request at most the timeout, once per outage, and start-up never waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use tokio::runtime::Handle;

use super::{
    Duplicate, Query, RESEND_WINDOW_MS, Record, SIMILAR_HISTORY, SenderSeen, State, StateError, View, second_of,
};

/// How often a degraded store is probed.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);

/// The exchange. KEYS: [claim] [sender] windows… near-duplicate scopes… counters…; ARGV: now
/// (ms), retention (ms), has claim, has sender, #windows, #near-duplicate scopes, #counters,
/// then per window its reach (ms), per scope its reach, slots needed and signature, per counter
/// its window (ms). Answers `{1, answer}` for a resend, else `{0, first seen (-1: never),
/// messages, counts…}`.
const EXCHANGE: &str = r#"
local now = tonumber(ARGV[1])
local sec = math.floor(now / 1000)
local k, a = 1, 8
if ARGV[3] == '1' then
  if not redis.call('SET', KEYS[k], '', 'NX', 'PX', tonumber(ARGV[8 + tonumber(ARGV[5]) + 3 * tonumber(ARGV[6]) + tonumber(ARGV[7])])) then
    return {1, redis.call('GET', KEYS[k]) or ''}
  end
  k = k + 1
end
local out = {0, -1, 0}
if ARGV[4] == '1' then
  local seen = redis.call('HMGET', KEYS[k], 'f', 'l', 'n')
  local first, last, n = tonumber(seen[1]), tonumber(seen[2]), tonumber(seen[3]) or 0
  local retention = tonumber(ARGV[2])
  if first and last and now - last <= retention then
    out[2] = first
    out[3] = n
    redis.call('HSET', KEYS[k], 'f', math.min(first, now), 'l', now, 'n', n + 1)
  else
    redis.call('HSET', KEYS[k], 'f', now, 'l', now, 'n', 1)
  end
  redis.call('PEXPIRE', KEYS[k], retention)
  k = k + 1
end
local function sum(key, oldest, prune)
  local all = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) < oldest then
      if prune then redis.call('HDEL', key, all[i]) end
    else
      total = total + tonumber(all[i + 1])
    end
  end
  return total
end
for i = 1, tonumber(ARGV[5]) do
  local within = tonumber(ARGV[a]); a = a + 1
  redis.call('HINCRBY', KEYS[k], sec, 1)
  out[#out + 1] = sum(KEYS[k], math.floor((now - within) / 1000), true)
  redis.call('PEXPIRE', KEYS[k], within + 1000)
  k = k + 1
end
for i = 1, tonumber(ARGV[6]) do
  local within, need, sig = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]; a = a + 3
  local oldest = math.floor((now - within) / 1000)
  local count = 1
  for _, item in ipairs(redis.call('LRANGE', KEYS[k], 0, HISTORY - 1)) do
    local colon = string.find(item, ':', 1, true)
    if colon and tonumber(string.sub(item, 1, colon - 1)) >= oldest then
      local same = 0
      for j = 0, 63 do
        local p = colon + 1 + 2 * j
        if string.sub(item, p, p + 1) == string.sub(sig, 2 * j + 1, 2 * j + 2) then same = same + 1 end
      end
      if same >= need then count = count + 1 end
    end
  end
  redis.call('LPUSH', KEYS[k], sec .. ':' .. sig)
  redis.call('LTRIM', KEYS[k], 0, HISTORY - 1)
  redis.call('PEXPIRE', KEYS[k], within + 1000)
  out[#out + 1] = count
  k = k + 1
end
for i = 1, tonumber(ARGV[7]) do
  local within = tonumber(ARGV[a]); a = a + 1
  out[#out + 1] = sum(KEYS[k], math.floor((now - within) / 1000), false)
  k = k + 1
end
return out
"#;

/// The Redis backend.
#[derive(Debug)]
pub struct RedisState {
    shared: Arc<Shared>,
    runtime: Handle,
}

#[derive(Debug)]
struct Shared {
    conn: ConnectionManager,
    script: Script,
    timeout: Duration,
    retention_ms: u64,
    /// No exchange is tried while set; the probe clears it.
    degraded: AtomicBool,
    /// Failed exchanges (and probes) since start.
    failures: AtomicU64,
    /// Where it points, without credentials, for logs.
    target: String,
}

impl RedisState {
    /// Connects lazily to `url` (`redis://HOST:PORT[/DB]`): returns at once, degraded until the
    /// first probe succeeds. An error only for a URL that cannot be used at all.
    pub fn start(url: &str, timeout: Duration, retention_ms: u64) -> Result<RedisState, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--state {}: {e}", redact(url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(timeout.max(Duration::from_millis(200))))
            .set_number_of_retries(1)
            .set_max_delay(PROBE_EVERY);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis thread: {e}"))?;
        let handle = runtime.handle().clone();
        let conn = {
            let _inside = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| format!("--state {}: {e}", redact(url)))?
        };
        let shared = Arc::new(Shared {
            conn,
            script: Script::new(&EXCHANGE.replace("HISTORY", &SIMILAR_HISTORY.to_string())),
            timeout,
            retention_ms,
            degraded: AtomicBool::new(true),
            failures: AtomicU64::new(0),
            target: redact(url),
        });
        let probe = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("inflight-redis".into())
            .spawn(move || runtime.block_on(probe_forever(probe)))
            .map_err(|e| format!("cannot start the Redis thread: {e}"))?;
        Ok(RedisState { shared, runtime: handle })
    }

    /// Whether the store is degraded (unreachable, or failing) now.
    pub fn is_degraded(&self) -> bool {
        self.shared.degraded.load(Ordering::Relaxed)
    }

    /// Failed exchanges and probes since start.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }
}

/// Probes a degraded store until it answers, forever.
async fn probe_forever(shared: Arc<Shared>) {
    loop {
        if shared.degraded.load(Ordering::Relaxed) {
            let mut conn = shared.conn.clone();
            let ping = tokio::time::timeout(shared.timeout.max(Duration::from_millis(200)), async {
                redis::cmd("PING").query_async::<String>(&mut conn).await
            })
            .await;
            match ping {
                Ok(Ok(_)) => {
                    shared.degraded.store(false, Ordering::Relaxed);
                    tracing::info!(state = %shared.target, "state store reachable: rules that need state apply");
                }
                Ok(Err(e)) => shared.failed(&StateError::Unavailable(e.to_string()), false),
                Err(_) => shared.failed(&StateError::TimedOut(shared.timeout.as_millis() as u64), false),
            }
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

impl Shared {
    /// Counts a failure; the first of an outage marks the store degraded and is logged.
    fn failed(&self, error: &StateError, in_request: bool) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let was = self.degraded.swap(true, Ordering::Relaxed);
        // At start the store is degraded until the first probe: log that first failure too.
        if !was || self.failures.load(Ordering::Relaxed) == 1 {
            tracing::error!(state = %self.target, %error, in_request, "state store unavailable: rules that need state are skipped until it answers");
        }
    }

    async fn exchange(&self, query: Query) -> Result<View, StateError> {
        let mut invocation = self.script.prepare_invoke();
        let counts = |n: usize| n.to_string();
        for key in query.claim.iter().chain(query.sender.iter()) {
            invocation.key(key.redis_name());
        }
        for key in query.windows.iter().map(|w| w.key).chain(query.similar.iter().map(|s| s.key)) {
            invocation.key(key.redis_name());
        }
        for read in &query.counters {
            invocation.key(read.key.redis_name());
        }
        invocation
            .arg(query.at_ms)
            .arg(self.retention_ms)
            .arg(if query.claim.is_some() { "1" } else { "0" })
            .arg(if query.sender.is_some() { "1" } else { "0" })
            .arg(counts(query.windows.len()))
            .arg(counts(query.similar.len()))
            .arg(counts(query.counters.len()));
        for w in &query.windows {
            invocation.arg(w.within_ms);
        }
        for s in &query.similar {
            invocation.arg(s.within_ms).arg(s.slots_needed).arg(s.signature.to_bytes());
        }
        for c in &query.counters {
            invocation.arg(c.within_ms);
        }
        invocation.arg(RESEND_WINDOW_MS);
        let mut conn = self.conn.clone();
        let value: Value = invocation.invoke_async(&mut conn).await.map_err(classify)?;
        parse_view(&query, value)
    }

    async fn record(&self, record: Record) {
        let mut pipe = redis::pipe();
        let second = second_of(record.at_ms);
        for add in &record.adds {
            let key = add.key.redis_name();
            pipe.cmd("HINCRBY").arg(&key).arg(second).arg(add.amount).ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(add.window_ms + 1000).ignore();
        }
        if let Some((key, answer)) = &record.answer {
            pipe.cmd("SET").arg(key.redis_name()).arg(answer.as_slice()).arg("XX").arg("KEEPTTL").ignore();
        }
        let mut conn = self.conn.clone();
        let sent = tokio::time::timeout(self.timeout * 4, pipe.query_async::<()>(&mut conn)).await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.failed(&classify(e), false),
            Err(_) => self.failed(&StateError::TimedOut(self.timeout.as_millis() as u64), false),
        }
    }
}

fn classify(e: redis::RedisError) -> StateError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        StateError::Unavailable(e.to_string())
    } else if e.is_timeout() {
        StateError::TimedOut(0)
    } else {
        StateError::Failed(e.to_string())
    }
}

/// The script's answer as a view of `query`.
fn parse_view(query: &Query, value: Value) -> Result<View, StateError> {
    let bad = || StateError::Failed("the exchange script answered in an unexpected shape".to_owned());
    let Value::Array(items) = value else { return Err(bad()) };
    let int = |v: Option<&Value>| match v {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(bad()),
    };
    if int(items.first())? == 1 {
        let answer = match items.get(1) {
            Some(Value::BulkString(b)) if !b.is_empty() => Duplicate::Answer(b.clone()),
            _ => Duplicate::Pending,
        };
        return Ok(View { duplicate: Some(answer), ..View::default() });
    }
    let first = int(items.get(1))?;
    let messages = int(items.get(2))?;
    let sender = (query.sender.is_some() && first >= 0)
        .then(|| SenderSeen { first_ms: first as u64, messages: messages.max(0) as u64 });
    let mut rest = items.iter().skip(3).map(|v| int(Some(v)).map(|n| n.max(0) as u64));
    let mut take = |n: usize| -> Result<Vec<u64>, StateError> {
        (0..n).map(|_| rest.next().unwrap_or_else(|| Err(bad()))).collect()
    };
    let windows = take(query.windows.len())?;
    let similar = take(query.similar.len())?;
    let counters = take(query.counters.len())?;
    Ok(View { duplicate: None, sender, windows, similar, counters })
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl State for RedisState {
    /// One round trip, bounded by `--state-timeout`; none at all while degraded.
    async fn exchange(&self, query: Query) -> Result<View, StateError> {
        if self.is_degraded() {
            return Err(StateError::Unavailable("degraded: waiting for the probe".to_owned()));
        }
        let shared = Arc::clone(&self.shared);
        let task = self.runtime.spawn(async move { shared.exchange(query).await });
        let started = Instant::now();
        let result = match tokio::time::timeout(self.shared.timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(StateError::Failed(join.to_string())),
            Err(_) => Err(StateError::TimedOut(self.shared.timeout.as_millis() as u64)),
        };
        if let Err(e) = &result {
            self.shared.failed(e, true);
            tracing::debug!(error = %e, took_ms = started.elapsed().as_millis(), "state exchange failed");
        }
        result
    }

    fn record(&self, record: Record) {
        if record.is_empty() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        drop(self.runtime.spawn(async move { shared.record(record).await }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_logs() {
        assert_eq!(redact("redis://127.0.0.1:6379/2"), "redis://127.0.0.1:6379/2");
        assert_eq!(redact("redis://bob:hunter2@db:6379"), "redis://bob:***@db:6379");
        assert_eq!(redact("redis://:hunter2@db"), "redis://:***@db");
    }
}
