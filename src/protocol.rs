//! CometChat webhook bodies (docs/cometchat.md) → a `Request`: the trigger and a borrowed
//! [`MessageView`] of the message; and the answer bodies going back (docs/decision.md).
//!
//! First stage of the request flow. Only the fields rules can use are read, borrowed from the
//! body where JSON allows; where each attribute sits in a body is the schema's
//! ([`crate::message::ATTRIBUTES`]). Every field may be missing or of an unexpected type: such a
//! field reads as absent instead of failing the request, because refusing a message CometChat
//! sent would lose it. Of duplicate keys the last wins, as in JavaScript. A lone surrogate
//! escape (a cut emoji) reads as U+FFFD and a number out of range as absent. Only a body that is
//! not JSON at all, or not a JSON object, is refused.

// Crafted input must never panic on the request path (STYLE.md): no unwrap, expect, panic or
// unchecked indexing here outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use crate::message::{AttachmentView, Attribute, MessageView, Metadata};
use crate::message::{BodyObject, Key, skip_value};

/// Why a body is refused with `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No bytes, or only whitespace.
    #[error("empty body: expected a JSON object")]
    Empty,
    /// Bytes that are not UTF-8.
    #[error("body is not valid UTF-8")]
    NotUtf8,
    /// Not JSON, with serde_json's reason.
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    /// JSON of another kind than an object.
    #[error("body is JSON but not an object (found {0}): expected a CometChat webhook object")]
    NotObject(&'static str),
}

/// A webhook call: its trigger and the message it carries (empty when it carries none).
#[derive(Debug, Default, Clone)]
pub struct Request<'a> {
    /// The `trigger` of the envelope.
    pub trigger: Option<Cow<'a, str>>,
    /// The message it carries.
    pub message: MessageView<'a>,
}

impl Request<'_> {
    /// Only `before_message` is matched; every other trigger is acknowledged with `{}`.
    pub fn is_before_message(&self) -> bool {
        self.trigger.as_deref() == Some("before_message")
    }

    /// Converts every borrowed string into an owned one, so the request outlives its body.
    pub fn into_owned(self) -> Request<'static> {
        Request { trigger: self.trigger.map(|t| Cow::Owned(t.into_owned())), message: self.message.into_owned() }
    }
}

/// Parses a webhook body: the legacy envelope (message at `data`) or v2 (message at `data.message`).
pub fn parse_request(body: &[u8]) -> Result<Request<'_>, ParseError> {
    fn parse(text: &str) -> Result<Request<'_>, ParseError> {
        Ok(parse_object::<Envelope<'_>>(text)?.into_request())
    }
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    match parse(text) {
        Err(ParseError::NotJson(e)) => match repair(text) {
            Some(repaired) => parse(&repaired).map(Request::into_owned),
            None => Err(ParseError::NotJson(e)),
        },
        parsed => parsed,
    }
}

/// Parses a bare CometChat message object (as in `data` of the legacy envelope).
pub fn parse_message(text: &str) -> Result<MessageView<'_>, ParseError> {
    fn parse(text: &str) -> Result<MessageView<'_>, ParseError> {
        Ok(parse_object::<Message<'_>>(text)?.into_view())
    }
    match parse(text) {
        Err(ParseError::NotJson(e)) => match repair(text) {
            Some(repaired) => parse(&repaired).map(MessageView::into_owned),
            None => Err(ParseError::NotJson(e)),
        },
        parsed => parsed,
    }
}

/// Deserializes `text` as `T` when it is a JSON object, with the errors a caller can act on.
pub fn parse_object<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ParseError> {
    let first = text.bytes().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(ParseError::Empty),
        Some(b'{') => serde_json::from_str(text).map_err(|e| ParseError::NotJson(e.to_string())),
        Some(_) => match serde_json::from_str::<serde_json::Value>(text) {
            Err(e) => Err(ParseError::NotJson(e.to_string())),
            Ok(v) => Err(ParseError::NotObject(json_kind(&v))),
        },
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Valid JSON that serde_json refuses, made acceptable, or `None` when there is nothing to
/// repair: every lone surrogate escape (`\ud83d` not followed by a low surrogate, or a low one
/// alone) becomes `\ufffd`, and every number outside strings that overflows an `f64` becomes
/// `null`, which reads as absent. Both keep every string's decoded length up to the repaired
/// escape, so spans into the text stay where the sender meant them. Only called after a parse
/// failed, so it costs nothing on ordinary bodies.
pub fn repair(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut repaired = false;
    let mut in_string = false;
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u16> { u16::from_str_radix(text.get(at..at + 4)?, 16).ok() };
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                    let Some(unit) = hex4(i + 2) else {
                        i += 2;
                        continue;
                    };
                    let pair = (0xD800..0xDC00).contains(&unit)
                        && bytes.get(i + 6) == Some(&b'\\')
                        && bytes.get(i + 7) == Some(&b'u')
                        && hex4(i + 8).is_some_and(|low| (0xDC00..0xE000).contains(&low));
                    if pair {
                        i += 12;
                    } else if (0xD800..0xE000).contains(&unit) {
                        out.push_str(text.get(copied..i)?);
                        out.push_str("\\ufffd");
                        copied = i + 6;
                        repaired = true;
                        i += 6;
                    } else {
                        i += 6;
                    }
                }
                b'\\' => i += 2,
                _ => i += 1,
            }
        } else if b == b'"' {
            in_string = true;
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let end = bytes
                .get(i..)?
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .map_or(bytes.len(), |n| i + n);
            let number = text.get(i..end)?;
            if number.parse::<f64>().is_ok_and(f64::is_infinite) {
                out.push_str(text.get(copied..i)?);
                out.push_str("null");
                copied = end;
                repaired = true;
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    if !repaired {
        return None;
    }
    out.push_str(text.get(copied..)?);
    Some(out)
}

// ---- the answer bodies (docs/decision.md) ----

/// `{}`: nothing to inject.
pub const ALLOW_BODY: &[u8] = b"{}";
/// Drops the message.
pub const DROP_BODY: &[u8] = br#"{"action":"do_not_propagate"}"#;

/// The JSON body of an answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<'a> {
    /// `{"action":"do_not_propagate"}`.
    Drop {
        /// Always `do_not_propagate`.
        action: &'static str,
    },
    /// Tags, score, rules, matches.
    Tag(TagAnswer<'a>),
    /// An answer given before, as it was sent (a resend's).
    Raw(&'a RawValue),
    /// `{}`.
    Allow {},
}

/// The answer with tags: what CometChat merges into the message's metadata.
#[derive(Debug, Serialize)]
pub struct TagAnswer<'a> {
    /// The enforced hits' total score.
    pub score: i64,
    /// Sorted and unique.
    pub tags: Vec<&'a str>,
    /// Sorted and unique.
    pub rules: Vec<&'a str>,
    /// Every span of every enforced rule that hit, by rule id.
    pub matches: Vec<AnswerMatch<'a>>,
    /// `matches` was cut at `--max-matches` entries (present only when it was).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The text with masked spans starred, when a `mask` rule hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_text: Option<&'a str>,
    /// The hash of the rule set that decided.
    pub ruleset: &'a str,
}

/// One entry of `matches`.
#[derive(Debug, Serialize)]
pub struct AnswerMatch<'a> {
    /// The rule that hit.
    pub rule: &'a str,
    /// The field the span is in.
    pub field: &'static str,
    /// The position in the field's list; absent for `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Byte offset where the span starts in the original string.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// The original words.
    pub text: &'a str,
}

// ---- wire types: only what rules read, every field lenient, the last duplicate key winning ----

/// A wire object read key by key. Derived `Deserialize` refuses a duplicate key; CometChat's
/// senders are JavaScript, where the last one wins, so these read every key as it comes.
trait WireObject<'de>: Default {
    /// Reads the value of `key` (or skips it).
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

#[derive(Default)]
struct Envelope<'a> {
    trigger: Option<Cow<'a, str>>,
    /// The attributes the envelope itself carries (`appId`, `webhook`).
    own: Vec<(Attribute, Option<Cow<'a, str>>)>,
    message: MessageView<'a>,
}

impl<'a> Envelope<'a> {
    fn into_request(self) -> Request<'a> {
        let mut message = self.message;
        for (attribute, value) in self.own {
            message.set(attribute, value);
        }
        Request { trigger: self.trigger, message }
    }
}

impl<'de> WireObject<'de> for Envelope<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "trigger" => self.trigger = map.next_value::<LenientStr<'de>>()?.0,
            "data" => self.message = map.next_value::<Lenient<Message<'de>>>()?.0.unwrap_or_default().into_view(),
            _ => match Attribute::in_body(BodyObject::Envelope, key) {
                Some(attribute) => {
                    let value = map.next_value::<LenientStr<'de>>()?.0;
                    self.own.retain(|(a, _)| *a != attribute);
                    self.own.push((attribute, value));
                }
                None => skip_value(map)?,
            },
        }
        Ok(())
    }
}

#[derive(Default)]
struct Message<'a> {
    /// v2 envelopes nest the message at `data.message`; legacy ones put it at `data` itself.
    nested: Option<Box<Message<'a>>>,
    view: MessageView<'a>,
}

impl<'a> Message<'a> {
    fn into_view(self) -> MessageView<'a> {
        match self.nested {
            Some(inner) => inner.into_view(),
            None => self.view,
        }
    }
}

impl<'de> WireObject<'de> for Message<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "message" => self.nested = map.next_value::<Lenient<Message<'de>>>()?.0.map(Box::new),
            "data" => {
                let data = map.next_value::<Lenient<MessageData<'de>>>()?.0.unwrap_or_default();
                self.view.text = data.text;
                self.view.attachments = data.attachments;
                self.view.metadata = data.metadata;
                self.view.mentioned = data.mentioned;
                for (attribute, value) in data.sender_entity {
                    self.view.set(attribute, value);
                }
            }
            _ => match Attribute::in_body(BodyObject::Message, key) {
                Some(attribute) => self.view.set(attribute, map.next_value::<LenientStr<'de>>()?.0),
                None => skip_value(map)?,
            },
        }
        Ok(())
    }
}

#[derive(Default)]
struct MessageData<'a> {
    text: Option<Cow<'a, str>>,
    attachments: Vec<AttachmentView<'a>>,
    metadata: Metadata<'a>,
    /// Attributes read from `entities.sender.entity`.
    sender_entity: Vec<(Attribute, Option<Cow<'a, str>>)>,
    /// The uids of `mentions`.
    mentioned: Vec<Cow<'a, str>>,
}

impl<'de> WireObject<'de> for MessageData<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "text" => self.text = map.next_value::<LenientStr<'de>>()?.0,
            "attachments" => {
                let attachments = map.next_value::<LenientSeq<Lenient<Attachment<'de>>>>()?.0;
                self.attachments = attachments.into_iter().filter_map(|a| a.0).map(|a| a.0).collect();
            }
            "metadata" => {
                self.metadata = map.next_value::<Option<&'de RawValue>>()?.map_or(Metadata::Absent, Metadata::Raw)
            }
            "entities" => {
                let entities = map.next_value::<Lenient<Entities<'de>>>()?.0.unwrap_or_default();
                self.sender_entity = entities.sender.0;
            }
            "mentions" => self.mentioned = map.next_value::<Mentions<'de>>()?.0,
            _ => skip_value(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Attachment<'a>(AttachmentView<'a>);

impl<'de> WireObject<'de> for Attachment<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.0.name = map.next_value::<LenientStr<'de>>()?.0,
            "url" => self.0.url = map.next_value::<LenientStr<'de>>()?.0,
            _ => skip_value(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Entities<'a> {
    sender: SenderEntity<'a>,
}

impl<'de> WireObject<'de> for Entities<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "sender" => {
                let wrap = map.next_value::<Lenient<EntityWrap<'de>>>()?.0.unwrap_or_default();
                self.sender = wrap.entity;
            }
            _ => skip_value(map)?,
        }
        Ok(())
    }
}

/// `{"entity": {...}, "entityType": "user"}`.
#[derive(Default)]
struct EntityWrap<'a> {
    entity: SenderEntity<'a>,
}

impl<'de> WireObject<'de> for EntityWrap<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "entity" => self.entity = map.next_value::<Lenient<SenderEntity<'de>>>()?.0.unwrap_or_default(),
            _ => skip_value(map)?,
        }
        Ok(())
    }
}

/// The sender's entity: the attributes the schema reads from it.
#[derive(Default)]
struct SenderEntity<'a>(Vec<(Attribute, Option<Cow<'a, str>>)>);

impl<'de> WireObject<'de> for SenderEntity<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match Attribute::in_body(BodyObject::SenderEntity, key) {
            Some(attribute) => {
                let value = map.next_value::<LenientStr<'de>>()?.0;
                self.0.retain(|(a, _)| *a != attribute);
                self.0.push((attribute, value));
            }
            None => skip_value(map)?,
        }
        Ok(())
    }
}

/// `data.mentions`: CometChat sends an object keyed by uid; a list of uids, or of objects with a
/// `uid`, reads too. Anything else reads as no mentions.
#[derive(Default)]
struct Mentions<'a>(Vec<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Mentions<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for V<'de> {
            type Value = Mentions<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut uids = Vec::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    skip_value(&mut map)?;
                    uids.push(key);
                }
                Ok(Mentions(uids))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut uids = Vec::new();
                while let Some(item) = seq.next_element::<MentionItem<'de>>()? {
                    uids.extend(item.0);
                }
                Ok(Mentions(uids))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Mentions::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One entry of a `mentions` list: a uid, or an object with a `uid`.
#[derive(Default)]
struct MentionItem<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for MentionItem<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A bare string is a uid; an object is read for its `uid`.
        let value = serde_json::Value::deserialize(d)?;
        Ok(match value {
            serde_json::Value::String(s) => MentionItem(Some(Cow::Owned(s))),
            serde_json::Value::Object(o) => {
                MentionItem(o.get("uid").and_then(|u| u.as_str()).map(|s| Cow::Owned(s.to_owned())))
            }
            _ => MentionItem(None),
        })
    }
}

/// The top level of a body is read as an object (`parse_object` has checked it is one).
impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Lenient::<Envelope<'de>>::deserialize(d).map(|l| l.0.unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Message<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Lenient::<Message<'de>>::deserialize(d).map(|l| l.0.unwrap_or_default())
    }
}

/// A string field that reads as absent when it holds something else; numbers become strings
/// (ids are sometimes sent as numbers). Also used for the flat lines of `inflight replay`.
#[derive(Default)]
pub struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LenientStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object that reads as absent when it holds something other than an object.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: WireObject<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: WireObject<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut object = T::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    object.read(&key, &mut map)?;
                }
                Ok(Lenient(Some(object)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A list field that reads as empty when it holds something other than a list.
pub struct LenientSeq<T>(pub Vec<T>);

impl<T> Default for LenientSeq<T> {
    fn default() -> Self {
        LenientSeq(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LenientSeq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LenientSeq<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(LenientSeq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientSeq(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(body: &str) -> Option<String> {
        parse_request(body.as_bytes()).unwrap().message.text.map(Cow::into_owned)
    }

    #[test]
    fn valid_json_that_serde_refuses_is_still_decided() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "lone leading surrogate at the end (a cut emoji)",
                r#"{"trigger":"before_message","data":{"data":{"text":"free money \ud83d"}}}"#,
                Some("free money \u{FFFD}"),
            ),
            ("lone trailing surrogate", r#"{"data":{"data":{"text":"a\udc00b"}}}"#, Some("a\u{FFFD}b")),
            ("a real pair stays", r#"{"data":{"data":{"text":"\ud83d\ude00 hi"}}}"#, Some("😀 hi")),
            ("an escaped backslash is no escape", r#"{"data":{"data":{"text":"\\ud83d"}}}"#, Some("\\ud83d")),
            ("duplicate key: the last wins", r#"{"data":{"data":{"text":"first","text":"second"}}}"#, Some("second")),
            (
                "duplicate data objects: the last wins",
                r#"{"data":{"data":{"text":"x"}},"data":{"data":{"text":"y"}}}"#,
                Some("y"),
            ),
            ("number out of range reads as absent", r#"{"data":{"sentAt":1e400,"data":{"text":"ok"}}}"#, Some("ok")),
            ("out-of-range text reads as absent", r#"{"data":{"data":{"text":-1e999}}}"#, None),
        ];
        for (name, body, want) in cases {
            assert_eq!(text_of(body).as_deref(), *want, "{name}");
        }
    }

    #[test]
    fn spans_after_a_repaired_surrogate_point_at_the_right_bytes() {
        let body = r#"{"trigger":"before_message","data":{"data":{"text":"\ud83d send 1 eth"}}}"#;
        let text = text_of(body).unwrap();
        assert_eq!(text.find("eth"), Some("\u{FFFD} send 1 ".len()));
    }

    #[test]
    fn duplicate_attributes_take_the_last_value() {
        let body = br#"{"appId":"a1","data":{"sender":"u1","sender":"u2","receiverType":"user","receiverType":"group"},"appId":"a2"}"#;
        let view = parse_request(body).unwrap().message;
        assert_eq!(view.get(Attribute::Sender), Some("u2"));
        assert_eq!(view.get(Attribute::ReceiverType), Some("group"));
        assert_eq!(view.get(Attribute::AppId), Some("a2"));
    }

    #[test]
    fn what_is_not_json_is_still_refused() {
        for body in ["{\"text\": \"unterminated", "{\"a\": 1e400", "nope", "{\"a\": \"\\ud83d\"", "[1e400]"] {
            assert!(parse_request(body.as_bytes()).is_err(), "{body}");
        }
    }
}
