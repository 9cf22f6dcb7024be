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
    pub pack: Option<PackMeta>,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<ListDef>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RuleDef>>,
    pub policy: Option<Spanned<PolicyDef>>,
    #[serde(default, rename = "case")]
    pub cases: Vec<Spanned<CaseDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A named keyword list: inline entries, or a `.txt` file relative to the pack.
#[derive(Debug)]
pub enum ListDef {
    Inline(Vec<Spanned<String>>),
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFile {
    pub file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: Option<Spanned<String>>,
    pub description: Option<String>,
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    #[serde(default)]
    pub lists: Vec<Spanned<String>>,
    #[serde(default)]
    pub regex: Vec<Spanned<String>>,
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub normalize: Level,
    /// `forms = "en"`: word-mode keywords also match their English inflections
    /// (`variants::english_forms`).
    pub forms: Option<Forms>,
    pub fields: Option<Vec<Field>>,
    pub when: Option<Spanned<Conditions>>,
    pub unless: Option<Spanned<Conditions>>,
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub action: RuleAction,
    #[serde(default)]
    pub mode: Mode,
    pub examples: Option<Examples>,
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
    Text,
    AttachmentNames,
    Urls,
    Metadata,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Text, Field::AttachmentNames, Field::Urls, Field::Metadata];

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
    #[default]
    Tag,
    Drop,
    Mask,
}

impl RuleAction {
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
    #[default]
    Enforce,
    Shadow,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}

/// `when` / `unless`: every key present must hold. Keys are the condition keys of the message
/// schema (`crate::message::ConditionKey`), checked by `compile`.
pub type Conditions = BTreeMap<String, CondValue>;

/// A condition value: a string, a bool, or a list of strings (any of them).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CondValue {
    Bool(bool),
    One(String),
    Any(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default, rename = "match")]
    pub should_match: Vec<Spanned<String>>,
    #[serde(default)]
    pub no_match: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    pub drop_score: Option<i64>,
}

/// An end-to-end `[[case]]`: a message and the decision expected for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    pub name: String,
    /// The message in the flat form of the message schema (`crate::message::FlatMessage`).
    pub message: FlatMessage,
    pub expect: Expectation,
}

/// What a `[[case]]` expects; every key given must match exactly.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub action: Option<ExpectedAction>,
    pub tags: Option<Vec<String>>,
    pub rules: Option<Vec<String>>,
    pub score: Option<i64>,
    pub masked_text: Option<String>,
}

/// The kind of answer a case expects: `{}`, a non-drop answer with hits, or a drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedAction {
    Allow,
    Tag,
    Drop,
}
