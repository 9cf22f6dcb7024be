//! The HTTP service against a real server on a random port: in process (the library's
//! `server::build`, each test with its own server, rules and metrics) for the request table of
//! docs/service.md, and the `inflight serve` binary for start-up, flags, logs, TLS and shutdown.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use inflight::reload::LiveRules;
use inflight::server::{self, Config, FailMode, Metrics, Shared};
use serde_json::{Value, json};

use crate::support::{
    ServeProcess, agent, before_message, fixture, fixture_names, inflight, library_answer, read_response, rules_dir,
};

/// Rules that tag, drop, mask and shadow, on text, URLs and attachment names.
const RULES: &str = r#"
[[rule]]
id = "t.promo"
keywords = ["amazing deal"]
score = 10
tags = ["promo"]

[[rule]]
id = "t.greeting"
keywords = ["webhook"]
score = 5
tags = ["greeting"]

[[rule]]
id = "t.shadow-test"
keywords = ["test"]
mode = "shadow"
tags = ["shadowed"]

[[rule]]
id = "t.drop"
keywords = ["forbidden phrase"]
action = "drop"

[[rule]]
id = "t.mask"
keywords = ["secretword"]
action = "mask"
tags = ["masked"]

[[rule]]
id = "t.links"
regex = ['bit\.ly/']
fields = ["urls"]
tags = ["link"]

[[rule]]
id = "t.image"
regex = ['\.png$']
fields = ["attachment_names"]
tags = ["image"]
"#;

const DROP: &str = r#"{"action":"do_not_propagate"}"#;

// ---------------------------------------------------------------------------------------------
// Harness

/// A server running in this process, on its own actix System in a background thread.
struct TestServer {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    live: Arc<LiveRules>,
    rules: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn test_config() -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"));
    config.workers = std::num::NonZeroUsize::new(2).expect("2");
    config.stop_on_signals = false;
    config
}

/// Serves `RULES` with `config`.
fn serve(config: Config) -> TestServer {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let (live, _warnings) = LiveRules::load(rules.path()).expect("test rules load");
    start(config, live, rules)
}

fn start(config: Config, live: LiveRules, rules: tempfile::TempDir) -> TestServer {
    let live = Arc::new(live);
    let shared = Shared::new(Arc::clone(&live), Arc::new(Metrics::new().expect("metrics")));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let running = server::build(&config, shared).expect("server binds");
            tx.send((running.addr, running.server.handle())).expect("test waits");
            running.server.await
        })
    });
    let (addr, handle) = rx.recv_timeout(Duration::from_secs(30)).expect("server starts");
    TestServer { addr, handle, live, rules }
}

/// An HTTP answer: status, a few headers, body.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {:?}", self.body))
    }
}

fn read_answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().expect("ascii header").to_owned());
    let content_type = header("content-type").unwrap_or_default();
    let www_authenticate = header("www-authenticate");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().expect("body reads");
    Answer { status, content_type, www_authenticate, body }
}

fn post_with(agent: &ureq::Agent, url: &str, body: &[u8], headers: &[(&str, &str)]) -> Answer {
    let mut request = agent.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read_answer(request.send(body).expect("request goes through"))
}

fn post(server: &TestServer, body: &[u8]) -> Answer {
    post_with(&agent(), &server.url("/webhook"), body, &[])
}

fn get(url: &str) -> Answer {
    read_answer(agent().get(url).call().expect("request goes through"))
}

/// A webhook answer: 200, JSON, the body parsed.
fn decided(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json", "{answer:?}");
    answer.json()
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture reads")
}

/// One raw HTTP/1.1 exchange, for requests a client library will not send. Reads one response.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream.write_all(request).expect("request writes");
    read_raw_response(&mut stream)
}

fn read_raw_response(stream: &mut TcpStream) -> (u16, String, String) {
    read_response(stream).expect("a whole response")
}

fn metrics_text(server: &TestServer) -> String {
    let answer = get(&server.url("/metrics"));
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.starts_with("text/plain"), "{}", answer.content_type);
    answer.body
}

/// The value of the sample `series` (name with labels, as printed) in a metrics text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
        .parse()
        .expect("number")
}

// ---------------------------------------------------------------------------------------------
// Requests to the webhook path

/// Every fixture's answer, written out (`RULESET` stands for the served hash): what a user of
/// these rules would check by hand, byte for byte.
const FIXTURE_ANSWERS: &[(&str, &str)] = &[
    ("after_message.json", "{}"),
    ("before_message_custom.json", "{}"),
    (
        "before_message_group_text.json",
        r#"{"score":10,"tags":["promo"],"rules":["t.promo"],"matches":[{"rule":"t.promo","field":"text","start":14,"end":26,"text":"amazing deal"}],"ruleset":"RULESET"}"#,
    ),
    (
        "before_message_image_attachment.json",
        r#"{"score":0,"tags":["image"],"rules":["t.image"],"matches":[{"rule":"t.image","field":"attachment_names","index":0,"start":2,"end":6,"text":".png"}],"ruleset":"RULESET"}"#,
    ),
    ("before_message_mention.json", "{}"),
    ("before_message_no_text.json", "{}"),
    (
        "before_message_thread_reply.json",
        r#"{"score":0,"tags":["link"],"rules":["t.links"],"matches":[{"rule":"t.links","field":"urls","index":0,"start":8,"end":15,"text":"bit.ly/"}],"ruleset":"RULESET"}"#,
    ),
    (
        "before_message_user_text.json",
        r#"{"score":5,"tags":["greeting"],"rules":["t.greeting"],"matches":[{"rule":"t.greeting","field":"text","start":3,"end":10,"text":"Webhook"}],"ruleset":"RULESET"}"#,
    ),
    (
        "before_message_v2_envelope.json",
        r#"{"score":5,"tags":["greeting"],"rules":["t.greeting"],"matches":[{"rule":"t.greeting","field":"text","start":3,"end":10,"text":"Webhook"}],"ruleset":"RULESET"}"#,
    ),
    ("message_delivery_receipt.json", "{}"),
    // message_sent_v2 and after_message carry "Hi Webhook Test", which a before_message would tag.
    ("message_sent_v2.json", "{}"),
];

#[test]
fn every_fixture_gets_its_known_answer() {
    let server = serve(test_config());
    let listed: Vec<&str> = FIXTURE_ANSWERS.iter().map(|(name, _)| *name).collect();
    assert_eq!(listed, fixture_names(), "every fixture has its answer written out");
    let hash = get(&server.url("/readyz")).json()["ruleset"].as_str().expect("ruleset hash").to_owned();
    for (name, want) in FIXTURE_ANSWERS {
        let answer = post(&server, &read_fixture(name));
        decided(&answer);
        assert_eq!(answer.body, want.replace("RULESET", &hash), "{name}");
    }
}

#[test]
fn tag_drop_mask_and_shadow_answers() {
    let server = serve(test_config());
    let tag = decided(&post(&server, &before_message("an Amazing Deal for you")));
    assert_eq!(tag["score"], 10);
    assert_eq!(tag["rules"], json!(["t.promo"]));
    assert_eq!(
        tag["matches"],
        json!([{"rule": "t.promo", "field": "text", "start": 3, "end": 15, "text": "Amazing Deal"}])
    );
    assert!(tag.get("masked_text").is_none());

    assert_eq!(post(&server, &before_message("this is a forbidden phrase, sorry")).body, DROP);

    let mask = decided(&post(&server, &before_message("my secretword is here")));
    assert_eq!(mask["masked_text"], "my ********** is here");
    assert_eq!(mask["tags"], json!(["masked"]));

    // A shadow hit alone changes nothing in the answer, and is counted.
    assert_eq!(post(&server, &before_message("just a test")).body, "{}");
    let metrics = metrics_text(&server);
    assert_eq!(sample(&metrics, r#"inflight_rule_hits_total{mode="shadow",rule="t.shadow-test"}"#), 1.0);
    assert_eq!(sample(&metrics, r#"inflight_rule_hits_total{mode="enforce",rule="t.promo"}"#), 1.0);
}

#[test]
fn the_v2_envelope_is_decided_like_the_legacy_body() {
    let server = serve(test_config());
    let legacy = post(&server, &read_fixture("before_message_user_text.json"));
    let v2 = post(&server, &read_fixture("before_message_v2_envelope.json"));
    assert_eq!(decided(&legacy)["rules"], json!(["t.greeting"]));
    assert_eq!(v2, legacy);
}

#[test]
fn unknown_fields_are_ignored() {
    let server = serve(test_config());
    let plain = post(&server, &before_message("an amazing deal"));
    let mut body: Value = serde_json::from_slice(&before_message("an amazing deal")).expect("json");
    body["futureField"] = json!({"nested": [1, 2, {"x": null}]});
    body["data"]["newThing"] = json!(true);
    body["data"]["data"]["reactions"] = json!([{"emoji": "👍"}]);
    body["data"]["data"]["entities"] = json!({"sender": {"entity": {"uid": "u1", "brandNew": 1}}});
    let extended = post(&server, &serde_json::to_vec(&body).expect("json"));
    assert_eq!(decided(&extended)["rules"], json!(["t.promo"]));
    assert_eq!(extended, plain);
}

#[test]
fn a_before_message_without_text_is_decided_on_its_other_fields() {
    let server = serve(test_config());
    let body = json!({"trigger": "before_message",
                      "data": {"type": "image", "data": {"attachments": [{"name": "cat.png", "url": "https://x.test/cat.png"}]}}});
    let answer = decided(&post(&server, &serde_json::to_vec(&body).expect("json")));
    assert_eq!(answer["tags"], json!(["image"]));
    assert_eq!(answer["matches"][0]["field"], "attachment_names");
    // Nothing at all but the trigger: evaluated, nothing hits.
    assert_eq!(post(&server, br#"{"trigger":"before_message"}"#).body, "{}");
}

#[test]
fn bodies_that_are_not_a_json_object_get_400_saying_why() {
    let server = serve(test_config());
    let cases: &[(&str, &[u8], &str)] = &[
        ("not JSON", b"trigger=before_message", "not valid JSON"),
        ("truncated JSON", br#"{"trigger":"before_message""#, "not valid JSON"),
        ("an array", br#"[{"trigger":"before_message"}]"#, "not an object (found an array)"),
        ("a string", br#""before_message""#, "not an object (found a string)"),
        ("null", b"null", "not an object (found null)"),
        (
            "invalid UTF-8",
            b"{\"trigger\":\"before_message\",\"data\":{\"data\":{\"text\":\"caf\xe9\"}}}",
            "not valid UTF-8",
        ),
        ("empty", b"", "empty body"),
        ("only whitespace", b" \r\n\t", "empty body"),
    ];
    for (name, body, says) in cases {
        let answer = post(&server, body);
        assert_eq!((answer.status, answer.content_type.as_str()), (400, "application/json"), "{name}");
        let error = answer.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(says), "{name}: {error:?} should say {says:?}");
    }
    let metrics = metrics_text(&server);
    assert_eq!(
        sample(&metrics, r#"inflight_requests_total{outcome="bad_request",trigger="none"}"#),
        cases.len() as f64
    );
}

#[test]
fn a_body_over_max_body_gets_413() {
    let mut config = test_config();
    config.max_body = 1024;
    let server = serve(config);

    // Exactly at the limit: accepted.
    let mut body = before_message("an amazing deal");
    body.pop(); // the closing brace
    body.extend(std::iter::repeat_n(b' ', 1023 - body.len()));
    body.push(b'}');
    assert_eq!(body.len(), 1024);
    assert_eq!(decided(&post(&server, &body))["rules"], json!(["t.promo"]));

    // Declared over the limit: refused from the header, before the body is sent.
    let head = "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1025\r\n\r\n{";
    let (status, headers, reply) = raw(server.addr, head.as_bytes());
    assert_eq!(status, 413, "{headers}{reply}");
    assert!(headers.contains("content-type: application/json"), "{headers}");
    assert!(reply.contains("body over 1024 bytes"), "{reply}");

    // Chunked, no length: refused once the bytes read pass the limit.
    let mut chunked =
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("200\r\n{}\r\n", " ".repeat(0x200)).as_bytes());
    }
    let (status, _, _) = raw(server.addr, &chunked);
    assert_eq!(status, 413);

    let metrics = metrics_text(&server);
    assert_eq!(sample(&metrics, r#"inflight_requests_total{outcome="too_large",trigger="none"}"#), 2.0);
}

#[test]
fn basic_auth_refuses_every_wrong_credential_alike() {
    let mut config = test_config();
    config.basic_auth = Some("cometchat:s3cret".parse().expect("credential"));
    let server = serve(config);
    let agent = agent();
    let url = server.url("/webhook");
    let body = before_message("an amazing deal");
    let basic = |credential: &str| format!("Basic {}", BASE64.encode(credential));

    let missing = post_with(&agent, &url, &body, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.www_authenticate.as_deref(), Some(r#"Basic realm="inflight""#));
    assert_eq!(missing.content_type, "application/json");
    for (name, value) in [
        ("wrong password", basic("cometchat:s3cre7")),
        ("wrong user", basic("comet:s3cret")),
        ("password only", basic("s3cret")),
        ("malformed base64", "Basic %%%not-base64%%%".to_owned()),
        ("another scheme", format!("Bearer {}", BASE64.encode("cometchat:s3cret"))),
        ("empty", String::new()),
    ] {
        let answer = post_with(&agent, &url, &body, &[("authorization", &value)]);
        assert_eq!(answer, missing, "{name} must look exactly like a missing header");
    }
    let right = post_with(&agent, &url, &body, &[("authorization", &basic("cometchat:s3cret"))]);
    assert_eq!(decided(&right)["rules"], json!(["t.promo"]));

    // Auth comes first: an unauthenticated oversized body learns nothing about the limit.
    let head = "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999\r\n\r\n";
    assert_eq!(raw(server.addr, head.as_bytes()).0, 401);

    // Probes and metrics stay open.
    assert_eq!(get(&server.url("/healthz")).status, 200);
    assert_eq!(get(&server.url("/readyz")).status, 200);
    let metrics = metrics_text(&server);
    assert_eq!(sample(&metrics, r#"inflight_requests_total{outcome="unauthorized",trigger="none"}"#), 8.0);
}

#[test]
fn readyz_names_the_rule_set_that_answers() {
    let server = serve(test_config());
    let ready = get(&server.url("/readyz"));
    assert_eq!((ready.status, ready.content_type.as_str()), (200, "application/json"));
    let ready = ready.json();
    let answer = decided(&post(&server, &before_message("amazing deal")));
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["shutting_down"], false);
    assert_eq!(ready["ruleset"], answer["ruleset"]);
    assert_eq!(ready["last_reload_failed"], false);
    assert_eq!(ready["last_reload_failed_at"], Value::Null);
    // Without a configured credential nobody is shown the details.
    assert!(ready.get("rules").is_none() && ready.get("last_reload_error").is_none(), "{ready}");
    let loaded_at = ready["loaded_at"].as_str().expect("loaded_at");
    let shape = loaded_at.len() == 24 && loaded_at.as_bytes()[10] == b'T' && loaded_at.ends_with('Z');
    assert!(shape, "RFC 3339 UTC expected: {loaded_at}");

    let health = get(&server.url("/healthz"));
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
}

#[test]
fn a_reload_beside_the_server_changes_answers_and_readyz() {
    let server = serve(test_config());
    let before = decided(&post(&server, &before_message("amazing deal")));

    // A broken edit: the old rule set keeps answering, /readyz shows the error.
    std::fs::write(server.rules.path().join("t.toml"), "[[rule]]\nid = \"t.broken\"\nkeywords = [\n").expect("write");
    assert!(matches!(server.live.reload(), inflight::reload::ReloadOutcome::Failed(_)));
    let ready = get(&server.url("/readyz"));
    assert_eq!(ready.status, 200);
    let ready = ready.json();
    assert_eq!(ready["ruleset"], before["ruleset"]);
    assert_eq!(ready["last_reload_failed"], true);
    assert!(ready["last_reload_failed_at"].is_string());
    assert_eq!(decided(&post(&server, &before_message("amazing deal"))), before);

    // A good edit: the next answers come from the new set.
    let edited = RULES.replace("tags = [\"promo\"]", "tags = [\"offer\"]");
    std::fs::write(server.rules.path().join("t.toml"), edited).expect("write");
    assert!(matches!(server.live.reload(), inflight::reload::ReloadOutcome::Swapped { .. }));
    let after = decided(&post(&server, &before_message("amazing deal")));
    assert_eq!(after["tags"], json!(["offer"]));
    assert_ne!(after["ruleset"], before["ruleset"]);
    let ready = get(&server.url("/readyz")).json();
    assert_eq!(ready["ruleset"], after["ruleset"]);
    assert_eq!(ready["last_reload_failed"], false);
    let metrics = metrics_text(&server);
    let info = format!(r#"inflight_ruleset_info{{hash="{}"}}"#, after["ruleset"].as_str().expect("hash"));
    assert_eq!(sample(&metrics, &info), 1.0);
    assert!(!metrics.contains(before["ruleset"].as_str().expect("hash")), "old hash still reported");
}

#[test]
fn with_no_rule_set_loaded_the_fail_mode_answers() {
    for (mode, want) in [(FailMode::Open, "{}"), (FailMode::Closed, DROP)] {
        let mut config = test_config();
        config.fail_mode = mode;
        let rules = rules_dir(&[]);
        let live = LiveRules::empty(rules.path());
        let server = start(config, live, rules);

        let answer = post(&server, &before_message("amazing deal"));
        assert_eq!((answer.status, answer.body.as_str()), (200, want), "{mode:?}");
        assert_eq!(answer.content_type, "application/json");
        // Other triggers are still acknowledged, and bad bodies still refused.
        assert_eq!(post(&server, &read_fixture("after_message.json")).body, "{}", "{mode:?}");
        assert_eq!(post(&server, b"[]").status, 400, "{mode:?}");

        let ready = get(&server.url("/readyz"));
        assert_eq!(ready.status, 503, "{mode:?}");
        assert_eq!(ready.json()["ready"], false);
        assert_eq!(ready.json()["ruleset"], Value::Null);
        let metrics = metrics_text(&server);
        assert_eq!(sample(&metrics, r#"inflight_requests_total{outcome="not_ready",trigger="before_message"}"#), 1.0);
    }
}

#[test]
fn metrics_count_requests_decisions_and_latency() {
    let server = serve(test_config());
    post(&server, &before_message("amazing deal"));
    post(&server, &before_message("a forbidden phrase"));
    post(&server, &before_message("nothing here"));
    post(&server, &read_fixture("after_message.json"));
    post(&server, &read_fixture("message_delivery_receipt.json"));
    post(&server, br#"{"trigger":"group_created","data":{}}"#);
    post(&server, br#"{"trigger":"a-made-up-trigger-name"}"#);
    post(&server, br#"{"data":{}}"#);

    let m = metrics_text(&server);
    let requests = |trigger: &str, outcome: &str| {
        sample(&m, &format!(r#"inflight_requests_total{{outcome="{outcome}",trigger="{trigger}"}}"#))
    };
    assert_eq!(requests("before_message", "decided"), 3.0);
    assert_eq!(requests("after_message", "ignored"), 1.0);
    assert_eq!(requests("message_delivery_receipt", "ignored"), 1.0);
    assert_eq!(requests("other", "ignored"), 2.0);
    assert_eq!(requests("none", "ignored"), 1.0);
    assert!(!m.contains("a-made-up-trigger-name") && !m.contains("group_created"), "unbounded labels:\n{m}");
    assert_eq!(sample(&m, r#"inflight_decisions_total{action="tag"}"#), 1.0);
    assert_eq!(sample(&m, r#"inflight_decisions_total{action="drop"}"#), 1.0);
    assert_eq!(sample(&m, r#"inflight_decisions_total{action="allow"}"#), 1.0);
    assert_eq!(sample(&m, "inflight_evaluation_seconds_count"), 3.0);
    assert_eq!(sample(&m, "inflight_request_seconds_count"), 8.0);
    assert_eq!(sample(&m, "inflight_ruleset_rules"), 7.0);
    assert!(sample(&m, "inflight_ruleset_keywords") >= 5.0);
    assert!(sample(&m, "inflight_ruleset_loaded_at_seconds") > 1.6e9);
    assert_eq!(sample(&m, r#"inflight_reloads_total{result="failed"}"#), 0.0);
}

#[test]
fn concurrent_requests_are_answered_as_if_alone() {
    let server = serve(test_config());
    let mut bodies: Vec<Vec<u8>> = fixture_names().iter().map(|n| read_fixture(n)).collect();
    for text in ["amazing deal", "a forbidden phrase", "my secretword", "a test", "hello", "amazing secretword deal"] {
        bodies.push(before_message(text));
    }
    bodies.push(b"[]".to_vec());
    let alone: Vec<Answer> = bodies.iter().map(|b| post(&server, b)).collect();

    let bodies = Arc::new(bodies);
    let alone = Arc::new(alone);
    let url = server.url("/webhook");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (bodies, alone, url) = (Arc::clone(&bodies), Arc::clone(&alone), url.clone());
            thread::spawn(move || {
                let agent = agent();
                for i in 0..25 {
                    let k = (t * 25 + i) % bodies.len();
                    let answer = post_with(&agent, &url, &bodies[k], &[]);
                    assert_eq!(answer, alone[k], "request {k} answered differently under load");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let metrics = metrics_text(&server);
    assert_eq!(sample(&metrics, "inflight_request_seconds_count"), (200 + alone.len()) as f64);
}

// ---------------------------------------------------------------------------------------------

#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let mut serve = ServeProcess::spawn(&["--rules", rules.path().to_str().expect("utf-8 path")], &[]);
    let hash = inflight::rules::load_dir(rules.path()).expect("load").ruleset.hash().to_owned();
    let log = serve.log();
    let start = log.lines().find(|l| l.contains("listening on")).expect("start-up line");
    for field in [format!("ruleset=\"{hash}\""), "rules=7".into(), "keywords=".into()] {
        assert!(start.contains(&field), "{field} missing from {start}");
    }
    assert!(!log.contains("beyond loopback"), "loopback needs no warning:\n{log}");

    let body = read_fixture("before_message_group_text.json");
    let answer = post_with(&agent(), &serve.url("/webhook"), &body, &[]);
    assert_eq!(decided(&answer)["ruleset"], hash.as_str());
    assert_eq!(answer.body, library_answer(rules.path(), &body));
    assert_eq!(get(&serve.url("/healthz")).status, 200);
    assert_eq!(get(&serve.url("/readyz")).json()["ruleset"], hash.as_str());

    serve.terminate();
    assert!(serve.wait(), "exit status not 0; stderr:\n{}", serve.log());
    assert!(serve.log().contains("SIGTERM"), "{}", serve.log());
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let mut serve = ServeProcess::spawn(&["--rules", rules.path().to_str().expect("utf-8 path")], &[]);
    let body = before_message("an amazing deal");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(serve.addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let head = format!("POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
    // A first whole request on the connection: a worker holds it from here on.
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(&body).expect("write");
    assert_eq!(read_raw_response(&mut stream).0, 200);
    // The second one stops halfway through its body.
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(first).expect("write");
    stream.flush().expect("flush");
    thread::sleep(Duration::from_millis(300));

    serve.terminate();
    // Past actix's first shutdown check (1 s): a server that gave requests in flight no time
    // would have dropped this one by now.
    thread::sleep(Duration::from_millis(1500));
    assert!(serve.child.try_wait().expect("try_wait").is_none(), "exited with a request in flight");
    stream.write_all(rest).expect("the connection in flight stays open");
    let (status, _, reply) = read_raw_response(&mut stream);
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_str(&reply).expect("json");
    assert_eq!(reply["rules"], json!(["t.promo"]));
    drop(stream);
    assert!(serve.wait(), "exit status not 0; stderr:\n{}", serve.log());
}

#[test]
fn serve_refuses_to_start_on_rules_that_do_not_load() {
    let rules = rules_dir(&[
        ("a.toml", "[[rule]]\nid = \"a.one\"\nkeywords = [\"x\"]\nbogus = 1\n"),
        ("b.toml", "[[rule]]\nid = \"b.one\"\nregex = ['(unclosed']\n"),
    ]);
    let out = inflight()
        .args(["serve", "--listen", "127.0.0.1:0", "--rules", rules.path().to_str().expect("utf-8 path")])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let a = stderr.lines().filter(|l| l.contains("a.toml:")).count();
    let b = stderr.lines().filter(|l| l.contains("b.toml:")).count();
    assert!(a >= 1 && b >= 1, "one line per error expected:\n{stderr}");
    assert!(stderr.contains("not starting"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn serve_rejects_bad_flags_with_one_clear_line() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let dir = rules.path().to_str().expect("utf-8 path");
    let missing = rules.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8 path");
    let cases: &[(&[&str], &str)] = &[
        (&["--fail-mode", "sometimes"], "--fail-mode"),
        (&["--basic-auth", "no-colon"], "USER:PASS"),
        (&["--basic-auth", "user:"], "password is empty"),
        (&["--path", "webhook"], "start with '/'"),
        (&["--path", "/metrics"], "own endpoints"),
        (&["--max-body", "0"], "--max-body"),
        (&["--max-body", "lots"], "--max-body"),
        (&["--workers", "0"], "--workers"),
        (&["--log-format", "xml"], "--log-format"),
        (&["--listen", "localhost"], "--listen"),
        (&["--tls-cert", "cert.pem"], "--tls-key"),
        (&["--tls-cert", missing, "--tls-key", missing], "missing.pem"),
    ];
    for (args, says) in cases {
        let out = inflight().args(["serve", "--rules", dir]).args(*args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_reads_its_settings_from_the_environment() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let serve = ServeProcess::spawn(
        &[],
        &[
            ("INFLIGHT_RULES", rules.path().to_str().expect("utf-8 path")),
            ("INFLIGHT_PATH", "/cometchat/hook"),
            ("INFLIGHT_BASIC_AUTH", "cometchat:s3cret"),
            ("INFLIGHT_MAX_BODY", "2000"),
            ("INFLIGHT_LOG_FORMAT", "json"),
        ],
    );
    let agent = agent();
    let body = before_message("an amazing deal");
    let auth = format!("Basic {}", BASE64.encode("cometchat:s3cret"));
    let answer = post_with(&agent, &serve.url("/cometchat/hook"), &body, &[("authorization", &auth)]);
    assert_eq!(decided(&answer)["rules"], json!(["t.promo"]));
    assert_eq!(post_with(&agent, &serve.url("/cometchat/hook"), &body, &[]).status, 401);
    assert_eq!(post_with(&agent, &serve.url("/webhook"), &body, &[("authorization", &auth)]).status, 404);
    let head =
        format!("POST /cometchat/hook HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: 2001\r\n\r\n");
    assert_eq!(raw(serve.addr, head.as_bytes()).0, 413);

    // JSON logs: the start-up line is one object with the fields as keys.
    let log = serve.log();
    let start = log.lines().find(|l| l.contains("listening on")).expect("start-up line");
    let start: Value = serde_json::from_str(start).expect("JSON log line");
    assert_eq!(start["level"], "INFO");
    assert_eq!(start["rules"], 7);
    assert_eq!(start["auth"], true);
    assert!(start["ruleset"].is_string() && start["keywords"].is_number(), "{start}");
}

#[test]
fn message_text_is_logged_only_with_log_text() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let dir = rules.path().to_str().expect("utf-8 path");
    for (flags, shown) in [(&[][..], false), (&["--log-text"][..], true)] {
        let mut args = vec!["--rules", dir];
        args.extend_from_slice(flags);
        let mut serve = ServeProcess::spawn(&args, &[("RUST_LOG", "debug")]);
        let answer = post_with(&agent(), &serve.url("/webhook"), &before_message("zanzibar amazing deal"), &[]);
        assert_eq!(decided(&answer)["rules"], json!(["t.promo"]));
        serve.terminate();
        assert!(serve.wait());
        let log = serve.log();
        assert!(log.contains("t.promo"), "the decision is logged at debug:\n{log}");
        assert_eq!(log.contains("zanzibar"), shown, "{flags:?}:\n{log}");
    }
}

#[test]
fn listening_beyond_loopback_without_auth_warns() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let dir = rules.path().to_str().expect("utf-8 path");
    let serve = ServeProcess::spawn(&["--rules", dir, "--listen", "0.0.0.0:0"], &[]);
    assert!(serve.log().contains("without --basic-auth"), "{}", serve.log());
    drop(serve);
    let serve = ServeProcess::spawn(&["--rules", dir, "--listen", "0.0.0.0:0", "--basic-auth", "a:b"], &[]);
    assert!(!serve.log().contains("without --basic-auth"), "{}", serve.log());
}

#[test]
fn serve_speaks_https_with_tls_cert_and_key() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let tls = crate::support::data("tls");
    let cert = tls.join("cert.pem");
    let key = tls.join("key.pem");
    let serve = ServeProcess::spawn(
        &[
            "--rules",
            rules.path().to_str().expect("utf-8 path"),
            "--tls-cert",
            cert.to_str().expect("utf-8 path"),
            "--tls-key",
            key.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    let ca = ureq::tls::Certificate::from_pem(&std::fs::read(tls.join("ca.pem")).expect("ca reads")).expect("ca pem");
    let tls_config =
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls_config)
        .build()
        .into();
    let url = format!("https://localhost:{}/webhook", serve.addr.port());
    let answer = post_with(&agent, &url, &before_message("an amazing deal"), &[]);
    assert_eq!(decided(&answer)["rules"], json!(["t.promo"]));
    // Plain HTTP on the TLS port gets no answer.
    assert!(agent.post(serve.url("/webhook")).send(&before_message("x")[..]).is_err());
}

#[test]
fn decision_log_gets_one_line_per_before_message() {
    let rules = rules_dir(&[("t.toml", RULES)]);
    let log_path = rules.path().join("decisions.jsonl");
    let mut serve = ServeProcess::spawn(
        &[
            "--rules",
            rules.path().to_str().expect("utf-8 path"),
            "--decision-log",
            log_path.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    let agent = agent();
    let url = serve.url("/webhook");
    let tagged = post_with(&agent, &url, &before_message("zanzibar amazing deal"), &[]);
    let shadowed = post_with(&agent, &url, &before_message("zanzibar test"), &[]);
    post_with(&agent, &url, &read_fixture("after_message.json"), &[]);
    post_with(&agent, &url, b"[]", &[]);
    serve.terminate();
    assert!(serve.wait(), "{}", serve.log());

    let text = std::fs::read_to_string(&log_path).expect("decision log written");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2, "one line per before_message:\n{text}");
    assert_eq!(lines[0]["answer"], decided(&tagged));
    assert_eq!(lines[0]["ruleset"], decided(&tagged)["ruleset"]);
    assert_eq!(lines[0]["webhook"], "hook");
    assert_eq!(lines[0]["sender"], "u1");
    assert_eq!(lines[1]["answer"], json!({}));
    assert_eq!(shadowed.body, "{}");
    assert_eq!(lines[1]["hits"][0]["rule"], "t.shadow-test");
    assert_eq!(lines[1]["hits"][0]["mode"], "shadow");
    assert!(!text.contains("zanzibar"), "text is left out without --log-text:\n{text}");
}
