//! JSON-lines input of `inflight replay` and `inflight bench`: a file (or stdin) read line by
//! line, each line turned into a `MessageView` to evaluate, a line that is not evaluated, or an
//! error that names what is wrong. The commands count and report; nothing here stops a run.
//!
//! A line is one JSON object. Its shape is decided by the keys present, first match wins:
//! 1. `trigger`: a webhook body (legacy or v2 envelope, [`parse_request`]). Only
//!    `before_message` is evaluated; any other trigger is [`Entry::NotEvaluated`], as the service
//!    acknowledges it with `{}` without matching.
//! 2. `answer` or `eval_ns`: a decision-log line written by `inflight serve --decision-log`
//!    ([`LogLine`]). It must carry `text` (logged only with `--log-text`), else the line is an
//!    error. Its message keys are those of the flat form below.
//! 3. `text`: a flat message ([`FlatLine`]): the keys of a `[[case]]` message, that is every
//!    attribute of the message schema by its name (`crate::message::ATTRIBUTES`), `text`,
//!    `attachments` (a list of names) and `metadata` (an object).
//! 4. Anything else: a CometChat message object, as at `data` of the legacy envelope
//!    ([`parse_message`]).
//!
//! Blank lines are skipped. A line that is not UTF-8, not JSON or not an object is an error.
//! Flat fields are read as leniently as the webhook's: a value of an unexpected type reads as
//! absent.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use crate::decision_log::LogLine;
use crate::message::{FlatLine, MessageView};
use crate::protocol::{ParseError, parse_message, parse_object, parse_request};

/// What one line holds.
// Boxing the message would cost an allocation per line for a value that is moved once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Entry<'a> {
    /// A message to evaluate.
    Message(MessageView<'a>),
    /// A webhook body whose trigger is not `before_message` (the trigger, or `None` without one).
    NotEvaluated(Option<Cow<'a, str>>),
}

/// A line that could not be read, with its number (counting from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub error: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// A JSON-lines source read one line at a time into one reused buffer.
pub struct Input {
    reader: Box<dyn BufRead>,
    buf: Vec<u8>,
    number: usize,
}

impl Input {
    /// Opens `path`, or stdin for `-`.
    pub fn open(path: &Path) -> anyhow::Result<Input> {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        Ok(Input { reader, buf: Vec::with_capacity(4096), number: 0 })
    }

    /// The next non-blank line with its number, or `None` at the end. A line that is not UTF-8
    /// comes back as its error; a read failure ends the run.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Result<&str, String>)>> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.number += 1;
            if !self.buf.trim_ascii().is_empty() {
                break;
            }
        }
        let text = std::str::from_utf8(self.buf.trim_ascii()).map_err(|e| format!("not valid UTF-8: {e}"));
        Ok(Some((self.number, text)))
    }
}

/// Reads one line (see the module doc for the shapes and their precedence).
pub fn parse_line(line: &str) -> Result<Entry<'_>, String> {
    parse_line_logged(line).map(|(entry, _)| entry)
}

/// What a decision-log line says of how the service decided, for replay to decide alike.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    /// The line's `ts`, in ms since the epoch.
    pub ts_ms: Option<u64>,
    /// The service decided it without state (`"state": "degraded"`).
    pub degraded: bool,
}

/// [`parse_line`], with what a decision-log line says of the decision.
pub fn parse_line_logged(line: &str) -> Result<(Entry<'_>, Logged), String> {
    let probe: Probe = parse_object(line).map_err(describe)?;
    if probe.trigger.0 {
        let request = parse_request(line.as_bytes()).map_err(describe)?;
        let entry = if request.is_before_message() {
            Entry::Message(request.message)
        } else {
            Entry::NotEvaluated(request.trigger)
        };
        return Ok((entry, Logged::default()));
    }
    if probe.answer.0 || probe.eval_ns.0 {
        if !probe.text.0 {
            return Err("decision-log line without \"text\" (the service logs text only with --log-text)".to_owned());
        }
        let logged: LogLine<'_, MessageView<'_>> = parse_object(line).map_err(describe)?;
        let meta = Logged {
            ts_ms: crate::time::parse_rfc3339_ms(&logged.ts),
            degraded: logged.state.as_deref() == Some("degraded"),
        };
        return Ok((Entry::Message(logged.message), meta));
    }
    if probe.text.0 {
        let flat: FlatLine<'_> = parse_object(line).map_err(describe)?;
        return Ok((Entry::Message(flat.0), Logged::default()));
    }
    parse_message(line).map(|m| (Entry::Message(m), Logged::default())).map_err(describe)
}

/// The error of a line, worded for a line rather than a request body.
fn describe(e: ParseError) -> String {
    match e {
        ParseError::Empty => "empty line".to_owned(),
        ParseError::NotUtf8 => "not valid UTF-8".to_owned(),
        // The line is the whole document, so serde's "line 1" would only confuse.
        ParseError::NotJson(e) => format!("not valid JSON: {}", e.replace(" at line 1 column ", " at column ")),
        ParseError::NotObject(kind) => format!("JSON but not an object (found {kind})"),
    }
}

/// The keys that decide a line's shape.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Probe {
    trigger: Present,
    answer: Present,
    eval_ns: Present,
    /// A decision-log line written with `--log-text` carries `"text": null` for a message
    /// without text, so what counts is that the key is there.
    text: Present,
}

/// Whether a key is present, whatever its value.
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Attribute;

    fn message(line: &str) -> MessageView<'_> {
        match parse_line(line) {
            Ok(Entry::Message(m)) => m,
            other => panic!("{line}: expected a message, got {other:?}"),
        }
    }

    #[test]
    fn shapes_by_keys() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            // (name, line, text, receiver_type)
            (
                "legacy webhook",
                r#"{"trigger":"before_message","data":{"receiverType":"group","data":{"text":"hi"}}}"#,
                Some("hi"),
                Some("group"),
            ),
            (
                "v2 webhook",
                r#"{"trigger":"before_message","data":{"message":{"receiverType":"user","data":{"text":"yo"}}}}"#,
                Some("yo"),
                Some("user"),
            ),
            ("message object", r#"{"receiverType":"group","data":{"text":"hey"}}"#, Some("hey"), Some("group")),
            ("flat text", r#"{"text":"plain"}"#, Some("plain"), None),
            ("flat with keys", r#"{"text":"plain","receiver_type":"group","x":[1]}"#, Some("plain"), Some("group")),
            (
                "decision log",
                r#"{"ts":"2025-01-01T00:00:00Z","webhook":"w","sender":"u1","receiver":"g","receiver_type":"group","ruleset":"ab","answer":{},"hits":[],"eval_ns":12,"text":"logged"}"#,
                Some("logged"),
                Some("group"),
            ),
            ("empty object", "{}", None, None),
            ("escaped text", r#"{"text":"a\nb"}"#, Some("a\nb"), None),
            ("text of another type", r#"{"text":5}"#, Some("5"), None),
        ];
        for (name, line, text, receiver_type) in cases {
            let m = message(line);
            assert_eq!(m.text.as_deref(), *text, "{name}");
            assert_eq!(m.get(Attribute::ReceiverType), *receiver_type, "{name}");
        }
    }

    #[test]
    fn decision_log_fields_become_the_message() {
        let m = message(
            r#"{"ts":"t","webhook":"hook","app_id":"app","sender":"u1","receiver":"g1","receiver_type":"group","answer":{"action":"do_not_propagate"},"text":"x"}"#,
        );
        assert_eq!(m.get(Attribute::Webhook), Some("hook"));
        assert_eq!(m.get(Attribute::AppId), Some("app"));
        assert_eq!(m.get(Attribute::Sender), Some("u1"));
        assert_eq!(m.get(Attribute::Receiver), Some("g1"));
    }

    #[test]
    fn other_triggers_are_not_evaluated() {
        let cases = [
            (r#"{"trigger":"after_message","data":{"data":{"text":"hi"}}}"#, Some("after_message")),
            (r#"{"trigger":null,"data":{}}"#, None),
        ];
        for (line, trigger) in cases {
            match parse_line(line) {
                Ok(Entry::NotEvaluated(t)) => assert_eq!(t.as_deref(), trigger, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_lines_say_why() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1,2]", "not an object (found an array)"),
            ("\"text\"", "not an object (found a string)"),
            (r#"{"text":"unterminated}"#, "not valid JSON"),
            (r#"{"ts":"t","answer":{},"hits":[]}"#, "without \"text\""),
        ];
        for (line, want) in cases {
            match parse_line(line) {
                Err(e) => assert!(e.contains(want), "{line}: {e}"),
                Ok(entry) => panic!("{line}: accepted as {entry:?}"),
            }
        }
    }
}

/// The message schema end to end: every attribute, read from where a webhook body carries it,
/// written to a decision-log line, read back by replay, and read from a `[[case]]` message,
/// comes out the same. A reader or writer that skips the schema for one attribute fails here.
#[cfg(test)]
mod schema_round_trip {
    use std::time::{Duration, SystemTime};

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::decision_log::DecisionRecord;
    use crate::message::{ATTRIBUTES, Attribute, BodyObject, FlatMessage};
    use crate::rules::load_dir;

    /// A distinct value per attribute (`parent` must look like a message id to count).
    fn value_of(attribute: Attribute) -> String {
        format!("v-{}", attribute.name())
    }

    /// A legacy `before_message` body carrying every attribute where the schema says.
    fn body_with_every_attribute() -> Value {
        let mut envelope = Map::new();
        let mut message = Map::new();
        let mut entity = Map::new();
        for d in &ATTRIBUTES {
            let target = match d.body.object {
                BodyObject::Envelope => &mut envelope,
                BodyObject::Message => &mut message,
                BodyObject::SenderEntity => &mut entity,
            };
            target.insert(d.body.key.to_owned(), Value::String(value_of(d.attribute)));
        }
        message.insert(
            "data".to_owned(),
            json!({
                "text": "free money",
                "attachments": [{"name": "a.png", "url": "https://x.test/a.png"}, {"name": "b.pdf"}],
                "entities": {"sender": {"entity": entity}},
            }),
        );
        envelope.insert("trigger".to_owned(), json!("before_message"));
        envelope.insert("data".to_owned(), Value::Object(message));
        Value::Object(envelope)
    }

    fn attributes(view: &MessageView<'_>) -> Vec<(Attribute, Option<String>)> {
        view.attributes().map(|(a, v)| (a, v.map(str::to_owned))).collect()
    }

    #[test]
    fn every_attribute_survives_body_view_log_line_replay_and_case() {
        let body = serde_json::to_vec(&body_with_every_attribute()).unwrap();
        let request = crate::protocol::parse_request(&body).unwrap();
        let from_body = request.message;
        for d in &ATTRIBUTES {
            assert_eq!(from_body.get(d.attribute), Some(value_of(d.attribute).as_str()), "body: {}", d.name);
        }

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.toml"), "[[rule]]\nid = \"r.money\"\nkeywords = [\"money\"]\n").unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        let decision = loaded.ruleset.evaluate(&from_body);
        let answer = decision.answer_json();
        let record = DecisionRecord {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_791_272_621),
            message: &from_body,
            decision: &decision,
            answer: &answer,
            eval: Duration::from_nanos(1234),
            state: None,
        };
        let line = String::from_utf8(record.to_line(true)).unwrap();
        let Ok(Entry::Message(replayed)) = parse_line(&line) else { panic!("not a message: {line}") };
        assert_eq!(attributes(&replayed), attributes(&from_body), "log line → replay: {line}");
        assert_eq!(replayed.text, from_body.text);
        let names = |v: &MessageView<'_>| v.attachment_names().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(names(&replayed), names(&from_body));
        assert_eq!(loaded.ruleset.evaluate(&replayed).answer_json(), answer, "replay decides as the service did");

        // A `[[case]]` message names every attribute the same way.
        let mut case = toml::Table::new();
        for d in &ATTRIBUTES {
            case.insert(d.name.to_owned(), toml::Value::String(value_of(d.attribute)));
        }
        let case: FlatMessage = toml::Value::Table(case).try_into().unwrap();
        assert_eq!(attributes(&case.0), attributes(&from_body), "case message");
    }

    #[test]
    fn a_message_without_text_logged_with_text_on_replays() {
        let body = br#"{"trigger":"before_message","data":{"sender":"u1","type":"image","data":{"attachments":[{"name":"cat.png"}]}}}"#;
        let message = crate::protocol::parse_request(body).unwrap().message;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r.toml"),
            "[[rule]]\nid = \"r.png\"\nkeywords = [\"png\"]\nfields = [\"attachment_names\"]\n",
        )
        .unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        let decision = loaded.ruleset.evaluate(&message);
        let answer = decision.answer_json();
        let record = DecisionRecord {
            at: SystemTime::now(),
            message: &message,
            decision: &decision,
            answer: &answer,
            eval: Duration::ZERO,
            state: None,
        };
        let line = String::from_utf8(record.to_line(true)).unwrap();
        let Ok(Entry::Message(replayed)) = parse_line(&line) else { panic!("not replayable: {line}") };
        assert_eq!(replayed.text, None);
        assert_eq!(loaded.ruleset.evaluate(&replayed).answer_json(), answer, "{line}");
    }

    #[test]
    fn parent_zero_is_no_reply_in_a_body_a_line_and_a_case() {
        let body = br#"{"trigger":"before_message","data":{"parentId":"0","data":{"text":"hi"}}}"#;
        let from_body = crate::protocol::parse_request(body).unwrap().message;
        let Ok(Entry::Message(from_line)) = parse_line(r#"{"text":"hi","parent":"0"}"#) else { panic!() };
        let from_case: FlatMessage = toml::from_str("text = \"hi\"\nparent = \"0\"\n").unwrap();
        for (name, view) in [("body", &from_body), ("line", &from_line), ("case", &from_case.0)] {
            assert_eq!(view.get(Attribute::Parent), None, "{name}: parentId \"0\" is not a reply");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r.toml"),
            "[[rule]]\nid = \"r.reply\"\nkeywords = [\"hi\"]\nwhen = { parent = true }\n\n\
             [[case]]\nname = \"a parentId of 0 is not a reply\"\nmessage = { text = \"hi\", parent = \"0\" }\n\
             expect = { action = \"allow\" }\n",
        )
        .unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        for view in [&from_body, &from_line, &from_case.0] {
            assert_eq!(loaded.ruleset.evaluate(view).answer_json(), b"{}");
        }
        assert!(crate::rules::selftest::run(&loaded.ruleset).passed());
    }
}
