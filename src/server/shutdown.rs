//! Graceful shutdown (INTERFACE.md §5): on SIGTERM or Ctrl-C the service says it is no longer
//! ready, keeps serving until every request that had arrived is answered, then stops; all within
//! the grace period (`--shutdown-grace`).
//!
//! Why not actix's own graceful stop alone: it closes the listener at once (connections still in
//! the kernel's accept queue are reset), drops connections a worker has not picked up yet, and
//! closes connections whose request is buffered but not started. With many requests queued
//! behind a busy worker, most of them were lost. So the server first drains with everything
//! still running, and only then asks actix to stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::{info, warn};

/// How long no request may have been in progress before the drain counts as done. Requests
/// that arrived before the signal but wait behind a busy worker start as soon as the worker is
/// free, within a millisecond; this leaves a wide margin for a loaded machine.
const SETTLE: Duration = Duration::from_millis(250);
/// How often the drain looks at the request counts.
const POLL: Duration = Duration::from_millis(10);

/// Whether the service is shutting down, and how many webhook requests started and finished.
#[derive(Debug, Default)]
pub struct Drain {
    shutting_down: AtomicBool,
    started: AtomicU64,
    finished: AtomicU64,
}

impl Drain {
    /// Whether SIGTERM or Ctrl-C has begun the shutdown.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Counts one request from now until the returned guard is dropped (its answer is built).
    pub fn track(&self) -> InFlight<'_> {
        self.started.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests started and not finished.
    fn in_flight(&self) -> u64 {
        // `finished` first: read the other way round, a request finishing in between could
        // make the difference negative.
        let finished = self.finished.load(Ordering::Acquire);
        self.started.load(Ordering::Acquire).saturating_sub(finished)
    }

    /// Resolves once no request has been in progress, and none has started, for `SETTLE`.
    async fn quiet(&self) {
        let mut last_started = self.started.load(Ordering::Acquire);
        let mut quiet_since = Instant::now();
        loop {
            sleep(POLL).await;
            let started = self.started.load(Ordering::Acquire);
            if started != last_started || self.in_flight() > 0 {
                last_started = started;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= SETTLE {
                return;
            }
        }
    }
}

/// One request in progress; see `Drain::track`.
pub struct InFlight<'a>(&'a Drain);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Release);
    }
}

/// Waits for SIGTERM or Ctrl-C, then: `/readyz` answers 503, requests go on being served until
/// none is left, then the server stops. When the grace period ends first, it stops at once.
pub(super) async fn stop_on_signal(server: ServerHandle, drain: Arc<Drain>, grace: Duration) {
    let signal = stop_signal().await;
    drain.shutting_down.store(true, Ordering::Relaxed);
    info!(signal, grace_s = grace.as_secs_f64(), "{signal}: answering the requests that arrived, then stopping");
    let started = Instant::now();
    let drained = timeout_at(started + grace, drain.quiet()).await.is_ok();
    if drained {
        info!(drain_ms = started.elapsed().as_secs_f64() * 1e3, "every request answered; stopping");
    } else {
        warn!(in_flight = drain.in_flight(), "shutdown grace period over: stopping with requests unanswered");
    }
    // Graceful when drained: what is left are idle keep-alive connections, which actix closes.
    server.stop(drained).await;
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT) with the signal's name.
async fn stop_signal() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn quiet_waits_for_the_requests_in_flight() {
        let drain = Drain::default();
        let request = drain.track();
        assert_eq!(drain.in_flight(), 1);
        let early = tokio::time::timeout(SETTLE * 2, drain.quiet()).await;
        assert!(early.is_err(), "quiet with a request in flight");
        drop(request);
        assert_eq!(drain.in_flight(), 0);
        let done = tokio::time::timeout(SETTLE * 4, drain.quiet()).await;
        assert!(done.is_ok(), "never quiet once the request finished");
    }
}
