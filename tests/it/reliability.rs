//! Reliability against the real `inflight serve` binary: shutdown that answers every request that
//! arrived, hot reload across a replaced rules folder, slow clients cut off, `/readyz` that tells
//! strangers nothing about the rules, metrics that forget removed rules, and small HTTP details.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::reload::{BODY_TEXT, Load, assert_consistent, expected, pack, readyz, spawn, wait_for_log, wait_for_tags};
use crate::support::{ServeProcess, agent, before_message, library_answer, read_response, root, rules_dir, write};

fn spawn_with(dir: &Path, flags: &[&str]) -> ServeProcess {
    let mut args = vec!["--rules", dir.to_str().expect("utf-8 path")];
    args.extend_from_slice(flags);
    ServeProcess::spawn(&args, &[])
}

/// A `POST /webhook` head for a body of `len` bytes, with extra header lines.
fn post_head(len: usize, extra: &str) -> String {
    format!(
        "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n{extra}\r\n"
    )
}

fn metrics(serve: &ServeProcess) -> String {
    agent().get(serve.url("/metrics")).call().expect("metrics").body_mut().read_to_string().expect("body")
}

// ---------------------------------------------------------------------------------------------
// 1. Shutdown

const CLIENTS: usize = 30;

/// A `before_message` of about 64 KB that one rule tags.
fn big_body() -> Vec<u8> {
    let mut text = String::from("an apple a day ");
    let mut n = 0;
    while text.len() < 64 * 1024 {
        n += 1;
        text.push_str(&format!("keeps the d0ct0r away, or so they say, call +1 415 555 {n:04}; "));
    }
    before_message(&text)
}

#[test]
fn sigterm_answers_every_request_that_arrived_before_it() {
    // The bundled rules: enough work per 64 KB message that requests queue up.
    let rules = root().join("rules");
    let mut serve = spawn(&rules);
    let body = Arc::new(big_body());
    let want = library_answer(&rules, &body);
    let sent = Arc::new(Barrier::new(CLIENTS + 1));
    let addr = serve.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (body, sent) = (Arc::clone(&body), Arc::clone(&sent));
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connects");
                stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
                stream.write_all(post_head(body.len(), "").as_bytes()).expect("head");
                stream.write_all(&body).expect("body");
                sent.wait();
                read_response(&mut stream)
            })
        })
        .collect();
    sent.wait();
    thread::sleep(Duration::from_millis(150));
    let signalled = Instant::now();
    serve.terminate();
    let answers: Vec<_> = clients.into_iter().map(|c| c.join().expect("client")).collect();
    let answered = answers.iter().filter(|a| matches!(a, Ok((200, _, body)) if *body == want)).count();
    let misses: Vec<_> = answers.iter().filter(|a| !matches!(a, Ok((200, _, body)) if *body == want)).collect();
    eprintln!("answered {answered} of {CLIENTS} after SIGTERM in {:?}", signalled.elapsed());
    assert_eq!(answered, CLIENTS, "unanswered: {:?}\nlog:\n{}", misses.first(), serve.log());
    assert!(serve.wait(), "exit status not 0; stderr:\n{}", serve.log());
}

#[test]
fn readyz_is_503_as_soon_as_shutdown_begins() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let mut serve = spawn(rules.path());
    assert_eq!(readyz(&serve)["ready"], true);
    // A request in flight keeps the service draining.
    let body = before_message(BODY_TEXT);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(serve.addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream.write_all(post_head(body.len(), "").as_bytes()).expect("head");
    stream.write_all(first).expect("half the body");
    thread::sleep(Duration::from_millis(200));

    serve.terminate();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut response = agent().get(serve.url("/readyz")).call().expect("readyz answers while draining");
        if response.status() == 503 {
            let ready: Value =
                serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
            assert_eq!(ready["ready"], false, "{ready}");
            assert_eq!(ready["shutting_down"], true, "{ready}");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never said 503; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(20));
    }
    stream.write_all(rest).expect("rest of the body");
    let (status, _, answer) = read_response(&mut stream).expect("answered");
    assert_eq!((status, answer), (200, library_answer(rules.path(), &body)));
    drop(stream);
    assert!(serve.wait(), "exit status not 0; stderr:\n{}", serve.log());
}

#[test]
fn shutdown_grace_is_a_flag_and_bounds_the_wait() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let mut serve = spawn_with(rules.path(), &["--shutdown-grace", "1", "--client-timeout", "60000"]);
    // A body that never completes: the grace period, not the client, decides when to stop.
    let mut stream = TcpStream::connect(serve.addr).expect("connects");
    stream.write_all(post_head(100, "").as_bytes()).expect("head");
    stream.write_all(b"{").expect("one byte");
    thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    serve.terminate();
    serve.wait();
    let took = signalled.elapsed();
    eprintln!("stopped {took:?} after SIGTERM with a stuck request and --shutdown-grace 1");
    assert!(took < Duration::from_millis(3500), "took {took:?}; log:\n{}", serve.log());
}

// ---------------------------------------------------------------------------------------------
// 2. Hot reload across a replaced folder

#[test]
fn a_rules_folder_replaced_by_rename_is_watched_again() {
    let parent = tempfile::tempdir().expect("temp");
    let (dir, old, next) =
        (parent.path().join("rules"), parent.path().join("rules-old"), parent.path().join("rules-next"));
    let (v1, v2, v3, stale) = (pack("a", "v1"), pack("a", "v2"), pack("a", "v3"), pack("a", "stale"));
    write(&dir, "a.toml", &v1);
    let serve = spawn(&dir);
    let load = Load::start(&serve);
    wait_for_tags(&serve, &["a-v1"]);

    // The deploy: a new folder prepared beside the live one, then swapped in by two renames.
    write(&next, "a.toml", &v2);
    std::fs::rename(&dir, &old).expect("live folder moved aside");
    std::fs::rename(&next, &dir).expect("new folder in place");
    wait_for_tags(&serve, &["a-v2"]);

    // Edits in the new folder apply.
    write(&dir, "a.toml", &v3);
    wait_for_tags(&serve, &["a-v3"]);
    // Edits in the old one do not, and trigger no reload.
    let reloads_before = reload_count(&serve);
    write(&old, "a.toml", &stale);
    thread::sleep(Duration::from_millis(800));
    assert_eq!(wait_for_tags(&serve, &["a-v3"])["tags"], serde_json::json!(["a-v3"]));
    assert_eq!(reload_count(&serve), reloads_before, "an edit in the old folder triggered a reload");

    // SIGHUP re-arms the watch too: after one, edits still apply. (The edit waits for the
    // SIGHUP's reload: an in-place write is not atomic, and a reload in its middle would see
    // a half-written file.)
    let reloads_before = reload_count(&serve);
    let hup = std::process::Command::new("kill").args(["-HUP", &serve.child.id().to_string()]).status();
    assert!(hup.expect("kill runs").success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while reload_count(&serve) <= reloads_before {
        assert!(Instant::now() < deadline, "SIGHUP did not reload; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    }
    let v4 = pack("a", "v4");
    write(&dir, "a.toml", &v4);
    wait_for_tags(&serve, &["a-v4"]);

    let answers = load.finish();
    let versions: [&[(&str, &str)]; 4] =
        [&[("a.toml", &v1)], &[("a.toml", &v2)], &[("a.toml", &v3)], &[("a.toml", &v4)]];
    assert_consistent(&answers, &expected(&versions));
}

/// Reloads counted so far, whatever their result.
fn reload_count(serve: &ServeProcess) -> f64 {
    metrics(serve)
        .lines()
        .filter(|l| l.starts_with("inflight_reloads_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// ---------------------------------------------------------------------------------------------
// 3. Slow clients

#[test]
fn a_slow_client_is_closed_within_the_client_timeout() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let serve = spawn_with(rules.path(), &["--client-timeout", "1500"]);
    let body = before_message(BODY_TEXT);
    let want = library_answer(rules.path(), &body);

    let (addr, head) = (serve.addr, post_head(body.len(), ""));
    let slow_body = {
        let (head, body) = (head.clone(), body.clone());
        thread::spawn(move || trickle_to(addr, head.as_bytes(), &body))
    };
    let slow_head = thread::spawn(move || trickle_to(addr, b"", head.as_bytes()));
    // Meanwhile, ordinary requests are answered at once.
    thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let started = Instant::now();
        let mut response = agent()
            .post(serve.url("/webhook"))
            .header("content-type", "application/json")
            .send(&body[..])
            .expect("post");
        assert_eq!(response.body_mut().read_to_string().expect("body"), want);
        assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
    }

    // --client-timeout 1500: answered 408 then, closed at most a second later (actix's wait for
    // the client to close first).
    let body = slow_body.join().expect("slow body");
    eprintln!("a body at 1 byte/s: {body:?}");
    assert_eq!(body.status, Some(408), "a slow body gets 408");
    assert!(body.answered >= Duration::from_millis(1400) && body.answered < Duration::from_millis(2000), "{body:?}");
    assert!(body.closed < Duration::from_millis(3000), "{body:?}");
    let head = slow_head.join().expect("slow head");
    eprintln!("a head at 1 byte/s: {head:?}");
    assert!(head.closed < Duration::from_millis(3000), "{head:?}");
    assert!(serve.log().contains("open files"), "the open-file limit is logged:\n{}", serve.log());
}

/// What became of a slow client: the status it was answered (if any) and when, and when the
/// server closed the connection, both from its first byte.
#[derive(Debug)]
struct Trickled {
    status: Option<u16>,
    answered: Duration,
    closed: Duration,
}

/// Sends `prefix`, then `bytes` one a second, until the server closes.
fn trickle_to(addr: std::net::SocketAddr, prefix: &[u8], bytes: &[u8]) -> Trickled {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(8))).expect("timeout");
    stream.write_all(prefix).expect("prefix");
    let started = Instant::now();
    let mut writer = stream.try_clone().expect("clone");
    let bytes = bytes.to_vec();
    thread::spawn(move || {
        for b in bytes {
            if writer.write_all(&[b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let status = match read_response(&mut stream) {
        Ok((status, _, _)) => Some(status),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset) => None,
        Err(e) => panic!("the slow connection was still open after {:?}: {e}", started.elapsed()),
    };
    let answered = started.elapsed();
    // After its answer the server closes (it may first wait a moment for the client to).
    let mut rest = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut stream, &mut rest) {
        assert!(e.kind() == std::io::ErrorKind::ConnectionReset, "still open after {:?}: {e}", started.elapsed());
    }
    Trickled { status, answered, closed: started.elapsed() }
}

// ---------------------------------------------------------------------------------------------
// 7. /readyz redaction

fn readyz_with(serve: &ServeProcess, authorization: Option<&str>) -> (u16, Value, String) {
    let mut request = agent().get(serve.url("/readyz"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let mut response = request.call().expect("readyz");
    let text = response.body_mut().read_to_string().expect("body");
    (response.status().as_u16(), serde_json::from_str(&text).expect("json"), text)
}

#[test]
fn readyz_tells_strangers_only_that_a_reload_failed() {
    const PLANTED: &str = "okapi-7f3";
    let parent = tempfile::tempdir().expect("temp");
    let dir = parent.path().join("secret-rules-folder");
    write(&dir, "a.toml", &pack("a", "v1"));
    let serve = spawn_with(&dir, &["--basic-auth", "ops:s3cret"]);
    let good = format!("Basic {}", BASE64.encode("ops:s3cret"));
    let wrong = format!("Basic {}", BASE64.encode("ops:guess"));

    // A broken edit whose error quotes a planted keyword and the folder's path.
    write(&dir, "a.toml", &format!("{}regex = ['({PLANTED}']\n", pack("a", "v1")));
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, ready, text) = loop {
        let (status, ready, text) = readyz_with(&serve, None);
        if ready["last_reload_failed"] == true || !ready["last_reload_error"].is_null() {
            break (status, ready, text);
        }
        assert!(Instant::now() < deadline, "the broken reload was never reported; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(status, 200, "the old rules still serve");
    assert!(!text.contains(PLANTED), "a stranger sees the error text: {text}");
    assert!(!text.contains("secret-rules-folder") && !text.contains(".toml"), "a stranger sees a path: {text}");
    let mut keys: Vec<_> = ready.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["last_reload_failed", "last_reload_failed_at", "loaded_at", "ready", "ruleset", "shutting_down"],
        "{text}"
    );
    assert!(ready["last_reload_failed_at"].is_string(), "{text}");
    let (_, wrong_ready, wrong_text) = readyz_with(&serve, Some(&wrong));
    assert!(!wrong_text.contains(PLANTED), "a wrong credential sees the error text: {wrong_text}");
    assert_eq!(wrong_ready, ready);

    // The operator, authenticated, sees the error; the log has it too.
    let (status, ready, _) = readyz_with(&serve, Some(&good));
    assert_eq!(status, 200);
    let error = ready["last_reload_error"].as_str().expect("error text for the operator");
    assert!(error.contains(PLANTED) && error.contains("a.toml"), "{error}");
    assert_eq!(ready["last_reload_failed"], true);
    wait_for_log(&serve, PLANTED);
}

// ---------------------------------------------------------------------------------------------
// 8. Metrics of removed rules

#[test]
fn metrics_list_only_the_rules_that_exist_now() {
    let rules = rules_dir(&[("a.toml", &pack("first", "v1"))]);
    let serve = spawn(rules.path());
    wait_for_tags(&serve, &["first-v1"]);
    // Renamed twice, each version hit at least once.
    for name in ["second", "third"] {
        write(rules.path(), "a.toml", &pack(name, "v1"));
        wait_for_tags(&serve, &[&format!("{name}-v1")]);
    }
    let text = metrics(&serve);
    let rules_listed: Vec<_> =
        text.lines().filter(|l| l.starts_with("inflight_rule_hits_total{")).map(str::to_owned).collect();
    assert_eq!(rules_listed.len(), 1, "{rules_listed:?}");
    assert!(rules_listed[0].contains(r#"rule="third.apple""#), "{rules_listed:?}");
    // Totals that are not per rule keep counting across reloads.
    let decided = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"inflight_decisions_total{action="tag"} "#))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("tag decisions");
    assert!(decided >= 3.0, "{decided}");
}

// ---------------------------------------------------------------------------------------------
// 9. Small ones

#[test]
fn head_probes_answer_like_get() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let serve = spawn(rules.path());
    for path in ["/healthz", "/readyz"] {
        let response = agent().head(serve.url(path)).call().expect("head");
        assert_eq!(response.status(), 200, "HEAD {path}");
    }
}

#[test]
fn a_tab_between_basic_and_the_token_is_accepted() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let serve = spawn_with(rules.path(), &["--basic-auth", "ops:s3cret"]);
    let body = before_message(BODY_TEXT);
    for (separator, want) in [(" ", 200), ("\t", 200), (" \t ", 200), ("", 401)] {
        let value = format!("Basic{separator}{}", BASE64.encode("ops:s3cret"));
        let response = agent()
            .post(serve.url("/webhook"))
            .header("authorization", value.as_str())
            .header("content-type", "application/json")
            .send(&body[..])
            .expect("post");
        assert_eq!(response.status(), want, "separator {separator:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A full disk

/// A 64 KiB tmpfs mounted for one test (root only, as CI runs), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "this test mounts a small tmpfs and needs root (CI runs as root)");
        SmallDisk { dir }
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// `inflight_decision_log_lines_total{result="…"}`.
fn log_lines(serve: &ServeProcess, result: &str) -> u64 {
    let text = metrics(serve);
    let prefix = format!("inflight_decision_log_lines_total{{result=\"{result}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Every line of the log is a whole decision-log line, and the metrics count exactly them.
fn assert_whole_lines(path: &Path, serve: &ServeProcess, sent: u64) {
    // The writer flushes at least every 100 ms.
    let deadline = Instant::now() + Duration::from_secs(5);
    while log_lines(serve, "written") + log_lines(serve, "dropped") < sent && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "the file ends inside a line");
    for (n, line) in text.lines().enumerate() {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok_and(|v| v["answer"].is_object()), "line {} is not a whole line: {line:?}", n + 1);
    }
    let (written, dropped) = (log_lines(serve, "written"), log_lines(serve, "dropped"));
    assert_eq!(written, text.lines().count() as u64, "written lines counted = lines in the file");
    assert_eq!(written + dropped, sent, "every line is written or counted as dropped");
}

#[test]
fn a_full_disk_never_tears_a_decision_log_line_and_the_counts_are_true() {
    let disk = SmallDisk::mount("64k");
    let log = disk.dir.path().join("decisions.jsonl");
    let rules = rules_dir(&[("r.toml", "[[rule]]\nid = \"r.money\"\nkeywords = [\"money\"]\n")]);
    let serve = spawn_with(rules.path(), &["--decision-log", log.to_str().unwrap(), "--log-text"]);
    let agent = agent();
    let text = "free money ".repeat(20);
    let send = |n: usize| {
        for _ in 0..n {
            let reply = agent.post(serve.url("/webhook")).send(&before_message(&text)[..]).expect("answered");
            assert_eq!(reply.status(), 200);
        }
    };
    // Far more than 64 KiB of lines: the disk fills mid-line.
    send(2_000);
    assert_whole_lines(&log, &serve, 2_000);
    assert!(log_lines(&serve, "dropped") > 0, "the disk was meant to fill");

    // Space comes back: lines are whole again, nothing glued to a torn one.
    disk.resize("4m");
    send(200);
    assert_whole_lines(&log, &serve, 2_200);
    assert!(log_lines(&serve, "written") > 200, "the lines after the outage are written");
}

/// A webhook call without credentials that asks `Expect: 100-continue` gets its `401` first: no
/// `100 Continue` invites a body that would be refused anyway. With the right credential the
/// body is invited and decided.
#[test]
fn expect_continue_without_credentials_gets_401_before_any_continue() {
    let rules = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let serve = spawn_with(rules.path(), &["--basic-auth", "ops:s3cret"]);
    let body = before_message(BODY_TEXT);
    let addr = serve.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let first_line = |extra: &str| {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        stream.write_all(post_head(body.len(), &format!("expect: 100-continue\r\n{extra}")).as_bytes()).expect("head");
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut stream, &mut buf).expect("an answer to the head alone");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        (stream, text.lines().next().unwrap_or_default().to_owned())
    };
    let (_, refused) = first_line("");
    assert!(refused.starts_with("HTTP/1.1 401"), "expected 401 before any 100 Continue, got {refused:?}");
    let (_, wrong) = first_line(&format!("authorization: Basic {}\r\n", BASE64.encode("ops:guess")));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong:?}");

    let (mut stream, invited) = first_line(&format!("authorization: Basic {}\r\n", BASE64.encode("ops:s3cret")));
    assert!(invited.starts_with("HTTP/1.1 100"), "the right credential is invited to send: {invited:?}");
    stream.write_all(&body).expect("body");
    let (status, _, _) = read_response(&mut stream).expect("the decision");
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------------------------
// 5. Bounded answers

/// 64 KB of profanity (CometChat's largest message) through the bundled rules: the answer keeps
/// at most `--max-matches` entries and says it was cut, instead of growing with the text.
#[test]
fn answers_are_bounded_by_max_matches_whatever_the_text() {
    let serve = spawn_with(&root().join("rules"), &[]);
    let text = "shit fuck ".repeat(6_500);
    let reply = agent().post(serve.url("/webhook")).send(&before_message(&text)[..]).expect("answered");
    assert_eq!(reply.status(), 200);
    let body = reply.into_body().read_to_string().expect("body");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["matches"].as_array().map(Vec::len), Some(50), "{}", &body[..body.len().min(300)]);
    assert_eq!(answer["truncated"], true);
    assert!(body.len() < 80_000, "answer of {} bytes for a {}-byte text", body.len(), text.len());

    let rules = rules_dir(&[("r.toml", "[[rule]]\nid = \"r.x\"\nkeywords = [\"x\"]\n")]);
    let serve = spawn_with(rules.path(), &["--max-matches", "3"]);
    let few = agent().post(serve.url("/webhook")).send(&before_message("x x")[..]).expect("answered");
    let few: Value = serde_json::from_str(&few.into_body().read_to_string().expect("body")).expect("JSON");
    assert_eq!(
        (few["matches"].as_array().map(Vec::len), &few["truncated"]),
        (Some(2), &Value::Null),
        "not cut: no flag"
    );
    let many = agent().post(serve.url("/webhook")).send(&before_message("x x x x x")[..]).expect("answered");
    let many: Value = serde_json::from_str(&many.into_body().read_to_string().expect("body")).expect("JSON");
    assert_eq!((many["matches"].as_array().map(Vec::len), &many["truncated"]), (Some(3), &Value::Bool(true)));
}

/// A text over `--max-field-bytes` is not matched: the fail mode answers at once, and the
/// outcome is counted, so one huge request cannot hold a worker.
#[test]
fn a_field_over_max_field_bytes_is_answered_by_the_fail_mode() {
    let rules = rules_dir(&[("r.toml", "[[rule]]\nid = \"r.x\"\nkeywords = [\"spam\"]\n")]);
    let huge = "spam ".repeat(40_000);
    for (mode, want) in [("open", "{}"), ("closed", r#"{"action":"do_not_propagate"}"#)] {
        let serve = spawn_with(rules.path(), &["--fail-mode", mode, "--max-field-bytes", "65536"]);
        let reply = agent().post(serve.url("/webhook")).send(&before_message(&huge)[..]).expect("answered");
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.into_body().read_to_string().expect("body"), want, "{mode}");
        let small = agent().post(serve.url("/webhook")).send(&before_message("spam")[..]).expect("answered");
        assert!(small.into_body().read_to_string().expect("body").contains("r.x"), "small texts are still matched");
        assert!(
            metrics(&serve).contains(r#"inflight_requests_total{outcome="oversized",trigger="before_message"} 1"#),
            "{}",
            metrics(&serve)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Valid JSON that a strict parser refuses

/// A lone surrogate (a cut emoji, as `JSON.stringify` writes it), duplicate keys and a number
/// out of range are decided, with spans at the right bytes, even with `--fail-mode closed`;
/// `400` stays for what is not JSON.
#[test]
fn valid_json_a_strict_parser_refuses_is_decided() {
    let rules = rules_dir(&[("r.toml", "[[rule]]\nid = \"r.scam\"\nkeywords = [\"free money\"]\n")]);
    let serve = spawn_with(rules.path(), &["--fail-mode", "closed"]);
    let post = |body: &str| {
        let mut reply = agent()
            .post(serve.url("/webhook"))
            .header("content-type", "application/json")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body)
            .expect("answered");
        (reply.status().as_u16(), reply.body_mut().read_to_string().expect("body"))
    };
    let bodies = [
        ("lone surrogate", r#"{"trigger":"before_message","data":{"data":{"text":"\ud83d free money"}}}"#, 4),
        (
            "duplicate keys, the last wins",
            r#"{"trigger":"before_message","data":{"data":{"text":"hello","text":"get free money"}}}"#,
            4,
        ),
        (
            "a number out of range",
            r#"{"trigger":"before_message","data":{"sentAt":1e400,"data":{"text":"free money!"}}}"#,
            0,
        ),
    ];
    for (name, body, start) in bodies {
        let (status, answer) = post(body);
        assert_eq!(status, 200, "{name}: {answer}");
        let answer: Value = serde_json::from_str(&answer).expect("JSON");
        assert_eq!(answer["rules"][0], "r.scam", "{name}: {answer}");
        assert_eq!(answer["matches"][0]["start"], start, "{name}: the span in bytes of the decoded text");
        assert_eq!(answer["matches"][0]["text"], "free money", "{name}");
    }
    let (status, answer) = post(r#"{"trigger":"before_message","data":{"data":{"text":"cut"#);
    assert_eq!(status, 400, "not JSON: {answer}");
}
