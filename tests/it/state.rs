//! Rules that remember, black-box: real `inflight serve` processes on the memory store and on a
//! real `redis-server` (started per test on a free port), the decision log replayed, and the
//! backends compared with a naive reference on random sequences.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{RedisServer, ServeProcess, agent, free_port, rules_dir, write};

const DROP: &str = r#"{"action":"do_not_propagate"}"#;

/// A limit of 5 per sender per 10 s, dropped beyond.
const LIMIT: &str = r#"
[[rule]]
id = "t.flood"
rate = { per = "sender", more_than = 5, within = "10s" }
action = "drop"
"#;

fn body(sender: Option<&str>, text: &str, muid: Option<&str>) -> Vec<u8> {
    let mut data = json!({"receiver": "g1", "receiverType": "group", "type": "text", "data": {"text": text}});
    if let Some(sender) = sender {
        data["sender"] = json!(sender);
    }
    if let Some(muid) = muid {
        data["muid"] = json!(muid);
    }
    serde_json::to_vec(&json!({"trigger": "before_message", "data": data, "appId": "app", "webhook": "hook"})).unwrap()
}

/// POSTs a body; the answer's body (the status must be 200) and how long it took.
fn post(server: &ServeProcess, body: &[u8]) -> (String, Duration) {
    let started = Instant::now();
    let mut response = agent()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .send(body)
        .expect("request answered");
    assert_eq!(response.status(), 200);
    let text = response.body_mut().read_to_string().expect("body");
    (text, started.elapsed())
}

fn readyz(server: &ServeProcess) -> Value {
    let mut response = agent().get(server.url("/readyz")).call().expect("readyz");
    assert_eq!(response.status(), 200, "readyz stays 200 whatever the state store does");
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn metrics(server: &ServeProcess) -> String {
    agent().get(server.url("/metrics")).call().expect("metrics").body_mut().read_to_string().unwrap()
}

/// The value of one metric line (`name{labels} value`), 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l.get(series.len()..series.len() + 1) == Some(" "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn wait_for_state(server: &ServeProcess, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while readyz(server)["state"] != want {
        assert!(Instant::now() < deadline, "state never became {want}: {}\n{}", readyz(server), server.log());
        thread::sleep(Duration::from_millis(50));
    }
}

fn serve(rules: &std::path::Path, extra: &[&str]) -> ServeProcess {
    let mut args = vec!["--rules", rules.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServeProcess::spawn(&args, &[])
}

#[test]
fn two_replicas_on_one_redis_hold_a_limit_exactly() {
    let redis = RedisServer::start(&[]);
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let url = redis.url();
    let replicas = [serve(rules.path(), &["--state", &url]), serve(rules.path(), &["--state", &url])];
    replicas.iter().for_each(|r| wait_for_state(r, "ok"));
    // Alternating, one after the other: exactly 5 go through, whichever replica gets them.
    let answers: Vec<String> =
        (0..12).map(|i| post(&replicas[i % 2], &body(Some("alice"), &format!("hi {i}"), None)).0).collect();
    let allowed = answers.iter().take_while(|a| *a == "{}").count();
    assert_eq!(allowed, 5, "{answers:?}");
    assert!(answers[5..].iter().all(|a| a == DROP), "{answers:?}");
    // At once, from 8 clients on both replicas: still exactly 5.
    let replicas = Arc::new(replicas);
    let clients: Vec<_> = (0..24)
        .map(|i| {
            let replicas = Arc::clone(&replicas);
            thread::spawn(move || post(&replicas[i % 2], &body(Some("bob"), "at once", None)).0)
        })
        .collect();
    let answers: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(answers.iter().filter(|a| *a == "{}").count(), 5, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| *a == DROP).count(), 19, "{answers:?}");
    // A resend (same muid) to the other replica gets the first answer and counts once.
    let (first, _) = post(&replicas[0], &body(Some("carol"), "one", Some("m-1")));
    let (again, _) = post(&replicas[1], &body(Some("carol"), "one", Some("m-1")));
    assert_eq!((first.as_str(), again.as_str()), ("{}", "{}"));
    let counted: Vec<String> =
        (0..5).map(|i| post(&replicas[i % 2], &body(Some("carol"), "more", Some(&format!("n-{i}")))).0).collect();
    assert_eq!(counted[..4], ["{}", "{}", "{}", "{}"], "the resend counted once: {counted:?}");
    assert_eq!(counted[4], DROP, "{counted:?}");
}

#[test]
fn redis_killed_under_load_then_restarted() {
    let mut redis = RedisServer::start(&[]);
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = Arc::new(serve(rules.path(), &["--state", &redis.url(), "--state-timeout", "50"]));
    wait_for_state(&server, "ok");
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|c| {
            let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
            thread::spawn(move || {
                let mut slowest = Duration::ZERO;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (_, took) = post(&server, &body(Some(&format!("load-{c}-{n}")), "hello", None));
                    slowest = slowest.max(took);
                    n += 1;
                }
                (n, slowest)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    redis.kill();
    thread::sleep(Duration::from_millis(700));
    wait_for_state(&server, "degraded");
    // State rules stop hitting: one sender far over the limit goes through.
    let answers: Vec<String> = (0..8).map(|_| post(&server, &body(Some("dave"), "x", None)).0).collect();
    assert!(answers.iter().all(|a| a == "{}"), "{answers:?}");
    stop.store(true, Ordering::Relaxed);
    for handle in load {
        let (n, slowest) = handle.join().expect("no request failed");
        assert!(n > 0);
        // The budget is 50 ms; the rest is a loaded 2-core machine's HTTP round trip.
        assert!(slowest < Duration::from_millis(50 + 250), "a request waited {slowest:?}");
    }
    let text = metrics(&server);
    assert!(metric(&text, "inflight_state_degraded") == 1.0, "{text}");
    let outages = server.log().lines().filter(|l| l.contains("state store unavailable: rules")).count();
    assert_eq!(outages, 1, "logged once per outage:\n{}", server.log());
    // Restarted: counting resumes without restarting inflight.
    redis.restart();
    wait_for_state(&server, "ok");
    let answers: Vec<String> = (0..6).map(|_| post(&server, &body(Some("erin"), "x", None)).0).collect();
    assert_eq!(answers[5], DROP, "{answers:?}");
    assert!(server.log().contains("state store reachable"), "{}", server.log());
}

#[test]
fn a_store_that_is_not_there_or_full_never_fails_a_request_nor_blocks_start_up() {
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let nothing = format!("redis://127.0.0.1:{}", free_port());
    let full = RedisServer::start(&["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    for url in [nothing, full.url()] {
        let server = serve(rules.path(), &["--state", &url, "--state-timeout", "50"]);
        // Give the probe (or the first exchange) time to see the failure.
        thread::sleep(Duration::from_millis(600));
        for i in 0..8 {
            let (answer, took) = post(&server, &body(Some("frank"), "x", None));
            assert_eq!(answer, "{}", "{url}: message {i}");
            assert!(took < Duration::from_millis(300), "{url}: {took:?}");
        }
        assert_eq!(readyz(&server)["state"], "degraded", "{url}");
        assert_eq!(readyz(&server)["ready"], true, "{url}");
    }
}

#[test]
fn a_resend_in_memory_gets_the_first_answer_and_counts_once() {
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = serve(rules.path(), &[]);
    let sends: Vec<String> = ["a", "a", "a", "b", "c", "d", "e", "e", "f", "f"]
        .iter()
        .map(|m| post(&server, &body(Some("gina"), "x", Some(m))).0)
        .collect();
    // Distinct muids: a b c d e = 5 allowed, f is the 6th: dropped, and its resend too.
    assert_eq!(sends, ["{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", DROP, DROP]);
}

#[test]
fn bad_input_has_defined_answers() {
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = serve(rules.path(), &[]);
    // No sender: a per-sender rate never counts it.
    let answers: Vec<String> = (0..8).map(|_| post(&server, &body(None, "x", None)).0).collect();
    assert!(answers.iter().all(|a| a == "{}"), "{answers:?}");
    // A 10 KB muid reads as absent: every resend counts.
    let long = "m".repeat(10 * 1024);
    let answers: Vec<String> = (0..6).map(|_| post(&server, &body(Some("hank"), "x", Some(&long))).0).collect();
    assert_eq!(answers[5], DROP, "{answers:?}");
    // sentAt far in the future or at 1970: the service counts by its own clock.
    for (sender, sent_at) in [("ivy", 32_503_680_000u64), ("jack", 0)] {
        let answers: Vec<String> = (0..6)
            .map(|_| {
                let mut b: Value = serde_json::from_slice(&body(Some(sender), "x", None)).unwrap();
                b["data"]["sentAt"] = json!(sent_at);
                post(&server, &serde_json::to_vec(&b).unwrap()).0
            })
            .collect();
        assert_eq!(answers[5], DROP, "{sender}: {answers:?}");
    }
}

#[test]
fn a_reload_mid_window_keeps_the_counts() {
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = serve(rules.path(), &[]);
    let before = readyz(&server)["ruleset"].clone();
    for _ in 0..5 {
        assert_eq!(post(&server, &body(Some("kim"), "x", None)).0, "{}");
    }
    write(rules.path(), "t.toml", &format!("{LIMIT}tags = [\"flood\"]\n"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz(&server)["ruleset"] == before {
        assert!(Instant::now() < deadline, "no reload");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(post(&server, &body(Some("kim"), "x", None)).0, DROP, "the 6th, after the reload");
}

#[test]
fn memory_evicts_at_the_bound_and_a_rule_set_without_state_never_touches_it() {
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = serve(rules.path(), &["--state-max-keys", "10"]);
    for i in 0..30 {
        post(&server, &body(Some(&format!("s{i}")), "x", None));
    }
    let text = metrics(&server);
    assert_eq!(metric(&text, "inflight_state_keys{backend=\"memory\"}"), 10.0, "{text}");
    // Each message makes two keys (the sender, its window): 60 made, 10 kept.
    assert_eq!(metric(&text, "inflight_state_evictions_total"), 50.0, "{text}");
    let plain = rules_dir(&[("t.toml", "[[rule]]\nid = \"t.k\"\nkeywords = [\"spam\"]\n")]);
    let server = serve(plain.path(), &[]);
    for i in 0..20 {
        post(&server, &body(Some(&format!("s{i}")), "spam", Some("m")));
    }
    let text = metrics(&server);
    assert!(!text.contains("inflight_state_operations_total{"), "{text}");
    assert_eq!(metric(&text, "inflight_state_keys{backend=\"memory\"}"), 0.0, "{text}");
}

/// Rules that use every kind of state, with windows of 1–2 s so the test crosses them.
const REMEMBERING: &str = r#"
[counters.offenses]
per = "sender"
window = "2s"

[[rule]]
id = "t.flood"
rate = { per = "sender", more_than = 3, within = "1s" }
action = "drop"

[[rule]]
id = "t.same"
repeat = { per = "any", more_than = 2, within = "2s" }
score = 10
tags = ["repeat"]

[[rule]]
id = "t.near"
repeat = { per = "receiver", more_than = 2, within = "2s", similar = 0.6 }
score = 1
tags = ["near"]
mode = "shadow"

[[rule]]
id = "t.bad"
keywords = ["badword"]
counts = { offenses = 1 }
score = 5
tags = ["bad"]

[[rule]]
id = "t.offender"
when = { counter = { offenses = { at_least = 2 } } }
tags = ["offender"]
score = 20

[[rule]]
id = "t.new-link"
regex = ['https?://']
when = { sender_age = { less_than = "1s" } }
action = "drop"
"#;

#[test]
fn the_decision_log_replayed_gives_every_answer_the_service_gave() {
    let rules = rules_dir(&[("t.toml", REMEMBERING)]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let mut server = serve(rules.path(), &["--decision-log", log.to_str().unwrap(), "--log-text"]);
    let script: &[(&str, &str, u64)] = &[
        ("u1", "hello", 0),
        ("u1", "see http://x.io", 0),
        ("u2", "hello", 0),
        ("u3", "hello", 0),
        // Windows count whole seconds: 2.1 s on, the 1 s windows are empty again.
        ("u1", "badword", 2100),
        ("u1", "badword again", 0),
        ("u1", "anything", 0),
        ("u1", "more", 0),
        ("u2", "the quick brown fox jumps", 0),
        ("u3", "the quick brown fox jumped", 0),
        ("u4", "the quick brown fox jumps!", 0),
        ("u2", "see http://x.io", 2100),
        ("u1", "badword", 0),
        ("u1", "anything", 0),
    ];
    let mut answers = Vec::new();
    for (i, (sender, text, pause)) in script.iter().enumerate() {
        thread::sleep(Duration::from_millis(*pause));
        answers.push(post(&server, &body(Some(sender), text, Some(&format!("m{i}")))).0);
    }
    // A resend of the first message: its first answer again.
    answers.push(post(&server, &body(Some("u1"), "hello", Some("m0"))).0);
    assert!(answers.iter().any(|a| a == DROP), "the script drops something: {answers:?}");
    assert!(answers.iter().any(|a| a.contains("offender")), "the counter hits: {answers:?}");
    // A graceful stop writes the decision log out.
    server.terminate();
    assert!(server.wait());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), answers.len());
    for (line, answer) in lines.iter().zip(&answers) {
        assert_eq!(line["answer"], serde_json::from_str::<Value>(answer).unwrap(), "the log holds what was sent");
    }
    // What replay counted: the same actions and the same hits by rule as the service.
    let out =
        crate::support::inflight().args(["replay", "--json", "--rules"]).arg(rules.path()).arg(&log).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).expect("replay --json");
    let mut actions: HashMap<&str, u64> = HashMap::new();
    let mut hits: HashMap<String, u64> = HashMap::new();
    for line in &lines {
        let action = match line["answer"].to_string().as_str() {
            "{}" => "allow",
            DROP => "drop",
            _ => "tag",
        };
        *actions.entry(action).or_default() += 1;
        let mut rules: Vec<String> =
            line["hits"].as_array().unwrap().iter().map(|h| h["rule"].as_str().unwrap().to_owned()).collect();
        rules.dedup();
        for rule in rules {
            *hits.entry(rule).or_default() += 1;
        }
    }
    for action in ["allow", "tag", "drop"] {
        assert_eq!(report["actions"][action], actions.get(action).copied().unwrap_or(0), "{action}: {report}");
    }
    for (rule, n) in report["rules"].as_object().unwrap() {
        // A resend's line has no hits (the first one had them); replay answers it from its own
        // state too, without hits.
        assert_eq!(n.as_u64().unwrap(), hits.get(rule).copied().unwrap_or(0), "{rule}: {report}");
    }
    // Answer by answer: replaying through the library's replay path gives each logged answer.
    let loaded = inflight::rules::load_dir(rules.path()).unwrap();
    let store = inflight::state::MemoryState::new(1_000_000, 30 * 86_400_000);
    for (i, raw) in text.lines().enumerate() {
        let line: inflight::decision_log::LogLine<'_, inflight::message::MessageView<'_>> =
            serde_json::from_str(raw).unwrap();
        let at = inflight::time::parse_rfc3339_ms(&line.ts).unwrap();
        let answer = match inflight::state::decide_now(&loaded.ruleset, &line.message, at, &store) {
            inflight::state::Outcome::Decided(d) => d.answer_json(),
            inflight::state::Outcome::Resent(a) => a,
        };
        assert_eq!(String::from_utf8(answer).unwrap(), answers[i], "line {}", i + 1);
    }
}

#[test]
fn every_mistake_in_the_state_language_is_a_file_line_col_error_and_check_lists_state_rules() {
    let dir = crate::support::data("errors/state");
    let out = crate::support::run(&["check", "--rules", dir.to_str().unwrap()]);
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let file = dir.join("bad.toml").display().to_string();
    let want = [
        "3:10: error: counter \"offenses\" `window`: duration \"0s\" is zero",
        "7:16: error: rule \"b.rate\": rate `per = \"user\"`: expected sender, receiver, conversation or app",
        "7:36: error: rule \"b.rate\": rate `more_than` is negative",
        "7:49: error: rule \"b.rate\": rate `within`: duration \"10\" has no unit",
        "11:65: error: rule \"b.repeat\": repeat `similar = 1.5`: must be above 0 and at most 1",
        "16:22: error: rule \"b.counts\": `counts` on counter \"strikes\", which is not declared",
        "20:20: error: rule \"b.cond\": `when.counter`: unknown counter \"nope\"",
        "20:62: error: rule \"b.cond\": `when.sender_age.less_than`: duration \"-5m\" is negative",
    ];
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), want.len(), "{text}");
    for (line, want) in errors.iter().zip(want) {
        assert!(line.starts_with(&format!("{file}:{want}")), "want {want:?}, got {line:?}");
    }
    let bundled = crate::support::root().join("rules");
    let out = crate::support::run(&["check", "--rules", bundled.to_str().unwrap()]);
    let text = crate::support::stdout(&out);
    assert!(text.contains("state: rule \"flood.sender\""), "{text}");
    assert!(text.contains("state: rule \"abuse.harassment\"") && text.contains("counts: offenses +1"), "{text}");
    assert!(!text.contains("state: rule \"spam."), "{text}");
}

/// With Redis, a rule set that counts is decided on the asynchronous path; the console's recent
/// traffic (`--ui-recent`) is kept there too, for the Draft replay.
#[test]
fn recent_traffic_is_kept_on_the_redis_path_too() {
    let redis = RedisServer::start(&[]);
    let rules = rules_dir(&[("t.toml", LIMIT)]);
    let server = serve(rules.path(), &["--state", &redis.url(), "--ui", "--ui-recent", "10"]);
    wait_for_state(&server, "ok");
    for i in 0..3 {
        post(&server, &body(Some("carol"), &format!("hello {i}"), None));
    }
    let overview: Value = serde_json::from_str(
        &agent()
            .get(server.url("/ui/api/overview"))
            .call()
            .expect("overview")
            .body_mut()
            .read_to_string()
            .expect("body"),
    )
    .expect("JSON");
    assert_eq!(overview["recent_kept"], 3, "{overview}");
}
