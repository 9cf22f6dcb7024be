//! CometChat webhook bodies (INTERFACE.md §1, PROTOCOL.md) → a `Request`: the trigger and a
//! borrowed `MessageView` of the message.
//!
//! First stage of the request flow. Only the fields rules can use are deserialized, borrowed from
//! the body where JSON allows. Every field may be missing or of an unexpected type: such a field
//! reads as absent instead of failing the request, because refusing a message CometChat sent would
//! lose it. Only a body that is not a JSON object at all is refused.

// Crafted input must never panic on the request path (STYLE.md): no unwrap, expect, panic or
// unchecked indexing here outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why a body is refused with `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty body: expected a JSON object")]
    Empty,
    #[error("body is not valid UTF-8")]
    NotUtf8,
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not an object (found {0}): expected a CometChat webhook object")]
    NotObject(&'static str),
}

/// A webhook call: its trigger and the message it carries (empty when it carries none).
#[derive(Debug, Default, Clone)]
pub struct Request<'a> {
    pub trigger: Option<Cow<'a, str>>,
    pub message: MessageView<'a>,
}

impl Request<'_> {
    /// Only `before_message` is matched; every other trigger is acknowledged with `{}`.
    pub fn is_before_message(&self) -> bool {
        self.trigger.as_deref() == Some("before_message")
    }
}

/// What rules can see of a message. Every field may be absent.
#[derive(Debug, Default, Clone)]
pub struct MessageView<'a> {
    pub app_id: Option<Cow<'a, str>>,
    pub webhook: Option<Cow<'a, str>>,
    pub conversation: Option<Cow<'a, str>>,
    pub sender: Option<Cow<'a, str>>,
    pub sender_role: Option<Cow<'a, str>>,
    pub receiver: Option<Cow<'a, str>>,
    pub receiver_type: Option<Cow<'a, str>>,
    pub category: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
    /// The thread parent's id, for a thread reply.
    pub parent: Option<Cow<'a, str>>,
    pub text: Option<Cow<'a, str>>,
    pub attachments: Vec<AttachmentView<'a>>,
    pub metadata: Metadata<'a>,
}

#[derive(Debug, Default, Clone)]
pub struct AttachmentView<'a> {
    pub name: Option<Cow<'a, str>>,
    pub url: Option<Cow<'a, str>>,
}

/// `data.metadata`, kept unparsed until a rule reads the `metadata` field.
#[derive(Debug, Default, Clone)]
pub enum Metadata<'a> {
    #[default]
    Absent,
    Raw(&'a RawValue),
    Value(serde_json::Value),
}

impl Metadata<'_> {
    /// Every string value, depth first in document order, skipping anything under `@injected`
    /// (what webhooks already added is not the sender's content).
    pub fn strings(&self) -> Vec<String> {
        let parsed;
        let value = match self {
            Metadata::Absent => return Vec::new(),
            Metadata::Raw(raw) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
                Ok(v) => {
                    parsed = v;
                    &parsed
                }
                Err(_) => return Vec::new(),
            },
            Metadata::Value(v) => v,
        };
        let mut out = Vec::new();
        collect_strings(value, &mut out);
        out
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => {
            map.iter().filter(|(k, _)| k.as_str() != "@injected").for_each(|(_, v)| collect_strings(v, out))
        }
        _ => {}
    }
}

impl MessageView<'_> {
    pub fn has_attachments(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// Converts every borrowed string into an owned one, so the view outlives its body.
    pub fn into_owned(self) -> MessageView<'static> {
        fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(|s| Cow::Owned(s.into_owned()))
        }
        MessageView {
            app_id: own(self.app_id),
            webhook: own(self.webhook),
            conversation: own(self.conversation),
            sender: own(self.sender),
            sender_role: own(self.sender_role),
            receiver: own(self.receiver),
            receiver_type: own(self.receiver_type),
            category: own(self.category),
            kind: own(self.kind),
            parent: own(self.parent),
            text: own(self.text),
            attachments: self
                .attachments
                .into_iter()
                .map(|a| AttachmentView { name: own(a.name), url: own(a.url) })
                .collect(),
            metadata: match self.metadata {
                Metadata::Absent => Metadata::Absent,
                Metadata::Raw(raw) => serde_json::from_str(raw.get()).map_or(Metadata::Absent, Metadata::Value),
                Metadata::Value(v) => Metadata::Value(v),
            },
        }
    }
}

/// Parses a webhook body: the legacy envelope (message at `data`) or v2 (message at `data.message`).
pub fn parse_request(body: &[u8]) -> Result<Request<'_>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let envelope: Envelope<'_> = parse_object(text)?;
    let mut message = envelope.data.0.map(Message::into_view).unwrap_or_default();
    message.app_id = envelope.app_id.0;
    message.webhook = envelope.webhook.0;
    Ok(Request { trigger: envelope.trigger.0, message })
}

/// Parses a bare CometChat message object (as in `data` of the legacy envelope).
pub fn parse_message(text: &str) -> Result<MessageView<'_>, ParseError> {
    let message: Message<'_> = parse_object(text)?;
    Ok(message.into_view())
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

// ---- wire types: only what rules read, every field lenient ----

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    trigger: LenientStr<'a>,
    #[serde(default, borrow, rename = "appId")]
    app_id: LenientStr<'a>,
    #[serde(default, borrow)]
    webhook: LenientStr<'a>,
    #[serde(default, borrow)]
    data: Lenient<Message<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Message<'a> {
    /// v2 envelopes nest the message at `data.message`; legacy ones put it at `data` itself.
    #[serde(borrow)]
    message: Lenient<Box<Message<'a>>>,
    #[serde(borrow, rename = "conversationId")]
    conversation_id: LenientStr<'a>,
    #[serde(borrow)]
    sender: LenientStr<'a>,
    #[serde(borrow)]
    receiver: LenientStr<'a>,
    #[serde(borrow, rename = "receiverType")]
    receiver_type: LenientStr<'a>,
    #[serde(borrow)]
    category: LenientStr<'a>,
    #[serde(borrow, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, rename = "parentId")]
    parent_id: LenientStr<'a>,
    #[serde(borrow)]
    data: Lenient<MessageData<'a>>,
}

impl<'a> Message<'a> {
    fn into_view(self) -> MessageView<'a> {
        if let Some(inner) = self.message.0 {
            return inner.into_view();
        }
        let data = self.data.0.unwrap_or_default();
        let sender_role = data.entities.0.and_then(|e| e.sender.0).and_then(|s| s.entity.0).and_then(|e| e.role.0);
        MessageView {
            conversation: self.conversation_id.0,
            sender: self.sender.0,
            sender_role,
            receiver: self.receiver.0,
            receiver_type: self.receiver_type.0,
            category: self.category.0,
            kind: self.kind.0,
            parent: self.parent_id.0.filter(|p| !p.is_empty() && p != "0"),
            text: data.text.0,
            attachments: data
                .attachments
                .0
                .into_iter()
                .filter_map(|a| a.0)
                .map(|a| AttachmentView { name: a.name.0, url: a.url.0 })
                .collect(),
            metadata: data.metadata.map_or(Metadata::Absent, Metadata::Raw),
            ..MessageView::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageData<'a> {
    #[serde(borrow)]
    text: LenientStr<'a>,
    #[serde(borrow)]
    attachments: LenientSeq<Lenient<Attachment<'a>>>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow)]
    entities: Lenient<Entities<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attachment<'a> {
    #[serde(borrow)]
    name: LenientStr<'a>,
    #[serde(borrow)]
    url: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entities<'a> {
    #[serde(borrow)]
    sender: Lenient<EntityWrap<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EntityWrap<'a> {
    #[serde(borrow)]
    entity: Lenient<Entity<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entity<'a> {
    #[serde(borrow)]
    role: LenientStr<'a>,
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

/// An object field that reads as absent when it holds something other than an object.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
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
