//! The reference `inflight serve` is measured against (scripts/http-bench.sh): the least a
//! CometChat webhook written directly on actix-web does. One POST route reads the body as
//! `web::Bytes`, deserializes the whole `before_message` envelope into typed structs with serde
//! (strings borrowed from the body where JSON allows, the free-form `metadata` kept as raw JSON),
//! and answers `{}` as `application/json`. No rules, no metrics.
//!
//! Until 2026-12-02 it read only the trigger and `data.data.text`; issue 14 asks the reference
//! to parse the whole envelope, as a user's handler would to read the sender, the receiver and
//! the attachments. Skipping a value still scans it, so the difference is the cost of building
//! the structs (BENCHMARKS.md reports both).
//!
//! ```text
//! cargo run --release --example bare_actix -- --workers 2 --listen 127.0.0.1:0
//! ```
//!
//! Like `inflight serve`, it prints `listening on ADDR` on stderr once it accepts connections.
//! `--text-only` gives the old reference (trigger and text only).

use std::borrow::Cow;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::value::RawValue;

const USAGE: &str = "usage: bare_actix [--workers N] [--listen ADDR] [--path PATH] [--text-only]";

/// A CometChat webhook call (docs/cometchat.md).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Read by serde; the handler keeps it alive with `black_box`.
struct Envelope<'a> {
    #[serde(borrow)]
    trigger: Option<Cow<'a, str>>,
    #[serde(borrow)]
    app_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    webhook: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Message<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    muid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    conversation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sender: Option<Cow<'a, str>>,
    #[serde(borrow)]
    receiver_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    receiver: Option<Cow<'a, str>>,
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tags: Option<Vec<Cow<'a, str>>>,
    sent_at: Option<i64>,
    updated_at: Option<i64>,
    #[serde(borrow)]
    data: Option<Content<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Content<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    attachments: Option<Vec<Attachment<'a>>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Attachment<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    extension: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mime_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Entities<'a> {
    #[serde(borrow)]
    sender: Option<Entity<'a>>,
    #[serde(borrow)]
    receiver: Option<Entity<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Entity<'a> {
    #[serde(borrow)]
    entity: Option<Party<'a>>,
    #[serde(borrow)]
    entity_type: Option<Cow<'a, str>>,
}

/// A user or a group: the fields of both.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Party<'a> {
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    guid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    avatar: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    scope: Option<Cow<'a, str>>,
    #[serde(borrow)]
    owner: Option<Cow<'a, str>>,
    #[serde(borrow)]
    conversation_id: Option<Cow<'a, str>>,
    members_count: Option<u64>,
    online_members_count: Option<u64>,
    has_joined: Option<bool>,
    joined_at: Option<i64>,
    created_at: Option<i64>,
    last_active_at: Option<i64>,
}

/// The old reference: the trigger and `data.data.text` only.
#[derive(Deserialize)]
struct TextOnly<'a> {
    #[serde(borrow)]
    trigger: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<TextOuter<'a>>,
}

#[derive(Deserialize)]
struct TextOuter<'a> {
    #[serde(borrow)]
    data: Option<TextInner<'a>>,
}

#[derive(Deserialize)]
struct TextInner<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

fn ok_json() -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json"))).body("{}")
}

async fn webhook(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Envelope<'_>>(&body) {
        Ok(parsed) => {
            // Keep what a real handler would look at alive, so nothing is optimized away.
            std::hint::black_box(&parsed);
            ok_json()
        }
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

async fn webhook_text_only(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<TextOnly<'_>>(&body) {
        Ok(parsed) => {
            let text = parsed.data.and_then(|d| d.data).and_then(|d| d.text);
            std::hint::black_box((parsed.trigger, text));
            ok_json()
        }
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

struct Args {
    workers: usize,
    listen: SocketAddr,
    path: String,
    text_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workers: std::thread::available_parallelism().map_or(1, usize::from),
        listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
        path: "/webhook".to_owned(),
        text_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--text-only" {
            args.text_only = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--workers" => {
                args.workers = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("bad --workers {value}"))?
            }
            "--listen" => args.listen = value.parse().map_err(|e| format!("bad --listen {value}: {e}"))?,
            "--path" => args.path = value,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let served = actix_web::rt::System::new().block_on(async move {
        let listener = TcpListener::bind(args.listen)?;
        let addr = listener.local_addr()?;
        let path = args.path.clone();
        let text_only = args.text_only;
        let server = HttpServer::new(move || {
            let route = if text_only { web::post().to(webhook_text_only) } else { web::post().to(webhook) };
            App::new().route(path.as_str(), route)
        })
        .workers(args.workers)
        .listen(listener)?
        .run();
        eprintln!("listening on {addr}");
        server.await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
