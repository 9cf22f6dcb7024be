//! JSON-lines input of `inflight replay` and `inflight bench`: a file (or stdin) read line by
//! line, each line turned into a `MessageView` to evaluate, a line that is not evaluated, or an
//! error that names what is wrong. The commands count and report; nothing here stops a run.
//!
//! A line is one JSON object. Its shape is decided by the keys present, first match wins:
//! 1. `trigger`: a webhook body (legacy or v2 envelope, [`parse_request`]). Only
//!    `before_message` is evaluated; any other trigger is [`Entry::NotEvaluated`], as the service
//!    acknowledges it with `{}` without matching.
//! 2. `answer` or `eval_ns`: a decision-log line written by `inflight serve --decision-log`. It
//!    must carry `text` (logged only with `--log-text`), else the line is an error. Its flat
//!    keys (those of 3. below: `sender`, `sender_role`, `receiver`, `receiver_type`, `category`,
//!    `type`, `app_id`, `webhook`, `conversation`, `parent`, `attachments`) become the message's.
//! 3. `text`: a flat message in rule-file terms, the keys of a `[[case]]` message: `text`,
//!    `sender`, `sender_role`, `receiver`, `receiver_type`, `category`, `type`, `app_id`,
//!    `webhook`, `conversation`, `parent`, `attachments` (a list of names), `metadata` (an object).
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
use serde_json::value::RawValue;

use crate::protocol::LenientStr as Str;
use crate::protocol::{
    AttachmentView, LenientSeq, MessageView, Metadata, ParseError, parse_message, parse_object, parse_request,
};

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
    let probe: Probe<'_> = parse_object(line).map_err(describe)?;
    if probe.trigger.0 {
        let request = parse_request(line.as_bytes()).map_err(describe)?;
        return Ok(if request.is_before_message() {
            Entry::Message(request.message)
        } else {
            Entry::NotEvaluated(request.trigger)
        });
    }
    let decision_log = probe.answer.0 || probe.eval_ns.0;
    if decision_log && probe.text.0.is_none() {
        return Err("decision-log line without \"text\" (the service logs text only with --log-text)".to_owned());
    }
    if decision_log || probe.text.0.is_some() {
        return Ok(Entry::Message(probe.into_view()));
    }
    parse_message(line).map(Entry::Message).map_err(describe)
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

/// Every key that decides a line's shape, and the flat message's fields, in one pass.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Probe<'a> {
    trigger: Present,
    answer: Present,
    eval_ns: Present,
    #[serde(borrow)]
    text: Str<'a>,
    #[serde(borrow)]
    sender: Str<'a>,
    #[serde(borrow)]
    sender_role: Str<'a>,
    #[serde(borrow)]
    receiver: Str<'a>,
    #[serde(borrow)]
    receiver_type: Str<'a>,
    #[serde(borrow)]
    category: Str<'a>,
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    app_id: Str<'a>,
    #[serde(borrow)]
    webhook: Str<'a>,
    #[serde(borrow)]
    conversation: Str<'a>,
    #[serde(borrow)]
    parent: Str<'a>,
    #[serde(borrow)]
    attachments: LenientSeq<Str<'a>>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
}

impl<'a> Probe<'a> {
    fn into_view(self) -> MessageView<'a> {
        MessageView {
            app_id: self.app_id.0,
            webhook: self.webhook.0,
            conversation: self.conversation.0,
            sender: self.sender.0,
            sender_role: self.sender_role.0,
            receiver: self.receiver.0,
            receiver_type: self.receiver_type.0,
            category: self.category.0,
            kind: self.kind.0,
            parent: self.parent.0.filter(|p| !p.is_empty()),
            text: self.text.0,
            attachments: self
                .attachments
                .0
                .into_iter()
                .filter_map(|name| name.0)
                .map(|name| AttachmentView { name: Some(name), url: None })
                .collect(),
            // Only an object is metadata; the rule field reads its string values.
            metadata: self.metadata.filter(|m| m.get().starts_with('{')).map_or(Metadata::Absent, Metadata::Raw),
        }
    }
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
            assert_eq!(m.receiver_type.as_deref(), *receiver_type, "{name}");
        }
    }

    #[test]
    fn decision_log_fields_become_the_message() {
        let m = message(
            r#"{"ts":"t","webhook":"hook","app_id":"app","sender":"u1","receiver":"g1","receiver_type":"group","answer":{"action":"do_not_propagate"},"text":"x"}"#,
        );
        assert_eq!(m.webhook.as_deref(), Some("hook"));
        assert_eq!(m.app_id.as_deref(), Some("app"));
        assert_eq!(m.sender.as_deref(), Some("u1"));
        assert_eq!(m.receiver.as_deref(), Some("g1"));
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
