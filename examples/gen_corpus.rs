//! Writes the benchmark corpus (`benches/corpus.rs`) to a folder: `rules-500/`, `rules-5k/`,
//! `rules-50k/` and `messages.jsonl`, then loads each rule folder to prove it compiles and counts
//! how many messages the 5k folder does not simply allow.
//!
//! ```text
//! cargo run --release --example gen_corpus -- target/corpus
//! inflight bench --rules target/corpus/rules-5k target/corpus/messages.jsonl
//! ```

#[path = "../benches/corpus.rs"]
mod corpus;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use inflight::protocol::parse_message;
use inflight::rules::{Verdict, load_dir};

fn main() -> ExitCode {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/corpus".to_owned()));
    if let Err(e) = corpus::write_all(&dir) {
        eprintln!("error: cannot write the corpus to {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    println!("wrote {}", dir.display());
    let mut five_k = None;
    for (name, _) in corpus::SIZES {
        let folder = dir.join(name);
        let started = Instant::now();
        match load_dir(&folder) {
            Ok(loaded) => {
                let rs = &loaded.ruleset;
                println!(
                    "  {name}: {} rules, {} keywords, {} regexes, {} warnings; compiled in {:.0} ms",
                    rs.rules().len(),
                    rs.keyword_count(),
                    rs.regex_count(),
                    loaded.warnings.len(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                if name == "rules-5k" {
                    five_k = Some(loaded.ruleset);
                }
            }
            Err(e) => {
                eprintln!("error: {name} does not compile:");
                for d in &e.0 {
                    eprintln!("  {d}");
                }
                return ExitCode::from(2);
            }
        }
    }
    let messages = corpus::messages();
    let planted = messages.iter().filter(|m| m.planted).count();
    let mut decided = [0usize; 3];
    if let Some(rs) = &five_k {
        for m in &messages {
            let json = m.to_json();
            let Ok(view) = parse_message(&json) else { continue };
            let verdict = rs.evaluate(&view).verdict;
            decided[verdict as usize] += 1;
        }
    }
    let non_ascii = messages.iter().filter(|m| !m.text.is_ascii()).count();
    println!(
        "  messages.jsonl: {} messages ({} non-ASCII, {} with planted bait); rules-5k: {} allow, {} tag, {} drop",
        messages.len(),
        non_ascii,
        planted,
        decided[Verdict::Allow as usize],
        decided[Verdict::Tag as usize],
        decided[Verdict::Drop as usize],
    );
    ExitCode::SUCCESS
}
