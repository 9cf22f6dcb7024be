//! `inflight check`, `test` and `eval` run as a user runs them, on the rule folders kept in
//! `tests/data/`: one folder per kind of load error, warnings, good packs, failing examples and
//! cases; and golden answers of `eval --json` for every shared CometChat fixture.
//!
//! Golden files: `tests/data/golden/<fixture>.json` hold the exact stdout of
//! `inflight eval --rules tests/data/golden_rules --json --payload <fixture>`. After a deliberate
//! change, rewrite them with `INFLIGHT_BLESS=1 cargo test --test it cli::golden`, then read the
//! diff by hand before keeping it (spans must point into the original text, see docs/decision.md).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::support::{data, fixture, fixture_names, inflight, stderr, stdout};

fn run_on(command: &str, dir: &Path) -> Output {
    inflight().arg(command).arg("--rules").arg(dir).output().expect("inflight runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed by a signal")
}

/// Nothing a user sees may look like a crash.
fn assert_no_panic(o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for crash in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!all.contains(crash), "output looks like a crash ({crash}):\n{all}");
    }
}

/// `inflight check` on `tests/data/errors/<folder>` must fail with exactly one error, printed as
/// `<dir>/<file>:<line>:<col>: error: [rule "<id>": ]...` and containing every `what`.
fn expect_one_error(folder: &str, file: &str, line: usize, col: usize, rule: Option<&str>, what: &[&str]) -> String {
    let dir = data("errors").join(folder);
    let out = run_on("check", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "check must fail on {folder}:\n{text}{}", stderr(&out));
    assert_no_panic(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "exactly one error expected in {folder}:\n{text}");
    let mut prefix = format!("{}:{line}:{col}: error: ", dir.join(file).display());
    if let Some(id) = rule {
        prefix.push_str(&format!("rule \"{id}\": "));
    }
    let error = errors[0];
    assert!(error.starts_with(&prefix), "error line should start with {prefix:?}:\n{error}");
    if rule.is_none() {
        assert!(!error.contains("rule \""), "no rule is involved, none should be named:\n{error}");
    }
    for w in what {
        assert!(error.contains(w), "error should say {w:?}:\n{error}");
    }
    assert!(text.contains(&format!("failed: 1 error(s) in {}", dir.display())), "summary line missing:\n{text}");
    error.to_owned()
}

#[test]
fn check_accepts_a_good_folder_and_prints_the_summary() {
    let dir = data("good");
    let out = run_on("check", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(!text.contains("warning"), "a clean folder has no warnings:\n{text}");
    let hash = inflight::rules::load_dir(&dir).expect("good folder loads").ruleset.hash().to_owned();
    // 4 rules in 2 files (one nested), 51 keyword patterns (3 from the list file; at `strict`
    // each two-word keyword also counts its space-less form and, in word mode, its forms with one
    // vowel starred, `g*ft card`, and with one or both words split, `gi ft ca rd`), 2 regexes,
    // 5 cases.
    let want = format!("ok: 4 rules, 51 keywords, 2 regexes, 5 cases in 2 files; ruleset {hash}\n");
    assert_eq!(text, want);
}

#[test]
fn test_passes_on_a_good_folder() {
    let out = run_on("test", &data("good"));
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.starts_with("14 passed, 0 failed (9 examples, 5 cases; ruleset "), "{text}");
}

#[test]
fn toml_syntax_error() {
    expect_one_error("toml_syntax", "broken.toml", 4, 1, Some("syntax.broken"), &["missing comma", "expected `,`"]);
}

#[test]
fn unknown_key_in_a_rule() {
    expect_one_error("unknown_rule_key", "typo.toml", 4, 1, Some("typo.score"), &["unknown field `scroe`", "`score`"]);
}

#[test]
fn unknown_key_at_top_level() {
    expect_one_error("unknown_top_key", "top.toml", 5, 2, None, &["unknown field `polcy`", "`policy`"]);
}

#[test]
fn missing_id() {
    expect_one_error("missing_id", "noid.toml", 5, 1, None, &["rule has no `id`"]);
}

#[test]
fn duplicate_id_names_both_places() {
    let first = data("errors/duplicate_id/a.toml");
    let error = expect_one_error("duplicate_id", "b.toml", 6, 6, Some("dup.rule"), &["duplicate rule id"]);
    assert!(error.contains(&format!("{}:2)", first.display())), "the first definition must be named:\n{error}");
}

#[test]
fn invalid_regex() {
    expect_one_error(
        "invalid_regex",
        "bad.toml",
        3,
        10,
        Some("bad.regex"),
        &[r"invalid regex 'send\s+(\d+'", "unclosed group"],
    );
}

#[test]
fn oversized_regex_is_refused_as_too_large() {
    expect_one_error("oversized_regex", "huge.toml", 3, 10, Some("huge.regex"), &[r"regex '\w{5000}'", "too large"]);
}

#[test]
fn unknown_list() {
    expect_one_error(
        "unknown_list",
        "lists.toml",
        6,
        19,
        Some("lists.unknown"),
        &["unknown list \"unknwon\"", "known: known"],
    );
}

#[test]
fn rule_with_nothing_to_match() {
    expect_one_error("nothing_to_match", "empty.toml", 1, 1, Some("empty.rule"), &["nothing to match"]);
}

#[test]
fn list_file_that_cannot_be_read() {
    let missing = data("errors/unreadable_list/lists/does-not-exist.txt");
    expect_one_error(
        "unreadable_list",
        "missing.toml",
        2,
        8,
        None,
        &["cannot read list file", &missing.display().to_string(), "No such file"],
    );
}

#[test]
fn second_policy_names_the_first() {
    let first = data("errors/second_policy/a.toml");
    expect_one_error("second_policy", "b.toml", 5, 1, None, &["a second [policy]", &format!("{}:1", first.display())]);
}

#[test]
fn condition_value_of_the_wrong_type() {
    expect_one_error(
        "bad_condition",
        "cond.toml",
        4,
        8,
        Some("cond.attachments"),
        &["`when.has_attachments` takes true or false"],
    );
}

#[test]
fn one_run_reports_every_error() {
    let dir = data("errors/all_errors");
    let out = run_on("check", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error: ")).collect();
    let one = dir.join("one.toml").display().to_string();
    let two = dir.join("two.toml").display().to_string();
    let want = [
        format!("{one}:3:10: error: rule \"one.regex\": invalid regex"),
        format!("{one}:11:10: error: rule \"one.list\": unknown list \"nope\""),
        format!("{two}:1:1: error: rule \"two.empty\": rule has nothing to match"),
    ];
    assert_eq!(errors.len(), want.len(), "{text}");
    for (line, want) in errors.iter().zip(&want) {
        assert!(line.starts_with(want.as_str()), "want {want:?}, got {line:?}");
    }
    assert!(text.contains(&format!("failed: 3 error(s) in {}", dir.display())), "{text}");
}

#[test]
fn commands_that_need_rules_refuse_a_folder_that_does_not_load() {
    let dir = data("errors/all_errors");
    for args in [vec!["test"], vec!["eval", "alpha"]] {
        let out = inflight().args(&args).arg("--rules").arg(&dir).output().expect("inflight runs");
        assert_eq!(code(&out), 2, "{args:?}");
        assert_no_panic(&out);
        let err = stderr(&out);
        assert!(err.contains("one.toml:3:10: error: rule \"one.regex\""), "{args:?} must show the diagnostics:\n{err}");
        assert!(err.contains("do not load: 3 error(s)"), "{args:?}:\n{err}");
        assert!(stdout(&out).is_empty(), "{args:?} must not decide with broken rules:\n{}", stdout(&out));
    }
}

#[test]
fn warnings_are_printed_and_do_not_fail() {
    let dir = data("warnings");
    let out = run_on("check", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    let file = dir.join("warn.toml").display().to_string();
    let want = [
        format!("{file}:5:10: warning: rule \"warn.empty-regex\": regex 'a*' can match the empty string"),
        format!(
            "{file}:9:13: warning: rule \"warn.short\": keyword \"ab\" is shorter than 3 characters in substring mode"
        ),
        format!("{file}:14:27: warning: rule \"warn.repeat\": keyword \"free   money\" repeats"),
    ];
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(": warning: ")).collect();
    assert_eq!(warnings.len(), want.len(), "{text}");
    for (line, want) in warnings.iter().zip(&want) {
        assert!(line.starts_with(want.as_str()), "want {want:?}, got {line:?}");
    }
    assert!(text.lines().last().is_some_and(|l| l.starts_with("ok: 3 rules") && l.ends_with("(3 warnings)")), "{text}");
}

#[test]
fn test_reports_failing_examples_with_place_rule_and_normalized_text() {
    let dir = data("failing_example");
    let out = run_on("test", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let file = dir.join("rules.toml").display().to_string();
    // `standard` keeps digits, so leetspeak does not match there: the normalized text shows why.
    let missed = format!(
        "FAIL {file}:7:3: rule \"ex.free\": examples.match \"fr33 m0ney now\" did not match \
         (normalized at `standard`: \"fr33 m0ney now\")"
    );
    let matched = format!(
        "FAIL {file}:14:22: rule \"ex.cat\": examples.no_match \"a CAT sat\" matched: \"CAT\" at 2..5 by keyword \"cat\""
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&missed.as_str()), "want {missed:?} in:\n{text}");
    assert!(lines.contains(&matched.as_str()), "want {matched:?} in:\n{text}");
    assert!(text.contains("2 passed, 2 failed (4 examples, 0 cases;"), "{text}");
}

#[test]
fn test_reports_a_failing_case_with_expected_and_actual() {
    let dir = data("failing_case");
    let out = run_on("test", &dir);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let file = dir.join("rules.toml").display().to_string();
    let want = format!(
        "FAIL {file}:7:1: case \"free money is dropped\": expected action drop, got tag; \
         expected score 100, got 30; answer was {{\"score\":30,"
    );
    assert!(text.lines().any(|l| l.starts_with(&want)), "want {want:?} in:\n{text}");
    assert!(text.contains("\"text\":\"free money\""), "the answer shows what matched:\n{text}");
}

#[test]
fn eval_explains_hits_score_and_decision() {
    let dir = data("good");
    let out = inflight().args(["eval", "ＨＥＬＬＯ friends, call 555 1234"]).arg("--rules").arg(&dir).output().unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    let want = [
        // The normalized text of each level in use.
        "  standard  \"hello friends, call 555 1234\"",
        "  basic     \"hello friends, call 555 1234\"",
        // Rule, mode, score, tags, action, where it is defined.
        &format!(
            "  chat.greeting [enforce] score 5 tags [greeting] action tag ({}:10)",
            dir.join("chat.toml").display()
        ),
        // The span in the original text, the original words, and the pattern that found them.
        "    text 0..15 \"ＨＥＬＬＯ\" by keyword \"hello\"",
        "    text 30..38 \"555 1234\" by regex \"\\\\b\\\\d{3}[ -]\\\\d{4}\\\\b\"",
        "score: 15 enforced, against drop_score 50",
        "decision: tag",
        "answer: {\"score\":15,",
    ];
    for w in want {
        assert!(text.lines().any(|l| l.starts_with(w)), "want a line starting {w:?} in:\n{text}");
    }
    assert!(text.contains("\"masked_text\":\"ＨＥＬＬＯ friends, call ********\""), "{text}");
}

#[test]
fn eval_shows_shadow_hits_without_counting_them() {
    let out = inflight().args(["eval", "WHYAREWESHOUTING hello"]).arg("--rules").arg(data("good")).output().unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.contains("  spam.shout [shadow] score 100"), "{text}");
    assert!(text.contains("score: 5 enforced, against drop_score 50"), "{text}");
    assert!(text.contains("shadow: 1 rule(s) hit in shadow mode"), "{text}");
    assert!(text.contains("decision: tag"), "{text}");
    assert!(!text.contains("spam.shout\""), "a shadow rule must not be in the answer:\n{text}");
}

#[test]
fn eval_explains_a_drop() {
    let out = inflight().args(["eval", "buy a G1FT C4RD"]).arg("--rules").arg(data("good")).output().unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.contains("  strict    \"buy a gift card\""), "{text}");
    assert!(text.contains("    text 6..15 \"G1FT C4RD\" by keyword \"gift card\""), "{text}");
    assert!(text.contains("decision: drop"), "{text}");
    assert!(text.contains("answer: {\"action\":\"do_not_propagate\"}"), "{text}");
}

#[test]
fn eval_json_prints_only_the_answer() {
    let out = inflight().args(["eval", "--json", "ring 555-1234"]).arg("--rules").arg(data("good")).output().unwrap();
    assert_eq!(code(&out), 0);
    let hash = inflight::rules::load_dir(&data("good")).unwrap().ruleset.hash().to_owned();
    let want = format!(
        "{{\"score\":10,\"tags\":[\"pii\"],\"rules\":[\"chat.phone\"],\"matches\":[{{\"rule\":\"chat.phone\",\
         \"field\":\"text\",\"start\":5,\"end\":13,\"text\":\"555-1234\"}}],\"masked_text\":\"ring ********\",\
         \"ruleset\":\"{hash}\"}}\n"
    );
    assert_eq!(stdout(&out), want);
}

#[test]
fn eval_reads_a_payload_from_stdin() {
    let mut child = inflight()
        .args(["eval", "--json", "--payload", "-"])
        .arg("--rules")
        .arg(data("good"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let body = br#"{"trigger":"before_message","data":{"data":{"text":"pay by gift card"}}}"#;
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"action\":\"do_not_propagate\"}\n");
}

/// One clear line on stderr, a non-zero exit, nothing that looks like a crash.
fn assert_one_line_error(out: &Output, mentions: &[&str]) {
    assert_ne!(code(out), 0);
    assert_no_panic(out);
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line on stderr expected:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    for m in mentions {
        assert!(err.contains(m), "stderr should mention {m:?}:\n{err}");
    }
    assert!(stdout(out).is_empty(), "{}", stdout(out));
}

#[test]
fn unreadable_payload_file_is_one_line() {
    let missing = data("no-such-payload.json");
    let out = inflight().args(["eval", "--payload"]).arg(&missing).arg("--rules").arg(data("good")).output().unwrap();
    assert_one_line_error(&out, &[&missing.display().to_string(), "No such file"]);
}

#[test]
fn payload_that_is_not_json_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.txt");
    std::fs::write(&path, "text=hello").unwrap();
    let out = inflight().args(["eval", "--payload"]).arg(&path).arg("--rules").arg(data("good")).output().unwrap();
    assert_one_line_error(&out, &[&path.display().to_string(), "not valid JSON"]);
}

#[test]
fn payload_that_is_not_an_object_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.json");
    std::fs::write(&path, "[1, 2]").unwrap();
    let out = inflight().args(["eval", "--payload"]).arg(&path).arg("--rules").arg(data("good")).output().unwrap();
    assert_one_line_error(&out, &["not an object"]);
}

#[test]
fn missing_rules_folder() {
    let missing = data("no-such-rules");
    let shown = missing.display().to_string();
    // `check` reports it like any load error, on stdout with exit 1.
    let out = run_on("check", &missing);
    assert_eq!(code(&out), 1);
    assert_no_panic(&out);
    assert!(stdout(&out).starts_with(&format!("{shown}: error: cannot read rules folder: ")), "{}", stdout(&out));
    // The other commands cannot run at all: exit 2, the folder named on stderr.
    for args in [vec!["test"], vec!["eval", "hello"]] {
        let out = inflight().args(&args).arg("--rules").arg(&missing).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}");
        assert_no_panic(&out);
        let err = stderr(&out);
        assert!(err.contains(&format!("{shown}: error: cannot read rules folder")), "{args:?}:\n{err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

// ---- Golden answers of `eval --json` on the shared fixtures ----

fn golden_path(fixture_name: &str) -> PathBuf {
    data("golden").join(fixture_name)
}

fn eval_fixture(name: &str) -> String {
    let out = inflight()
        .args(["eval", "--json", "--payload"])
        .arg(fixture(name))
        .arg("--rules")
        .arg(data("golden_rules"))
        .output()
        .expect("inflight runs");
    assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn golden_eval_json_on_every_fixture() {
    let bless = std::env::var_os("INFLIGHT_BLESS").is_some_and(|v| v == "1");
    let names = fixture_names();
    assert!(!names.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for name in &names {
        let got = eval_fixture(name);
        let path = golden_path(name);
        if bless {
            std::fs::create_dir_all(data("golden")).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{name}:\n  want {want}  got  {got}")),
            Err(e) => failures.push(format!("{name}: no golden file {} ({e})", path.display())),
        }
    }
    // A golden file whose fixture is gone is a test that silently stopped running.
    let goldens: BTreeSet<String> = std::fs::read_dir(data("golden"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let fixtures: BTreeSet<String> = names.iter().cloned().collect();
    for stale in goldens.difference(&fixtures) {
        failures.push(format!("{stale}: golden file without a fixture"));
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es); if the change is intended, rerun with INFLIGHT_BLESS=1 and review the diff:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The text a fixture's message carries, for either envelope.
fn fixture_text(body: &Value) -> Option<&str> {
    let data = body.get("data")?;
    let message = data.get("message").unwrap_or(data);
    message.get("data")?.get("text")?.as_str()
}

/// What the golden files must keep showing, whatever they are blessed to: the rules really hit
/// (tag, mask and drop among the answers, `{}` for other triggers), and every answer keeps the
/// shape of docs/decision.md.
#[test]
fn golden_answers_cover_every_outcome_and_keep_their_shape() {
    let hash = inflight::rules::load_dir(&data("golden_rules")).expect("golden rules load").ruleset.hash().to_owned();
    let (mut tags, mut masks, mut drops, mut allows) = (0, 0, 0, 0);
    for name in fixture_names() {
        let body: Value = serde_json::from_slice(&std::fs::read(fixture(&name)).unwrap()).unwrap();
        let golden = std::fs::read_to_string(golden_path(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(golden.ends_with('\n') && golden.lines().count() == 1, "{name}: one line of JSON and a newline");
        let answer: Value = serde_json::from_str(&golden).unwrap();
        let object = answer.as_object().expect("an object");
        if body["trigger"] != "before_message" {
            assert!(object.is_empty(), "{name}: other triggers are answered with {{}}");
            continue;
        }
        if object.is_empty() {
            allows += 1;
            continue;
        }
        if answer == serde_json::json!({"action": "do_not_propagate"}) {
            drops += 1;
            continue;
        }
        tags += 1;
        assert_eq!(answer["ruleset"], hash.as_str(), "{name}: ruleset hash");
        for key in ["tags", "rules"] {
            let list: Vec<&str> = answer[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(list, sorted, "{name}: {key} sorted and unique");
        }
        for m in answer["matches"].as_array().unwrap() {
            let (start, end) = (m["start"].as_u64().unwrap() as usize, m["end"].as_u64().unwrap() as usize);
            if m["field"] == "text" {
                let text = fixture_text(&body).expect("a text hit needs a text");
                assert_eq!(
                    text.get(start..end),
                    m["text"].as_str(),
                    "{name}: span {start}..{end} into the original text"
                );
            }
        }
        if let Some(masked) = answer.get("masked_text") {
            masks += 1;
            assert!(masked.as_str().unwrap().contains('*'), "{name}: {masked}");
        }
    }
    assert!(
        tags >= 2 && masks >= 1 && drops >= 1 && allows >= 1,
        "tags {tags}, masks {masks}, drops {drops}, allows {allows}"
    );
}

/// The bundled starter packs carry their own examples and cases; a broken one fails the suite,
/// with `inflight test`'s explanation of every failure.
#[test]
fn bundled_rules_pass_their_examples_and_cases() {
    let rules = crate::support::root().join("rules");
    let out = run_on("test", &rules);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "bundled rules fail their own tests:\n{text}{}", stderr(&out));
    let summary = text.lines().last().unwrap_or_default();
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(summary.contains(" 0 failed") && passed >= 100, "expected every example and case to run: {summary}");
    assert!(!summary.contains(" 0 cases"), "the bundled packs carry [[case]]s: {summary}");
}

/// A regex that needs context names the part to report `hit`: spans and masks cover only that
/// group, as in the bundled url-shortener rule (`check out bit.ly/abc` reports `bit.ly/abc`).
#[test]
fn a_regex_hit_group_sets_the_span_and_the_mask() {
    let bundled = crate::support::root().join("rules");
    let out =
        inflight().args(["eval", "--json", "--rules"]).arg(&bundled).arg("check out bit.ly/abc").output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).expect("eval --json prints JSON");
    assert_eq!(answer["matches"][0]["text"], "bit.ly/abc", "{answer}");
    assert_eq!(answer["matches"][0]["start"], 10, "{answer}");

    let dir = crate::support::rules_dir(&[(
        "orders.toml",
        "[[rule]]\nid = \"o.number\"\nregex = ['(?:^|\\s)(?P<hit>#\\d+)']\naction = \"mask\"\n",
    )]);
    let out =
        inflight().args(["eval", "--json", "--rules"]).arg(dir.path()).arg("order #123 and #45").output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).expect("eval --json prints JSON");
    assert_eq!(answer["masked_text"], "order **** and ***", "{answer}");
    let spans: Vec<(u64, u64)> = answer["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["start"].as_u64().unwrap(), m["end"].as_u64().unwrap()))
        .collect();
    assert_eq!(spans, [(6, 10), (15, 18)], "{answer}");
}

/// A reader that goes away (`inflight eval … | head`) ends the command quietly: no panic, no
/// error line, exit 0.
#[test]
fn a_closed_stdout_is_no_panic() {
    let text = "free money ".repeat(10_000);
    let mut child = inflight()
        .args(["eval", "--rules"])
        .arg(crate::support::root().join("rules"))
        .arg(&text)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The explanation is far longer than a pipe holds: closing our end makes its writes fail.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_no_panic(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}
