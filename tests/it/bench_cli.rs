//! `inflight bench` on a temporary rule folder: the report's shape and sanity, not its speed.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{inflight, rules_dir, stderr, stdout, write};

const RULES: &str = r#"
[[rule]]
id = "t.spam"
keywords = ["free crypto", "airdrop"]
score = 40
tags = ["spam"]
"#;

const MESSAGES: &str = r#"{"text":"hello there"}
{"text":"free crypto for all"}
{"trigger":"before_message","data":{"receiverType":"group","data":{"text":"claim the airdrop"}}}
{"receiverType":"user","data":{"text":"just a message object"}}

{"text":"the last one"}
"#;

fn bench(dir: &tempfile::TempDir, extra: &[&str]) -> std::process::Output {
    let rules = dir.path().join("rules");
    let file = dir.path().join("messages.jsonl");
    inflight()
        .arg("bench")
        .arg("--rules")
        .arg(&rules)
        .args(["--seconds", "0.05"])
        .args(extra)
        .arg(&file)
        .output()
        .expect("inflight runs")
}

fn setup(messages: &str) -> tempfile::TempDir {
    let dir = rules_dir(&[("rules/t.toml", RULES)]);
    write(dir.path(), "messages.jsonl", messages);
    dir
}

#[test]
fn json_report_has_exactly_the_documented_keys_and_sane_values() {
    let dir = setup(MESSAGES);
    let out = bench(&dir, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    let keys: BTreeSet<&str> = report.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["messages", "messages_per_sec", "p50_ns", "p99_ns", "max_ns"]));
    assert_eq!(report["messages"], 5, "every non-blank line is a message");
    let rate = report["messages_per_sec"].as_f64().expect("a number");
    assert!(rate > 0.0 && rate.is_finite(), "{report}");
    let [p50, p99, max] = ["p50_ns", "p99_ns", "max_ns"].map(|k| report[k].as_u64().expect("integer ns"));
    assert_rate_fits_percentiles(rate, p50, p99, max);
}

/// Percentiles are ordered and the rate agrees with them: every message took at most `max`, so
/// the mean is at most `max` (the rate at least 1 s / max, halved for the loop's own time); at
/// least half took `p50` or more, so the mean is at least `p50 / 2` (the rate at most 2 s / p50).
fn assert_rate_fits_percentiles(rate: f64, p50: u64, p99: u64, max: u64) {
    let all = format!("rate {rate}/s, p50 {p50} ns, p99 {p99} ns, max {max} ns");
    assert!(0 < p50 && p50 <= p99 && p99 <= max, "{all}");
    assert!(rate.is_finite() && rate >= 0.5e9 / max as f64, "rate too low for the percentiles: {all}");
    assert!(rate <= 2e9 / p50 as f64, "rate too high for the percentiles: {all}");
}

/// The number after `label` in `text` (thousands separators allowed).
fn number_after(text: &str, label: &str) -> f64 {
    let rest = &text[text.find(label).unwrap_or_else(|| panic!("{label} missing: {text}")) + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {label}: {text}"))
}

#[test]
fn human_report_names_throughput_and_percentiles() {
    let dir = setup(MESSAGES);
    let out = bench(&dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("messages     5 from"), "{text}");
    let rate = number_after(&text, "throughput");
    assert!(text.contains(" messages/s"), "{text}");
    let [p50, p99, max] = ["p50", "p99", "max"].map(|k| number_after(&text, k) as u64);
    assert_rate_fits_percentiles(rate, p50, p99, max);
}

#[test]
fn bad_lines_are_reported_and_left_out() {
    let dir = setup("{\"text\":\"free crypto\"}\nnot json\n{\"trigger\":\"after_message\"}\n{\"text\":\"ok\"}\n");
    let out = bench(&dir, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(report["messages"], 2);
    assert!(stderr(&out).contains(":2: not valid JSON"), "{}", stderr(&out));
}

#[test]
fn no_message_to_time_exits_2() {
    let dir = setup("\n\nnot json\n");
    let out = bench(&dir, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no message"), "{}", stderr(&out));
}

/// A pack the floor kernel can stand for: keywords in word mode and regexes, all at `basic`.
const BASIC_RULES: &str = r#"
[[rule]]
id = "t.spam"
keywords = ["free crypto", "airdrop", "Glück"]
normalize = "basic"
score = 40

[[rule]]
id = "t.shared"
keywords = ["airdrop"]
regex = ['\bbit\.ly/\w+', '\d{3}-\d{4}']
normalize = "basic"
unless = { sender_role = ["admin"] }
"#;

const COMPARE_MESSAGES: &str = r#"{"text":"hello there"}
{"text":"FREE   crypto for all"}
{"text":"claim the airdrop at bit.ly/abc"}
{"text":"viel GLÜCK, call 555-1234"}
{"text":"airdropped is not a word match"}
{"text":"an admin says airdrop","sender_role":"admin"}
"#;

#[test]
fn compare_runs_the_floor_kernel_and_checks_it_finds_the_same_rules() {
    let dir = rules_dir(&[("rules/t.toml", BASIC_RULES)]);
    write(dir.path(), "messages.jsonl", COMPARE_MESSAGES);
    let out = bench(&dir, &["--compare"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Conditions do not apply to the comparison: the admin's message counts like the others.
    assert!(text.contains("same rules   6 of 6 messages"), "{text}");
    for line in ["inflight  per message", "floor     per message", "no rule hit  2 messages", "a rule hit   4 messages"]
    {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    let ratio = number_after(&text, "inflight ÷ floor:");
    assert!(ratio > 0.0 && ratio.is_finite(), "{text}");

    let out = bench(&dir, &["--compare", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(report["same_rules"], 6, "{report}");
    assert!(report["ratio_to_floor"].as_f64().is_some_and(|r| r > 0.0), "{report}");
    let floor = &report["floor"];
    let [p50, p99, max] = ["p50_ns", "p99_ns", "max_ns"].map(|k| floor[k].as_u64().expect("integer ns"));
    assert_rate_fits_percentiles(floor["messages_per_sec"].as_f64().expect("a rate"), p50, p99, max);
}

#[test]
fn compare_says_why_the_floor_cannot_stand_for_a_pack() {
    let dir = setup(MESSAGES);
    // The default level is `standard` (docs/rules.md): the floor kernel runs `basic` only.
    let out = bench(&dir, &["--compare"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("--compare") && err.contains("t.spam") && err.contains("basic"), "{err}");
}
