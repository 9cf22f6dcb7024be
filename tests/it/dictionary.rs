//! Every word of the OS's English word list (Debian `wamerican`: `/usr/share/dict/american-english`)
//! through the bundled `rules/` folder, one message per word. A flagged word must be a keyword the
//! packs list, or one of its inflections (`forms = "en"`): anything else is a false positive of
//! strict's variants, masked words, splits or compounds, and there must be none.
//!
//! The word list is installed by `scripts/test.sh`; this test installs nothing and fails, naming
//! the package, when it is missing. Run: `cargo test --test it dictionary:: -- --nocapture`

use std::collections::BTreeMap;

use inflight::protocol::MessageView;
use inflight::rules::load_dir;
use inflight::rules::normalize::{Level, normalize_keyword};
use inflight::rules::variants::english_forms;

use crate::support::root;

const WORD_LIST: &str = "/usr/share/dict/american-english";

/// Whether `hit` (the flagged text) is the keyword `pattern` or one of its inflections, as strict
/// writes them.
fn is_keyword_or_form(hit: &str, pattern: &str) -> bool {
    let hit = normalize_keyword(Level::Strict, hit);
    let mut forms = english_forms(pattern);
    forms.push(pattern.to_owned());
    forms.iter().any(|f| normalize_keyword(Level::Strict, f) == hit)
}

#[test]
fn every_dictionary_word_through_the_bundled_rules() {
    let text = std::fs::read_to_string(WORD_LIST).unwrap_or_else(|e| {
        panic!("{WORD_LIST}: {e}. Install the word list: apt-get install wamerican (scripts/test.sh does)")
    });
    let ruleset = load_dir(&root().join("rules")).expect("bundled rules load").ruleset;
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut other: Vec<String> = Vec::new();
    let words: Vec<&str> = text.lines().filter(|w| !w.trim().is_empty()).collect();
    for word in &words {
        let decision = ruleset.evaluate(&MessageView::with_text(*word));
        let spans = decision.hits.iter().flat_map(|h| h.spans.iter());
        let mut flagged = false;
        let mut all_listed = true;
        for span in spans {
            flagged = true;
            if is_keyword_or_form(&span.text, span.pattern) {
                listed.entry(span.pattern.to_owned()).or_default().push((*word).to_owned());
            } else {
                all_listed = false;
            }
        }
        if flagged && !all_listed {
            other.push((*word).to_owned());
        }
    }
    let listed_count: usize = listed.values().map(Vec::len).sum();
    println!(
        "dictionary: {} words; {listed_count} flagged as a listed keyword or its inflection; {} flagged otherwise",
        words.len(),
        other.len()
    );
    for (keyword, hits) in &listed {
        println!("  {keyword}: {}", hits.join(", "));
    }
    assert!(words.len() > 50_000, "{WORD_LIST} looks truncated: {} words", words.len());
    assert!(
        other.is_empty(),
        "{} dictionary word(s) flagged by something other than a listed keyword or its inflection: {other:?}",
        other.len()
    );
}
