//! The webhook route (docs/service.md): auth → body within `--max-body` → `protocol::parse_request`
//! → `Ruleset::evaluate` with the rule set serving now → the answer body: where the request
//! flow enters and leaves HTTP.
//!
//! Everything after the body is read runs under `catch_unwind`: a panic answers with the
//! fail-mode body and is counted, and the worker goes on serving.

use std::cell::Cell;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::Poll;
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
use crate::state::{
    BackendKind, Outcome as StateOutcome, Query, Record, StateError, Store, decide_with, record_after, settle,
};
use crate::time::unix_ms;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Before `100 Continue` is sent to a request that asks for it (`Expect: 100-continue`): a
/// webhook call without the right credential is answered `401` at once, so its body is never
/// invited. Counted like any refused call.
pub(super) fn refuse_before_continue(
    state: &AppState,
    headers: &actix_web::http::header::HeaderMap,
) -> Option<HttpResponse> {
    let auth = state.auth.as_ref()?;
    if auth.allows_request(headers) {
        return None;
    }
    debug!("webhook call refused before 100 Continue: missing or wrong credential");
    let reply = Reply::unauthorized();
    state.metrics.record_request(reply.trigger, reply.outcome, std::time::Duration::ZERO);
    Some(reply.into_response())
}

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
        && !auth.allows_request(req.headers())
    {
        debug!(peer = ?req.peer_addr(), "webhook call refused: missing or wrong credential");
        return Reply::unauthorized();
    }
    // The head arrived within the client timeout (actix's `client_request_timeout`); the body
    // gets as long again, so a client trickling bytes cannot hold a connection forever. A body
    // that came with its head (the usual case) is read at the first try, without arming and
    // clearing a timer for it.
    let mut reading = pin!(read_body(req, payload, state.max_body));
    let body = match poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await {
        Poll::Ready(body) => body,
        Poll::Pending => tokio::time::timeout(state.client_timeout, reading).await.unwrap_or(Err(BodyError::TimedOut)),
    };
    match body {
        Ok(body) => match state.store.as_deref() {
            // Boxed: its state (the parsed message and the Redis exchange, kilobytes) would
            // otherwise size every request's future, which is moved on the common path too.
            Some(store @ Store::Redis(_)) => Box::pin(answer_remote(state, store, &body)).await,
            _ => answer(state, &body),
        },
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
        if let Some(field) = oversized_field(&request.message, state.max_field_bytes) {
            warn!(
                field,
                max_field_bytes = state.max_field_bytes,
                fail_mode = state.fail_mode.name(),
                "message over --max-field-bytes: answered by the fail mode"
            );
            return Reply::json(kind, Outcome::Oversized, fail_body(state.fail_mode));
        }
        Reply::json(kind, Outcome::Decided, decide(state, ruleset, &request.message))
    }));
    guarded.unwrap_or_else(|_| {
        // The panic hook has already reported where; the payload may quote message text.
        error!(fail_mode = state.fail_mode.name(), "evaluation failed (panic): answered by the fail mode");
        Reply::json(trigger.get(), Outcome::Failed, fail_body(state.fail_mode))
    })
}

/// The first field a rule could read that is longer than `max` bytes, if any. Matching time
/// grows with the text; past the cap a request is not matched at all, so no single request
/// holds a worker for long.
fn oversized_field(message: &MessageView<'_>, max: usize) -> Option<&'static str> {
    let long = |s: Option<&str>| s.is_some_and(|s| s.len() > max);
    if long(message.text.as_deref()) {
        return Some("text");
    }
    if message.attachments.iter().any(|a| long(a.name.as_deref()) || long(a.url.as_deref())) {
        return Some("attachments");
    }
    message.metadata.raw_len().is_some_and(|len| len > max).then_some("metadata")
}

/// Evaluates (with the memory store's one exchange when the rule set uses state), counts, hands
/// the decision to the decision log, and returns the answer body.
fn decide(state: &AppState, ruleset: &Ruleset, message: &MessageView<'_>) -> Bytes {
    let at = SystemTime::now();
    let started = Instant::now();
    let memory = state.store.as_deref().and_then(Store::memory).filter(|_| ruleset.uses_state());
    let Some(memory) = memory else {
        let decision = ruleset.evaluate(message);
        let eval = started.elapsed();
        return conclude(state, message, &decision, eval, at, None);
    };
    let metrics = &state.metrics;
    let exchange = |query: &Query| {
        let exchange_started = Instant::now();
        let view = memory.exchange_now(query);
        metrics.state.record_op(BackendKind::Memory, "ok", exchange_started.elapsed());
        view
    };
    let record = |record: Record| memory.record_now(&record);
    match decide_with(ruleset, message, unix_ms(at), exchange, record) {
        StateOutcome::Decided(decision) => conclude(state, message, &decision, started.elapsed(), at, None),
        StateOutcome::Resent(answer) => {
            let decision = ruleset.resent_decision(&answer);
            conclude(state, message, &decision, started.elapsed(), at, Some("resent"))
        }
    }
}

/// With a Redis store: parse and match, then one exchange awaited within `--state-timeout`,
/// then decide; each synchronous half runs under `catch_unwind` like `answer`. A rule set
/// without state, another trigger, or no rule set take the synchronous path.
async fn answer_remote(state: &AppState, store: &Store, body: &[u8]) -> Reply {
    let Some(ruleset) = state.live.current().filter(|rs| rs.uses_state()) else { return answer(state, body) };
    let at = SystemTime::now();
    let started = Instant::now();
    let first = catch_unwind(AssertUnwindSafe(|| match parse_request(body) {
        // An oversized message goes the synchronous way, which answers it by the fail mode.
        Ok(request)
            if request.is_before_message() && oversized_field(&request.message, state.max_field_bytes).is_none() =>
        {
            let prepared = ruleset.prepare(&request.message, unix_ms(at));
            Ok((request, prepared))
        }
        _ => Err(()),
    }));
    let (request, prepared) = match first {
        Ok(Ok(ready)) => ready,
        Ok(Err(())) => return answer(state, body),
        Err(_) => return failed(state, WebhookTrigger::BeforeMessage),
    };
    if let Some(console) = &state.console {
        // `--ui-recent`, as on the synchronous path.
        console.keep(body);
    }
    let view = if prepared.query.is_empty() {
        Ok(crate::state::View::default())
    } else {
        let exchange_started = Instant::now();
        let view = store.exchange(prepared.query.clone()).await;
        let result = view.as_ref().map_or_else(StateError::label, |_| "ok");
        state.metrics.state.record_op(store.kind(), result, exchange_started.elapsed());
        view
    };
    let second = catch_unwind(AssertUnwindSafe(|| {
        let message = &request.message;
        let (decision, label) = match settle(prepared, message, view.ok()) {
            StateOutcome::Decided(decision) => (decision, None),
            StateOutcome::Resent(answer) => (ruleset.resent_decision(&answer), Some("resent")),
        };
        let body = conclude(state, message, &decision, started.elapsed(), at, label);
        if label != Some("resent") {
            record_after(&decision, |record| store.record(record));
        }
        body
    }));
    match second {
        Ok(body) => Reply::json(WebhookTrigger::BeforeMessage, Outcome::Decided, body),
        Err(_) => failed(state, WebhookTrigger::BeforeMessage),
    }
}

/// The fail-mode answer after a panic.
fn failed(state: &AppState, trigger: WebhookTrigger) -> Reply {
    error!(fail_mode = state.fail_mode.name(), "evaluation failed (panic): answered by the fail mode");
    Reply::json(trigger, Outcome::Failed, fail_body(state.fail_mode))
}

/// Counts the decision, hands it to the decision log, and returns the answer body. `label`
/// marks a resend; a decision made without state is marked `degraded` here.
fn conclude(
    state: &AppState,
    message: &MessageView<'_>,
    decision: &Decision<'_>,
    eval: std::time::Duration,
    at: SystemTime,
    label: Option<&'static str>,
) -> Bytes {
    let body = answer_body(decision, state.max_matches);
    let label = label.or(decision.state.skipped.then_some("degraded"));
    state.metrics.record_decision(decision, eval);
    if let Some(sink) = &state.decisions {
        sink.record(&DecisionRecord { at, message, decision, answer: &body, eval, state: label });
    }
    if enabled!(Level::DEBUG) {
        let hits = Hits(decision);
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

/// `decision.answer_json_limited(max_matches)`, without serializing the two constant answers.
fn answer_body(decision: &Decision<'_>, max_matches: usize) -> Bytes {
    match decision.verdict {
        Verdict::Allow => Bytes::from_static(ALLOW_BODY),
        Verdict::Drop => Bytes::from_static(DROP_BODY),
        Verdict::Tag => Bytes::from(decision.answer_json_limited(max_matches)),
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
            response.insert_header((header::WWW_AUTHENTICATE, super::auth::CHALLENGE));
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
            store: None,
            auth: None,
            fail_mode,
            max_body: 1 << 20,
            client_timeout: crate::server::DEFAULT_CLIENT_TIMEOUT,
            max_matches: crate::rules::eval::DEFAULT_MAX_MATCHES,
            max_field_bytes: crate::server::DEFAULT_MAX_FIELD_BYTES,
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

    /// Every request's future is moved a few times before it runs; the Redis path's state
    /// (kilobytes) is boxed so that it does not size them all (measured: 2,512 → 480 bytes).
    #[test]
    fn a_request_future_stays_small() {
        let (state, _dir) = state(FailMode::Open, true);
        let (req, mut payload) = actix_web::test::TestRequest::default().to_http_parts();
        let payload = actix_web::rt::System::new()
            .block_on(<web::Payload as actix_web::FromRequest>::from_request(&req, &mut payload))
            .expect("payload");
        let request = handle(req, payload, web::Data::new(state));
        assert!(std::mem::size_of_val(&request) < 1024, "{} bytes", std::mem::size_of_val(&request));
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
            assert_eq!(&answer_body(&decision, 50)[..], &decision.answer_json()[..], "{text}");
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
