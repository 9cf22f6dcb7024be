//! The HTTP service (docs/service.md): the app, its routes and their shared state. The request
//! flow enters here (`webhook`) and leaves as the answer body.
//!
//! `build` binds the listener first and returns the server with the address it got, so the
//! command line (`inflight serve`) and the tests (port 0) run the same code. The rule set lives
//! in an `Arc<LiveRules>` owned by the caller: a reload task started beside the server swaps it,
//! and each request takes the rule set serving once and decides with that one.
//!
//! Routes: `POST <path>` (the webhook), `GET`/`HEAD` `/healthz` and `/readyz`, `GET /metrics`,
//! and with a console (`--ui`) everything under `/ui` (see `ui`).

pub mod auth;
pub mod decisions;
pub mod metrics;
pub mod shutdown;
pub mod state_metrics;
mod status;
pub mod tls;
pub mod ui;
mod webhook;

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpMessage, HttpService, Request};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{App, web};
pub use auth::BasicAuth;
pub use decisions::{DecisionLogSink, DecisionRecord, DecisionSink, SinkCounts};
pub use metrics::Metrics;

pub use shutdown::Drain;

use crate::reload::LiveRules;
use crate::state::{self, MemoryState, Store};

/// Paths the service answers itself; the webhook path cannot be one of them.
pub const RESERVED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How long the requests that arrived get to be answered after SIGTERM or Ctrl-C.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's head, and then its body.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_millis(5000);

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
    /// `open` or `closed`.
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
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The webhook path; checked by `check_path`.
    pub path: String,
    /// The credential every webhook call must carry, when set.
    pub basic_auth: Option<BasicAuth>,
    /// What to answer when a message cannot be decided.
    pub fail_mode: FailMode,
    /// Largest body accepted, in bytes; larger ones get `413`.
    pub max_body: usize,
    /// `--decision-log FILE`. The writer plugs in as `Shared::decisions`.
    pub decision_log: Option<PathBuf>,
    /// Worker threads.
    pub workers: NonZeroUsize,
    /// Whether message text may appear in logs.
    pub log_text: bool,
    /// Serve HTTPS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Stop gracefully on SIGTERM and Ctrl-C. Off for servers embedded in tests.
    pub stop_on_signals: bool,
    /// After SIGTERM or Ctrl-C: the longest wait for the requests that arrived to be answered.
    pub shutdown_grace: Duration,
    /// The longest a client may take to send a request's head, and then its body (`408`).
    pub client_timeout: Duration,
    /// At most this many `matches` in an answer (`truncated` says when some were left out).
    pub max_matches: usize,
    /// A message whose text, or any attachment name, URL or the metadata, is longer than this is
    /// not matched: it is answered by the fail mode (outcome `oversized`). Bounds the time one
    /// request can hold a worker.
    pub max_field_bytes: usize,
}

/// `--max-field-bytes`' default: 128 KiB, twice CometChat's largest message (about 64 KB).
pub const DEFAULT_MAX_FIELD_BYTES: usize = 131_072;

/// `--max-body`'s default: 256 KiB, above CometChat's 64 KB messages.
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
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            max_matches: crate::rules::eval::DEFAULT_MAX_MATCHES,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
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
    /// The rule set serving, swapped by reloads.
    pub live: Arc<LiveRules>,
    /// The Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Receives every `before_message` decision (`--decision-log`); `None` writes nothing.
    pub decisions: Option<Arc<dyn DecisionSink>>,
    /// Where rules that count keep their state (`--state`); `None`: such rules decide on empty
    /// state.
    pub store: Option<Arc<Store>>,
    /// The console (`--ui`): served at `/ui` when set.
    pub console: Option<Arc<ui::Console>>,
}

impl Shared {
    /// The state of a server without a decision log or console, with a memory state store.
    pub fn new(live: Arc<LiveRules>, metrics: Arc<Metrics>) -> Shared {
        let store = Store::Memory(MemoryState::new(state::DEFAULT_MAX_KEYS, state::DEFAULT_RETENTION_MS));
        Shared { live, metrics, decisions: None, store: Some(Arc::new(store)), console: None }
    }
}

/// The state every route reads: one copy per worker, sharing the rule set and metrics.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub live: Arc<LiveRules>,
    pub metrics: Arc<Metrics>,
    pub decisions: Option<Arc<dyn DecisionSink>>,
    pub store: Option<Arc<Store>>,
    pub auth: Option<BasicAuth>,
    pub fail_mode: FailMode,
    pub max_body: usize,
    pub client_timeout: Duration,
    pub max_matches: usize,
    pub max_field_bytes: usize,
    pub log_text: bool,
    /// Counts requests in flight and says whether shutdown has begun.
    pub drain: Arc<Drain>,
    /// The console, with `--ui`.
    pub console: Option<Arc<ui::Console>>,
}

/// A bound, not yet running server: await `server` to serve; `server.handle()` stops it.
pub struct Running {
    /// The running server, to await or stop.
    pub server: actix_web::dev::Server,
    /// The address bound (the real port when `listen` asked for port 0).
    pub addr: SocketAddr,
}

impl AppState {
    fn new(config: &Config, shared: Shared, drain: Arc<Drain>) -> AppState {
        AppState {
            live: shared.live,
            metrics: shared.metrics,
            decisions: shared.decisions,
            store: shared.store,
            console: shared.console,
            auth: config.basic_auth.clone(),
            fail_mode: config.fail_mode,
            max_body: config.max_body,
            client_timeout: config.client_timeout,
            max_matches: config.max_matches,
            max_field_bytes: config.max_field_bytes,
            log_text: config.log_text,
            drain,
        }
    }
}

/// The routes: the webhook at `path`, the service's own endpoints, and with the console `/ui`.
fn add_routes(routes: &mut web::ServiceConfig, path: &str, with_console: bool) {
    if with_console {
        ui::configure(routes);
    }
    routes
        .service(web::resource(path).route(web::post().to(webhook::handle)))
        .service(web::resource("/healthz").route(web::get().to(status::healthz)).route(web::head().to(status::healthz)))
        .service(web::resource("/readyz").route(web::get().to(status::readyz)).route(web::head().to(status::readyz)))
        .route("/metrics", web::get().to(status::metrics));
}

/// Binds `config.listen` and builds the server on it. Call it inside an actix `System`: with
/// `stop_on_signals`, the task that drains and stops the server on SIGTERM starts here; nothing
/// is served until `server` is awaited.
pub fn build(config: &Config, shared: Shared) -> std::io::Result<Running> {
    if shared.console.is_some() {
        ui::check_exposure(config.listen, config.basic_auth.as_ref())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    }
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    shared.metrics.observe_ruleset(shared.live.current().as_deref());
    let drain = Arc::new(Drain::default());
    let state = AppState::new(config, shared, Arc::clone(&drain));
    if let Some(console) = &state.console {
        actix_web::rt::spawn(ui::sample_every_minute(Arc::clone(console), Arc::clone(&state.metrics)));
    }
    let with_console = state.console.is_some();
    let path = config.path.clone();
    let max_body = config.max_body;
    let expect_state = state.clone();
    let expect_path = config.path.clone();
    let app = move || {
        // One `Data` per worker (this closure runs once per worker): each request clones its
        // worker's `Arc`, so workers do not contend on one reference count.
        App::new()
            .app_data(web::Data::new(state.clone()))
            // The webhook reads its body itself (webhook::read_body); this limit covers any
            // extractor added later.
            .app_data(web::PayloadConfig::new(max_body))
            .configure(|routes| add_routes(routes, &path, with_console))
    };
    let client_timeout = config.client_timeout;
    // Built from actix-http's `HttpService` rather than actix-web's `HttpServer`, which has no
    // way to answer a request before `100 Continue` is sent: a webhook call without the right
    // credential must get its `401` first (this expect handler).
    let expect = move || {
        let expect_state = expect_state.clone();
        let expect_path = expect_path.clone();
        fn_service(move |req: Request| {
            let refused = (req.path() == expect_path)
                .then(|| webhook::refuse_before_continue(&expect_state, req.headers()))
                .flatten();
            async move {
                match refused {
                    Some(response) => {
                        Err(actix_web::error::InternalError::from_response("unauthorized", response).into())
                    }
                    None => Ok::<Request, actix_web::Error>(req),
                }
            }
        })
    };
    // A macro, not a closure: the plain and the TLS listener need the service over two stream
    // types.
    macro_rules! http_service {
        () => {
            HttpService::build()
                .client_request_timeout(client_timeout)
                // As actix-web's `HttpServer` does: a closing client gets 1 s to go.
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .expect(expect())
                .finish(map_config(
                    app().into_factory().map_err(|err: actix_web::Error| err.error_response().map_into_boxed_body()),
                    |_| AppConfig::default(),
                ))
        };
    }
    let server = actix_server::Server::build()
        .workers(config.workers.get())
        // Signals are ours (`shutdown::stop_on_signal`): actix's would stop before the requests
        // that arrived are answered. This bounds actix's own stop, which comes after the drain.
        .disable_signals()
        .shutdown_timeout(config.shutdown_grace.as_secs().max(1));
    let server = match &config.tls {
        Some(tls) => {
            let tls = rustls::ServerConfig::clone(tls);
            server.listen("inflight-https", listener, move || http_service!().rustls_0_23(tls.clone()))?
        }
        None => server.listen("inflight-http", listener, move || http_service!().tcp())?,
    };
    let server = server.run();
    if config.stop_on_signals {
        actix_web::rt::spawn(shutdown::stop_on_signal(server.handle(), drain, config.shutdown_grace));
    }
    Ok(Running { server, addr })
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
