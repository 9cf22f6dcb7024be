//! The webhook route (docs/service.md): auth → body within `--max-body` → `protocol::parse_request`
//! → `Ruleset::evaluate` with the rule set serving now → the answer body: where the request
//! flow enters and leaves HTTP.
//!
//! Everything after the body is read runs under `catch_unwind`: a panic answers with the
//! fail-mode body and is counted, and the worker goes on serving.

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::time::{Instant, SystemTime};

use actix_web::body::{BodyStream, MessageBody};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use tracing::{Level, debug, enabled, error, warn};

use super::decisions::DecisionRecord;
use super::metrics::{Outcome, WebhookTrigger};
use super::{AppState, FailMode};
use crate::protocol::{ALLOW_BODY, DROP_BODY, MessageView, parse_request};
use crate::rules::{Decision, Mode, Ruleset, Verdict};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const BASIC_CHALLENGE: HeaderValue = HeaderValue::from_static(r#"Basic realm="inflight""#);

/// `POST <path>`.
pub(super) async fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let _in_flight = state.drain.track();
    let started = Instant::now();
    let reply = receive(&req, payload, &state).await;
    state.metrics.record_request(reply.trigger, reply.outcome, started.elapsed());
    reply.into_response()
}

async fn receive(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Reply {
    if let Some(auth) = &state.auth
        && !auth.allows(req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes))
    {
        debug!(peer = ?req.peer_addr(), "webhook call refused: missing or wrong credential");
        return Reply::unauthorized();
    }
    // The head arrived within the client timeout (actix's `client_request_timeout`); the body
    // gets as long again, so a client trickling bytes cannot hold a connection forever.
    let body = tokio::time::timeout(state.client_timeout, read_body(req, payload, state.max_body))
        .await
        .unwrap_or(Err(BodyError::TimedOut));
    match body {
        Ok(body) => answer(state, &body),
        Err(BodyError::TimedOut) => {
            debug!(peer = ?req.peer_addr(), timeout_ms = state.client_timeout.as_millis(), "webhook body too slow: closing");
            Reply::error(StatusCode::REQUEST_TIMEOUT, Outcome::TimedOut, "the body did not arrive in time")
        }
        Err(BodyError::TooLarge) => {
            debug!(max_body = state.max_body, "webhook body refused: too large");
            Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Outcome::TooLarge,
                &format!("body over {} bytes", state.max_body),
            )
        }
        Err(BodyError::Unreadable(e)) => {
            debug!(error = %e, "webhook body could not be read");
            Reply::error(StatusCode::BAD_REQUEST, Outcome::BadRequest, &format!("cannot read the body: {e}"))
        }
    }
}

enum BodyError {
    TooLarge,
    Unreadable(PayloadError),
    TimedOut,
}

/// Reads the body, refusing it as soon as it is known to exceed `max`: from `Content-Length`
/// before reading anything, and from the bytes received for a body without one (chunked). A body
/// that arrives in one chunk (the usual case) is kept as that chunk, without a copy.
async fn read_body(req: &HttpRequest, payload: web::Payload, max: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = pin!(BodyStream::new(payload));
    let mut single = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(BodyError::Unreadable)?;
        let so_far = joined.as_ref().map_or(single.len(), BytesMut::len);
        if so_far + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        match &mut joined {
            Some(buf) => buf.extend_from_slice(&chunk),
            None if single.is_empty() => single = chunk,
            None => {
                let capacity = declared.map_or(max, |len| usize::try_from(len).unwrap_or(max)).min(max);
                let mut buf = BytesMut::with_capacity(capacity.max(so_far + chunk.len()));
                buf.extend_from_slice(&single);
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or(single, BytesMut::freeze))
}

/// The answer to a webhook body: parse, then decide a `before_message` with the rule set serving
/// now (taken once), or acknowledge any other trigger.
pub(crate) fn answer(state: &AppState, body: &[u8]) -> Reply {
    answer_with(state, body, decide)
}

/// `answer`, with the decision step passed in so tests can make it fail.
fn answer_with<D>(state: &AppState, body: &[u8], decide: D) -> Reply
where
    D: FnOnce(&AppState, &Ruleset, &MessageView<'_>) -> Bytes,
{
    let trigger = Cell::new(WebhookTrigger::None);
    // AssertUnwindSafe: after a panic nothing from inside is used again; the shared state it
    // touches (metrics counters, the rule set) is only read or atomically updated.
    let guarded = catch_unwind(AssertUnwindSafe(|| {
        let request = match parse_request(body) {
            Ok(request) => request,
            Err(e) => return Reply::error(StatusCode::BAD_REQUEST, Outcome::BadRequest, &e.to_string()),
        };
        let kind = WebhookTrigger::of(request.trigger.as_deref());
        trigger.set(kind);
        if !request.is_before_message() {
            return Reply::json(kind, Outcome::Ignored, Bytes::from_static(ALLOW_BODY));
        }
        if let Some(console) = &state.console {
            // `--ui-recent`: a copy for the Draft replay; never waits, keeps nothing without it.
            console.keep(body);
        }
        let serving = state.live.guard();
        let Some(ruleset) = serving.as_deref() else {
            warn!(fail_mode = state.fail_mode.name(), "no rule set loaded: answered by the fail mode");
            return Reply::json(kind, Outcome::NotReady, fail_body(state.fail_mode));
        };
        Reply::json(kind, Outcome::Decided, decide(state, ruleset, &request.message))
    }));
    guarded.unwrap_or_else(|_| {
        // The panic hook has already reported where; the payload may quote message text.
        error!(fail_mode = state.fail_mode.name(), "evaluation failed (panic): answered by the fail mode");
        Reply::json(trigger.get(), Outcome::Failed, fail_body(state.fail_mode))
    })
}

/// Evaluates, counts, hands the decision to the decision log, and returns the answer body.
fn decide(state: &AppState, ruleset: &Ruleset, message: &MessageView<'_>) -> Bytes {
    let started = Instant::now();
    let decision = ruleset.evaluate(message);
    let eval = started.elapsed();
    let body = answer_body(&decision);
    state.metrics.record_decision(&decision, eval);
    if let Some(sink) = &state.decisions {
        sink.record(&DecisionRecord { at: SystemTime::now(), message, decision: &decision, answer: &body, eval });
    }
    if enabled!(Level::DEBUG) {
        let hits = Hits(&decision);
        let eval_us = eval.as_micros();
        let action = decision.verdict.name();
        if state.log_text {
            debug!(action, score = decision.score, %hits, eval_us, text = message.text.as_deref(), "decided");
        } else {
            debug!(action, score = decision.score, %hits, eval_us, "decided");
        }
    }
    body
}

/// `decision.answer_json()`, without serializing the two constant answers.
fn answer_body(decision: &Decision<'_>) -> Bytes {
    match decision.verdict {
        Verdict::Allow => Bytes::from_static(ALLOW_BODY),
        Verdict::Drop => Bytes::from_static(DROP_BODY),
        Verdict::Tag => Bytes::from(decision.answer_json()),
    }
}

fn fail_body(mode: FailMode) -> Bytes {
    match mode {
        FailMode::Open => Bytes::from_static(ALLOW_BODY),
        FailMode::Closed => Bytes::from_static(DROP_BODY),
    }
}

/// Rule ids that hit, shadow ones marked, for the debug log.
struct Hits<'a>(&'a Decision<'a>);

impl fmt::Display for Hits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hit) in self.0.hits.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let mark = if hit.rule.mode == Mode::Shadow { "(shadow)" } else { "" };
            write!(f, "{sep}{}{mark}", hit.rule.id)?;
        }
        Ok(())
    }
}

/// A webhook answer and how to count it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub trigger: WebhookTrigger,
    pub outcome: Outcome,
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl Reply {
    fn json(trigger: WebhookTrigger, outcome: Outcome, body: Bytes) -> Reply {
        Reply { trigger, outcome, status: StatusCode::OK, body }
    }

    /// `{"error": message}` with `status`.
    fn error(status: StatusCode, outcome: Outcome, message: &str) -> Reply {
        let body = serde_json::to_vec(&ErrorBody { error: message }).unwrap_or_else(|_| b"{}".to_vec());
        Reply { trigger: WebhookTrigger::None, outcome, status, body: Bytes::from(body) }
    }

    /// The same answer for every way of failing auth.
    fn unauthorized() -> Reply {
        let body = Bytes::from_static(br#"{"error":"unauthorized"}"#);
        Reply { trigger: WebhookTrigger::None, outcome: Outcome::Unauthorized, status: StatusCode::UNAUTHORIZED, body }
    }

    fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, APPLICATION_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, BASIC_CHALLENGE));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a slow body may still come; the connection cannot be reused.
            response.force_close();
        }
        response.body(self.body)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::reload::LiveRules;
    use crate::server::metrics::Metrics;

    const RULES: &str = r#"
[[rule]]
id = "t.promo"
keywords = ["amazing deal"]
score = 10
tags = ["promo"]

[[rule]]
id = "t.drop"
keywords = ["forbidden phrase"]
action = "drop"
"#;

    fn state(fail_mode: FailMode, loaded: bool) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("t.toml"), RULES).expect("write rules");
        let live =
            if loaded { LiveRules::load(dir.path()).expect("rules load").0 } else { LiveRules::empty(dir.path()) };
        let state = AppState {
            live: Arc::new(live),
            metrics: Arc::new(Metrics::new().expect("metrics")),
            decisions: None,
            auth: None,
            fail_mode,
            max_body: 1 << 20,
            client_timeout: crate::server::DEFAULT_CLIENT_TIMEOUT,
            log_text: false,
            drain: Arc::default(),
            console: None,
        };
        (state, dir)
    }

    fn before_message(text: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"trigger": "before_message", "data": {"data": {"text": text}}}))
            .expect("json")
    }

    fn panics(_: &AppState, _: &Ruleset, _: &MessageView<'_>) -> Bytes {
        panic!("deliberate test panic")
    }

    #[test]
    fn a_panic_in_evaluation_answers_by_the_fail_mode_and_is_counted() {
        for (mode, want) in [(FailMode::Open, ALLOW_BODY), (FailMode::Closed, DROP_BODY)] {
            let (state, _dir) = state(mode, true);
            let reply = answer_with(&state, &before_message("an amazing deal"), panics);
            assert_eq!(reply.status, StatusCode::OK, "{mode:?}");
            assert_eq!(&reply.body[..], want, "{mode:?}");
            assert_eq!((reply.trigger, reply.outcome), (WebhookTrigger::BeforeMessage, Outcome::Failed), "{mode:?}");
            // The same thread decides the next message normally.
            let next = answer(&state, &before_message("an amazing deal"));
            assert_eq!(next.outcome, Outcome::Decided);
            let json: serde_json::Value = serde_json::from_slice(&next.body).expect("json answer");
            assert_eq!(json["tags"], serde_json::json!(["promo"]));
        }
    }

    #[test]
    fn other_triggers_are_never_decided() {
        let (state, _dir) = state(FailMode::Closed, true);
        let body = br#"{"trigger":"after_message","data":{"data":{"text":"forbidden phrase"}}}"#;
        let reply = answer_with(&state, body, panics);
        assert_eq!(
            (&reply.body[..], reply.outcome, reply.trigger),
            (ALLOW_BODY, Outcome::Ignored, WebhookTrigger::AfterMessage)
        );
    }

    #[test]
    fn no_rule_set_answers_by_the_fail_mode() {
        for (mode, want) in [(FailMode::Open, ALLOW_BODY), (FailMode::Closed, DROP_BODY)] {
            let (state, _dir) = state(mode, false);
            let reply = answer(&state, &before_message("hello"));
            assert_eq!((reply.status, &reply.body[..], reply.outcome), (StatusCode::OK, want, Outcome::NotReady));
        }
    }

    #[test]
    fn constant_bodies_are_what_answer_json_gives() {
        let (state, _dir) = state(FailMode::Open, true);
        let ruleset = state.live.current().expect("loaded");
        for (text, verdict) in
            [("hello", Verdict::Allow), ("a forbidden phrase", Verdict::Drop), ("amazing deal", Verdict::Tag)]
        {
            let json = format!(r#"{{"data":{{"text":"{text}"}}}}"#);
            let message = crate::protocol::parse_message(&json).expect("message");
            let decision = ruleset.evaluate(&message);
            assert_eq!(decision.verdict, verdict, "{text}");
            assert_eq!(&answer_body(&decision)[..], &decision.answer_json()[..], "{text}");
        }
    }

    #[test]
    fn bad_bodies_are_400_with_the_parse_error() {
        let (state, _dir) = state(FailMode::Closed, true);
        for (body, says) in [
            (&b""[..], "empty body"),
            (b"   ", "empty body"),
            (b"[1,2]", "not an object (found an array)"),
            (b"{\"trigger\":", "not valid JSON"),
            (b"{\"trigger\":\"before_message\",\"data\":{\"data\":{\"text\":\"\xff\"}}}", "not valid UTF-8"),
        ] {
            let reply = answer(&state, body);
            assert_eq!((reply.status, reply.outcome), (StatusCode::BAD_REQUEST, Outcome::BadRequest));
            let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("json error");
            let error = json["error"].as_str().expect("error string");
            assert!(error.contains(says), "{error:?} should say {says:?}");
        }
    }
}
