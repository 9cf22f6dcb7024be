//! Evasion resistance, measured: every line of the adversarial corpus (`tests/data/evasion`,
//! written by `scripts/gen_evasion_corpus.py`) through inflight's strict word-mode pack and
//! through the `rustrict` crate, side by side. Prints the table behind EVASION.md and writes it to
//! `target/evasion-table.md` (every line either tool gets wrong: `target/evasion-misses.md`).
//!
//! Run: `cargo test --test it evasion:: -- --nocapture`

use std::fmt::Write as _;
use std::path::PathBuf;

use inflight::protocol::MessageView;
use inflight::rules::{Ruleset, Verdict, load_dir};
use rustrict::CensorStr;

use crate::support::{data, root};

const COMMAND: &str = "cargo test --test it evasion:: -- --nocapture";

/// Techniques the corpus measures although `strict` does not claim to undo them in the text
/// (docs/normalization.md): a starred-out letter (`f*ck`), substitutions outside its leetspeak
/// list (`sh!t`, `fvck`), a word broken by spaces into pieces (`fu ck`) and vowels left out
/// (`mthrfckr`). They are marked with † and kept out of the contract totals. Strict's keyword
/// variants and masked words (`inflight::rules::variants`) undo most of them: vowels left out
/// (typed plainly unless a frequent word shortens alike), `v` for `u`, letter symbols (`|` `(` `^`
/// `+` `!`) inside and at the edges of words, one split per keyword by a space, spaced dash or full
/// stop, and one starred vowel in a phrase.
const BEYOND_STRICT: &[&str] = &["self_censor", "leet_extra", "split", "vowels_dropped"];

/// Techniques whose recall is reported but not held to rustrict's, each for a reason written in
/// EVASION.md. None since issue 15's second round: on every technique, the † ones included,
/// inflight's recall on abuse lines is at least rustrict's, asserted.
const NOT_ASSERTED_PER_TECHNIQUE: &[&str] = &[];

/// Innocent lines on which inflight must flag nothing at all: words, names and places.
const ZERO_FALSE_POSITIVES: &[&str] = &["scunthorpe", "dictionary", "names", "spelled"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Target,
    Benign,
    Trap,
}

/// One corpus line and both tools' verdicts on it (`true`: flagged).
struct Line {
    label: Label,
    technique: String,
    target: String,
    text: String,
    abuse: bool,
    /// Not one of `BEYOND_STRICT` (combinations use only techniques strict claims).
    in_contract: bool,
    inflight: bool,
    rustrict: bool,
}

/// Lines judged and lines each tool flagged.
#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    inflight: usize,
    rustrict: usize,
}

impl Tally {
    fn add(&mut self, line: &Line) {
        self.n += 1;
        self.inflight += usize::from(line.inflight);
        self.rustrict += usize::from(line.rustrict);
    }

    fn of<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Tally {
        let mut t = Tally::default();
        lines.into_iter().for_each(|l| t.add(l));
        t
    }
}

fn percent(count: usize, n: usize) -> String {
    if n == 0 { "-".to_owned() } else { format!("{:.1}%", 100.0 * count as f64 / n as f64) }
}

fn evasion_dir() -> PathBuf {
    data("evasion")
}

/// The keywords of one rule of the generated pack, read from the TOML itself so the test and the
/// pack cannot disagree on which targets count as abuse.
fn pack_keywords(rule_id: &str) -> Vec<String> {
    let path = evasion_dir().join("rules/evasion.toml");
    let text = std::fs::read_to_string(&path).expect("generated rule pack exists");
    let pack: toml::Table = toml::from_str(&text).expect("rule pack is TOML");
    let rules = pack["rule"].as_array().expect("[[rule]] tables");
    let rule = rules.iter().find(|r| r["id"].as_str() == Some(rule_id)).expect("rule present");
    rule["keywords"].as_array().expect("keywords").iter().map(|k| k.as_str().expect("string").to_owned()).collect()
}

fn flagged_by_inflight(ruleset: &Ruleset, text: &str) -> bool {
    let msg = MessageView::with_text(text);
    ruleset.evaluate(&msg).verdict != Verdict::Allow
}

/// rustrict's own default notion of "should not be shown": profane, offensive or sexual at any
/// severity, or severely mean. Self-censoring (`f*ck`) and its false-positive guard stay at their
/// defaults (both on).
fn flagged_by_rustrict(text: &str) -> bool {
    text.is_inappropriate()
}

fn judge() -> Vec<Line> {
    let ruleset = load_dir(&evasion_dir().join("rules")).expect("evasion rules load").ruleset;
    let abuse = pack_keywords("evasion.abuse");
    let spam = pack_keywords("evasion.spam");
    let tsv = std::fs::read_to_string(evasion_dir().join("corpus.tsv")).expect("corpus exists");
    let mut rows = tsv.lines();
    assert_eq!(rows.next(), Some("label\ttechnique\ttarget\ttext"), "corpus header");
    rows.enumerate()
        .map(|(i, row)| {
            let cols: Vec<&str> = row.split('\t').collect();
            let [label, technique, target, text] = cols[..] else {
                panic!("corpus.tsv line {}: want 4 tab-separated columns: {row:?}", i + 2)
            };
            let label = match label {
                "target" => Label::Target,
                "benign" => Label::Benign,
                "trap" => Label::Trap,
                other => panic!("corpus.tsv line {}: unknown label {other:?}", i + 2),
            };
            assert_eq!(label == Label::Target, !target.is_empty(), "line {}: target column vs label", i + 2);
            let is_abuse = abuse.iter().any(|k| k == target);
            assert!(
                target.is_empty() || is_abuse || spam.iter().any(|k| k == target),
                "line {}: target {target:?} is not a keyword of the pack (regenerate both)",
                i + 2
            );
            Line {
                label,
                technique: technique.to_owned(),
                target: target.to_owned(),
                text: text.to_owned(),
                abuse: is_abuse,
                in_contract: !BEYOND_STRICT.contains(&technique),
                inflight: flagged_by_inflight(&ruleset, text),
                rustrict: flagged_by_rustrict(text),
            }
        })
        .collect()
}

/// The rows of the false-positive table: (label, technique, row name).
const FALSE_POSITIVE_ROWS: &[(Label, &str, &str)] = &[
    (Label::Benign, "chat", "benign: ordinary chat"),
    (Label::Benign, "carrier", "benign: carrier sentences with a neutral word"),
    (Label::Trap, "scunthorpe", "trap: target inside a longer word (Scunthorpe)"),
    (Label::Trap, "joined", "trap: pieces joined by strict normalization"),
    (Label::Trap, "variant", "trap: ordinary words a variant would equal (guarded)"),
    (Label::Trap, "collision", "trap: texting abbreviations equal to a variant"),
    (Label::Trap, "dictionary", "trap: dictionary words holding a target or sharing its start"),
    (Label::Trap, "names", "trap: names and places"),
    (Label::Trap, "spelled", "trap: spelled-out innocent words (`c.a.s.i.n.o.s`)"),
    (Label::Trap, "hashtags", "trap: hashtags and handles (`#classof2025`)"),
    (Label::Trap, "code", "trap: code"),
    (Label::Trap, "urls", "trap: URLs"),
    (Label::Trap, "emails", "trap: e-mail addresses"),
    (Label::Trap, "hex", "trap: hex hashes"),
    (Label::Trap, "contractions", "trap: contractions and possessives"),
    (Label::Trap, "emoticons", "trap: emoticons and grawlixes"),
    (Label::Trap, "starred_only", "trap: starred words showing one letter (`f***`)"),
];

/// Results of the whole corpus.
struct Report {
    table: String,
    /// Target lines disguised by techniques strict claims to undo: abuse targets, then all.
    abuse: Tally,
    all: Tally,
    benign: Tally,
    scunthorpe: Tally,
    /// Ordinary words a strict variant would equal without its common-word guard.
    variant_traps: Tally,
    collision_traps: Tally,
    traps: Tally,
    false_positives: Tally,
}

fn report(lines: &[Line]) -> Report {
    let targets: Vec<&Line> = lines.iter().filter(|l| l.label == Label::Target).collect();
    // Techniques in corpus order: single techniques strict claims, combinations, then the rest.
    let mut techniques: Vec<&str> = Vec::new();
    for l in &targets {
        if !techniques.contains(&l.technique.as_str()) {
            techniques.push(&l.technique);
        }
    }
    techniques.sort_by_key(|t| (BEYOND_STRICT.contains(t), t.starts_with("combo:")));

    let mut t = String::new();
    let _ = writeln!(t, "Recall on target lines (share of disguised targets flagged):\n");
    let _ = writeln!(t, "| technique | abuse lines | inflight | rustrict | all target lines | inflight | rustrict |");
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|");
    let mut row = |name: &str, subset: &[&Line]| {
        let abuse = Tally::of(subset.iter().copied().filter(|l| l.abuse));
        let all = Tally::of(subset.iter().copied());
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            abuse.n,
            percent(abuse.inflight, abuse.n),
            percent(abuse.rustrict, abuse.n),
            all.n,
            percent(all.inflight, all.n),
            percent(all.rustrict, all.n),
        );
    };
    for technique in &techniques {
        let subset: Vec<&Line> = targets.iter().copied().filter(|l| l.technique == *technique).collect();
        let mark = if BEYOND_STRICT.contains(technique) { " †" } else { "" };
        row(&format!("`{technique}`{mark}"), &subset);
    }
    let pick = |f: &dyn Fn(&Line) -> bool| -> Vec<&Line> { targets.iter().copied().filter(|l| f(l)).collect() };
    row("**single techniques strict claims**", &pick(&|l| l.in_contract && !l.technique.starts_with("combo:")));
    row("**combinations**", &pick(&|l| l.technique.starts_with("combo:")));
    row("**all that strict claims (asserted)**", &pick(&|l| l.in_contract));
    row("**beyond strict's contract †**", &pick(&|l| !l.in_contract));
    row("**every target line**", &targets);

    let benign = Tally::of(lines.iter().filter(|l| l.label == Label::Benign));
    let trap = |technique: &str| Tally::of(lines.iter().filter(|l| l.label == Label::Trap && l.technique == technique));
    let scunthorpe = trap("scunthorpe");
    let variant_traps = trap("variant");
    let collision_traps = trap("collision");
    let traps = Tally::of(lines.iter().filter(|l| l.label == Label::Trap));
    let false_positives = Tally::of(lines.iter().filter(|l| l.label != Label::Target));
    let _ = writeln!(t, "\nFalse positives (innocent lines flagged):\n");
    let _ = writeln!(t, "| lines | n | inflight | rustrict |");
    let _ = writeln!(t, "|---|---:|---:|---:|");
    let mut fp_row = |name: &str, tally: Tally| {
        let _ = writeln!(
            t,
            "| {name} | {} | {} ({}) | {} ({}) |",
            tally.n,
            tally.inflight,
            percent(tally.inflight, tally.n),
            tally.rustrict,
            percent(tally.rustrict, tally.n)
        );
    };
    for &(label, technique, name) in FALSE_POSITIVE_ROWS {
        fp_row(name, Tally::of(lines.iter().filter(|l| l.label == label && l.technique == technique)));
    }
    fp_row("**all benign**", benign);
    fp_row("**all traps**", traps);
    fp_row("**overall**", false_positives);

    let abuse = Tally::of(targets.iter().copied().filter(|l| l.abuse && l.in_contract));
    let all = Tally::of(targets.iter().copied().filter(|l| l.in_contract));
    Report { table: t, abuse, all, benign, scunthorpe, variant_traps, collision_traps, traps, false_positives }
}

/// Techniques (single ones and combinations) where inflight catches fewer abuse lines than
/// rustrict, except those in `NOT_ASSERTED_PER_TECHNIQUE`.
fn per_technique_shortfalls(lines: &[Line]) -> Vec<String> {
    let mut techniques: Vec<&str> =
        lines.iter().filter(|l| l.label == Label::Target).map(|l| l.technique.as_str()).collect();
    techniques.sort_unstable();
    techniques.dedup();
    techniques
        .into_iter()
        .filter(|t| !NOT_ASSERTED_PER_TECHNIQUE.contains(t))
        .filter_map(|t| {
            let tally = Tally::of(lines.iter().filter(|l| l.label == Label::Target && l.abuse && l.technique == t));
            (tally.inflight < tally.rustrict).then(|| {
                format!(
                    "`{t}`: inflight catches {} abuse lines, rustrict {} (of {})",
                    tally.inflight, tally.rustrict, tally.n
                )
            })
        })
        .collect()
}

/// Every line at least one tool gets wrong, grouped by who gets it wrong.
fn misses(lines: &[Line]) -> String {
    let mut out = String::new();
    let wrong = |l: &Line, flagged: bool| (l.label == Label::Target) != flagged;
    for (title, pick) in [
        ("inflight wrong, rustrict right", (true, false)),
        ("rustrict wrong, inflight right", (false, true)),
        ("both wrong", (true, true)),
    ] {
        let chosen: Vec<&Line> =
            lines.iter().filter(|l| (wrong(l, l.inflight), wrong(l, l.rustrict)) == pick).collect();
        let _ = writeln!(out, "\n## {title} ({})\n", chosen.len());
        for l in chosen {
            let what = match l.label {
                Label::Target => format!("missed `{}`", l.target),
                Label::Benign | Label::Trap => "false positive".to_owned(),
            };
            let _ = writeln!(out, "- [{}] {what}: {:?}", l.technique, l.text);
        }
    }
    // rustrict has no notion of spam phrases: show which spam lines it flags anyway, and why.
    let _ = writeln!(out, "\n## spam targets: lines flagged by rustrict / lines\n");
    let mut spam: Vec<(&str, usize, usize)> = Vec::new();
    for l in lines.iter().filter(|l| l.label == Label::Target && !l.abuse) {
        match spam.iter_mut().find(|(t, _, _)| *t == l.target) {
            Some(entry) => {
                entry.1 += usize::from(l.rustrict);
                entry.2 += 1;
            }
            None => spam.push((&l.target, usize::from(l.rustrict), 1)),
        }
    }
    for (target, flagged, n) in spam {
        let _ = writeln!(out, "- `{target}`: {flagged}/{n}");
    }
    out
}

/// Every assertion the measurement makes (module doc, EVASION.md), as messages; empty when all hold.
fn failures(lines: &[Line], r: &Report) -> Vec<String> {
    let mut failures = Vec::new();
    if r.abuse.inflight < r.abuse.rustrict {
        failures.push(format!(
            "abuse recall, techniques strict claims: inflight {} < rustrict {} (of {})",
            r.abuse.inflight, r.abuse.rustrict, r.abuse.n
        ));
    }
    if r.all.inflight < r.all.rustrict {
        failures.push(format!(
            "recall on all targets, techniques strict claims: inflight {} < rustrict {} (of {})",
            r.all.inflight, r.all.rustrict, r.all.n
        ));
    }
    if r.scunthorpe.inflight > 0 {
        failures.push(format!("inflight flags {} Scunthorpe trap line(s) in word mode", r.scunthorpe.inflight));
    }
    if r.collision_traps.inflight > 0 {
        failures.push(format!(
            "inflight flags {} texting abbreviation(s) typed plainly: shortened variants need a removed symbol",
            r.collision_traps.inflight
        ));
    }
    if r.variant_traps.inflight > 0 {
        failures.push(format!(
            "inflight flags {} ordinary word(s) that strict's common-word guard should keep variants from",
            r.variant_traps.inflight
        ));
    }
    for technique in per_technique_shortfalls(lines) {
        failures.push(technique);
    }
    if r.false_positives.inflight * 3 > r.false_positives.rustrict {
        failures.push(format!(
            "false positives: inflight {} > a third of rustrict's {}",
            r.false_positives.inflight, r.false_positives.rustrict
        ));
    }
    for kind in ZERO_FALSE_POSITIVES {
        let flagged = lines.iter().filter(|l| l.label == Label::Trap && l.technique == *kind && l.inflight).count();
        if flagged > 0 {
            failures.push(format!("inflight flags {flagged} innocent `{kind}` line(s)"));
        }
    }
    let plain_misses = lines.iter().filter(|l| l.technique == "plain" && !l.inflight).count();
    if plain_misses > 0 {
        failures.push(format!("inflight misses {plain_misses} undisguised target(s): the pack is broken"));
    }
    failures
}

#[test]
fn inflight_strict_word_mode_against_rustrict() {
    let lines = judge();
    let r = report(&lines);
    let table = format!("<!-- produced by `{COMMAND}` -->\n\n{}", r.table);
    println!("\n{table}");
    let target_dir = root().join("target");
    std::fs::create_dir_all(&target_dir).expect("target dir");
    std::fs::write(target_dir.join("evasion-table.md"), &table).expect("write table");
    let misses = misses(&lines);
    std::fs::write(target_dir.join("evasion-misses.md"), &misses).expect("write misses");

    // The corpus must exercise all three kinds of line, or the figures say nothing.
    assert!(r.abuse.n > 0 && r.all.n > r.abuse.n, "corpus lacks abuse or spam targets");
    assert!(
        r.benign.n > 0
            && r.scunthorpe.n > 0
            && r.variant_traps.n > 0
            && r.collision_traps.n > 0
            && r.traps.n > r.scunthorpe.n,
        "corpus lacks benign or trap lines"
    );

    let failures = failures(&lines, &r);
    if !failures.is_empty() {
        let mut detail = String::new();
        for l in &lines {
            match (l.label, l.inflight) {
                (Label::Target, false) if l.in_contract => {
                    let _ = writeln!(detail, "  miss [{}] `{}`: {:?}", l.technique, l.target, l.text);
                }
                (Label::Benign | Label::Trap, true) => {
                    let _ = writeln!(detail, "  false positive [{}]: {:?}", l.technique, l.text);
                }
                _ => {}
            }
        }
        panic!(
            "{}\n\nevery inflight miss (techniques strict claims) and false positive:\n{detail}",
            failures.join("\n")
        );
    }
}
