//! The console (`inflight serve --ui`, docs/service.md#the-console): web pages at `/ui` for the
//! people who tune rules. It only reads what the request flow already produces (the live rule
//! set, the metrics' counters, the reload reports) and, when asked with `--ui-recent N`, keeps
//! the last N `before_message` bodies in memory for the Draft page's replay.
//!
//! Pages are server-rendered askama templates (HTML-escaped by construction) plus one small
//! script; every asset is compiled into the binary. Security, in the order a request meets it
//! (`guard`): the webhook's Basic auth, then for anything but `GET`/`HEAD` a same-origin check
//! (`Sec-Fetch-Site`, `Origin`), then in each form handler the per-process CSRF token. Every
//! answer carries a strict Content-Security-Policy (no inline script), so even a bug in escaping
//! could not run a script.

mod draft;
mod history;
mod pages;
mod recent;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web};
use subtle::ConstantTimeEq;

pub use history::{History, ReloadEntry};
pub use recent::Recent;

use super::{AppState, BasicAuth, Metrics};
use crate::reload::ReloadReport;

/// `--ui-recent`'s upper bound: each body is kept whole (up to `--max-body`), so this bounds the
/// memory the ring can hold.
pub const MAX_RECENT: usize = 1_000_000;

/// How the console was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct UiConfig {
    /// `--ui-recent N`: keep the last N `before_message` bodies in memory (0: keep none).
    pub recent: usize,
    /// `--ui-write`: offer Apply on the Draft page.
    pub write: bool,
}

/// Everything the console keeps: its settings, its CSRF token, the recent traffic (when asked),
/// the per-minute samples of the counters and the reload history. Shared by `Arc` between the
/// server (`Shared::console`), the sampling task and the reload callback.
#[derive(Debug)]
pub struct Console {
    config: UiConfig,
    csrf: String,
    recent: Option<Recent>,
    history: History,
}

impl Console {
    /// A console with a fresh random CSRF token.
    pub fn new(config: UiConfig) -> std::io::Result<Console> {
        let recent = (config.recent > 0).then(|| Recent::new(config.recent));
        Ok(Console { config, csrf: random_token()?, recent, history: History::default() })
    }

    /// The settings.
    pub fn config(&self) -> UiConfig {
        self.config
    }

    /// Keeps a `before_message` body for the Draft replay, when `--ui-recent` asked for it.
    /// Never waits (see `Recent::push`).
    pub fn keep(&self, body: &[u8]) {
        if let Some(recent) = &self.recent {
            recent.push(body);
        }
    }

    /// Records one reload for the overview's history.
    pub fn record_reload(&self, report: &ReloadReport) {
        self.history.record_reload(report);
    }

    /// Records the rule set loaded at start, the first line of the reload history.
    pub fn record_start(&self, hash: Option<&str>) {
        self.history.record_start(hash);
    }

    /// Takes the minute's sample of the counters (called by `sample_every_minute`).
    pub fn sample(&self, metrics: &Metrics) {
        self.history.sample(metrics);
    }

    pub(crate) fn recent(&self) -> Option<&Recent> {
        self.recent.as_ref()
    }

    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// Whether `token` is this process's CSRF token (compared in constant time).
    pub(crate) fn token_ok(&self, token: &str) -> bool {
        token.len() == self.csrf.len() && bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes()))
    }

    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// 32 random bytes, hex: unguessable by another site, the same for every page of this process.
fn random_token() -> std::io::Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random number generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Refuses a console anyone on the network could open: `--ui` on an address other than loopback
/// needs `--basic-auth`.
pub fn check_exposure(listen: SocketAddr, auth: Option<&BasicAuth>) -> Result<(), String> {
    if listen.ip().is_loopback() || auth.is_some() {
        return Ok(());
    }
    Err(format!(
        "--ui on {listen} without --basic-auth would let anyone who reaches the port read and change the rules; \
         add --basic-auth USER:PASS or listen on 127.0.0.1"
    ))
}

/// Samples the counters at the start of every minute, for the overview's per-minute charts; the
/// first sample is taken at once. Runs on the server's runtime, off the request path.
pub async fn sample_every_minute(console: Arc<Console>, metrics: Arc<Metrics>) {
    loop {
        console.sample(&metrics);
        let into_minute = Duration::from_millis(crate::time::now_ms() % 60_000);
        tokio::time::sleep(Duration::from_secs(60).saturating_sub(into_minute)).await;
    }
}

/// The `/ui` routes, every one behind `guard`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/ui")
            .wrap(from_fn(guard))
            .route("", web::get().to(pages::overview))
            .route("/", web::get().to(pages::overview))
            .route("/api/overview", web::get().to(pages::overview_json))
            .route("/try", web::get().to(pages::try_page))
            .route("/try", web::post().to(pages::try_submit))
            .route("/draft", web::get().to(draft::page_get))
            .route("/draft", web::post().to(draft::submit))
            .route("/assets/console.css", web::get().to(pages::css))
            .route("/assets/console.js", web::get().to(pages::js)),
    );
}

/// No inline script or style, nothing from elsewhere, no framing, forms post only here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Auth, then (for a state-changing method) the same-origin check, then the security headers on
/// whatever is answered.
async fn guard(req: ServiceRequest, next: Next<BoxBody>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let refused = match state.as_deref() {
        None => Some(refuse(StatusCode::NOT_FOUND, "the console is not enabled")),
        Some(state) if state.console.is_none() => Some(refuse(StatusCode::NOT_FOUND, "the console is not enabled")),
        Some(state) => check_request(&req, state),
    };
    let mut res = match refused {
        Some(response) => req.into_response(response),
        None => next.call(req).await?,
    };
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: under it a browser sends `Origin: null` on a same-origin form post.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}

/// The refusal for a request that may not reach the console, if any.
fn check_request(req: &ServiceRequest, state: &AppState) -> Option<HttpResponse> {
    if let Some(auth) = &state.auth
        && !auth.allows_request(req.headers())
    {
        let mut response = refuse(StatusCode::UNAUTHORIZED, "unauthorized");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, crate::server::auth::CHALLENGE);
        return Some(response);
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    cross_site(req).map(|why| refuse(StatusCode::FORBIDDEN, &format!("cross-site request refused: {why}")))
}

/// Why a state-changing request looks cross-site, if it does. Browsers send `Sec-Fetch-Site`
/// (all current ones) and `Origin` on a POST; a request from another site carries another origin.
/// A client that sends neither (curl, a script) is not a browser another site can drive; it still
/// needs the CSRF token of a page it loaded.
fn cross_site(req: &ServiceRequest) -> Option<String> {
    let get = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Some(format!("Sec-Fetch-Site is {site}"));
    }
    if let Some(origin) = get("origin") {
        let host = get("host").unwrap_or_default();
        let expected = [format!("http://{host}"), format!("https://{host}")];
        if !expected.iter().any(|e| e.eq_ignore_ascii_case(origin)) {
            return Some(format!("Origin {origin} is not this host"));
        }
    }
    None
}

/// A short plain-text refusal.
fn refuse(status: StatusCode, why: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(format!("{why}\n"))
}

/// An HTML page.
fn html(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

/// What a handler answers, built where it can be sent between threads (an `HttpResponse` cannot):
/// pages rendered in `web::block` come back as this.
#[derive(Debug)]
enum Answer {
    Html(String),
    Json(Vec<u8>),
    Refused(StatusCode, &'static str),
}

impl Answer {
    fn into_response(self) -> HttpResponse {
        match self {
            Answer::Html(body) => html(body),
            Answer::Json(body) => HttpResponse::Ok().content_type("application/json").body(body),
            Answer::Refused(status, why) => refuse(status, why),
        }
    }
}

/// Runs `work` on the blocking pool, off the workers that answer the webhook.
async fn off_the_workers(work: impl FnOnce() -> Answer + Send + 'static) -> HttpResponse {
    web::block(work)
        .await
        .unwrap_or(Answer::Refused(StatusCode::SERVICE_UNAVAILABLE, "the console is busy"))
        .into_response()
}

/// A rendered template, or a 500 naming why it could not render.
fn render(template: &impl askama::Template) -> Answer {
    match template.render() {
        Ok(body) => Answer::Html(body),
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            Answer::Refused(StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render")
        }
    }
}

/// The console of a request's state; the guard has checked it is there.
fn console(state: &AppState) -> Result<&Console, Answer> {
    state.console.as_deref().ok_or(Answer::Refused(StatusCode::NOT_FOUND, "the console is not enabled"))
}

/// Whether a form's token is right; the refusal when not.
fn check_token(console: &Console, token: &str) -> Result<(), Answer> {
    if console.token_ok(token) {
        Ok(())
    } else {
        Err(Answer::Refused(
            StatusCode::FORBIDDEN,
            "cross-site request refused: missing or wrong CSRF token (reload the page)",
        ))
    }
}
