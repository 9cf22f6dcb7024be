//! The operator endpoints beside the webhook: `/healthz`, `/readyz` (`GET` or `HEAD`), `GET
//! /metrics`. None of them requires auth: probes and scrapers call them, and they carry no message
//! content. `/readyz` shows reload errors only to a caller with the webhook's credential.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
use crate::time::rfc3339;

/// `200 {"status":"ok"}` while the process serves.
pub(super) async fn healthz() -> HttpResponse {
    json(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

/// What `/readyz` answers: `200` with a rule set loaded and no shutdown begun, else `503`.
///
/// Anyone may call it (load balancers do), so by default it says only whether the service is
/// ready, which rule set serves and whether the last reload failed: a reload error quotes rule
/// files (their paths, their patterns). The error text and the rule counts are shown only to a
/// caller with the webhook's Basic auth credential; the error also goes to the logs.
#[derive(Debug, Serialize)]
struct Readiness<'a> {
    ready: bool,
    /// After SIGTERM: the service is answering what arrived and will stop.
    shutting_down: bool,
    /// The hash answers carry as `ruleset`.
    ruleset: Option<&'a str>,
    /// When the rule set serving was loaded, RFC 3339 UTC.
    loaded_at: Option<String>,
    /// Whether the last reload failed (the rule set before it keeps serving).
    last_reload_failed: bool,
    last_reload_failed_at: Option<String>,
    /// `ok`, or `degraded` while the state store is unavailable (rules that need state are
    /// skipped; the service stays ready). Absent while no rule of the rule set serving uses
    /// state.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    detail: Option<Detail>,
}

/// What only an authenticated caller sees.
#[derive(Debug, Serialize)]
struct Detail {
    rules: usize,
    keywords: usize,
    /// The last reload's error (`file:line:col: …`); `null` once a reload succeeds.
    last_reload_error: Option<String>,
}

pub(super) async fn readyz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let authenticated = state.auth.as_ref().is_some_and(|auth| auth.allows_request(req.headers()));
    let body = readiness(&state, authenticated);
    let ready = body.get("ready").and_then(serde_json::Value::as_bool).unwrap_or(false);
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(code, serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec()))
}

/// The body `/readyz` answers, with the detail for an authenticated caller. The console shows it
/// as it is, so whatever `/readyz` learns to report (a state backend's health) shows there too.
pub(super) fn readiness(state: &AppState, authenticated: bool) -> serde_json::Value {
    let current = state.live.current();
    let status = state.live.status();
    let shutting_down = state.drain.is_shutting_down();
    let body = Readiness {
        ready: current.is_some() && !shutting_down,
        shutting_down,
        ruleset: current.as_deref().map(|rs| rs.hash()),
        loaded_at: current.as_deref().map(|rs| rfc3339(rs.loaded_at())),
        last_reload_failed: status.last_error.is_some(),
        last_reload_failed_at: status.last_error_at.map(rfc3339),
        state: state
            .store
            .as_deref()
            .filter(|_| current.as_deref().is_some_and(|rs| rs.uses_state()))
            .map(|s| if s.is_degraded() { "degraded" } else { "ok" }),
        detail: authenticated.then(|| Detail {
            rules: current.as_deref().map_or(0, |rs| rs.rules().len()),
            keywords: current.as_deref().map_or(0, |rs| rs.keyword_count()),
            last_reload_error: status.last_error,
        }),
    };
    serde_json::to_value(&body).unwrap_or_default()
}

/// The Prometheus text format. The rule set gauges are refreshed from the rule set serving first,
/// so they follow reloads whoever made them.
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.observe_ruleset(state.live.current().as_deref());
    state.metrics.observe_reload_failing(state.live.status().last_error.is_some());
    if let Some(sink) = &state.decisions {
        state.metrics.observe_decision_log(sink.counts());
    }
    if let Some(store) = &state.store {
        state.metrics.state.observe(store);
    }
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok().insert_header((header::CONTENT_TYPE, METRICS_CONTENT_TYPE)).body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn json(code: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(code)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}
