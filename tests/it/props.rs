//! Hardening properties over hostile input: arbitrary request bodies through
//! `protocol::parse_request` and the engine, arbitrary Unicode through every normalization level,
//! and the offsets and masking the engine reports (docs/cometchat.md, docs/normalization.md, docs/decision.md).
//!
//! A few hundred cases each, so the whole module runs in seconds.

use std::sync::LazyLock;

use inflight::protocol::{MessageView, parse_request};
use inflight::rules::normalize::{Level, normalize, normalize_keyword};
use inflight::rules::{Decision, Field, Mode, RuleAction, Ruleset, Verdict, load_dir};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use crate::support::rules_dir;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn load(files: &[(&str, &str)]) -> Ruleset {
    let dir = rules_dir(files);
    load_dir(dir.path()).unwrap_or_else(|e| panic!("rules load: {e:?}")).ruleset
}

/// Rules reading every field, behind conditions, at every level: what a request body reaches.
static BODY_RULES: LazyLock<Ruleset> = LazyLock::new(|| {
    load(&[(
        "body.toml",
        r#"
[[rule]]
id = "words"
keywords = ["free money", "fuck", "été"]
normalize = "strict"
fields = ["text", "attachment_names", "urls", "metadata"]
action = "mask"
score = 10

[[rule]]
id = "links"
regex = ['bit\.ly/\w+']
fields = ["urls"]
normalize = "basic"
tags = ["link"]
when = { receiver_type = "group", has_attachments = false }
unless = { sender_role = ["moderator", "admin"] }

[[rule]]
id = "files"
keywords = [".exe"]
match = "substring"
fields = ["attachment_names"]
normalize = "none"
action = "drop"
when = { parent = true }

[[rule]]
id = "shadowed"
keywords = ["spam"]
match = "prefix"
fields = ["text", "metadata"]
mode = "shadow"

[policy]
drop_score = 20
"#,
    )])
});

/// Text-only rules of every kind: keywords in each match mode and level, regexes at each level,
/// mask and tag actions, a shadow mask (which must not mask) and an `except` guard.
static SPAN_RULES: LazyLock<Ruleset> = LazyLock::new(|| {
    load(&[(
        "spans.toml",
        r#"
[[rule]]
id = "abuse"
keywords = ["fuck", "shit", "kill yourself", "free money"]
normalize = "strict"
action = "mask"

[[rule]]
id = "moby"
keywords = ["dick"]
except = ["moby dick"]
normalize = "strict"
action = "mask"

[[rule]]
id = "crypto"
keywords = ["crypt", "bitc"]
match = "prefix"
normalize = "standard"

[[rule]]
id = "coin"
keywords = ["coin"]
match = "suffix"
normalize = "basic"
action = "mask"

[[rule]]
id = "ass-shadow"
keywords = ["ass"]
match = "substring"
normalize = "strict"
action = "mask"
mode = "shadow"

[[rule]]
id = "phone"
regex = ['\d{3}[ .-]?\d{4}']
normalize = "basic"
action = "mask"

[[rule]]
id = "caps"
regex = ['[A-Z]{4,}']
normalize = "none"
action = "mask"

[[rule]]
id = "bitch"
regex = ['b+i+t+c+h']
normalize = "strict"
action = "mask"

[[rule]]
id = "eacute"
regex = ['é+']
normalize = "basic"
action = "mask"
"#,
    )])
});

// ---- strategies ----

/// Characters normalization treats specially: confusables, zero-width and bidi controls,
/// combining marks, emoji (ZWJ sequences, skin tones, flags, keycaps), right-to-left scripts;
/// and words the span rules know, plain and disguised, so that most texts hit. Space-separated
/// (whitespace pieces are listed in `tricky_piece`).
const CHARS: &str = "a e i o s f u c k A F 0 1 3 4 5 7 @ $ . - _ * ' \
    а е о р с х ϲ ԁ κ υ Ω ß ẞ İ ı ς Σ ﬁ ǅ Ｆ ｕ 𝐟 𝓊 ⓒ ⒦ 🅵 ᴇ ꜰ ﾞ ｶ ㄱ ㅏ \
    \u{200B} \u{200C} \u{200D} \u{2060} \u{FEFF} \u{AD} \u{202E} \u{202D} \u{2067} \u{2069} \u{61C} \u{200F} \
    \u{FE0F} \u{E0100} \u{301} \u{308} \u{327} \u{336} \u{20E3} e\u{301}\u{316}\u{338} \u{1100}\u{1161} \
    😀 👍🏽 👨\u{200D}👩\u{200D}👧 🇫🇷 🇺 1\u{FE0F}\u{20E3} 🏳\u{FE0F}\u{200D}🌈 \
    שָׁלוֹם مرحبا \u{627}\u{644}\u{644}\u{647} हिन्दी ภาษา 中文 한국어";
const WORDS: &str = "fuck FUCK f.u.c.k fuuuck ｆｕｃｋ sh1t $hit free_money fr33_m0n3y kill_yourself moby_dick dick \
    crypto Crypto bitcoin COIN b1tch biiitch 555-1234 555_1234 SHOUT été ÉTÉ class bit.ly/abc";

fn tricky_piece() -> impl Strategy<Value = String> {
    let chars: Vec<String> = CHARS.split_whitespace().map(str::to_owned).collect();
    // In WORDS `_` stands for a space inside a phrase.
    let words: Vec<String> = WORDS.split_whitespace().map(|w| w.replace('_', " ")).collect();
    let spaces: Vec<String> = [" ", "  ", "\t", "\n", "\u{A0}", "\u{3000}", "\u{2028}"].map(str::to_owned).to_vec();
    prop_oneof![
        4 => prop::sample::select(chars),
        3 => prop::sample::select(words),
        3 => prop::sample::select(spaces),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_piece(), 0..24).prop_map(|pieces| pieces.concat())
}

/// Any text: arbitrary Unicode or the tricky mix.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), tricky_text()]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        hostile_text().prop_map(Value::String),
    ]
}

/// Keys CometChat uses (so nested values land where the parser looks) and arbitrary ones.
fn json_key() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &[
        "trigger",
        "data",
        "message",
        "text",
        "attachments",
        "metadata",
        "@injected",
        "name",
        "url",
        "entities",
        "sender",
        "entity",
        "role",
        "receiverType",
        "receiver",
        "category",
        "type",
        "parentId",
        "conversationId",
        "appId",
        "webhook",
        "uid",
        "id",
    ];
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => any::<String>()]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field that is usually of the right kind, sometimes anything, sometimes missing.
fn field(right: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.7, prop_oneof![4 => right.boxed(), 1 => json_value().boxed()])
}

fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect::<Map<_, _>>())
}

/// A CometChat message object: every field optional, any of them possibly of the wrong type.
fn message() -> impl Strategy<Value = Value> {
    let attachment = (field(hostile_text().prop_map(Value::String)), field(hostile_text().prop_map(Value::String)))
        .prop_map(|(name, url)| object(vec![("name", name), ("url", url)]));
    let data = (
        field(hostile_text().prop_map(Value::String)),
        field(prop::collection::vec(attachment, 0..4).prop_map(Value::Array)),
        field(json_value()),
        field(
            prop::sample::select(vec!["moderator", "admin", "member"])
                .prop_map(|r| serde_json::json!({ "sender": { "entity": { "uid": "u1", "role": r } } })),
        ),
    )
        .prop_map(|(text, attachments, metadata, entities)| {
            object(vec![("text", text), ("attachments", attachments), ("metadata", metadata), ("entities", entities)])
        });
    let word = |words: &'static [&'static str]| prop::sample::select(words).prop_map(Value::from);
    (
        field(data),
        field(word(&["user", "group"])),
        field(word(&["message", "custom", "action"])),
        field(word(&["text", "image", "file"])),
        field(word(&["", "0", "42"])),
        field(word(&["alice", "bob"])),
    )
        .prop_map(|(data, receiver_type, category, kind, parent, sender)| {
            object(vec![
                ("data", data),
                ("receiverType", receiver_type),
                ("category", category),
                ("type", kind),
                ("parentId", parent),
                ("sender", sender),
            ])
        })
}

/// A webhook envelope, legacy (`data` is the message) or v2 (`data.message`).
fn envelope() -> impl Strategy<Value = Value> {
    (
        field(prop::sample::select(vec!["before_message", "after_message", ""]).prop_map(Value::from)),
        field(message()),
        any::<bool>(),
        field(hostile_text().prop_map(Value::String)),
    )
        .prop_map(|(trigger, message, v2, app_id)| {
            let data = if v2 { message.map(|m| serde_json::json!({ "message": m })) } else { message };
            object(vec![("trigger", trigger), ("data", data), ("appId", app_id), ("webhook", Some(Value::from("wh")))])
        })
}

/// Request bodies: arbitrary bytes, well-formed envelopes, envelopes with bytes changed or cut,
/// and deeply nested JSON.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let serialized = || envelope().prop_map(|v| serde_json::to_vec(&v).expect("serializable"));
    let mutated = (
        serialized(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut bytes, edits, cut)| {
            for (at, byte) in edits {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
            }
            if !bytes.is_empty() && cut.index(4) == 0 {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        });
    let nested = (1usize..3000, any::<bool>()).prop_map(|(depth, arrays)| {
        let (open, close) = if arrays { ("[", "]") } else { ("{\"data\":", "}") };
        format!(
            "{{\"trigger\":\"before_message\",\"data\":{{\"data\":{{\"metadata\":{}1{}}}}}}}",
            open.repeat(depth),
            close.repeat(depth)
        )
        .into_bytes()
    });
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256),
        3 => serialized(),
        3 => mutated,
        1 => nested,
    ]
}

// ---- checks ----

/// `data.text` of the message an envelope carries (following `message` nesting), as the parser
/// must read it: a string, or an integer written as a string.
fn expected_text(envelope: &Value) -> Option<String> {
    let mut message = envelope.get("data")?.as_object()?;
    while let Some(inner) = message.get("message").and_then(Value::as_object) {
        message = inner;
    }
    match message.get("data")?.as_object()?.get("text")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The answer body must be a JSON object whatever the message held.
fn check_answer(decision: &Decision<'_>) -> Result<(), TestCaseError> {
    let answer: Value = serde_json::from_slice(&decision.answer_json())
        .map_err(|e| TestCaseError::fail(format!("answer is not JSON: {e}")))?;
    prop_assert!(answer.is_object(), "answer is not an object: {answer}");
    Ok(())
}

fn evaluate_text<'r>(rules: &'r Ruleset, text: &str) -> Decision<'r> {
    rules.evaluate(&MessageView::with_text(text))
}

/// Every span on char boundaries of the text, and its `text` the original substring.
fn check_spans(original: &str, decision: &Decision<'_>) -> Result<(), TestCaseError> {
    for hit in &decision.hits {
        for span in &hit.spans {
            prop_assert_eq!(span.field, Field::Text);
            prop_assert!(
                span.start < span.end && span.end <= original.len(),
                "{}: span {}..{} out of 0..{}",
                hit.rule.id,
                span.start,
                span.end,
                original.len()
            );
            prop_assert!(
                original.is_char_boundary(span.start) && original.is_char_boundary(span.end),
                "{}: span {}..{} not on char boundaries of {:?}",
                hit.rule.id,
                span.start,
                span.end,
                original
            );
            prop_assert_eq!(&original[span.start..span.end], span.text.as_str(), "rule {}", &hit.rule.id);
        }
    }
    Ok(())
}

/// The original with each enforced mask span replaced by one `*` per grapheme; where spans
/// overlap, the overlap is masked once (as part of the span that starts first).
fn expected_masked(original: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::new();
    let mut pos = 0;
    for (start, end) in spans {
        let start = start.max(pos);
        if start >= end {
            continue;
        }
        out.push_str(&original[pos..start]);
        out.extend(std::iter::repeat_n('*', original[start..end].graphemes(true).count()));
        pos = end;
    }
    out.push_str(&original[pos..]);
    out
}

fn check_mask(original: &str, decision: &Decision<'_>) -> Result<(), TestCaseError> {
    let spans: Vec<(usize, usize)> = decision
        .hits
        .iter()
        .filter(|h| h.rule.mode == Mode::Enforce && h.rule.action == RuleAction::Mask)
        .flat_map(|h| h.spans.iter().map(|s| (s.start, s.end)))
        .collect();
    if spans.is_empty() {
        prop_assert_eq!(decision.masked_text.as_deref(), None, "masked text without an enforced mask hit");
        return Ok(());
    }
    prop_assert_eq!(decision.verdict, Verdict::Tag);
    let masked = decision.masked_text.as_deref().ok_or_else(|| TestCaseError::fail("mask hit, no masked_text"))?;
    // Outside the spans, character for character the original.
    let mut covered = vec![false; original.len()];
    for &(s, e) in &spans {
        covered[s..e].iter_mut().for_each(|c| *c = true);
    }
    let outside: String = original.char_indices().filter(|(i, _)| !covered[*i]).map(|(_, c)| c).collect();
    let kept: String = masked.chars().filter(|&c| c != '*').collect();
    let outside_no_stars: String = outside.chars().filter(|&c| c != '*').collect();
    prop_assert_eq!(kept, outside_no_stars, "text outside the mask spans changed");
    let expected = expected_masked(original, spans);
    prop_assert_eq!(masked, expected.as_str());
    Ok(())
}

// ---- properties ----

proptest! {
    #![proptest_config(config())]

    /// Any body: no panic, and an answer that is a JSON object when the body is accepted.
    #[test]
    fn any_body_parses_or_is_refused(body in body()) {
        if let Ok(request) = parse_request(&body) {
            let text = std::str::from_utf8(&body);
            prop_assert!(text.is_ok(), "accepted a body that is not UTF-8");
            prop_assert_eq!(text.unwrap_or_default().trim_start().as_bytes().first(), Some(&b'{'));
            check_answer(&BODY_RULES.evaluate(&request.message))?;
        }
    }

    /// A well-formed envelope, whatever its fields hold, is accepted and its text read.
    #[test]
    fn well_formed_envelopes_are_accepted(envelope in envelope()) {
        let body = serde_json::to_vec(&envelope).expect("serializable");
        let request = parse_request(&body);
        prop_assert!(request.is_ok(), "refused {}: {:?}", envelope, request.err());
        let request = request.expect("checked");
        prop_assert_eq!(request.message.text.as_deref().map(str::to_owned), expected_text(&envelope));
        check_answer(&BODY_RULES.evaluate(&request.message))?;
    }

    /// Every level on any text: no panic, keywords normalized like text, spans back into the
    /// original on char boundaries.
    #[test]
    fn every_level_takes_any_text(text in hostile_text()) {
        for level in Level::ALL {
            let n = normalize(level, &text);
            prop_assert_eq!(normalize_keyword(level, &text), n.text());
            let len = n.text().len();
            if len > 0 {
                let (s, e) = n.original_span(0, len);
                prop_assert!(s <= e && e <= text.len(), "{:?}: 0..{} -> {}..{}", level, len, s, e);
                prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
            }
        }
    }

    /// Spans point at the original text, whatever disguises it.
    #[test]
    fn spans_point_into_the_original(text in hostile_text()) {
        let decision = evaluate_text(&SPAN_RULES, &text);
        check_spans(&text, &decision)?;
        check_answer(&decision)?;
    }

    /// Masking changes the reported mask spans and nothing else.
    #[test]
    fn masking_changes_only_mask_spans(text in tricky_text()) {
        let decision = evaluate_text(&SPAN_RULES, &text);
        check_spans(&text, &decision)?;
        check_mask(&text, &decision)?;
    }
}

/// The span and mask properties mean something only if the generated texts hit: most of them
/// must, with masks, and some through the strict level.
#[test]
fn tricky_texts_hit_the_span_rules() {
    let mut runner = TestRunner::deterministic();
    let strategy = tricky_text();
    let (mut masked, mut strict, total) = (0, 0, 400);
    for _ in 0..total {
        let text = strategy.new_tree(&mut runner).expect("value").current();
        let decision = evaluate_text(&SPAN_RULES, &text);
        masked += usize::from(decision.masked_text.is_some());
        strict += usize::from(decision.hits.iter().any(|h| h.rule.level == Level::Strict));
    }
    assert!(masked * 2 > total, "only {masked} of {total} texts masked");
    assert!(strict * 4 > total, "only {strict} of {total} texts hit a strict rule");
}
