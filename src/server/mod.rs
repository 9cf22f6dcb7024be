//! The HTTP service (docs/service.md): the app, its routes and their shared state. The request
//! flow enters here (`webhook`) and leaves as the answer body.
//!
//! `build` binds the listener first and returns the server with the address it got, so the
//! command line (`inflight serve`) and the tests (port 0) run the same code. The rule set lives
//! in an `Arc<LiveRules>` owned by the caller: a reload task started beside the server swaps it,
//! and each request takes the rule set serving once and decides with that one.
//!
//! Routes: `POST <path>` (the webhook), `GET /healthz`, `GET /readyz`, `GET /metrics`.

pub mod auth;
pub mod decisions;
pub mod metrics;
mod status;
pub mod tls;
mod webhook;

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use tracing::info;

pub use auth::BasicAuth;
pub use decisions::{DecisionLogSink, DecisionRecord, DecisionSink, SinkCounts};
pub use metrics::Metrics;

use crate::reload::LiveRules;

/// Paths the service answers itself; the webhook path cannot be one of them.
pub const RESERVED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How long in-flight requests get to finish after SIGTERM or Ctrl-C.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What to answer when a message cannot be decided (no rule set loaded, evaluation failed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// `200 {}`: the message goes through untouched.
    #[default]
    Open,
    /// `200 {"action":"do_not_propagate"}`: the message is dropped.
    Closed,
}

impl FailMode {
    pub fn name(self) -> &'static str {
        match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

/// The validated settings of the service.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// The webhook path; checked by `check_path`.
    pub path: String,
    pub basic_auth: Option<BasicAuth>,
    pub fail_mode: FailMode,
    /// Largest body accepted, in bytes; larger ones get `413`.
    pub max_body: usize,
    /// `--decision-log FILE`. The writer plugs in as `Shared::decisions`.
    pub decision_log: Option<PathBuf>,
    pub workers: NonZeroUsize,
    /// Whether message text may appear in logs.
    pub log_text: bool,
    /// Serve HTTPS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Stop gracefully on SIGTERM and Ctrl-C. Off for servers embedded in tests.
    pub stop_on_signals: bool,
}

pub const DEFAULT_MAX_BODY: usize = 262_144;

impl Config {
    /// The defaults of docs/service.md, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Config {
        Config {
            listen,
            path: "/webhook".into(),
            basic_auth: None,
            fail_mode: FailMode::Open,
            max_body: DEFAULT_MAX_BODY,
            decision_log: None,
            workers: default_workers(),
            log_text: false,
            tls: None,
            stop_on_signals: true,
        }
    }
}

/// One worker per core.
pub fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// A webhook path: absolute, plain (no query, fragment, whitespace or `{}` pattern), and not one
/// of the service's own endpoints.
pub fn check_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} does not start with '/'"));
    }
    if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '{' | '}')) {
        return Err(format!("{path:?} contains {c:?}"));
    }
    if RESERVED_PATHS.contains(&path) {
        return Err(format!("{path} is one of the service's own endpoints ({})", RESERVED_PATHS.join(", ")));
    }
    Ok(path.to_owned())
}

/// What the server shares with whoever started it: the live rule set (which a reload task swaps),
/// the metrics (which it counts into), and the decision log, when one is configured.
#[derive(Clone, Debug)]
pub struct Shared {
    pub live: Arc<LiveRules>,
    pub metrics: Arc<Metrics>,
    /// Receives every `before_message` decision (`--decision-log`); `None` writes nothing.
    pub decisions: Option<Arc<dyn DecisionSink>>,
}

impl Shared {
    pub fn new(live: Arc<LiveRules>, metrics: Arc<Metrics>) -> Shared {
        Shared { live, metrics, decisions: None }
    }
}

/// The state every route reads: one copy per worker, sharing the rule set and metrics.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub live: Arc<LiveRules>,
    pub metrics: Arc<Metrics>,
    pub decisions: Option<Arc<dyn DecisionSink>>,
    pub auth: Option<BasicAuth>,
    pub fail_mode: FailMode,
    pub max_body: usize,
    pub log_text: bool,
}

/// A bound, not yet running server: await `server` to serve; `server.handle()` stops it.
pub struct Running {
    pub server: actix_web::dev::Server,
    /// The address bound (the real port when `listen` asked for port 0).
    pub addr: SocketAddr,
}

/// Binds `config.listen` and builds the server on it. Nothing is served until `server` is
/// awaited (inside an actix `System`).
pub fn build(config: &Config, shared: Shared) -> std::io::Result<Running> {
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    shared.metrics.observe_ruleset(shared.live.current().as_deref());
    let state = AppState {
        live: shared.live,
        metrics: shared.metrics,
        decisions: shared.decisions,
        auth: config.basic_auth.clone(),
        fail_mode: config.fail_mode,
        max_body: config.max_body,
        log_text: config.log_text,
    };
    let path = config.path.clone();
    let max_body = config.max_body;
    let server = HttpServer::new(move || {
        // One `Data` per worker (this closure runs once per worker): each request clones its
        // worker's `Arc`, so workers do not contend on one reference count.
        App::new()
            .app_data(web::Data::new(state.clone()))
            // The webhook reads its body itself (webhook::read_body); this limit covers any
            // extractor added later.
            .app_data(web::PayloadConfig::new(max_body))
            .service(web::resource(path.as_str()).route(web::post().to(webhook::handle)))
            .route("/healthz", web::get().to(status::healthz))
            .route("/readyz", web::get().to(status::readyz))
            .route("/metrics", web::get().to(status::metrics))
    })
    .workers(config.workers.get())
    .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs());
    let server = if config.stop_on_signals {
        // Our own handler, because actix stops at once on Ctrl-C; here both signals let
        // in-flight requests finish.
        server.shutdown_signal(stop_signal())
    } else {
        server.disable_signals()
    };
    let server = match &config.tls {
        Some(tls) => server.listen_rustls_0_23(listener, rustls::ServerConfig::clone(tls))?,
        None => server.listen(listener)?,
    };
    Ok(Running { server: server.run(), addr })
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!("interrupted: stopping after the requests in flight"),
        () = terminate => info!("SIGTERM: stopping after the requests in flight"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_paths() {
        for ok in ["/webhook", "/", "/cometchat/before-message", "/hooks/v1"] {
            assert_eq!(check_path(ok).as_deref(), Ok(ok));
        }
        for (bad, why) in [
            ("webhook", "start with '/'"),
            ("", "start with '/'"),
            ("/web hook", "contains ' '"),
            ("/hook?x=1", "contains '?'"),
            ("/hook/{id}", "contains '{'"),
            ("/healthz", "own endpoints"),
            ("/metrics", "own endpoints"),
        ] {
            let err = check_path(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
