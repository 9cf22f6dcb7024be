//! The reference `inflight serve` is measured against (scripts/http-bench.sh): the least a
//! CometChat webhook written directly on actix-web does. One POST route reads the body as
//! `web::Bytes`, deserializes the trigger and `data.data.text` with serde_json (borrowed from the
//! body where JSON allows), and answers `{}` as `application/json`. No rules, no metrics.
//!
//! ```text
//! cargo run --release --example bare_actix -- --workers 2 --listen 127.0.0.1:0
//! ```
//!
//! Like `inflight serve`, it prints `listening on ADDR` on stderr once it accepts connections.

use std::borrow::Cow;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;

const USAGE: &str = "usage: bare_actix [--workers N] [--listen ADDR] [--path PATH]";

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    trigger: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Outer<'a>>,
}

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow)]
    data: Option<Inner<'a>>,
}

#[derive(Deserialize)]
struct Inner<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

async fn webhook(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Body<'_>>(&body) {
        Ok(parsed) => {
            // Keep what a real handler would look at alive, so nothing is optimized away.
            let text = parsed.data.and_then(|d| d.data).and_then(|d| d.text);
            std::hint::black_box((parsed.trigger, text));
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")))
                .body("{}")
        }
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

struct Args {
    workers: usize,
    listen: SocketAddr,
    path: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workers: std::thread::available_parallelism().map_or(1, usize::from),
        listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
        path: "/webhook".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
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
        let server = HttpServer::new(move || App::new().route(path.as_str(), web::post().to(webhook)))
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
