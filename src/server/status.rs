//! The operator endpoints beside the webhook: `GET /healthz`, `GET /readyz`, `GET /metrics`.
//! None of them requires auth: probes and scrapers call them, and they carry no message content.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
use crate::time::rfc3339;

/// `200 {"status":"ok"}` while the process serves.
pub(super) async fn healthz() -> HttpResponse {
    json(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

/// What `/readyz` answers: `200` with a rule set loaded, else `503`.
#[derive(Debug, Serialize)]
struct Readiness<'a> {
    ready: bool,
    /// The hash answers carry as `ruleset`.
    ruleset: Option<&'a str>,
    /// When the rule set serving was loaded, RFC 3339 UTC.
    loaded_at: Option<String>,
    rules: usize,
    keywords: usize,
    /// The last reload's error (`file:line:col: …`); `null` once a reload succeeds.
    last_reload_error: Option<String>,
    last_reload_error_at: Option<String>,
}

pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let current = state.live.current();
    let status = state.live.status();
    let body = Readiness {
        ready: current.is_some(),
        ruleset: current.as_deref().map(|rs| rs.hash()),
        loaded_at: current.as_deref().map(|rs| rfc3339(rs.loaded_at())),
        rules: current.as_deref().map_or(0, |rs| rs.rules().len()),
        keywords: current.as_deref().map_or(0, |rs| rs.keyword_count()),
        last_reload_error: status.last_error,
        last_reload_error_at: status.last_error_at.map(rfc3339),
    };
    let code = if body.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(code, serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec()))
}

/// The Prometheus text format. The rule set gauges are refreshed from the rule set serving first,
/// so they follow reloads whoever made them.
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.observe_ruleset(state.live.current().as_deref());
    if let Some(sink) = &state.decisions {
        state.metrics.observe_decision_log(sink.counts());
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
