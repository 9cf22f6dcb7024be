//! `inflight replay` on temporary rule folders and JSON-lines files: counts, differences between
//! two rule sets, bad lines, every input shape, stdin.

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::{Value, json};

use crate::support::{fixture, fixture_names, inflight, rules_dir, stderr, stdout, write};

const RULES: &str = r#"
[[rule]]
id = "t.spam"
keywords = ["free crypto"]
score = 40
tags = ["spam"]

[[rule]]
id = "t.rude"
keywords = ["idiot"]
tags = ["abuse"]

[[rule]]
id = "t.promo"
keywords = ["discount"]
tags = ["promo"]

[[rule]]
id = "t.watch"
keywords = ["meetup"]
tags = ["watch"]
mode = "shadow"
"#;

/// `RULES` with one keyword added to `t.spam`, `t.rude` switched to drop, `t.promo` removed.
const CHANGED: &str = r#"
[[rule]]
id = "t.spam"
keywords = ["free crypto", "airdrop"]
score = 40
tags = ["spam"]

[[rule]]
id = "t.rude"
keywords = ["idiot"]
tags = ["abuse"]
action = "drop"

[[rule]]
id = "t.watch"
keywords = ["meetup"]
tags = ["watch"]
mode = "shadow"
"#;

/// Line 7 is blank. Before → after: 1 allow → allow, 2 tag → same tag, 3 tag → drop, 4 allow
/// (shadow hit) → allow, 5 allow → tag, 6 tag → tag with one more match, 8 tag → allow,
/// 9 tag → drop.
const TRAFFIC: &str = r#"{"text":"hello there"}
{"text":"free crypto for all"}
{"text":"you idiot"}
{"text":"join the meetup"}
{"text":"claim your airdrop"}
{"text":"free crypto airdrop"}

{"text":"big discount today"}
{"text":"idiot, free crypto"}
"#;

fn replay(args: &[&str]) -> Output {
    inflight().arg("replay").args(args).output().expect("inflight runs")
}

fn replay_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = inflight()
        .arg("replay")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("inflight starts");
    child.stdin.take().expect("stdin").write_all(input).expect("write stdin");
    child.wait_with_output().expect("inflight runs")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "exit {:?}\nstdout:\n{}\nstderr:\n{}", out.status, stdout(out), stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("--json output is not JSON ({e}):\n{}", stdout(out)))
}

/// A temp folder with the rules and `traffic.jsonl`.
fn setup(rules: &str, traffic: &str) -> (tempfile::TempDir, String, String) {
    let dir = rules_dir(&[("rules/t.toml", rules)]);
    write(dir.path(), "traffic.jsonl", traffic);
    let rules = dir.path().join("rules").display().to_string();
    let file = dir.path().join("traffic.jsonl").display().to_string();
    (dir, rules, file)
}

#[test]
fn counts_decisions_by_action_and_hits_by_rule() {
    let (_dir, rules, file) = setup(RULES, TRAFFIC);
    let report = json_of(&replay(&["--rules", &rules, "--json", &file]));
    assert_eq!(
        report,
        json!({
            "messages": 8,
            "errors": [],
            "actions": {"allow": 3, "tag": 5, "drop": 0},
            "rules": {"t.spam": 3, "t.rude": 2, "t.promo": 1, "t.watch": 1},
        })
    );
}

#[test]
fn human_summary_names_actions_rules_and_modes() {
    let (_dir, rules, file) = setup(RULES, TRAFFIC);
    let out = replay(&["--rules", &rules, &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("8 messages, 0 errors"), "{text}");
    for (label, count) in [("allow", 3), ("tag", 5), ("drop", 0)] {
        let row = text.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {text}"));
        assert_eq!(row.split_whitespace().nth(1), Some(count.to_string().as_str()), "{row}");
    }
    let watch = text.lines().find(|l| l.contains("t.watch")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(watch.split_whitespace().collect::<Vec<_>>(), ["t.watch", "shadow", "1"], "{text}");
    let spam = text.lines().find(|l| l.contains("t.spam")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(spam.split_whitespace().collect::<Vec<_>>(), ["t.spam", "enforce", "3"], "{text}");
}

#[test]
fn the_same_rules_make_no_difference() {
    let (_dir, rules, file) = setup(RULES, TRAFFIC);
    let report = json_of(&replay(&["--rules", &rules, "--against", &rules, "--json", &file]));
    assert_eq!(report["differences"], json!([]));
    assert_eq!(report["summary"], json!({"newly_dropped": 0, "newly_allowed": 0, "changed": 0}));
    assert_eq!(report["messages"], 8);
}

#[test]
fn a_changed_rule_set_reports_exactly_the_changed_answers() {
    let (dir, rules, file) = setup(RULES, TRAFFIC);
    write(dir.path(), "changed/t.toml", CHANGED);
    let changed = dir.path().join("changed").display().to_string();
    let report = json_of(&replay(&["--rules", &rules, "--against", &changed, "--json", &file]));

    let diffs = report["differences"].as_array().expect("differences");
    let lines: Vec<u64> = diffs.iter().map(|d| d["line"].as_u64().expect("line")).collect();
    // Line 2 hits the same rule the same way under both: only `ruleset` differs, so no difference.
    assert_eq!(lines, [3, 5, 6, 8, 9], "{report:#}");
    assert_eq!(report["summary"], json!({"newly_dropped": 2, "newly_allowed": 1, "changed": 2}));

    let drop = json!({"action": "do_not_propagate"});
    let by_line = |n: u64| diffs.iter().find(|d| d["line"] == n).expect("difference");
    let rules_of = |answer: &Value| answer["rules"].clone();

    let d3 = by_line(3);
    assert_eq!(rules_of(&d3["before"]), json!(["t.rude"]));
    assert_eq!(d3["after"], drop);
    assert_eq!((d3["rules_added"].clone(), d3["rules_removed"].clone()), (json!([]), json!([])));

    let d5 = by_line(5);
    assert_eq!(d5["before"], json!({}));
    assert_eq!(rules_of(&d5["after"]), json!(["t.spam"]));
    assert_eq!(d5["after"]["matches"][0]["text"], "airdrop");
    assert_eq!(d5["rules_added"], json!(["t.spam"]));
    assert_eq!(d5["rules_removed"], json!([]));

    let d6 = by_line(6);
    assert_eq!(d6["before"]["matches"].as_array().map(Vec::len), Some(1));
    assert_eq!(d6["after"]["matches"].as_array().map(Vec::len), Some(2));
    assert_eq!((d6["rules_added"].clone(), d6["rules_removed"].clone()), (json!([]), json!([])));

    let d8 = by_line(8);
    assert_eq!(rules_of(&d8["before"]), json!(["t.promo"]));
    assert_eq!(d8["after"], json!({}));
    assert_eq!(d8["rules_removed"], json!(["t.promo"]));

    let d9 = by_line(9);
    assert_eq!(rules_of(&d9["before"]), json!(["t.rude", "t.spam"]));
    assert_eq!(d9["after"], drop);

    // `before` comes from --rules, `after` from --against: each names its own rule set.
    let hashes: Vec<&Value> = [&d6["before"]["ruleset"], &d6["after"]["ruleset"]].into();
    assert!(hashes.iter().all(|h| h.is_string()) && hashes[0] != hashes[1], "{d6:#}");
    // Counts stay those of --rules.
    assert_eq!(report["actions"], json!({"allow": 3, "tag": 5, "drop": 0}));
}

#[test]
fn human_differences_show_line_text_answers_and_rules() {
    let (dir, rules, file) = setup(RULES, TRAFFIC);
    write(dir.path(), "changed/t.toml", CHANGED);
    let changed = dir.path().join("changed").display().to_string();
    let out = replay(&["--rules", &rules, "--against", &changed, &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("line 5  \"claim your airdrop\""), "{text}");
    assert!(text.contains("+t.spam"), "{text}");
    assert!(text.contains("-t.promo"), "{text}");
    assert!(!text.contains("line 2 "), "line 2 does not differ:\n{text}");
    assert!(
        text.contains("5 messages answered differently (newly dropped 2, newly allowed 1, otherwise changed 2)"),
        "{text}"
    );
}

#[test]
fn bad_lines_are_reported_by_number_and_skipped() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"text\":\"free crypto\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(b"[1,2]\n");
    input.extend_from_slice(b"   \n");
    input.extend_from_slice(b"\"just a string\"\n");
    input.extend_from_slice(
        b"{\"ts\":\"2025-01-01T00:00:00Z\",\"ruleset\":\"x\",\"answer\":{},\"hits\":[],\"eval_ns\":5}\n",
    );
    input.extend_from_slice(b"{\"text\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"text\":\"you idiot\"}\r\n");
    let (dir, rules, _) = setup(RULES, "");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, &input).expect("write");
    let file = file.display().to_string();

    let report = json_of(&replay(&["--rules", &rules, "--json", &file]));
    let errors = report["errors"].as_array().expect("errors");
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().expect("line")).collect();
    assert_eq!(lines, [2, 3, 5, 6, 7], "{report:#}");
    for (e, want) in errors.iter().zip(["not valid JSON", "not an object", "not an object", "\"text\"", "UTF-8"]) {
        assert!(e["error"].as_str().expect("error").contains(want), "{e}");
    }
    assert_eq!(report["messages"], 2);
    assert_eq!(report["actions"], json!({"allow": 0, "tag": 2, "drop": 0}));

    let out = replay(&["--rules", &rules, &file]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("2 messages, 5 errors"), "{text}");
    assert!(text.contains("line 2: not valid JSON"), "{text}");
    assert!(text.contains("line 6: decision-log line without \"text\""), "{text}");
}

#[test]
fn every_line_shape_is_accepted() {
    let lines = [
        // A webhook body, legacy envelope.
        json!({"trigger": "before_message", "appId": "a", "webhook": "w",
               "data": {"sender": "u1", "receiver": "g1", "receiverType": "group", "data": {"text": "free crypto 1"}}}),
        // A webhook body, v2 envelope.
        json!({"trigger": "before_message", "data": {"message": {"receiverType": "user", "data": {"text": "free crypto 2"}}}}),
        // A CometChat message object.
        json!({"sender": "u1", "receiverType": "group", "category": "message", "type": "text",
               "data": {"text": "free crypto 3"}}),
        // Text only, with simple keys.
        json!({"text": "free crypto 4", "receiver_type": "group"}),
        // A decision-log line written with --log-text.
        json!({"ts": "2025-06-01T12:00:00.000Z", "webhook": "w", "app_id": "a", "sender": "u1", "receiver": "g1",
               "receiver_type": "group", "ruleset": "0badc0de", "answer": {}, "hits": [], "eval_ns": 1200,
               "text": "free crypto 5"}),
        // Another trigger: acknowledged by the service, never evaluated.
        json!({"trigger": "after_message", "data": {"data": {"text": "free crypto 6"}}}),
    ];
    let traffic: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (_dir, rules, file) = setup(RULES, &traffic);
    let out = replay(&["--rules", &rules, "--json", &file]);
    let report = json_of(&out);
    assert_eq!(report["errors"], json!([]));
    assert_eq!(report["messages"], 5);
    assert_eq!(report["actions"], json!({"allow": 0, "tag": 5, "drop": 0}));
    assert_eq!(report["rules"]["t.spam"], 5);
    assert!(stderr(&out).contains("after_message"), "the skipped line is noted: {}", stderr(&out));

    let human = replay(&["--rules", &rules, &file]);
    assert!(stdout(&human).contains("1 not evaluated (trigger after_message 1)"), "{}", stdout(&human));
}

#[test]
fn decision_log_fields_feed_conditions() {
    let rules = r#"
[[rule]]
id = "g.only"
keywords = ["hello"]
when = { receiver_type = "group", sender = "u1" }
"#;
    let traffic = [
        json!({"ts": "t", "sender": "u1", "receiver_type": "group", "answer": {}, "eval_ns": 1, "text": "hello"}),
        json!({"ts": "t", "sender": "u2", "receiver_type": "group", "answer": {}, "eval_ns": 1, "text": "hello"}),
        json!({"ts": "t", "sender": "u1", "receiver_type": "user", "answer": {}, "eval_ns": 1, "text": "hello"}),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    let (_dir, rules, file) = setup(rules, &traffic);
    let report = json_of(&replay(&["--rules", &rules, "--json", &file]));
    assert_eq!(report["actions"], json!({"allow": 2, "tag": 1, "drop": 0}));
}

#[test]
fn every_cometchat_fixture_is_a_line() {
    let mut traffic = String::new();
    let mut before_message = 0;
    for name in fixture_names() {
        let body: Value =
            serde_json::from_slice(&std::fs::read(fixture(&name)).expect("fixture")).expect("fixture is JSON");
        if body["trigger"] == "before_message" {
            before_message += 1;
        }
        traffic.push_str(&format!("{body}\n"));
    }
    assert!(before_message > 0);
    let (_dir, rules, file) = setup(RULES, &traffic);
    let report = json_of(&replay(&["--rules", &rules, "--json", &file]));
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(report["messages"], before_message);
    let actions = &report["actions"];
    let total: u64 = ["allow", "tag", "drop"].iter().map(|k| actions[k].as_u64().expect("count")).sum();
    assert_eq!(total, before_message);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let (_dir, rules, file) = setup(RULES, TRAFFIC);
    let from_file = json_of(&replay(&["--rules", &rules, "--json", &file]));
    let from_stdin = json_of(&replay_stdin(&["--rules", &rules, "--json", "-"], TRAFFIC.as_bytes()));
    assert_eq!(from_stdin, from_file);
    assert_eq!(from_stdin["messages"], 8);
}

#[test]
fn rules_that_do_not_load_exit_2_with_the_diagnostic() {
    let (_dir, rules, file) = setup("[[rule]]\nid = \"x\"\nkeywords = [\"a\"\n", TRAFFIC);
    let out = replay(&["--rules", &rules, &file]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("t.toml:"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_missing_file_exits_2() {
    let (dir, rules, _) = setup(RULES, "");
    let missing = dir.path().join("nope.jsonl").display().to_string();
    let out = replay(&["--rules", &rules, &missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.jsonl"), "{}", stderr(&out));
}
