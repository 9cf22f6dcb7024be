//! A decision explained the way a moderator needs it: the message's attributes, the normalized
//! text per level, each hit with its rule, pattern, span, original words, score, tags and mode,
//! the total against `drop_score`, and the answer. `inflight eval` prints it (its `Display`);
//! the console's Try page renders the same value as HTML, so the two never disagree.

use std::fmt;

use super::normalize::normalize;
use super::{Decision, Level, Ruleset};
use crate::message::{Attribute, MessageView};

/// Everything an explanation shows, computed once.
#[derive(Debug)]
pub struct Explanation<'d, 'r> {
    /// The decision explained.
    pub decision: &'d Decision<'r>,
    /// The message's attributes that are set (`name`, value), in schema order; the app and
    /// webhook ids are left out (they say nothing about why).
    pub context: Vec<(&'static str, String)>,
    /// The text as sent, when there is one.
    pub text: Option<String>,
    /// The text normalized at each level some rule uses, in level order.
    pub normalized: Vec<(Level, String)>,
    /// Shadow rules that hit: evaluated and counted, never in the answer.
    pub shadow_hits: usize,
    /// The answer body CometChat gets.
    pub answer: String,
}

impl<'d, 'r> Explanation<'d, 'r> {
    /// Explains `decision`, which `ruleset` made for `msg`.
    pub fn new(ruleset: &Ruleset, msg: &MessageView<'_>, decision: &'d Decision<'r>) -> Self {
        let context = msg
            .attributes()
            .filter(|(attribute, _)| !matches!(attribute, Attribute::AppId | Attribute::Webhook))
            .filter_map(|(attribute, value)| value.map(|v| (attribute.name(), v.to_owned())))
            .collect();
        let text = msg.text.as_deref().map(str::to_owned);
        let normalized = match msg.text.as_deref() {
            Some(text) => ruleset.levels().map(|level| (level, normalize(level, text).text().to_owned())).collect(),
            None => Vec::new(),
        };
        Explanation {
            decision,
            context,
            text,
            normalized,
            shadow_hits: decision.shadow().count(),
            answer: String::from_utf8_lossy(&decision.answer_json()).into_owned(),
        }
    }

    /// `drop_score N`, or `no drop_score`.
    pub fn limit(&self) -> String {
        self.decision.ruleset.drop_score().map_or("no drop_score".to_owned(), |l| format!("drop_score {l}"))
    }
}

/// The text `inflight eval` prints.
impl fmt::Display for Explanation<'_, '_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ruleset = self.decision.ruleset;
        writeln!(out, "ruleset {} ({} rules)", ruleset.hash(), ruleset.rules().len())?;
        if !self.context.is_empty() {
            let pairs: Vec<String> = self.context.iter().map(|(name, value)| format!("{name}={value}")).collect();
            writeln!(out, "message: {}", pairs.join(" "))?;
        }
        match &self.text {
            Some(text) => {
                writeln!(out, "text: {text:?}")?;
                for (level, normalized) in &self.normalized {
                    writeln!(out, "  {:<9} {normalized:?}", level.name())?;
                }
            }
            None => writeln!(out, "text: (none)")?,
        }
        writeln!(out, "{}", if self.decision.hits.is_empty() { "hits: none" } else { "hits:" })?;
        for hit in &self.decision.hits {
            let r = hit.rule;
            writeln!(
                out,
                "  {} [{}] score {} tags [{}] action {} ({}:{})",
                r.id,
                r.mode.name(),
                r.score,
                r.tags.join(", "),
                r.action.name(),
                r.file.display(),
                r.position.line
            )?;
            for s in &hit.spans {
                let kind = if s.is_regex { "regex" } else { "keyword" };
                let field = match s.index {
                    Some(i) => format!("{}[{i}]", s.field.name()),
                    None => s.field.name().to_owned(),
                };
                writeln!(out, "    {field} {}..{} {:?} by {kind} {:?}", s.start, s.end, s.text, s.pattern)?;
            }
            if let Some(note) = &hit.state {
                let note = serde_json::to_string(note).unwrap_or_default();
                writeln!(out, "    state {note} (eval decides on empty state)")?;
            }
        }
        writeln!(out, "score: {} enforced, against {}", self.decision.score, self.limit())?;
        if self.shadow_hits > 0 {
            writeln!(out, "shadow: {} rule(s) hit in shadow mode; they do not change the answer", self.shadow_hits)?;
        }
        writeln!(out, "decision: {}", self.decision.verdict.name())?;
        writeln!(out, "answer: {}", self.answer)
    }
}
