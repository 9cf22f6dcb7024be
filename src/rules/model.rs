//! The serde types of a rule file (docs/rules.md), and nothing else.
//!
//! First stage of the rule-change flow: a file's text is parsed into a `PackFile`; `compile` then
//! validates it and builds the matcher. Every struct refuses unknown keys, and values whose
//! position matters to a diagnostic are kept `Spanned`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::normalize::Level;
use crate::message::FlatMessage;

/// One `*.toml` rule pack as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    /// `[pack]`: the pack's name and description.
    pub pack: Option<PackMeta>,
    /// `[lists]`: named keyword lists, usable by any rule of any pack.
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<ListDef>>,
    /// `[[rule]]`s, in file order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RuleDef>>,
    /// `[policy]`: at most one across all packs.
    pub policy: Option<Spanned<PolicyDef>>,
    /// `[[case]]`s: whole decisions the pack expects.
    #[serde(default, rename = "case")]
    pub cases: Vec<Spanned<CaseDef>>,
    /// `[counters.NAME]`: named counters any rule's conditions can read and `counts` can add to.
    #[serde(default)]
    pub counters: BTreeMap<String, Spanned<CounterDef>>,
}

/// `[counters.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterDef {
    /// Whose counter it is: `sender`, `receiver`, `conversation` or `app`.
    pub per: Spanned<String>,
    /// The sliding window: the value is the sum of what was added within it (a duration).
    pub window: Spanned<String>,
}

/// `rate = { per, more_than, within }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateDef {
    /// Whose messages are counted: `sender`, `receiver`, `conversation` or `app`.
    pub per: Spanned<String>,
    /// The rule hits when the count, this message included, is above this.
    pub more_than: Spanned<i64>,
    /// The sliding window (a duration).
    pub within: Spanned<String>,
}

/// `repeat = { per, more_than, within, similar }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatDef {
    /// Where the same text is counted: `any` (the app), `sender` or `receiver`.
    pub per: Spanned<String>,
    /// The rule hits when the count, this message included, is above this.
    pub more_than: Spanned<i64>,
    /// The sliding window (a duration).
    pub within: Spanned<String>,
    /// The Jaccard index of character 5-grams at or above which two texts count as the same
    /// (default 1.0: identical after normalization).
    pub similar: Option<Spanned<f64>>,
}

/// `[pack]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// The pack's name (default: the file stem).
    pub name: Option<String>,
    /// What the pack is for.
    pub description: Option<String>,
}

/// A named keyword list: inline entries, or a `.txt` file relative to the pack.
#[derive(Debug)]
pub enum ListDef {
    /// Keywords written in the pack.
    Inline(Vec<Spanned<String>>),
    /// Keywords read from a list file.
    File(ListFile),
}

// By hand rather than `#[serde(untagged)]`: untagged buffers the value and loses the spans of
// the entries, and its error ("did not match any variant") does not say what is expected.
impl<'de> Deserialize<'de> for ListDef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ListDef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of keywords or { file = \"lists/name.txt\" }")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListDef, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(ListDef::Inline(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ListDef, A::Error> {
                ListFile::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ListDef::File)
            }
        }
        d.deserialize_any(V)
    }
}

/// `{ file = "lists/name.txt" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFile {
    /// The list file's path, relative to the pack.
    pub file: String,
}

/// One `[[rule]]` as written; `compile` checks every key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique across all packs.
    pub id: Option<Spanned<String>>,
    /// What the rule is for.
    pub description: Option<String>,
    /// Inline keywords.
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    /// Named lists whose entries are keywords too.
    #[serde(default)]
    pub lists: Vec<Spanned<String>>,
    /// Regular expressions (Rust `regex` syntax), run on the normalized text.
    #[serde(default)]
    pub regex: Vec<Spanned<String>>,
    /// How a keyword must sit in the text.
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    /// The normalization level the rule matches at.
    #[serde(default)]
    pub normalize: Level,
    /// `forms = "en"`: word-mode keywords also match their English inflections
    /// (`variants::english_forms`).
    pub forms: Option<Forms>,
    /// Which strings of the message the rule reads (default: `text`).
    pub fields: Option<Vec<Field>>,
    /// Every key must hold for the rule to be evaluated.
    pub when: Option<Spanned<Conditions>>,
    /// The rule is skipped when every key holds.
    pub unless: Option<Spanned<Conditions>>,
    /// Phrases that cancel a hit they contain (the Scunthorpe guard).
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
    /// Added to the message's score on a hit.
    #[serde(default)]
    pub score: i64,
    /// Added to the answer on a hit.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What an enforced hit does.
    #[serde(default)]
    pub action: RuleAction,
    /// Enforce, or shadow (evaluated and counted, never changing the answer).
    #[serde(default)]
    pub mode: Mode,
    /// `examples.match` and `examples.no_match`, run by `inflight test`.
    pub examples: Option<Examples>,
    /// Hits when more than `more_than` messages that passed the rule's other tests came within
    /// `within` (this one included).
    pub rate: Option<Spanned<RateDef>>,
    /// Hits when the same text came more than `more_than` times within `within`.
    pub repeat: Option<Spanned<RepeatDef>>,
    /// What each enforced hit adds to named counters: `{ offenses = 1 }`.
    pub counts: Option<BTreeMap<String, Spanned<i64>>>,
}

/// Which inflections a rule's keywords also match (`forms = "en"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forms {
    /// Regular English inflections: plural, `-ed`, `-ing`, `-er`, `-ers`, `-y`.
    En,
}

/// How a keyword must sit in the (normalized) text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// Not inside a longer word.
    #[default]
    Word,
    /// At the start of a word.
    Prefix,
    /// At the end of a word.
    Suffix,
    /// Anywhere.
    Substring,
}

/// Which strings of a message a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `data.text`.
    Text,
    /// The attachments' names.
    AttachmentNames,
    /// The URLs in the text and the attachments' URLs.
    Urls,
    /// Every string value of `data.metadata` outside `@injected`.
    Metadata,
}

impl Field {
    /// Every field, in the order they are searched.
    pub const ALL: [Field; 4] = [Field::Text, Field::AttachmentNames, Field::Urls, Field::Metadata];

    /// The name in rule files and answers.
    pub fn name(self) -> &'static str {
        match self {
            Field::Text => "text",
            Field::AttachmentNames => "attachment_names",
            Field::Urls => "urls",
            Field::Metadata => "metadata",
        }
    }
}

/// What an enforced hit does to the answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Add score, tags and matches.
    #[default]
    Tag,
    /// Drop the message.
    Drop,
    /// Tag, and star the matched words in `masked_text`.
    Mask,
}

impl RuleAction {
    /// The name in rule files and logs.
    pub fn name(self) -> &'static str {
        match self {
            RuleAction::Tag => "tag",
            RuleAction::Drop => "drop",
            RuleAction::Mask => "mask",
        }
    }
}

/// `enforce` changes answers; `shadow` is evaluated and counted but never changes an answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Change the answer.
    #[default]
    Enforce,
    /// Evaluate, log and count, never changing the answer.
    Shadow,
}

impl Mode {
    /// The name in rule files and logs.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}

/// `when` / `unless`: every key present must hold. Keys are the condition keys of the message
/// schema (`crate::message::ConditionKey`), checked by `compile`.
pub type Conditions = BTreeMap<String, Spanned<CondValue>>;

/// A condition value: a string, a bool, a list of strings (any of them), or a table (the bounds
/// of a count: `{ at_least = 5 }`; for `counter`, one such table per counter name).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CondValue {
    /// `true` or `false`.
    Bool(bool),
    /// One string.
    One(String),
    /// Any of these strings.
    Any(Vec<String>),
    /// A table, checked by `compile`.
    Table(toml::Table),
}

/// A rule's `examples`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    /// Texts the rule must hit (on its own matcher).
    #[serde(default, rename = "match")]
    pub should_match: Vec<Spanned<String>>,
    /// Texts the rule must not hit.
    #[serde(default)]
    pub no_match: Vec<Spanned<String>>,
}

/// `[policy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    /// An enforced score at or above this drops the message.
    pub drop_score: Option<i64>,
}

/// An end-to-end `[[case]]`: a message (or a sequence of them) and the decision expected for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    /// What the case checks, for failure reports.
    pub name: String,
    /// The message in the flat form of the message schema (`crate::message::FlatMessage`).
    pub message: Option<FlatMessage>,
    /// A sequence played on fresh state; `expect` applies to the last message.
    pub messages: Option<Vec<SequenceMessage>>,
    /// What the decision must be.
    pub expect: Expectation,
}

/// One message of a `[[case]]` sequence: the flat form plus `at`, the offset from the first
/// message (a duration; absent: the time of the message before).
#[derive(Debug, Clone)]
pub struct SequenceMessage {
    /// The message.
    pub message: FlatMessage,
    /// `at`, as written.
    pub at: Option<String>,
}

impl<'de> Deserialize<'de> for SequenceMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `at` is the case's, not the message's: taken out before the strict flat reader sees
        // the rest.
        let mut table = toml::Table::deserialize(d)?;
        let at = match table.remove("at") {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(serde::de::Error::custom(format!("`at` takes a duration such as \"2s\", not {other}")));
            }
        };
        let message = FlatMessage::deserialize(table).map_err(serde::de::Error::custom)?;
        Ok(SequenceMessage { message, at })
    }
}

/// What a `[[case]]` expects; every key given must match exactly.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `allow`, `tag` or `drop`.
    pub action: Option<ExpectedAction>,
    /// Exactly these tags (sorted, unique).
    pub tags: Option<Vec<String>>,
    /// Exactly these enforced rules.
    pub rules: Option<Vec<String>>,
    /// Exactly this enforced score.
    pub score: Option<i64>,
    /// Exactly this masked text.
    pub masked_text: Option<String>,
}

/// The kind of answer a case expects: `{}`, a non-drop answer with hits, or a drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedAction {
    /// `{}`: no enforced hit.
    Allow,
    /// Enforced hits, no drop.
    Tag,
    /// Dropped.
    Drop,
}
