//! The one message schema: every attribute a rule can test, defined once, and the view of a
//! message that rules read.
//!
//! An attribute has one row in [`ATTRIBUTES`]: its name (in rule files, `[[case]]` messages,
//! flat replay lines and decision-log lines alike), where a CometChat body carries it, how
//! `when` / `unless` test it, and whether the decision log always writes it. The webhook parser
//! ([`crate::protocol`]), the flat readers ([`read_flat_value`], used by `[[case]]`, replay and
//! the decision log), the decision-log writer ([`MessageView::attributes`]) and the condition
//! compiler all go through that table, so a new attribute is one row, and two readings of the
//! same field cannot drift apart. Every value passes [`Attribute::clean`] on the way in, whatever
//! it was read from.

// Crafted input must never panic on the request path (STYLE.md).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::protocol::{LenientSeq, LenientStr};

/// A message attribute rules can test or the decision log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    /// `appId`: the CometChat app.
    AppId,
    /// `webhook`: the id of the webhook CometChat called.
    Webhook,
    /// `conversationId`.
    Conversation,
    /// The sender's uid.
    Sender,
    /// The sender's role (`data.entities.sender.entity.role`), e.g. `default`, `moderator`.
    SenderRole,
    /// The receiver's uid or group guid.
    Receiver,
    /// `user` or `group`.
    ReceiverType,
    /// `message`, `custom`, `action`, `call` or `interactive`.
    Category,
    /// `text`, `image`, `file`, … (`type` in bodies and rule files).
    Type,
    /// The thread parent's message id, for a thread reply (`parentId`).
    Parent,
    /// The client's message id (`muid`): a resend carries the same one. Read by the
    /// idempotence of rule sets that use state; longer than [`MAX_MUID_BYTES`] reads as absent.
    Muid,
    /// When the client sent the message (`sentAt`, Unix seconds). Replay times lines that carry
    /// no `ts` by it; the service times messages by its own clock.
    SentAt,
    /// When the sender's account was created (`data.entities.sender.entity.createdAt`, Unix
    /// seconds): `sender_age` counts from it when it is older than inflight's first sight.
    SenderCreatedAt,
}

/// A `muid` longer than this reads as absent: every request counts (a key is kept for each muid
/// for 10 minutes, and a client's ids are short).
pub const MAX_MUID_BYTES: usize = 256;

/// Where a CometChat webhook body carries an attribute: a key of one of its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPath {
    /// Which object of the body.
    pub object: BodyObject,
    /// The key in that object.
    pub key: &'static str,
}

/// The objects of a webhook body that carry attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyObject {
    /// The envelope (beside `trigger` and `data`).
    Envelope,
    /// The message object (`data`, or `data.message` in a v2 envelope).
    Message,
    /// The sender's entity, `data.data.entities.sender.entity`.
    SenderEntity,
}

const fn at(object: BodyObject, key: &'static str) -> BodyPath {
    BodyPath { object, key }
}

/// How `when` / `unless` test an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// A string, or a list of strings of which the value must equal one.
    OneOf,
    /// A bool: whether the message carries the attribute (`parent = true`: a thread reply).
    Present,
    /// Not a condition key.
    None,
}

/// One row of the schema.
#[derive(Debug)]
pub struct AttributeDef {
    /// The attribute this row defines.
    pub attribute: Attribute,
    /// The key in rule files, flat lines and decision-log lines.
    pub name: &'static str,
    /// Where a webhook body carries it.
    pub body: BodyPath,
    /// How `when` / `unless` test it.
    pub test: Test,
    /// Written to every decision-log line, as `null` when absent (the line's documented keys);
    /// the others are written only when present.
    pub always_logged: bool,
}

/// Every attribute, in the order of [`Attribute`].
pub const ATTRIBUTES: [AttributeDef; 13] = [
    def(Attribute::AppId, "app_id", at(BodyObject::Envelope, "appId"), Test::OneOf, true),
    def(Attribute::Webhook, "webhook", at(BodyObject::Envelope, "webhook"), Test::None, true),
    def(Attribute::Conversation, "conversation", at(BodyObject::Message, "conversationId"), Test::OneOf, false),
    def(Attribute::Sender, "sender", at(BodyObject::Message, "sender"), Test::OneOf, true),
    def(Attribute::SenderRole, "sender_role", at(BodyObject::SenderEntity, "role"), Test::OneOf, false),
    def(Attribute::Receiver, "receiver", at(BodyObject::Message, "receiver"), Test::OneOf, true),
    def(Attribute::ReceiverType, "receiver_type", at(BodyObject::Message, "receiverType"), Test::OneOf, true),
    def(Attribute::Category, "category", at(BodyObject::Message, "category"), Test::OneOf, false),
    def(Attribute::Type, "type", at(BodyObject::Message, "type"), Test::OneOf, false),
    def(Attribute::Parent, "parent", at(BodyObject::Message, "parentId"), Test::Present, false),
    def(Attribute::Muid, "muid", at(BodyObject::Message, "muid"), Test::None, false),
    def(Attribute::SentAt, "sent_at", at(BodyObject::Message, "sentAt"), Test::None, false),
    def(Attribute::SenderCreatedAt, "sender_created_at", at(BodyObject::SenderEntity, "createdAt"), Test::None, false),
];

const fn def(
    attribute: Attribute,
    name: &'static str,
    body: BodyPath,
    test: Test,
    always_logged: bool,
) -> AttributeDef {
    AttributeDef { attribute, name, body, test, always_logged }
}

const COUNT: usize = ATTRIBUTES.len();

impl Attribute {
    /// This attribute's row.
    pub fn def(self) -> &'static AttributeDef {
        // `ATTRIBUTES` lists the variants in declaration order (checked by a test), so the
        // discriminant is the row.
        #[allow(clippy::indexing_slicing)]
        &ATTRIBUTES[self as usize]
    }

    /// The attribute's name in rule files and flat lines.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The attribute named `name` in rule files and flat lines.
    pub fn from_name(name: &str) -> Option<Attribute> {
        ATTRIBUTES.iter().find(|d| d.name == name).map(|d| d.attribute)
    }

    /// The attribute a body carries under `key` of `object`.
    pub fn in_body(object: BodyObject, key: &str) -> Option<Attribute> {
        ATTRIBUTES.iter().find(|d| d.body.object == object && d.body.key == key).map(|d| d.attribute)
    }

    /// A value as rules see it, whatever it was read from: `parent` of `""` or `"0"` is not a
    /// reply (CometChat writes `"0"` for "no parent").
    pub fn clean<'a>(self, value: Cow<'a, str>) -> Option<Cow<'a, str>> {
        match self {
            Attribute::Parent if value.is_empty() || value == "0" => None,
            Attribute::Muid if value.is_empty() || value.len() > MAX_MUID_BYTES => None,
            _ => Some(value),
        }
    }
}

/// What rules can see of a message. Every field may be absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MessageView<'a> {
    attributes: [Option<Cow<'a, str>>; COUNT],
    /// `data.text`.
    pub text: Option<Cow<'a, str>>,
    /// `data.attachments`.
    pub attachments: Vec<AttachmentView<'a>>,
    /// `data.metadata`.
    pub metadata: Metadata<'a>,
    /// The uids of `data.mentions` (its keys, or the entries of a list).
    pub mentioned: Vec<Cow<'a, str>>,
    /// Counts read back from a flat line (`mentions = 6`, `links = 2`, as the decision log writes
    /// them): they stand for the counts the message's content would give.
    pub counted: Counted,
}

/// The derived counts a flat line can carry instead of the content they come from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Distinct users mentioned.
    pub mentions: Option<u32>,
    /// URLs.
    pub links: Option<u32>,
}

/// One attachment: what rules read of it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AttachmentView<'a> {
    /// The file name (the `attachment_names` field).
    pub name: Option<Cow<'a, str>>,
    /// Where it is stored (read by the `urls` field).
    pub url: Option<Cow<'a, str>>,
}

/// `data.metadata`, kept unparsed until a rule reads the `metadata` field.
#[derive(Debug, Default, Clone)]
pub enum Metadata<'a> {
    /// No metadata.
    #[default]
    Absent,
    /// As it sits in the body, parsed when first read.
    Raw(&'a RawValue),
    /// Already parsed (from a flat line or a `[[case]]`).
    Value(serde_json::Value),
}

impl PartialEq for Metadata<'_> {
    /// Equal when they hold the same JSON, however it is kept.
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl Metadata<'_> {
    fn to_value(&self) -> Option<serde_json::Value> {
        match self {
            Metadata::Absent => None,
            Metadata::Raw(raw) => serde_json::from_str(raw.get()).ok(),
            Metadata::Value(v) => Some(v.clone()),
        }
    }

    /// The size of the metadata as sent, in bytes (`None` when absent or already parsed).
    pub fn raw_len(&self) -> Option<usize> {
        match self {
            Metadata::Raw(raw) => Some(raw.get().len()),
            Metadata::Absent | Metadata::Value(_) => None,
        }
    }

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

impl<'a> MessageView<'a> {
    /// A message with only a text.
    pub fn with_text(text: impl Into<Cow<'a, str>>) -> Self {
        MessageView { text: Some(text.into()), ..MessageView::default() }
    }

    /// The attribute's value, when the message carries it.
    pub fn get(&self, attribute: Attribute) -> Option<&str> {
        self.attributes.get(attribute as usize).and_then(|v| v.as_deref())
    }

    /// Sets an attribute (cleaned as [`Attribute::clean`] says); `None` clears it.
    pub fn set(&mut self, attribute: Attribute, value: Option<Cow<'a, str>>) {
        if let Some(slot) = self.attributes.get_mut(attribute as usize) {
            *slot = value.and_then(|v| attribute.clean(v));
        }
    }

    /// Every attribute with its value, in schema order.
    pub fn attributes(&self) -> impl Iterator<Item = (Attribute, Option<&str>)> + '_ {
        ATTRIBUTES.iter().map(|d| (d.attribute, self.get(d.attribute)))
    }

    /// Whether the message carries any attachment.
    pub fn has_attachments(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// The attachments' names, in order.
    pub fn attachment_names(&self) -> impl Iterator<Item = &str> {
        self.attachments.iter().filter_map(|a| a.name.as_deref())
    }

    /// Distinct users mentioned: the union of `data.mentions` and the `<@uid:…>` in the text
    /// (or the `mentions` a flat line carries).
    pub fn mentions(&self) -> u32 {
        if let Some(n) = self.counted.mentions {
            return n;
        }
        let mut uids: Vec<&str> = self.mentioned.iter().map(|u| u.as_ref()).collect();
        let text = self.text.as_deref().unwrap_or_default();
        let mut rest = text;
        while let Some(at) = MENTION.find(rest.as_bytes()) {
            let after = rest.get(at + 6..).unwrap_or_default();
            let Some(end) = after.find('>') else { break };
            uids.push(after.get(..end).unwrap_or_default());
            rest = after.get(end..).unwrap_or_default();
        }
        uids.retain(|u| !u.is_empty());
        uids.sort_unstable();
        uids.dedup();
        u32::try_from(uids.len()).unwrap_or(u32::MAX)
    }

    /// The URLs the `urls` field reads: in the text (`http://`, `https://`, `www.`), then the
    /// attachments' URLs.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        let in_text = self
            .text
            .as_deref()
            .into_iter()
            .filter(|t| may_hold_url(t))
            .flat_map(|t| URL.as_ref().into_iter().flat_map(move |re| re.find_iter(t).map(|m| m.as_str())));
        in_text.chain(self.attachments.iter().filter_map(|a| a.url.as_deref()))
    }

    /// How many URLs the message carries (or the `links` a flat line carries).
    pub fn links(&self) -> u32 {
        self.counted.links.unwrap_or_else(|| u32::try_from(self.urls().count()).unwrap_or(u32::MAX))
    }

    /// An attribute holding Unix seconds (`sent_at`, `sender_created_at`), in milliseconds; a
    /// value that is not a number, or is not after 1970, reads as absent.
    pub fn unix_ms(&self, attribute: Attribute) -> Option<u64> {
        let value = self.get(attribute)?.trim();
        let secs = value
            .parse::<u64>()
            .ok()
            .or_else(|| value.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as u64))?;
        (secs > 0).then(|| secs.saturating_mul(1000))
    }

    /// Converts every borrowed string into an owned one, so the view outlives its body.
    pub fn into_owned(self) -> MessageView<'static> {
        fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(|s| Cow::Owned(s.into_owned()))
        }
        MessageView {
            attributes: self.attributes.map(own),
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
            mentioned: self.mentioned.into_iter().map(|u| Cow::Owned(u.into_owned())).collect(),
            counted: self.counted,
        }
    }
}

/// Whether `text` has what every [`URL`] match starts with: `://` or `www.` (in any case). Most
/// messages have neither, and this scan costs a fraction of a regex search (the decision log
/// counts every message's links).
fn may_hold_url(text: &str) -> bool {
    let bytes = text.as_bytes();
    let www_before = |dot: usize| {
        dot.checked_sub(3).and_then(|at| bytes.get(at..dot)).is_some_and(|w| w.eq_ignore_ascii_case(b"www"))
    };
    COLON_SLASHES.find(bytes).is_some() || memchr::memchr_iter(b'.', bytes).any(www_before)
}

/// The searchers, built once (a `memmem::find` call builds its own each time).
static MENTION: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"<@uid:"));
static COLON_SLASHES: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"://"));

/// URLs in text: `http://`, `https://` or `www.` up to whitespace or a quote/bracket.
static URL: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(r#"(?i)(?:https?://|www\.)[^\s<>"'`]+"#).ok());

/// A key of `when` / `unless`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionKey {
    /// An attribute, tested as its row's [`Test`] says.
    Attribute(Attribute, Test),
    /// `has_attachments`: a bool, derived from the attachments.
    HasAttachments,
    /// `mentions`: distinct users mentioned ([`MessageView::mentions`]), `{ at_least | less_than = N }`.
    Mentions,
    /// `links`: URLs ([`MessageView::links`]), `{ at_least | less_than = N }`.
    Links,
    /// `counter`: `{ NAME = { at_least | less_than = N } }`, read from state.
    Counter,
    /// `sender_age`: `{ at_least | less_than = "10m" }`, read from state.
    SenderAge,
    /// `sender_messages`: `{ at_least | less_than = N }`, read from state.
    SenderMessages,
}

/// The condition keys derived from the message or read from state, by name.
const DERIVED_KEYS: [(&str, ConditionKey); 6] = [
    ("has_attachments", ConditionKey::HasAttachments),
    ("mentions", ConditionKey::Mentions),
    ("links", ConditionKey::Links),
    ("counter", ConditionKey::Counter),
    ("sender_age", ConditionKey::SenderAge),
    ("sender_messages", ConditionKey::SenderMessages),
];

impl ConditionKey {
    /// The condition key named `name`, when there is one.
    pub fn of(name: &str) -> Option<ConditionKey> {
        if let Some((_, key)) = DERIVED_KEYS.iter().find(|(n, _)| *n == name) {
            return Some(*key);
        }
        let def = Attribute::from_name(name)?.def();
        (def.test != Test::None).then_some(ConditionKey::Attribute(def.attribute, def.test))
    }

    /// Every condition key, for "expected one of" messages.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&str> = ATTRIBUTES.iter().filter(|d| d.test != Test::None).map(|d| d.name).collect();
        names.extend(DERIVED_KEYS.iter().map(|(n, _)| *n));
        names
    }

    /// Whether the key is read from state (the others are the message's own).
    pub fn needs_state(self) -> bool {
        matches!(self, ConditionKey::Counter | ConditionKey::SenderAge | ConditionKey::SenderMessages)
    }
}

// ---- the flat form: `[[case]]` messages, flat replay lines, decision-log lines ----

/// A key of the flat form: an attribute by its name, or one of the content keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlatKey {
    /// An attribute by its name.
    Attribute(Attribute),
    /// The message text.
    Text,
    /// A list of attachment names.
    Attachments,
    /// An object whose string values the `metadata` field reads.
    Metadata,
    /// `mentions`: a count (as the decision log writes it), or a list of uids.
    Mentions,
    /// `links`: a count (as the decision log writes it).
    Links,
}

impl FlatKey {
    /// The flat key named `key`, when there is one.
    pub fn of(key: &str) -> Option<FlatKey> {
        match key {
            "text" => Some(FlatKey::Text),
            "attachments" => Some(FlatKey::Attachments),
            "metadata" => Some(FlatKey::Metadata),
            "mentions" => Some(FlatKey::Mentions),
            "links" => Some(FlatKey::Links),
            _ => Attribute::from_name(key).map(FlatKey::Attribute),
        }
    }

    /// Every flat key, for "expected one of" messages.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&str> = ATTRIBUTES.iter().map(|d| d.name).collect();
        names.extend(["text", "attachments", "metadata", "mentions", "links"]);
        names
    }
}

/// Reads the value of one flat key into `view`. Values are read leniently, as a webhook's are:
/// one of an unexpected type reads as absent; numbers become strings.
pub fn read_flat_value<'de, A: MapAccess<'de>>(
    key: FlatKey,
    map: &mut A,
    view: &mut MessageView<'de>,
) -> Result<(), A::Error> {
    match key {
        FlatKey::Attribute(attribute) => view.set(attribute, map.next_value::<LenientStr<'de>>()?.0),
        FlatKey::Text => view.text = map.next_value::<LenientStr<'de>>()?.0,
        FlatKey::Attachments => {
            view.attachments = map
                .next_value::<LenientSeq<LenientStr<'de>>>()?
                .0
                .into_iter()
                .filter_map(|name| name.0)
                .map(|name| AttachmentView { name: Some(name), url: None })
                .collect();
        }
        FlatKey::Metadata => {
            // Only an object is metadata. Read as a value, so TOML and JSON both can carry it.
            let value = map.next_value::<serde_json::Value>()?;
            view.metadata = if value.is_object() { Metadata::Value(value) } else { Metadata::Absent };
        }
        FlatKey::Mentions => match map.next_value::<serde_json::Value>()? {
            serde_json::Value::Array(uids) => {
                view.mentioned = uids.into_iter().filter_map(|u| u.as_str().map(|s| Cow::Owned(s.to_owned()))).collect()
            }
            value => view.counted.mentions = count_of(&value),
        },
        FlatKey::Links => view.counted.links = count_of(&map.next_value::<serde_json::Value>()?),
    }
    Ok(())
}

/// A count written as a number; anything else reads as absent.
fn count_of(value: &serde_json::Value) -> Option<u32> {
    value.as_u64().map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A map key, borrowed from the input where it can be.
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A message in the flat form as a rule file writes it: an unknown key is an error, as
/// everywhere in a rule file. The form of a `[[case]]` message.
#[derive(Debug, Default, Clone)]
pub struct FlatMessage(pub MessageView<'static>);

/// A message in the flat form as a replay line carries it: keys the schema does not know are
/// ignored.
#[derive(Debug, Default, Clone)]
pub struct FlatLine<'a>(pub MessageView<'a>);

impl<'de> serde::Deserialize<'de> for FlatMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FlatVisitor { strict: true }).map(|view| FlatMessage(view.into_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for FlatLine<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FlatVisitor { strict: false }).map(FlatLine)
    }
}

/// Reads a flat map; `strict`: a key the schema does not know is an error.
struct FlatVisitor {
    strict: bool,
}

impl<'de> Visitor<'de> for FlatVisitor {
    type Value = MessageView<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message such as { text = \"…\", receiver_type = \"group\" }")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MessageView<'de>, A::Error> {
        let mut view = MessageView::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match FlatKey::of(&key) {
                Some(flat) => read_flat_value(flat, &mut map, &mut view)?,
                None if self.strict => {
                    let expected = FlatKey::names().join("`, `");
                    return Err(de::Error::custom(format!("unknown field `{key}`, expected one of `{expected}`")));
                }
                None => skip_value(&mut map)?,
            }
        }
        Ok(view)
    }
}

/// Skips one value (for keys a reader does not know).
pub fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_precheck_passes_every_text_with_a_url() {
        let url_count = |text: &str| URL.as_ref().map_or(0, |re| re.find_iter(text).count());
        for (text, urls) in [
            ("see https://bit.ly/x and http://a.b", 2),
            ("WWW.Example.com, or wWw.x.org.", 2),
            ("ftp://files.example.com", 0),
            ("www.", 0),
            ("(www.x)", 1),
            ("hello. www", 0),
            ("no links here. none at all", 0),
            ("", 0),
            ("émoji 🎉 www.ünï.com", 1),
        ] {
            assert_eq!(url_count(text), urls, "{text}");
            let view = MessageView::with_text(text);
            assert_eq!(view.links() as usize, urls, "{text}");
            if urls > 0 {
                assert!(may_hold_url(text), "{text}");
            }
        }
        assert!(!may_hold_url("hello. www"));
    }

    #[test]
    fn rows_follow_the_declaration_order_and_names_are_unique() {
        for (i, d) in ATTRIBUTES.iter().enumerate() {
            assert_eq!(d.attribute as usize, i, "{}", d.name);
            assert_eq!(Attribute::from_name(d.name), Some(d.attribute));
            assert_eq!(
                Attribute::in_body(d.body.object, d.body.key),
                Some(d.attribute),
                "{}: body paths are unique",
                d.name
            );
        }
        let mut names = FlatKey::names();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "flat keys are unique");
    }

    #[test]
    fn parent_zero_or_empty_is_not_a_reply_however_it_is_set() {
        let mut view = MessageView::default();
        for (value, want) in [("0", None), ("", None), ("msg-1", Some("msg-1"))] {
            view.set(Attribute::Parent, Some(Cow::Borrowed(value)));
            assert_eq!(view.get(Attribute::Parent), want, "{value:?}");
        }
    }
}
