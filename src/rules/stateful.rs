//! Compiling the rule language of "Rules that remember" (docs/rules.md): `[counters.NAME]`,
//! `rate`, `repeat`, `counts`, and the condition keys `counter`, `sender_age`,
//! `sender_messages`, `mentions` and `links`. Pure checks: each returns the compiled value or the
//! message of its error; `compile` places the error at the key's `FILE:LINE:COL`.

use toml::{Spanned, Table, Value};

use super::model::{CounterDef, RateDef, RepeatDef};
use super::{Bound, CounterSpec, Per, Rate, Repeat};
use crate::time::parse_duration_ms;

/// An error with the byte span of the value it is about (`None`: the enclosing table's).
pub(crate) type Located = (Option<std::ops::Range<usize>>, String);

fn at<T>(spanned: &Spanned<T>, message: impl Into<String>) -> Located {
    (Some(spanned.span()), message.into())
}

/// `per` of a counter or a `rate`.
fn per(value: &Spanned<String>, what: &str) -> Result<Per, Located> {
    match value.get_ref().as_str() {
        "sender" => Ok(Per::Sender),
        "receiver" => Ok(Per::Receiver),
        "conversation" => Ok(Per::Conversation),
        "app" => Ok(Per::App),
        other => Err(at(value, format!("{what} `per = \"{other}\"`: expected sender, receiver, conversation or app"))),
    }
}

fn duration(value: &Spanned<String>, what: &str) -> Result<u64, Located> {
    parse_duration_ms(value.get_ref()).map_err(|e| at(value, format!("{what}: {e}")))
}

fn more_than(value: &Spanned<i64>, what: &str) -> Result<u64, Located> {
    u64::try_from(*value.get_ref()).map_err(|_| at(value, format!("{what} `more_than` is negative")))
}

/// `[counters.NAME]`.
pub(crate) fn counter(name: &str, def: &CounterDef) -> Result<CounterSpec, Vec<Located>> {
    let what = format!("counter \"{name}\"");
    let mut errors = Vec::new();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        errors.push((None, format!("{what}: a counter name is letters, digits, `_`, `-` and `.`")));
    }
    let per = per(&def.per, &what).map_err(|e| errors.push(e)).ok();
    let window = duration(&def.window, &format!("{what} `window`")).map_err(|e| errors.push(e)).ok();
    match (per, window) {
        (Some(per), Some(window_ms)) if errors.is_empty() => Ok(CounterSpec { name: name.to_owned(), per, window_ms }),
        _ => Err(errors),
    }
}

/// `rate = { … }`.
pub(crate) fn rate(def: &RateDef) -> Result<Rate, Vec<Located>> {
    let mut errors = Vec::new();
    let per = per(&def.per, "rate").map_err(|e| errors.push(e)).ok();
    let more_than = more_than(&def.more_than, "rate").map_err(|e| errors.push(e)).ok();
    let within_ms = duration(&def.within, "rate `within`").map_err(|e| errors.push(e)).ok();
    match (per, more_than, within_ms) {
        (Some(per), Some(more_than), Some(within_ms)) => Ok(Rate { per, more_than, within_ms }),
        _ => Err(errors),
    }
}

/// `repeat = { … }`.
pub(crate) fn repeat(def: &RepeatDef) -> Result<Repeat, Vec<Located>> {
    let mut errors = Vec::new();
    let per = match def.per.get_ref().as_str() {
        "any" => Some(Per::App),
        "sender" => Some(Per::Sender),
        "receiver" => Some(Per::Receiver),
        other => {
            errors.push(at(&def.per, format!("repeat `per = \"{other}\"`: expected any, sender or receiver")));
            None
        }
    };
    let more_than = more_than(&def.more_than, "repeat").map_err(|e| errors.push(e)).ok();
    let within_ms = duration(&def.within, "repeat `within`").map_err(|e| errors.push(e)).ok();
    let similar = match &def.similar {
        None => Some(1.0),
        Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 1.0 => Some(*s.get_ref()),
        Some(s) => {
            errors.push(at(s, format!("repeat `similar = {}`: must be above 0 and at most 1", s.get_ref())));
            None
        }
    };
    match (per, more_than, within_ms, similar) {
        (Some(per), Some(more_than), Some(within_ms), Some(similar)) => {
            Ok(Repeat { per, more_than, within_ms, similar })
        }
        _ => Err(errors),
    }
}

/// The bounds of a count: `{ at_least = N }`, `{ less_than = N }` or both; `durations` reads
/// their values as durations (milliseconds) instead of whole numbers.
pub(crate) fn bound(key: &str, table: &Table, durations: bool) -> Result<Bound, String> {
    let mut bound = Bound::default();
    for (name, value) in table {
        let n = match (value, durations) {
            (Value::String(s), true) => parse_duration_ms(s).map_err(|e| format!("`{key}.{name}`: {e}"))?,
            (Value::Integer(i), false) => {
                u64::try_from(*i).map_err(|_| format!("`{key}.{name}` is negative: counts start at 0"))?
            }
            (_, true) => return Err(format!("`{key}.{name}` takes a duration such as \"10m\"")),
            (_, false) => return Err(format!("`{key}.{name}` takes a whole number")),
        };
        match name.as_str() {
            "at_least" => bound.at_least = Some(n),
            "less_than" => bound.less_than = Some(n),
            other => return Err(format!("`{key}.{other}`: expected `at_least` or `less_than`")),
        }
    }
    match (bound.at_least, bound.less_than) {
        (None, None) => Err(format!("`{key}` needs `at_least` or `less_than`")),
        (Some(a), Some(l)) if a >= l => Err(format!("`{key}`: at_least {a} and less_than {l} leave nothing")),
        _ => Ok(bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse::<Table>().expect("toml")
    }

    #[test]
    fn bounds() {
        assert_eq!(bound("mentions", &table("at_least = 5"), false), Ok(Bound { at_least: Some(5), less_than: None }));
        assert_eq!(
            bound("sender_age", &table("less_than = \"10m\""), true),
            Ok(Bound { at_least: None, less_than: Some(600_000) })
        );
        for (text, durations, says) in [
            ("", false, "needs `at_least` or `less_than`"),
            ("at_least = -1", false, "negative"),
            ("at_most = 3", false, "expected `at_least` or `less_than`"),
            ("at_least = \"5\"", false, "whole number"),
            ("less_than = 5", true, "duration"),
            ("less_than = \"0s\"", true, "zero"),
            ("at_least = 5\nless_than = 5", false, "leave nothing"),
        ] {
            let err = bound("k", &table(text), durations).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
