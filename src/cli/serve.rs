//! `inflight serve`: the webhook service (docs/service.md). Validates the flags into settings,
//! sets up logs, loads the rules (refusing to start when they do not compile), then runs the
//! server of `crate::server` until SIGTERM or Ctrl-C.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::{debug, error, info, warn};
use tracing_subscriber::EnvFilter;

use super::RulesArg;
use crate::decision_log::DecisionLog;
use crate::reload::{self, LiveRules, ReloadHandle, ReloadOutcome, ReloadReport, Trigger};
use crate::server::ui::{Console, UiConfig};
use crate::server::{self, BasicAuth, DecisionLogSink, FailMode, Metrics, Shared};
use crate::state::{self, MemoryState, StateSpec, Store, redis::RedisState};

/// How long the decision log gets to write its queue out at shutdown.
const DECISION_LOG_FLUSH: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub rules: RulesArg,
    /// Address to listen on (port 0 picks a free port; the address bound is logged).
    #[arg(long, env = "INFLIGHT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The webhook path.
    #[arg(long, env = "INFLIGHT_PATH", default_value = "/webhook", value_parser = server::check_path)]
    pub path: String,
    /// Require HTTP Basic auth on the webhook path.
    #[arg(long, env = "INFLIGHT_BASIC_AUTH", value_name = "USER:PASS", hide_env_values = true)]
    pub basic_auth: Option<BasicAuth>,
    /// What to answer when a message cannot be decided: open lets it through, closed drops it.
    #[arg(long, env = "INFLIGHT_FAIL_MODE", value_enum, default_value_t = FailMode::Open)]
    pub fail_mode: FailMode,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "INFLIGHT_MAX_BODY", value_name = "BYTES", default_value_t = server::DEFAULT_MAX_BODY as u64,
          value_parser = clap::value_parser!(u64).range(1..=(isize::MAX as u64)))]
    pub max_body: u64,
    /// Append one JSON line per before_message decision to FILE.
    #[arg(long, env = "INFLIGHT_DECISION_LOG", value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// Worker threads [default: number of cores].
    #[arg(long, env = "INFLIGHT_WORKERS", value_name = "N")]
    pub workers: Option<NonZeroUsize>,
    /// Log format. The filter is RUST_LOG (default: info).
    #[arg(long, env = "INFLIGHT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Allow message text in logs (off: never logged).
    #[arg(long, env = "INFLIGHT_LOG_TEXT", value_parser = clap::builder::BoolishValueParser::new(),
          default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub log_text: bool,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "INFLIGHT_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "INFLIGHT_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// After SIGTERM or Ctrl-C, the longest wait for the requests that arrived to be answered.
    #[arg(long, env = "INFLIGHT_SHUTDOWN_GRACE", value_name = "SECONDS", default_value_t = server::DEFAULT_SHUTDOWN_GRACE.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace: u64,
    /// The longest a client may take to send a request's head, and then its body (408 and closed).
    #[arg(long, env = "INFLIGHT_CLIENT_TIMEOUT", value_name = "MS", default_value_t = server::DEFAULT_CLIENT_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub client_timeout: u64,
    /// At most this many `matches` in an answer; `"truncated": true` says when some were cut.
    #[arg(long, env = "INFLIGHT_MAX_MATCHES", value_name = "N", default_value_t = crate::rules::eval::DEFAULT_MAX_MATCHES)]
    pub max_matches: usize,
    /// A message with a text (or attachment name, URL, metadata) longer than this is not matched
    /// but answered by the fail mode.
    #[arg(long, env = "INFLIGHT_MAX_FIELD_BYTES", value_name = "BYTES", default_value_t = server::DEFAULT_MAX_FIELD_BYTES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=(isize::MAX as u64)))]
    pub max_field_bytes: usize,
    /// Where rules that count keep their state: `memory` (this process) or
    /// `redis://HOST:PORT[/DB]` (shared by every replica).
    #[arg(long, env = "INFLIGHT_STATE", value_name = "memory|redis://HOST:PORT[/DB]", default_value = "memory")]
    pub state: StateSpec,
    /// Memory state: the most keys kept; the least recently used go first (counted).
    #[arg(long, env = "INFLIGHT_STATE_MAX_KEYS", value_name = "N", default_value_t = state::DEFAULT_MAX_KEYS as u64,
          value_parser = clap::value_parser!(u64).range(1..=(u32::MAX as u64)))]
    pub state_max_keys: u64,
    /// The most a state exchange may take, in milliseconds: past it the message is decided
    /// without the rules that need state.
    #[arg(long, env = "INFLIGHT_STATE_TIMEOUT", value_name = "MS", default_value_t = state::DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub state_timeout: u64,
    /// How long first-seen times and message counts are kept after a sender's last message.
    #[arg(long, env = "INFLIGHT_STATE_RETENTION", value_name = "DURATION", default_value = "30d",
          value_parser = parse_retention)]
    pub state_retention: u64,
    /// Serve the web console at /ui (behind --basic-auth; required beyond loopback).
    #[arg(long, env = "INFLIGHT_UI", value_parser = clap::builder::BoolishValueParser::new(),
          default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub ui: bool,
    /// Keep the last N before_message bodies in memory (never on disk) for the console's Draft replay.
    #[arg(long, env = "INFLIGHT_UI_RECENT", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=server::ui::MAX_RECENT as u64))]
    pub ui_recent: u64,
    /// Let the console's Draft page write packs into the rules folder (Apply).
    #[arg(long, env = "INFLIGHT_UI_WRITE", value_parser = clap::builder::BoolishValueParser::new(),
          default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub ui_write: bool,
}

fn parse_retention(text: &str) -> Result<u64, String> {
    crate::time::parse_duration_ms(text)
}

impl ServeArgs {
    /// The state store the flags ask for. Redis is connected lazily: this never waits for it.
    fn store(&self) -> anyhow::Result<Store> {
        Ok(match &self.state {
            StateSpec::Memory => {
                let max_keys = usize::try_from(self.state_max_keys).context("--state-max-keys is too large")?;
                Store::Memory(MemoryState::new(max_keys, self.state_retention))
            }
            StateSpec::Redis(url) => {
                let timeout = Duration::from_millis(self.state_timeout);
                Store::Redis(RedisState::start(url, timeout, self.state_retention).map_err(anyhow::Error::msg)?)
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// Everything `serve` needs, checked.
#[derive(Debug)]
struct Settings {
    rules: PathBuf,
    log_format: LogFormat,
    server: server::Config,
    /// The console's settings, with `--ui`.
    ui: Option<UiConfig>,
}

impl ServeArgs {
    /// Checks what clap could not (the TLS files) and builds the settings.
    fn validate(&self) -> anyhow::Result<Settings> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(server::tls::load(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let max_body = usize::try_from(self.max_body).context("--max-body is too large for this machine")?;
        let ui = self.console_settings()?;
        Ok(Settings {
            ui,
            rules: self.rules.dir.clone(),
            log_format: self.log_format,
            server: server::Config {
                listen: self.listen,
                path: self.path.clone(),
                basic_auth: self.basic_auth.clone(),
                fail_mode: self.fail_mode,
                max_body,
                decision_log: self.decision_log.clone(),
                workers: self.workers.unwrap_or_else(server::default_workers),
                log_text: self.log_text,
                tls,
                stop_on_signals: true,
                shutdown_grace: Duration::from_secs(self.shutdown_grace),
                client_timeout: Duration::from_millis(self.client_timeout),
                max_matches: self.max_matches,
                max_field_bytes: self.max_field_bytes,
            },
        })
    }
}

impl ServeArgs {
    /// `--ui` and its companions: refused beyond loopback without `--basic-auth`, and when the
    /// webhook path would hide the console's.
    fn console_settings(&self) -> anyhow::Result<Option<UiConfig>> {
        if !self.ui {
            if self.ui_recent > 0 || self.ui_write {
                anyhow::bail!("--ui-recent and --ui-write belong to the console: add --ui");
            }
            return Ok(None);
        }
        server::ui::check_exposure(self.listen, self.basic_auth.as_ref()).map_err(anyhow::Error::msg)?;
        if self.path == "/ui" || self.path.starts_with("/ui/") {
            anyhow::bail!("--path {} is taken by the console (--ui serves /ui)", self.path);
        }
        let recent = usize::try_from(self.ui_recent).context("--ui-recent is too large for this machine")?;
        Ok(Some(UiConfig { recent, write: self.ui_write }))
    }
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = args.validate()?;
    init_logs(settings.log_format)?;
    report_panics(settings.server.log_text);
    raise_open_files_limit();

    let (live, warnings) = match LiveRules::load(&settings.rules) {
        Ok(loaded) => loaded,
        Err(err) => return Err(super::load_failed(&settings.rules, &err).context("not starting")),
    };
    for w in &warnings {
        warn!("{w}");
    }
    let live = Arc::new(live);
    let metrics = Arc::new(Metrics::new().context("cannot set up metrics")?);
    let mut shared = Shared::new(Arc::clone(&live), Arc::clone(&metrics));
    let store = Arc::new(args.store()?);
    shared.store = Some(Arc::clone(&store));
    let decision_log = match &settings.server.decision_log {
        Some(path) => {
            let log = DecisionLog::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let sink = Arc::new(DecisionLogSink::new(log, settings.server.log_text));
            shared.decisions = Some(Arc::clone(&sink) as Arc<dyn server::DecisionSink>);
            Some(sink)
        }
        None => None,
    };
    let console = settings.ui.map(|ui| start_console(ui, &live)).transpose()?;
    shared.console = console.clone();
    let config = settings.server;

    actix_web::rt::System::new().block_on(async move {
        let running = server::build(&config, shared).with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = running.addr;
        if !addr.ip().is_loopback() && config.basic_auth.is_none() {
            warn!(listen = %addr, "listening beyond loopback without --basic-auth: anyone who reaches the port can call the webhook");
        }
        // Hot reload runs beside the server on its own thread: it swaps rule sets in `live`,
        // which every request reads once. SIGHUP asks it for a reload and reopens the decision
        // log; its handler is in place before the start-up line, so a SIGHUP sent once the
        // service says it listens never meets the default action (terminate).
        let reload_metrics = Arc::clone(&metrics);
        let reload_live = Arc::clone(&live);
        let reload_console = console.clone();
        let reloads = reload::spawn_watcher(Arc::clone(&live), reload::DEFAULT_DEBOUNCE, move |report| {
            log_reload(report);
            if let Some(console) = &reload_console {
                console.record_reload(report);
            }
            reload_metrics.record_reload_report(report);
            reload_metrics.observe_ruleset(reload_live.current().as_deref());
        })
        .context("cannot start the rules watcher")?;
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot listen for SIGHUP")?;
        actix_web::rt::spawn(reload_on_hangup(hangups, reloads, decision_log.clone()));
        log_listening(addr, &config, &live);
        log_state(&store, &live);
        if let Some(console) = &console {
            let scheme = if config.tls.is_some() { "https" } else { "http" };
            let ui = console.config();
            info!(recent = ui.recent, write = ui.write, "console at {scheme}://{addr}/ui");
        }
        info!(dir = %live.dir().display(), "watching rules for changes (SIGHUP reloads too)");
        running.server.await.context("server failed")?;
        if let Some(sink) = &decision_log
            && !sink.log().flush(DECISION_LOG_FLUSH)
        {
            warn!("the decision log did not finish writing in time; its last lines may be missing");
        }
        info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The console's state, its reload history starting with the rule set loaded at start.
fn start_console(ui: UiConfig, live: &LiveRules) -> anyhow::Result<Arc<Console>> {
    let console = Arc::new(Console::new(ui).context("cannot set up the console")?);
    console.record_start(live.current().as_deref().map(|rs| rs.hash()));
    Ok(console)
}

/// The start-up line: where it listens, the rule set serving and the settings that matter.
fn log_listening(addr: SocketAddr, config: &server::Config, live: &LiveRules) {
    let rs = live.current();
    info!(
        listen = %addr,
        ruleset = rs.as_deref().map_or("none", |rs| rs.hash()),
        rules = rs.as_deref().map_or(0, |rs| rs.rules().len()),
        keywords = rs.as_deref().map_or(0, |rs| rs.keyword_count()),
        path = config.path,
        workers = config.workers.get(),
        tls = config.tls.is_some(),
        auth = config.basic_auth.is_some(),
        fail_mode = config.fail_mode.name(),
        decision_log = config.decision_log.as_ref().map(|p| p.display().to_string()),
        shutdown_grace_s = config.shutdown_grace.as_secs(),
        client_timeout_ms = config.client_timeout.as_millis(),
        "listening on {addr}"
    );
}

/// Which state store serves, and which rules use it.
fn log_state(store: &Store, live: &LiveRules) {
    let rs = live.current();
    let using: Vec<String> = rs
        .as_deref()
        .map_or(Vec::new(), |rs| rs.rules().iter().filter(|r| r.uses_state()).map(|r| r.id.clone()).collect());
    info!(
        state = store.kind().name(),
        rules_using_state = using.len(),
        "state store: {}{}",
        store.kind(),
        if using.is_empty() { " (no rule uses state: never touched)" } else { "" }
    );
}

/// Raises the open-file soft limit to the hard limit: each connection is a file, and the usual
/// soft limit (1024) is lower than the connections one instance can hold.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(limit, "open files limit"),
        Err(e) => warn!(error = %e, "cannot raise the open files limit"),
    }
}

/// One log line per reload: what changed, or why the old rules keep serving.
fn log_reload(report: &ReloadReport) {
    let event_to_swap_ms = report.since_first_event.map(|d| d.as_secs_f64() * 1e3);
    match &report.outcome {
        ReloadOutcome::Swapped { hash, warnings, compile } => info!(
            ruleset = hash.as_str(),
            warnings,
            compile_ms = compile.as_secs_f64() * 1e3,
            event_to_swap_ms,
            "rules reloaded: new rule set serving"
        ),
        ReloadOutcome::Unchanged { hash } => {
            debug!(ruleset = hash.as_str(), "rules folder changed but compiles to the rule set already serving")
        }
        ReloadOutcome::Failed(err) => {
            for d in &err.0 {
                warn!(diagnostic = %d, "rules reload refused");
            }
            error!(
                errors = err.error_count(),
                first = err.first().map(ToString::to_string),
                "rules reload failed: the previous rule set keeps serving"
            );
        }
    }
}

/// SIGHUP: reload the rules now and reopen the decision log (after logrotate moved it).
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    reloads: ReloadHandle,
    decision_log: Option<Arc<DecisionLogSink>>,
) {
    while hangups.recv().await.is_some() {
        info!("SIGHUP: reloading rules and reopening the decision log");
        reloads.request(Trigger::Signal);
        if let Some(sink) = &decision_log {
            sink.log().reopen();
        }
    }
}

/// Logs to stderr, human-readable or JSON lines, filtered by RUST_LOG (default `info`).
fn init_logs(format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,actix_web=warn,actix_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot set up logs: {e}"))
}

/// Reports a panic as one log line. The panic message can quote the text being evaluated (a
/// failed string slice prints the string), so it is shown only with `--log-text`.
fn report_panics(log_text: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        if log_text {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            error!(location, panic = payload, "panic");
        } else {
            error!(location, "panic (message withheld: it may quote message text; --log-text shows it)");
        }
    }));
}
