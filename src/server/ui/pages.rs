//! The Overview and Try pages, their JSON, and the embedded assets.

use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::history::{ReloadEntry, Series, Totals, current_minute};
use super::{Answer, AppState, Console, check_token, console, off_the_workers, render};
use crate::message::{AttachmentView, Attribute, MessageView};
use crate::rules::explain::Explanation;
use crate::rules::{Decision, Field, Mode, Ruleset, Verdict};
use crate::server::status::readiness;
use crate::time::rfc3339;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// `GET /ui/assets/console.css`.
pub(super) async fn css() -> HttpResponse {
    HttpResponse::Ok().content_type("text/css; charset=utf-8").body(CSS)
}

/// `GET /ui/assets/console.js`.
pub(super) async fn js() -> HttpResponse {
    HttpResponse::Ok().content_type("text/javascript; charset=utf-8").body(JS)
}

// ---- Overview ----

/// Decisions by action.
#[derive(Debug, Default, Serialize)]
pub(super) struct Actions {
    allow: u64,
    tag: u64,
    drop: u64,
}

impl Actions {
    fn of(counts: [u64; 3]) -> Actions {
        let [allow, tag, drop] = counts;
        Actions { allow, tag, drop }
    }
}

/// The rule set serving.
#[derive(Debug, Serialize)]
pub(super) struct RulesetInfo {
    hash: String,
    loaded_at: String,
    rules: usize,
    keywords: usize,
    regexes: usize,
    packs: usize,
    drop_score: Option<i64>,
}

/// One row of the rules table.
#[derive(Debug, Serialize)]
pub(super) struct RuleRow {
    id: String,
    mode: &'static str,
    action: &'static str,
    /// `pack.toml:LINE`, relative to the rules folder.
    place: String,
    /// Messages hit in the last hour.
    hour: u64,
    /// Messages hit since the service started.
    total: u64,
    /// Hits per minute over the hour (the most hit rules only).
    series: Option<Vec<u64>>,
}

/// Everything the overview shows; the page renders it and `/ui/api/overview` sends it.
#[derive(Debug, Serialize)]
pub(super) struct Overview {
    ruleset: Option<RulesetInfo>,
    last_reload_error: Option<String>,
    last_reload_error_at: Option<String>,
    /// `/readyz`'s `state`, when the service reports one.
    state: Option<serde_json::Value>,
    since_start: Actions,
    last_hour: Actions,
    series: Series,
    /// Hits per minute of enforced and of shadow rules.
    enforce_hits: Vec<u64>,
    shadow_hits: Vec<u64>,
    rules: Vec<RuleRow>,
    never_hit: usize,
    reloads: Vec<ReloadEntry>,
    recent_kept: Option<usize>,
    recent_capacity: Option<usize>,
}

/// Rules that get a sparkline in the table.
const SPARKLINES: usize = 40;

impl Overview {
    fn build(state: &AppState, console: &Console) -> Overview {
        let ready = readiness(state, true);
        let text = |key: &str| ready.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
        let current = state.live.current();
        let live = Totals::now(&state.metrics);
        let series = history_series(console, &live);
        let rules = current.as_deref().map(|rs| rule_rows(rs, state, &live, &series)).unwrap_or_default();
        let sum_modes = |mode: &str| -> Vec<u64> {
            let mut out = vec![0; series.minutes.len()];
            for ((_, m), per_minute) in &series.hits {
                if m == mode {
                    out.iter_mut().zip(per_minute).for_each(|(o, n)| *o += n);
                }
            }
            out
        };
        Overview {
            ruleset: current.as_deref().map(ruleset_info),
            last_reload_error: text("last_reload_error"),
            last_reload_error_at: text("last_reload_failed_at"),
            state: ready.get("state").cloned(),
            since_start: Actions::of(live.actions),
            last_hour: Actions::of(series.actions.each_ref().map(|v| v.iter().sum())),
            enforce_hits: sum_modes("enforce"),
            shadow_hits: sum_modes("shadow"),
            never_hit: rules.iter().filter(|r| r.total == 0).count(),
            rules,
            series,
            reloads: console.history().reloads(),
            recent_kept: console.recent().map(super::Recent::len),
            recent_capacity: console.recent().map(super::Recent::capacity),
        }
    }

    fn state_text(&self) -> String {
        match &self.state {
            None => "not in use".to_owned(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

fn history_series(console: &Console, live: &Totals) -> Series {
    console.history().series(live, current_minute())
}

fn ruleset_info(rs: &Ruleset) -> RulesetInfo {
    RulesetInfo {
        hash: rs.hash().to_owned(),
        loaded_at: rfc3339(rs.loaded_at()),
        rules: rs.rules().len(),
        keywords: rs.keyword_count(),
        regexes: rs.regex_count(),
        packs: rs.files().len(),
        drop_score: rs.drop_score(),
    }
}

/// Every rule with its hits, most hit in the last hour first, then since start, then by id.
fn rule_rows(rs: &Ruleset, state: &AppState, live: &Totals, series: &Series) -> Vec<RuleRow> {
    let dir = state.live.dir();
    let mut rows: Vec<RuleRow> = rs
        .rules()
        .iter()
        .map(|rule| {
            let key = (rule.id.clone(), rule.mode.name().to_owned());
            let per_minute = series.hits.get(&key);
            RuleRow {
                id: rule.id.clone(),
                mode: rule.mode.name(),
                action: rule.action.name(),
                place: format!(
                    "{}:{}",
                    rule.file.strip_prefix(dir).unwrap_or(&rule.file).display(),
                    rule.position.line
                ),
                hour: per_minute.map_or(0, |v| v.iter().sum()),
                total: live.hits.get(&key).copied().unwrap_or(0),
                series: per_minute.cloned(),
            }
        })
        .collect();
    rows.sort_by(|a, b| (b.hour, b.total).cmp(&(a.hour, a.total)).then_with(|| a.id.cmp(&b.id)));
    for row in rows.iter_mut().skip(SPARKLINES) {
        row.series = None;
    }
    rows
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage<'a> {
    nav: &'static str,
    csrf: &'a str,
    o: &'a Overview,
}

/// `GET /ui`.
pub(super) async fn overview(state: web::Data<AppState>) -> HttpResponse {
    off_the_workers(move || {
        let console = match console(&state) {
            Ok(c) => c,
            Err(refused) => return refused,
        };
        let o = Overview::build(&state, console);
        render(&OverviewPage { nav: "overview", csrf: console.csrf(), o: &o })
    })
    .await
}

/// `GET /ui/api/overview`: what the page polls to update itself.
pub(super) async fn overview_json(state: web::Data<AppState>) -> HttpResponse {
    off_the_workers(move || match console(&state) {
        Ok(console) => Answer::Json(serde_json::to_vec(&Overview::build(&state, console)).unwrap_or_default()),
        Err(refused) => refused,
    })
    .await
}

// ---- Try ----

/// The Try form: a message's text and the attributes conditions read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TryForm {
    csrf: String,
    text: String,
    sender: String,
    sender_role: String,
    receiver: String,
    receiver_type: String,
    /// Attachment file names, one a line or comma-separated.
    attachments: String,
}

impl TryForm {
    /// The message the form describes; empty fields are absent. A browser joins a textarea's
    /// lines with CRLF; a chat client sends LF, so that is what is decided.
    fn message(&self) -> MessageView<'_> {
        let text = if self.text.contains('\r') {
            Cow::Owned(self.text.replace("\r\n", "\n"))
        } else {
            Cow::Borrowed(self.text.as_str())
        };
        let mut msg = MessageView::with_text(text);
        for (attribute, value) in [
            (Attribute::Sender, &self.sender),
            (Attribute::SenderRole, &self.sender_role),
            (Attribute::Receiver, &self.receiver),
            (Attribute::ReceiverType, &self.receiver_type),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                msg.set(attribute, Some(Cow::Borrowed(value)));
            }
        }
        msg.attachments = self
            .attachments
            .split([',', '\n'])
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| AttachmentView { name: Some(Cow::Borrowed(n)), url: None })
            .collect();
        msg
    }
}

/// A piece of the original text: plain, or covered by the spans of some rules.
#[derive(Debug)]
pub(super) struct Segment {
    text: String,
    /// The rules whose spans cover it (empty: not matched).
    rules: Vec<String>,
    /// Whether every rule covering it is in shadow mode.
    shadow: bool,
    /// A colour per first rule, so neighbouring hits of different rules look different.
    colour: usize,
}

/// One span of a hit, as the hits table shows it.
#[derive(Debug)]
pub(super) struct SpanRow {
    place: String,
    text: String,
    kind: &'static str,
    pattern: String,
}

/// One rule that hit.
#[derive(Debug)]
pub(super) struct HitRow {
    rule: String,
    mode: &'static str,
    action: &'static str,
    score: i64,
    tags: String,
    place: String,
    spans: Vec<SpanRow>,
}

/// The Try page's answer.
#[derive(Debug)]
pub(super) struct TryResult {
    verdict: &'static str,
    score: i64,
    drop_score: Option<i64>,
    limit: String,
    explanation: String,
    segments: Vec<Segment>,
    normalized: Vec<(&'static str, String)>,
    hits: Vec<HitRow>,
    answer: String,
    took_us: u128,
}

#[derive(Template)]
#[template(path = "try.html")]
struct TryPage<'a> {
    nav: &'static str,
    csrf: &'a str,
    form: &'a TryForm,
    result: Option<TryResult>,
    error: Option<String>,
}

/// `GET /ui/try`: the empty form.
pub(super) async fn try_page(state: web::Data<AppState>) -> HttpResponse {
    let answer = match console(&state) {
        Ok(console) => {
            let form = TryForm { receiver_type: "group".into(), ..TryForm::default() };
            render(&TryPage { nav: "try", csrf: console.csrf(), form: &form, result: None, error: None })
        }
        Err(refused) => refused,
    };
    answer.into_response()
}

/// `POST /ui/try`: decide the message with the rule set serving and explain it. Evaluation takes
/// microseconds: it runs on the worker, like the webhook's.
pub(super) async fn try_submit(state: web::Data<AppState>, form: web::Form<TryForm>) -> HttpResponse {
    let answer = match console(&state).and_then(|console| check_token(console, &form.csrf).map(|()| console)) {
        Ok(console) => {
            let (result, error) = match state.live.current() {
                Some(ruleset) => (Some(try_message(&ruleset, &form.message(), state.live.dir())), None),
                None => (None, Some("no rule set is loaded".to_owned())),
            };
            render(&TryPage { nav: "try", csrf: console.csrf(), form: &form, result, error })
        }
        Err(refused) => refused,
    };
    answer.into_response()
}

/// Decides `msg` and lays the explanation out for the page.
pub(super) fn try_message(ruleset: &Ruleset, msg: &MessageView<'_>, dir: &Path) -> TryResult {
    let started = Instant::now();
    // As `inflight eval` decides: on empty state, at the wall clock.
    let decision = ruleset.evaluate_at(msg, crate::time::now_ms());
    let explained = Explanation::new(ruleset, msg, &decision);
    let hits = decision
        .hits
        .iter()
        .map(|hit| HitRow {
            rule: hit.rule.id.clone(),
            mode: hit.rule.mode.name(),
            action: hit.rule.action.name(),
            score: hit.rule.score,
            tags: hit.rule.tags.join(", "),
            place: format!(
                "{}:{}",
                hit.rule.file.strip_prefix(dir).unwrap_or(&hit.rule.file).display(),
                hit.rule.position.line
            ),
            spans: hit
                .spans
                .iter()
                .map(|s| SpanRow {
                    place: match s.index {
                        Some(i) => format!("{}[{i}] {}..{}", s.field.name(), s.start, s.end),
                        None => format!("{} {}..{}", s.field.name(), s.start, s.end),
                    },
                    text: s.text.clone(),
                    kind: if s.is_regex { "regex" } else { "keyword" },
                    pattern: s.pattern.to_owned(),
                })
                .collect(),
        })
        .collect();
    TryResult {
        verdict: decision.verdict.name(),
        score: decision.score,
        drop_score: ruleset.drop_score(),
        limit: explained.limit(),
        explanation: explained.to_string(),
        segments: segments(msg.text.as_deref().unwrap_or_default(), &decision),
        normalized: explained.normalized.iter().map(|(level, text)| (level.name(), text.clone())).collect(),
        hits,
        answer: explained.answer.clone(),
        took_us: started.elapsed().as_micros(),
    }
}

/// The text cut at every span boundary of the `text` field, each piece with the rules covering it.
fn segments(text: &str, decision: &Decision<'_>) -> Vec<Segment> {
    let spans: Vec<(usize, usize, usize, &str, bool)> = decision
        .hits
        .iter()
        .enumerate()
        .flat_map(|(i, hit)| {
            let shadow = hit.rule.mode == Mode::Shadow;
            hit.spans
                .iter()
                .filter(|s| s.field == Field::Text)
                .map(move |s| (s.start, s.end, i, hit.rule.id.as_str(), shadow))
        })
        .collect();
    let mut cuts: Vec<usize> = spans.iter().flat_map(|s| [s.0, s.1]).chain([0, text.len()]).collect();
    cuts.retain(|&c| c <= text.len() && text.is_char_boundary(c));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter_map(|w| {
            let (a, b) = (w.first().copied()?, w.get(1).copied()?);
            let covering: Vec<_> = spans.iter().filter(|s| s.0 <= a && b <= s.1).collect();
            let mut rules: Vec<String> = covering.iter().map(|s| s.3.to_owned()).collect();
            rules.dedup();
            Some(Segment {
                text: text.get(a..b)?.to_owned(),
                shadow: !covering.is_empty() && covering.iter().all(|s| s.4),
                colour: covering.first().map_or(0, |s| s.2 % 6),
                rules,
            })
        })
        .collect()
}

impl TryResult {
    /// The verdict's CSS class.
    fn verdict_class(&self) -> &'static str {
        match self.verdict {
            v if v == Verdict::Drop.name() => "drop",
            v if v == Verdict::Tag.name() => "tag",
            _ => "allow",
        }
    }
}
